package dev.retain.train;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.search.Search;
import java.util.concurrent.TimeUnit;

/**
 * The learner's training throughput as its own meters tell it: steps, examples trained on (new plus
 * replayed) and the seconds its steps took.
 */
public record StepThroughput(long steps, double examples, double seconds) {
  /** What the learner's meters in {@code meters} say so far (zeros before the first step). */
  public static StepThroughput read(MeterRegistry meters) {
    Timer timer = Search.in(meters).name(TrainMetrics.STEP_DURATION).timer();
    double examples =
        Search.in(meters)
            .name(
                n ->
                    n.equals(TrainMetrics.EXAMPLES_NEW) || n.equals(TrainMetrics.EXAMPLES_REPLAYED))
            .counters()
            .stream()
            .mapToDouble(Counter::count)
            .sum();
    return timer == null
        ? new StepThroughput(0, 0, 0)
        : new StepThroughput(timer.count(), examples, timer.totalTime(TimeUnit.SECONDS));
  }

  /** Examples per second of the steps; 0 before the first step. */
  public double perSecond() {
    return seconds > 0 ? examples / seconds : 0;
  }
}
