package dev.retain.ingest;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.kafka.common.TopicPartition;

/**
 * Records stored before but not trained on (a learner killed between the store write and its
 * checkpoint): at this process's first assignment of a partition, ingest reads again from where the
 * learner's checkpoint says it trained up to, and hands those records to the learner only, without
 * store effects, dead letters or counts, until it reaches the stored position.
 */
final class CatchUp {
  private final Map<TopicPartition, Long> until = new ConcurrentHashMap<>();
  private final Set<String> handed = ConcurrentHashMap.newKeySet(); // ids given again
  private final Set<TopicPartition> resumed = ConcurrentHashMap.newKeySet();
  private volatile Function<TopicPartition, Long> trainedThrough = tp -> null;
  private volatile BiFunction<String, TopicPartition, Long> byModel = (model, tp) -> null;

  /**
   * @param earliest per partition, the earliest position any model's learner trained up to
   * @param byModel per model and partition, where its learner trained up to (null: no checkpoint)
   */
  void trainedThrough(
      Function<TopicPartition, Long> earliest, BiFunction<String, TopicPartition, Long> byModel) {
    this.trainedThrough = earliest;
    this.byModel = byModel;
  }

  /**
   * True when {@code model}'s learner has this record of {@code tp} already (or never will: it has
   * no checkpoint, so it never lost anything it trained on).
   */
  boolean trained(String model, TopicPartition tp, long offset) {
    Long through = byModel.apply(model, tp);
    return through == null || offset < through;
  }

  /**
   * Where to start reading {@code tp}, whose stored position is {@code stored}: where the learner
   * trained up to when that is before it, at the first assignment only (later, the learner here did
   * not lose what it trained on, and must not get it twice); otherwise null.
   */
  Long start(TopicPartition tp, Long stored) {
    until.remove(tp);
    Long trained = resumed.add(tp) ? trainedThrough.apply(tp) : null;
    if (stored == null || trained == null || trained >= stored) {
      return null;
    }
    until.put(tp, stored);
    return trained;
  }

  /** The stored position of {@code tp} while it is caught up on; else null. */
  Long until(TopicPartition tp) {
    return until.get(tp);
  }

  /** Notes that {@code tp} has been read up to {@code next}. */
  void reached(TopicPartition tp, long next) {
    Long end = until.get(tp);
    if (end != null && next >= end) {
      until.remove(tp);
      handed.clear();
    }
  }

  /** True the first time an id is handed again (an id stored twice was a duplicate). */
  boolean firstTime(String id) {
    return handed.add(id);
  }

  void forget(TopicPartition tp) {
    until.remove(tp);
  }
}
