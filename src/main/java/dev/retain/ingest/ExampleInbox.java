package dev.retain.ingest;

import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The learner's inbox: ingest adds committed examples, the learner drains them. It holds at most
 * {@code capacity} plus one poll's worth of examples, because ingest pauses while it is saturated.
 */
public final class ExampleInbox implements ExampleSink {
  private final LinkedBlockingQueue<Example> queue = new LinkedBlockingQueue<>();
  private final int capacity;

  public ExampleInbox(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("inbox capacity must be >= 1, was " + capacity);
    }
    this.capacity = capacity;
  }

  @Override
  public void accept(List<Example> examples) {
    queue.addAll(examples);
  }

  @Override
  public boolean saturated() {
    return queue.size() >= capacity;
  }

  /** Takes up to {@code max} examples, waiting up to {@code timeoutMs} for the first one. */
  public List<Example> drain(int max, long timeoutMs) throws InterruptedException {
    List<Example> out = new ArrayList<>(max);
    Example first = queue.poll(timeoutMs, TimeUnit.MILLISECONDS);
    if (first != null) {
      out.add(first);
      queue.drainTo(out, max - 1);
    }
    return out;
  }

  public int size() {
    return queue.size();
  }
}
