package dev.retain.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills the ingesting process (a child JVM running {@code retain run}) with SIGKILL at random
 * moments, restarts it each time, and then checks that the store accounted for every produced
 * example exactly once.
 */
@Tag("integration")
class ExactlyOnceIT {
  private static final int N = 12_000;
  private static final int DOMAINS = 4;
  private static final int KILLS = 5;

  /** Each child's log, so that a failure shows what the child did. */
  private static final Map<Process, Path> LOGS = new HashMap<>();

  @TempDir Path dir;

  /** A child left running by a failed assertion must not outlive the test. */
  @AfterEach
  void killChildren() {
    LOGS.keySet().forEach(Process::destroyForcibly);
    LOGS.clear();
  }

  @Test
  void shouldCountEveryExampleExactlyOnceWhenTheProcessIsKilledRepeatedly() throws Exception {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.RECORD_CODEC, "binary");
    props.put(RetainConfig.REPLAY_CAPACITY, 300);
    RetainConfig config = new RetainConfig(props);
    DriftStream stream = new DriftStream(4, 3, 1.0f, 11);
    List<Example> produced = produce(config, stream);

    Random random = new Random(2024);
    long reached = 0;
    for (int kill = 0; kill < KILLS; kill++) {
      Process child = startChild(props);
      long target = reached + 500 + random.nextInt(2500);
      reached = awaitProgress(config, target, child);
      child.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, no final commit
    }
    Process last = startChild(props);
    awaitProgress(config, N, last);
    // the earlier children may have stored everything already: let this one start up and take
    // its partition before the graceful stop, so that the stop exercises a running service
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> java.nio.file.Files.readString(LOGS.get(last)).contains("assigned ["));
    last.destroy();
    assertThat(last.waitFor()).isIn(0, 143);

    assertExactlyOnce(config, produced);
    // and through stored positions, not the dedup window: no restart re-read a record, so not
    // one was dead-lettered as a duplicate
    try (Admin admin = KafkaClients.admin(config)) {
      TopicPartition dlq = new TopicPartition(config.deadLetterTopic(), 0);
      long deadLetters =
          admin.listOffsets(Map.of(dlq, OffsetSpec.latest())).all().get().get(dlq).offset();
      assertThat(deadLetters).as("records re-read after a restart").isZero();
    }
  }

  private List<Example> produce(RetainConfig config, DriftStream stream) {
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    BinaryExampleCodec codec = new BinaryExampleCodec();
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    List<Example> produced = new ArrayList<>();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < N; i++) {
        Example example = stream.example(i * DOMAINS / N, i);
        produced.add(example);
        producer.send(new ProducerRecord<>(config.examplesTopic(), key, codec.encode(example)));
      }
    }
    return produced;
  }

  private static Process startChild(Map<String, Object> props) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.retain.cli.Main",
                "run"));
    Map<String, Object> childProps = new HashMap<>(props);
    childProps.put(RetainConfig.INGEST_MAX_POLL_RECORDS, 150);
    childProps.put(RetainConfig.INGEST_COMMIT_RECORDS, 150);
    childProps.put(RetainConfig.INGEST_COMMIT_INTERVAL_MS, 5);
    // static membership: a restarted child takes the partition back without a session timeout
    childProps.put(RetainConfig.INGEST_INSTANCE_ID, "ingest-child");
    childProps.put(RetainConfig.TRAIN_ENABLED, false); // this test is about ingest alone
    // bound every coordinator wait on a killed member well below the await limit
    childProps.put("retain.kafka.session.timeout.ms", 10_000);
    childProps.put("retain.kafka.max.poll.interval.ms", 20_000);
    childProps.forEach((k, v) -> command.addAll(List.of("-s", k + "=" + v)));
    File log = File.createTempFile("retain-child", ".log");
    Process child =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
    LOGS.put(child, log.toPath());
    return child;
  }

  /**
   * Waits until the position stored with the data reaches {@code target} (or the end). The store is
   * read through a read-only RocksDB instance, which needs no lock, while the child writes; an open
   * that races a flush fails and is tried again at the next poll.
   */
  private static long awaitProgress(RetainConfig config, long target, Process child) {
    long goal = Math.min(target, N);
    long[] seen = {0};
    TopicPartition partition = new TopicPartition(config.examplesTopic(), 0);
    String group = config.getString(RetainConfig.INGEST_GROUP_ID);
    try {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                assertThat(child.isAlive()).as("child ingest process exited").isTrue();
                try (RetainStore store = RetainStore.openReadOnly(dir(config))) {
                  seen[0] = Offsets.read(store, group).getOrDefault(partition, 0L);
                } catch (RuntimeException e) {
                  return false;
                }
                return seen[0] >= goal;
              });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(
          "position "
              + seen[0]
              + " < "
              + goal
              + "; child log:\n"
              + tail(LOGS.get(child))
              + "\nchild's ingest metrics:\n"
              + ingestMetrics(LOGS.get(child))
              + "\nchild's threads:\n"
              + threadDump(child),
          e);
    }
    return seen[0];
  }

  private static void assertExactlyOnce(RetainConfig config, List<Example> produced) {
    Map<Integer, Long> perClass = new HashMap<>();
    Map<String, Long> perDomain = new HashMap<>();
    Map<String, Example> byId = new HashMap<>();
    for (Example e : produced) {
      perClass.merge(e.label(), 1L, Long::sum);
      perDomain.merge(e.domain(), 1L, Long::sum);
      byId.put(e.id(), e);
    }
    try (RetainStore store = RetainStore.openReadOnly(dir(config))) {
      ModelState state = ModelState.load(store, config);
      assertThat(state.holdout().seenByDomain()).isEqualTo(perDomain);
      Map<Integer, Long> counted = new HashMap<>(state.replay().seenByClass());
      List<Example> heldOut = new ArrayList<>();
      state.holdout().domains().forEach(d -> heldOut.addAll(state.holdout().holdout(d)));
      heldOut.forEach(e -> counted.merge(e.label(), 1L, Long::sum));
      assertThat(counted).isEqualTo(perClass);
      assertThat(heldOut).hasSize(N / 10);
      // no id counted twice, none lost: the dedup window holds each produced id exactly once
      assertThat(state.dedup().size()).isEqualTo(N);
      Set<String> ids = new HashSet<>();
      for (Example e : produced) {
        assertThat(state.dedup().add(e.id())).as("id %s remembered", e.id()).isFalse();
        ids.add(e.id());
      }
      // the reservoir is still valid: within capacity, balanced, made of produced examples
      List<Example> replay = state.replay().snapshot();
      assertThat(replay).hasSize(300).doesNotHaveDuplicates();
      assertThat(state.replay().sizeByClass().values()).containsOnly(100);
      replay.forEach(e -> assertThat(e).isEqualTo(byId.get(e.id())));
      heldOut.forEach(e -> assertThat(e).isEqualTo(byId.get(e.id())));
      assertThat(ids).hasSize(N);
    }
  }

  /** The child's retain_examples / retain_ingest lines from its /metrics (port from its log). */
  private static String ingestMetrics(Path log) {
    try {
      java.util.regex.Matcher port =
          java.util.regex.Pattern.compile("metrics on :(\\d+)")
              .matcher(java.nio.file.Files.readString(log));
      if (!port.find()) {
        return "(no metrics port in the log)";
      }
      String scrape =
          java.net.http.HttpClient.newHttpClient()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create("http://127.0.0.1:" + port.group(1) + "/metrics"))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString())
              .body();
      return scrape
          .lines()
          .filter(l -> l.startsWith("retain_examples") || l.startsWith("retain_ingest"))
          .collect(java.util.stream.Collectors.joining("\n"));
    } catch (Exception e) {
      return "(metrics unreadable: " + e + ")";
    }
  }

  /** A thread dump of the child (jcmd), for a child that stopped making progress. */
  private static String threadDump(Process child) {
    try {
      Process jcmd =
          new ProcessBuilder(
                  Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                  Long.toString(child.pid()),
                  "Thread.print")
              .redirectErrorStream(true)
              .start();
      String out = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      jcmd.waitFor();
      return out;
    } catch (Exception e) {
      return "(no thread dump: " + e + ")";
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = java.nio.file.Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (java.io.IOException e) {
      return "(log unreadable: " + e + ")";
    }
  }

  private static Path dir(RetainConfig config) {
    return Path.of(config.getString(RetainConfig.STORE_DIR));
  }
}
