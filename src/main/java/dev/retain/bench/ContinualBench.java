package dev.retain.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.data.FashionMnist;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.model.Architecture;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.ReplayBuffer;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import dev.retain.train.Devices;
import dev.retain.train.Learner;
import dev.retain.train.Pretrainer;
import dev.retain.train.TrainingLoop;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Continual learning on Permuted (or Rotated) Fashion-MNIST: domain 0 pretrains the frozen base,
 * domains 1..n-1 arrive one after another in a single pass, batch 64 new (+ 64 replayed where the
 * policy replays). Compares policies over several seeds and prints the accuracy matrix of the first
 * seed, the final average accuracy per policy with its spread, and training samples/s.
 */
@Command(
    name = "continual",
    description = "Retention of LoRA policies on Permuted/Rotated Fashion-MNIST.")
public final class ContinualBench implements Callable<Integer> {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  @Option(names = "--shift", defaultValue = "permuted", description = "permuted or rotated.")
  String shift;

  @Option(names = "--domains", defaultValue = "5", description = "Domains, domain 0 included.")
  int domains;

  @Option(
      names = "--per-domain",
      defaultValue = "60000",
      description = "Training images per domain.")
  int perDomain;

  @Option(
      names = "--eval",
      defaultValue = "2000",
      description = "Test images per domain for evaluation.")
  int evalSize;

  @Option(names = "--seeds", defaultValue = "3", description = "Seeds per policy.")
  int seeds;

  @Option(
      names = "--pretrain-epochs",
      defaultValue = "3",
      description = "Passes over domain 0 for the base.")
  int pretrainEpochs;

  @Option(
      names = "--policies",
      split = ",",
      defaultValue = "naive,ewc,replay,ewc+replay,retain,joint",
      description =
          "Policies to compare: naive, ewc, replay, ewc+replay, rehearse (ewc+replay plus"
              + " --rehearsal replay-only steps after each domain), retain (Retain's default"
              + " configuration), joint (all domains shuffled together: the upper bound).")
  List<String> policies;

  @Option(names = "--buffer", defaultValue = "2000", description = "Replay buffer capacity.")
  int buffer;

  @Option(names = "--lambda", defaultValue = "1", description = "EWC lambda of the ewc policies.")
  float lambda;

  @Option(names = "--lr", defaultValue = "1e-3", description = "Adam learning rate.")
  float lr;

  @Option(
      names = "--rehearsal",
      defaultValue = "500",
      description = "Rehearsal steps after each domain (retain policy).")
  int rehearsal;

  @Option(
      names = "--replay-ratio",
      defaultValue = "1.0",
      description = "Replayed examples per new one in the replay policies (Retain's default: 1).")
  double replayRatio;

  @Option(
      names = "--balance",
      defaultValue = "class",
      description =
          "Replay reservoir of the replay policies: class (equal slots per class) or domain (per"
              + " domain and class). The retain policy uses Retain's default.")
  String balance;

  @Option(
      names = "--generated",
      description = "Use the generated drift stream instead of Fashion-MNIST.")
  boolean generated;

  @Option(
      names = "--arch",
      defaultValue = "mlp",
      description = "Base: mlp (784-256-256-10) or cnn (convolutions 16, 32, then 256-256-10).")
  String arch;

  @Option(names = "--lora-conv", description = "With --arch cnn: adapt the convolutions too.")
  boolean loraConv;

  @Option(names = "--rank", defaultValue = "8", description = "LoRA rank.")
  int rank;

  @Option(names = "--alpha", defaultValue = "16", description = "LoRA alpha.")
  float alpha;

  @Option(names = "--rslora", description = "Scale LoRA by alpha/sqrt(rank) instead of alpha/rank.")
  boolean rsLora;

  @Option(
      names = "--logit-replay",
      defaultValue = "0",
      description =
          "Weight of logit replay (as in DER++) in the replay policies (0: off). The retain"
              + " policy uses Retain's default.")
  float logitReplay;

  @Option(
      names = "--iterations",
      defaultValue = "1",
      description = "Steps per batch of new examples, each with freshly replayed ones.")
  int iterations;

  @Option(
      names = "--threads",
      description =
          "Intra-op threads of the engine (0: its default, one per core); default: Retain's"
              + " default, retain.train.threads.")
  Integer threads;

  @Option(
      names = "--prefetch",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "Compute the next batch's frozen first layer on a helper thread while a step trains, as"
              + " retain.train.prefetch does (on by default, as there; --no-prefetch: off).")
  boolean prefetch;

  @Option(
      names = "--device",
      defaultValue = "auto",
      description =
          "Where pretraining and training run: auto (a GPU when the engine finds one), cpu or gpu;"
              + " as retain.train.device.")
  String device;

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  private static final int BATCH = 64;

  /**
   * One policy: which of replay, EWC, end-of-domain rehearsal and joint training it uses, and the
   * weight of logit replay.
   */
  record Policy(
      String name,
      boolean replay,
      boolean ewc,
      boolean rehearse,
      boolean joint,
      boolean byDomain,
      float logitReplay) {
    static Policy named(String name, boolean byDomain, float logitReplay) {
      return switch (name) {
        case "naive" -> new Policy(name, false, false, false, false, false, 0f);
        case "ewc" -> new Policy(name, false, true, false, false, false, 0f);
        case "replay" -> new Policy(name, true, false, false, false, byDomain, logitReplay);
        case "ewc+replay" -> new Policy(name, true, true, false, false, byDomain, logitReplay);
        case "rehearse" -> new Policy(name, true, true, true, false, byDomain, logitReplay);
        case "retain" -> retainDefaults();
        case "joint" -> new Policy(name, false, false, false, true, false, 0f);
        default -> throw new IllegalArgumentException("unknown policy " + name);
      };
    }
  }

  /** The policy Retain's default configuration runs. */
  static Policy retainDefaults() {
    RetainConfig defaults = new RetainConfig(Map.of());
    return new Policy(
        "retain",
        defaults.getDouble(RetainConfig.TRAIN_REPLAY_RATIO) > 0,
        defaults.getDouble(RetainConfig.TRAIN_EWC_LAMBDA) > 0,
        defaults.getInt(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS) > 0,
        false,
        defaults.getString(RetainConfig.REPLAY_BALANCE).equals("domain"),
        defaults.getDouble(RetainConfig.TRAIN_LOGIT_REPLAY).floatValue());
  }

  /** What one run measured. */
  /**
   * What one run measured.
   *
   * @param samplesPerSecond training samples (new + replayed) per second of the learner's steps
   * @param withStoring the same with the time to store the new examples (ingest's work in the
   *     service, done on another thread there) counted too
   */
  record Run(
      AccuracyMatrix matrix,
      double samplesPerSecond,
      double withStoring,
      double perCpuSecond,
      double helperShare,
      long skippedSteps) {}

  @Override
  public Integer call() throws Exception {
    Devices.configureThreads(
        threads != null
            ? threads
            : new RetainConfig(Map.of()).getInt(RetainConfig.TRAIN_THREADS)); // before the engine
    Data data = load();
    if (data == null) {
      System.err.println(FashionMnist.INSTALL_HINT + "; or pass --generated");
      return 2;
    }
    data.device = Devices.select(device);
    data.architecture =
        new RetainConfig(
                Map.of(RetainConfig.MODEL_ARCH, arch, RetainConfig.RECORD_FEATURES, data.features))
            .architecture();
    Report report =
        new Report(
            String.format(
                Locale.ROOT,
                "continual: %s %s, %s%s, %d domains x %,d images, single pass, batch %d(+%d replayed), buffer %,d, %d seeds, engine threads %s, device %s",
                data.name,
                shift,
                data.architecture,
                loraConv ? " (LoRA on convolutions too)" : "",
                domains,
                perDomain,
                BATCH,
                BATCH,
                buffer,
                seeds,
                System.getProperty("ai.djl.pytorch.num_threads", "default"),
                data.device),
            "policy",
            "avg accuracy %",
            "spread (sd)",
            "min domain %",
            "BWT %",
            "samples/s",
            "with storing",
            "per learner CPU s",
            "prefetch CPU %",
            "CPU stolen % (100 = one core)");
    Map<String, AccuracyMatrix> firstSeed = new LinkedHashMap<>();
    for (String name : policies) {
      Policy policy = Policy.named(name, balance.equals("domain"), logitReplay);
      double[] averages = new double[seeds];
      double[] minimum = new double[seeds];
      double bwt = 0;
      double speed = 0;
      double withStoring = 0;
      double perCpu = 0;
      double helper = 0;
      long skipped = 0;
      double stolenBefore = HostCpu.stolenSeconds();
      long started = System.nanoTime();
      for (int seed = 0; seed < seeds; seed++) {
        Run run = run(data, policy, seed);
        averages[seed] = run.matrix().averageAccuracy() * 100;
        minimum[seed] =
            run.matrix().current().values().stream().mapToDouble(v -> v).min().orElse(0) * 100;
        bwt += run.matrix().backwardTransfer() * 100 / seeds;
        speed += run.samplesPerSecond() / seeds;
        withStoring += run.withStoring() / seeds;
        perCpu += run.perCpuSecond() / seeds;
        helper += run.helperShare() * 100 / seeds;
        skipped += run.skippedSteps();
        if (seed == 0) {
          firstSeed.put(name, run.matrix());
        }
        System.err.printf(
            Locale.ROOT,
            "%s seed %d: average %.1f%%, %,.0f samples/s (%,.0f per learner CPU second)%n",
            name,
            seed,
            averages[seed],
            run.samplesPerSecond(),
            run.perCpuSecond());
      }
      double mean = mean(averages);
      // 100% per core, as bench ingest's machine figures; over the policy's whole runs
      double stolen =
          100.0 * (HostCpu.stolenSeconds() - stolenBefore) / ((System.nanoTime() - started) / 1e9);
      report.row(
          name,
          String.format(Locale.ROOT, "%.1f", mean),
          String.format(Locale.ROOT, "%.1f", sd(averages)),
          String.format(Locale.ROOT, "%.1f", mean(minimum)),
          String.format(Locale.ROOT, "%+.1f", bwt),
          speed,
          withStoring,
          perCpu,
          String.format(Locale.ROOT, "%.1f", helper),
          String.format(Locale.ROOT, "%.1f", stolen));
      report
          .figure(name + "_average_accuracy", round(mean))
          .figure(name + "_sd", round(sd(averages)))
          .figure(name + "_min_domain", round(mean(minimum)))
          .figure(name + "_samples_per_s", Math.round(speed))
          .figure(name + "_samples_per_s_with_storing", Math.round(withStoring))
          .figure(name + "_samples_per_cpu_s", Math.round(perCpu))
          .figure(name + "_prefetch_cpu_percent", Math.round(helper * 10) / 10.0)
          .figure(name + "_skipped_steps", skipped)
          .figure(name + "_stolen_percent", Math.round(stolen * 10) / 10.0);
    }
    firstSeed.forEach((name, matrix) -> printMatrix(name, matrix));
    report.print(System.out, json);
    return 0;
  }

  /** Trains a copy of the pretrained base's adapter through domains 1.. under {@code policy}. */
  private Run run(Data data, Policy policy, int seed) throws Exception {
    Engine.getInstance().setRandomSeed(1000 + seed);
    Path dir = Files.createTempDirectory("retain-continual");
    try (NDManager manager = NDManager.newBaseManager(data.device);
        LoraNet model = LoraNet.create(manager, data.architecture, rank, alpha, rsLora, loraConv);
        RetainStore store = RetainStore.open(dir, false);
        Learner learner = new Learner(model, data.features, lr, policy.ewc() ? lambda : 0f, 0.9f)) {
      model.loadBase(data.base(seed, pretrainEpochs, lr));
      ReplayBuffer replay = ReplayBuffer.load(store, "bench", buffer, seed, policy.byDomain());
      SplittableRandom random = new SplittableRandom(seed);
      AccuracyMatrix matrix = new AccuracyMatrix();
      List<Example> pretrained =
          data.train.get(0).subList(0, Math.min(buffer * 5, data.train.get(0).size()));
      offer(replay, store, pretrained);
      replay.markLearned(pretrained); // the base has learned domain 0
      if (policy.ewc()) {
        learner.consolidate(data.train.get(0).subList(0, 1000));
      }
      if (policy.logitReplay() > 0) {
        TrainingLoop.recordTargets(learner, replay);
      }
      long samples = 0;
      long nanos = 0; // the learner's steps: replay sample, targets, batch, forward, backward, Adam
      long cpuNanos = 0; // the same steps' CPU time on this thread, without what the host took
      long storeNanos = 0; // storing the new examples into the reservoir and RocksDB
      List<List<Example>> stream =
          policy.joint() ? joint(data, seed) : data.train.subList(1, domains);
      for (int d = 0; d < stream.size(); d++) {
        List<Example> domain = stream.get(d);
        for (int i = 0; i + BATCH <= domain.size(); i += BATCH) {
          List<Example> fresh = domain.subList(i, i + BATCH);
          long start = System.nanoTime();
          long cpuStart = THREADS.getCurrentThreadCpuTime();
          if (prefetch && i + 2 * BATCH <= domain.size()) { // as the service does
            learner.prefetch(domain.subList(i + BATCH, i + 2 * BATCH));
          }
          for (int k = 0; k < iterations; k++) {
            List<Example> replayed =
                policy.replay()
                    ? replay.sample((int) Math.round(BATCH * replayRatio), random)
                    : List.of();
            learner.step(fresh, replayed, replay.targets(replayed), policy.logitReplay());
            samples += fresh.size() + replayed.size();
          }
          nanos += System.nanoTime() - start;
          cpuNanos += THREADS.getCurrentThreadCpuTime() - cpuStart;
          if (policy.replay()) {
            // ingest's part, on its own thread in the service: store the new examples
            start = System.nanoTime();
            offer(replay, store, fresh);
            storeNanos += System.nanoTime() - start;
            replay.markLearned(fresh);
          }
        }
        long start = System.nanoTime();
        long cpuStart = THREADS.getCurrentThreadCpuTime();
        for (int r = 0; policy.rehearse() && r < rehearsal; r++) {
          List<Example> replayed = replay.sample(2 * BATCH, random);
          learner.step(List.of(), replayed, replay.targets(replayed), policy.logitReplay());
          samples += replayed.size();
        }
        nanos += System.nanoTime() - start;
        cpuNanos += THREADS.getCurrentThreadCpuTime() - cpuStart;
        if (policy.logitReplay() > 0) {
          TrainingLoop.recordTargets(learner, replay);
        }
        if (policy.ewc()) {
          learner.consolidate(domain.subList(domain.size() - 1000, domain.size()));
        }
        if (!policy.joint() || d == stream.size() - 1) {
          matrix.record("domain-" + (d + 1), evaluate(learner, data));
        }
      }
      return new Run(
          matrix,
          samples / (nanos / 1e9),
          samples / ((nanos + storeNanos) / 1e9),
          samples / (cpuNanos / 1e9),
          (double) learner.prefetchCpuNanos() / nanos,
          learner.skippedSteps());
    } finally {
      deleteRecursively(dir);
    }
  }

  /** Joint training: the images of every domain (domain 0 too), shuffled into one stream. */
  private List<List<Example>> joint(Data data, int seed) {
    List<Example> all = new ArrayList<>();
    data.train.subList(0, domains).forEach(all::addAll);
    Collections.shuffle(all, new Random(seed));
    return List.of(all);
  }

  private Map<String, Double> evaluate(Learner learner, Data data) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (int d = 0; d < domains; d++) {
      out.put("domain-" + d, learner.accuracy(data.test.get(d)));
    }
    return out;
  }

  private static void offer(ReplayBuffer replay, RetainStore store, List<Example> examples) {
    StoreBatch batch = store.newBatch();
    examples.forEach(e -> replay.offer(e, batch));
    replay.flush(batch);
    store.commit(batch);
  }

  private Data load() {
    if (generated) {
      DriftStream stream = new DriftStream(FashionMnist.PIXELS, 10, 1.0f, 7);
      Data data = new Data("generated");
      for (int d = 0; d < domains; d++) {
        data.train.add(range(stream, d, 0, perDomain));
        data.test.add(range(stream, d, 1_000_000, evalSize)); // indices never trained on
      }
      return data;
    }
    Path dir = Path.of(FashionMnist.DEFAULT_DIR);
    if (!FashionMnist.available(dir)) {
      return null;
    }
    FashionMnist train = FashionMnist.load(dir, true);
    FashionMnist test = FashionMnist.load(dir, false);
    FashionMnist.Shift s = FashionMnist.Shift.valueOf(shift.toUpperCase(Locale.ROOT));
    Data data = new Data("Fashion-MNIST");
    for (int d = 0; d < domains; d++) {
      data.train.add(train.domain(s, d, 0, Math.min(perDomain, train.size()), 17));
      data.test.add(test.domain(s, d, 0, Math.min(evalSize, test.size()), 17));
    }
    return data;
  }

  private static List<Example> range(DriftStream stream, int domain, int from, int count) {
    List<Example> out = new ArrayList<>(count);
    for (int i = from; i < from + count; i++) {
      out.add(stream.example(domain, i));
    }
    return out;
  }

  /** Training and test examples (784 features) per domain, and the pretrained base per seed. */
  private static final class Data {
    final String name;
    final int features = FashionMnist.PIXELS;
    final List<List<Example>> train = new ArrayList<>();
    final List<List<Example>> test = new ArrayList<>();
    Architecture architecture;
    Device device = Device.cpu();
    private final Map<Integer, Map<String, SafeTensors.Tensor>> bases = new LinkedHashMap<>();

    /** A model of the bench's architecture: rank 8, alpha 16. */
    LoraNet newModel(NDManager manager, boolean loraConv) {
      return LoraNet.create(manager, architecture, 8, 16, false, loraConv);
    }

    Data(String name) {
      this.name = name;
    }

    /** The base pretrained on domain 0 for {@code seed} (trained once, then reused). */
    Map<String, SafeTensors.Tensor> base(int seed, int epochs, float lr) {
      return bases.computeIfAbsent(
          seed,
          s -> {
            Engine.getInstance().setRandomSeed(seed);
            try (NDManager manager = NDManager.newBaseManager(device);
                LoraNet model = newModel(manager, false)) {
              Pretrainer.train(model, train.get(0), epochs, BATCH, lr, seed);
              return model.baseTensors();
            }
          });
    }
  }

  private void printMatrix(String policy, AccuracyMatrix matrix) {
    System.out.println("\n" + policy + " (seed 0): accuracy % after learning each domain");
    List<Map<String, Double>> rows = matrix.rows();
    List<String> learned = matrix.learned();
    for (int i = 0; i < rows.size(); i++) {
      StringBuilder line =
          new StringBuilder(String.format(Locale.ROOT, "  after %-9s", learned.get(i)));
      rows.get(i).values().forEach(v -> line.append(String.format(Locale.ROOT, "%7.1f", v * 100)));
      System.out.println(line);
    }
  }

  private static double mean(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s / v.length;
  }

  private static double sd(double[] v) {
    if (v.length < 2) {
      return 0;
    }
    double m = mean(v);
    double s = 0;
    for (double x : v) {
      s += (x - m) * (x - m);
    }
    return Math.sqrt(s / (v.length - 1));
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static void deleteRecursively(Path dir) throws java.io.IOException {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
