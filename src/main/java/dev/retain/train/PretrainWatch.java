package dev.retain.train;

import dev.retain.config.RetainConfig;
import dev.retain.drift.InputDrift;
import dev.retain.drift.InputSummary;
import dev.retain.record.Example;
import dev.retain.store.ModelState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the examples gathered to pretrain the base, on a stream without domains: the learner's
 * detectors start only once it trains, so a drift among the first {@code
 * retain.model.pretrain.examples} would otherwise go unseen and two regimes would share one name.
 * When the input test ({@code retain.drift.input.training}) finds one, a regime opens where the
 * gathering stands; the base is still pretrained on every example gathered, as it is when a
 * producer's domain changes among them, so that it has seen the new regime's first examples too.
 */
final class PretrainWatch {
  private static final Logger LOG = LoggerFactory.getLogger(PretrainWatch.class);
  private final ModelState state;
  private final DriftLog log;
  private final InputSummary summary;
  private final InputDrift inputs; // null: not watched

  PretrainWatch(RetainConfig config, ModelState state, DriftLog log) {
    this.state = state;
    this.log = log;
    this.summary = InputSummary.of(config);
    this.inputs = DriftWatch.inputTest(config, summary);
  }

  /**
   * Watches {@code drained}, just taken from {@code input}; true when a drift among them opened a
   * regime at {@code input}'s position.
   */
  boolean drifted(List<Example> drained, TrainingInput input) {
    if (inputs == null) {
      return false;
    }
    for (Example e : drained) {
      if (state.regimes().isRegime(e.domain()) && inputs.add(summary.of(e.features()))) {
        Map<Integer, Long> start = new HashMap<>();
        input.drainedThrough().forEach((tp, offset) -> start.put(tp.partition(), offset));
        String opened = state.regimes().open(start);
        log.detected(new DriftDetection(inputs.name(), e.id(), e.domain(), null));
        log.opened(opened);
        LOG.info(
            "the inputs drifted at {} while the base's examples were gathered: {}", e.id(), opened);
        return true;
      }
    }
    return false;
  }
}
