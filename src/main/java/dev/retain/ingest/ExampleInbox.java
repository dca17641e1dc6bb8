package dev.retain.ingest;

import dev.retain.record.Example;
import dev.retain.train.TrainingInput;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.kafka.common.TopicPartition;

/**
 * The learner's inbox: ingest adds committed examples, the learner drains them. It holds at most
 * {@code capacity} plus one commit's worth of examples and the polls being absorbed ({@link
 * IngestLoop#POLLS_AHEAD}), because ingest pauses while it is saturated. It also tracks the
 * learner's position: the Kafka positions up to which every delivered example has been drained,
 * which the learner records as the provenance of what it trained on.
 */
public final class ExampleInbox implements ExampleSink, TrainingInput {

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition nonEmpty = lock.newCondition();
  private final ArrayDeque<Handover> deliveries = new ArrayDeque<>();
  private final Map<TopicPartition, Long> drainedThrough = new HashMap<>();
  private final Set<String> handedOver = new HashSet<>(); // domains drained so far
  private final int capacity;
  private int head; // examples of the first delivery already drained
  private int size;

  public ExampleInbox(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("inbox capacity must be >= 1, was " + capacity);
    }
    this.capacity = capacity;
  }

  @Override
  public void accept(Handover batch) {
    lock.lock();
    try {
      deliveries.add(
          new Handover(
              List.copyOf(batch.examples()),
              List.copyOf(batch.partitions()),
              batch.nextOffsets().clone(),
              Map.copyOf(batch.positions())));
      size += batch.examples().size();
      nonEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean saturated() {
    return size() >= capacity;
  }

  /**
   * Takes up to {@code max} examples, waiting up to {@code timeoutMs} for the first one, and never
   * past the first example of a domain never handed over before: a new domain starts a drain, so
   * that a learner consolidating at a domain's end knows exactly how far it trained. Domains seen
   * before mix freely (a stream that interleaves them is not cut into tiny batches).
   */
  private void awaitExamples(long timeoutMs) throws InterruptedException {
    long nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (size == 0 && nanos > 0) {
      nanos = nonEmpty.awaitNanos(nanos);
    }
  }

  @Override
  public List<Example> drain(int max, long timeoutMs) throws InterruptedException {
    List<Example> out = new ArrayList<>(max);
    lock.lock();
    try {
      awaitExamples(timeoutMs);
      while (out.size() < max && !deliveries.isEmpty() && takeFromHead(out, max)) {
        // on to the next delivery
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public List<Example> topUp(List<Example> batch, int max) {
    List<Example> out = new ArrayList<>(batch);
    lock.lock();
    try {
      while (out.size() < max && !deliveries.isEmpty() && takeFromHead(out, max)) {
        // on to the next delivery
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Moves examples of the first delivery to {@code out}, up to {@code max} and up to a new domain;
   * false when it stopped at one.
   */
  private boolean takeFromHead(List<Example> out, int max) {
    Handover first = deliveries.peek();
    if (first.examples().isEmpty()) {
      finishHead(first);
      return true;
    }
    while (out.size() < max && head < first.examples().size()) {
      Example next = first.examples().get(head);
      if (!out.isEmpty() && !handedOver.contains(next.domain())) {
        return false;
      }
      handedOver.add(next.domain());
      out.add(next);
      drainedThrough.put(first.partitions().get(head), first.nextOffsets()[head]);
      head++;
      size--;
    }
    if (head == first.examples().size()) {
      finishHead(first);
    }
    return true;
  }

  /** The first delivery is drained: its positions hold now, the next one is the head. */
  private void finishHead(Handover first) {
    deliveries.poll();
    drainedThrough.putAll(first.positions());
    head = 0;
  }

  /**
   * The next offset per partition below which every delivered record has been handled: each drained
   * example, and any held-out or rejected record of a delivery drained to its end.
   */
  @Override
  public Map<TopicPartition, Long> drainedThrough() {
    lock.lock();
    try {
      return Map.copyOf(drainedThrough);
    } finally {
      lock.unlock();
    }
  }

  public int size() {
    lock.lock();
    try {
      return size;
    } finally {
      lock.unlock();
    }
  }
}
