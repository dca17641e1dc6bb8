package dev.retain.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The whole machine's CPU accounting from Linux's {@code /proc/stat} (its first line, in the usual
 * 100 ticks per second), read before and after a measured phase: how busy the machine was, every
 * process and the kernel together, and how much time the hypervisor gave to other guests while this
 * one wanted to run ("steal"), which on a shared virtual machine slows a run without any change in
 * the code. NaN where there is no such file.
 */
final class HostCpu {
  private HostCpu() {}

  /** CPU seconds busy so far: user, nice, system, irq and softirq. */
  static double busySeconds() {
    return seconds(1, 2, 3, 6, 7);
  }

  /** CPU seconds stolen by the hypervisor so far. */
  static double stolenSeconds() {
    return seconds(8);
  }

  private static double seconds(int... fields) {
    try {
      String[] line = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long ticks = 0;
      for (int field : fields) {
        ticks += Long.parseLong(line[field]);
      }
      return ticks / 100.0;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }
}
