package dev.retain.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.config.RetainConfig;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.eval.RetentionReport;
import dev.retain.ingest.ExampleInbox;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.ReplayBuffer;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learner's thread: drains new examples from the inbox (one batch ahead, whose first layer the
 * learner computes on its helper thread meanwhile), joins each batch with a replay sample, steps
 * the adapter, and consolidates (Fisher, anchors, evaluation on every domain's holdout, checkpoint,
 * candidate) at each domain boundary, every {@code retain.train.consolidate.every} new examples and
 * when the stream goes idle. While idle it rehearses from the replay buffer for a bounded number of
 * steps. It never blocks ingest: ingest only hands examples over, and pauses when the inbox is
 * full.
 */
public final class TrainingLoop implements Runnable, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TrainingLoop.class);
  private final RetainConfig config;
  private final RetainStore store;
  private final ModelState state;
  private final ExampleInbox inbox;
  private final CandidateHandler handler;
  private final MeterRegistry registry;
  private final AccuracyMatrix matrix = new AccuracyMatrix();
  private final ArrayDeque<Example> recent = new ArrayDeque<>();
  private final SplittableRandom random;
  private final int batchSize;
  private final boolean prefetch; // see RetainConfig.TRAIN_PREFETCH
  private final double replayRatio;
  private final float logitReplay;
  private final long consolidateEvery;
  private final int fisherSamples;
  private final int rehearsalSteps;
  private final long idleMs;
  private final boolean ewc;
  private final Thread thread;
  private NDManager manager;
  private LoraNet model;
  private Learner learner;
  private TrainMetrics metrics;
  private String domain;
  private long sinceConsolidation;
  private int rehearsed;
  private volatile boolean closed;
  private volatile Throwable failure;
  private volatile boolean ready;
  private volatile String lastTrigger = "";
  private volatile boolean quiescent; // idle, nothing left to consolidate
  private final AtomicLong pretrainAwaited = new AtomicLong(); // examples pretraining still needs
  private final Progress progress; // what was learned, base included
  private Evaluation evaluation;
  private List<Example> lookahead = List.of(); // the next batch, taken early (see run)
  private Map<TopicPartition, Long> lookaheadThrough = Map.of();
  private Map<TopicPartition, Long> trainedThrough = Map.of(); // inbox position of what was trained

  public TrainingLoop(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      ExampleInbox inbox,
      CandidateHandler handler,
      MeterRegistry registry) {
    this.config = config;
    this.store = store;
    this.state = state;
    this.inbox = inbox;
    this.handler = handler;
    this.registry = registry;
    this.random = new SplittableRandom(config.getLong(RetainConfig.TRAIN_SEED));
    this.batchSize = config.getInt(RetainConfig.TRAIN_BATCH_SIZE);
    this.prefetch = config.getBoolean(RetainConfig.TRAIN_PREFETCH);
    this.replayRatio = config.getDouble(RetainConfig.TRAIN_REPLAY_RATIO);
    this.logitReplay = config.getDouble(RetainConfig.TRAIN_LOGIT_REPLAY).floatValue();
    this.consolidateEvery = config.getLong(RetainConfig.TRAIN_CONSOLIDATE_EVERY);
    this.fisherSamples = config.getInt(RetainConfig.TRAIN_FISHER_SAMPLES);
    this.rehearsalSteps = config.getInt(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS);
    this.idleMs = config.getLong(RetainConfig.TRAIN_IDLE_MS);
    this.ewc = config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA) > 0;
    this.progress = new Progress(config.getInt(RetainConfig.RECORD_CLASSES));
    this.thread = new Thread(this, "retain-learner");
    thread.setDaemon(true);
    thread.setUncaughtExceptionHandler((t, e) -> failure = e);
    Gauge.builder("retain.train.pretrain.awaited", pretrainAwaited, AtomicLong::get)
        .tag("model", state.model())
        .description(
            "Examples the learner still waits for before it pretrains its base (0 once it has a"
                + " base)")
        .register(registry);
  }

  public TrainingLoop start() {
    thread.start();
    return this;
  }

  @Override
  public void run() {
    try {
      initialise();
      boolean idle = false;
      while (!closed) {
        boolean rehearsing = idle && rehearsed < rehearsalSteps && state.replay().size() > 0;
        List<Example> fresh = lookahead;
        Map<TopicPartition, Long> through = lookaheadThrough;
        if (fresh.isEmpty()) {
          // while rehearsing, only look for new examples; otherwise wait for them up to idle.ms
          fresh = inbox.drain(batchSize, rehearsing ? 0 : idleMs);
          through = inbox.drainedThrough();
        }
        lookahead = List.of();
        quiescent = idle && !rehearsing && sinceConsolidation == 0 && fresh.isEmpty();
        if (!fresh.isEmpty()) {
          idle = false;
          if (prefetch) {
            // take the next batch now if it is there, so that its first layer is computed on the
            // learner's helper thread while this one trains
            lookahead = inbox.drain(batchSize, 0);
            lookaheadThrough = inbox.drainedThrough();
            learner.prefetch(lookahead);
          }
          learn(fresh, through);
        } else if (!idle) {
          idle = true;
        } else if (rehearsing) {
          rehearse();
        } else if (sinceConsolidation > 0) {
          consolidate("idle");
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      failure = e;
      LOG.error("the learner stopped", e);
      throw e;
    } finally {
      if (learner != null) {
        learner.close();
      }
      if (manager != null) {
        manager.close();
      }
    }
  }

  private void initialise() throws InterruptedException {
    Devices.configureThreads(config.getInt(RetainConfig.TRAIN_THREADS));
    Engine.getInstance().setRandomSeed(config.getLong(RetainConfig.TRAIN_SEED).intValue());
    // the engine may have started on another thread, and keeps the thread count per thread
    Devices.useThreads(config.getInt(RetainConfig.TRAIN_THREADS));
    manager = Devices.manager(config.getString(RetainConfig.TRAIN_DEVICE));
    LOG.info(
        "training on {} ({}={}), {} intra-op engine threads",
        manager.getDevice(),
        RetainConfig.TRAIN_DEVICE,
        config.getString(RetainConfig.TRAIN_DEVICE),
        Devices.threadsOfThisThread());
    model = BaseModels.create(manager, config);
    BaseSetup base = new BaseSetup(config, store, state, pretrainAwaited);
    if (base.load(model)) {
      // a restart (or a base from a file): what the store holds was ingested before this learner
      // started, and will not be handed to it again
      state.replay().markAllLearned();
      state.replay().snapshot().forEach(e -> progress.classes()[e.label()] = true);
    } else {
      List<Example> first = base.pretrain(model, inbox, () -> closed);
      domain = first.get(first.size() - 1).domain();
      trainedThrough = inbox.drainedThrough();
      progress.learnedAll(first);
      BaseSetup.warnIfPartial(progress);
      state.replay().markLearned(first); // the base has learned them
    }
    learner =
        new Learner(
            model,
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getDouble(RetainConfig.TRAIN_LEARNING_RATE).floatValue(),
            config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA).floatValue(),
            config.getDouble(RetainConfig.TRAIN_EWC_GAMMA).floatValue());
    learner.setAceFresh(config.getString(RetainConfig.TRAIN_FRESH_LOSS).equals("ace"));
    Checkpoints.Restored restored = Checkpoints.load(store, state.model());
    if (restored != null) {
      learner.restore(restored.learner());
      state.replay().restoreTargets(restored.targets());
      restored.rows().forEach(row -> matrix.record(row.learned(), row.accuracy()));
      domain = restored.domain();
      trainedThrough = restored.positions(); // a candidate's provenance continues where it was
      restored.rows().forEach(row -> progress.learnedDomains(row.accuracy().keySet()));
      if (domain != null) {
        progress.learnedDomains(List.of(domain));
      }
      LOG.info("resumed the learner at step {} (domain {})", learner.steps(), domain);
    }
    evaluation = new Evaluation(state.holdout(), progress, model, learner);
    handler.base(model.baseHash(), BaseModels.encode(model));
    metrics = new TrainMetrics(registry, state.model(), matrix);
    metrics.evaluated(matrix.current().keySet());
    ready = true;
  }

  /**
   * Trains on {@code fresh}, consolidating at each domain boundary first (the inbox never hands
   * over a batch that crosses one, so a boundary is at its start and the consolidation's position
   * is exactly the end of the previous domain); {@code through} is the position once the whole
   * batch is trained.
   */
  private void learn(List<Example> fresh, Map<TopicPartition, Long> through) {
    rehearsed = 0;
    String batchDomain = fresh.get(0).domain();
    if (domain != null && !batchDomain.equals(domain)) {
      metrics.driftDetected();
      consolidate("domain"); // trainedThrough is still the previous domain's end
    }
    domain = batchDomain;
    train(fresh);
    trainedThrough = through;
    if (consolidateEvery > 0 && sinceConsolidation >= consolidateEvery) {
      consolidate("every");
    }
  }

  private void train(List<Example> fresh) {
    int replayCount = (int) Math.round(fresh.size() * replayRatio);
    long start = System.nanoTime();
    List<Example> replayed = state.replay().sample(replayCount, random);
    Learner.StepResult result = learner.step(fresh, replayed, targets(replayed), logitReplay);
    metrics.step(System.nanoTime() - start, result, fresh.size(), replayed.size());
    state.replay().markLearned(fresh); // replayable from now on
    sinceConsolidation += fresh.size();
    for (Example e : fresh) {
      progress.learned(e);
      recent.addLast(e);
      if (recent.size() > fisherSamples) {
        recent.removeFirst();
      }
    }
  }

  /** One replay-only step while the stream is idle. */
  private void rehearse() {
    long start = System.nanoTime();
    List<Example> replayed = state.replay().sample(batchSize * 2, random);
    Learner.StepResult result = learner.step(List.of(), replayed, targets(replayed), logitReplay);
    metrics.step(System.nanoTime() - start, result, 0, replayed.size());
    rehearsed++;
  }

  private List<float[]> targets(List<Example> replayed) {
    return logitReplay > 0 ? state.replay().targets(replayed) : List.of();
  }

  /**
   * Gives every held example that has been learned but has no target the current model's logits.
   * Called at each consolidation, so that an example's target comes from a model that has learned
   * it (and its domain), not from one that had not seen it yet.
   */
  private void recordTargets() {
    if (logitReplay > 0) {
      recordTargets(learner, state.replay(), progress.classes());
    }
  }

  /**
   * Gives the held examples of {@code replay} that have been learned but have no target the current
   * logits of {@code learner}, in chunks of 512 rows. The logit of a class not yet learned is left
   * out of the target (NaN): pinning it would hold that class down on old examples once it arrives,
   * and a class-incremental stream then never learns its newest classes well (as X-DER observes of
   * DER++).
   */
  public static void recordTargets(Learner learner, ReplayBuffer replay, boolean[] learnedClasses) {
    List<Example> untargeted = replay.untargeted();
    for (int from = 0; from < untargeted.size(); from += 512) {
      List<Example> part = untargeted.subList(from, Math.min(untargeted.size(), from + 512));
      float[] logits = learner.logits(part);
      int classes = logits.length / part.size();
      for (int i = 0; i < logits.length; i++) {
        if (!learnedClasses[i % classes]) {
          logits[i] = Float.NaN;
        }
      }
      replay.target(part, logits, classes);
    }
  }

  private void consolidate(String trigger) {
    if (!recent.isEmpty() && ewc) {
      learner.consolidate(new ArrayList<>(recent)); // the Fisher only matters with a penalty
    }
    recent.clear();
    metrics.penalty(learner.ewcPenalty());
    Map<String, Double> accuracy = evaluation.current();
    Map<String, Double> championAccuracy = evaluation.of(handler.champion());
    matrix.record(domain == null ? "" : domain, accuracy);
    metrics.evaluated(accuracy.keySet());
    metrics.consolidations(trigger).increment();
    Candidate candidate =
        new Candidate(
            state.model(),
            model.adapterTensors(),
            accuracy,
            championAccuracy,
            model.baseHash(),
            trainedThrough,
            learner.steps(),
            domain,
            trigger,
            evaluation.holdoutSizes(accuracy.keySet()),
            evaluation.majorityBaseline(accuracy.keySet()));
    recordTargets();
    // the learner's state is durable before the candidate can become a version: a kill after a
    // promotion can then never leave the learner behind its own champion
    checkpoint();
    Map<String, SafeTensors.Tensor> resetTo = handler.offer(candidate);
    if (resetTo != null) {
      model.loadAdapter(resetTo);
      checkpoint();
    }
    sinceConsolidation = 0;
    lastTrigger = trigger;
    LOG.info(
        "consolidated ({}) at step {}: average accuracy {}, per domain {}",
        trigger,
        learner.steps(),
        String.format("%.3f", matrix.averageAccuracy()),
        accuracy);
  }

  private void checkpoint() {
    Checkpoints.save(
        store,
        state.model(),
        learner,
        state.replay().targetsById(),
        matrix.rows(),
        matrix.learned(),
        domain,
        trainedThrough);
  }

  /**
   * Where the last checkpoint of {@code model}'s learner says it had trained up to, per partition
   * (empty without a checkpoint): ingest hands the learner what lies between that and its stored
   * position again after a restart.
   */
  public static Map<TopicPartition, Long> checkpointedPositions(RetainStore store, String model) {
    Checkpoints.Restored restored = Checkpoints.load(store, model);
    return restored == null ? Map.of() : restored.positions();
  }

  /** What metrics and publishing read. */
  public RetentionReport report() {
    return matrix;
  }

  /** The full accuracy matrix (rows after each consolidation). */
  public AccuracyMatrix matrix() {
    return matrix;
  }

  /** True once the base is loaded or pretrained and the learner is running. */
  public boolean isReady() {
    return ready;
  }

  /** What caused the latest consolidation: domain, every or idle ("" before the first). */
  public String lastTrigger() {
    return lastTrigger;
  }

  /**
   * True while the learner waits for examples with nothing left to do: every example it drained is
   * trained on and consolidated, and no rehearsal is pending.
   */
  public boolean isQuiescent() {
    return quiescent;
  }

  public boolean isAlive() {
    return thread.isAlive();
  }

  /** The failure that ended the loop, or null. */
  public Throwable failure() {
    return failure;
  }

  @Override
  public void close() {
    closed = true;
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
