package dev.stowage.staging;

/** A staging failure a person can act on: names the input or object and what went wrong. */
public final class StagingException extends Exception {
  public StagingException(String message) {
    super(message);
  }
}
