package dev.retain.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {
  private record Outcome(int code, String out, String err) {}

  private static Outcome run(String... args) {
    CommandLine line = Main.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    line.setOut(new PrintWriter(out));
    line.setErr(new PrintWriter(err));
    int code = line.execute(args);
    return new Outcome(code, out.toString(), err.toString());
  }

  private static List<List<String>> commands(CommandLine line, List<String> path) {
    List<List<String>> out = new ArrayList<>();
    line.getSubcommands()
        .forEach(
            (name, sub) -> {
              List<String> here = new ArrayList<>(path);
              here.add(name);
              out.add(here);
              out.addAll(commands(sub, here));
            });
    return out;
  }

  @Test
  void shouldAnswerHelpOnEverySubcommand() {
    List<List<String>> all = commands(Main.commandLine(), List.of());
    assertThat(all).contains(List.of("run"), List.of("bench", "stream"));
    for (List<String> command : all) {
      List<String> args = new ArrayList<>(command);
      args.add("--help");
      Outcome outcome = run(args.toArray(String[]::new));
      assertThat(outcome.code()).as("%s --help", command).isZero();
      assertThat(outcome.out()).as("%s --help", command).contains("Usage:");
    }
  }

  @Test
  void shouldReportABadConfigurationValueOnOneLineWithExitTwo() {
    Outcome outcome = run("config", "--check", "-s", "retain.replay.capacity=0");
    assertThat(outcome.code()).isEqualTo(2);
    assertThat(outcome.err().lines().findFirst().orElse(""))
        .contains("retain.replay.capacity")
        .contains("0");
    assertThat(outcome.err()).doesNotContain("\tat ");
    assertThat(run("config", "--check", "-s", "retain.replay.capacity=0", "--verbose").err())
        .contains("\tat ");
  }
}
