package dev.retain.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store mirrored to a changelog partition on a real broker: a copy opened on an empty directory
 * (another instance) holds every committed value, deletes included, and positions with them; the
 * copy that claims the partition fences the earlier one, whose next commit fails and changes
 * nothing anywhere.
 */
@Tag("integration")
class ChangelogIT {
  @TempDir Path dir;

  private static RetainStore open(RetainConfig config, Path at) {
    Changelog changelog =
        new Changelog(
            KafkaClients.changelogProducer(config, 2),
            () -> KafkaClients.changelogReader(config),
            new TopicPartition(config.changelogTopic(), 2));
    return RetainStore.open(at, false, changelog);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void shouldRestoreAStoreElsewhereAndFenceItsEarlierOwner() throws Exception {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.TOPIC_PARTITIONS, 3);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config);
    }
    TopicPartition examples = new TopicPartition(config.examplesTopic(), 2);
    RetainStore first = open(config, dir.resolve("a"));
    try (StoreBatch batch = first.newBatch()) {
      batch.put(Blob.CHAMPION, utf8("v1"), "m1");
      batch.put(Blob.CHAMPION, utf8("v1"), "m2");
      Offsets.put(batch, "g", examples, 100);
      first.commit(batch);
    }
    try (StoreBatch batch = first.newBatch()) {
      batch.put(Blob.CHAMPION, utf8("v2"), "m1");
      batch.delete(Family.ADAPTERS, Blob.CHAMPION.key("m2"));
      Offsets.put(batch, "g", examples, 250);
      first.commit(batch);
    }
    String identity = first.identity();

    try (RetainStore second = open(config, dir.resolve("b"))) {
      assertThat(second.restoredChanges()).isEqualTo(7); // 3 + 3 puts and deletes, 1 identity
      assertThat(second.get(Blob.CHAMPION, "m1")).isEqualTo(utf8("v2"));
      assertThat(second.get(Blob.CHAMPION, "m2")).isNull();
      assertThat(second.models(Blob.CHAMPION)).containsExactly("m1");
      assertThat(Offsets.read(second, "g")).containsEntry(examples, 250L);
      assertThat(second.identity()).isEqualTo(identity); // version ids go on as before

      StoreBatch stale = first.newBatch();
      stale.put(Blob.CHAMPION, utf8("stale"), "m1");
      assertThatThrownBy(() -> first.commit(stale))
          .isInstanceOf(StoreFencedException.class)
          .hasMessageContaining("another instance owns changelog");
      assertThat(first.get(Blob.CHAMPION, "m1")).isEqualTo(utf8("v2"));

      try (StoreBatch batch = second.newBatch()) {
        batch.put(Blob.CHAMPION, utf8("v3"), "m1");
        second.commit(batch);
      }
    } finally {
      first.close();
    }
    // the first copy comes back: it catches up from its own position, not from the start
    try (RetainStore again = open(config, dir.resolve("a"))) {
      assertThat(again.get(Blob.CHAMPION, "m1")).isEqualTo(utf8("v3"));
      assertThat(again.restoredChanges()).isEqualTo(1);
    }
  }
}
