package dev.retain.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Writes each prediction (id, version, class, score, features) as JSON to the predictions topic,
 * keyed by model id, so delayed labels on the feedback topic can be joined to it. Sends are
 * asynchronous: a slow broker never delays an answer.
 */
final class PredictionLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Producer<byte[], byte[]> producer;
  private final String topic;
  private final byte[] key;

  /** A log that writes to {@code topic}, or drops everything when {@code producer} is null. */
  PredictionLog(Producer<byte[], byte[]> producer, String topic, String model) {
    this.producer = producer;
    this.topic = topic;
    this.key = model.getBytes(StandardCharsets.UTF_8);
  }

  void write(String id, String version, int predicted, float score, float[] features) {
    if (producer == null) {
      return;
    }
    ObjectNode value = JSON.createObjectNode();
    value.put("id", id);
    value.put("version", version);
    value.put("class", predicted);
    value.put("score", score);
    value.put("ts", System.currentTimeMillis());
    var array = value.putArray("features");
    for (float f : features) {
      array.add(f);
    }
    producer.send(
        new ProducerRecord<>(topic, key, value.toString().getBytes(StandardCharsets.UTF_8)));
  }

  @Override
  public void close() {
    if (producer != null) {
      producer.close();
    }
  }
}
