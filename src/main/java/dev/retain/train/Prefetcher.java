package dev.retain.train;

import ai.djl.ndarray.NDManager;
import dev.retain.model.LoraNet;
import dev.retain.model.Tensors;
import dev.retain.record.Example;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Computes the frozen first-layer output of a coming step's fresh examples on a helper thread, so
 * that the step finds it ready: a pipeline over a second core, as that product is the largest of a
 * step and needs no adapter. Only for a base with a frozen first layer (an MLP).
 */
final class Prefetcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Prefetcher.class);
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private final LoraNet model;
  private final Batch batch;
  private final AtomicLong cpuNanos = new AtomicLong(); // of the helper thread
  private ExecutorService helper; // started by the first prefetch
  private Pending pending;
  private Map<ExampleKey, float[]> ready = Map.of();
  private long used;

  Prefetcher(LoraNet model, int features) {
    this.model = model;
    this.batch = new Batch(features);
  }

  /** Starts computing the first layer of {@code upcoming}, after collecting any pending one. */
  void start(List<Example> upcoming) {
    collect();
    if (helper == null) {
      helper = Executors.newSingleThreadExecutor(Prefetcher::thread);
    }
    List<Example> examples = List.copyOf(upcoming);
    long version = model.baseVersion();
    pending = new Pending(examples, version, helper.submit(() -> compute(examples)));
  }

  private static Thread thread(Runnable task) {
    int threads = Devices.threadsOfThisThread();
    Thread thread =
        new Thread(
            () -> {
              Devices.useThreads(threads); // per thread in the engine
              task.run();
            },
            "retain-learner-prefetch");
    thread.setDaemon(true);
    return thread;
  }

  /**
   * The first-layer rows of every one of {@code fresh}, in order, when a prefetch has them all;
   * otherwise an empty list (the step then computes them).
   */
  List<float[]> rowsFor(List<Example> fresh) {
    if (pending != null && pending.covers(fresh)) {
      collect();
    }
    List<float[]> rows = new java.util.ArrayList<>(fresh.size());
    for (Example e : fresh) {
      float[] row = ready.get(new ExampleKey(e));
      if (row == null) {
        return List.of(); // a head covers all fresh rows or none; rare
      }
      rows.add(row);
    }
    used += rows.size();
    return rows;
  }

  /** On the helper thread: the first layer's output of {@code examples}, row after row. */
  private float[] compute(List<Example> examples) {
    long start = THREADS.getCurrentThreadCpuTime();
    try (NDManager sub = model.manager().newSubManager()) {
      return Tensors.floats(model.frozenFirstLayer(batch.inputs(sub, examples)));
    } finally {
      cpuNanos.addAndGet(THREADS.getCurrentThreadCpuTime() - start);
    }
  }

  private void ready(Pending done, float[] rows) {
    if (done.baseVersion() != model.baseVersion()) {
      return; // computed with another base
    }
    List<Example> examples = done.examples();
    int width = model.firstLayerWidth();
    for (int i = 0; i < examples.size(); i++) {
      ready.put(
          new ExampleKey(examples.get(i)), Arrays.copyOfRange(rows, i * width, (i + 1) * width));
    }
  }

  /** Waits for the pending prefetch, if any, and makes its rows the ready ones. */
  private void collect() {
    Pending done = pending;
    pending = null;
    if (done == null) {
      return;
    }
    ready = new HashMap<>();
    try {
      float[] out = done.rows().get();
      ready(done, out);
    } catch (ExecutionException e) {
      LOG.warn("prefetching the first layer failed; the step computes it", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Fresh rows whose first-layer output was ready. */
  long usedRows() {
    return used;
  }

  /** CPU time the helper has spent computing first layers, in nanoseconds. */
  long cpuNanos() {
    return cpuNanos.get();
  }

  @Override
  public void close() {
    if (helper != null) {
      helper.shutdownNow();
    }
  }

  /** A prefetch under way: for which examples, with which base, and its result. */
  private record Pending(List<Example> examples, long baseVersion, Future<float[]> rows) {
    /** True when it was started for the first of {@code fresh} (the same example object). */
    boolean covers(List<Example> fresh) {
      return !fresh.isEmpty() && examples.stream().anyMatch(e -> e == fresh.get(0));
    }
  }
}
