package dev.retain.cluster;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka broker (KRaft, combined broker and controller) running in this JVM, from
 * Kafka's own test kit. Used by the demo, the benchmarks and tests where no Docker engine runs. Its
 * data lives in a temporary directory removed on {@link #close()}.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private final KafkaClusterTestKit cluster;
  private boolean closed;

  private EmbeddedKafka(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
  }

  /** Formats, starts and waits for a one-node cluster. */
  public static EmbeddedKafka start() {
    try {
      KafkaClusterTestKit cluster =
          new KafkaClusterTestKit.Builder(
                  new TestKitNodes.Builder()
                      .setCombined(true)
                      .setNumBrokerNodes(1)
                      .setNumControllerNodes(1)
                      .build())
              // a single node must not wait for replicas that will never exist
              .setConfigProp("offsets.topic.replication.factor", "1")
              .setConfigProp("transaction.state.log.replication.factor", "1")
              .setConfigProp("transaction.state.log.min.isr", "1")
              .setConfigProp("group.initial.rebalance.delay.ms", "0")
              .setConfigProp("num.partitions", "1")
              .setConfigProp("message.max.bytes", String.valueOf(16 << 20))
              .build();
      formatQuietly(cluster);
      cluster.startup();
      cluster.waitForReadyBrokers();
      return new EmbeddedKafka(cluster);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting the embedded broker", e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot start the embedded broker: " + e.getMessage(), e);
    }
  }

  /**
   * Formats the cluster's directories. Kafka's formatter prints the whole bootstrap metadata to
   * standard output, which says nothing to a user of the demo: it goes nowhere unless it fails.
   */
  private static void formatQuietly(KafkaClusterTestKit cluster) throws Exception {
    java.io.ByteArrayOutputStream said = new java.io.ByteArrayOutputStream();
    java.io.PrintStream out = System.out;
    System.setOut(new java.io.PrintStream(said, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      cluster.format();
    } catch (Exception e) {
      out.print(said.toString(java.nio.charset.StandardCharsets.UTF_8));
      throw e;
    } finally {
      System.setOut(out);
    }
  }

  public String bootstrapServers() {
    return cluster.bootstrapServers();
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      cluster.close();
    } catch (Exception e) {
      throw new IllegalStateException("embedded broker did not stop cleanly", e);
    }
  }
}
