package dev.retain.train;

import dev.retain.record.Example;
import dev.retain.store.ModelState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The learner's side of the regimes of a stream without domains: names what the learner takes after
 * the current regime, opens a regime where the learner stands when a drift calls for one, and
 * resumes an earlier regime that {@link DriftWatch} recognised. On the learner's thread.
 */
final class RegimeKeeper {
  private static final Logger LOG = LoggerFactory.getLogger(RegimeKeeper.class);
  private final ModelState state;
  private final DriftWatch watch;
  private final TrainMetrics metrics;

  RegimeKeeper(ModelState state, DriftWatch watch, TrainMetrics metrics) {
    this.state = state;
    this.watch = watch;
    this.metrics = metrics;
  }

  /**
   * {@code fresh} with each example that came without a domain named after the current regime:
   * ingest, ahead of the learner, may have named it after a regime that has closed since.
   */
  List<Example> named(List<Example> fresh) {
    String current = state.regimes().current();
    List<Example> out = null;
    for (int i = 0; i < fresh.size(); i++) {
      Example e = fresh.get(i);
      if (!e.domain().equals(current) && state.regimes().isRegime(e.domain())) {
        out = out == null ? new ArrayList<>(fresh) : out;
        out.set(i, e.inDomain(current));
      }
    }
    return out == null ? fresh : out;
  }

  /**
   * After a step that ended at {@code trainedThrough}: opens a regime when {@code alarm} (an
   * example without a domain at which a drift was detected) calls for one, or resumes an earlier
   * regime recognised in the current one. Opening one moves the held-out examples past the
   * learner's position into it, then {@code closePrevious} consolidates what came before, on
   * holdouts of what came before.
   *
   * @return the regime the learner is in now when it changed, else null
   */
  String afterStep(
      Example alarm, Map<TopicPartition, Long> trainedThrough, Runnable closePrevious) {
    String back = watch.recurring(state);
    if (alarm != null && state.regimes().isRegime(alarm.domain())) {
      return open(trainedThrough, closePrevious);
    }
    if (back != null) {
      state.regimes().resume(back);
      metrics.regime(state.regimes().number());
      return back;
    }
    return null;
  }

  private String open(Map<TopicPartition, Long> trainedThrough, Runnable closePrevious) {
    Map<Integer, Long> start = new HashMap<>();
    trainedThrough.forEach((tp, offset) -> start.put(tp.partition(), offset));
    String opened = state.regimes().open(start);
    closePrevious.run();
    watch.opened(opened);
    metrics.regime(state.regimes().number());
    LOG.info("opened {} at {}: records without a domain are named after it", opened, start);
    return opened;
  }
}
