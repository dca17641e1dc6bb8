package dev.retain.train;

import dev.retain.config.RetainConfig;
import dev.retain.drift.InputDrift;
import dev.retain.drift.InputSummary;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches what the learner takes for drifts, with two detectors: the prequential error ({@link
 * PrequentialMonitor}) and, with {@code retain.drift.input.training}, the inputs' random
 * projections ({@link InputDrift}), which need no label and see a change that leaves the error
 * flat. On a stream without domains it decides when a regime opens: at the first detection of a
 * drift, unless the current regime is younger than {@code retain.drift.min.regime.examples} (then
 * the detection is the slower detector of the same drift, counted but not acted on). Once the new
 * regime has {@code retain.drift.recurring.examples} examples, it compares their projections with
 * each earlier regime's holdout: a regime that matches has come back ({@link #recurring}). On the
 * learner's thread.
 */
final class DriftWatch {
  private static final Logger LOG = LoggerFactory.getLogger(DriftWatch.class);

  private final PrequentialMonitor errors;
  private final InputDrift inputs; // null: the inputs are not watched
  private final InputSummary summary;
  private final TrainMetrics metrics;
  private final int minRegime;
  private final int recurringExamples;
  private final double recurringAlpha;
  private final DriftLog log;
  private long sinceOpen = Long.MAX_VALUE / 2; // examples since the last regime opened
  private List<double[]> newcomers; // the new regime's first summaries; null: not collecting
  private String pending; // the source of a detection not yet acted on

  DriftWatch(RetainConfig config, TrainMetrics metrics, DriftLog log) {
    this.log = log;
    this.errors = new PrequentialMonitor(config, metrics);
    this.metrics = metrics;
    this.summary = InputSummary.of(config);
    this.inputs = inputTest(config, summary);
    if (inputs != null) {
      metrics.driftStatistic(inputs.name(), inputs::statistic);
    }
    this.minRegime = config.getInt(RetainConfig.DRIFT_MIN_REGIME);
    this.recurringExamples = config.getInt(RetainConfig.DRIFT_RECURRING_EXAMPLES);
    this.recurringAlpha = config.getDouble(RetainConfig.DRIFT_RECURRING_ALPHA);
  }

  /** The learner's input test ({@code retain.drift.input.training}), or null when it is off. */
  static InputDrift inputTest(RetainConfig config, InputSummary summary) {
    return config.getBoolean(RetainConfig.DRIFT_INPUT_TRAINING)
        ? InputDrift.configured(config, summary.dims())
        : null;
  }

  /**
   * The step's new examples, named after their regime (the error detector reads the step's logits);
   * the example at which a drift calls for a new regime, or null.
   */
  Example observe(Learner.StepResult result, List<Example> fresh) {
    Example errorAlarm = errors.observe(result, fresh, log.listener());
    if (errorAlarm != null) {
      detected(errors.name(), errorAlarm);
    }
    Example inputAlarm = observeInputs(fresh);
    Example alarm = errorAlarm != null ? errorAlarm : inputAlarm;
    sinceOpen += fresh.size();
    return alarm != null && sinceOpen - fresh.size() >= minRegime ? alarm : null;
  }

  /** Adds the inputs' summaries to the input test and the newcomers; the input alarm, or null. */
  private Example observeInputs(List<Example> fresh) {
    Example alarm = null;
    for (Example e : fresh) {
      double[] s = summary.of(e.features());
      if (newcomers != null && newcomers.size() < recurringExamples) {
        newcomers.add(s);
      }
      if (inputs != null && inputs.add(s)) {
        metrics.driftDetected(inputs.name());
        LOG.info("the learner's inputs drifted at {} (domain {})", e.id(), e.domain());
        detected(inputs.name(), e);
        alarm = alarm == null ? e : alarm;
      }
    }
    return alarm;
  }

  private void detected(String source, Example at) {
    log.detected(new DriftDetection(source, at.id(), at.domain(), null));
    pending = source;
  }

  /** A regime opened at the last detection: its first examples are collected from now on. */
  void opened(String regime) {
    log.opened(regime);
    LOG.info("{} opened {}", pending, regime);
    sinceOpen = 0;
    newcomers = recurringExamples > 0 ? new ArrayList<>(recurringExamples) : null;
  }

  /**
   * The earlier regime that the current one is, once enough of the current one's examples are in,
   * or null: the earlier regime whose holdout's projections match them best, if the test that they
   * differ has a p-value of at least {@code retain.drift.recurring.alpha}. Asked once per regime.
   */
  String recurring(ModelState state) {
    if (newcomers == null || newcomers.size() < recurringExamples) {
      return null;
    }
    double[][] now = newcomers.toArray(double[][]::new);
    newcomers = null;
    String current = state.regimes().current();
    String best = null;
    double bestP = recurringAlpha;
    for (String regime : state.holdout().domains()) {
      double p = match(state, regime, current, now);
      if (p >= bestP) {
        best = regime;
        bestP = p;
      }
    }
    if (best != null) {
      LOG.info("{} is {} come back (p {})", current, best, String.format("%.3g", bestP));
    }
    return best;
  }

  /**
   * The p-value that {@code now} and {@code regime}'s holdout come from one distribution; 0 when
   * {@code regime} is the current one, not a regime, or holds fewer than 50 examples.
   */
  private double match(ModelState state, String regime, String current, double[][] now) {
    List<Example> holdout = state.holdout().holdout(regime);
    if (regime.equals(current) || !state.regimes().isRegime(regime) || holdout.size() < 50) {
      return 0;
    }
    double[][] then = holdout.stream().map(e -> summary.of(e.features())).toArray(double[][]::new);
    return InputDrift.sameDistribution(now, then);
  }
}
