package dev.retain.streams;

import dev.retain.record.Prediction;
import java.time.Duration;
import java.util.function.Predicate;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.TimestampedKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

/**
 * Keeps the followed models' served predictions by model and id, with their time, for twice the
 * feedback window; once a minute of wall-clock time it forgets the older ones.
 */
final class RememberPredictions implements Processor<String, String, Void, Void> {
  private final Predicate<String> models;
  private final long keepMs;
  private TimestampedKeyValueStore<String, String> store;

  RememberPredictions(Predicate<String> models, Duration window) {
    this.models = models;
    this.keepMs = 2 * window.toMillis();
  }

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    store = context.getStateStore(FeedbackExamples.STORE);
    context.schedule(Duration.ofMinutes(1), PunctuationType.WALL_CLOCK_TIME, this::forgetBefore);
  }

  @Override
  public void process(Record<String, String> record) {
    if (record.key() == null || !models.test(record.key()) || record.value() == null) {
      return;
    }
    String id = Prediction.idOf(record.value());
    if (id != null) {
      store.put(
          FeedbackExamples.storeKey(record.key(), id),
          ValueAndTimestamp.make(record.value(), record.timestamp()));
    }
  }

  /** Forgets predictions made more than twice the window before {@code now}. */
  private void forgetBefore(long now) {
    try (KeyValueIterator<String, ValueAndTimestamp<String>> all = store.all()) {
      while (all.hasNext()) {
        KeyValue<String, ValueAndTimestamp<String>> entry = all.next();
        if (entry.value.timestamp() < now - keepMs) {
          store.delete(entry.key);
        }
      }
    }
  }
}
