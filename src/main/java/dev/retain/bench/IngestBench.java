package dev.retain.bench;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.record.ExampleCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code retain bench ingest}: produces M 784-feature examples per codec, then measures a bare
 * KafkaConsumer reading the topic and Retain's ingest (validation, dedup, replay, holdout and the
 * atomic store commit with positions) reading the same topic. Both rates are timed from the first
 * record received, so the consumer group join is left out of both. Before that, both read a warm-up
 * topic untimed, so that the figures are those of a running service rather than of the JIT compiler
 * (which otherwise takes a large share of the two cores during a few-second run). Every topic is
 * produced before any timing and each timed phase starts once the compiler threads are idle (see
 * {@link #measure}); the measurement is repeated on fresh topics and the median round reported,
 * each round with the CPU shares of the compiler, the poll, absorb and writer threads, the
 * collector and the hypervisor's steal.
 */
@Command(name = "ingest", description = "Ingest throughput against a bare KafkaConsumer.")
public final class IngestBench implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--records", defaultValue = "100000", description = "Examples per codec.")
  int records;

  @Option(
      names = "--warmup",
      defaultValue = "300000",
      description = "Examples per codec read untimed first, by both consumers (0: none).")
  int warmup;

  @Option(
      names = "--rounds",
      defaultValue = "5",
      description = "Rounds per codec, each on a fresh topic; the medians are reported.")
  int rounds;

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
      names = "--fresh-store",
      description =
          "Give each round's ingest an empty store (a service's first minutes) instead of the one"
              + " the warm-up and the earlier rounds filled (a running service).")
  boolean freshStore;

  @Option(
      names = {"-s", "--set"},
      paramLabel = "KEY=VALUE",
      description = "Extra Retain or retain.kafka.* setting for both consumers.")
  Map<String, String> overrides = new HashMap<>();

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    if (rounds < 1) {
      throw new ParameterException(
          spec.commandLine(), "--rounds must be at least 1, was " + rounds);
    }
    Report report =
        new Report(
            String.format(
                "ingest: %,d examples x %d features timed per codec and round (of %,d on each"
                    + " topic), after %,d untimed, store sync=%s, %s",
                records,
                features,
                records + tail(records),
                warmup,
                sync,
                freshStore ? "an empty store each round" : "one store through all rounds"),
            "codec / round",
            "bare consumer rec/s",
            "retain ingest rec/s",
            "ratio",
            "MB/s (ingest)",
            "process CPU % (bare / ingest)",
            "fetch ms (bare / ingest)",
            "JIT CPU % (bare / ingest)",
            "machine CPU % (bare / ingest)",
            "poll thread CPU % (bare / ingest)",
            "absorb thread CPU %",
            "store writer CPU %",
            "GC CPU % (bare / ingest)",
            "CPU stolen % (bare / ingest)");
    report
        .figure("records", records)
        .figure("rounds", rounds)
        .figure("warmup_records", warmup)
        .figure("features", features)
        .figure("sync", sync)
        .figure("fresh_store", freshStore);
    try (EmbeddedKafka broker = bootstrap == null ? EmbeddedKafka.start() : null) {
      String servers = broker == null ? bootstrap : broker.bootstrapServers();
      for (String codec : codecs) {
        measure(servers, codec, report);
      }
    }
    report.print(System.out, json);
    return 0;
  }

  /**
   * Produces every topic first (the warm-up's and each round's), so that no producing, and none of
   * the compiling it sets off, happens just before a timed phase. Rounds alternate which consumer
   * goes first. Ingest keeps one store across the warm-up and the rounds, each round under its own
   * group, as a running service keeps its store: its reservoir, holdouts and dedup window are those
   * of a store that has seen a stream, not the first minutes of an empty one, where nearly every
   * example is stored ({@code --fresh-store} measures that instead). Ids are unique across all
   * topics, so no round's examples are duplicates of another's.
   */
  private void measure(String servers, String codec, Report report) throws IOException {
    List<Path> stores = new ArrayList<>();
    stores.add(storeDir());
    long nextId = 0;
    try {
      RetainConfig warmupConfig =
          warmup > 0
              ? config(
                  servers, codec, "bench-warmup-" + codec + "-" + System.nanoTime(), stores.get(0))
              : null;
      if (warmupConfig != null) {
        produce(warmupConfig, codec, warmup, nextId);
        nextId += warmup + tail(warmup);
      }
      List<RetainConfig> topics = new ArrayList<>();
      List<Long> bytes = new ArrayList<>();
      for (int i = 1; i <= rounds; i++) {
        if (freshStore) {
          stores.add(storeDir());
        }
        String prefix = "bench-" + codec + "-" + i + "-" + System.nanoTime();
        topics.add(config(servers, codec, prefix, stores.get(stores.size() - 1)));
        bytes.add(produce(topics.get(i - 1), codec, records, nextId));
        nextId += records + tail(records);
      }
      if (warmupConfig != null) {
        Consumers.bare(warmupConfig, warmup);
        Consumers.retain(warmupConfig, warmup, sync);
      }
      List<Round> done = new ArrayList<>();
      for (int i = 1; i <= rounds; i++) {
        RetainConfig config = topics.get(i - 1);
        Rate bare;
        Rate ingest;
        CpuClock.awaitQuietCompiler();
        if (i % 2 == 1) {
          bare = Consumers.bare(config, records);
          CpuClock.awaitQuietCompiler();
          ingest = Consumers.retain(config, records, sync);
        } else {
          ingest = Consumers.retain(config, records, sync);
          CpuClock.awaitQuietCompiler();
          bare = Consumers.bare(config, records);
        }
        Round round = new Round(bare, ingest, bytes.get(i - 1));
        done.add(round);
        row(report, codec + " #" + i, round);
      }
      reportMedians(codec, done, report);
    } finally {
      for (Path store : stores) {
        deleteTree(store);
      }
    }
  }

  private void reportMedians(String codec, List<Round> done, Report report) {
    Round median = Round.median(done);
    row(report, codec + " median", median);
    report
        .figure(codec + "_bare_records_per_s", Math.round(median.bare.perSecond()))
        .figure(codec + "_ingest_records_per_s", Math.round(median.ingest.perSecond()))
        .figure(codec + "_ratio", Math.round(median.ratio() * 1000) / 1000.0)
        .figure(
            codec + "_ratios",
            done.stream().map(r -> Math.round(r.ratio() * 1000) / 1000.0).toList())
        .figure(codec + "_bare_cpu_percent", Math.round(median.bare.cpuPercent()))
        .figure(codec + "_ingest_cpu_percent", Math.round(median.ingest.cpuPercent()))
        .figure(codec + "_bare_fetch_ms", Math.round(median.bare.fetchMs() * 10) / 10.0)
        .figure(codec + "_ingest_fetch_ms", Math.round(median.ingest.fetchMs() * 10) / 10.0)
        .figure(codec + "_bare_jit_cpu_percent", Math.round(median.bare.jitPercent()))
        .figure(codec + "_ingest_jit_cpu_percent", Math.round(median.ingest.jitPercent()))
        .figure(codec + "_bare_machine_cpu_percent", Math.round(median.bare.machinePercent()))
        .figure(codec + "_ingest_machine_cpu_percent", Math.round(median.ingest.machinePercent()))
        .figure(codec + "_bare_poll_thread_cpu_percent", Math.round(median.bare.pollPercent()))
        .figure(codec + "_ingest_poll_thread_cpu_percent", Math.round(median.ingest.pollPercent()))
        .figure(codec + "_absorb_thread_cpu_percent", Math.round(median.ingest.absorbPercent()))
        .figure(codec + "_store_writer_cpu_percent", Math.round(median.ingest.writerPercent()))
        .figure(codec + "_bare_gc_cpu_percent", Math.round(median.bare.gcPercent()))
        .figure(codec + "_ingest_gc_cpu_percent", Math.round(median.ingest.gcPercent()))
        .figure(codec + "_bare_stolen_percent", Math.round(median.bare.stolenPercent()))
        .figure(codec + "_ingest_stolen_percent", Math.round(median.ingest.stolenPercent()));
  }

  /** The bare consumer's and ingest's figure, "bare / ingest". */
  private static String pair(
      String format, Round round, java.util.function.ToDoubleFunction<Rate> figure) {
    return String.format(
        format + " / " + format,
        figure.applyAsDouble(round.bare),
        figure.applyAsDouble(round.ingest));
  }

  private void row(Report report, String label, Round round) {
    report.row(
        label,
        round.bare.perSecond(),
        round.ingest.perSecond(),
        String.format("%.2f", round.ratio()),
        round.ingest.perSecond() * round.bytes / records / 1e6,
        pair("%.0f", round, Rate::cpuPercent),
        pair("%.1f", round, Rate::fetchMs),
        pair("%.0f", round, Rate::jitPercent),
        pair("%.0f", round, Rate::machinePercent),
        pair("%.0f", round, Rate::pollPercent),
        String.format("%.0f", round.ingest.absorbPercent()),
        String.format("%.0f", round.ingest.writerPercent()),
        pair("%.0f", round, Rate::gcPercent),
        pair("%.0f", round, Rate::stolenPercent));
  }

  /** One round, or the medians of several: both consumers' figures and their ratio. */
  private record Round(Rate bare, Rate ingest, double ratio, long bytes) {
    Round(Rate bare, Rate ingest, long bytes) {
      this(bare, ingest, ingest.perSecond() / bare.perSecond(), bytes);
    }

    /** Each figure's median over the rounds, the ratio's included (upper median when even). */
    static Round median(List<Round> rounds) {
      return new Round(
          Rate.median(rounds.stream().map(Round::bare).toList()),
          Rate.median(rounds.stream().map(Round::ingest).toList()),
          IngestBench.median(rounds.stream().mapToDouble(Round::ratio).toArray()),
          rounds.get(0).bytes);
    }
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  /**
   * A new empty directory for a store: under {@code retain.store.dir} when {@code -s} gives one
   * (the bench deletes what it made, never that directory), else under the system's temp dir.
   */
  private Path storeDir() throws IOException {
    String base = overrides.get(RetainConfig.STORE_DIR);
    return base == null
        ? Files.createTempDirectory("retain-bench")
        : Files.createTempDirectory(Files.createDirectories(Path.of(base)), "retain-bench");
  }

  private RetainConfig config(String servers, String codec, String topicPrefix, Path store) {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, servers);
    props.put(RetainConfig.TOPIC_PREFIX, topicPrefix);
    props.put(RetainConfig.RECORD_CODEC, codec);
    props.put(RetainConfig.RECORD_FEATURES, features);
    props.put(RetainConfig.RECORD_MAX_BYTES, 1 << 20);
    props.put(RetainConfig.STORE_SYNC, sync);
    props.put(RetainConfig.INGEST_GROUP_ID, topicPrefix + "-ingest");
    props.putAll(overrides);
    props.put(RetainConfig.STORE_DIR, store.toString());
    return new RetainConfig(props);
  }

  /**
   * Produces {@code count} examples over three domains, then a tail of {@link #tail} more, so that
   * both consumers are timed while records still arrive: ingest counts a record once its group
   * commit is written, and at the end of a topic the last commit would wait for empty polls (the
   * poll timeout, then the commit interval), which no steady stream has. Ids are numbered from
   * {@code firstId}. Returns the bytes of the first {@code count}.
   */
  private long produce(RetainConfig config, String codecName, int count, long firstId) {
    ExampleCodec codec = ExampleCodec.named(codecName);
    DriftStream stream = new DriftStream(features, 10, 1.0f, 7);
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    long bytes = 0;
    int total = count + tail(count);
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < total; i++) {
        byte[] value = codec.encode(stream.example(Math.min(2, i * 3 / count), firstId + i));
        bytes += i < count ? value.length : 0;
        producer.send(new ProducerRecord<>(config.examplesTopic(), key, value));
      }
    }
    return bytes;
  }

  /** Examples beyond the timed ones: a tenth more, and at least two group commits' worth. */
  private int tail(int count) {
    int commitRecords =
        new RetainConfig(new HashMap<String, Object>(overrides))
            .getInt(RetainConfig.INGEST_COMMIT_RECORDS);
    return Math.max(count / 10, 2 * commitRecords);
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
