package dev.retain.train;

import dev.retain.record.Example;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * What the learner trains on next, from its input: the batch taken ahead (whose first layer the
 * learner's helper thread computes meanwhile), else the next one; and, for a learner that waited
 * for its turn among others, what arrived meanwhile added up to a full batch. One training thread.
 */
final class Batches {
  /** Examples drained from the input, and its position after them. */
  record Drained(List<Example> examples, Map<TopicPartition, Long> through) {
    static final Drained NONE = new Drained(List.of(), Map.of());
  }

  private final TrainingInput input;
  private final int batchSize;
  private final boolean prefetch; // see RetainConfig.TRAIN_PREFETCH
  private Drained ahead = Drained.NONE; // the next batch, taken early

  Batches(TrainingInput input, int batchSize, boolean prefetch) {
    this.input = input;
    this.batchSize = batchSize;
    this.prefetch = prefetch;
  }

  /**
   * The batch taken ahead, or else the next one: while rehearsing only a look for new examples,
   * otherwise a wait for them of up to {@code waitMs}.
   */
  Drained next(long waitMs) throws InterruptedException {
    Drained next = ahead;
    ahead = Drained.NONE;
    if (!next.examples().isEmpty()) {
      return next;
    }
    List<Example> fresh = input.drain(batchSize, waitMs);
    return new Drained(fresh, input.drainedThrough());
  }

  /** {@code fresh} with what arrived since it was taken, up to a full batch. */
  Drained topUp(Drained fresh) {
    if (fresh.examples().size() >= batchSize || !ahead.examples().isEmpty()) {
      return fresh;
    }
    List<Example> more = input.topUp(fresh.examples(), batchSize);
    return more.size() == fresh.examples().size()
        ? fresh
        : new Drained(more, input.drainedThrough());
  }

  /**
   * Takes the next batch now if it is there, so that {@code learner} computes its first layer on
   * its helper thread while this one trains.
   */
  void takeAhead(Learner learner) throws InterruptedException {
    if (prefetch) {
      List<Example> next = input.drain(batchSize, 0);
      ahead = new Drained(next, input.drainedThrough());
      learner.prefetch(next);
    }
  }
}
