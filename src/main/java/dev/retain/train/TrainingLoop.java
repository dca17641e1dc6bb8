package dev.retain.train;

import ai.djl.ndarray.NDManager;
import dev.retain.config.RetainConfig;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.eval.RetentionReport;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
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
  private final TrainingInput inbox;
  private final CandidateHandler handler;
  private final MeterRegistry registry;
  private final AccuracyMatrix matrix = new AccuracyMatrix();
  private final Batches batches;
  private final float logitReplay;
  private final long consolidateEvery;
  private final int rehearsalSteps;
  private final long idleMs;
  private final int minRun; // examples since a consolidation for a known domain's return to count
  private final Thread thread;
  private final StepSlots slots;
  private final AtomicLong pretrainAwaited = new AtomicLong(); // examples pretraining still needs
  private final Progress progress; // what was learned, base included
  private NDManager manager;
  private Learner learner;
  private Consolidator consolidator;
  private final DriftLog driftLog = new DriftLog();
  private DriftWatch watch;
  private RegimeKeeper regimes;
  private Stepper stepper;
  private TrainMetrics metrics;
  private String domain;
  private long sinceConsolidation;
  private int rehearsed;
  private volatile boolean closed;
  private volatile Throwable failure;
  private volatile boolean ready;
  private volatile Trigger lastTrigger;
  private volatile boolean quiescent; // idle, nothing left to consolidate
  private Map<TopicPartition, Long> trainedThrough = Map.of(); // inbox position of what was trained

  public TrainingLoop(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      TrainingInput inbox,
      CandidateHandler handler,
      MeterRegistry registry) {
    this(config, store, state, inbox, handler, registry, StepSlots.UNLIMITED);
  }

  /** A learner among others of one process, which share {@code slots} to train. */
  public TrainingLoop(
      RetainConfig config,
      RetainStore store,
      ModelState state,
      TrainingInput inbox,
      CandidateHandler handler,
      MeterRegistry registry,
      StepSlots slots) {
    this.slots = slots;
    this.config = config;
    this.store = store;
    this.state = state;
    this.inbox = inbox;
    this.handler = handler;
    this.registry = registry;
    this.batches =
        new Batches(
            inbox,
            config.getInt(RetainConfig.TRAIN_BATCH_SIZE),
            config.getBoolean(RetainConfig.TRAIN_PREFETCH));
    this.logitReplay = config.getDouble(RetainConfig.TRAIN_LOGIT_REPLAY).floatValue();
    this.consolidateEvery = config.getLong(RetainConfig.TRAIN_CONSOLIDATE_EVERY);
    this.rehearsalSteps = config.getInt(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS);
    this.idleMs = config.getLong(RetainConfig.TRAIN_IDLE_MS);
    this.minRun = config.getInt(RetainConfig.DRIFT_MIN_REGIME);
    this.progress = new Progress(config.getInt(RetainConfig.RECORD_CLASSES));
    this.thread =
        new Thread(
            this,
            slots == StepSlots.UNLIMITED ? "retain-learner" : "retain-learner-" + state.model());
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
      loop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException | Error e) {
      failure = e;
      LOG.error("the learner stopped", e);
      throw e;
    } finally {
      release();
    }
  }

  private void release() {
    if (learner != null) {
      learner.close();
    }
    if (manager != null) {
      manager.close();
    }
  }

  /**
   * Trains on what arrives; once the stream has been idle for {@code idle.ms}, rehearses for a
   * bounded number of steps, then consolidates what it has not yet.
   */
  private void loop() throws InterruptedException {
    boolean idle = false;
    while (!closed) {
      boolean rehearsing = idle && rehearsed < rehearsalSteps && state.replay().size() > 0;
      Batches.Drained fresh = batches.next(rehearsing ? 0 : idleMs);
      quiescent = idle && !rehearsing && sinceConsolidation == 0 && fresh.examples().isEmpty();
      if (!fresh.examples().isEmpty()) {
        slots.run(() -> learnAhead(fresh));
      } else if (idle) {
        slots.run(() -> idle(rehearsing));
      }
      idle = fresh.examples().isEmpty();
    }
  }

  /**
   * Trains on {@code fresh} once this learner's turn came. Among many learners the turn may take a
   * while, and what arrived meanwhile joins the batch, up to its size.
   */
  private void learnAhead(Batches.Drained fresh) throws InterruptedException {
    Batches.Drained batch = slots == StepSlots.UNLIMITED ? fresh : batches.topUp(fresh);
    batches.takeAhead(learner);
    learn(batch.examples(), batch.through());
  }

  /** While idle: rehearse, then consolidate what is not yet. */
  private void idle(boolean rehearsing) {
    if (rehearsing) {
      rehearse();
    } else if (sinceConsolidation > 0) {
      consolidate(Trigger.IDLE);
    }
  }

  private void initialise() throws InterruptedException {
    LearnerStartup.Started started =
        new LearnerStartup(config, store, state, progress, matrix, driftLog)
            .start(inbox, pretrainAwaited, () -> closed);
    manager = started.manager();
    learner = started.learner();
    domain = started.domain();
    trainedThrough = started.trainedThrough();
    if (domain != null) {
      progress.learnedDomains(List.of(domain));
    }
    handler.base(started.model().baseHash(), BaseModels.encode(started.model()));
    metrics = new TrainMetrics(registry, state.model(), matrix);
    metrics.evaluated(matrix.current().keySet());
    metrics.regime(state.regimes().number());
    driftLog.detections().forEach(d -> metrics.driftDetected(d.source())); // while gathering
    watch = new DriftWatch(config, metrics, driftLog);
    regimes = new RegimeKeeper(state, watch, metrics);
    stepper = new Stepper(config, state, learner, metrics);
    consolidator =
        new Consolidator(
            store,
            state,
            handler,
            matrix,
            progress,
            started,
            metrics,
            new Consolidator.Settings(
                config.getInt(RetainConfig.TRAIN_FISHER_SAMPLES),
                config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA) > 0,
                logitReplay > 0));
    ready = true;
  }

  /**
   * Trains on {@code taken}, consolidating first when a new domain starts (the inbox starts a batch
   * with a new domain's first example, so the consolidation's position is exactly the end of what
   * came before), or when a known domain returns at least {@code retain.drift.min.regime.examples}
   * after the last consolidation (a stream that interleaves domains consolidates that often, not at
   * every switch); {@code through} is the position once the whole batch is trained.
   */
  private void learn(List<Example> taken, Map<TopicPartition, Long> through) {
    rehearsed = 0;
    List<Example> fresh = regimes.named(taken);
    String batchDomain = fresh.get(0).domain();
    boolean known = progress.knows(batchDomain);
    if (domain != null && !batchDomain.equals(domain) && (!known || sinceConsolidation >= minRun)) {
      metrics.driftDetected();
      consolidate(Trigger.DOMAIN); // trainedThrough is still the previous domain's end
    }
    if (!known) {
      stepper.newRegime();
    }
    domain = batchDomain;
    Example alarm = train(fresh, taken);
    trainedThrough = through;
    // a drift's consolidation covers exactly what was trained, this batch included
    String regime = regimes.afterStep(alarm, through, () -> consolidate(Trigger.DRIFT));
    if (regime != null) {
      domain = regime;
      if (!progress.knows(regime)) {
        stepper.newRegime();
      }
    } else if (consolidateEvery > 0 && sinceConsolidation >= consolidateEvery) {
      consolidate(Trigger.EVERY);
    }
  }

  /**
   * One step on {@code taken} ({@code fresh}: named after the regime); a drift's alarm, or null.
   */
  private Example train(List<Example> fresh, List<Example> taken) {
    Example alarm = watch.observe(stepper.step(taken), fresh);
    sinceConsolidation += fresh.size();
    fresh.forEach(progress::learned);
    consolidator.remember(fresh);
    return alarm;
  }

  /** One replay-only step while the stream is idle. */
  private void rehearse() {
    stepper.rehearse();
    rehearsed++;
  }

  private void consolidate(Trigger trigger) {
    String next = trigger == Trigger.DRIFT ? state.regimes().current() : domain;
    consolidator.consolidate(trigger, domain, next, trainedThrough);
    sinceConsolidation = 0;
    lastTrigger = trigger;
  }

  /** The drifts the learner detected, and its prequential outcomes to a tool that listens. */
  public DriftLog drift() {
    return driftLog;
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

  /** What caused the latest consolidation (null before the first). */
  public Trigger lastTrigger() {
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
