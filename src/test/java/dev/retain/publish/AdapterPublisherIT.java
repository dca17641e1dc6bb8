package dev.retain.publish;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.model.SafeTensors;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import dev.retain.train.Candidate;
import dev.retain.train.Trigger;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The publisher on a real broker and store: idempotent ids, and what follows a rejection. */
@Tag("integration")
class AdapterPublisherIT {
  @TempDir Path dir;
  private final java.util.List<RetainStore> stores = new java.util.ArrayList<>();

  @org.junit.jupiter.api.AfterEach
  void closeStores() {
    stores.forEach(RetainStore::close);
  }

  private static Map<String, SafeTensors.Tensor> adapter(float value) {
    return Map.of(
        "base_model.model.layers.0.lora_A.weight",
        new SafeTensors.Tensor(new long[] {1, 2}, new float[] {value, value}),
        "base_model.model.layers.0.lora_B.weight",
        new SafeTensors.Tensor(new long[] {2, 1}, new float[] {value, -value}));
  }

  private static Candidate candidate(float value, double accuracy, double champion, long offset) {
    return new Candidate(
        "default",
        adapter(value),
        Map.of("d0", accuracy),
        Map.of("d0", champion),
        "f".repeat(64),
        Map.of(new TopicPartition("t", 0), offset),
        offset / 10,
        "d0",
        Trigger.EVERY,
        Map.of(),
        Map.of());
  }

  private AdapterPublisher publisher(String onReject, String sub) {
    Map<String, Object> props =
        TestData.smallConfig(KafkaFixture.bootstrapServers(), dir.resolve(sub));
    props.put(RetainConfig.PUBLISH_ON_REJECT, onReject);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    RetainStore store = RetainStore.open(dir.resolve(sub), false);
    stores.add(store);
    return new AdapterPublisher(
        config, store, KafkaClients.producer(config), new SimpleMeterRegistry());
  }

  /**
   * With the broker gone, a rollback through the admin API answers 503 within its timeout and
   * leaves the champion as it was.
   */
  @Test
  void shouldRefuseARollbackQuicklyWhileTheBrokerIsAway() throws Exception {
    dev.retain.cluster.EmbeddedKafka broker = dev.retain.cluster.EmbeddedKafka.start();
    Map<String, Object> props =
        TestData.smallConfig(broker.bootstrapServers(), dir.resolve("away"));
    props.put(RetainConfig.PUBLISH_ROLLBACK_TIMEOUT_MS, 2000L);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    RetainStore store = RetainStore.open(dir.resolve("away"), false);
    stores.add(store);
    try (AdapterPublisher publisher =
        new AdapterPublisher(
            config, store, KafkaClients.producer(config), new SimpleMeterRegistry())) {
      publisher.offer(candidate(1f, 0.8, 0.5, 100));
      String first = publisher.registry().champion().id();
      publisher.offer(candidate(2f, 0.9, 0.8, 200));
      String second = publisher.registry().champion().id();
      assertThat(second).isNotEqualTo(first);
      broker.close();
      AdminHandler admin = new AdminHandler(publisher, "default", "secret");
      RecordingCall call =
          new RecordingCall("POST", "/v1/models/default/rollback", "{\"to\":\"" + first + "\"}");
      long start = System.nanoTime();
      admin.handle(call);
      double seconds = (System.nanoTime() - start) / 1e9;
      assertThat(call.status).as(call.answer).isEqualTo(503);
      assertThat(call.answer).contains("rollback not done");
      assertThat(seconds).as("answered within the rollback timeout, with margin").isLessThan(15);
      assertThat(publisher.registry().champion().id()).isEqualTo(second);
    } finally {
      broker.close();
    }
  }

  /**
   * Two learners claim one model: the later one fences the earlier (a zombie), whose next
   * publication and rollback fail loudly. A third learner on a fresh store, whose champion is
   * behind the published lineage, neither publishes nor fences the owner. Only the owner's records
   * reach the topic.
   */
  /**
   * In a fleet, a stale owner whose partition's store was claimed by another instance cannot
   * publish, even before the new owner takes over the model's publisher: the version is recorded
   * through the store's changelog first, and that write is fenced.
   */
  @Test
  void shouldNotPublishFromAStoreWhoseChangelogAnotherInstanceClaimed() throws Exception {
    RetainConfig config = topics("s");
    RetainStore stale = changelogged(config, "stale");
    stores.add(stale);
    try (AdapterPublisher publisher =
        AdapterPublisher.fenced(config, stale, new SimpleMeterRegistry())) {
      publisher.claim();
      stores.add(changelogged(config, "owner")); // the partition moved: the owner claims it
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> publisher.offer(candidate(1f, 0.8, 0.5, 100)))
          .isInstanceOf(dev.retain.store.StoreFencedException.class);
      assertThat(publisher.registry().champion()).isNull();
      assertThat(publishedVersions(config)).isEmpty();
    }
  }

  /** A small configuration on fresh topics of one partition, created. */
  private RetainConfig topics(String sub) {
    RetainConfig config =
        new RetainConfig(TestData.smallConfig(KafkaFixture.bootstrapServers(), dir.resolve(sub)));
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    return config;
  }

  private RetainStore changelogged(RetainConfig config, String sub) {
    return RetainStore.open(
        dir.resolve(sub),
        false,
        new dev.retain.store.Changelog(
            KafkaClients.changelogProducer(config, 0),
            () -> KafkaClients.changelogReader(config),
            new TopicPartition(config.changelogTopic(), 0)));
  }

  @Test
  void shouldFenceAnEarlierPublisherAndRefuseOneBehindTheLineage() throws Exception {
    RetainConfig config = topics("a");
    RetainStore storeA = RetainStore.open(dir.resolve("a"), false);
    RetainStore storeB = RetainStore.open(dir.resolve("b"), false);
    RetainStore storeC = RetainStore.open(dir.resolve("c"), false);
    stores.addAll(java.util.List.of(storeA, storeB, storeC));
    try (AdapterPublisher zombie =
            AdapterPublisher.fenced(config, storeA, new SimpleMeterRegistry());
        AdapterPublisher owner =
            AdapterPublisher.fenced(config, storeB, new SimpleMeterRegistry());
        AdapterPublisher behind =
            AdapterPublisher.fenced(config, storeC, new SimpleMeterRegistry())) {
      zombie.claim();
      owner.claim(); // fences the zombie
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> zombie.offer(candidate(1f, 0.8, 0.5, 100)))
          .isInstanceOf(PublisherFencedException.class)
          .hasMessageContaining("another learner publishes model default");
      owner.offer(candidate(2f, 0.8, 0.5, 100));
      String first = owner.registry().champion().id();
      // the lineage on the topic (the owner's, step 10) is ahead of its empty store
      org.assertj.core.api.Assertions.assertThatThrownBy(behind::claim)
          .isInstanceOf(PublisherFencedException.class)
          .hasMessageContaining("is ahead of this learner's store");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> behind.offer(candidate(3f, 0.9, 0.5, 100)))
          .isInstanceOf(PublisherFencedException.class)
          .hasMessageContaining("is ahead of this learner's store");
      owner.offer(candidate(4f, 0.9, 0.8, 300)); // the owner was not fenced by it
      String second = owner.registry().champion().id();
      assertThat(second).isNotEqualTo(first);
      // committed records become visible once their transaction markers are written
      org.awaitility.Awaitility.await()
          .atMost(java.time.Duration.ofSeconds(30))
          .untilAsserted(
              () -> assertThat(publishedVersions(config)).containsExactly(first, second));
    }
  }

  /** The version header of every committed record on the adapters topic, in order. */
  private static java.util.List<String> publishedVersions(RetainConfig config) {
    java.util.List<String> out = new java.util.ArrayList<>();
    try (var consumer = KafkaClients.follower(config, "check-" + System.nanoTime())) {
      TopicPartition tp = new TopicPartition(config.adaptersTopic(), 0);
      consumer.assign(java.util.List.of(tp));
      consumer.seekToBeginning(java.util.List.of(tp));
      long end = consumer.endOffsets(java.util.List.of(tp)).get(tp);
      while (consumer.position(tp) < end) {
        consumer
            .poll(java.time.Duration.ofMillis(200))
            .forEach(
                r ->
                    out.add(
                        dev.retain.adapter.AdapterRecord.header(
                            r, dev.retain.adapter.AdapterRecord.VERSION)));
      }
    }
    return out;
  }

  /** A call as the admin API sees it, recording the answer. */
  private static final class RecordingCall implements dev.retain.http.Call {
    private final String method;
    private final String path;
    private final byte[] body;
    int status;
    String answer = "";

    RecordingCall(String method, String path, String body) {
      this.method = method;
      this.path = path;
      this.body = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public String method() {
      return method;
    }

    @Override
    public String path() {
      return path;
    }

    @Override
    public String header(String name) {
      return name.equals("Authorization") ? "Bearer secret" : null;
    }

    @Override
    public byte[] body() {
      return body;
    }

    @Override
    public void respond(int status, String contentType, byte[] bytes) {
      this.status = status;
      this.answer = new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }
  }

  @Test
  void shouldContinueFromTheCandidateOrRevertToTheChampionAfterARejection() {
    try (AdapterPublisher revert = publisher("revert", "revert")) {
      assertThat(revert.offer(candidate(1f, 0.9, 0.5, 100))).isNull(); // first: promoted
      String champion = revert.registry().champion().id();
      Map<String, SafeTensors.Tensor> resetTo = revert.offer(candidate(2f, 0.7, 0.9, 200));
      assertThat(resetTo).isNotNull();
      assertThat(resetTo.get("base_model.model.layers.0.lora_A.weight").data())
          .containsExactly(1f, 1f);
      assertThat(revert.registry().champion().id()).isEqualTo(champion);
      // the same position again: already recorded, nothing published twice
      assertThat(revert.offer(candidate(1f, 0.9, 0.5, 100))).isNull();
      assertThat(revert.registry().history()).hasSize(1);
    }
    try (AdapterPublisher keepGoing = publisher("continue", "continue")) {
      keepGoing.offer(candidate(1f, 0.9, 0.5, 100));
      assertThat(keepGoing.offer(candidate(2f, 0.7, 0.9, 200))).isNull();
      assertThat(keepGoing.offer(candidate(3f, 0.95, 0.9, 300))).isNull();
      assertThat(keepGoing.registry().history()).hasSize(2);
      assertThat(keepGoing.registry().champion().parent())
          .isEqualTo(keepGoing.registry().history().get(0).id());
    }
  }

  /** A non-finite adapter is never published, not even as the first version or with no gate. */
  @Test
  void shouldNeverPublishANonFiniteAdapter() {
    try (AdapterPublisher publisher = publisher("continue", "nan")) {
      assertThat(publisher.offer(candidate(Float.NaN, 0.9, 0.5, 100))).isNull();
      assertThat(publisher.registry().champion()).isNull();
      assertThat(publisher.offer(candidate(1f, 0.9, 0.5, 200))).isNull();
      assertThat(publisher.registry().history()).hasSize(1);
      assertThat(publisher.offer(candidate(Float.POSITIVE_INFINITY, 0.99, 0.9, 300))).isNull();
      assertThat(publisher.registry().history()).hasSize(1);
    }
  }

  /**
   * A version is recorded before it is published: when publishing fails (here a producer that is
   * already closed, as in a crash between the two), the registry has it, and the next start
   * publishes it, so the topic's last version is the champion.
   */
  @Test
  void shouldPublishAtStartAChampionRecordedBeforeACrash() throws Exception {
    Map<String, Object> props =
        TestData.smallConfig(KafkaFixture.bootstrapServers(), dir.resolve("c"));
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    RetainStore store = RetainStore.open(dir.resolve("c"), false);
    stores.add(store);
    var closed = KafkaClients.producer(config);
    closed.close();
    AdapterPublisher crashing =
        new AdapterPublisher(config, store, closed, new SimpleMeterRegistry());
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> crashing.offer(candidate(1f, 0.9, 0.5, 100)))
        .isInstanceOf(IllegalStateException.class);
    AdapterVersion recorded = crashing.registry().champion();
    assertThat(recorded).as("recorded before publishing").isNotNull();
    try (AdapterPublisher restarted =
        new AdapterPublisher(
            config, store, KafkaClients.producer(config), new SimpleMeterRegistry())) {
      assertThat(restarted.republishChampion().id()).isEqualTo(recorded.id());
    }
    try (var consumer = KafkaClients.consumer(config, "check-" + System.nanoTime())) {
      TopicPartition tp = new TopicPartition(config.adaptersTopic(), 0);
      consumer.assign(java.util.List.of(tp));
      consumer.seekToBeginning(java.util.List.of(tp));
      java.util.List<String> versions = new java.util.ArrayList<>();
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (versions.isEmpty() && System.nanoTime() < deadline) {
        consumer
            .poll(java.time.Duration.ofMillis(200))
            .forEach(
                r ->
                    versions.add(
                        new String(
                            r.headers().lastHeader("version").value(),
                            java.nio.charset.StandardCharsets.UTF_8)));
      }
      assertThat(versions).containsExactly(recorded.id());
    }
  }
}
