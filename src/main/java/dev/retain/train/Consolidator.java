package dev.retain.train;

import dev.retain.eval.AccuracyMatrix;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import dev.retain.store.ReplayBuffer;
import dev.retain.store.RetainStore;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consolidation: the Fisher of the recent examples (with an EWC penalty), evaluation of the
 * learner and the champion on every learned domain's holdout, logit targets for what was learned
 * since, a checkpoint, and the candidate offered for publication (whose gate may reset the adapter
 * to the champion's).
 */
final class Consolidator {
  private static final Logger LOG = LoggerFactory.getLogger(Consolidator.class);
  private static final int TARGET_CHUNK = 512;
  private final RetainStore store;
  private final ModelState state;
  private final CandidateHandler handler;
  private final AccuracyMatrix matrix;
  private final Progress progress;
  private final LoraNet model;
  private final Learner learner;
  private final Evaluation evaluation;
  private final TrainMetrics metrics;
  private final ArrayDeque<Example> recent = new ArrayDeque<>(); // for the Fisher
  private final int fisherSamples;
  private final boolean ewc;
  private final boolean logitReplay;

  record Settings(int fisherSamples, boolean ewc, boolean logitReplay) {}

  Consolidator(
      RetainStore store,
      ModelState state,
      CandidateHandler handler,
      AccuracyMatrix matrix,
      Progress progress,
      LearnerStartup.Started started,
      TrainMetrics metrics,
      Settings settings) {
    this.store = store;
    this.state = state;
    this.handler = handler;
    this.matrix = matrix;
    this.progress = progress;
    this.model = started.model();
    this.learner = started.learner();
    this.evaluation = new Evaluation(state.holdout(), progress, model, learner);
    this.metrics = metrics;
    this.fisherSamples = settings.fisherSamples();
    this.ewc = settings.ewc();
    this.logitReplay = settings.logitReplay();
  }

  /** Keeps the most recent examples for the next Fisher estimate. */
  void remember(List<Example> fresh) {
    for (Example e : fresh) {
      recent.addLast(e);
      if (recent.size() > fisherSamples) {
        recent.removeFirst();
      }
    }
  }

  /**
   * Consolidates what was trained up to {@code through}, the last of it in {@code domain}; the
   * checkpoint says the learner goes on in {@code next} (the regime a drift just opened, or {@code
   * domain}), so that a restart before ingest stored that regime opens it again.
   */
  void consolidate(Trigger trigger, String domain, String next, Map<TopicPartition, Long> through) {
    if (!recent.isEmpty() && ewc) {
      learner.consolidate(new ArrayList<>(recent)); // the Fisher only matters with a penalty
    }
    recent.clear();
    metrics.penalty(learner.ewcPenalty());
    Map<String, Double> accuracy = evaluation.current();
    Map<String, Double> championAccuracy = evaluation.of(handler.champion());
    matrix.record(domain == null ? "" : domain, accuracy);
    metrics.evaluated(accuracy.keySet());
    metrics.consolidations(trigger.tag()).increment();
    Candidate candidate = candidate(trigger, domain, through, accuracy, championAccuracy);
    if (logitReplay) {
      recordTargets(learner, state.replay(), progress.classes());
    }
    // the learner's state is durable before the candidate can become a version: a kill after a
    // promotion can then never leave the learner behind its own champion
    checkpoint(next, through);
    Map<String, SafeTensors.Tensor> resetTo = handler.offer(candidate);
    if (resetTo != null) {
      model.loadAdapter(resetTo);
      checkpoint(next, through);
    }
    LOG.info(
        "consolidated ({}) at step {}: average accuracy {}, per domain {}",
        trigger.tag(),
        learner.steps(),
        String.format("%.3f", matrix.averageAccuracy()),
        accuracy);
  }

  private Candidate candidate(
      Trigger trigger,
      String domain,
      Map<TopicPartition, Long> through,
      Map<String, Double> accuracy,
      Map<String, Double> championAccuracy) {
    return new Candidate(
        state.model(),
        model.adapterTensors(),
        accuracy,
        championAccuracy,
        model.baseHash(),
        through,
        learner.steps(),
        domain,
        trigger,
        evaluation.holdoutSizes(accuracy.keySet()),
        evaluation.majorityBaseline(accuracy.keySet()));
  }

  private void checkpoint(String domain, Map<TopicPartition, Long> through) {
    Checkpoints.save(
        store,
        state.model(),
        learner,
        state.replay().targetsById(),
        matrix.rows(),
        matrix.learned(),
        domain,
        through);
  }

  /**
   * Gives the held examples of {@code replay} that have been learned but have no target the current
   * logits of {@code learner}, in chunks. The logit of a class not yet learned is left out of the
   * target (NaN): pinning it would hold that class down on old examples once it arrives, and a
   * class-incremental stream then never learns its newest classes well (as X-DER observes of
   * DER++). Called at each consolidation, so that an example's target comes from a model that has
   * learned it (and its domain), not from one that had not seen it yet.
   */
  static void recordTargets(Learner learner, ReplayBuffer replay, boolean[] learnedClasses) {
    List<Example> untargeted = replay.untargeted();
    for (int from = 0; from < untargeted.size(); from += TARGET_CHUNK) {
      List<Example> part =
          untargeted.subList(from, Math.min(untargeted.size(), from + TARGET_CHUNK));
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
}
