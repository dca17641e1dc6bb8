package dev.retain.cli;

import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.fleet.FleetNode;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Runs the service: ingest into the store, the learner and the metrics endpoint. */
@Command(
    name = "run",
    description = "Run ingest and the learner against a Kafka cluster until stopped.")
final class RunCommand implements java.util.concurrent.Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--embedded", description = "Start an embedded single-node broker and use it.")
  boolean embedded;

  @Override
  public Integer call() throws Exception {
    try (Broker broker = new Broker(embedded)) {
      RetainConfig config = options.load(broker.overrides());
      Topics.ensureAtStart(config);
      PrometheusMeterRegistry registry = Metrics.registry("retain-learner");
      if (config.getBoolean(RetainConfig.FLEET_ENABLED)) {
        return runFleet(config, registry);
      }
      return runLearner(config, registry);
    }
  }

  private static int runLearner(RetainConfig config, PrometheusMeterRegistry registry)
      throws InterruptedException {
    LearnerNode node = new LearnerNode(config, registry).start();
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "retain-shutdown"));
    String training = node.learner() == null ? " (training disabled)" : ", training";
    String store = config.getString(RetainConfig.STORE_DIR);
    System.err.printf(
        "ingesting %s into %s%s; metrics on :%d%n",
        config.examplesTopic(), store, training, node.metricsPort());
    return node.awaitTermination() ? 0 : 1;
  }

  private static int runFleet(RetainConfig config, PrometheusMeterRegistry registry)
      throws InterruptedException {
    FleetNode node = new FleetNode(config, registry).start();
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "retain-shutdown"));
    System.err.printf(
        "fleet member of group %s on %s; stores under %s; metrics on :%d; admin on :%d%n",
        config.getString(RetainConfig.INGEST_GROUP_ID),
        config.examplesTopic(),
        config.getString(RetainConfig.STORE_DIR),
        node.metricsPort(),
        node.adminPort());
    return node.awaitTermination() ? 0 : 1;
  }
}
