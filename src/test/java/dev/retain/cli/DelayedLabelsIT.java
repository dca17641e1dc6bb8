package dev.retain.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.http.HttpServer;
import dev.retain.http.Limits;
import dev.retain.record.Example;
import dev.retain.record.Feedback;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code retain produce --label-delay}: each example is first sent for a prediction under its id
 * (here to an HTTP endpoint that records what it gets, where serving would answer), and its label
 * reaches the feedback topic of a real broker later, never before half the delay has passed.
 */
@Tag("integration")
class DelayedLabelsIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void shouldSendEachLabelToTheFeedbackTopicAfterItsPrediction() throws Exception {
    RetainConfig config =
        new RetainConfig(TestData.smallConfig(KafkaFixture.bootstrapServers(), dir));
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    Map<String, Long> predictedAt = new ConcurrentHashMap<>();
    Map<String, Integer> featureCounts = new ConcurrentHashMap<>();
    HttpServer serve =
        new HttpServer("127.0.0.1", 0, new Limits(2, 16, 64, 60_000, 10_000, 1 << 20))
            .route(
                "/v1/models/default/predict",
                call -> {
                  JsonNode body = JSON.readTree(call.body());
                  predictedAt.put(body.get("id").asText(), System.currentTimeMillis());
                  featureCounts.put(body.get("id").asText(), body.get("features").size());
                  call.json(200, Map.of("predictions", List.of()));
                })
            .start();
    DriftStream stream = new DriftStream(4, 3, 1f, 1);
    List<Example> sent = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config);
        DelayedLabels labels =
            new DelayedLabels(
                URI.create("http://127.0.0.1:" + serve.port()),
                "default",
                producer,
                config.topic("feedback"),
                0.4,
                7)) {
      for (int i = 0; i < 20; i++) {
        Example e = stream.example(i % 2, i);
        labels.send(e);
        sent.add(e);
      }
    } finally {
      serve.close();
    }
    assertThat(predictedAt).hasSize(20);
    assertThat(featureCounts.values()).containsOnly(4);
    List<ConsumerRecord<byte[], byte[]>> feedback =
        KafkaFixture.readAll(config, config.topic("feedback"), 20);
    for (ConsumerRecord<byte[], byte[]> record : feedback) {
      Feedback label = Feedback.parse(new String(record.value(), StandardCharsets.UTF_8));
      Example example = sent.stream().filter(e -> e.id().equals(label.id())).findFirst().get();
      assertThat(label.label()).isEqualTo(example.label());
      assertThat(new String(record.key(), StandardCharsets.UTF_8)).isEqualTo("default");
      assertThat(record.timestamp() - predictedAt.get(label.id()))
          .as("label %s after its prediction", label.id())
          .isGreaterThanOrEqualTo(200);
    }
  }
}
