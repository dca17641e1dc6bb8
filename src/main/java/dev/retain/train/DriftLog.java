package dev.retain.train;

import dev.retain.record.Example;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * What the learner's drift detection reports besides its metrics and log lines: the latest
 * detections and, to a tool that listens, whether the learner's prediction of each new example was
 * right before it learned it (the prequential accuracy, example by example, that {@code retain
 * bench drift} charts). Thread-safe.
 */
public final class DriftLog {
  private static final int KEPT = 1000;
  private final Deque<DriftDetection> detections = new ArrayDeque<>();
  private volatile BiConsumer<Example, Boolean> listener; // null: none

  /** {@code listener} hears each new example (named after its regime) and whether it was right. */
  public void onPrequential(BiConsumer<Example, Boolean> listener) {
    this.listener = listener;
  }

  BiConsumer<Example, Boolean> listener() {
    return listener;
  }

  synchronized void detected(DriftDetection detection) {
    if (detections.size() == KEPT) {
      detections.removeFirst();
    }
    detections.addLast(detection);
  }

  /** The latest detection opened {@code regime}. */
  synchronized void opened(String regime) {
    DriftDetection last = detections.pollLast();
    if (last != null) {
      detections.addLast(
          new DriftDetection(last.source(), last.exampleId(), last.domain(), regime));
    }
  }

  /** The latest detections (at most {@value #KEPT}), oldest first. */
  public synchronized List<DriftDetection> detections() {
    return List.copyOf(detections);
  }
}
