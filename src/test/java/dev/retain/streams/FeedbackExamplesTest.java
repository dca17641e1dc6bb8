package dev.retain.streams;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.config.RetainConfig;
import dev.retain.ingest.DeadLetter;
import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Delayed labels joined with served predictions into labeled examples, on Kafka Streams'
 * TopologyTestDriver: labels from seconds to hours after their prediction, with the wall clock
 * advanced as in a running service.
 */
class FeedbackExamplesTest {
  @TempDir Path dir;

  @Test
  void shouldTurnLabelsWithinTheWindowIntoExamplesAndTheRestIntoDeadLetters() throws Exception {
    Map<String, Object> props = TestData.smallConfig("unused:9092", dir);
    props.put(RetainConfig.FEEDBACK_WINDOW_MS, Duration.ofHours(1).toMillis());
    props.put(RetainConfig.RECORD_CODEC, "binary");
    props.put(RetainConfig.SERVE_MODELS, "default"); // "other" is not served here
    RetainConfig config = new RetainConfig(props);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    FeedbackExamples join = new FeedbackExamples(config, registry);
    Instant t = Instant.parse("2026-12-05T10:00:00Z");
    try (TopologyTestDriver driver = new TopologyTestDriver(join.topology(), streamsProps(), t)) {
      TestInputTopic<String, String> predictions = input(driver, config.predictionsTopic());
      TestInputTopic<String, String> feedback = input(driver, config.topic("feedback"));
      String m = config.getString(RetainConfig.MODEL_ID);
      for (String id : List.of("a", "b", "c", "d", "e")) {
        predictions.pipeInput(m, prediction(id, "v1"), t);
      }
      predictions.pipeInput("other", prediction("x", "v1"), t); // another model's
      feedback.pipeInput(m, label("a", 2), t.plusSeconds(5));
      feedback.pipeInput(m, label("b", 0), t.plus(Duration.ofMinutes(30)));
      feedback.pipeInput(m, label("c", 1), t.plus(Duration.ofMinutes(59)));
      feedback.pipeInput(m, label("d", 1), t.plus(Duration.ofMinutes(61))); // outside the window
      feedback.pipeInput(m, label("x", 1), t.plusSeconds(10)); // no prediction of this model
      feedback.pipeInput(m, "not json", t.plusSeconds(10));
      feedback.pipeInput("other", label("a", 1), t.plusSeconds(10)); // not served here: left alone
      driver.advanceWallClockTime(Duration.ofHours(3)); // predictions older than 2 windows go
      feedback.pipeInput(m, label("e", 1), t.plus(Duration.ofHours(3)));

      List<TestRecord<byte[], byte[]>> examples = output(driver, config.examplesTopic());
      assertThat(examples).hasSize(3);
      Example first = new BinaryExampleCodec().decode(examples.get(0).value(), "unused");
      assertThat(first.id()).isEqualTo("a");
      assertThat(first.label()).isEqualTo(2);
      assertThat(first.features()).containsExactly(0.5f, -1f, 2f, 0f);
      assertThat(first.ts()).isEqualTo(t.toEpochMilli());
      assertThat(new BinaryExampleCodec().decode(examples.get(0).value(), "regime-7").domain())
          .as("no domain in the record: ingest names it after the current regime")
          .isEqualTo("regime-7");
      assertThat(header(examples.get(0).headers(), FeedbackExamples.SERVING_VERSION))
          .isEqualTo("v1");
      assertThat(header(examples.get(0).headers(), FeedbackExamples.PREDICTION_TS))
          .isEqualTo(Long.toString(t.toEpochMilli()));
      assertThat(examples)
          .extracting(r -> new BinaryExampleCodec().decode(r.value(), "").id())
          .containsExactly("a", "b", "c");

      List<TestRecord<byte[], byte[]>> dead = output(driver, config.deadLetterTopic());
      assertThat(dead)
          .extracting(r -> header(r.headers(), DeadLetter.REASON))
          .containsExactly(
              "feedback_outside_window",
              "feedback_unknown_id",
              "feedback_unparsable",
              "feedback_unknown_id");
      assertThat(header(dead.get(0).headers(), DeadLetter.SOURCE_TOPIC))
          .isEqualTo(config.topic("feedback"));
    }
    assertThat(registry.get("retain.feedback.joined").counter().count()).isEqualTo(3);
    assertThat(
            registry
                .get("retain.feedback.rejected")
                .tag("reason", "feedback_unknown_id")
                .counter()
                .count())
        .isEqualTo(2);
  }

  /**
   * Serving every model: the same example id in two models joins each model's own prediction, and
   * each example goes out keyed by its model, counted on its model's meters.
   */
  @Test
  void shouldJoinEachModelsLabelsWithThatModelsPredictions() throws Exception {
    Map<String, Object> props = TestData.smallConfig("unused:9092", dir);
    props.put(RetainConfig.RECORD_CODEC, "binary");
    RetainConfig config = new RetainConfig(props);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    FeedbackExamples join = new FeedbackExamples(config, registry);
    Instant t = Instant.parse("2026-12-05T10:00:00Z");
    try (TopologyTestDriver driver = new TopologyTestDriver(join.topology(), streamsProps(), t)) {
      TestInputTopic<String, String> predictions = input(driver, config.predictionsTopic());
      TestInputTopic<String, String> feedback = input(driver, config.topic("feedback"));
      predictions.pipeInput("m", prediction("a", "m-v1"), t);
      predictions.pipeInput("n", prediction("a", "n-v1"), t);
      feedback.pipeInput("n", label("a", 1), t.plusSeconds(5));
      feedback.pipeInput("m", label("a", 2), t.plusSeconds(6));
      feedback.pipeInput("n", label("b", 0), t.plusSeconds(7)); // no prediction of n
      List<TestRecord<byte[], byte[]>> examples = output(driver, config.examplesTopic());
      assertThat(examples)
          .extracting(r -> new String(r.key(), java.nio.charset.StandardCharsets.UTF_8))
          .containsExactly("n", "m");
      assertThat(examples)
          .extracting(r -> header(r.headers(), FeedbackExamples.SERVING_VERSION))
          .containsExactly("n-v1", "m-v1");
      assertThat(examples)
          .extracting(r -> new BinaryExampleCodec().decode(r.value(), "").label())
          .containsExactly(1, 2);
    }
    assertThat(registry.get("retain.feedback.joined").tag("model", "m").counter().count())
        .isEqualTo(1);
    assertThat(registry.get("retain.feedback.joined").tag("model", "n").counter().count())
        .isEqualTo(1);
    assertThat(registry.get("retain.feedback.rejected").tag("model", "n").counters())
        .extracting(c -> c.count())
        .contains(1.0);
  }

  private static Properties streamsProps() {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "feedback-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    return props;
  }

  private static TestInputTopic<String, String> input(TopologyTestDriver driver, String topic) {
    return driver.createInputTopic(topic, new StringSerializer(), new StringSerializer());
  }

  private static List<TestRecord<byte[], byte[]>> output(TopologyTestDriver driver, String topic) {
    TestOutputTopic<byte[], byte[]> out =
        driver.createOutputTopic(topic, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    return out.readRecordsToList();
  }

  private static String header(Headers headers, String name) {
    return new String(headers.lastHeader(name).value(), StandardCharsets.UTF_8);
  }

  private static String prediction(String id, String version) {
    return "{\"id\":\""
        + id
        + "\",\"version\":\""
        + version
        + "\",\"class\":1,\"score\":0.9,\"ts\":0,\"features\":[0.5,-1,2,0]}";
  }

  private static String label(String id, int label) {
    return "{\"id\":\"" + id + "\",\"label\":" + label + "}";
  }
}
