package dev.retain.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.config.RetainConfig;
import dev.retain.drift.InputDrift;
import dev.retain.drift.InputSummary;
import dev.retain.metrics.DriftMeters;
import dev.retain.metrics.ModelMeters;
import io.micrometer.core.instrument.Counter;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the served inputs for a drift, before any label arrives ({@link InputDrift}): each
 * prediction's confidence and the input's {@code retain.drift.input.projections} random projections
 * ({@link InputSummary}); a new version starts a new reference. A detection is logged, counted and
 * published to {@code <prefix>.drift} (JSON: model, time, source, statistic, p_value, version).
 * Thread-safe: request threads report to it.
 */
final class InputMonitor implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(InputMonitor.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final InputDrift drift;
  private final InputSummary summary; // null: confidence only
  private final Producer<byte[], byte[]> producer; // null: detections are not published
  private final String topic;
  private final String model;
  private final Counter detections;
  private String version;
  private volatile double lastDetection; // Unix seconds, 0 before any

  InputMonitor(RetainConfig config, ModelMeters meters, Producer<byte[], byte[]> producer) {
    int projections = config.getInt(RetainConfig.DRIFT_INPUT_PROJECTIONS);
    this.summary = projections == 0 ? null : InputSummary.of(config);
    this.drift = InputDrift.configured(config, 1 + projections);
    this.producer = producer;
    this.topic = config.driftTopic();
    this.model = meters.model();
    this.detections = DriftMeters.detections(meters, drift.name());
    DriftMeters.statistic(meters, drift.name(), this::statistic);
    DriftMeters.lastDetection(meters, () -> lastDetection);
  }

  private synchronized double statistic() {
    return drift.statistic();
  }

  /**
   * One prediction of {@code servedBy} for {@code input} with confidence {@code score}. A detection
   * is published after the monitor's lock is released: a broker that is slow to answer holds up
   * this request (for at most the producer's max.block.ms), never the others.
   */
  void observe(String servedBy, float score, float[] input) {
    double[] values = new double[drift.dims()];
    values[0] = score;
    if (summary != null) {
      summary.summarise(input, values, 1);
    }
    ObjectNode detection = detect(servedBy, values);
    if (detection != null && producer != null) {
      byte[] key = model.getBytes(StandardCharsets.UTF_8);
      byte[] value = detection.toString().getBytes(StandardCharsets.UTF_8);
      producer.send(new ProducerRecord<>(topic, key, value));
    }
  }

  /** Adds one input's summary; the record of a detection, or null. */
  private synchronized ObjectNode detect(String servedBy, double[] values) {
    if (!servedBy.equals(version)) {
      version = servedBy;
      drift.reset(); // another model: another distribution of confidence
    }
    if (!drift.add(values)) {
      return null;
    }
    detections.increment();
    lastDetection = System.currentTimeMillis() / 1000.0;
    LOG.info(
        "the inputs to {} drifted from their reference (KS {}, p {})",
        version,
        String.format("%.3f", drift.statistic()),
        String.format("%.2g", drift.pValue()));
    return record();
  }

  /** What a detection publishes. */
  private ObjectNode record() {
    ObjectNode value = JSON.createObjectNode();
    value.put("model", model);
    value.put("time", System.currentTimeMillis());
    value.put("source", drift.name());
    value.put("statistic", drift.statistic());
    value.put("p_value", drift.pValue());
    value.put("version", version);
    return value;
  }

  /** Nothing to release: the producer is shared and closed by its owner. */
  @Override
  public void close() {
    // the producer belongs to the caller (serving shares one among its models)
  }
}
