package dev.retain.train;

import java.util.concurrent.Semaphore;

/**
 * How many learners of one process train at the same time. A learner with work takes a slot for one
 * unit of it (a step with its replay, a rehearsal step, a consolidation) and then queues again
 * behind every learner that asked meanwhile: slots are handed out first come, first served (a fair
 * semaphore), so a model whose examples never stop cannot starve the others, and a model with
 * nothing to do costs no slot at all.
 */
public final class StepSlots {
  /** No limit: the single learner of {@code retain run}. */
  public static final StepSlots UNLIMITED = new StepSlots(Integer.MAX_VALUE);

  private final Semaphore permits;
  private final int slots;

  public StepSlots(int slots) {
    this.slots = slots;
    this.permits = new Semaphore(slots, true);
  }

  /** One unit of a learner's work. */
  interface Work {
    void run() throws InterruptedException;
  }

  /** Runs {@code work} once a slot is free. */
  void run(Work work) throws InterruptedException {
    if (slots == Integer.MAX_VALUE) {
      work.run();
      return;
    }
    permits.acquire();
    try {
      work.run();
    } finally {
      permits.release();
    }
  }

  /** Learners waiting for a slot now. */
  public int waiting() {
    return permits.getQueueLength();
  }
}
