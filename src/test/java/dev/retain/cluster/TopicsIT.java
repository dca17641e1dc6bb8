package dev.retain.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.retain.config.RetainConfig;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up against brokers that are there, and against none. */
@Tag("integration")
class TopicsIT {
  @TempDir Path dir;

  @Test
  void shouldCreateTheTopicsOnAReachableBroker() throws Exception {
    RetainConfig config =
        new RetainConfig(TestData.smallConfig(KafkaFixture.bootstrapServers(), dir));
    Topics.ensureAtStart(config, 1, (short) 1);
    Topics.ensureAtStart(config, 1, (short) 1); // existing topics are fine
    try (Admin admin = KafkaClients.admin(config)) {
      // a created topic reaches the broker's metadata a moment after the controller acknowledged it
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(admin.listTopics().names().get())
                      .contains(
                          config.examplesTopic(), config.adaptersTopic(), config.basesTopic()));
    }
  }

  @Test
  void shouldRetryWithBackoffThenGiveUpNamingTheServers() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort(); // closed again: nothing listens there
    }
    Map<String, Object> props = TestData.smallConfig("127.0.0.1:" + port, dir);
    props.put(RetainConfig.KAFKA_STARTUP_TIMEOUT_MS, 8000L);
    RetainConfig config = new RetainConfig(props);
    long start = System.nanoTime();
    assertThatThrownBy(() -> Topics.ensureAtStart(config, 1, (short) 1))
        .hasMessageContaining("no Kafka broker reachable at 127.0.0.1:" + port + " within 8 s")
        .hasMessageMatching("(?s).*\\(([2-9]|\\d\\d+) attempts\\).*");
    assertThat((System.nanoTime() - start) / 1e9).isBetween(7.0, 30.0);
  }

  @Test
  void shouldCreateTopicsWithTheConfiguredPartitionsAndLeaveExistingOnesAlone() throws Exception {
    String prefix = "topics-" + System.nanoTime();
    RetainConfig three = partitioned(prefix, 3);
    try (Admin admin = KafkaClients.admin(three)) {
      Topics.ensure(admin, three);
      Topics.ensure(admin, partitioned(prefix, 5));
      List<String> names =
          List.of(three.examplesTopic(), three.adaptersTopic(), three.topic("feedback"));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> admin.listTopics().names().get().containsAll(names));
      Map<String, TopicDescription> topics = admin.describeTopics(names).allTopicNames().get();
      assertThat(topics.values()).allSatisfy(t -> assertThat(t.partitions()).hasSize(3));
      assertThat(topics.get(three.examplesTopic()).partitions().get(0).replicas()).hasSize(1);
    }
  }

  private RetainConfig partitioned(String prefix, int partitions) {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.TOPIC_PREFIX, prefix);
    props.put(RetainConfig.TOPIC_PARTITIONS, partitions);
    return new RetainConfig(props);
  }
}
