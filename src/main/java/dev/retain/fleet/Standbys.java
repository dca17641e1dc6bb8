package dev.retain.fleet;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.store.Changelog;
import dev.retain.store.RetainStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Standby replicas: warm copies of partitions that other instances own, kept up to date from the
 * changelog as it is written, in the same directory a {@link PartitionTask} would use. When the
 * group moves such a partition here, the task finds the copy nearly current and restores only the
 * last few transactions, rather than the partition's whole history. Each partition's standbys are
 * the {@code retain.fleet.standby.replicas} members after its owner in the order of member ids, so
 * every member computes the same plan from the group's description.
 */
final class Standbys implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Standbys.class);
  private final RetainConfig config;
  private final int replicas;
  private final Map<Integer, Copy> copies = new ConcurrentHashMap<>();
  private org.apache.kafka.clients.admin.Admin admin; // the group's assignment; opened on first use

  Standbys(RetainConfig config) {
    this.config = config;
    this.replicas = config.getInt(RetainConfig.FLEET_STANDBY_REPLICAS);
  }

  boolean enabled() {
    return replicas > 0;
  }

  /**
   * The partitions {@code self} keeps warm: for each partition, the {@code replicas} members that
   * follow its owner in member order (never the owner itself).
   *
   * @param owners each member's partitions, by member id
   */
  static Set<Integer> planned(Map<String, Set<Integer>> owners, String self, int replicas) {
    List<String> members = new ArrayList<>(new TreeSet<>(owners.keySet()));
    int me = members.indexOf(self);
    Set<Integer> planned = new TreeSet<>();
    if (me < 0) {
      return planned;
    }
    for (int owner = 0; owner < members.size(); owner++) {
      for (int k = 1; k <= Math.min(replicas, members.size() - 1); k++) {
        if ((owner + k) % members.size() == me) {
          planned.addAll(owners.get(members.get(owner)));
        }
      }
    }
    return planned;
  }

  /**
   * Reads the group's assignment and keeps warm what {@code self} is a standby of; a failed read
   * leaves the copies as they are.
   */
  void replan(String group, String self, Collection<Integer> owned) {
    try {
      keep(planned(owners(group), self, replicas), owned);
    } catch (java.util.concurrent.ExecutionException
        | java.util.concurrent.TimeoutException
        | org.apache.kafka.common.KafkaException e) {
      LOG.debug("no standby plan now: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Each member's partitions, by member id, as the group's coordinator describes them. */
  private Map<String, Set<Integer>> owners(String group)
      throws java.util.concurrent.ExecutionException,
          java.util.concurrent.TimeoutException,
          InterruptedException {
    if (admin == null) {
      admin = KafkaClients.admin(config);
    }
    var description =
        admin
            .describeConsumerGroups(List.of(group))
            .all()
            .get(2, java.util.concurrent.TimeUnit.SECONDS)
            .get(group);
    Map<String, Set<Integer>> owners = new java.util.HashMap<>();
    for (var member : description.members()) {
      Set<Integer> owned = new java.util.HashSet<>();
      member.assignment().topicPartitions().forEach(tp -> owned.add(tp.partition()));
      owners.put(member.consumerId(), owned);
    }
    return owners;
  }

  /** Keeps exactly {@code wanted} warm, less what this instance owns. */
  void keep(Set<Integer> wanted, Collection<Integer> owned) {
    for (Integer p : List.copyOf(copies.keySet())) {
      if (!wanted.contains(p) || owned.contains(p)) {
        release(p);
      }
    }
    for (Integer p : wanted) {
      if (!owned.contains(p) && !copies.containsKey(p)) {
        copies.put(p, new Copy(p).start());
      }
    }
  }

  /** Partitions kept warm now. */
  Set<Integer> partitions() {
    return Set.copyOf(copies.keySet());
  }

  /** Copies that have not yet caught up with their changelog partition. */
  int behind() {
    return (int) copies.values().stream().filter(c -> !c.current).count();
  }

  /** Stops following {@code partition} and closes its copy, so that a task may open it. */
  void release(int partition) {
    Copy copy = copies.remove(partition);
    if (copy != null) {
      copy.close();
    }
  }

  @Override
  public void close() {
    List.copyOf(copies.keySet()).forEach(this::release);
    if (admin != null) {
      admin.close(java.time.Duration.ofSeconds(5));
    }
  }

  /** One warm copy and the thread that follows its changelog partition. */
  private final class Copy implements AutoCloseable {
    private final int partition;
    private final Consumer<byte[], byte[]> reader;
    private final Thread thread;
    private volatile boolean stopped;
    private volatile boolean current; // the last poll found nothing new

    Copy(int partition) {
      this.partition = partition;
      this.reader = KafkaClients.changelogReader(config);
      this.thread = new Thread(this::follow, "retain-standby-" + partition);
      thread.setDaemon(true);
    }

    Copy start() {
      thread.start();
      LOG.info("keeping partition {} warm", partition);
      return this;
    }

    private void follow() {
      Path dir = Path.of(config.getString(RetainConfig.STORE_DIR), "partition-" + partition);
      try (RetainStore store = RetainStore.open(dir, false)) {
        Changelog.follow(
            store,
            reader,
            new TopicPartition(config.changelogTopic(), partition),
            () -> stopped,
            n -> current = n == 0);
      } catch (WakeupException e) {
        // released
      } catch (RuntimeException e) {
        LOG.warn("standby of partition {} stopped: {}", partition, e.getMessage(), e);
      } finally {
        reader.close();
      }
    }

    @Override
    public void close() {
      stopped = true;
      reader.wakeup();
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
