package dev.retain.streams;

import dev.retain.record.Feedback;
import dev.retain.record.Prediction;
import java.time.Duration;
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
  private final String model;
  private final long windowMs;
  private final byte[] key;
  private ProcessorContext<byte[], byte[]> context;
  private TimestampedKeyValueStore<String, String> store;

  JoinLabels(FeedbackExamples join, String model, Duration window) {
    this.join = join;
    this.model = model;
    this.windowMs = window.toMillis();
    this.key = FeedbackExamples.utf8(model);
  }

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    this.context = context;
    this.store = context.getStateStore(FeedbackExamples.STORE);
  }

  @Override
  public void process(Record<String, String> record) {
    if (!model.equals(record.key())) {
      return; // another model's label
    }
    Feedback feedback = record.value() == null ? null : Feedback.parse(record.value());
    if (feedback == null) {
      refuse(record, FeedbackExamples.Rejection.UNPARSABLE, "not {\"id\": ..., \"label\": ...}");
      return;
    }
    ValueAndTimestamp<String> stored = store.get(feedback.id());
    Prediction prediction = stored == null ? null : Prediction.parse(stored.value());
    if (prediction == null) {
      refuse(record, FeedbackExamples.Rejection.UNKNOWN_ID, "no prediction " + feedback.id());
    } else if (record.timestamp() - stored.timestamp() > windowMs) {
      long late = record.timestamp() - stored.timestamp();
      refuse(record, FeedbackExamples.Rejection.LATE, late + " ms after the prediction");
    } else {
      join.counters().joined().increment();
      byte[] value = join.example(prediction, feedback, stored.timestamp());
      var headers = FeedbackExamples.exampleHeaders(prediction, stored.timestamp());
      context.forward(
          new Record<>(key, value, record.timestamp(), headers), FeedbackExamples.EXAMPLES);
    }
  }

  private void refuse(
      Record<String, String> record, FeedbackExamples.Rejection why, String detail) {
    switch (why) {
      case UNKNOWN_ID -> join.counters().unknown().increment();
      case LATE -> join.counters().late().increment();
      case UNPARSABLE -> join.counters().unparsable().increment();
    }
    RecordMetadata source = context.recordMetadata().orElseThrow();
    var headers =
        FeedbackExamples.deadLetterHeaders(
            why, detail, source.topic(), source.partition(), source.offset());
    byte[] value = record.value() == null ? null : FeedbackExamples.utf8(record.value());
    context.forward(
        new Record<>(key, value, record.timestamp(), headers), FeedbackExamples.DEAD_LETTERS);
  }
}
