package dev.retain.cluster;

import dev.retain.config.RetainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates Retain's topics when they are missing; existing topics are left as they are. */
public final class Topics {
  private static final Logger LOG = LoggerFactory.getLogger(Topics.class);
  private static final long MAX_BACKOFF_MS = 30_000;

  private Topics() {}

  /**
   * {@link #ensure} at start-up, while the brokers may not be reachable yet: each attempt waits at
   * most a few seconds, then retries with a backoff that doubles from one second to thirty, logging
   * each failure, until {@code retain.kafka.startup.timeout.ms} has passed.
   *
   * @throws IllegalStateException naming the servers, the attempts and the last error once it gave
   *     up
   */
  public static void ensureAtStart(RetainConfig config, int partitions, short replication) {
    long timeout = config.getLong(RetainConfig.KAFKA_STARTUP_TIMEOUT_MS);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeout);
    String servers = config.getString(RetainConfig.BOOTSTRAP_SERVERS);
    long backoff = 1000;
    for (int attempt = 1; ; attempt++) {
      // one attempt waits at most 5 s, and never past the deadline
      int perAttempt =
          (int)
              Math.max(
                  1000,
                  Math.min(5000, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      Map<String, Object> props = new java.util.HashMap<>(config.kafkaClientProperties());
      props.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, perAttempt);
      props.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, perAttempt);
      try (Admin admin = Admin.create(props)) {
        ensure(admin, config, partitions, replication);
        if (attempt > 1) {
          LOG.info("reached the Kafka brokers at {} after {} attempts", servers, attempt);
        }
        return;
      } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          throw new IllegalStateException(
              "no Kafka broker reachable at "
                  + servers
                  + " within "
                  + timeout / 1000
                  + " s ("
                  + attempt
                  + " attempts): "
                  + e.getMessage(),
              e);
        }
        long wait = Math.min(backoff, left);
        LOG.warn(
            "cannot reach the Kafka brokers at {} yet (attempt {}): {}; retrying in {} ms",
            servers,
            attempt,
            e.getMessage(),
            wait);
        sleep(wait);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  private static void sleep(long millis) {
    try {
      TimeUnit.MILLISECONDS.sleep(millis); // the backoff between attempts, not a wait for a state
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the Kafka brokers", e);
    }
  }

  /**
   * {@link #ensureAtStart(RetainConfig, int, short)} with the configured partitions and replicas.
   */
  public static void ensureAtStart(RetainConfig config) {
    ensureAtStart(
        config,
        config.getInt(RetainConfig.TOPIC_PARTITIONS),
        config.getShort(RetainConfig.TOPIC_REPLICATION));
  }

  /**
   * {@link #ensure(Admin, RetainConfig, int, short)} with the configured partitions and replicas.
   */
  public static void ensure(Admin admin, RetainConfig config) {
    ensure(
        admin,
        config,
        config.getInt(RetainConfig.TOPIC_PARTITIONS),
        config.getShort(RetainConfig.TOPIC_REPLICATION));
  }

  public static void ensure(Admin admin, RetainConfig config, int partitions, short replication) {
    List<NewTopic> wanted = new ArrayList<>();
    for (String suffix : List.of("examples", "examples.dlq", "predictions", "feedback", "drift")) {
      wanted.add(new NewTopic(config.topic(suffix), partitions, replication));
    }
    for (String suffix : List.of("adapters", "bases", "changelog")) {
      wanted.add(
          new NewTopic(config.topic(suffix), partitions, replication)
              .configs(
                  Map.of(
                      TopicConfig.CLEANUP_POLICY_CONFIG,
                      TopicConfig.CLEANUP_POLICY_COMPACT,
                      TopicConfig.MAX_MESSAGE_BYTES_CONFIG,
                      String.valueOf(16 << 20))));
    }
    try {
      Set<String> existing = admin.listTopics().names().get();
      wanted.removeIf(t -> existing.contains(t.name()));
      if (!wanted.isEmpty()) {
        admin.createTopics(wanted).all().get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TopicExistsException) {
        return; // another process (retain serve beside retain run) created them meanwhile
      }
      throw new IllegalStateException("cannot create topics: " + e.getCause().getMessage(), e);
    }
  }
}
