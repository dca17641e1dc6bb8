package dev.retain.train;

import dev.retain.record.Example;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/** Where the learner takes new examples from, in order, with the position of what it took. */
public interface TrainingInput {
  /**
   * Up to {@code max} examples, waiting up to {@code timeoutMs} for the first; a domain never
   * drained before only ever starts a list. Empty when none arrived in time.
   */
  List<Example> drain(int max, long timeoutMs) throws InterruptedException;

  /**
   * {@code batch} (drained last) with what arrived since appended, up to {@code max} examples in
   * all, without waiting; it stops before a domain never drained before, as {@link #drain} does.
   */
  default List<Example> topUp(List<Example> batch, int max) {
    return batch;
  }

  /** Next offset per partition after everything drained so far. */
  Map<TopicPartition, Long> drainedThrough();
}
