package dev.retain.soak;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A learner ({@code retain run}) in a child JVM, its log in a file the soak watches. */
final class Learner {
  private final Process process;
  private final Path log;

  private Learner(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  private static final List<String> JVM =
      List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx768m",
          "-Dai.djl.offline=true",
          "-Dai.djl.pytorch.num_threads=1");

  static Learner start(Map<String, Object> props, Path log) throws IOException {
    List<String> command = new ArrayList<>(JVM);
    command.addAll(
        List.of("-cp", System.getProperty("java.class.path"), "dev.retain.cli.Main", "run"));
    props.forEach((k, v) -> command.addAll(List.of("-s", k + "=" + v)));
    Files.createDirectories(log.getParent());
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new Learner(process, log);
  }

  boolean isAlive() {
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
  boolean kill() throws InterruptedException {
    boolean alive = process.isAlive();
    process.destroyForcibly().waitFor();
    return alive;
  }

  /** SIGTERM and wait: the graceful stop a platform gives. Its exit code. */
  int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
    return process.exitValue();
  }

  Path log() {
    return log;
  }
}
