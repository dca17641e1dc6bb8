package dev.retain.streams;

import dev.retain.record.Feedback;
import dev.retain.record.Prediction;
import java.time.Duration;
import java.util.function.Predicate;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.TimestampedKeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;

/**
 * Joins each of this model's labels with the remembered prediction of its id: an example when the
 * label came within the window of the prediction, a dead letter with the reason otherwise.
 */
final class JoinLabels implements Processor<String, String, byte[], byte[]> {
  private final FeedbackExamples join;
  private final Predicate<String> models;
  private final long windowMs;
  private ProcessorContext<byte[], byte[]> context;
  private TimestampedKeyValueStore<String, String> store;

  JoinLabels(FeedbackExamples join, Predicate<String> models, Duration window) {
    this.join = join;
    this.models = models;
    this.windowMs = window.toMillis();
  }

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    this.context = context;
    this.store = context.getStateStore(FeedbackExamples.STORE);
  }

  @Override
  public void process(Record<String, String> record) {
    if (record.key() == null || !models.test(record.key())) {
      return; // a label of a model not served here
    }
    FeedbackExamples.Counters counters = join.counters(record.key());
    Feedback feedback = record.value() == null ? null : Feedback.parse(record.value());
    if (feedback == null) {
      refuse(record, FeedbackExamples.Rejection.UNPARSABLE, "not {\"id\": ..., \"label\": ...}");
      return;
    }
    ValueAndTimestamp<String> stored =
        store.get(FeedbackExamples.storeKey(record.key(), feedback.id()));
    Prediction prediction = stored == null ? null : Prediction.parse(stored.value());
    if (prediction == null) {
      refuse(record, FeedbackExamples.Rejection.UNKNOWN_ID, "no prediction " + feedback.id());
    } else if (record.timestamp() - stored.timestamp() > windowMs) {
      long late = record.timestamp() - stored.timestamp();
      refuse(record, FeedbackExamples.Rejection.LATE, late + " ms after the prediction");
    } else {
      counters.joined().increment();
      byte[] value = join.example(prediction, feedback, stored.timestamp());
      var headers = FeedbackExamples.exampleHeaders(prediction, stored.timestamp());
      byte[] key = FeedbackExamples.utf8(record.key());
      context.forward(
          new Record<>(key, value, record.timestamp(), headers), FeedbackExamples.EXAMPLES);
    }
  }

  private void refuse(
      Record<String, String> record, FeedbackExamples.Rejection why, String detail) {
    FeedbackExamples.Counters counters = join.counters(record.key());
    switch (why) {
      case UNKNOWN_ID -> counters.unknown().increment();
      case LATE -> counters.late().increment();
      case UNPARSABLE -> counters.unparsable().increment();
    }
    RecordMetadata source = context.recordMetadata().orElseThrow();
    var headers =
        FeedbackExamples.deadLetterHeaders(
            why, detail, source.topic(), source.partition(), source.offset());
    byte[] value = record.value() == null ? null : FeedbackExamples.utf8(record.value());
    byte[] key = FeedbackExamples.utf8(record.key());
    context.forward(
        new Record<>(key, value, record.timestamp(), headers), FeedbackExamples.DEAD_LETTERS);
  }
}
