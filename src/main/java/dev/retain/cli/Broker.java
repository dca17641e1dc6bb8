package dev.retain.cli;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.config.RetainConfig;
import java.util.HashMap;
import java.util.Map;

/** An embedded broker when asked for; otherwise the configured cluster. */
final class Broker implements AutoCloseable {
  private final EmbeddedKafka embedded;

  Broker(boolean embedded) {
    this.embedded = embedded ? EmbeddedKafka.start() : null;
    if (embedded) {
      System.err.println("embedded Kafka broker at " + this.embedded.bootstrapServers());
    }
  }

  /** Overrides that point the configuration at the embedded broker, if any. */
  Map<String, String> overrides() {
    Map<String, String> out = new HashMap<>();
    if (embedded != null) {
      out.put(RetainConfig.BOOTSTRAP_SERVERS, embedded.bootstrapServers());
    }
    return out;
  }

  @Override
  public void close() {
    if (embedded != null) {
      embedded.close();
    }
  }
}
