package dev.retain.streams;

import dev.retain.config.RetainConfig;
import dev.retain.record.Feedback;
import dev.retain.record.Prediction;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
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
  private static final String SEP = "\u0000"; // between a model id and an example or version id
  private final Map<String, Tally> byVersion = new ConcurrentHashMap<>();
  private final MeterRegistry registry;
  private final String model; // names the topology
  private final Predicate<String> models;
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(OnlineAccuracy.class);
  private KafkaStreams streams;
  private KafkaStreamsMetrics streamsMetrics;

  /** Online accuracy of {@code model} alone. */
  public OnlineAccuracy(MeterRegistry registry, String model) {
    this(registry, model, model::equals);
  }

  /** Online accuracy of every model {@code models} accepts, each on its own gauges. */
  public OnlineAccuracy(MeterRegistry registry, String model, Predicate<String> models) {
    this.registry = registry;
    this.model = model;
    this.models = models;
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
        .map((id, outcome) -> KeyValue.pair(modelOf(id) + SEP + outcome.version(), outcome.right()))
        .groupByKey(Grouped.with(Serdes.String(), Serdes.Boolean()))
        .aggregate(
            () -> Tally.NONE,
            (version, right, tally) -> tally.add(right),
            Materialized.with(Serdes.String(), Tally.serde()))
        .toStream()
        .foreach(this::record);
    return builder.build();
  }

  /** Records of the models followed, re-keyed by model and example id; unusable ones dropped. */
  private KStream<String, String> byId(KStream<String, String> stream) {
    return stream
        .filter((key, value) -> key != null && models.test(key) && value != null)
        .map((key, value) -> KeyValue.pair(idOf(key, value), value))
        .filter((id, value) -> id != null);
  }

  private static String idOf(String model, String value) {
    String id = Prediction.idOf(value);
    return id == null ? null : model + SEP + id;
  }

  private static String modelOf(String key) {
    return key.substring(0, key.indexOf(SEP));
  }

  /** Whether a version's prediction was right. */
  private record Outcome(String version, boolean right) {}

  /** The outcome of a prediction given its feedback; null when either is unreadable. */
  private static Outcome outcome(String prediction, String feedback) {
    Prediction p = Prediction.parse(prediction);
    Feedback f = Feedback.parse(feedback);
    return p == null || f == null ? null : new Outcome(p.version(), p.predicted() == f.label());
  }

  private void record(String modelAndVersion, Tally tally) {
    String version = modelAndVersion.substring(modelAndVersion.indexOf(SEP) + 1);
    if (byVersion.put(version, tally) == null) {
      Gauge.builder("retain.online.accuracy", byVersion, m -> m.get(version).ratio())
          .tags("model", modelOf(modelAndVersion), "version", version)
          .description("Accuracy of served predictions against delayed labels, per adapter version")
          .register(registry);
    }
  }

  /** Right and total per version so far. */
  public Map<String, long[]> counts() {
    Map<String, long[]> out = new java.util.HashMap<>();
    byVersion.forEach((v, t) -> out.put(v, new long[] {t.right(), t.total()}));
    return out;
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
