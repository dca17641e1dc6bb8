package dev.retain.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.metrics.Metrics;
import dev.retain.publish.Registry;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import dev.retain.store.Changelog;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet instance closes a model that has been idle for {@code retain.fleet.model.idle.ms} once
 * its learner has trained on and consolidated everything: its learner and meters go, its store
 * stays; the model's next record opens it again from the store, and it goes on where it was (every
 * example counted once, versions in one chain).
 */
@Tag("integration")
class IdleModelsIT {
  @TempDir Path dir;

  @Test
  void shouldCloseAnIdleModelAndOpenItAgainOnItsNextRecord() throws Exception {
    Map<String, Object> props = TestData.learnerConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.TOPIC_PARTITIONS, 1);
    props.put(RetainConfig.FLEET_ENABLED, true);
    props.put(RetainConfig.FLEET_MODEL_IDLE_MS, 1000L);
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, 200);
    props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 10);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config);
    }
    PrometheusMeterRegistry registry = Metrics.registry("test");
    try (FleetNode node = new FleetNode(config, registry).start()) {
      produce(config, "alpha", 0, 400);
      await("alpha learns and publishes")
          .atMost(Duration.ofMinutes(2))
          .until(() -> node.models().contains("alpha") && published(registry));
      await("alpha closes once idle")
          .atMost(Duration.ofMinutes(1))
          .until(() -> !node.models().contains("alpha"));
      assertThat(registry.scrape()).doesNotContain("model=\"alpha\"");

      produce(config, "alpha", 1, 400);
      await("alpha opens again and learns its new domain")
          .atMost(Duration.ofMinutes(2))
          .until(() -> node.models().contains("alpha") && learned(node, "domain-1"));
    }
    try (RetainStore store = openCopy(config)) {
      ModelState state = ModelState.load(store, config.forModel("alpha"));
      long accepted = state.holdout().seenByDomain().values().stream().mapToLong(x -> x).sum();
      assertThat(accepted).isEqualTo(800);
      List<AdapterVersion> history = new Registry(store, "alpha").history();
      assertThat(history).hasSizeGreaterThan(1);
      for (int i = 1; i < history.size(); i++) {
        assertThat(history.get(i).parent()).isEqualTo(history.get(i - 1).id());
      }
      assertThat(history.get(history.size() - 1).evaluation()).containsKeys("domain-0", "domain-1");
    }
  }

  private static boolean published(PrometheusMeterRegistry registry) {
    return registry.find("retain.adapters.published").tag("model", "alpha").counters().stream()
        .anyMatch(c -> c.count() > 0);
  }

  private static boolean learned(FleetNode node, String domain) {
    return node.busyLearners() == 0
        && node.matrix("alpha") != null
        && node.matrix("alpha").learned().contains(domain);
  }

  /** A copy of the partition's store, restored from the changelog once the node is closed. */
  private RetainStore openCopy(RetainConfig config) {
    Changelog changelog =
        new Changelog(
            KafkaClients.changelogProducer(config, 0),
            () -> KafkaClients.changelogReader(config),
            new TopicPartition(config.changelogTopic(), 0));
    return RetainStore.open(dir.resolve("copy"), false, changelog);
  }

  private static void produce(RetainConfig config, String model, int domain, int count) {
    DriftStream stream = TestData.driftStream();
    JsonExampleCodec json = new JsonExampleCodec();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < count; i++) {
        Example e = stream.example(domain, i);
        producer.send(
            new ProducerRecord<>(
                config.examplesTopic(), model.getBytes(StandardCharsets.UTF_8), json.encode(e)));
      }
      producer.flush();
    }
  }
}
