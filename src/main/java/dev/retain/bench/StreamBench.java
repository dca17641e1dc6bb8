package dev.retain.bench;

import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.Choice;
import dev.retain.config.ConfigLoader;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.serve.ServeNode;
import dev.retain.serve.ServingModel;
import dev.retain.train.StepThroughput;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The whole service end to end, as users run it: an embedded broker, the learner node (ingest,
 * training, gate, publishing) and the serving node, a scenario produced to the examples topic at
 * once or paced, and, once everything is learned and served, the <em>served</em> champion scored on
 * held-out test images of every domain. Each policy is the service under other settings, in the
 * same run: {@code retain} (the defaults), {@code naive} (no replay), {@code replay} (plain
 * experience replay) and {@code joint} (every domain shuffled into one stream: the upper bound);
 * the baselines publish every candidate (no gate).
 */
@Command(
    name = "stream",
    description =
        "The service end to end on an embedded broker: the served champion's test accuracy per"
            + " domain, per policy.")
public final class StreamBench implements Callable<Integer> {
  @Mixin ScenarioOptions options = new ScenarioOptions("class-incremental", 6000, 1000, 1);

  @Option(
      names = "--policies",
      split = ",",
      defaultValue = "retain,naive,replay,joint",
      description = "retain (the defaults), naive, replay, joint.")
  List<String> policies;

  @Option(
      names = "--pace",
      defaultValue = "0",
      description = "Examples per second to produce (0: the whole stream at once).")
  int pace;

  @Option(
      names = "--no-domain",
      description =
          "Produce the records without their domain field: the learner's drift detector must find"
              + " the regimes (served accuracy is still scored per true domain).")
  boolean noDomain;

  @Option(
      names = "--timeout",
      defaultValue = "900",
      description = "Seconds a run may take before the bench gives up on it.")
  int timeoutSeconds;

  /** What one run of the service measured. */
  record Run(
      Map<String, Double> served,
      double learnerAverage,
      int promoted,
      double rejected,
      double samplesPerSecond,
      double seconds,
      int scoredBeforeLearned) {
    double average() {
      return served.values().stream().mapToDouble(v -> v).average().orElse(0);
    }

    double minimum() {
      return served.values().stream().mapToDouble(v -> v).min().orElse(0);
    }
  }

  @Override
  public Integer call() throws Exception {
    Scenario data = options.load();
    Report report =
        new Report(
            String.format(
                Locale.ROOT,
                "stream: %s, %d domains x %,d examples, produced %s, served champion on %,d test"
                    + " examples per domain, %d seed(s)",
                data.name(),
                options.domains,
                options.perDomain,
                pace > 0 ? "at " + pace + "/s" : "at once",
                data.test().get(0).size(),
                options.seeds),
            columns());
    Map<String, Double> averages = new LinkedHashMap<>();
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      for (String policy : policies) {
        List<Run> runs = new ArrayList<>();
        for (int seed = 0; seed < options.seeds; seed++) {
          Run run = run(kafka.bootstrapServers(), data, policy, seed);
          runs.add(run);
          System.err.printf(
              Locale.ROOT,
              "%s seed %d: served %.1f%% (lowest domain %.1f%%), learner's holdouts %.1f%%, %d"
                  + " versions, %.0f rejected, %.0f s%n",
              policy,
              seed,
              run.average() * 100,
              run.minimum() * 100,
              run.learnerAverage() * 100,
              run.promoted(),
              run.rejected(),
              run.seconds());
        }
        averages.put(policy, addRow(report, policy, runs));
      }
    }
    if (averages.containsKey("retain") && averages.containsKey("replay")) {
      report.figure(
          "retain_minus_replay", Stats.round(averages.get("retain") - averages.get("replay")));
    }
    report.print(System.out, options.json);
    return 0;
  }

  private String[] columns() {
    List<String> out = new ArrayList<>(List.of("policy", "served avg %", "sd", "lowest domain %"));
    for (int d = 0; d < options.domains; d++) {
      out.add("d" + d + " %");
    }
    out.addAll(List.of("versions", "rejected", "samples/s", "learner holdout %"));
    return out.toArray(String[]::new);
  }

  /** Adds the policy's row (means over its runs) and figures; returns its served average %. */
  private double addRow(Report report, String policy, List<Run> runs) {
    double[] averages = runs.stream().mapToDouble(r -> r.average() * 100).toArray();
    double mean = Stats.mean(averages);
    double minimum = runs.stream().mapToDouble(r -> r.minimum() * 100).average().orElse(0);
    List<Object> row = new ArrayList<>();
    row.add(policy);
    row.add(String.format(Locale.ROOT, "%.1f", mean));
    row.add(String.format(Locale.ROOT, "%.1f", Stats.sd(averages)));
    row.add(String.format(Locale.ROOT, "%.1f", minimum));
    report
        .figure(policy + "_served_average", Stats.round(mean))
        .figure(policy + "_sd", Stats.round(Stats.sd(averages)))
        .figure(policy + "_min_domain", Stats.round(minimum));
    for (int d = 0; d < options.domains; d++) {
      String name = "domain-" + d;
      double acc = runs.stream().mapToDouble(r -> r.served().get(name) * 100).average().orElse(0);
      row.add(String.format(Locale.ROOT, "%.1f", acc));
      report.figure(policy + "_" + name, Stats.round(acc));
    }
    double speed = runs.stream().mapToDouble(Run::samplesPerSecond).average().orElse(0);
    row.add(runs.stream().mapToInt(Run::promoted).sum() / (double) runs.size());
    row.add(runs.stream().mapToDouble(Run::rejected).sum() / runs.size());
    row.add(String.format(Locale.ROOT, "%,.0f", speed));
    double learner = runs.stream().mapToDouble(r -> r.learnerAverage() * 100).average().orElse(0);
    row.add(String.format(Locale.ROOT, "%.1f", learner));
    report.figure(policy + "_samples_per_s", Math.round(speed));
    report.figure(policy + "_learner_holdout_average", Stats.round(learner));
    report.figure(
        policy + "_cells_scored_before_learned",
        runs.stream().mapToInt(Run::scoredBeforeLearned).sum());
    report.row(row.toArray());
    return mean;
  }

  private Run run(String bootstrap, Scenario data, String policy, int seed) throws Exception {
    Path dir = Files.createTempDirectory("retain-stream");
    String prefix = "bench-" + policy.replace('+', '-') + "-" + seed + "-" + System.nanoTime();
    RetainConfig config = config(bootstrap, dir, prefix, policy, seed);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    List<Example> stream = policy.equals("joint") ? joint(data, seed) : data.sequential();
    PrometheusMeterRegistry meters = Metrics.registry("retain-bench");
    long start = System.nanoTime();
    try (LearnerNode learner = new LearnerNode(config, meters).start();
        ServeNode serve = new ServeNode(config, Metrics.registry("retain-bench-serve")).start()) {
      produce(config, stream, !noDomain, pace);
      ServingModel served = awaitSettled(learner, serve, stream.size(), start, timeoutSeconds);
      Map<String, Double> accuracy = new LinkedHashMap<>();
      for (int d = 0; d < data.test().size(); d++) {
        accuracy.put("domain-" + d, served == null ? 0.0 : accuracy(served, data.test().get(d)));
      }
      return new Run(
          accuracy,
          learner.learner().report().averageAccuracy(),
          learner.publisher().registry().history().size(),
          Search.in(meters).name("retain.adapters.rejected").counters().stream()
              .mapToDouble(Counter::count)
              .sum(),
          StepThroughput.read(meters).perSecond(),
          (System.nanoTime() - start) / 1e9,
          learner.learner().matrix().scoredBeforeLearned());
    } finally {
      Stats.deleteRecursively(dir);
    }
  }

  /** The service's settings for {@code policy}: the defaults, the baselines' changes, then -s. */
  private RetainConfig config(String bootstrap, Path dir, String prefix, String policy, int seed) {
    Map<String, Object> props = new HashMap<>();
    switch (policy) {
      case "retain" -> {}
      case "naive" -> {
        baseline(props);
        props.put(RetainConfig.TRAIN_REPLAY_RATIO, 0.0);
      }
      case "replay", "joint" -> baseline(props);
      default -> throw new IllegalArgumentException("unknown policy " + policy);
    }
    props.putAll(options.settings);
    return serviceConfig(bootstrap, dir, prefix, seed, props);
  }

  /**
   * A bench run's settings: its own store, topics and free ports on {@code bootstrap}, the
   * environment's settings, then {@code settings}.
   */
  static RetainConfig serviceConfig(
      String bootstrap, Path dir, String prefix, int seed, Map<String, Object> settings) {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    props.put(RetainConfig.STORE_DIR, dir.toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.RECORD_CODEC, "binary");
    props.put(RetainConfig.TOPIC_PREFIX, prefix);
    props.put(RetainConfig.INGEST_GROUP_ID, prefix);
    props.put(RetainConfig.METRICS_PORT, 0);
    props.put(RetainConfig.ADMIN_PORT, 0);
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.TRAIN_SEED, 42L + seed);
    props.putAll(ConfigLoader.fromEnvironment(Map.of()));
    props.putAll(settings);
    return new RetainConfig(props);
  }

  /**
   * A plain training loop: no logit replay, no EWC, no rehearsal when idle, the full softmax, every
   * candidate published.
   */
  private static void baseline(Map<String, Object> props) {
    props.put(RetainConfig.TRAIN_LOGIT_REPLAY, 0.0);
    props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 0);
    props.put(RetainConfig.TRAIN_EWC_LAMBDA, 0.0);
    props.put(RetainConfig.TRAIN_FRESH_LOSS, "full");
    props.put(RetainConfig.PUBLISH_GATE_ENABLED, false);
  }

  /** Every domain's examples shuffled together, all under one domain name. */
  private static List<Example> joint(Scenario data, int seed) {
    List<Example> out = new ArrayList<>();
    for (List<Example> domain : data.train()) {
      for (Example e : domain) {
        out.add(new Example(e.id(), e.features(), e.label(), "joint", e.ts()));
      }
    }
    Collections.shuffle(out, new Random(seed));
    return out;
  }

  /** Waits until example {@code i} is due at the producing pace (none: at once). */
  private static void keepPace(long start, int i, int pace) throws InterruptedException {
    long wait = start + (long) (i * 1e9 / Math.max(pace, 1e-9)) - System.nanoTime();
    if (pace > 0 && wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait); // the producer's pace, not a condition stand-in
    }
  }

  /** Produces {@code stream} to the examples topic, with or without domains, at {@code pace}/s. */
  static void produce(RetainConfig config, List<Example> stream, boolean withDomain, int pace)
      throws InterruptedException {
    ExampleCodec codec =
        ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    long start = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < stream.size(); i++) {
        producer.send(
            new ProducerRecord<>(
                config.examplesTopic(), key, codec.encode(stream.get(i), withDomain)));
        keepPace(start, i, pace);
      }
    }
  }

  /** True once ingest committed every record and the learner trained and consolidated them. */
  private static boolean trained(LearnerNode learner, int records) {
    return learner.ingest().loop().committedRecords() >= records
        && learner.inboxSize() == 0
        && learner.learner().isQuiescent();
  }

  /**
   * Waits until ingest committed all {@code records}, the learner took and trained on everything
   * and consolidated it, and serving uses the champion; returns the served model (null when no
   * version was ever promoted).
   */
  static ServingModel awaitSettled(
      LearnerNode learner, ServeNode serve, int records, long start, int timeoutSeconds)
      throws InterruptedException {
    long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (System.nanoTime() < deadline) {
      if (!learner.learner().isAlive()) {
        throw new IllegalStateException("the learner stopped: " + learner.learner().failure());
      }
      AdapterVersion champion = learner.publisher().registry().champion();
      ServingModel served = serve.follower().current();
      boolean trained = trained(learner, records);
      if (trained && champion == null) {
        return null;
      }
      if (trained && served != null && served.version().equals(champion.id())) {
        return served;
      }
      TimeUnit.MILLISECONDS.sleep(100); // polling cadence; the conditions above decide
    }
    throw new IllegalStateException("the run did not settle within " + timeoutSeconds + " s");
  }

  /** Share of {@code test} whose most probable class under {@code model} is its label. */
  static double accuracy(ServingModel model, List<Example> test) {
    List<float[]> inputs = test.stream().map(Example::features).toList();
    float[][] probabilities = model.probabilities(inputs);
    int correct = 0;
    for (int i = 0; i < test.size(); i++) {
      correct += argmax(probabilities[i]) == test.get(i).label() ? 1 : 0;
    }
    return correct / (double) test.size();
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      best = values[i] > values[best] ? i : best;
    }
    return best;
  }
}
