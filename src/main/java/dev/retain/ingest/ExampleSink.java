package dev.retain.ingest;

/** Where ingest hands accepted, committed, trainable examples (the learner's inbox). */
public interface ExampleSink {
  /** Called by the ingest thread once per committed batch, after the store commit. */
  void accept(Handover batch);

  /** True while the consumer of this sink lags; ingest then pauses its partitions. */
  boolean saturated();

  /** A sink that drops everything and never lags (ingest without a learner). */
  ExampleSink DISCARD =
      new ExampleSink() {
        @Override
        public void accept(Handover batch) {}

        @Override
        public boolean saturated() {
          return false;
        }
      };
}
