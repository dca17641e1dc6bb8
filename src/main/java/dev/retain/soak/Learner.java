package dev.retain.soak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A learner ({@code retain run}) in a child JVM, its log in a file the caller watches: the soak's
 * learners, and the fleet bench's instances.
 */
public final class Learner {
  private final Process process;
  private final Path log;

  private Learner(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static Learner start(Map<String, Object> props, Path log) throws IOException {
    return start(props, log, "768m");
  }

  /**
   * Starts {@code retain run} with {@code props} (each a {@code -s} setting) and a heap of that
   * size.
   */
  public static Learner start(Map<String, ?> props, Path log, String heap) throws IOException {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + heap,
                "-Dai.djl.offline=true",
                "-Dai.djl.pytorch.num_threads=1"));
    command.addAll(
        List.of("-cp", System.getProperty("java.class.path"), "dev.retain.cli.Main", "run"));
    props.forEach((k, v) -> command.addAll(List.of("-s", k + "=" + v)));
    Files.createDirectories(log.getParent());
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new Learner(process, log);
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** How many lines of its log contain {@code text} so far. */
  int count(String text) {
    try {
      return (int)
          Files.readAllLines(log, StandardCharsets.UTF_8).stream()
              .filter(l -> l.contains(text))
              .count();
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * Waits until its log has more than {@code seen} lines with {@code text}, or it exits, or {@code
   * seconds} pass; true when the line came.
   */
  boolean awaitLine(String text, int seen, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline && process.isAlive()) {
      if (count(text) > seen) {
        return true;
      }
      TimeUnit.MILLISECONDS.sleep(20); // polling a log file another process writes
    }
    return false;
  }

  /** SIGKILL: no shutdown hook, no last checkpoint. True when it was still running. */
  public boolean kill() throws InterruptedException {
    boolean alive = process.isAlive();
    process.destroyForcibly().waitFor();
    return alive;
  }

  /** SIGTERM and wait: the graceful stop a platform gives. Its exit code. */
  public int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    return process.exitValue();
  }

  public Path log() {
    return log;
  }
}
