package dev.stowage.staging;

import dev.stowage.scheduler.AllowedSources;
import dev.stowage.scheduler.StagedInput;
import dev.stowage.scheduler.StagedOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Moves data into place: every file of a set of inputs listed first (so that the total is known),
 * then copied several at a time, large ones in ranges side by side. Local files go through {@link
 * FileCopy}; S3 objects through {@link S3Storage}. Each file lands under its own name only once
 * complete and checked, and one already identical is left alone.
 */
public final class DataMover implements AutoCloseable {
  /** What a caller hears while data moves; called from several threads. */
  public interface Listener {
    /** Once, when every file is listed. */
    default void planned(int files, long bytes) {}

    /** Bytes copied (or found already there) since the last call. */
    default void moved(long bytes) {}

    /** One file done; {@code skipped} when it was already there. */
    default void fileDone(boolean skipped) {}
  }

  /** What a staging did. */
  public record Summary(int files, int skipped, long bytes) {}

  // The source an S3 object was staged from, kept on the file: "etag size mtime-millis".
  private static final String STAGED_FROM = "stowage.source";

  private final int parallelFiles;
  private final FileCopy fileCopy;
  private final S3Storage s3; // null: s3:// sources fail, saying so
  // Platform threads, not virtual ones: every copy blocks in the kernel (copy_file_range, pread),
  // and a virtual thread blocked in a file system call takes its carrier with it, so the JDK adds
  // and parks a carrier around each call. With 10,000 small files that churn doubled the copy's
  // time (docs/benchmarks.md).
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          Thread.ofPlatform().daemon().name("stowage-copy-", 0).factory());

  /**
   * @param parallelFiles how many files of one staging move at once
   * @param rangeSize files larger than this are copied in ranges of this size, side by side; 0 for
   *     one stream per file (see {@link FileCopy})
   * @param s3 the object store, or null when none is configured
   */
  public DataMover(int parallelFiles, long rangeSize, S3Storage s3) {
    if (parallelFiles < 1) {
      throw new IllegalArgumentException("parallelFiles must be at least 1, got " + parallelFiles);
    }
    this.parallelFiles = parallelFiles;
    this.fileCopy = new FileCopy(rangeSize, threads);
    this.s3 = s3;
  }

  /**
   * One file to move: from a local path or an S3 object ({@code bucket}, {@code key}) to a local
   * path {@code to}; or, with {@code to} null, a local file up to that object.
   */
  private record Item(Path file, String bucket, String key, long size, String eTag, Path to) {
    String source() {
      return file != null ? file.toString() : "s3://" + bucket + "/" + key;
    }
  }

  /**
   * Stages inputs into {@code workDirectory}: nothing lands outside it (no {@code ..}, no symbolic
   * link out), and no source outside {@code allowed} is read.
   */
  public Summary stage(
      List<StagedInput> inputs, Path workDirectory, AllowedSources allowed, Listener listener)
      throws IOException, StagingException {
    Files.createDirectories(workDirectory);
    Path root = workDirectory.toRealPath();
    var items = new ArrayList<Item>();
    for (StagedInput input : inputs) {
      var problems = input.problems();
      if (!problems.isEmpty()) {
        throw new StagingException("input " + input.source() + ": " + problems);
      }
      String refused = allowed.problem(input);
      if (refused != null) {
        throw new StagingException("source " + refused);
      }
      Path destination = root.resolve(input.destination()).normalize();
      if (!destination.startsWith(root) || destination.equals(root)) {
        throw new StagingException(
            "destination '" + input.destination() + "' is not inside the work directory");
      }
      if (input.fromS3()) {
        planObjects(input.bucket(), input.key(), destination, root, items);
      } else {
        planFiles(input.sourcePath(), destination, allowed, items);
      }
    }
    return move(items, root, FileCopy.Flush.NONE, listener);
  }

  /**
   * Copies outputs out of {@code workDirectory}: only files really inside it (no {@code ..}, no
   * symbolic link out, so a task cannot export what it could not write), and only to {@code
   * allowed} locations.
   */
  public Summary collect(
      List<StagedOutput> outputs, Path workDirectory, AllowedSources allowed, Listener listener)
      throws IOException, StagingException {
    Path root = workDirectory.toRealPath();
    var items = new ArrayList<Item>();
    for (StagedOutput output : outputs) {
      var problems = output.problems();
      if (!problems.isEmpty()) {
        throw new StagingException("output " + output.source() + ": " + problems);
      }
      StagedInput target = output.destinationLocation();
      String refused = allowed.problem(target);
      if (refused != null) {
        throw new StagingException("output destination " + refused);
      }
      Path source = root.resolve(output.source()).normalize();
      if (!source.startsWith(root) || !Files.exists(source, LinkOption.NOFOLLOW_LINKS)) {
        throw new StagingException(
            "output " + output.source() + ": no such file or directory in the work directory");
      }
      for (LocalFile found : localFiles(source)) {
        Path file = found.path();
        var attributes = found.attributes();
        if (!attributes.isRegularFile() || !file.toRealPath().startsWith(root)) {
          throw new StagingException(
              "output "
                  + root.relativize(file)
                  + " is not a regular file inside the work directory");
        }
        String below =
            file.equals(source) ? null : source.relativize(file).toString().replace('\\', '/');
        if (target.fromS3()) {
          String key = target.key();
          if (below != null || key.isEmpty() || key.endsWith("/")) {
            key =
                (key.isEmpty() || key.endsWith("/") ? key : key + "/")
                    + (below != null ? below : file.getFileName().toString());
          }
          s3OrFail(target.bucket(), key);
          items.add(new Item(file, target.bucket(), key, attributes.size(), null, null));
        } else {
          Path to = target.sourcePath().normalize();
          if (below != null) {
            to = to.resolve(below);
          } else if (output.destination().endsWith("/")) {
            to = to.resolve(file.getFileName());
          }
          items.add(new Item(file, null, null, attributes.size(), null, to));
        }
      }
    }
    // The directories written to, as they really are: no link may lead out of the allowed ones.
    for (Item item : items) {
      if (item.to() == null) {
        continue;
      }
      Path parent = item.to().getParent();
      Files.createDirectories(parent);
      if (!allowed.allowsResolved(parent.toRealPath())) {
        throw new StagingException(
            "output destination " + parent + " leads outside the allowed output locations");
      }
    }
    return move(items, null, FileCopy.Flush.EVERY_FILE, listener);
  }

  /**
   * Copies one source to one destination, for the command line: {@code source} a local path, {@code
   * file://} or {@code s3://} URI, {@code destination} a local path or an {@code s3://} URI.
   */
  public Summary copy(String source, String destination, Listener listener)
      throws IOException, StagingException {
    if (destination.startsWith("s3://")) {
      return upload(localPath(source), new StagedInput(destination, "x"), listener);
    }
    Path to = Path.of(destination).toAbsolutePath().normalize();
    var items = new ArrayList<Item>();
    if (source.startsWith("s3://")) {
      var input = new StagedInput(source, "x");
      String problem = input.problems().get("source");
      if (problem != null) {
        throw new StagingException("source " + problem);
      }
      if (Files.isDirectory(to)) { // as cp does: into the directory, under the source's name
        String key =
            input.key().endsWith("/")
                ? input.key().substring(0, input.key().length() - 1)
                : input.key();
        to = to.resolve(key.isEmpty() ? input.bucket() : key.substring(key.lastIndexOf('/') + 1));
      }
      planObjects(input.bucket(), input.key(), to, null, items);
    } else {
      Path from = localPath(source);
      // A file into an existing directory lands in it, as with cp; a directory's copy is DEST
      // itself, so that running the same command again finds everything already there.
      if (!Files.isDirectory(from) && Files.isDirectory(to)) {
        to = to.resolve(from.getFileName().toString());
      }
      planFiles(from, to, null, items);
    }
    Files.createDirectories(to.getParent());
    return move(items, null, FileCopy.Flush.LARGE_FILES, listener);
  }

  private static Path localPath(String source) throws StagingException {
    if (source.startsWith("file:")) {
      var input = new StagedInput(source, "x");
      String problem = input.problems().get("source");
      if (problem != null) {
        throw new StagingException("source " + problem);
      }
      return input.sourcePath();
    }
    return Path.of(source).toAbsolutePath().normalize();
  }

  /** A local file found by {@link #localFiles}, with its attributes (a link's: its target's). */
  private record LocalFile(Path path, BasicFileAttributes attributes) {}

  /**
   * The file, or every file under the directory (other kinds are refused later), in order. Each
   * file's attributes are read once, by the walk itself: for many small files, each further look
   * costs a system call per file.
   */
  private static List<LocalFile> localFiles(Path source) throws IOException, StagingException {
    BasicFileAttributes top =
        source.getFileSystem().provider().readAttributesIfExists(source, BasicFileAttributes.class);
    if (top == null) {
      throw new StagingException("source " + source.toUri() + ": no such file or directory");
    }
    if (!top.isDirectory()) {
      return List.of(new LocalFile(source, top));
    }
    var files = new ArrayList<LocalFile>();
    Files.walkFileTree(
        source,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attributes)
              throws IOException {
            // A link is reported as itself; what counts is what it leads to.
            files.add(
                new LocalFile(
                    file,
                    attributes.isSymbolicLink()
                        ? Files.readAttributes(file, BasicFileAttributes.class)
                        : attributes));
            return FileVisitResult.CONTINUE;
          }
        });
    files.sort(java.util.Comparator.comparing(LocalFile::path));
    return files;
  }

  private void planFiles(Path source, Path destination, AllowedSources allowed, List<Item> items)
      throws IOException, StagingException {
    for (LocalFile found : localFiles(source)) {
      Path file = found.path();
      var attributes = found.attributes();
      if (!attributes.isRegularFile()) {
        throw new StagingException("source " + file + " is not a regular file");
      }
      // A link inside an allowed directory must not lead out of the allowed ones.
      if (allowed != null && !allowed.allowsResolved(file.toRealPath())) {
        throw new StagingException("source " + file + " leads outside " + allowed.description());
      }
      Path to = file.equals(source) ? destination : destination.resolve(source.relativize(file));
      items.add(new Item(file, null, null, attributes.size(), null, to));
    }
  }

  private void planObjects(String bucket, String key, Path destination, Path root, List<Item> items)
      throws StagingException {
    S3Storage store = s3OrFail(bucket, key);
    boolean prefix = key.isEmpty() || key.endsWith("/");
    if (!prefix) {
      var object = store.head(bucket, key);
      items.add(new Item(null, bucket, key, object.size(), object.eTag(), destination));
      return;
    }
    var objects = store.list(bucket, key);
    if (objects.isEmpty()) {
      throw new StagingException("source s3://" + bucket + "/" + key + ": no objects under it");
    }
    for (var o : objects) {
      if (o.key().endsWith("/")) {
        continue; // a "folder" marker, not data
      }
      Path to = destination.resolve(o.key().substring(key.length())).normalize();
      if (!to.startsWith(destination) || (root != null && !to.startsWith(root))) {
        throw new StagingException(
            "object s3://" + bucket + "/" + o.key() + " would land outside its destination");
      }
      items.add(new Item(null, bucket, o.key(), o.size(), o.eTag(), to));
    }
  }

  private S3Storage s3OrFail(String bucket, String key) throws StagingException {
    if (s3 == null) {
      throw new StagingException(
          "s3://" + bucket + "/" + key + ": no S3 storage is configured on this scheduler");
    }
    return s3;
  }

  /**
   * Moves every item, several at once, flushed as {@code flush} says:
   *
   * <ul>
   *   <li>{@code NONE} for staged inputs, which do not outlive their attempt;
   *   <li>{@code EVERY_FILE} for outputs: each file before its rename, then the directories holding
   *       the new names. The scheduler's other attempts may be writing gigabytes of inputs to the
   *       same file system; flushing the whole file system would wait for them too;
   *   <li>{@code LARGE_FILES} for the command line, as {@code cp} then {@code sync}: large files
   *       while their checks run, and the rest at the end, at once ({@link Durability#sync}).
   * </ul>
   */
  private Summary move(List<Item> items, Path root, FileCopy.Flush flush, Listener listener)
      throws IOException, StagingException {
    long total = items.stream().mapToLong(Item::size).sum();
    listener.planned(items.size(), total);
    Set<Path> readyDirectories = ConcurrentHashMap.newKeySet();
    // A few workers each take the next file until none is left: no hand-off per file, which for
    // thousands of small files cost more than the copies' own system calls.
    var next = new AtomicInteger();
    var skipped = new AtomicInteger();
    var firstFailure = new AtomicReference<Throwable>();
    Callable<Void> worker =
        () -> {
          for (int i = next.getAndIncrement();
              i < items.size() && firstFailure.get() == null; // stop the rest at a failure
              i = next.getAndIncrement()) {
            try {
              boolean wasThere = moveOne(items.get(i), root, flush, readyDirectories, listener);
              if (wasThere) {
                skipped.incrementAndGet();
              }
              listener.fileDone(wasThere);
            } catch (Throwable t) {
              firstFailure.compareAndSet(null, t);
              throw t;
            }
          }
          return null;
        };
    var futures = new ArrayList<Future<Void>>();
    try {
      for (int w = Math.min(parallelFiles, items.size()); w > 0; w--) {
        futures.add(threads.submit(worker));
      }
      for (var f : futures) {
        f.get();
      }
      switch (flush) {
        case NONE -> {}
        case EVERY_FILE -> Durability.syncEach(List.of(), readyDirectories);
        case LARGE_FILES -> {
          var written = new ArrayList<Path>(items.size());
          for (Item item : items) {
            if (item.to() != null) {
              written.add(item.to());
            }
          }
          Durability.sync(written, readyDirectories);
        }
      }
      return new Summary(items.size(), skipped.get(), total);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = firstFailure.get() != null ? firstFailure.get() : e.getCause();
      if (cause instanceof StagingException s) {
        throw s;
      }
      if (cause instanceof IOException io) {
        throw io;
      }
      throw new StagingException("staging failed: " + cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StagingException("interrupted while staging");
    } finally {
      futures.forEach(f -> f.cancel(true));
    }
  }

  /** Moves one file into place; true when it was already there. */
  private boolean moveOne(
      Item item, Path root, FileCopy.Flush flush, Set<Path> readyDirectories, Listener listener)
      throws IOException, StagingException {
    if (item.to() == null) {
      s3.upload(item.file(), item.bucket(), item.key(), listener::moved);
      return false;
    }
    Path parent = item.to().getParent();
    // Each directory made and checked once per staging, not once per file.
    if (!readyDirectories.contains(parent)) {
      try {
        Files.createDirectories(parent);
      } catch (FileAlreadyExistsException e) {
        throw new StagingException("destination " + parent + " is a file, not a directory");
      }
      // The directory as it really is: no symbolic link may lead the copy out of the work
      // directory.
      if (root != null && !parent.toRealPath().startsWith(root)) {
        throw new StagingException(
            "destination " + root.relativize(item.to()) + " leads outside the work directory");
      }
      readyDirectories.add(parent);
    }
    try {
      if (item.file() != null) {
        return fileCopy.copy(item.file(), item.to(), flush, listener::moved)
            == FileCopy.Outcome.ALREADY_THERE;
      }
      return download(item, flush, listener);
    } catch (NoSuchFileException e) {
      throw new StagingException(
          "source " + item.source() + ": no such file (removed while staging?)");
    } catch (AccessDeniedException e) {
      throw new StagingException(
          "source " + item.source() + " or its destination: permission denied");
    }
  }

  private boolean download(Item item, FileCopy.Flush flush, Listener listener)
      throws IOException, StagingException {
    String stamp = item.eTag() + " " + item.size();
    if (Files.isRegularFile(item.to())
        && Files.size(item.to()) == item.size()
        && (stamp + " " + Files.getLastModifiedTime(item.to()).toMillis())
            .equals(readStamp(item.to()))) {
      listener.moved(item.size());
      return true;
    }
    Path part = item.to().resolveSibling("." + item.to().getFileName() + ".stowage-part");
    try {
      Files.deleteIfExists(part);
      s3.download(item.bucket(), item.key(), part, listener::moved);
      long got = Files.size(part);
      if (got != item.size()) {
        throw new StagingException(
            "object "
                + item.source()
                + " arrived with "
                + got
                + " of "
                + item.size()
                + " bytes (it changed while it was copied?)");
      }
      if (flush != FileCopy.Flush.NONE) {
        try (var written = java.nio.channels.FileChannel.open(part, StandardOpenOption.WRITE)) {
          written.force(false);
        }
      }
      Files.move(
          part, item.to(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      writeStamp(item.to(), stamp + " " + Files.getLastModifiedTime(item.to()).toMillis());
      return false;
    } finally {
      Files.deleteIfExists(part);
    }
  }

  /** Uploads a local file, or every file under a directory, to an S3 key or prefix. */
  private Summary upload(Path source, StagedInput target, Listener listener)
      throws IOException, StagingException {
    String problem = target.problems().get("source");
    if (problem != null) {
      throw new StagingException("destination " + problem);
    }
    s3OrFail(target.bucket(), target.key());
    List<LocalFile> files = localFiles(source);
    String key = target.key();
    var items = new ArrayList<Item>(files.size());
    for (LocalFile found : files) {
      Path f = found.path();
      String k =
          files.size() == 1 && !Files.isDirectory(source) && !target.namesPrefix()
              ? key
              : (key.isEmpty() || key.endsWith("/") ? key : key + "/")
                  + source.relativize(f).toString().replace('\\', '/');
      if (k.isEmpty() || k.endsWith("/")) {
        k = k + f.getFileName();
      }
      items.add(new Item(f, target.bucket(), k, found.attributes().size(), null, null));
    }
    return move(items, null, FileCopy.Flush.NONE, listener); // several at once, as for staging
  }

  private static String readStamp(Path file) {
    try {
      var view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
      if (view == null || !view.list().contains(STAGED_FROM)) {
        return null;
      }
      ByteBuffer buffer = ByteBuffer.allocate(view.size(STAGED_FROM));
      view.read(STAGED_FROM, buffer);
      return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
    } catch (IOException | UnsupportedOperationException e) {
      return null; // no stamp: the object is copied again
    }
  }

  private static void writeStamp(Path file, String stamp) {
    try {
      var view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
      if (view != null) {
        view.write(STAGED_FROM, StandardCharsets.UTF_8.encode(stamp));
      }
    } catch (IOException | UnsupportedOperationException e) {
      // A file system without user attributes: a retry copies the object again.
    }
  }

  @Override
  public void close() {
    threads.shutdownNow();
  }
}
