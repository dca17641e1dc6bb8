package dev.retain.bench;

import dev.retain.config.RetainConfig;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.Handover;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import dev.retain.train.StepThroughput;
import dev.retain.train.TrainingLoop;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Continual learning through the service's own training code, without a broker: the examples of a
 * scenario (permuted, rotated or class-incremental Fashion-MNIST, generated data when it is
 * missing) are routed as ingest routes them (holdouts, replay reservoir, store) and handed to the
 * learner's inbox, and the service's {@link TrainingLoop} trains, consolidates (at each domain
 * change, every {@code retain.train.consolidate.every} examples and when idle) and offers
 * candidates. Domain 0 pretrains the base (the loop's own pretraining). Each candidate that ends a
 * domain, and the last one, is scored on held-out test images of every domain. Policies are the
 * service under other settings, compared over several seeds; {@code bench stream} runs the whole
 * service and scores what is served.
 */
@Command(
    name = "continual",
    description = "Retention of the learner's policies on drifting Fashion-MNIST, in one process.")
public final class ContinualBench implements Callable<Integer> {
  private static final TopicPartition PARTITION = new TopicPartition("bench", 0);
  private static final List<String> POLICIES =
      List.of("naive", "ewc", "replay", "ewc+replay", "retain", "joint");

  @Mixin ScenarioOptions options = new ScenarioOptions("permuted", 60000, 2000, 3);

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
          "naive, ewc, replay, ewc+replay (plain loops: no logit replay, no rehearsal, the full"
              + " softmax), retain (Retain's defaults) and joint (every domain shuffled into one"
              + " stream: the upper bound).")
  List<String> policies;

  @Option(names = "--lambda", defaultValue = "1", description = "EWC lambda of the ewc policies.")
  double lambda;

  @Option(
      names = "--prefetch",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description = "retain.train.prefetch (on by default, as there; --no-prefetch: off).")
  boolean prefetch;

  /** What one run measured. */
  record Run(AccuracyMatrix matrix, double samplesPerSecond) {}

  /** What a policy measured over the seeds. */
  private record Measured(
      double[] averages, double[] minimum, double bwt, double speed, double stolen) {}

  @Override
  public Integer call() throws Exception {
    Scenario data = options.load();
    Report report = report(data);
    Map<String, AccuracyMatrix> firstSeed = new LinkedHashMap<>();
    for (String policy : policies) {
      Measured m = measure(data, policy, firstSeed);
      double mean = Stats.mean(m.averages());
      report.row(
          policy,
          String.format(Locale.ROOT, "%.1f", mean),
          String.format(Locale.ROOT, "%.1f", Stats.sd(m.averages())),
          String.format(Locale.ROOT, "%.1f", Stats.mean(m.minimum())),
          String.format(Locale.ROOT, "%+.1f", m.bwt()),
          m.speed(),
          String.format(Locale.ROOT, "%.1f", m.stolen()));
      report
          .figure(policy + "_average_accuracy", Stats.round(mean))
          .figure(policy + "_sd", Stats.round(Stats.sd(m.averages())))
          .figure(policy + "_min_domain", Stats.round(Stats.mean(m.minimum())))
          .figure(policy + "_samples_per_s", Math.round(m.speed()))
          .figure(policy + "_stolen_percent", Stats.round(m.stolen()));
    }
    firstSeed.forEach(ContinualBench::printMatrix);
    report.print(System.out, options.json);
    return 0;
  }

  private Report report(Scenario data) {
    String title =
        String.format(
            Locale.ROOT,
            "continual: %s, %d domains x %,d examples (domain 0 pretrains the base, %d"
                + " epochs), the service's learner, %d seeds",
            data.name(),
            options.domains,
            options.perDomain,
            pretrainEpochs,
            options.seeds);
    return new Report(
        title,
        "policy",
        "avg accuracy %",
        "spread (sd)",
        "min domain %",
        "BWT %",
        "samples/s",
        "CPU stolen % (100 = one core)");
  }

  /** Every seed of {@code policy}; the first seed's matrix goes to {@code firstSeed}. */
  private Measured measure(Scenario data, String policy, Map<String, AccuracyMatrix> firstSeed)
      throws Exception {
    double[] averages = new double[options.seeds];
    double[] minimum = new double[options.seeds];
    double bwt = 0;
    double speed = 0;
    double stolenBefore = HostCpu.stolenSeconds();
    long started = System.nanoTime();
    for (int seed = 0; seed < options.seeds; seed++) {
      Run run = run(data, policy, seed);
      averages[seed] = run.matrix().averageAccuracy() * 100;
      minimum[seed] =
          run.matrix().current().values().stream().mapToDouble(v -> v).min().orElse(0) * 100;
      bwt += run.matrix().backwardTransfer() * 100 / options.seeds;
      speed += run.samplesPerSecond() / options.seeds;
      firstSeed.putIfAbsent(policy, run.matrix());
      System.err.printf(
          Locale.ROOT,
          "%s seed %d: average %.1f%%, %,.0f samples/s%n",
          policy,
          seed,
          averages[seed],
          run.samplesPerSecond());
    }
    double stolen =
        100.0 * (HostCpu.stolenSeconds() - stolenBefore) / ((System.nanoTime() - started) / 1e9);
    return new Measured(averages, minimum, bwt, speed, stolen);
  }

  /** One policy and seed through the service's training loop. */
  /** The service's training loop over {@code stream}, fed as ingest feeds it. */
  private static void train(
      RetainConfig config, List<Example> stream, CandidateScorer scorer, SimpleMeterRegistry meters)
      throws InterruptedException {
    try (RetainStore store =
        RetainStore.open(Path.of(config.getString(RetainConfig.STORE_DIR)), false)) {
      ModelState state = ModelState.load(store, config);
      ExampleInbox inbox = new ExampleInbox(config.getInt(RetainConfig.INGEST_INBOX_CAPACITY));
      try (TrainingLoop loop = new TrainingLoop(config, store, state, inbox, scorer, meters)) {
        loop.start();
        feed(store, state, inbox, loop, stream);
        awaitQuiescent(loop, inbox);
      }
    }
  }

  private Run run(Scenario data, String policy, int seed) throws Exception {
    Path dir = Files.createTempDirectory("retain-continual");
    List<Example> stream = policy.equals("joint") ? joint(data, seed) : data.sequential();
    RetainConfig config = config(dir, policy, seed, data.train().get(0).size());
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CandidateScorer scorer = new CandidateScorer(config, data.test());
    try {
      train(config, stream, scorer, meters);
      return new Run(scorer.matrix(), StepThroughput.read(meters).perSecond());
    } finally {
      Stats.deleteRecursively(dir);
    }
  }

  /**
   * The service's settings for {@code policy}: the defaults, a base pretrained on domain 0's
   * trainable examples, the policy's changes, then {@code -s}.
   */
  private RetainConfig config(Path dir, String policy, int seed, int firstDomain) {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.STORE_DIR, dir.toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.TRAIN_SEED, 1000L + seed);
    props.put(RetainConfig.TRAIN_PREFETCH, prefetch);
    int every = new RetainConfig(Map.of()).getInt(RetainConfig.HOLDOUT_EVERY);
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, firstDomain - firstDomain / every);
    props.put(RetainConfig.MODEL_PRETRAIN_EPOCHS, pretrainEpochs);
    props.putAll(policySettings(policy));
    props.putAll(options.settings);
    return new RetainConfig(props);
  }

  /** What {@code policy} changes from the defaults. */
  private Map<String, Object> policySettings(String policy) {
    if (!POLICIES.contains(policy)) {
      throw new IllegalArgumentException("unknown policy " + policy);
    }
    Map<String, Object> props = new HashMap<>();
    boolean plain = !policy.equals("retain");
    if (plain) { // a plain loop: one step per batch, no logit replay, no rehearsal, full softmax
      props.put(RetainConfig.TRAIN_NEW_REGIME_PASSES, 1);
      props.put(RetainConfig.TRAIN_LOGIT_REPLAY, 0.0);
      props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 0);
      props.put(RetainConfig.TRAIN_FRESH_LOSS, "full");
    }
    if (plain && !policy.contains("replay") && !policy.equals("joint")) {
      props.put(RetainConfig.TRAIN_REPLAY_RATIO, 0.0);
    }
    if (policy.contains("ewc")) {
      props.put(RetainConfig.TRAIN_EWC_LAMBDA, lambda);
    }
    return props;
  }

  /**
   * Domain 0 first (it pretrains the base), then every other domain's examples shuffled together,
   * all under one domain name, so the loop sees one stationary stream.
   */
  private static List<Example> joint(Scenario data, int seed) {
    List<Example> rest = new ArrayList<>();
    data.train().subList(1, data.train().size()).forEach(rest::addAll);
    Collections.shuffle(rest, new Random(seed));
    List<Example> out = new ArrayList<>(data.train().get(0));
    out.addAll(rest);
    out.replaceAll(e -> new Example(e.id(), e.features(), e.label(), "joint", e.ts()));
    return out;
  }

  /**
   * Routes the stream as ingest does (holdout or reservoir, in store batches) and hands each
   * batch's trainable examples to the learner's inbox, waiting while the inbox is full, as ingest
   * pauses its partitions.
   */
  private static void feed(
      RetainStore store,
      ModelState state,
      ExampleInbox inbox,
      TrainingLoop loop,
      List<Example> stream)
      throws InterruptedException {
    int chunk = 512;
    for (int from = 0; from < stream.size(); from += chunk) {
      inbox.accept(route(store, state, stream, from, Math.min(stream.size(), from + chunk)));
      awaitRoom(inbox, loop);
    }
  }

  /** Waits while the inbox is full, as ingest pauses its partitions; the inbox decides. */
  private static void awaitRoom(ExampleInbox inbox, TrainingLoop loop) throws InterruptedException {
    while (inbox.saturated() && loop.isAlive()) {
      TimeUnit.MILLISECONDS.sleep(1);
    }
    if (!loop.isAlive()) {
      throw new IllegalStateException("the learner stopped: " + loop.failure());
    }
  }

  private static void commit(RetainStore store, ModelState state, StoreBatch batch) {
    state.flush(batch);
    store.commit(batch);
  }

  /** Routes examples [from, to) in one store batch; the handover of the trainable ones. */
  private static Handover route(
      RetainStore store, ModelState state, List<Example> stream, int from, int to) {
    List<Example> trainable = new ArrayList<>();
    List<Long> next = new ArrayList<>();
    try (StoreBatch batch = store.newBatch()) {
      for (int i = from; i < to; i++) {
        if (state.route(stream.get(i), batch)) {
          trainable.add(stream.get(i));
          next.add(i + 1L);
        }
      }
      commit(store, state, batch);
    }
    return new Handover(
        trainable,
        Collections.nCopies(trainable.size(), PARTITION),
        next.stream().mapToLong(Long::longValue).toArray(),
        Map.of(PARTITION, (long) to));
  }

  private static void awaitQuiescent(TrainingLoop loop, ExampleInbox inbox)
      throws InterruptedException {
    while (!(inbox.size() == 0 && loop.isQuiescent())) {
      if (!loop.isAlive()) {
        throw new IllegalStateException("the learner stopped: " + loop.failure());
      }
      TimeUnit.MILLISECONDS.sleep(20); // polling cadence; the loop's state decides
    }
  }

  private static void printMatrix(String policy, AccuracyMatrix matrix) {
    System.out.println("\n" + policy + " (seed 0): test accuracy % after learning each domain");
    List<Map<String, Double>> rows = matrix.rows();
    List<String> learned = matrix.learned();
    for (int i = 0; i < rows.size(); i++) {
      StringBuilder line =
          new StringBuilder(String.format(Locale.ROOT, "  after %-9s", learned.get(i)));
      rows.get(i).values().forEach(v -> line.append(String.format(Locale.ROOT, "%7.1f", v * 100)));
      System.out.println(line);
    }
  }
}
