package dev.retain.streams;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;

/** The feedback ⋈ predictions topology on Kafka Streams' TopologyTestDriver. */
class OnlineAccuracyTest {
  @Test
  void shouldCountRightAndTotalPerVersionWithinTheWindow() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    OnlineAccuracy online = new OnlineAccuracy(registry, "m");
    try (TopologyTestDriver driver = driver(online)) {
      TestInputTopic<String, String> predictions =
          driver.createInputTopic("p", new StringSerializer(), new StringSerializer());
      TestInputTopic<String, String> feedback =
          driver.createInputTopic("f", new StringSerializer(), new StringSerializer());
      Instant t = Instant.parse("2026-11-23T10:00:00Z");
      predictions.pipeInput("m", prediction("a", "v1", 3), t);
      predictions.pipeInput("m", prediction("b", "v1", 1), t);
      predictions.pipeInput("m", prediction("c", "v2", 2), t);
      predictions.pipeInput("other", prediction("d", "v1", 0), t); // another model: ignored
      predictions.pipeInput("m", "not json", t);
      feedback.pipeInput("m", "{\"id\":\"a\",\"label\":3}", t.plusSeconds(30));
      feedback.pipeInput("m", "{\"id\":\"b\",\"label\":2}", t.plusSeconds(40));
      feedback.pipeInput("m", "{\"id\":\"c\",\"label\":2}", t.plusSeconds(50));
      feedback.pipeInput("m", "{\"id\":\"d\",\"label\":0}", t.plusSeconds(50));
      feedback.pipeInput("m", "{\"id\":\"z\",\"label\":0}", t.plusSeconds(50)); // no prediction
      predictions.pipeInput("m", prediction("late", "v2", 1), t.plusSeconds(60));
      feedback.pipeInput("m", "{\"id\":\"late\",\"label\":1}", t.plusSeconds(60 + 11 * 60));

      assertThat(online.counts().get("v1")).containsExactly(1, 2);
      assertThat(online.counts().get("v2")).containsExactly(1, 1); // the late label is outside
      assertThat(registry.get("retain.online.accuracy").tag("version", "v1").gauge().value())
          .isEqualTo(0.5);
      assertThat(registry.get("retain.online.accuracy").tag("version", "v2").gauge().value())
          .isEqualTo(1.0);
    }
  }

  /** Every model served: each model's predictions meet its own labels, on its own gauges. */
  @Test
  void shouldKeepEachModelsAccuracyApart() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    OnlineAccuracy online = new OnlineAccuracy(registry, "m", model -> true);
    try (TopologyTestDriver driver = driver(online)) {
      TestInputTopic<String, String> predictions =
          driver.createInputTopic("p", new StringSerializer(), new StringSerializer());
      TestInputTopic<String, String> feedback =
          driver.createInputTopic("f", new StringSerializer(), new StringSerializer());
      Instant t = Instant.parse("2026-11-23T10:00:00Z");
      predictions.pipeInput("m", prediction("a", "m-v1", 3), t);
      predictions.pipeInput("n", prediction("a", "n-v1", 1), t); // the same id in another model
      feedback.pipeInput("m", "{\"id\":\"a\",\"label\":3}", t.plusSeconds(30));
      feedback.pipeInput("n", "{\"id\":\"a\",\"label\":3}", t.plusSeconds(30));
      assertThat(online.counts().get("m-v1")).containsExactly(1, 1);
      assertThat(online.counts().get("n-v1")).containsExactly(0, 1);
      assertThat(registry.get("retain.online.accuracy").tag("model", "n").gauge().value())
          .isEqualTo(0.0);
      assertThat(registry.get("retain.online.accuracy").tag("model", "m").gauge().value())
          .isEqualTo(1.0);
    }
  }

  private static TopologyTestDriver driver(OnlineAccuracy online) {
    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "online-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    return new TopologyTestDriver(online.topology("p", "f", Duration.ofMinutes(10)), props);
  }

  private static String prediction(String id, String version, int predicted) {
    return "{\"id\":\"" + id + "\",\"version\":\"" + version + "\",\"class\":" + predicted + "}";
  }
}
