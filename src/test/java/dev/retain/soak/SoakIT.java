package dev.retain.soak;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short {@code retain soak}: the same code as the full one, with 20,000 records and four kills
 * (one right after a promotion, one right after a consolidation, one broker restart, one second
 * learner).
 */
@Tag("integration")
class SoakIT {
  @TempDir Path dir;

  @Test
  void shouldAccountForEveryRecordAndVersionAfterTheFaults() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    int code;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      code =
          Main.commandLine()
              .execute(
                  "soak", "--examples", "20000", "--kills", "4", "--dir", dir.toString(), "--json");
    } finally {
      System.setOut(stdout);
    }
    String printed = out.toString(StandardCharsets.UTF_8);
    stdout.print(printed);
    String[] lines = printed.strip().split("\n");
    JsonNode figures = new ObjectMapper().readTree(lines[lines.length - 1]);
    assertThat(figures.path("kills").asInt()).isEqualTo(4);
    assertThat(figures.path("broker_restarts").asInt()).isEqualTo(1);
    assertThat(figures.path("second_learner_started").asInt()).isEqualTo(1);
    for (String zero :
        new String[] {
          "examples_lost",
          "examples_counted_twice",
          "bad_records_missing_from_the_dead_letter_topic",
          "dead_letters_with_a_wrong_reason",
          "newest_trainable_records_the_learner_never_trained_on",
          "versions_whose_steps_do_not_rise",
          "versions_whose_parent_is_not_the_version_before",
          "ids_with_two_contents",
          "records_from_another_learner_s_store",
          "predictions_failed_after_the_first_version"
        }) {
      assertThat(figures.path(zero).asLong(-1)).as(zero).isZero();
    }
    assertThat(figures.path("versions_published").asInt()).isGreaterThanOrEqualTo(2);
    assertThat(figures.path("predictions_answered").asInt()).isPositive();
    assertThat(code).as(printed).isZero();
  }
}
