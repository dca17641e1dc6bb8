package dev.retain.cluster;

import dev.retain.config.RetainConfig;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.ByteBufferDeserializer;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Kafka clients configured from {@link RetainConfig}: the pass-through {@code retain.kafka.*}
 * settings (security included) plus what each Retain role needs. Callers own and close them.
 */
public final class KafkaClients {
  private KafkaClients() {}

  /**
   * The ingest consumer: manual positions (kept in the store), no auto commit. Values are views
   * into the fetched data rather than copies. They stay valid after later polls: a consumer reads
   * each fetch response into a buffer of its own (no buffer pool), and a record of a compressed
   * batch gets its own buffer when decompressed; ingest hands them to another thread and keeps
   * binary examples' features in them ({@link dev.retain.record.Example}).
   */
  public static KafkaConsumer<byte[], ByteBuffer> ingestConsumer(RetainConfig config) {
    return groupMember(config, Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
  }

  /**
   * A member of the ingest group with {@code extra} settings, static (its member id {@code
   * retain.ingest.instance.id}) when that is set.
   */
  private static KafkaConsumer<byte[], ByteBuffer> groupMember(
      RetainConfig config, Map<String, Object> extra) {
    Map<String, Object> settings = new HashMap<>(extra);
    String instance = config.getString(RetainConfig.INGEST_INSTANCE_ID);
    if (!instance.isEmpty()) {
      settings.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instance);
    }
    return consumer(
        config,
        config.getString(RetainConfig.INGEST_GROUP_ID),
        settings,
        new ByteBufferDeserializer());
  }

  /**
   * A fleet instance's seat in the ingest group: it reads nothing itself (its partitions stay
   * paused), but its assignment decides which partitions, and so which models, the instance owns.
   * Cooperative rebalancing moves only the partitions that must move; with {@code
   * retain.ingest.instance.id} (static membership) a restart within the session timeout gets the
   * same partitions back without a rebalance. The session timeout defaults to 10 s here, so that a
   * dead instance's partitions move within seconds.
   */
  public static KafkaConsumer<byte[], ByteBuffer> membershipConsumer(RetainConfig config) {
    Map<String, Object> extra = new HashMap<>(membershipDefaults());
    extra.putAll(config.kafkaClientProperties()); // the user's settings win
    return groupMember(config, extra);
  }

  private static Map<String, Object> membershipDefaults() {
    return Map.of(
        ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
        org.apache.kafka.clients.consumer.CooperativeStickyAssignor.class.getName(),
        ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG,
        10_000,
        ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
        500);
  }

  /**
   * The consumer that reads one partition a fleet instance owns: assigned, never subscribed, so it
   * takes no part in the group; positions come from the partition's store.
   */
  public static KafkaConsumer<byte[], ByteBuffer> partitionConsumer(RetainConfig config) {
    return consumer(
        config,
        config.getString(RetainConfig.INGEST_GROUP_ID),
        Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
        new ByteBufferDeserializer());
  }

  /** A read_committed consumer outside any group, to restore a store from its changelog. */
  public static KafkaConsumer<byte[], byte[]> changelogReader(RetainConfig config) {
    Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.putIfAbsent(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 16 << 20);
    props.putIfAbsent(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64 << 20);
    return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  /**
   * The producer of one changelog partition: transactional under an id that names the partition, so
   * whichever instance opens it fences the one before.
   */
  public static KafkaProducer<byte[], byte[]> changelogProducer(
      RetainConfig config, int partition) {
    return producer(
        config,
        Map.of(
            ProducerConfig.TRANSACTIONAL_ID_CONFIG,
            config.changelogTopic() + "." + partition,
            ProducerConfig.LINGER_MS_CONFIG,
            0));
  }

  /** A plain consumer outside any group's bookkeeping (benchmarks, tools). */
  public static KafkaConsumer<byte[], byte[]> consumer(RetainConfig config, String group) {
    return consumer(config, group, Map.of(), new ByteArrayDeserializer());
  }

  /** A plain consumer whose values are views into the fetched data (benchmarks, tools). */
  public static KafkaConsumer<byte[], ByteBuffer> bufferConsumer(
      RetainConfig config, String group) {
    return consumer(config, group, Map.of(), new ByteBufferDeserializer());
  }

  /**
   * A consumer for following small, rare records as soon as they land (the adapters and bases
   * topics): no minimum fetch size, so a new version is seen within one fetch wait.
   */
  public static KafkaConsumer<byte[], byte[]> follower(RetainConfig config, String group) {
    return consumer(
        config,
        group,
        Map.of(
            // a publisher's aborted transactions (a fenced or killed learner) are never read
            ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
            ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1,
            ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100,
            ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 16),
        new ByteArrayDeserializer());
  }

  private static <V> KafkaConsumer<byte[], V> consumer(
      RetainConfig config, String group, Map<String, Object> extra, Deserializer<V> values) {
    Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
    props.putAll(extra);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    fetchDefaults(config, props);
    return new KafkaConsumer<>(props, new ByteArrayDeserializer(), values);
  }

  /** Fetch settings that suit ingest, unless the user set them. */
  private static void fetchDefaults(RetainConfig config, Map<String, Object> props) {
    props.putIfAbsent(
        ConsumerConfig.MAX_POLL_RECORDS_CONFIG,
        config.getInt(RetainConfig.INGEST_MAX_POLL_RECORDS));
    props.putIfAbsent(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 1 << 16);
    props.putIfAbsent(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 50);
    props.putIfAbsent(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 << 20);
    // the operating system's autotuned socket buffer (Kafka's default is a fixed 64 KB): the broker
    // can then push most of the next fetch while the loop works on the current one; this doubled
    // the rate of binary examples here (README, bench ingest)
    props.putIfAbsent(ConsumerConfig.RECEIVE_BUFFER_CONFIG, -1);
  }

  /** An idempotent producer (acks=all) for examples, dead letters and adapters. */
  public static KafkaProducer<byte[], byte[]> producer(RetainConfig config) {
    return producer(config, Map.of());
  }

  /** The transactional id of a model's publisher: one per model, whichever learner runs it. */
  public static String publisherId(RetainConfig config) {
    return config.adaptersTopic() + ".publisher." + config.getString(RetainConfig.MODEL_ID);
  }

  /**
   * The learner's adapter producer: transactional under {@link #publisherId}, so a newer publisher
   * of the model fences an older one.
   */
  public static KafkaProducer<byte[], byte[]> transactionalProducer(RetainConfig config) {
    return producer(config, Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, publisherId(config)));
  }

  /**
   * A producer whose every send ends, delivered or failed, within {@code timeoutMs}: it waits at
   * most that long for metadata or buffer space and expires what it could not deliver by then. For
   * an operator's request (a rollback) that must answer rather than hang while the broker is away.
   */
  public static KafkaProducer<byte[], byte[]> boundedProducer(RetainConfig config, long timeoutMs) {
    int request = (int) Math.max(1000, timeoutMs / 2);
    return producer(
        config,
        Map.of(
            ProducerConfig.MAX_BLOCK_MS_CONFIG,
            timeoutMs,
            ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG,
            request,
            ProducerConfig.LINGER_MS_CONFIG,
            0,
            ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG,
            (int) Math.max(timeoutMs, request)));
  }

  private static KafkaProducer<byte[], byte[]> producer(
      RetainConfig config, Map<String, Object> overrides) {
    Map<String, Object> props = new HashMap<>(config.kafkaClientProperties());
    props.putAll(overrides);
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 5);
    props.putIfAbsent(ProducerConfig.BATCH_SIZE_CONFIG, 1 << 18);
    props.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
    props.putIfAbsent(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 << 20);
    return new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
  }

  public static Admin admin(RetainConfig config) {
    return Admin.create(config.kafkaClientProperties());
  }
}
