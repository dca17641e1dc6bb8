package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Training slots go first come, first served: a model that always has work cannot starve others.
 */
class StepSlotsTest {
  @Test
  void shouldServeWaitingLearnersBeforeABusyOneTakesTheSlotAgain() throws Exception {
    StepSlots slots = new StepSlots(1);
    List<String> order = new CopyOnWriteArrayList<>();
    CountDownLatch othersQueued = new CountDownLatch(1);
    CountDownLatch holding = new CountDownLatch(1);
    Thread busy =
        new Thread(
            () -> {
              try {
                slots.run( // holds the slot until two others wait for it
                    () -> {
                      holding.countDown();
                      await(othersQueued);
                    });
                for (int i = 0; i < 3; i++) {
                  slots.run(() -> order.add("busy"));
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    busy.start();
    holding.await();
    Thread a = queued(slots, order, "a", 1);
    Thread b = queued(slots, order, "b", 2);
    othersQueued.countDown();
    for (Thread t : List.of(busy, a, b)) {
      t.join();
    }
    assertThat(order).containsExactly("a", "b", "busy", "busy", "busy");
  }

  /** Starts a learner that asks for the slot once, and returns when it is queued for it. */
  private static Thread queued(StepSlots slots, List<String> order, String name, int waiting) {
    Thread t =
        new Thread(
            () -> {
              try {
                slots.run(() -> order.add(name));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    t.start();
    while (slots.waiting() < waiting) {
      Thread.onSpinWait(); // until the semaphore's queue holds it
    }
    return t;
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void shouldNotQueueTheOneLearnerOfRetainRun() throws Exception {
    List<String> ran = new CopyOnWriteArrayList<>();
    StepSlots.UNLIMITED.run(() -> ran.add("step"));
    assertThat(ran).containsExactly("step");
    assertThat(StepSlots.UNLIMITED.waiting()).isZero();
  }
}
