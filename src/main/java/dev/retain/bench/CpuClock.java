package dev.retain.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.retain.ingest.IngestLoop;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.Consumer;

/** Wall time and the CPU time of the process, its threads and the machine since it was made. */
final class CpuClock {
  private static final OperatingSystemMXBean OS =
      (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private final long wall = System.nanoTime();
  private final long cpu = OS.getProcessCpuTime();
  private final double jit = jitCpuSeconds();
  private final double gc = gcCpuSeconds();
  private final double machine = HostCpu.busySeconds();
  private final double stolen = HostCpu.stolenSeconds();
  private final long poll = THREADS.getCurrentThreadCpuTime();
  private final long absorb = threadCpuNanos(IngestLoop.ABSORB_THREAD);
  private final long writer = threadCpuNanos(IngestLoop.WRITER_THREAD);

  Rate rate(long records, Consumer<?, ?> consumer) {
    double seconds = (System.nanoTime() - wall) / 1e9;
    double cpuPercent = 100.0 * (OS.getProcessCpuTime() - cpu) / 1e9 / seconds;
    double jitPercent = 100.0 * (jitCpuSeconds() - jit) / seconds;
    double machinePercent = 100.0 * (HostCpu.busySeconds() - machine) / seconds;
    double pollPercent = 100.0 * (THREADS.getCurrentThreadCpuTime() - poll) / 1e9 / seconds;
    double absorbPercent =
        absorb < 0
            ? 0
            : 100.0 * (threadCpuNanos(IngestLoop.ABSORB_THREAD) - absorb) / 1e9 / seconds;
    double writerPercent =
        writer < 0
            ? 0
            : 100.0 * (threadCpuNanos(IngestLoop.WRITER_THREAD) - writer) / 1e9 / seconds;
    double gcPercent = 100.0 * (gcCpuSeconds() - gc) / seconds;
    double stolenPercent = 100.0 * (HostCpu.stolenSeconds() - stolen) / seconds;
    return new Rate(
        records / seconds,
        cpuPercent,
        fetchLatencyMs(consumer),
        jitPercent,
        machinePercent,
        pollPercent,
        absorbPercent,
        writerPercent,
        gcPercent,
        stolenPercent);
  }

  /** CPU time of the named thread so far, or -1 while there is none (ingest's, during bare). */
  private static long threadCpuNanos(String name) {
    for (ThreadInfo info : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
      if (info != null && info.getThreadName().equals(name)) {
        return THREADS.getThreadCpuTime(info.getThreadId());
      }
    }
    return -1;
  }

  /**
   * CPU seconds used so far by the JVM's compiler threads, from Linux's per-thread accounting (they
   * are hidden from the JVM's own thread beans); NaN elsewhere. Clock ticks are taken as the usual
   * 100 per second. A compiler thread that the JVM retires during a phase takes its time with it,
   * so the share can come out low.
   */
  private static double jitCpuSeconds() {
    return nativeThreadCpuSeconds(comm -> comm.contains("CompilerThre"));
  }

  /** CPU seconds used so far by the collector's threads (G1's or another's), as above. */
  private static double gcCpuSeconds() {
    return nativeThreadCpuSeconds(
        comm ->
            comm.startsWith("GC Thread") || comm.startsWith("G1 ") || comm.startsWith("VM Thread"));
  }

  /** User and system ticks of one thread whose name {@code comm} accepts; else 0. */
  private static long ticks(File task, Predicate<String> comm) {
    try {
      if (!comm.test(Files.readString(task.toPath().resolve("comm")).strip())) {
        return 0;
      }
      String stat = Files.readString(task.toPath().resolve("stat"));
      // the fields after the command name, which is in parentheses; utime and stime are the
      // 14th and 15th of all fields
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    } catch (IOException | RuntimeException e) {
      return 0; // a thread that ended meanwhile
    }
  }

  /** CPU seconds used so far by the threads whose Linux name matches; NaN elsewhere. */
  private static double nativeThreadCpuSeconds(Predicate<String> comm) {
    File[] tasks = new File("/proc/self/task").listFiles();
    if (tasks == null) {
      return Double.NaN;
    }
    long ticks = 0;
    for (File task : tasks) {
      ticks += ticks(task, comm);
    }
    return ticks / 100.0;
  }

  /**
   * Waits until the JIT compiler threads have been nearly idle (at most 5% of a core) for two 200
   * ms intervals in a row, or 15 s have passed: what producing a round's topic queued for
   * compilation would otherwise be compiled inside the next timed phase, on the same two cores.
   */
  static void awaitQuietCompiler() {
    long deadline = System.nanoTime() + 15_000_000_000L;
    int quiet = 0;
    double before = jitCpuSeconds();
    while (quiet < 2 && System.nanoTime() < deadline && Double.isFinite(before)) {
      try {
        Thread.sleep(200); // a polling interval: the condition is the compiler's CPU time
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      double now = jitCpuSeconds();
      quiet = now - before <= 0.01 ? quiet + 1 : 0;
      before = now;
    }
  }

  private static double fetchLatencyMs(Consumer<?, ?> consumer) {
    return consumer.metrics().entrySet().stream()
        .filter(e -> e.getKey().name().equals("fetch-latency-avg"))
        .filter(e -> e.getKey().group().equals("consumer-fetch-manager-metrics"))
        .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue())
        .filter(Double::isFinite)
        .findFirst()
        .orElse(Double.NaN);
  }
}
