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

  /** Next offset per partition after everything drained so far. */
  Map<TopicPartition, Long> drainedThrough();
}
