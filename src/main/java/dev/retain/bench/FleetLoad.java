package dev.retain.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.model.LoraNet;
import dev.retain.record.BinaryExampleCodec;
import dev.retain.record.Example;
import dev.retain.train.BaseModels;
import dev.retain.train.Pretrainer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/** What the fleet bench's parts share: configuration, a shared base, examples per model. */
final class FleetLoad {
  static final int PARTITIONS = 6;
  private final String bootstrap;
  private final Path dir;
  private final int features;
  private Path base;

  FleetLoad(String bootstrap, Path dir, int features) {
    this.bootstrap = bootstrap;
    this.dir = dir;
    this.features = features;
  }

  /** A fleet instance's settings on fresh topics: small models (4 classes, one hidden layer). */
  Map<String, Object> props(String name) throws IOException {
    String prefix = "fleet-" + name + "-" + UUID.randomUUID().toString().substring(0, 6);
    Map<String, Object> props = new HashMap<>(training());
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    props.put(RetainConfig.TOPIC_PREFIX, prefix);
    props.put(RetainConfig.INGEST_GROUP_ID, prefix + "-ingest");
    props.put(RetainConfig.TOPIC_PARTITIONS, PARTITIONS);
    props.put(RetainConfig.FLEET_ENABLED, true);
    props.put(RetainConfig.STORE_DIR, dir.resolve(prefix).toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.RECORD_FEATURES, features);
    props.put(RetainConfig.MODEL_BASE_PATH, base().toString());
    props.put(RetainConfig.METRICS_PORT, 0);
    props.put(RetainConfig.ADMIN_PORT, 0);
    props.put(RetainConfig.METRICS_HOST, "127.0.0.1");
    // one batch in flight: on a topic just created, a first batch refused while a later one was
    // accepted left the producer retrying out-of-order sequence numbers
    props.put("retain.kafka.max.in.flight.requests.per.connection", 1);
    return props;
  }

  /** Small models that train on each example once and consolidate when idle. */
  private static Map<String, Object> training() {
    return Map.ofEntries(
        Map.entry(RetainConfig.RECORD_CODEC, "binary"),
        Map.entry(RetainConfig.RECORD_CLASSES, 4),
        Map.entry(RetainConfig.MODEL_HIDDEN, "32"),
        Map.entry(RetainConfig.TRAIN_THREADS, 1),
        Map.entry(RetainConfig.TRAIN_BATCH_SIZE, 32),
        Map.entry(RetainConfig.TRAIN_CONSOLIDATE_EVERY, 0L),
        Map.entry(RetainConfig.TRAIN_NEW_REGIME_PASSES, 1),
        Map.entry(RetainConfig.TRAIN_IDLE_MS, 300L),
        Map.entry(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 0),
        Map.entry(RetainConfig.TRAIN_FISHER_SAMPLES, 50),
        Map.entry(RetainConfig.HOLDOUT_EVERY, 10),
        Map.entry(RetainConfig.INGEST_COMMIT_INTERVAL_MS, 50L),
        Map.entry(RetainConfig.INGEST_INBOX_CAPACITY, 2048));
  }

  /** One base for every model, pretrained once on a stream of its own. */
  private Path base() throws IOException {
    if (base == null) {
      base = dir.resolve("base-" + features + ".safetensors");
      RetainConfig config =
          new RetainConfig(
              Map.of(
                  RetainConfig.RECORD_FEATURES,
                  features,
                  RetainConfig.RECORD_CLASSES,
                  4,
                  RetainConfig.MODEL_HIDDEN,
                  "32"));
      DriftStream stream = new DriftStream(features, 4, 1.5f, 7);
      List<Example> examples = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        examples.add(stream.example(0, i));
      }
      pretrain(config, examples, base);
    }
    return base;
  }

  private static void pretrain(RetainConfig config, List<Example> examples, Path out)
      throws IOException {
    Engine.getInstance().setRandomSeed(7);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = BaseModels.create(manager, config)) {
      Pretrainer.train(model, examples, 3, 64, 1e-3f, 7);
      BaseModels.writeFile(model, out);
    }
  }

  static String model(int m) {
    return String.format("model-%04d", m);
  }

  /** Produces {@code perModel} examples of domain {@code domain} for models [0, models). */
  static void produce(RetainConfig config, int models, int perModel, int domain, long from) {
    List<String> ids = new ArrayList<>();
    for (int m = 0; m < models; m++) {
      ids.add(model(m));
    }
    produceFor(config, ids, perModel, domain, from);
  }

  /**
   * Produces {@code perModel} examples of domain {@code domain} for each of {@code models}, from
   * index {@code from} of each model's own stream, interleaved across models.
   */
  static void produceFor(
      RetainConfig config, List<String> models, int perModel, int domain, long from) {
    int features = config.getInt(RetainConfig.RECORD_FEATURES);
    List<DriftStream> streams = new ArrayList<>();
    models.forEach(m -> streams.add(new DriftStream(features, 4, 1.5f, m.hashCode())));
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (long i = from; i < from + perModel; i++) {
        for (int m = 0; m < models.size(); m++) {
          producer.send(record(config, models.get(m), streams.get(m).example(domain, i), i));
        }
      }
      producer.flush();
    }
  }

  private static ProducerRecord<byte[], byte[]> record(
      RetainConfig config, String model, Example e, long index) {
    String id = model + "-" + e.domain() + "-" + index;
    Example named = new Example(id, e.features(), e.label(), e.domain(), 0);
    return new ProducerRecord<>(
        config.examplesTopic(),
        model.getBytes(StandardCharsets.UTF_8),
        new BinaryExampleCodec().encode(named));
  }

  /** The end offset of every partition of the examples topic. */
  static Map<TopicPartition, Long> ends(Admin admin, RetainConfig config) throws Exception {
    return ends(admin, config, PARTITIONS);
  }

  static Map<TopicPartition, Long> ends(Admin admin, RetainConfig config, int partitions)
      throws Exception {
    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
    for (int p = 0; p < partitions; p++) {
      latest.put(new TopicPartition(config.examplesTopic(), p), OffsetSpec.latest());
    }
    Map<TopicPartition, Long> ends = new HashMap<>();
    admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
    return ends;
  }

  /** Bytes under {@code dir}. */
  static long bytesUnder(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(FleetLoad::size).sum();
    }
  }

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return 0; // a file RocksDB removed meanwhile
    }
  }

  /** This process's resident memory, from /proc (0 where there is none). */
  static long rssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return 0;
    }
    return 0;
  }
}
