package dev.retain.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.record.Example;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class ExampleInboxTest {
  private static final TopicPartition TP = new TopicPartition("retain.examples", 0);

  /** Examples at offsets {@code first}, {@code first + 2}, ... (every other record held out). */
  private static Handover batch(long first, int count, String domain, long next) {
    List<Example> examples = new ArrayList<>();
    long[] offsets = new long[count];
    for (int i = 0; i < count; i++) {
      long offset = first + 2L * i;
      examples.add(new Example("e" + offset, new float[] {1f}, 0, domain, 0L));
      offsets[i] = offset + 1;
    }
    return new Handover(examples, Collections.nCopies(count, TP), offsets, Map.of(TP, next));
  }

  @Test
  void shouldReportThePositionOfTheLastDrainedExampleNotOfTheWholeDelivery() throws Exception {
    ExampleInbox inbox = new ExampleInbox(1000);
    inbox.accept(batch(0, 10, "a", 20)); // offsets 0, 2, ..., 18; the batch ends at 20
    assertThat(inbox.drain(3, 0)).extracting(Example::id).containsExactly("e0", "e2", "e4");
    assertThat(inbox.drainedThrough()).containsEntry(TP, 5L);
    assertThat(inbox.drain(100, 0)).hasSize(7);
    assertThat(inbox.drainedThrough())
        .as("the held-out record after the last example")
        .containsEntry(TP, 20L);
  }

  @Test
  void shouldStartABatchWithEachNewDomainButMixDomainsSeenBefore() throws Exception {
    ExampleInbox inbox = new ExampleInbox(1000);
    inbox.accept(batch(0, 4, "a", 8));
    inbox.accept(batch(8, 4, "b", 16));
    inbox.accept(batch(16, 4, "a", 24));
    inbox.accept(batch(24, 4, "b", 32));
    assertThat(inbox.drain(64, 0)).extracting(Example::domain).containsOnly("a").hasSize(4);
    assertThat(inbox.drainedThrough()).containsEntry(TP, 8L);
    assertThat(inbox.drain(64, 0))
        .as("b is new: it starts a batch; then a and b return, known, in the same one")
        .extracting(Example::domain)
        .containsExactly("b", "b", "b", "b", "a", "a", "a", "a", "b", "b", "b", "b");
    assertThat(inbox.size()).isZero();
  }

  @Test
  void shouldTopUpABatchWithWhatArrivedSinceButNotWithANewDomain() throws Exception {
    ExampleInbox inbox = new ExampleInbox(1000);
    inbox.accept(batch(0, 2, "a", 4));
    java.util.List<Example> first = inbox.drain(32, 0);
    inbox.accept(batch(4, 3, "a", 10)); // arrived while the learner waited for its turn
    inbox.accept(batch(10, 2, "b", 14));
    assertThat(inbox.topUp(first, 32))
        .extracting(Example::id)
        .containsExactly("e0", "e2", "e4", "e6", "e8");
    assertThat(inbox.drainedThrough()).containsEntry(TP, 10L);
    assertThat(inbox.drain(32, 0)).extracting(Example::domain).containsExactly("b", "b");
  }
}
