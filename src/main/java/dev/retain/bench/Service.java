package dev.retain.bench;

import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.Choice;
import dev.retain.config.ConfigLoader;
import dev.retain.config.RetainConfig;
import dev.retain.node.LearnerNode;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.serve.ServeNode;
import dev.retain.serve.ServingModel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What the end-to-end benches share: a run's settings, producing a stream to the examples topic,
 * waiting until the service has learned and serves it, and scoring the served model.
 */
final class Service {
  private Service() {}

  /**
   * A bench run's settings: its own store, topics and free ports on {@code bootstrap}, the
   * environment's settings, then {@code settings}.
   */
  static RetainConfig config(
      String bootstrap, Path dir, String prefix, int seed, Map<String, Object> settings) {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    props.put(RetainConfig.STORE_DIR, dir.toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.RECORD_CODEC, "binary");
    props.put(RetainConfig.TOPIC_PREFIX, prefix);
    props.put(RetainConfig.INGEST_GROUP_ID, prefix);
    for (String port :
        List.of(RetainConfig.METRICS_PORT, RetainConfig.ADMIN_PORT, RetainConfig.SERVE_PORT)) {
      props.put(port, 0);
    }
    props.put(RetainConfig.TRAIN_SEED, 42L + seed);
    props.putAll(ConfigLoader.fromEnvironment(Map.of()));
    props.putAll(settings);
    return new RetainConfig(props);
  }

  /** Waits until example {@code i} is due at the producing pace (none: at once). */
  private static void keepPace(long start, int i, int pace) throws InterruptedException {
    long wait = start + (long) (i * 1e9 / Math.max(pace, 1e-9)) - System.nanoTime();
    if (pace > 0 && wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait); // the producer's pace, not a condition stand-in
    }
  }

  /** Produces {@code stream} to the examples topic, with or without domains, at {@code pace}/s. */
  static void produce(RetainConfig config, List<Example> stream, boolean withDomain, int pace)
      throws InterruptedException {
    ExampleCodec codec =
        ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    long start = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < stream.size(); i++) {
        producer.send(
            new ProducerRecord<>(
                config.examplesTopic(), key, codec.encode(stream.get(i), withDomain)));
        keepPace(start, i, pace);
      }
    }
  }

  /** True once ingest committed every record and the learner trained and consolidated them. */
  private static boolean trained(LearnerNode learner, int records) {
    return learner.ingest().loop().committedRecords() >= records
        && learner.inboxSize() == 0
        && learner.learner().isQuiescent();
  }

  /**
   * Waits until ingest committed all {@code records}, the learner took and trained on everything
   * and consolidated it, and serving uses the champion; returns the served model (null when no
   * version was ever promoted).
   */
  static ServingModel awaitSettled(
      LearnerNode learner, ServeNode serve, int records, long start, int timeoutSeconds)
      throws InterruptedException {
    long deadline = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (System.nanoTime() < deadline) {
      if (!learner.learner().isAlive()) {
        throw new IllegalStateException("the learner stopped: " + learner.learner().failure());
      }
      AdapterVersion champion = learner.publisher().registry().champion();
      ServingModel served = serve.follower().current();
      boolean trained = trained(learner, records);
      if (trained && champion == null) {
        return null;
      }
      if (trained && served != null && served.version().equals(champion.id())) {
        return served;
      }
      TimeUnit.MILLISECONDS.sleep(100); // polling cadence; the conditions above decide
    }
    throw new IllegalStateException("the run did not settle within " + timeoutSeconds + " s");
  }

  /** Share of {@code test} whose most probable class under {@code model} is its label. */
  static double accuracy(ServingModel model, List<Example> test) {
    List<float[]> inputs = test.stream().map(Example::features).toList();
    float[][] probabilities = model.probabilities(inputs);
    int correct = 0;
    for (int i = 0; i < test.size(); i++) {
      correct += argmax(probabilities[i]) == test.get(i).label() ? 1 : 0;
    }
    return correct / (double) test.size();
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int i = 1; i < values.length; i++) {
      best = values[i] > values[best] ? i : best;
    }
    return best;
  }
}
