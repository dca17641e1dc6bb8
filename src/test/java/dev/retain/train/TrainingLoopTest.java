package dev.retain.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.ingest.ExampleInbox;
import dev.retain.ingest.Handover;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.store.HoldoutSets;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop on its own, fed as ingest feeds it, without a broker. */
class TrainingLoopTest {
  private static final TopicPartition TP = new TopicPartition("examples", 0);
  @TempDir Path dir;

  /**
   * Each candidate is offered only once the learner's checkpoint holds its state: a process killed
   * right after a promotion then resumes at, not behind, its champion.
   */
  @Test
  void shouldCheckpointBeforeOfferingACandidate() throws Exception {
    RetainConfig config = new RetainConfig(TestData.learnerConfig("localhost:1", dir));
    List<String> mismatches = Collections.synchronizedList(new ArrayList<>());
    List<Long> offered = Collections.synchronizedList(new ArrayList<>());
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      CandidateHandler handler =
          candidate -> {
            SafeTensors.Contents saved = Checkpoints.load(store, state.model()).learner();
            long steps = Long.parseLong(saved.metadata().get("steps"));
            if (steps != candidate.steps()) {
              mismatches.add("checkpoint at " + steps + ", candidate at " + candidate.steps());
            }
            offered.add(candidate.steps());
            return null;
          };
      ExampleInbox inbox = new ExampleInbox(100_000);
      try (TrainingLoop loop =
          new TrainingLoop(config, store, state, inbox, handler, new SimpleMeterRegistry())) {
        loop.start();
        DriftStream stream = TestData.driftStream();
        List<Example> trainable = new ArrayList<>();
        List<Long> next = new ArrayList<>();
        try (StoreBatch batch = store.newBatch()) {
          for (int d = 0; d < 2; d++) {
            for (int i = 0; i < 1500; i++) {
              Example e = stream.example(d, i);
              if (state.route(e, batch)) {
                trainable.add(e);
                next.add(d * 1500L + i + 1);
              }
            }
          }
          state.flush(batch);
          store.commit(batch);
        }
        inbox.accept(
            new Handover(
                trainable,
                Collections.nCopies(trainable.size(), TP),
                next.stream().mapToLong(Long::longValue).toArray(),
                Map.of(TP, 3000L)));
        await()
            .atMost(Duration.ofMinutes(2))
            .until(() -> (inbox.size() == 0 && loop.isQuiescent()) || !loop.isAlive());
        assertThat(loop.failure()).isNull();
      }
    }
    assertThat(offered).as("a domain boundary and the idle end").hasSizeGreaterThanOrEqualTo(2);
    assertThat(mismatches).isEmpty();
  }

  /**
   * A stream whose records carry no domain: the detector on the prequential error raises no alarm
   * while the first regime lasts and one once the second begins; the alarm closes the first regime
   * (a consolidation offered as a drift) and opens regime-1, the name ingest gives such records
   * from then on.
   */
  @Test
  void shouldDetectADriftInThePrequentialErrorWithoutDomainLabels() throws Exception {
    RetainConfig config = new RetainConfig(TestData.learnerConfig("localhost:1", dir));
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      ExampleInbox inbox = new ExampleInbox(100_000);
      List<Trigger> triggers = Collections.synchronizedList(new ArrayList<>());
      CandidateHandler handler =
          candidate -> {
            triggers.add(candidate.trigger());
            return null;
          };
      try (TrainingLoop loop = new TrainingLoop(config, store, state, inbox, handler, meters)) {
        loop.start();
        DriftStream stream = TestData.driftStream();
        assertThat(state.regimes().current()).isEqualTo("default");
        feedUnlabelled(store, state, inbox, stream, 0, 3000);
        awaitQuiescent(loop, inbox);
        assertThat(alarms(meters)).as("alarms within the first regime").isZero();
        feedUnlabelled(store, state, inbox, stream, 1, 1500);
        await().atMost(Duration.ofMinutes(2)).until(() -> alarms(meters) >= 1 || !loop.isAlive());
        assertThat(loop.failure()).isNull();
        await().atMost(Duration.ofMinutes(1)).until(() -> triggers.contains(Trigger.DRIFT));
        assertThat(state.regimes().current()).isEqualTo("regime-1");
        assertThat(meters.get("retain.drift.regime").gauge().value()).isEqualTo(1.0);
      }
    }
  }

  /**
   * A regime that comes back is recognised: regime A, then B, then A again without domains. The
   * drift back to A (seen by the input test: the error stays low on what the model still knows)
   * opens a regime, whose first examples match A's holdout, so the learner names them after A again
   * and A's holdout takes the new regime's held-out examples; B keeps its own.
   */
  @Test
  void shouldRecogniseARegimeThatComesBack() throws Exception {
    RetainConfig config = new RetainConfig(TestData.learnerConfig("localhost:1", dir));
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      ExampleInbox inbox = new ExampleInbox(100_000);
      try (TrainingLoop loop =
          new TrainingLoop(config, store, state, inbox, candidate -> null, meters)) {
        loop.start();
        DriftStream stream = TestData.driftStream();
        feedUnlabelled(store, state, inbox, stream, 0, 0, 3000, 0);
        awaitQuiescent(loop, inbox);
        feedUnlabelled(store, state, inbox, stream, 1, 0, 2000, 3000);
        awaitQuiescent(loop, inbox);
        assertThat(state.regimes().current()).isEqualTo("regime-1");
        int aHeldOut = state.holdout().holdout("default").size();
        feedUnlabelled(store, state, inbox, stream, 0, 3000, 2000, 5000);
        awaitQuiescent(loop, inbox);
        assertThat(loop.drift().detections())
            .extracting(DriftDetection::opened)
            .contains("regime-1", "regime-2");
        assertThat(state.regimes().current()).as("A come back").isEqualTo("default");
        assertThat(state.holdout().holdout("regime-2")).isEmpty();
        assertThat(state.holdout().holdout("default").size()).isGreaterThan(aHeldOut);
        // B's own, and A's first examples up to the detection (a regime starts where it is found)
        List<Example> b = state.holdout().holdout("regime-1");
        assertThat(b.stream().filter(e -> e.id().startsWith("1-")).count())
            .isGreaterThanOrEqualTo(b.size() * 3L / 4);
        assertThat(meters.get("retain.drift.regime").gauge().value()).isZero();
      }
    }
  }

  /**
   * A drift among the examples gathered to pretrain the base, on a stream without domains: the
   * input test finds it while they are gathered and a regime opens there; the second regime's
   * held-out examples are its own, the first's its own.
   */
  @Test
  void shouldOpenARegimeForADriftAmongThePretrainingExamples() throws Exception {
    Map<String, Object> props = TestData.learnerConfig("localhost:1", dir);
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, 4000);
    RetainConfig config = new RetainConfig(props);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      ExampleInbox inbox = new ExampleInbox(100_000);
      try (TrainingLoop loop =
          new TrainingLoop(config, store, state, inbox, candidate -> null, meters)) {
        loop.start();
        DriftStream stream = TestData.driftStream();
        feedUnlabelled(store, state, inbox, stream, 0, 0, 2000, 0);
        feedUnlabelled(store, state, inbox, stream, 1, 0, 3000, 2000);
        awaitQuiescent(loop, inbox);
        assertThat(loop.drift().detections())
            .filteredOn(d -> "regime-1".equals(d.opened()))
            .singleElement()
            .satisfies(d -> assertThat(d.exampleId()).startsWith("1-"));
        assertThat(state.regimes().current()).isEqualTo("regime-1");
        List<Example> second = state.holdout().holdout("regime-1");
        assertThat(second).isNotEmpty();
        assertThat(second.stream().filter(e -> e.id().startsWith("1-")).count())
            .isGreaterThanOrEqualTo(second.size() * 3L / 4);
        List<Example> first = state.holdout().holdout("default");
        assertThat(first.stream().filter(e -> e.id().startsWith("0-")).count())
            .isGreaterThanOrEqualTo(first.size() * 3L / 4);
      }
    }
  }

  /**
   * A crash after the learner opened a regime and checkpointed, before ingest stored the change:
   * the store still names the old regime, and the restarted learner opens the new one again where
   * its checkpoint stands, moving the held-out examples past it.
   */
  @Test
  void shouldOpenTheRegimeAgainAfterACrashBeforeItWasStored() throws Exception {
    RetainConfig config = new RetainConfig(TestData.learnerConfig("localhost:1", dir));
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      ExampleInbox inbox = new ExampleInbox(100_000);
      List<Trigger> triggers = Collections.synchronizedList(new ArrayList<>());
      try (TrainingLoop loop =
          new TrainingLoop(
              config,
              store,
              state,
              inbox,
              candidate -> {
                triggers.add(candidate.trigger());
                return null;
              },
              new SimpleMeterRegistry())) {
        loop.start();
        DriftStream stream = TestData.driftStream();
        feedUnlabelled(store, state, inbox, stream, 0, 3000);
        feedUnlabelled(store, state, inbox, stream, 1, 1500);
        await().atMost(Duration.ofMinutes(2)).until(() -> triggers.contains(Trigger.DRIFT));
        assertThat(state.regimes().current()).isEqualTo("regime-1");
      } // no ingest wrote the change: a crash now loses it from the store
    }
    try (RetainStore store = RetainStore.open(dir, false)) {
      ModelState state = ModelState.load(store, config);
      assertThat(state.regimes().current()).as("as stored").isEqualTo("default");
      try (TrainingLoop loop =
          new TrainingLoop(
              config, store, state, new ExampleInbox(10), c -> null, new SimpleMeterRegistry())) {
        loop.start();
        await().atMost(Duration.ofMinutes(1)).until(() -> loop.isReady() || !loop.isAlive());
        assertThat(state.regimes().current()).isEqualTo("regime-1");
        List<Example> second = state.holdout().holdout("regime-1");
        assertThat(second).isNotEmpty().allMatch(e -> e.id().startsWith("1-"));
      }
    }
  }

  private static double alarms(SimpleMeterRegistry meters) {
    var counter = meters.find("retain.drift.detections").tag("source", "adwin").counter();
    return counter == null ? 0 : counter.count();
  }

  private static void awaitQuiescent(TrainingLoop loop, ExampleInbox inbox) {
    await()
        .atMost(Duration.ofMinutes(2))
        .until(() -> (inbox.size() == 0 && loop.isQuiescent()) || !loop.isAlive());
    assertThat(loop.failure()).isNull();
  }

  /** Regime {@code d} of the stream, every record under one domain name, routed as ingest does. */
  private static void feedUnlabelled(
      RetainStore store, ModelState state, ExampleInbox inbox, DriftStream stream, int d, int n) {
    feedUnlabelled(store, state, inbox, stream, d, 0, n, d * 10_000L);
  }

  /** Examples {@code from} to {@code from + n} of regime {@code d}, from offset {@code offset}. */
  private static void feedUnlabelled(
      RetainStore store,
      ModelState state,
      ExampleInbox inbox,
      DriftStream stream,
      int d,
      int from,
      int n,
      long offset) {
    List<Example> trainable = new ArrayList<>();
    List<Long> next = new ArrayList<>();
    try (StoreBatch batch = store.newBatch()) {
      for (int i = 0; i < n; i++) {
        Example e = stream.example(d, from + i);
        Example unlabelled =
            new Example(d + "-" + (from + i), e.features(), e.label(), "default", 0L);
        Example routed = state.route(unlabelled, HoldoutSets.position(0, offset + i), batch);
        if (routed != null) {
          trainable.add(routed); // as ingest hands it over: the reservoir knows it by identity
          next.add(offset + i + 1);
        }
      }
      state.flush(batch);
      store.commit(batch);
    }
    inbox.accept(
        new Handover(
            trainable,
            Collections.nCopies(trainable.size(), TP),
            next.stream().mapToLong(Long::longValue).toArray(),
            Map.of(TP, offset + n)));
  }
}
