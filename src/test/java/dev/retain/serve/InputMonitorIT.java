package dev.retain.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.ModelMeters;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The input-drift monitor publishes its detections to the drift topic of a real broker. */
class InputMonitorIT {
  private static final float[] INPUT = new float[4]; // the same input: only confidence moves
  @TempDir Path dir;

  @Test
  void shouldPublishADetectionAndStartOverForANewVersion() throws Exception {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.DRIFT_INPUT_REFERENCE, 100);
    props.put(RetainConfig.DRIFT_INPUT_WINDOW, 50);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ModelMeters meters = new ModelMeters(registry, "default");
    try (var producer = KafkaClients.producer(config);
        InputMonitor monitor = new InputMonitor(config, meters, producer)) {
      for (int i = 0; i < 300; i++) {
        monitor.observe("v1", 0.9f + (i % 10) * 0.005f, INPUT);
      }
      for (int i = 0; i < 300; i++) {
        monitor.observe("v2", 0.5f + (i % 10) * 0.005f, INPUT); // a new version: a new reference
      }
      assertThat(detections(registry)).as("a new version is no drift").isZero();
      for (int i = 0; i < 200; i++) {
        monitor.observe("v2", 0.2f + (i % 10) * 0.005f, INPUT);
      }
      assertThat(detections(registry)).isEqualTo(1);
    }
    AtomicReference<JsonNode> published = new AtomicReference<>();
    try (var consumer = KafkaClients.follower(config, "drift-check")) {
      consumer.subscribe(List.of(config.driftTopic()));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                  published.set(new ObjectMapper().readTree(record.value()));
                }
                return published.get() != null;
              });
    }
    assertThat(published.get().get("source").asText()).isEqualTo("input-ks");
    assertThat(published.get().get("version").asText()).isEqualTo("v2");
    assertThat(published.get().get("model").asText()).isEqualTo("default");
    assertThat(published.get().get("p_value").asDouble()).isLessThan(1e-4);
  }

  private static double detections(SimpleMeterRegistry registry) {
    return registry.get("retain.drift.detections").tag("source", "input-ks").counter().count();
  }
}
