package dev.retain.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.retain.config.Choice;

/** Chooses where training runs: {@code auto} (a GPU when the engine finds one), cpu or gpu. */
public final class Devices {
  private Devices() {}

  /** The device {@code choice} names; fails when a GPU is required and none is found. */
  public static Device select(Choice.Device choice) {
    int gpus = Engine.getInstance().getGpuCount();
    return switch (choice) {
      case CPU -> Device.cpu();
      case GPU -> {
        if (gpus == 0) {
          throw new IllegalStateException(
              "retain.train.device=gpu but the PyTorch engine finds no GPU (CPU natives only?)");
        }
        yield Device.gpu();
      }
      case AUTO -> gpus > 0 ? Device.gpu() : Device.cpu();
    };
  }

  /** A new base manager on the chosen device; the caller owns and closes it. */
  public static NDManager manager(Choice.Device choice) {
    return NDManager.newBaseManager(select(choice));
  }

  /**
   * Sets the engine's intra-op thread count; effective only before the engine first starts in this
   * process (PyTorch reads it once).
   */
  public static void configureThreads(int threads) {
    if (threads > 0 && System.getProperty("ai.djl.pytorch.num_threads") == null) {
      System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    }
  }

  /**
   * Sets the engine's intra-op thread count for the calling thread. PyTorch keeps it per thread
   * (OpenMP), so a thread the engine did not start runs with one thread per core until told.
   */
  public static void useThreads(int threads) {
    if (threads > 0) {
      JniUtils.setNumThreads(threads);
    }
  }

  /** The engine's intra-op thread count of the calling thread. */
  public static int threadsOfThisThread() {
    return JniUtils.getNumThreads();
  }
}
