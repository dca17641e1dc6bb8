package dev.retain.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ingest stage against a real broker and a real RocksDB store. */
@Tag("integration")
class IngestIT {
  @TempDir Path dir;
  private final JsonExampleCodec json = new JsonExampleCodec();

  private RetainConfig config(Map<String, Object> extra) {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.putAll(extra);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    return config;
  }

  /** Records on the dead-letter topic now. */
  private static long deadLetterCount(RetainConfig config) throws Exception {
    TopicPartition dlq = new TopicPartition(config.deadLetterTopic(), 0);
    try (Admin admin = KafkaClients.admin(config)) {
      return admin
          .listOffsets(Map.of(dlq, org.apache.kafka.clients.admin.OffsetSpec.latest()))
          .all()
          .get()
          .get(dlq)
          .offset();
    }
  }

  private static void send(RetainConfig config, List<byte[]> values) {
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      values.forEach(v -> producer.send(new ProducerRecord<>(config.examplesTopic(), key, v)));
    }
  }

  private byte[] good(int i) {
    return json.encode(TestData.example("good-" + i, i % 3, "d" + (i / 20), 4));
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void shouldSendEveryBadRecordToTheDeadLetterTopicWithItsReasonWhenTheStreamIsMixed()
      throws Exception {
    RetainConfig config = config(Map.of(RetainConfig.RECORD_MAX_BYTES, 400));
    List<byte[]> values = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      values.add(good(i));
      if (i == 5) {
        values.add(utf8("not json"));
        values.add(utf8("{\"id\":\"w\",\"features\":[1,2,3],\"label\":0}"));
        values.add(utf8("{\"id\":\"n\",\"features\":[1,\"NaN\",3,4],\"label\":0}"));
        values.add(utf8("{\"id\":\"l\",\"features\":[1,2,3,4],\"label\":3}"));
        values.add(utf8("{\"id\":\"" + "o".repeat(500) + "\",\"features\":[1,2,3,4],\"label\":0}"));
        values.add(good(2));
      }
    }
    send(config, values);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    ExampleInbox inbox = new ExampleInbox(1000);
    IngestService service = new IngestService(config, inbox, registry).start();
    try (service) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> service.loop().committedRecords() == values.size());
      // positions live in the store; the copy in the group's offsets (for lag tools) catches up
      try (Admin admin = KafkaClients.admin(config)) {
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> mirroredPosition(admin, config) == values.size());
      }
      assertThat(service.state().holdout().seenByDomain().values()).containsOnly(20L);
      assertThat(
              inbox.size()
                  + service.state().holdout().sizeByDomain().values().stream()
                      .mapToInt(Integer::intValue)
                      .sum())
          .isEqualTo(40);
    }
    assertThat(service.awaitTermination()).as("the loop stopped without an error").isTrue();
    List<ConsumerRecord<byte[], byte[]>> dead = readAll(config, config.deadLetterTopic(), 6);
    assertThat(dead)
        .extracting(r -> header(r, DeadLetter.REASON))
        .containsExactly(
            "unparsable",
            "wrong_feature_count",
            "non_finite_feature",
            "label_out_of_range",
            "oversized",
            "duplicate_id");
    assertThat(dead)
        .allSatisfy(
            r -> {
              assertThat(header(r, DeadLetter.SOURCE_TOPIC)).isEqualTo(config.examplesTopic());
              assertThat(header(r, DeadLetter.SOURCE_PARTITION)).isEqualTo("0");
            });
    assertThat(header(dead.get(0), DeadLetter.SOURCE_OFFSET)).isEqualTo("6");
    assertThat(dead.get(0).value()).isEqualTo(utf8("not json"));
    assertThat(
            registry
                .get("retain.examples.rejected")
                .tag("reason", "duplicate_id")
                .counter()
                .count())
        .isEqualTo(1.0);
    assertThat(registry.get("retain.examples.ingested").counter().count()).isEqualTo(40.0);
  }

  /**
   * A rejected record larger than the dead-letter topic accepts still reaches it: truncated, with
   * its original size and hash in headers, before ingest commits past it.
   */
  @Test
  void shouldDeliverATruncatedDeadLetterWhenTheRecordIsTooLargeForTheDeadLetterTopic()
      throws Exception {
    RetainConfig config = config(Map.of(RetainConfig.RECORD_MAX_BYTES, 1 << 20));
    try (Admin admin = KafkaClients.admin(config)) {
      org.apache.kafka.common.config.ConfigResource dlq =
          new org.apache.kafka.common.config.ConfigResource(
              org.apache.kafka.common.config.ConfigResource.Type.TOPIC, config.deadLetterTopic());
      admin
          .incrementalAlterConfigs(
              Map.of(
                  dlq,
                  List.of(
                      new org.apache.kafka.clients.admin.AlterConfigOp(
                          new org.apache.kafka.clients.admin.ConfigEntry(
                              "max.message.bytes", "100000"),
                          org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET))))
          .all()
          .get();
    }
    byte[] huge = utf8("x".repeat(200_000));
    List<byte[]> values = List.of(good(0), huge, good(1));
    send(config, values);
    IngestService service =
        new IngestService(config, new ExampleInbox(1000), new SimpleMeterRegistry()).start();
    try (service) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> service.loop().committedRecords() == values.size() || !service.isAlive());
    }
    assertThat(service.awaitTermination()).as("the loop stopped without an error").isTrue();
    List<ConsumerRecord<byte[], byte[]>> dead = readAll(config, config.deadLetterTopic(), 1);
    assertThat(dead).hasSize(1);
    ConsumerRecord<byte[], byte[]> letter = dead.get(0);
    assertThat(header(letter, DeadLetter.REASON)).isEqualTo("unparsable");
    assertThat(header(letter, DeadLetter.SOURCE_OFFSET)).isEqualTo("1");
    assertThat(header(letter, DeadLetter.ORIGINAL_SIZE)).isEqualTo("200000");
    assertThat(header(letter, DeadLetter.ORIGINAL_SHA256))
        .isEqualTo(
            java.util.HexFormat.of()
                .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(huge)));
    assertThat(letter.value()).hasSize(DeadLetter.TRUNCATED_BYTES);
  }

  /**
   * A producer that invents a domain per record cannot grow the model's domains (holdouts, metric
   * series, the gate's say) without bound: past the limit, a new domain's records are dead letters.
   */
  @Test
  void shouldDeadLetterRecordsOfDomainsBeyondTheLimit() throws Exception {
    RetainConfig config = config(Map.of(RetainConfig.RECORD_MAX_DOMAINS, 3));
    List<byte[]> values = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      values.add(json.encode(TestData.example("dl-" + i, i % 3, "domain-" + (i % 5), 4)));
    }
    send(config, values);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    IngestService service = new IngestService(config, new ExampleInbox(1000), registry).start();
    try (service) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> service.loop().committedRecords() == values.size() || !service.isAlive());
      assertThat(service.state().holdout().seenByDomain())
          .containsOnlyKeys("domain-0", "domain-1", "domain-2");
    }
    assertThat(service.awaitTermination()).isTrue();
    assertThat(
            registry
                .get("retain.examples.rejected")
                .tag("reason", "domain_limit")
                .counter()
                .count())
        .isEqualTo(20.0);
    assertThat(readAll(config, config.deadLetterTopic(), 20))
        .extracting(r -> header(r, DeadLetter.REASON))
        .containsOnly("domain_limit");
  }

  /** `retain run` and `retain serve` starting together both create the topics: neither fails. */
  @Test
  void shouldTreatTopicsCreatedMeanwhileBySomeoneElseAsCreated() throws Exception {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    RetainConfig config = new RetainConfig(props);
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    for (int i = 0; i < 6; i++) {
      Thread t =
          new Thread(
              () -> {
                try (Admin admin = KafkaClients.admin(config)) {
                  go.await();
                  Topics.ensure(admin, config, 1, (short) 1);
                } catch (Throwable e) {
                  failures.add(e);
                }
              });
      t.start();
      threads.add(t);
    }
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
  }

  @Test
  void shouldPauseAndThenResumeWhenTheLearnerLags() throws Exception {
    RetainConfig config =
        config(
            Map.of(
                RetainConfig.INGEST_MAX_POLL_RECORDS, 10, RetainConfig.INGEST_COMMIT_RECORDS, 10));
    List<byte[]> values = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      values.add(json.encode(TestData.example("bp-" + i, i % 3, "d", 4)));
    }
    send(config, values);
    ExampleInbox inbox = new ExampleInbox(20);
    List<Example> received = new ArrayList<>();
    IngestService service = new IngestService(config, inbox, new SimpleMeterRegistry()).start();
    try (service) {
      await().atMost(Duration.ofSeconds(30)).until(() -> service.loop().isPaused());
      // paused: memory stays bounded by the inbox capacity, one group commit, and the polls that
      // were being absorbed when it filled
      assertThat(inbox.size()).isBetween(20, 20 + 10 + IngestLoop.POLLS_AHEAD * 10);
      assertThat(service.loop().committedRecords()).isLessThan(300);
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                received.addAll(inbox.drain(7, 10));
                return received.size() >= 270;
              });
      assertThat(service.isAlive()).isTrue();
    }
    assertThat(service.awaitTermination()).as("the loop stopped without an error").isTrue();
    assertThat(received).extracting(Example::id).doesNotHaveDuplicates().hasSize(270);
  }

  /**
   * After a crash the learner's checkpoint may lie behind ingest's stored position: the records in
   * between were stored but never trained on. Ingest hands them to the learner again (not the held
   * out, not the rejected), without counting, storing or dead-lettering them again, and its stored
   * position never moves back.
   */
  @Test
  void shouldHandTheLearnerWhatItHadNotTrainedOnWithoutCountingItAgain() throws Exception {
    RetainConfig config = config(Map.of(RetainConfig.INGEST_COMMIT_RECORDS, 50));
    List<byte[]> values = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      values.add(
          i % 50 == 49
              ? "{broken".getBytes(StandardCharsets.UTF_8)
              : json.encode(TestData.example("cu-" + i, i % 3, "d", 4)));
    }
    send(config, values);
    TopicPartition tp = new TopicPartition(config.examplesTopic(), 0);
    Map<String, Long> seenBefore;
    List<String> trainableAfter = new ArrayList<>();
    ExampleInbox first = new ExampleInbox(10_000);
    try (IngestService service =
        new IngestService(config, first, new SimpleMeterRegistry()).start()) {
      await().atMost(Duration.ofSeconds(60)).until(() -> service.loop().committedRecords() == 400);
      seenBefore = service.state().holdout().seenByDomain();
      for (Example e : first.drain(10_000, 100)) {
        if (Integer.parseInt(e.id().substring(3)) >= 250) {
          trainableAfter.add(e.id());
        }
      }
    }
    ExampleInbox second = new ExampleInbox(10_000);
    IngestService again = new IngestService(config, second, new SimpleMeterRegistry());
    again.loop().resumeTrainingFrom(p -> p.equals(tp) ? 250L : null);
    List<Example> handed = new ArrayList<>();
    try (again) {
      again.start();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                handed.addAll(second.drain(1000, 100));
                return handed.size() >= trainableAfter.size();
              });
      assertThat(handed).extracting(Example::id).containsExactlyElementsOf(trainableAfter);
      // past the last trainable example (offset 398; 399 is a bad record)
      assertThat(second.drainedThrough().get(tp)).isEqualTo(399L);
      assertThat(again.state().holdout().seenByDomain()).isEqualTo(seenBefore);
      assertThat(again.loop().committedRecords()).as("nothing stored again").isZero();
    }
    try (RetainStore store =
        RetainStore.openReadOnly(Path.of(config.getString(RetainConfig.STORE_DIR)))) {
      assertThat(Offsets.read(store, config.getString(RetainConfig.INGEST_GROUP_ID)).get(tp))
          .isEqualTo(400L);
    }
    assertThat(deadLetterCount(config)).as("no record dead-lettered twice").isEqualTo(8);
  }

  /**
   * Binary examples keep their features in the fetched bytes, unless what a poll keeps is a small
   * part of what it fetched (records of other models here): then they copy them out, so that a few
   * examples do not keep whole fetch buffers alive.
   */
  @Test
  void shouldCopyFeaturesOutOfTheFetchedBytesOnlyWhenAPollKeepsLittleOfThem() throws Exception {
    RetainConfig config =
        config(
            Map.of(
                RetainConfig.RECORD_CODEC, "binary",
                RetainConfig.RECORD_FEATURES, 64,
                RetainConfig.REPLAY_CAPACITY, 3, // what the reservoir stores gets an array anyway
                RetainConfig.INGEST_MAX_POLL_RECORDS, 20));
    BinaryExampleCodec binary = new BinaryExampleCodec();
    byte[] ours = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    byte[] theirs = utf8("another-model");
    ExampleInbox inbox = new ExampleInbox(1000);
    IngestService service = new IngestService(config, inbox, new SimpleMeterRegistry()).start();
    try (service;
        KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < 40; i++) { // a topic of this model only: every poll keeps most of it
        byte[] value = binary.encode(TestData.example("dense-" + i, i % 3, "d", 64));
        producer.send(new ProducerRecord<>(config.examplesTopic(), ours, value));
      }
      producer.flush();
      List<Example> dense = drain(inbox, 36); // every 10th is held out
      // all but the few the 3-slot reservoir took (about two per class in expectation)
      assertThat(dense).filteredOn(Example::viewsBytes).hasSizeGreaterThan(dense.size() / 2);

      for (int i = 0; i < 200; i++) { // one record in five is this model's
        byte[] key = i % 5 == 4 ? ours : theirs;
        byte[] value = binary.encode(TestData.example("sparse-" + i, i % 3, "d", 64));
        producer.send(new ProducerRecord<>(config.examplesTopic(), key, value));
      }
      producer.flush();
      List<Example> sparse = drain(inbox, 36); // 40 of this model's, every 10th held out
      assertThat(sparse).extracting(Example::id).allMatch(id -> id.startsWith("sparse-"));
      assertThat(sparse).allSatisfy(e -> assertThat(e.viewsBytes()).isFalse());
      assertThat(sparse.get(0).features()).hasSize(64);
    }
    assertThat(service.awaitTermination()).as("the loop stopped without an error").isTrue();
  }

  private static List<Example> drain(ExampleInbox inbox, int count) {
    List<Example> out = new ArrayList<>();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () -> {
              out.addAll(inbox.drain(count - out.size(), 10));
              return out.size() >= count;
            });
    return out;
  }

  private static List<ConsumerRecord<byte[], byte[]>> readAll(
      RetainConfig config, String topic, int expected) {
    return KafkaFixture.readAll(config, topic, expected);
  }

  private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
    return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
  }

  private static long mirroredPosition(Admin admin, RetainConfig config) throws Exception {
    OffsetAndMetadata om =
        admin
            .listConsumerGroupOffsets(config.getString(RetainConfig.INGEST_GROUP_ID))
            .partitionsToOffsetAndMetadata()
            .get()
            .get(new TopicPartition(config.examplesTopic(), 0));
    return om == null ? -1 : om.offset();
  }
}
