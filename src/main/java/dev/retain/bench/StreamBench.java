package dev.retain.bench;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.record.Example;
import dev.retain.serve.ServeNode;
import dev.retain.serve.ServingModel;
import dev.retain.train.StepThroughput;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
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
import org.apache.kafka.clients.admin.Admin;
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
      Service.produce(config, stream, !noDomain, pace);
      ServingModel served =
          Service.awaitSettled(learner, serve, stream.size(), start, timeoutSeconds);
      Map<String, Double> accuracy = new LinkedHashMap<>();
      for (int d = 0; d < data.test().size(); d++) {
        accuracy.put(
            "domain-" + d, served == null ? 0.0 : Service.accuracy(served, data.test().get(d)));
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
    return Service.config(bootstrap, dir, prefix, seed, props);
  }

  /**
   * A plain training loop: one step per batch, no logit replay, no EWC, no rehearsal when idle, the
   * full softmax, every candidate published.
   */
  private static void baseline(Map<String, Object> props) {
    props.put(RetainConfig.TRAIN_NEW_REGIME_PASSES, 1);
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
}
