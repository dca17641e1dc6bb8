package dev.retain.cli;

import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.ConfigLoader;
import dev.retain.config.RetainConfig;
import dev.retain.data.DomainStream;
import dev.retain.data.FashionMnist;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.record.Example;
import dev.retain.serve.ServeNode;
import dev.retain.train.StepThroughput;
import dev.retain.train.TrainingLoop;
import dev.retain.train.Trigger;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The demo: an embedded broker, the learner (ingest, training, publishing), the serving endpoint
 * and a drift stream (Fashion-MNIST with permuted domains when installed, generated otherwise) with
 * some bad records; then the accuracy matrix, a plot of retained accuracy per domain, the adapter
 * versions and a prediction served over HTTP.
 */
@Command(name = "demo", description = "Run Retain end to end on an embedded broker.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--domains", defaultValue = "4", description = "Domains in the drift stream.")
  int domains;

  @Option(names = "--per-domain", defaultValue = "4000", description = "Examples per domain.")
  int perDomain;

  @Option(
      names = "--data",
      defaultValue = "auto",
      description =
          "auto (Fashion-MNIST when installed), fashion-permuted, fashion-rotated, generated.")
  String data;

  @Override
  public Integer call() throws Exception {
    String chosen = DomainStream.resolve(data);
    System.err.println(
        "data: "
            + chosen
            + (chosen.equals("generated") && data.equals("auto")
                ? " (" + FashionMnist.INSTALL_HINT + ")"
                : ""));
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      RetainConfig config = config(kafka.bootstrapServers(), System.getenv());
      try (Admin admin = KafkaClients.admin(config)) {
        Topics.ensure(admin, config);
      }
      PrometheusMeterRegistry learnerMeters = Metrics.registry("retain-learner");
      try (LearnerNode learner = new LearnerNode(config, learnerMeters).start();
          ServeNode serve = new ServeNode(config, Metrics.registry("retain-serve")).start()) {
        System.err.printf(
            "learner metrics: http://127.0.0.1:%d/metrics   serving: http://127.0.0.1:%d/v1/models/default%n",
            learner.metricsPort(), serve.port());
        produce(config, chosen);
        awaitSettled(learner, serve);
        report(learner, serve, learnerMeters, DomainStream.named(chosen, 784, 10, 42));
      }
    }
    return 0;
  }

  /**
   * The demo's settings, then the {@code RETAIN_*} variables of {@code env} (as {@code retain run}
   * reads them), except the broker, which is the demo's own.
   */
  RetainConfig config(String bootstrap, Map<String, String> env) throws IOException {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.STORE_DIR, Files.createTempDirectory("retain-demo").toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.RECORD_CODEC, "binary");
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, Math.min(perDomain / 2, 3000));
    props.put(RetainConfig.METRICS_PORT, 0);
    props.put(RetainConfig.ADMIN_PORT, 0);
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.ADMIN_TOKEN, "demo");
    props.putAll(ConfigLoader.fromEnvironment(env));
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    return new RetainConfig(props);
  }

  private void produce(RetainConfig config, String chosen) {
    String bootstrap =
        RetainConfig.BOOTSTRAP_SERVERS + "=" + config.getString(RetainConfig.BOOTSTRAP_SERVERS);
    String binary = RetainConfig.RECORD_CODEC + "=binary";
    String[] args = {
      "--domains", "" + domains, "--per-domain", "" + perDomain, "--bad-every", "500"
    };
    List<String> all = new java.util.ArrayList<>(List.of(args));
    all.addAll(List.of("--data", chosen, "-s", bootstrap, "-s", binary));
    new CommandLine(new ProduceCommand()).execute(all.toArray(String[]::new));
  }

  /** Waits until the learner consolidated after the last domain went idle and serving caught up. */
  private void awaitSettled(LearnerNode learner, ServeNode serve) throws InterruptedException {
    TrainingLoop loop = learner.learner();
    if (loop == null) {
      throw new IllegalStateException("the demo needs training: unset RETAIN_TRAIN_ENABLED");
    }
    while (loop.isAlive() && learner.ingest().isAlive() && !settled(learner, serve)) {
      List<String> learned = loop.matrix().learned();
      AdapterVersion champion = learner.publisher().registry().champion();
      System.err.printf(
          "\ringested %,d records, learned %s, %d consolidations, champion %s      ",
          learner.ingest().loop().committedRecords(),
          learned.isEmpty() ? "-" : learned.get(learned.size() - 1),
          learned.size(),
          champion == null ? "-" : champion.id());
      Thread.sleep(500); // progress display cadence, not a condition stand-in
    }
    System.err.println();
    if (!loop.isAlive()) {
      throw new IllegalStateException("the learner stopped: " + loop.failure());
    }
    if (!learner.ingest().isAlive()) {
      throw new IllegalStateException("ingest stopped (its ERROR above says why)");
    }
  }

  /**
   * True once the last domain is learned, the stream's idle consolidation is done and serving uses
   * the champion.
   */
  private boolean settled(LearnerNode learner, ServeNode serve) {
    TrainingLoop loop = learner.learner();
    List<String> learned = loop.matrix().learned();
    AdapterVersion champion = learner.publisher().registry().champion();
    return !learned.isEmpty()
        && learned.get(learned.size() - 1).equals("domain-" + (domains - 1))
        && loop.lastTrigger() == Trigger.IDLE
        && champion != null
        && serve.follower().current() != null
        && serve.follower().current().version().equals(champion.id());
  }

  /**
   * The learner's training throughput from its own metrics: new plus replayed examples per second
   * of its steps (what {@code bench continual} reports as samples/s).
   */
  private static void printThroughput(PrometheusMeterRegistry meters) {
    StepThroughput t = StepThroughput.read(meters);
    if (t.steps() == 0) {
      return;
    }
    System.out.printf(
        "%ntraining: %,d steps, %,.0f examples (new + replayed) in %.1f s of steps: %,.0f"
            + " samples/s%n",
        t.steps(), t.examples(), t.seconds(), t.perSecond());
  }

  private void report(
      LearnerNode learner, ServeNode serve, PrometheusMeterRegistry meters, DomainStream stream)
      throws Exception {
    TrainingLoop loop = learner.learner();
    List<String> all = List.copyOf(loop.report().current().keySet());
    printMatrix(loop, all);
    System.out.printf(
        "%naverage accuracy %.3f, backward transfer %+.3f, forgetting %s%n",
        loop.report().averageAccuracy(),
        loop.report().backwardTransfer(),
        format(loop.report().forgetting()));
    plot(loop.matrix().rows(), all);
    printThroughput(meters);
    printVersions(learner, meters);
    probe(serve, stream);
  }

  private static void printMatrix(TrainingLoop loop, List<String> all) {
    List<Map<String, Double>> rows = loop.matrix().rows();
    List<String> learned = loop.matrix().learned();
    System.out.println(
        "\nAccuracy matrix R[i][j]: after learning domain i (row), accuracy on domain j");
    System.out.printf("%-22s", "after learning");
    all.forEach(d -> System.out.printf("%10s", d));
    System.out.println();
    for (int i = 0; i < rows.size(); i++) {
      System.out.printf("%-22s", learned.get(i) + " (" + (i + 1) + ")");
      Map<String, Double> row = rows.get(i);
      all.forEach(d -> System.out.printf("%10s", cell(row, d)));
      System.out.println();
    }
  }

  private static String cell(Map<String, Double> row, String domain) {
    return row.containsKey(domain) ? String.format("%.3f", row.get(domain)) : "-";
  }

  private static void printVersions(LearnerNode learner, PrometheusMeterRegistry meters) {
    List<AdapterVersion> history = learner.publisher().registry().history();
    double rejected =
        Search.in(meters).name("retain.adapters.rejected").counters().stream()
            .mapToDouble(c -> c.count())
            .sum();
    System.out.printf(
        "%nadapter versions: %d promoted, %.0f rejected by the gate%n", history.size(), rejected);
    history.forEach(v -> System.out.printf("  %-34s average %.3f%n", v.id(), v.averageAccuracy()));
    Search.in(meters).name("retain.examples.rejected").counters().stream()
        .filter(c -> c.count() > 0)
        .forEach(
            c ->
                System.out.printf(
                    "dead letters (%s): %.0f%n", c.getId().getTag("reason"), c.count()));
  }

  /** Asks serving for one prediction, as a client would. */
  private static void probe(ServeNode serve, DomainStream stream) throws Exception {
    Example probe = stream.example(0, 59_999);
    String body = "{\"id\":\"probe\",\"features\":" + Arrays.toString(probe.features()) + "}";
    URI uri = URI.create("http://127.0.0.1:" + serve.port() + "/v1/models/default/predict");
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    System.out.printf(
        "%nPOST /v1/models/default/predict (true class %d) -> %s%n",
        probe.label(), response.body());
  }

  private static String format(Map<String, Double> values) {
    StringBuilder out = new StringBuilder();
    values.forEach(
        (k, v) ->
            out.append(out.length() == 0 ? "" : ", ").append(k).append(String.format(" %.3f", v)));
    return out.toString();
  }

  /** Retained accuracy per domain over consolidations, as a text plot (one letter per domain). */
  /** The letter of the domain at {@code level} in {@code row}, * for several, blank for none. */
  private static char mark(Map<String, Double> row, List<String> domains, int level, int height) {
    char mark = ' ';
    for (int d = 0; d < domains.size(); d++) {
      Double acc = row.get(domains.get(d));
      if (acc != null && Math.round(acc * height) == level) {
        mark = mark == ' ' ? (char) ('a' + d) : '*';
      }
    }
    return mark;
  }

  private static void plot(List<Map<String, Double>> rows, List<String> domains) {
    int height = 10;
    System.out.println(
        "\nRetained accuracy per domain over consolidations (a = domain-0, b = domain-1, ...)");
    for (int level = height; level >= 0; level--) {
      StringBuilder line = new StringBuilder(String.format("%4.1f |", level / (double) height));
      for (Map<String, Double> row : rows) {
        line.append("  ").append(mark(row, domains, level, height));
      }
      System.out.println(line);
    }
    System.out.println("     +" + "---".repeat(rows.size()) + "  consolidation ->");
  }
}
