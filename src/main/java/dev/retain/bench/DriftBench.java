package dev.retain.bench;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.serve.ServeNode;
import dev.retain.serve.ServingModel;
import dev.retain.train.DriftDetection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Drift without domain labels, end to end: the service on an embedded broker learns a stream whose
 * records carry no domain, for an abrupt, a gradual and a recurring shift, and the same stream with
 * its domains in the same run. Per drift it reports each detector's delay and the examples until
 * the new regime's prequential accuracy reaches 90% of its plateau; per stream the served
 * champion's accuracy on each true regime's test images with and without labels, the regimes found
 * and the false alarms; and the false alarms of every detector on 100,000 stationary examples.
 */
@Command(
    name = "drift",
    description =
        "Drift detection and adaptation without domain labels: detection delays, recovery, false"
            + " alarms, and served accuracy against the same stream with labels.")
public final class DriftBench implements Callable<Integer> {
  @Mixin ScenarioOptions options = new ScenarioOptions("permuted", 10_000, 1000, 1);

  @Option(
      names = "--shifts",
      split = ",",
      defaultValue = "abrupt,gradual,recurring,stationary",
      description = "abrupt, gradual, recurring, stationary.")
  List<String> shifts;

  @Option(
      names = "--mix",
      defaultValue = "5000",
      description = "Examples over which a gradual drift mixes two regimes.")
  int mix;

  @Option(
      names = "--stationary",
      defaultValue = "100000",
      description = "Examples of the stationary stream on which false alarms are counted.")
  int stationary;

  @Option(names = "--timeout", defaultValue = "900", description = "Seconds a run may take.")
  int timeoutSeconds;

  /** What one run of the service saw. */
  record Run(
      RetainConfig config,
      ServingModel model,
      Map<Integer, Double> served,
      List<DriftDetection> detections,
      Map<String, Boolean> prequential,
      int regimes) {
    double average() {
      return served.values().stream().mapToDouble(v -> v).average().orElse(0);
    }
  }

  private static final String[] COLUMNS = {
    "stream",
    "drift",
    "error detector delay",
    "input detector delay",
    "serving input delay",
    "to 90% of plateau",
    "served unlabeled %",
    "served labeled %",
    "regimes found",
    "false alarms"
  };

  @Override
  public Integer call() throws Exception {
    String title =
        String.format(
            Locale.ROOT,
            "drift: %s, %d regimes x %,d examples, no domain field (labeled run alongside), %d"
                + " seed(s)",
            options.scenario,
            options.domains,
            options.perDomain,
            options.seeds);
    Report report = new Report(title, COLUMNS);
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      for (String shift : shifts) {
        DriftFigures figures = new DriftFigures(shift, report);
        for (int seed = 0; seed < options.seeds; seed++) {
          measure(kafka.bootstrapServers(), shift, seed, figures);
        }
        figures.addRows();
      }
    }
    report.print(System.out, options.json);
    return 0;
  }

  private void measure(String bootstrap, String shift, int seed, DriftFigures figures)
      throws Exception {
    if (shift.equals("stationary")) {
      measureStationary(bootstrap, seed, figures);
      return;
    }
    Scenario data = DriftStreams.data(options, shift);
    DriftStreams.Built stream = DriftStreams.build(data, shift, options.perDomain, mix, seed);
    Run unlabeled = run(bootstrap, stream, false, seed, shift);
    Run labeled = run(bootstrap, stream, true, seed, shift + "-labeled");
    figures.add(stream, unlabeled, labeled, DriftStreams.servingDelays(unlabeled, stream));
    System.err.printf(
        Locale.ROOT,
        "%s seed %d: served %.1f%% without labels, %.1f%% with, %d regimes found; detections %s%n",
        shift,
        seed,
        unlabeled.average() * 100,
        labeled.average() * 100,
        unlabeled.regimes(),
        detections(unlabeled, stream));
  }

  private void measureStationary(String bootstrap, int seed, DriftFigures figures)
      throws Exception {
    Scenario data = Scenario.load(options.scenario, 1, 60_000, options.evalSize, options.generated);
    DriftStreams.Built stream = DriftStreams.stationary(data, stationary, seed);
    Run run = run(bootstrap, stream, false, seed, "stationary");
    figures.stationary(stream, run, DriftStreams.servingAlarms(run, data, stationary, seed));
    System.err.printf(
        Locale.ROOT, "stationary seed %d: detections %s%n", seed, detections(run, stream));
  }

  /** The run's detections as detector@index->regime opened. */
  private static List<String> detections(Run run, DriftStreams.Built stream) {
    return run.detections().stream()
        .map(d -> d.source() + "@" + stream.indexOf().get(d.exampleId()) + "->" + d.opened())
        .toList();
  }

  private Run run(
      String bootstrap, DriftStreams.Built stream, boolean withDomain, int seed, String name)
      throws Exception {
    Path dir = Files.createTempDirectory("retain-drift");
    String prefix = "drift-" + name + "-" + seed + "-" + System.nanoTime();
    RetainConfig config =
        Service.config(bootstrap, dir, prefix, seed, new HashMap<>(options.settings));
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    try {
      return run(config, stream, withDomain);
    } finally {
      Stats.deleteRecursively(dir);
    }
  }

  /** The service under {@code config} on {@code stream}, until it has learned and serves it. */
  private Run run(RetainConfig config, DriftStreams.Built stream, boolean withDomain)
      throws Exception {
    Map<String, Boolean> prequential = new ConcurrentHashMap<>();
    long start = System.nanoTime();
    try (LearnerNode learner = new LearnerNode(config, Metrics.registry("retain-bench"));
        ServeNode serve = new ServeNode(config, Metrics.registry("retain-bench-serve"))) {
      learner.learner().drift().onPrequential((e, right) -> prequential.put(e.id(), right));
      learner.start();
      serve.start();
      Service.produce(config, stream.examples(), withDomain, 0);
      int records = stream.examples().size();
      ServingModel served = Service.awaitSettled(learner, serve, records, start, timeoutSeconds);
      Map<Integer, Double> accuracy = new HashMap<>();
      for (int d = 0; d < stream.test().size(); d++) {
        accuracy.put(d, served == null ? 0.0 : Service.accuracy(served, stream.test().get(d)));
      }
      List<DriftDetection> found = learner.learner().drift().detections();
      int regimes = learner.learner().matrix().current().size();
      return new Run(config, served, accuracy, found, Map.copyOf(prequential), regimes);
    }
  }
}
