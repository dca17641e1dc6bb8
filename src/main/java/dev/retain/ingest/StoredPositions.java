package dev.retain.ingest;

import dev.retain.store.Offsets;
import dev.retain.store.RetainStore;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rebalance listener: seeks every assigned partition to the position stored with the data it
 * produced (or to where the learner must catch up from), and before partitions are revoked commits
 * what was read from them, so their effects land with their positions.
 */
final class StoredPositions implements ConsumerRebalanceListener {
  private static final Logger LOG = LoggerFactory.getLogger(StoredPositions.class);
  private final Consumer<?, ?> consumer;
  private final RetainStore store;
  private final String group;
  private final CatchUp catchUp;
  private final PositionMirror mirror;
  private final Runnable commitAll;
  private final Set<TopicPartition> assigned = ConcurrentHashMap.newKeySet();
  private volatile boolean failed; // after a failure nothing more is committed
  private volatile Runnable onAssigned = () -> {};

  StoredPositions(
      Consumer<?, ?> consumer,
      RetainStore store,
      String group,
      CatchUp catchUp,
      PositionMirror mirror,
      Runnable commitAll) {
    this.consumer = consumer;
    this.store = store;
    this.group = group;
    this.catchUp = catchUp;
    this.mirror = mirror;
    this.commitAll = commitAll;
  }

  void onAssigned(Runnable action) {
    this.onAssigned = action;
  }

  void failed() {
    failed = true;
  }

  int assignedPartitions() {
    return assigned.size();
  }

  @Override
  public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
    Map<TopicPartition, Long> stored = Offsets.read(store, group);
    List<TopicPartition> fresh = new ArrayList<>();
    for (TopicPartition tp : partitions) {
      Long offset = stored.get(tp);
      Long trained = catchUp.start(tp, offset);
      if (offset == null) {
        fresh.add(tp);
      } else if (trained != null) {
        consumer.seek(tp, trained);
        LOG.info(
            "{}: the learner gets offsets [{}, {}) again, stored but not trained on",
            tp,
            trained,
            offset);
      } else {
        consumer.seek(tp, offset);
      }
    }
    if (!fresh.isEmpty()) {
      // never with an empty list: the consumer reads that as "every assigned partition", which
      // would undo the seeks above and re-read the topic from the start
      consumer.seekToBeginning(fresh);
    }
    mirror.assigned(stored, partitions);
    assigned.addAll(partitions);
    LOG.info("assigned {}; resuming from stored positions {}", partitions, stored);
    if (!partitions.isEmpty()) {
      onAssigned.run();
    }
  }

  @Override
  public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
    if (!failed) {
      commitAll.run(); // the effects of records from revoked partitions land with their positions
    }
    assigned.removeAll(partitions);
    partitions.forEach(catchUp::forget);
  }

  @Override
  public void onPartitionsLost(Collection<TopicPartition> partitions) {
    assigned.removeAll(partitions); // another member may own them already: nothing to commit
    partitions.forEach(catchUp::forget);
  }
}
