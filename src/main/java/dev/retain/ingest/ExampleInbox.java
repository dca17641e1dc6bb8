package dev.retain.ingest;

import dev.retain.record.Example;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
public final class ExampleInbox implements ExampleSink {
  private record Delivery(List<Example> examples, Map<TopicPartition, Long> positions) {}

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition nonEmpty = lock.newCondition();
  private final ArrayDeque<Delivery> deliveries = new ArrayDeque<>();
  private final Map<TopicPartition, Long> drainedThrough = new HashMap<>();
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
  public void accept(List<Example> examples, Map<TopicPartition, Long> positions) {
    lock.lock();
    try {
      deliveries.add(new Delivery(List.copyOf(examples), Map.copyOf(positions)));
      size += examples.size();
      nonEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean saturated() {
    return size() >= capacity;
  }

  /** Takes up to {@code max} examples, waiting up to {@code timeoutMs} for the first one. */
  public List<Example> drain(int max, long timeoutMs) throws InterruptedException {
    List<Example> out = new ArrayList<>(max);
    lock.lock();
    try {
      long nanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
      while (size == 0 && nanos > 0) {
        nanos = nonEmpty.awaitNanos(nanos);
      }
      while (out.size() < max && !deliveries.isEmpty()) {
        takeFromHead(out, max);
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  private void takeFromHead(List<Example> out, int max) {
    Delivery first = deliveries.peek();
    int n = Math.min(max - out.size(), first.examples().size() - head);
    out.addAll(first.examples().subList(head, head + n));
    head += n;
    size -= n;
    if (head == first.examples().size()) {
      deliveries.poll();
      drainedThrough.putAll(first.positions());
      head = 0;
    }
  }

  /** The next offset per partition below which every delivered example has been drained. */
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
