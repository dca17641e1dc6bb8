package dev.retain.cli;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Runs the service: ingest into the store (and, in later versions, the learner). */
@Command(name = "run", description = "Run ingest against a Kafka cluster until stopped.")
final class RunCommand implements java.util.concurrent.Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--embedded", description = "Start an embedded single-node broker and use it.")
  boolean embedded;

  @Override
  public Integer call() throws Exception {
    try (Broker broker = new Broker(embedded)) {
      RetainConfig config = options.load(broker.overrides());
      try (Admin admin = KafkaClients.admin(config)) {
        Topics.ensure(admin, config, 1, (short) 1);
      }
      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      IngestService service = new IngestService(config, ExampleSink.DISCARD, registry).start();
      Runtime.getRuntime().addShutdownHook(new Thread(service::close, "retain-shutdown"));
      System.err.println(
          "ingesting "
              + config.examplesTopic()
              + " into "
              + config.getString(RetainConfig.STORE_DIR));
      return service.awaitTermination() ? 0 : 1;
    }
  }
}
