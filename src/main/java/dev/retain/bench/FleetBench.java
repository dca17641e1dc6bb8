package dev.retain.bench;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.fleet.FleetNode;
import dev.retain.metrics.Metrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code retain bench fleet}: what many models per process cost. Memory: one fleet instance learns
 * N small models (a few examples each, so every model has its learner, store state and publisher),
 * and the growth of resident memory and store bytes is divided by N. Throughput: the same examples
 * trained by one model, then spread over many, each on a fresh instance and topics in the same run;
 * every model starts (and consolidates a first few examples) before the timed part. Failover: see
 * {@link FleetFailover}.
 */
@Command(
    name = "fleet",
    description = "Many models per process: memory per model, throughput, failover.")
public final class FleetBench implements Callable<Integer> {
  @Option(
      names = "--models",
      defaultValue = "10,100,1000",
      split = ",",
      description = "Model counts whose memory per model is measured.")
  List<Integer> counts;

  @Option(
      names = "--throughput-models",
      defaultValue = "100",
      description = "Models the throughput is spread over (against one).")
  int throughputModels;

  @Option(
      names = "--throughput-examples",
      defaultValue = "30000",
      description = "Examples trained, timed, by one model and by the many.")
  int throughputExamples;

  @Option(
      names = "--state-mb",
      defaultValue = "100",
      description = "Store bytes of the partition that fails over, about.")
  int stateMb;

  @Option(
      names = "--ingest-records",
      defaultValue = "50000",
      description = "Records (784 features) ingested with and without the changelog.")
  int ingestRecords;

  @Option(
      names = "--parts",
      defaultValue = "memory,throughput,changelog,failover",
      split = ",",
      description = "Parts to run.")
  List<String> parts;

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Report report =
        new Report(
            "fleet: many small models per instance (16 features, 32 hidden, 4 classes), "
                + FleetLoad.PARTITIONS
                + " partitions, embedded broker",
            "measure",
            "value");
    Path dir = Files.createTempDirectory("retain-fleet-bench");
    try (EmbeddedKafka broker = EmbeddedKafka.start()) {
      run(broker.bootstrapServers(), dir, report);
    }
    report.print(System.out, json);
    return 0;
  }

  private void run(String bootstrap, Path dir, Report report) throws Exception {
    FleetLoad load = new FleetLoad(bootstrap, dir, 16);
    if (parts.contains("memory")) {
      for (int n : counts) {
        memory(load, n, report);
      }
    }
    if (parts.contains("throughput")) {
      throughput(load, report);
    }
    if (parts.contains("changelog")) {
      new FleetIngestCost(bootstrap, dir, ingestRecords).run(report);
    }
    if (parts.contains("failover")) {
      new FleetFailover(bootstrap, dir, stateMb).run(report);
    }
  }

  /** Resident memory and store bytes per model, with {@code n} models learning. */
  private void memory(FleetLoad load, int n, Report report) throws Exception {
    RetainConfig config = fresh(load, "memory-" + n);
    System.gc();
    long rss = FleetLoad.rssBytes();
    long start = System.nanoTime();
    try (FleetNode node = new FleetNode(config, Metrics.registry("bench")).start()) {
      FleetLoad.produce(config, n, 40, 0, 0);
      settle(node, config, n);
      System.gc();
      double perModel = (FleetLoad.rssBytes() - rss) / 1e6 / n;
      Path store = Path.of(config.getString(RetainConfig.STORE_DIR));
      double storeKb = FleetLoad.bytesUnder(store) / 1e3 / n;
      double seconds = (System.nanoTime() - start) / 1e9;
      String at = n + " models: ";
      row(report, at + "RSS per model (MB)", "rss_mb_per_model_" + n, perModel, "%.2f");
      row(report, at + "store per model (KB)", "store_kb_per_model_" + n, storeKb, "%.1f");
      row(report, at + "seconds to start and settle", "settle_seconds_" + n, seconds, "%.1f");
    }
  }

  private static void row(Report report, String measure, String figure, double value, String f) {
    report.row(measure, String.format(f, value));
    report.figure(figure, value);
  }

  /** Settings on fresh topics, which exist before any instance starts. */
  private static RetainConfig fresh(FleetLoad load, String name) throws Exception {
    RetainConfig config = new RetainConfig(load.props(name));
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config);
    }
    return config;
  }

  /** Examples trained per second by one model, then by many, on the same examples in total. */
  private void throughput(FleetLoad load, Report report) throws Exception {
    double[] one = rate(load, 1, report);
    double[] many = rate(load, throughputModels, report);
    String of = ", " + throughputModels + " models / 1";
    row(report, "training throughput" + of, "throughput_ratio", many[0] / one[0], "%.2f");
    row(
        report,
        "with every model's last consolidation" + of,
        "settled_ratio",
        many[1] / one[1],
        "%.2f");
  }

  /**
   * Examples trained per second by {@code models} models: until the last stored example is trained,
   * and until every model has also consolidated (each model consolidates when its stream idles).
   */
  private double[] rate(FleetLoad load, int models, Report report) throws Exception {
    RetainConfig config = fresh(load, "rate-" + models);
    PrometheusMeterRegistry registry = Metrics.registry("bench");
    try (FleetNode node = new FleetNode(config, registry).start()) {
      FleetLoad.produce(config, models, 40, 0, 0); // every model starts, untimed
      settle(node, config, models);
      Counts before = Counts.of(registry);
      long start = System.nanoTime();
      FleetLoad.produce(config, models, throughputExamples / models, 1, 40);
      awaitTrained(node, config, registry, before);
      double trained = (System.nanoTime() - start) / 1e9;
      settle(node, config, models);
      double settled = (System.nanoTime() - start) / 1e9;
      Counts done = Counts.of(registry).minus(before);
      String at = models + " model(s): ";
      row(
          report,
          at + "examples trained/s",
          "examples_per_second_" + models,
          done.fresh / trained,
          "%,.0f");
      row(
          report,
          at + "the same, until consolidated",
          "settled_per_second_" + models,
          done.fresh / settled,
          "%,.0f");
      row(
          report,
          at + "new examples per step",
          "examples_per_step_" + models,
          done.fresh / done.steps,
          "%.1f");
      return new double[] {done.fresh / trained, done.fresh / settled};
    }
  }

  /** The counters a throughput run reads, summed over models. */
  private record Counts(double fresh, double steps, double trainable) {
    static Counts of(PrometheusMeterRegistry registry) {
      return new Counts(
          sum(registry, "retain.train.examples.new"),
          sum(registry, "retain.train.steps"),
          sum(registry, "retain.examples.ingested") - sum(registry, "retain.examples.heldout"));
    }

    Counts minus(Counts o) {
      return new Counts(fresh - o.fresh, steps - o.steps, trainable - o.trainable);
    }
  }

  /** Waits until every record is stored and the learners trained on every trainable one. */
  private static void awaitTrained(
      FleetNode node, RetainConfig config, PrometheusMeterRegistry registry, Counts before)
      throws Exception {
    try (Admin admin = KafkaClients.admin(config)) {
      Map<TopicPartition, Long> ends = FleetLoad.ends(admin, config);
      Counts now = Counts.of(registry).minus(before);
      while (!stored(node.storedPositions(), ends) || now.fresh < now.trainable) {
        TimeUnit.MILLISECONDS.sleep(20); // polling the node's own counters
        now = Counts.of(registry).minus(before);
      }
    }
  }

  private static double sum(PrometheusMeterRegistry registry, String name) {
    return registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
  }

  /** Waits until every example is stored, {@code models} models run and every learner is idle. */
  static void settle(FleetNode node, RetainConfig config, int models) throws Exception {
    try (Admin admin = KafkaClients.admin(config)) {
      Map<TopicPartition, Long> ends = FleetLoad.ends(admin, config);
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
      while (!(node.models().size() == models
          && stored(node.storedPositions(), ends)
          && node.busyLearners() == 0)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the fleet did not settle in 30 minutes");
        }
        TimeUnit.MILLISECONDS.sleep(200); // polling the node's own state
      }
    }
  }

  private static boolean stored(Map<TopicPartition, Long> at, Map<TopicPartition, Long> ends) {
    return ends.entrySet().stream()
        .allMatch(e -> e.getValue() == 0 || at.getOrDefault(e.getKey(), 0L) >= e.getValue());
  }
}
