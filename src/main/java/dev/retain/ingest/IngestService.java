package dev.retain.ingest;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * Runs the ingest loop on its own thread over a store it opens. {@link #close()} stops the loop,
 * waits for it, then closes the store, in that order.
 */
public final class IngestService implements AutoCloseable {
  private final RetainStore store;
  private final ModelState state;
  private final IngestLoop loop;
  private final Thread thread;
  private final KafkaClientMetrics consumerMetrics;
  private final java.util.concurrent.ScheduledExecutorService metricsRefresh;
  private volatile boolean closed;
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(IngestService.class);
  private volatile Throwable failure;

  public IngestService(RetainConfig config, ExampleSink sink, MeterRegistry registry) {
    store =
        RetainStore.open(
            Path.of(config.getString(RetainConfig.STORE_DIR)),
            config.getBoolean(RetainConfig.STORE_SYNC));
    state = ModelState.load(store, config);
    KafkaConsumer<byte[], ByteBuffer> consumer = KafkaClients.ingestConsumer(config);
    // per-partition lag appears once partitions are assigned: look for new client metrics every
    // few seconds rather than Micrometer's default minute
    metricsRefresh =
        java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "retain-kafka-metrics");
              t.setDaemon(true);
              return t;
            });
    consumerMetrics =
        new KafkaClientMetrics(
            consumer, java.util.List.of(), metricsRefresh, java.time.Duration.ofSeconds(5));
    consumerMetrics.bindTo(registry);
    loop =
        new IngestLoop(
            config, store, state, consumer, KafkaClients.producer(config), sink, registry);
    thread = new Thread(loop, "retain-ingest");
    thread.setUncaughtExceptionHandler(
        (t, e) -> {
          failure = e;
          LOG.error("ingest stopped: {}", e.getMessage(), e);
        });
  }

  public IngestService start() {
    thread.start();
    return this;
  }

  public RetainStore store() {
    return store;
  }

  public ModelState state() {
    return state;
  }

  public IngestLoop loop() {
    return loop;
  }

  public boolean isAlive() {
    return thread.isAlive();
  }

  /**
   * Waits until the loop ends.
   *
   * @return true when it ended because it was closed, false when it failed
   */
  public boolean awaitTermination() throws InterruptedException {
    thread.join();
    if (failure != null) {
      System.err.println("ingest failed: " + failure);
    }
    return failure == null;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    loop.close();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    consumerMetrics.close();
    metricsRefresh.shutdownNow();
    store.close();
  }
}
