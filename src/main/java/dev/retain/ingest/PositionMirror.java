package dev.retain.ingest;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies the stored positions to the group's committed offsets, for lag monitoring only (the store
 * holds the positions ingest resumes from), at most once a second. Positions are added from any
 * thread; {@link #mirror} runs on the poll thread.
 */
final class PositionMirror {
  private static final Logger LOG = LoggerFactory.getLogger(PositionMirror.class);

  /** Least time between two mirror commits: they serve lag monitoring, which needs no more. */
  private static final long INTERVAL_NANOS = 1_000_000_000L;

  private final Map<TopicPartition, OffsetAndMetadata> unmirrored = new HashMap<>(); // guarded
  private boolean mirroring; // poll thread
  private long last = System.nanoTime() - INTERVAL_NANOS; // of the last mirror commit

  /** Positions just stored. */
  void stored(Map<TopicPartition, OffsetAndMetadata> positions) {
    synchronized (unmirrored) {
      unmirrored.putAll(positions);
    }
  }

  /** Positions found in the store for newly assigned {@code partitions}, unless newer ones wait. */
  void assigned(Map<TopicPartition, Long> stored, Collection<TopicPartition> partitions) {
    synchronized (unmirrored) {
      stored.forEach(
          (tp, offset) -> {
            if (partitions.contains(tp)) {
              unmirrored.putIfAbsent(tp, new OffsetAndMetadata(offset));
            }
          });
    }
  }

  /**
   * Commits what waits for the partitions {@code consumer} owns. One commit is in flight at a time;
   * a failed one (for example during a rebalance) is retried on a later call, so the mirror catches
   * up even when no new records arrive.
   */
  void mirror(Consumer<?, ?> consumer) {
    if (mirroring || System.nanoTime() - last < INTERVAL_NANOS) {
      return;
    }
    Map<TopicPartition, OffsetAndMetadata> owned;
    synchronized (unmirrored) {
      if (unmirrored.isEmpty()) {
        return;
      }
      owned = new HashMap<>(unmirrored);
      unmirrored.clear();
    }
    last = System.nanoTime();
    owned.keySet().retainAll(consumer.assignment());
    if (owned.isEmpty()) {
      return;
    }
    mirroring = true;
    consumer.commitAsync(
        owned,
        (offsets, error) -> {
          mirroring = false;
          if (error != null) {
            LOG.debug("mirroring positions failed, will retry: {}", error.toString());
            synchronized (unmirrored) {
              offsets.forEach(unmirrored::putIfAbsent);
            }
          }
        });
  }
}
