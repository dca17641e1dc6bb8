package dev.retain.serve;

import dev.retain.record.Prediction;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Writes each prediction (id, version, class, score, features) as JSON to the predictions topic,
 * keyed by model id, so delayed labels on the feedback topic can be joined to it. Sends are
 * asynchronous: a slow broker never delays an answer.
 */
final class PredictionLog implements AutoCloseable {
  private final Producer<byte[], byte[]> producer;
  private final String topic;
  private final byte[] key;
  private final InputMonitor inputs; // null: not watched

  /**
   * A log that writes to {@code topic}, or drops everything when {@code producer} is null; every
   * prediction's confidence also goes to {@code inputs} unless it is null.
   */
  PredictionLog(
      Producer<byte[], byte[]> producer, String topic, String model, InputMonitor inputs) {
    this.producer = producer;
    this.topic = topic;
    this.key = model.getBytes(StandardCharsets.UTF_8);
    this.inputs = inputs;
  }

  void write(String id, String version, int predicted, float score, float[] features) {
    if (inputs != null) {
      inputs.observe(version, score, features);
    }
    if (producer == null) {
      return;
    }
    Prediction prediction =
        new Prediction(id, version, predicted, score, System.currentTimeMillis(), features);
    producer.send(new ProducerRecord<>(topic, key, prediction.toJson()));
  }

  /** Closes the input monitor; the producer is shared and closed by its owner. */
  @Override
  public void close() {
    if (inputs != null) {
      inputs.close();
    }
  }
}
