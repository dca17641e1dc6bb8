package dev.retain.streams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.config.RetainConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.StreamJoined;

/**
 * Online accuracy per adapter version: joins each served prediction (predictions topic: id,
 * version, class) with the label that arrives later for the same id (feedback topic: {@code {"id":
 * "...", "label": 3}}, key = model id) within {@code retain.feedback.window.ms}, and counts right
 * and total per version. Exposed as the gauge {@code retain.online.accuracy{model, version}}.
 * Records that are not JSON or lack an id are dropped.
 */
public final class OnlineAccuracy implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Map<String, long[]> byVersion = new ConcurrentHashMap<>();
  private final MeterRegistry registry;
  private final String model;
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(OnlineAccuracy.class);
  private KafkaStreams streams;
  private KafkaStreamsMetrics streamsMetrics;

  public OnlineAccuracy(MeterRegistry registry, String model) {
    this.registry = registry;
    this.model = model;
  }

  /** The topology: predictions ⋈ feedback by example id, then right/total per version. */
  public Topology topology(String predictions, String feedback, Duration window) {
    StreamsBuilder builder = new StreamsBuilder();
    KStream<String, String> predicted =
        byId(builder.stream(predictions, Consumed.with(Serdes.String(), Serdes.String())));
    KStream<String, String> labelled =
        byId(builder.stream(feedback, Consumed.with(Serdes.String(), Serdes.String())));
    predicted
        .join(
            labelled,
            OnlineAccuracy::outcome,
            JoinWindows.ofTimeDifferenceWithNoGrace(window),
            StreamJoined.with(Serdes.String(), Serdes.String(), Serdes.String()))
        .filter((id, outcome) -> outcome != null)
        .groupBy(
            (id, outcome) -> outcome.substring(2), Grouped.with(Serdes.String(), Serdes.String()))
        .aggregate(
            () -> "0,0",
            (version, outcome, counts) -> add(counts, outcome.charAt(0) == '1'),
            Materialized.with(Serdes.String(), Serdes.String()))
        .toStream()
        .foreach(this::record);
    return builder.build();
  }

  /** Records of this model re-keyed by example id; unusable ones dropped. */
  private KStream<String, String> byId(KStream<String, String> stream) {
    return stream
        .filter((key, value) -> model.equals(key) && value != null)
        .map((key, value) -> KeyValue.pair(idOf(value), value))
        .filter((id, value) -> id != null);
  }

  private static String idOf(String value) {
    try {
      JsonNode node = JSON.readTree(value);
      return node != null && node.hasNonNull("id") ? node.get("id").asText() : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** "1:version" when the prediction was right, "0:version" when wrong, null when unreadable. */
  private static String outcome(String prediction, String feedback) {
    try {
      JsonNode p = JSON.readTree(prediction);
      JsonNode f = JSON.readTree(feedback);
      if (!p.hasNonNull("version") || !p.hasNonNull("class") || !f.hasNonNull("label")) {
        return null;
      }
      boolean right = p.get("class").asInt() == f.get("label").asInt();
      return (right ? "1:" : "0:") + p.get("version").asText();
    } catch (IOException e) {
      return null;
    }
  }

  private static String add(String counts, boolean right) {
    String[] parts = counts.split(",");
    long correct = Long.parseLong(parts[0]) + (right ? 1 : 0);
    long total = Long.parseLong(parts[1]) + 1;
    return correct + "," + total;
  }

  private void record(String version, String counts) {
    String[] parts = counts.split(",");
    long[] value = {Long.parseLong(parts[0]), Long.parseLong(parts[1])};
    if (byVersion.put(version, value) == null) {
      Gauge.builder("retain.online.accuracy", byVersion, m -> ratio(m.get(version)))
          .tags("model", model, "version", version)
          .description("Accuracy of served predictions against delayed labels, per adapter version")
          .register(registry);
    }
  }

  private static double ratio(long[] counts) {
    return counts == null || counts[1] == 0 ? Double.NaN : counts[0] / (double) counts[1];
  }

  /** Right and total per version so far. */
  public Map<String, long[]> counts() {
    return Map.copyOf(byVersion);
  }

  /** Runs the topology against the configured cluster. */
  public OnlineAccuracy start(RetainConfig config) {
    Properties props = new Properties();
    props.putAll(config.kafkaClientProperties());
    props.put(
        StreamsConfig.APPLICATION_ID_CONFIG,
        config.getString(RetainConfig.TOPIC_PREFIX) + "-online-accuracy-" + model);
    try {
      props.put(
          StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("retain-streams").toString());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
    streams =
        new KafkaStreams(
            topology(
                config.predictionsTopic(),
                config.topic("feedback"),
                Duration.ofMillis(config.getLong(RetainConfig.FEEDBACK_WINDOW_MS))),
            props);
    streamsMetrics = new KafkaStreamsMetrics(streams);
    streamsMetrics.bindTo(registry);
    // a failed stream thread is an ERROR with its stack and stops the topology (the state
    // ERROR, which isRunning reports), never a thread that vanished in silence
    streams.setUncaughtExceptionHandler(
        e -> {
          LOG.error("the online-accuracy topology failed", e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.start();
    return this;
  }

  /** True while the topology runs or starts; false once it failed or stopped. */
  public boolean isRunning() {
    return streams != null && streams.state().isRunningOrRebalancing()
        || streams != null && streams.state() == KafkaStreams.State.CREATED;
  }

  @Override
  public void close() {
    if (streams != null) {
      streams.close(Duration.ofSeconds(10));
      streamsMetrics.close();
    }
  }
}
