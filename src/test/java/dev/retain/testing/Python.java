package dev.retain.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the Python scripts under {@code src/test/resources/python} where Python is installed. */
public final class Python {
  private static final Path SCRIPTS = Path.of("src/test/resources/python");

  private Python() {}

  /** True when {@code python3} runs and imports every one of {@code modules}. */
  public static boolean has(String... modules) {
    try {
      return run(List.of("-c", "import " + String.join(", ", modules))).exitCode == 0;
    } catch (IOException e) {
      return false;
    }
  }

  /** Runs {@code script} with {@code args}; fails with its output when it exits non-zero. */
  public static String script(String script, String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(SCRIPTS.resolve(script).toString());
    command.addAll(List.of(args));
    Result result = run(command);
    if (result.exitCode != 0) {
      throw new AssertionError(script + " failed (" + result.exitCode + "):\n" + result.output);
    }
    return result.stdout;
  }

  private record Result(int exitCode, String stdout, String output) {}

  private static Result run(List<String> args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add("python3");
    command.addAll(args);
    Process process = new ProcessBuilder(command).redirectErrorStream(false).start();
    try {
      byte[] out = process.getInputStream().readAllBytes();
      byte[] err = process.getErrorStream().readAllBytes();
      if (!process.waitFor(120, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IOException("python3 " + args + " did not finish");
      }
      String stdout = new String(out, StandardCharsets.UTF_8);
      return new Result(
          process.exitValue(), stdout, stdout + new String(err, StandardCharsets.UTF_8));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
