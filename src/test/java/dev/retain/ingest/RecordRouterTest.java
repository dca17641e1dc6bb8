package dev.retain.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How ingest names records that carry no domain: after the regime current when they arrive. */
class RecordRouterTest {
  private static final TopicPartition TP = new TopicPartition("examples", 0);
  @TempDir Path dir;

  @Test
  void shouldNameRecordsWithoutADomainAfterTheCurrentRegime() {
    RetainConfig config = new RetainConfig(TestData.smallConfig("unused:9092", dir));
    try (RetainStore store = RetainStore.open(dir.resolve("db"), false)) {
      ModelState state = ModelState.load(store, config);
      Lanes lanes = Lanes.single(config, state, ExampleSink.DISCARD, new SimpleMeterRegistry());
      RecordRouter router = new RecordRouter(config, lanes, new CatchUp());
      PendingCommit first = new PendingCommit(store);
      router.route(records(0, "a", null), first);
      assertThat(state.regimes().open(Map.of(TP.partition(), 1L))).isEqualTo("regime-1");
      PendingCommit second = new PendingCommit(store);
      router.route(records(1, "b", null), second);
      router.route(records(2, "c", "week-48"), second); // a producer's domain wins
      assertThat(first.trainable).extracting(Example::domain).containsExactly("default");
      assertThat(second.trainable)
          .extracting(Example::domain)
          .containsExactly("regime-1", "week-48");
    }
  }

  /**
   * A regime opens where the learner stands, not where ingest reads: the held-out records that
   * ingest named after the old regime but that lie past the learner's position move into the new
   * one, records read before the change but routed after it are named after the new one, and the
   * store keeps both after a restart.
   */
  @Test
  void shouldMoveHeldOutRecordsPastTheLearnersPositionIntoTheRegimeItOpens() {
    Map<String, Object> props = TestData.smallConfig("unused:9092", dir);
    props.put(RetainConfig.HOLDOUT_EVERY, 2);
    RetainConfig config = new RetainConfig(props);
    try (RetainStore store = RetainStore.open(dir.resolve("db"), false)) {
      ModelState state = ModelState.load(store, config);
      Lanes lanes = Lanes.single(config, state, ExampleSink.DISCARD, new SimpleMeterRegistry());
      RecordRouter router = new RecordRouter(config, lanes, new CatchUp());
      PendingCommit pending = new PendingCommit(store);
      for (long offset = 0; offset < 20; offset++) {
        router.route(records(offset, "r" + offset, null), pending);
      }
      assertThat(state.holdout().holdout("default")).hasSize(10);
      state.regimes().open(Map.of(TP.partition(), 12L)); // the learner took offsets 0-11
      assertThat(heldOut(state, "default")).containsExactly(1L, 3L, 5L, 7L, 9L, 11L);
      assertThat(heldOut(state, "regime-1")).containsExactly(13L, 15L, 17L, 19L);
      for (long offset = 20; offset < 24; offset++) {
        router.route(records(offset, "r" + offset, null), pending);
      }
      assertThat(heldOut(state, "regime-1")).containsExactly(13L, 15L, 17L, 19L, 21L, 23L);
      state.flush(pending.batch);
      store.commit(pending.batch);
    }
    try (RetainStore store = RetainStore.open(dir.resolve("db"), false)) {
      ModelState state = ModelState.load(store, config);
      assertThat(state.regimes().current()).isEqualTo("regime-1");
      assertThat(heldOut(state, "default")).containsExactly(1L, 3L, 5L, 7L, 9L, 11L);
      assertThat(heldOut(state, "regime-1")).containsExactly(13L, 15L, 17L, 19L, 21L, 23L);
      assertThat(state.holdout().holdout("regime-1"))
          .extracting(Example::domain)
          .containsOnly("regime-1");
    }
  }

  /** The offsets of the records held out under {@code domain} (their ids are "r" + offset). */
  private static List<Long> heldOut(ModelState state, String domain) {
    return state.holdout().holdout(domain).stream()
        .map(e -> Long.parseLong(e.id().substring(1)))
        .toList();
  }

  private static ConsumerRecords<byte[], ByteBuffer> records(
      long offset, String id, String domain) {
    String json =
        "{\"id\":\""
            + id
            + "\",\"features\":[0.1,0.2,0.3,0.4],\"label\":1"
            + (domain == null ? "" : ",\"domain\":\"" + domain + "\"")
            + "}";
    ConsumerRecord<byte[], ByteBuffer> record =
        new ConsumerRecord<>(
            TP.topic(),
            TP.partition(),
            offset,
            null,
            ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8)));
    return new ConsumerRecords<>(Map.of(TP, List.of(record)), Map.of());
  }
}
