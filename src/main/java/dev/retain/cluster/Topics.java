package dev.retain.cluster;

import dev.retain.config.RetainConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

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
