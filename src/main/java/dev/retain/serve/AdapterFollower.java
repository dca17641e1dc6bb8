package dev.retain.serve;

import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterRecord;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.model.SafeTensors;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the bases and adapters topics from their beginning (both are compacted: the latest record
 * per key survives) and swaps each new version of the model in, atomically: {@link #current()}
 * returns either the old or the new model, never a mix. Records its publication-to-use latency
 * (record timestamp to swap). Runs on its own thread; {@link #close()} stops it.
 */
public final class AdapterFollower implements Runnable, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterFollower.class);
  private final Consumer<byte[], byte[]> consumer;
  private final String model;
  private final String adaptersTopic;
  private final String basesTopic;
  private final Map<String, Map<String, SafeTensors.Tensor>> bases = new HashMap<>();
  private final AtomicReference<ServingModel> current = new AtomicReference<>();
  private final Timer swapLatency;
  private final Counter swaps;
  private final Counter unusable;
  private final Thread thread;
  private final MeterRegistry registry;
  private io.micrometer.core.instrument.Meter servingGauge;
  private ConsumerRecord<byte[], byte[]> waitingForBase;
  private volatile boolean closed;

  public AdapterFollower(RetainConfig config, MeterRegistry registry) {
    this.model = config.getString(RetainConfig.MODEL_ID);
    this.adaptersTopic = config.adaptersTopic();
    this.basesTopic = config.basesTopic();
    this.consumer = KafkaClients.follower(config, "retain-serve-" + model);
    this.registry = registry;
    swapLatency =
        Timer.builder("retain.serve.swap.latency")
            .tag("model", model)
            .description("From a version's publication (record timestamp) to its use in serving")
            .publishPercentiles(0.5, 0.99)
            .register(registry);
    swaps =
        Counter.builder("retain.serve.swaps")
            .tag("model", model)
            .description("Adapter versions swapped into serving")
            .register(registry);
    unusable =
        Counter.builder("retain.serve.adapters.unusable")
            .tag("model", model)
            .description("Adapter records that could not be loaded (bad archive, missing blob)")
            .register(registry);
    thread = new Thread(this, "retain-adapter-follower");
    thread.setDaemon(true);
    thread.setUncaughtExceptionHandler(
        (t, e) -> LOG.error("the adapter follower stopped: {}", e.getMessage(), e));
  }

  public AdapterFollower start() {
    thread.start();
    return this;
  }

  /** The model serving now, or null before the first version arrived. */
  /** True while the follower's thread runs. */
  public boolean isAlive() {
    return thread.isAlive();
  }

  public ServingModel current() {
    return current.get();
  }

  private List<TopicPartition> partitions() {
    List<TopicPartition> partitions = new ArrayList<>();
    for (String topic : List.of(basesTopic, adaptersTopic)) {
      consumer
          .partitionsFor(topic)
          .forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
    }
    return partitions;
  }

  private void rethrowUnlessClosed(WakeupException e) {
    if (!closed) {
      throw e;
    }
  }

  @Override
  public void run() {
    try {
      List<TopicPartition> partitions = partitions();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      while (!closed) {
        consumer.poll(Duration.ofMillis(200)).forEach(this::handle);
      }
    } catch (WakeupException e) {
      rethrowUnlessClosed(e);
    } finally {
      consumer.close();
    }
  }

  private void handle(ConsumerRecord<byte[], byte[]> record) {
    if (record.value() == null) {
      return;
    }
    if (record.topic().equals(basesTopic)) {
      handleBase(record);
      if (waitingForBase != null) {
        ConsumerRecord<byte[], byte[]> waiting = waitingForBase;
        waitingForBase = null;
        handle(waiting);
      }
      return;
    }
    if (!model.equals(AdapterRecord.key(record))) {
      return;
    }
    String baseHash = AdapterRecord.header(record, AdapterRecord.BASE_HASH);
    if (!bases.containsKey(baseHash)) {
      waitingForBase = record; // the base is published first; it may lie later in a fetch
      return;
    }
    try {
      AdapterArchive archive = AdapterArchive.fromZip(AdapterRecord.archiveBytes(record));
      String nonFinite = SafeTensors.firstNonFinite(archive.tensors());
      if (nonFinite != null) {
        throw new IllegalArgumentException("tensor " + nonFinite + " is not finite");
      }
      ServingModel next = ServingModel.merge(bases.get(baseHash), archive);
      current.set(next);
      serving(next.version());
      swaps.increment();
      swapLatency.record(
          Math.max(0, System.currentTimeMillis() - record.timestamp()), TimeUnit.MILLISECONDS);
      LOG.info("serving {}", next.version());
    } catch (RuntimeException | IOException e) {
      unusable.increment();
      LOG.warn("cannot use adapter record at offset {}: {}", record.offset(), e.toString());
    }
  }

  /** The version serving as an info gauge (value 1, the version as a tag), replacing the last. */
  private void serving(String version) {
    if (servingGauge != null) {
      registry.remove(servingGauge);
    }
    servingGauge =
        io.micrometer.core.instrument.Gauge.builder("retain.serve.version", () -> 1)
            .tags("model", model, "version", version)
            .description("The adapter version serving now (value 1, version in the tag)")
            .register(registry);
  }

  /** A base record: kept when it parses and is finite, else counted unusable and skipped. */
  private void handleBase(ConsumerRecord<byte[], byte[]> record) {
    try {
      String hash = AdapterRecord.key(record);
      Map<String, SafeTensors.Tensor> tensors = SafeTensors.read(record.value()).tensors();
      String nonFinite = SafeTensors.firstNonFinite(tensors);
      if (nonFinite != null) {
        throw new IllegalArgumentException("tensor " + nonFinite + " is not finite");
      }
      bases.put(hash, tensors);
    } catch (RuntimeException e) {
      unusable.increment();
      LOG.warn("cannot use base record at offset {}: {}", record.offset(), e.toString());
    }
  }

  @Override
  public void close() {
    closed = true;
    consumer.wakeup();
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
