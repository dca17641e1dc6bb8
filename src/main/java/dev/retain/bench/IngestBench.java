package dev.retain.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestLoop;
import dev.retain.record.ExampleCodec;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code retain bench ingest}: produces M 784-feature examples per codec, then measures a bare
 * KafkaConsumer reading the topic and Retain's ingest (validation, dedup, replay, holdout and the
 * atomic store commit with positions) reading the same topic. Both rates are timed from the first
 * record received, so the consumer group join is left out of both. Before that, both read a warm-up
 * topic untimed, so that the figures are those of a running service rather than of the JIT compiler
 * (which otherwise takes a large share of the two cores during a few-second run).
 */
@Command(name = "ingest", description = "Ingest throughput against a bare KafkaConsumer.")
public final class IngestBench implements Callable<Integer> {
  @Option(names = "--records", defaultValue = "100000", description = "Examples per codec.")
  int records;

  @Option(
      names = "--warmup",
      defaultValue = "100000",
      description = "Examples per codec read untimed first, by both consumers (0: none).")
  int warmup;

  @Option(names = "--features", defaultValue = "784", description = "Features per example.")
  int features;

  @Option(
      names = "--codecs",
      defaultValue = "binary,json",
      split = ",",
      description = "Codecs to measure.")
  List<String> codecs;

  @Option(names = "--bootstrap", description = "Use this cluster instead of an embedded broker.")
  String bootstrap;

  @Option(names = "--sync", defaultValue = "true", description = "fsync the store's log per batch.")
  boolean sync;

  @Option(
      names = {"-s", "--set"},
      paramLabel = "KEY=VALUE",
      description = "Extra Retain or retain.kafka.* setting for both consumers.")
  Map<String, String> overrides = new HashMap<>();

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    Report report =
        new Report(
            String.format(
                "ingest: %,d examples x %d features per codec after %,d untimed, store sync=%s",
                records, features, warmup, sync),
            "codec",
            "bare consumer rec/s",
            "retain ingest rec/s",
            "ratio",
            "MB/s (ingest)",
            "process CPU % (bare / ingest)",
            "fetch ms (bare / ingest)");
    report
        .figure("records", records)
        .figure("warmup_records", warmup)
        .figure("features", features)
        .figure("sync", sync);
    try (EmbeddedKafka broker = bootstrap == null ? EmbeddedKafka.start() : null) {
      String servers = broker == null ? bootstrap : broker.bootstrapServers();
      for (String codec : codecs) {
        measure(servers, codec, report);
      }
    }
    report.print(System.out, json);
    return 0;
  }

  private void measure(String servers, String codec, Report report) throws IOException {
    if (warmup > 0) {
      RetainConfig config =
          config(servers, codec, "bench-warmup-" + codec + "-" + System.nanoTime());
      produce(config, codec, warmup);
      bareConsumer(config, warmup);
      retainIngest(config, warmup);
    }
    String topic = "bench-" + codec + "-" + System.nanoTime();
    RetainConfig config = config(servers, codec, topic);
    long bytes = produce(config, codec, records);
    Rate bare = bareConsumer(config, records);
    Rate ingest = retainIngest(config, records);
    double ratio = ingest.perSecond() / bare.perSecond();
    double mbps = ingest.perSecond() * bytes / records / 1e6;
    report.row(
        codec,
        bare.perSecond(),
        ingest.perSecond(),
        String.format("%.2f", ratio),
        mbps,
        String.format("%.0f / %.0f", bare.cpuPercent(), ingest.cpuPercent()),
        String.format("%.1f / %.1f", bare.fetchMs(), ingest.fetchMs()));
    report
        .figure(codec + "_bare_records_per_s", Math.round(bare.perSecond()))
        .figure(codec + "_ingest_records_per_s", Math.round(ingest.perSecond()))
        .figure(codec + "_ratio", Math.round(ratio * 1000) / 1000.0)
        .figure(codec + "_bare_cpu_percent", Math.round(bare.cpuPercent()))
        .figure(codec + "_ingest_cpu_percent", Math.round(ingest.cpuPercent()))
        .figure(codec + "_bare_fetch_ms", Math.round(bare.fetchMs() * 10) / 10.0)
        .figure(codec + "_ingest_fetch_ms", Math.round(ingest.fetchMs() * 10) / 10.0);
  }

  private RetainConfig config(String servers, String codec, String topicPrefix) throws IOException {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, servers);
    props.put(RetainConfig.TOPIC_PREFIX, topicPrefix);
    props.put(RetainConfig.RECORD_CODEC, codec);
    props.put(RetainConfig.RECORD_FEATURES, features);
    props.put(RetainConfig.RECORD_MAX_BYTES, 1 << 20);
    props.put(RetainConfig.STORE_SYNC, sync);
    props.put(RetainConfig.STORE_DIR, Files.createTempDirectory("retain-bench").toString());
    props.put(RetainConfig.INGEST_GROUP_ID, topicPrefix + "-ingest");
    props.putAll(overrides);
    return new RetainConfig(props);
  }

  private long produce(RetainConfig config, String codecName, int count) {
    ExampleCodec codec = ExampleCodec.named(codecName);
    DriftStream stream = new DriftStream(features, 10, 1.0f, 7);
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    long bytes = 0;
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < count; i++) {
        byte[] value = codec.encode(stream.example(i * 3 / count, i));
        bytes += value.length;
        producer.send(new ProducerRecord<>(config.examplesTopic(), key, value));
      }
    }
    return bytes;
  }

  /**
   * Records per second of a plain consumer that only touches each value. Values are views into the
   * fetched data, as in Retain's ingest, so the ratio measures Retain's own work only.
   */
  private Rate bareConsumer(RetainConfig config, int count) {
    try (KafkaConsumer<byte[], ByteBuffer> consumer =
        KafkaClients.bufferConsumer(config, "bare-" + System.nanoTime())) {
      consumer.subscribe(List.of(config.examplesTopic()));
      Clock clock = null;
      long seen = 0;
      long checksum = 0;
      while (seen < count) {
        for (ConsumerRecord<byte[], ByteBuffer> r : consumer.poll(Duration.ofMillis(200))) {
          clock = seen == 0 ? new Clock() : clock;
          checksum += r.value().remaining();
          seen++;
        }
      }
      return clock.rate(checksum > 0 ? seen : 0, consumer);
    }
  }

  /** Records per second of Retain's ingest loop, run on this thread. */
  private Rate retainIngest(RetainConfig config, int count) throws IOException {
    Path dir = Path.of(config.getString(RetainConfig.STORE_DIR));
    try (RetainStore store = RetainStore.open(dir, sync)) {
      ModelState state = ModelState.load(store, config);
      KafkaConsumer<byte[], ByteBuffer> consumer = KafkaClients.ingestConsumer(config);
      IngestLoop loop =
          new IngestLoop(
              config,
              store,
              state,
              consumer,
              KafkaClients.producer(config),
              ExampleSink.DISCARD,
              new SimpleMeterRegistry());
      loop.subscribe();
      while (loop.committedRecords() == 0) {
        loop.pollOnce(); // group join and first fetch, as for the bare consumer
      }
      long first = loop.committedRecords();
      Clock clock = new Clock();
      while (loop.committedRecords() < count) {
        loop.pollOnce();
      }
      Rate rate = clock.rate(loop.committedRecords() - first, consumer);
      loop.shutdownClients();
      return rate;
    } finally {
      deleteTree(dir);
    }
  }

  /**
   * Records per second, the CPU the whole process used meanwhile (200% = both cores), and the
   * consumer's average fetch latency (its {@code fetch-latency-avg}: from sending a fetch to having
   * read its whole response), which tells waiting for data from working on it.
   */
  record Rate(double perSecond, double cpuPercent, double fetchMs) {}

  /** Wall time and the process's CPU time since it was made. */
  private static final class Clock {
    private static final OperatingSystemMXBean OS =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private final long wall = System.nanoTime();
    private final long cpu = OS.getProcessCpuTime();

    Rate rate(long records, Consumer<?, ?> consumer) {
      double seconds = (System.nanoTime() - wall) / 1e9;
      double cpuPercent = 100.0 * (OS.getProcessCpuTime() - cpu) / 1e9 / seconds;
      return new Rate(records / seconds, cpuPercent, fetchLatencyMs(consumer));
    }

    private static double fetchLatencyMs(Consumer<?, ?> consumer) {
      return consumer.metrics().entrySet().stream()
          .filter(e -> e.getKey().name().equals("fetch-latency-avg"))
          .filter(e -> e.getKey().group().equals("consumer-fetch-manager-metrics"))
          .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue())
          .filter(Double::isFinite)
          .findFirst()
          .orElse(Double.NaN);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
