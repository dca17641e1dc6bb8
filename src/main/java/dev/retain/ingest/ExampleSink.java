package dev.retain.ingest;

import dev.retain.record.Example;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/** Where ingest hands accepted, committed, trainable examples (the learner's inbox). */
public interface ExampleSink {
  /**
   * Called by the ingest thread once per committed batch, after the store commit.
   *
   * @param examples the batch's trainable examples, in offset order (may be empty)
   * @param positions the next offset per partition once this batch is consumed
   */
  void accept(List<Example> examples, Map<TopicPartition, Long> positions);

  /** True while the consumer of this sink lags; ingest then pauses its partitions. */
  boolean saturated();

  /** A sink that drops everything and never lags (ingest without a learner). */
  ExampleSink DISCARD =
      new ExampleSink() {
        @Override
        public void accept(List<Example> examples, Map<TopicPartition, Long> positions) {}

        @Override
        public boolean saturated() {
          return false;
        }
      };
}
