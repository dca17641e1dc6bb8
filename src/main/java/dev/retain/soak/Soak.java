package dev.retain.soak;

import dev.retain.bench.Report;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.StandaloneBroker;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.serve.ServeNode;
import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The service under faults: a real broker in a child JVM, the learner ({@code retain run}) in child
 * JVMs killed with SIGKILL again and again (a third of the kills right after a promotion is logged,
 * a third right after a consolidation, the rest at random), one broker kill and restart, and one
 * second learner started by mistake on a store of its own, while serving answers in this JVM. Then
 * every record and every published version is accounted for ({@link Account}).
 */
@Command(
    name = "soak",
    description =
        "Kill the learner again and again, restart the broker, start a second learner; then"
            + " account for every record and version.")
public final class Soak implements Callable<Integer> {
  @Option(names = "--examples", defaultValue = "200000", description = "Records produced.")
  int examples;

  @Option(names = "--kills", defaultValue = "20", description = "SIGKILLs of the learner.")
  int kills;

  @Option(names = "--bad-every", defaultValue = "40", description = "Every n-th record is bad.")
  int badEvery;

  @Option(names = "--seed", defaultValue = "7", description = "Seed of the random kill moments.")
  long seed;

  @Option(names = "--dir", description = "Working directory (default: a new temporary one).")
  Path dir;

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  private final Map<String, Long> events = new java.util.LinkedHashMap<>();

  @Override
  public Integer call() throws Exception {
    Path work = dir != null ? dir : Files.createTempDirectory("retain-soak");
    Random random = new Random(seed);
    try (StandaloneBroker broker = StandaloneBroker.start(work.resolve("kafka"))) {
      Map<String, Object> props = props(broker.bootstrapServers(), work.resolve("store"));
      RetainConfig config = new RetainConfig(props);
      Topics.ensureAtStart(config);
      Stream stream = new Stream(config, examples, badEvery);
      stream.produceUpTo(examples / (kills + 1));
      Prober prober;
      try (ServeNode serve = new ServeNode(config, Metrics.registry("retain-serve")).start()) {
        prober = new Prober(serve.port(), stream.probe());
        try (prober) {
          runFaults(broker, props, work, random, stream);
          stream.produceUpTo(examples);
          finish(config, props, work, stream);
        }
      }
      Account account = Account.of(config, stream, work.resolve("store"));
      print(stream, account, prober);
      return account.clean() && prober.failedAfterFirst.get() == 0 ? 0 : 1;
    }
  }

  private void runFaults(
      StandaloneBroker broker, Map<String, Object> props, Path work, Random random, Stream stream)
      throws Exception {
    boolean secondStarted = false;
    for (int i = 0; i < kills; i++) {
      stream.produceUpTo((int) ((long) examples * (i + 1) / (kills + 1)));
      Learner learner = Learner.start(props, work.resolve("logs/learner-" + i + ".log"));
      Learner second = null;
      if (!secondStarted
          && i >= kills / 3
          && events.getOrDefault("promotions logged by learners later killed", 0L) > 0) {
        Map<String, Object> other = new HashMap<>(props);
        other.put(RetainConfig.STORE_DIR, work.resolve("second-store").toString());
        other.put(RetainConfig.INGEST_INSTANCE_ID, "soak-second");
        second = Learner.start(other, work.resolve("logs/second.log"));
        secondStarted = true;
        count("second learner started");
      }
      if (i == kills / 2) {
        learner.awaitLine("assigned [", 0, 60);
        broker.kill();
        TimeUnit.SECONDS.sleep(3); // the outage
        broker.startProcess();
        count("broker restarts");
      }
      aimAndKill(learner, i, random);
      if (second != null) {
        if (!second.kill()) {
          count("second learner exited by itself");
        }
      }
    }
  }

  /** Kills after a promotion, after a consolidation, or at a random moment, in turn. */
  private void aimAndKill(Learner learner, int i, Random random) throws InterruptedException {
    String aim = i % 3 == 0 ? "promoted default-" : i % 3 == 1 ? "consolidated (" : null;
    boolean hit;
    if (aim != null) {
      hit = learner.awaitLine(aim, 0, 60);
    } else {
      hit = learner.awaitLine("assigned [", 0, 60);
      TimeUnit.MILLISECONDS.sleep(500 + random.nextInt(4000)); // a random moment to kill at
    }
    events.merge(
        "promotions logged by learners later killed",
        (long) learner.count("promoted default-"),
        Long::sum);
    if (learner.kill()) {
      count("kills");
      if (hit && aim != null) {
        count(
            aim.startsWith("promoted")
                ? "kills right after a promotion"
                : "kills right after a consolidation");
      }
    } else {
      count("learner exits by itself (restarted)");
    }
  }

  /** A last learner runs until it stored and trained on every record, then stops gracefully. */
  private void finish(RetainConfig config, Map<String, Object> props, Path work, Stream stream)
      throws Exception {
    TopicPartition tp = new TopicPartition(config.examplesTopic(), 0);
    long end;
    try (Admin admin = KafkaClients.admin(config)) {
      end = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset();
    }
    String group = config.getString(RetainConfig.INGEST_GROUP_ID);
    for (int attempt = 0; attempt < 3; attempt++) {
      Learner last = Learner.start(props, work.resolve("logs/last-" + attempt + ".log"));
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
      while (last.isAlive() && System.nanoTime() < deadline) {
        // done once every record is stored and the learner's checkpoint is past the newest
        // trainable one (it consolidates when the stream goes idle)
        if (stored(work.resolve("store"), group, tp) >= end
            && Account.untrained(work.resolve("store"), config, stream) == 0) {
          last.stop();
          return;
        }
        TimeUnit.MILLISECONDS.sleep(200); // polling the store another process writes
      }
      last.kill();
      count("learner exits by itself (restarted)");
    }
    throw new IllegalStateException("the last learner did not store every record; see " + work);
  }

  private static long stored(Path store, String group, TopicPartition tp) {
    try (RetainStore db = RetainStore.openReadOnly(store)) {
      return Offsets.read(db, group).getOrDefault(tp, 0L);
    } catch (RuntimeException e) {
      return 0; // an open that races the writer's flush: read again next time
    }
  }

  private void count(String event) {
    events.merge(event, 1L, Long::sum);
  }

  private void print(Stream stream, Account a, Prober prober) {
    Report report =
        new Report("soak: faults against a real broker, then an account", "measure", "value");
    Map<String, Object> rows = new java.util.LinkedHashMap<>();
    rows.put("records produced", stream.total());
    rows.put("bad records among them", stream.badByOffset().size());
    events.forEach(rows::put);
    rows.put("examples lost", a.lost());
    rows.put("examples counted twice", a.countedTwice());
    rows.put("bad records missing from the dead-letter topic", a.deadLettersMissing());
    rows.put("dead letters with a wrong reason", a.deadLettersWrongReason());
    rows.put("dead letters sent again after a kill (at-least-once)", a.deadLetterCopies());
    rows.put("newest trainable records the learner never trained on", a.untrained());
    rows.put("versions published", a.versions());
    rows.put("versions whose steps do not rise", a.stepsNotRising());
    rows.put("versions whose parent is not the version before", a.parentBreaks());
    rows.put("ids with two contents", a.idsWithTwoContents());
    rows.put("records from another learner's store", a.foreignVersions());
    rows.put("predictions answered", prober.answered.get());
    rows.put("predictions failed after the first version", prober.failedAfterFirst.get());
    rows.forEach(
        (k, v) -> {
          report.row(k, v);
          report.figure(k.replaceAll("[^a-z0-9]+", "_").replaceAll("^_|_$", ""), v);
        });
    report.print(System.out, json);
  }

  static Map<String, Object> props(String bootstrap, Path store) {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    props.put(RetainConfig.TOPIC_PREFIX, "soak");
    props.put(RetainConfig.STORE_DIR, store.toString());
    props.put(RetainConfig.STORE_SYNC, false); // a SIGKILL is not a power loss
    props.put(RetainConfig.RECORD_FEATURES, Stream.FEATURES);
    props.put(RetainConfig.RECORD_CLASSES, Stream.CLASSES);
    props.put(RetainConfig.MODEL_HIDDEN, "64");
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, 1000);
    props.put(RetainConfig.MODEL_PRETRAIN_EPOCHS, 3);
    props.put(RetainConfig.TRAIN_BATCH_SIZE, 32);
    props.put(RetainConfig.TRAIN_CONSOLIDATE_EVERY, 4000L);
    props.put(RetainConfig.TRAIN_IDLE_MS, 300L);
    props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 50);
    props.put(RetainConfig.REPLAY_CAPACITY, 300);
    props.put(RetainConfig.METRICS_PORT, 0);
    props.put(RetainConfig.ADMIN_PORT, 0);
    props.put(RetainConfig.METRICS_HOST, "127.0.0.1");
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.INGEST_INSTANCE_ID, "soak-learner");
    props.put("retain.kafka.session.timeout.ms", 10_000);
    props.put("retain.kafka.max.poll.interval.ms", 60_000);
    return props;
  }
}
