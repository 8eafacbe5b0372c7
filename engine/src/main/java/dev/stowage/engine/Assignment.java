package dev.stowage.engine;

/** One placement: the named task goes to the named offer. */
public record Assignment(String task, String offer) {}
