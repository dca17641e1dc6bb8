package dev.retain.cli;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.IngestService;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The demo: an embedded broker, the ingest service and a generated drift stream with some bad
 * records, then a table of what the store holds and what went to the dead-letter topic.
 */
@Command(name = "demo", description = "Run Retain end to end on an embedded broker.")
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--domains", defaultValue = "4", description = "Domains in the drift stream.")
  int domains;

  @Option(names = "--per-domain", defaultValue = "3000", description = "Examples per domain.")
  int perDomain;

  @Override
  public Integer call() throws Exception {
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      Map<String, Object> props = new HashMap<>();
      props.put(RetainConfig.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
      props.put(RetainConfig.STORE_DIR, Files.createTempDirectory("retain-demo").toString());
      RetainConfig config = new RetainConfig(props);
      try (Admin admin = KafkaClients.admin(config)) {
        Topics.ensure(admin, config, 1, (short) 1);
      }
      MeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      ExampleInbox inbox = new ExampleInbox(1 << 20);
      try (IngestService service = new IngestService(config, inbox, registry).start()) {
        produce(config);
        long expected = (long) domains * perDomain + domains * perDomain / 500;
        while (service.loop().committedRecords() < expected && service.isAlive()) {
          Thread.onSpinWait();
          Thread.sleep(50); // progress display cadence, not a condition stand-in
          System.err.printf(
              "\ringested %,d of %,d records", service.loop().committedRecords(), expected);
        }
        System.err.println();
        report(service, registry);
      }
    }
    return 0;
  }

  private void produce(RetainConfig config) {
    String[] args = {
      "--domains",
      String.valueOf(domains),
      "--per-domain",
      String.valueOf(perDomain),
      "--bad-every",
      "500",
      "-s",
      RetainConfig.BOOTSTRAP_SERVERS + "=" + config.getString(RetainConfig.BOOTSTRAP_SERVERS)
    };
    new CommandLine(new ProduceCommand()).execute(args);
  }

  private static void report(IngestService service, MeterRegistry registry) {
    System.out.printf("%-12s %8s %8s%n", "domain", "seen", "holdout");
    service
        .state()
        .holdout()
        .seenByDomain()
        .forEach(
            (d, seen) ->
                System.out.printf(
                    "%-12s %8d %8d%n", d, seen, service.state().holdout().sizeByDomain().get(d)));
    System.out.printf(
        "replay reservoir: %d slots, per class %s%n",
        service.state().replay().size(), service.state().replay().sizeByClass());
    Search.in(registry).name("retain.examples.rejected").counters().stream()
        .filter(c -> c.count() > 0)
        .forEach(
            c ->
                System.out.printf(
                    "dead letters (%s): %.0f%n", c.getId().getTag("reason"), c.count()));
  }
}
