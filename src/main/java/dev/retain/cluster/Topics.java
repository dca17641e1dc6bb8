package dev.retain.cluster;

import dev.retain.config.RetainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/** Creates Retain's topics when they are missing; existing topics are left as they are. */
public final class Topics {
  private Topics() {}

  public static void ensure(Admin admin, RetainConfig config, int partitions, short replication) {
    List<NewTopic> wanted = new ArrayList<>();
    for (String suffix : List.of("examples", "examples.dlq", "predictions", "feedback")) {
      wanted.add(new NewTopic(config.topic(suffix), partitions, replication));
    }
    for (String suffix : List.of("adapters", "bases")) {
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
        awaitLeaders(admin, wanted.stream().map(NewTopic::name).toList());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot create topics: " + e.getCause().getMessage(), e);
    }
  }

  /**
   * Waits (up to 30 s) until every partition of {@code topics} has a leader. A producer that writes
   * while a new topic's leadership is still settling can have its first batch refused and a later
   * one accepted; its idempotent retries of the first then fail with out-of-order sequence numbers
   * until the delivery timeout (two minutes) drops it.
   */
  private static void awaitLeaders(Admin admin, List<String> topics)
      throws InterruptedException, ExecutionException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      try {
        boolean ready =
            admin.describeTopics(topics).allTopicNames().get().values().stream()
                .flatMap(d -> d.partitions().stream())
                .allMatch(p -> p.leader() != null && !p.leader().isEmpty());
        if (ready) {
          return;
        }
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
          throw e;
        }
      }
      Thread.sleep(20); // polling the cluster's metadata; there is no event to wait on
    }
  }
}
