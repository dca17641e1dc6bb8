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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the bases and adapters topics from their beginning (both are compacted: the latest record
 * per key survives) and swaps each new version of every followed model in, atomically: {@link
 * #current(String)} returns either the old or the new model, never a mix. Follows every model on
 * the adapters topic, or those {@code retain.serve.models} names; keeps each model's latest {@code
 * retain.serve.versions.kept} versions for requests that name one. Records each model's
 * publication-to-use latency (record timestamp to swap). Runs on its own thread; {@link #close()}
 * stops it.
 */
public final class AdapterFollower implements Runnable, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterFollower.class);
  private final Consumer<byte[], byte[]> consumer;
  private final String model; // the configured model: what current() answers
  private final Set<String> followed; // empty: every model
  private final int kept;
  private final String adaptersTopic;
  private final String basesTopic;
  private final Map<String, Map<String, SafeTensors.Tensor>> bases = new HashMap<>();
  private final Map<String, Followed> models = new ConcurrentHashMap<>();
  private final Thread thread;
  private final MeterRegistry registry;
  // per model, the latest adapter record whose base has not arrived yet
  private final Map<String, ConsumerRecord<byte[], byte[]>> waitingForBase = new LinkedHashMap<>();
  private volatile boolean closed;

  /** One followed model: its versions, newest last, and its meters. */
  private final class Followed {
    final String name;
    final LinkedHashMap<String, ServingModel> versions = new LinkedHashMap<>();
    volatile ServingModel current;
    final Timer swapLatency;
    final Counter swaps;
    final Counter unusable;
    io.micrometer.core.instrument.Meter servingGauge;

    Followed(String name) {
      this.name = name;
      swapLatency =
          Timer.builder("retain.serve.swap.latency")
              .tag("model", name)
              .description("From a version's publication (record timestamp) to its use in serving")
              .publishPercentiles(0.5, 0.99)
              .register(registry);
      swaps =
          Counter.builder("retain.serve.swaps")
              .tag("model", name)
              .description("Adapter versions swapped into serving")
              .register(registry);
      unusable = unusableCounter(name);
    }

    synchronized void swap(ServingModel next) {
      versions.remove(next.version());
      versions.put(next.version(), next);
      while (versions.size() > kept) {
        versions.remove(versions.keySet().iterator().next());
      }
      current = next;
    }

    synchronized ServingModel version(String id) {
      return versions.get(id);
    }
  }

  public AdapterFollower(RetainConfig config, MeterRegistry registry) {
    this.model = config.getString(RetainConfig.MODEL_ID);
    List<String> named = config.getList(RetainConfig.SERVE_MODELS);
    this.followed = named.contains("*") ? Set.of() : Set.copyOf(named);
    this.kept = config.getInt(RetainConfig.SERVE_VERSIONS_KEPT);
    this.adaptersTopic = config.adaptersTopic();
    this.basesTopic = config.basesTopic();
    this.consumer = KafkaClients.follower(config, "retain-serve-" + model);
    this.registry = registry;
    unusableCounter(model);
    thread = new Thread(this, "retain-adapter-follower");
    thread.setDaemon(true);
    thread.setUncaughtExceptionHandler(
        (t, e) -> LOG.error("the adapter follower stopped: {}", e.getMessage(), e));
  }

  private Counter unusableCounter(String name) {
    return Counter.builder("retain.serve.adapters.unusable")
        .tag("model", name)
        .description("Adapter records that could not be loaded (bad archive, missing blob)")
        .register(registry);
  }

  public AdapterFollower start() {
    thread.start();
    return this;
  }

  /** True while the follower's thread runs. */
  public boolean isAlive() {
    return thread.isAlive();
  }

  /**
   * The configured model ({@code retain.model.id}) serving now, or null before its first version.
   */
  public ServingModel current() {
    return current(model);
  }

  /** {@code name}'s model serving now, or null before its first version (or when not followed). */
  public ServingModel current(String name) {
    Followed f = models.get(name);
    return f == null ? null : f.current;
  }

  /** Version {@code id} of {@code name}, when it is among the versions kept; else null. */
  public ServingModel version(String name, String id) {
    Followed f = models.get(name);
    return f == null ? null : f.version(id);
  }

  /** The models with a version, by name. */
  public SortedMap<String, ServingModel> models() {
    SortedMap<String, ServingModel> out = new TreeMap<>();
    models.forEach((name, f) -> out.put(name, f.current));
    return out;
  }

  /** True when {@code name} is served here: every model, or one that retain.serve.models names. */
  public boolean follows(String name) {
    return followed.isEmpty() || followed.contains(name);
  }

  /** The models retain.serve.models names (empty: every model on the topic). */
  public Set<String> named() {
    return followed;
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
      List<ConsumerRecord<byte[], byte[]>> waiting = new ArrayList<>(waitingForBase.values());
      waitingForBase.clear();
      waiting.forEach(this::handle);
      return;
    }
    String name = AdapterRecord.key(record);
    if (!follows(name)) {
      return;
    }
    String baseHash = AdapterRecord.header(record, AdapterRecord.BASE_HASH);
    if (!bases.containsKey(baseHash)) {
      waitingForBase.put(name, record); // the base is published first; it may come later
      return;
    }
    Followed f = models.computeIfAbsent(name, Followed::new);
    try {
      swapIn(f, record, baseHash);
    } catch (RuntimeException | IOException e) {
      f.unusable.increment();
      LOG.warn("cannot use adapter record at offset {}: {}", record.offset(), e.toString());
    }
  }

  private void swapIn(Followed f, ConsumerRecord<byte[], byte[]> record, String baseHash)
      throws IOException {
    AdapterArchive archive = AdapterArchive.fromZip(AdapterRecord.archiveBytes(record));
    String nonFinite = SafeTensors.firstNonFinite(archive.tensors());
    if (nonFinite != null) {
      throw new IllegalArgumentException("tensor " + nonFinite + " is not finite");
    }
    ServingModel next = ServingModel.merge(bases.get(baseHash), archive);
    f.swap(next);
    serving(f, next.version());
    f.swaps.increment();
    f.swapLatency.record(
        Math.max(0, System.currentTimeMillis() - record.timestamp()), TimeUnit.MILLISECONDS);
    LOG.info("serving {} of {}", next.version(), f.name);
  }

  /** The version serving as an info gauge (value 1, the version as a tag), replacing the last. */
  private void serving(Followed f, String version) {
    if (f.servingGauge != null) {
      registry.remove(f.servingGauge);
    }
    f.servingGauge =
        io.micrometer.core.instrument.Gauge.builder("retain.serve.version", () -> 1)
            .tags("model", f.name, "version", version)
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
      unusableCounter(model).increment();
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
