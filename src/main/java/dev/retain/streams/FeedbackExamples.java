package dev.retain.streams;

import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.DeadLetter;
import dev.retain.metrics.ModelMeters;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.record.Feedback;
import dev.retain.record.Prediction;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delayed labels become training data: a label on the feedback topic ({@code {"id": "...", "label":
 * 3}}, key = model id) is joined with the served prediction of the same id (which carries the
 * features) and written to the examples topic as a complete labeled example, with the prediction's
 * time and the serving version in headers ({@value #PREDICTION_TS}, {@value #SERVING_VERSION}). A
 * label more than {@code retain.feedback.window.ms} after its prediction, or for an id with no
 * prediction, goes to the dead-letter topic with its reason. Predictions are kept for twice the
 * window (a label later than that reads as an unknown id). Runs on Kafka Streams with {@code
 * exactly_once_v2}: each label yields its example or its dead letter once.
 */
public final class FeedbackExamples implements AutoCloseable {
  /** Header: the prediction's timestamp, epoch milliseconds. */
  public static final String PREDICTION_TS = "retain.prediction.ts";

  /** Header: the adapter version that made the prediction. */
  public static final String SERVING_VERSION = "retain.serving.version";

  static final String STORE = "predictions-by-id";
  static final String EXAMPLES = "examples";
  static final String DEAD_LETTERS = "dead-letters";
  private static final Logger LOG = LoggerFactory.getLogger(FeedbackExamples.class);
  private final RetainConfig config;
  private final Map<String, Counters> counters = new ConcurrentHashMap<>();
  private final MeterRegistry registry;
  private final ExampleCodec codec;
  private final String domain; // in memory only: the record carries none
  private KafkaStreams streams;

  /** What the join counts: labels joined into examples, and labels refused by reason. */
  record Counters(Counter joined, Counter unknown, Counter late, Counter unparsable) {
    static Counters of(ModelMeters meters) {
      String about = "Delayed labels refused by the feedback join, by reason";
      return new Counters(
          meters.counter("retain.feedback.joined", "Delayed labels joined into examples"),
          meters.counter("retain.feedback.rejected", about, "reason", Rejection.UNKNOWN_ID.tag),
          meters.counter("retain.feedback.rejected", about, "reason", Rejection.LATE.tag),
          meters.counter("retain.feedback.rejected", about, "reason", Rejection.UNPARSABLE.tag));
    }
  }

  /** Why a label became a dead letter: its {@code retain.reason} header. */
  enum Rejection {
    UNKNOWN_ID("feedback_unknown_id"),
    LATE("feedback_outside_window"),
    UNPARSABLE("feedback_unparsable");

    final String tag;

    Rejection(String tag) {
      this.tag = tag;
    }
  }

  public FeedbackExamples(RetainConfig config, MeterRegistry registry) {
    this.config = config;
    this.registry = registry;
    counters(config.getString(RetainConfig.MODEL_ID)); // its meters show before the first label
    this.codec = ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    this.domain = config.getString(RetainConfig.RECORD_DEFAULT_DOMAIN);
  }

  /** The topology: predictions remembered by id, each label joined with its prediction. */
  public Topology topology() {
    Duration window = Duration.ofMillis(config.getLong(RetainConfig.FEEDBACK_WINDOW_MS));
    Predicate<String> models = config::serves;
    Topology topology = new Topology();
    StringDeserializer strings = new StringDeserializer();
    ByteArraySerializer bytes = new ByteArraySerializer();
    topology.addSource("predictions", strings, strings, config.predictionsTopic());
    topology.addSource("feedback", strings, strings, config.topic("feedback"));
    topology.addProcessor("remember", () -> new RememberPredictions(models, window), "predictions");
    topology.addProcessor("join", () -> new JoinLabels(this, models, window), "feedback");
    topology.addStateStore(
        Stores.timestampedKeyValueStoreBuilder(
            Stores.persistentTimestampedKeyValueStore(STORE), Serdes.String(), Serdes.String()),
        "remember",
        "join");
    topology.addSink(EXAMPLES, config.examplesTopic(), bytes, bytes, "join");
    topology.addSink(DEAD_LETTERS, config.deadLetterTopic(), bytes, bytes, "join");
    return topology;
  }

  /**
   * The labeled example of {@code prediction}, made at {@code predictedAt} (its record's time),
   * encoded as the examples topic expects.
   */
  byte[] example(Prediction prediction, Feedback feedback, long predictedAt) {
    Example example =
        new Example(feedback.id(), prediction.features(), feedback.label(), domain, predictedAt);
    return codec.encode(example, false); // no domain: ingest names it after the current regime
  }

  static Headers exampleHeaders(Prediction prediction, long predictedAt) {
    Headers headers = new RecordHeaders();
    headers.add(PREDICTION_TS, utf8(Long.toString(predictedAt)));
    headers.add(SERVING_VERSION, utf8(prediction.version()));
    return headers;
  }

  static Headers deadLetterHeaders(Rejection why, String detail, String topic, int part, long at) {
    Headers headers = new RecordHeaders();
    headers.add(DeadLetter.REASON, utf8(why.tag));
    headers.add(DeadLetter.DETAIL, utf8(detail));
    headers.add(DeadLetter.SOURCE_TOPIC, utf8(topic));
    headers.add(DeadLetter.SOURCE_PARTITION, utf8(Integer.toString(part)));
    headers.add(DeadLetter.SOURCE_OFFSET, utf8(Long.toString(at)));
    return headers;
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** {@code model}'s join counters. */
  Counters counters(String model) {
    return counters.computeIfAbsent(model, m -> Counters.of(new ModelMeters(registry, m)));
  }

  /** The store's key of a prediction: its model and its example id. */
  static String storeKey(String model, String id) {
    return model + "\u0000" + id;
  }

  /** Runs the topology against the configured cluster, exactly once. */
  public FeedbackExamples start() {
    Properties props = new Properties();
    props.putAll(config.kafkaClientProperties());
    String model = config.getString(RetainConfig.MODEL_ID);
    props.put(
        StreamsConfig.APPLICATION_ID_CONFIG,
        config.getString(RetainConfig.TOPIC_PREFIX) + "-feedback-examples-" + model);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir());
    streams = new KafkaStreams(topology(), props);
    streams.setUncaughtExceptionHandler(
        e -> {
          LOG.error("the feedback join stopped", e);
          return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
    streams.start();
    return this;
  }

  private static String stateDir() {
    try {
      return Files.createTempDirectory("retain-feedback").toString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True while the topology runs or starts; false once it failed or stopped. */
  public boolean isRunning() {
    return streams != null
        && (streams.state().isRunningOrRebalancing()
            || streams.state() == KafkaStreams.State.CREATED);
  }

  @Override
  public void close() {
    if (streams != null) {
      streams.close(Duration.ofSeconds(10));
    }
  }
}
