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
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
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
        bareConsumer(warmupConfig, warmup);
        retainIngest(warmupConfig, warmup);
      }
      List<Round> done = new ArrayList<>();
      for (int i = 1; i <= rounds; i++) {
        RetainConfig config = topics.get(i - 1);
        Rate bare;
        Rate ingest;
        Clock.awaitQuietCompiler();
        if (i % 2 == 1) {
          bare = bareConsumer(config, records);
          Clock.awaitQuietCompiler();
          ingest = retainIngest(config, records);
        } else {
          ingest = retainIngest(config, records);
          Clock.awaitQuietCompiler();
          bare = bareConsumer(config, records);
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

  private void row(Report report, String label, Round round) {
    report.row(
        label,
        round.bare.perSecond(),
        round.ingest.perSecond(),
        String.format("%.2f", round.ratio()),
        round.ingest.perSecond() * round.bytes / records / 1e6,
        String.format("%.0f / %.0f", round.bare.cpuPercent(), round.ingest.cpuPercent()),
        String.format("%.1f / %.1f", round.bare.fetchMs(), round.ingest.fetchMs()),
        String.format("%.0f / %.0f", round.bare.jitPercent(), round.ingest.jitPercent()),
        String.format("%.0f / %.0f", round.bare.machinePercent(), round.ingest.machinePercent()),
        String.format("%.0f / %.0f", round.bare.pollPercent(), round.ingest.pollPercent()),
        String.format("%.0f", round.ingest.absorbPercent()),
        String.format("%.0f", round.ingest.writerPercent()),
        String.format("%.0f / %.0f", round.bare.gcPercent(), round.ingest.gcPercent()),
        String.format("%.0f / %.0f", round.bare.stolenPercent(), round.ingest.stolenPercent()));
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
    }
  }

  /**
   * Records per second, the CPU the whole process used meanwhile (200% = both cores), and the
   * consumer's average fetch latency (its {@code fetch-latency-avg}: from sending a fetch to having
   * read its whole response), which tells waiting for data from working on it.
   */
  record Rate(
      double perSecond,
      double cpuPercent,
      double fetchMs,
      double jitPercent,
      double machinePercent,
      double pollPercent,
      double absorbPercent,
      double writerPercent,
      double gcPercent,
      double stolenPercent) {
    static Rate median(List<Rate> rates) {
      return new Rate(
          IngestBench.median(rates.stream().mapToDouble(Rate::perSecond).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::cpuPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::fetchMs).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::jitPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::machinePercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::pollPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::absorbPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::writerPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::gcPercent).toArray()),
          IngestBench.median(rates.stream().mapToDouble(Rate::stolenPercent).toArray()));
    }
  }

  /** Wall time and the CPU time of the process, its threads and the machine since it was made. */
  private static final class Clock {
    private static final OperatingSystemMXBean OS =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private final long wall = System.nanoTime();
    private final long cpu = OS.getProcessCpuTime();
    private final double jit = jitCpuSeconds();
    private final double gc = gcCpuSeconds();
    private final double machine = HostCpu.busySeconds();
    private final double stolen = HostCpu.stolenSeconds();
    private final long poll = THREADS.getCurrentThreadCpuTime();
    private final long absorb = threadCpuNanos(IngestLoop.ABSORB_THREAD);
    private final long writer = threadCpuNanos(IngestLoop.WRITER_THREAD);

    Rate rate(long records, Consumer<?, ?> consumer) {
      double seconds = (System.nanoTime() - wall) / 1e9;
      double cpuPercent = 100.0 * (OS.getProcessCpuTime() - cpu) / 1e9 / seconds;
      double jitPercent = 100.0 * (jitCpuSeconds() - jit) / seconds;
      double machinePercent = 100.0 * (HostCpu.busySeconds() - machine) / seconds;
      double pollPercent = 100.0 * (THREADS.getCurrentThreadCpuTime() - poll) / 1e9 / seconds;
      double absorbPercent =
          absorb < 0
              ? 0
              : 100.0 * (threadCpuNanos(IngestLoop.ABSORB_THREAD) - absorb) / 1e9 / seconds;
      double writerPercent =
          writer < 0
              ? 0
              : 100.0 * (threadCpuNanos(IngestLoop.WRITER_THREAD) - writer) / 1e9 / seconds;
      double gcPercent = 100.0 * (gcCpuSeconds() - gc) / seconds;
      double stolenPercent = 100.0 * (HostCpu.stolenSeconds() - stolen) / seconds;
      return new Rate(
          records / seconds,
          cpuPercent,
          fetchLatencyMs(consumer),
          jitPercent,
          machinePercent,
          pollPercent,
          absorbPercent,
          writerPercent,
          gcPercent,
          stolenPercent);
    }

    /** CPU time of the named thread so far, or -1 while there is none (ingest's, during bare). */
    private static long threadCpuNanos(String name) {
      for (ThreadInfo info : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
        if (info != null && info.getThreadName().equals(name)) {
          return THREADS.getThreadCpuTime(info.getThreadId());
        }
      }
      return -1;
    }

    /**
     * CPU seconds used so far by the JVM's compiler threads, from Linux's per-thread accounting
     * (they are hidden from the JVM's own thread beans); NaN elsewhere. Clock ticks are taken as
     * the usual 100 per second. A compiler thread that the JVM retires during a phase takes its
     * time with it, so the share can come out low.
     */
    private static double jitCpuSeconds() {
      return nativeThreadCpuSeconds(comm -> comm.contains("CompilerThre"));
    }

    /** CPU seconds used so far by the collector's threads (G1's or another's), as above. */
    private static double gcCpuSeconds() {
      return nativeThreadCpuSeconds(
          comm ->
              comm.startsWith("GC Thread")
                  || comm.startsWith("G1 ")
                  || comm.startsWith("VM Thread"));
    }

    /** CPU seconds used so far by the threads whose Linux name matches; NaN elsewhere. */
    private static double nativeThreadCpuSeconds(Predicate<String> comm) {
      File[] tasks = new File("/proc/self/task").listFiles();
      if (tasks == null) {
        return Double.NaN;
      }
      long ticks = 0;
      for (File task : tasks) {
        try {
          if (comm.test(Files.readString(task.toPath().resolve("comm")).strip())) {
            String stat = Files.readString(task.toPath().resolve("stat"));
            // the fields after the command name, which is in parentheses; utime and stime are the
            // 14th and 15th of all fields
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
          }
        } catch (IOException | RuntimeException e) {
          // a thread that ended meanwhile
        }
      }
      return ticks / 100.0;
    }

    /**
     * Waits until the JIT compiler threads have been nearly idle (at most 5% of a core) for two 200
     * ms intervals in a row, or 15 s have passed: what producing a round's topic queued for
     * compilation would otherwise be compiled inside the next timed phase, on the same two cores.
     */
    static void awaitQuietCompiler() {
      long deadline = System.nanoTime() + 15_000_000_000L;
      int quiet = 0;
      double before = jitCpuSeconds();
      while (quiet < 2 && System.nanoTime() < deadline && Double.isFinite(before)) {
        try {
          Thread.sleep(200); // a polling interval: the condition is the compiler's CPU time
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        double now = jitCpuSeconds();
        quiet = now - before <= 0.01 ? quiet + 1 : 0;
        before = now;
      }
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
