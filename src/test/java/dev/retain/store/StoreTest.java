package dev.retain.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.retain.record.Example;
import dev.retain.record.ExampleValidator;
import dev.retain.testing.TestData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreTest {
  @TempDir Path dir;

  @Test
  void shouldKeepEveryClassAnEqualShareWhenClassesArriveOneAfterAnother() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 90, 1);
      StoreBatch batch = store.newBatch();
      for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 500; i++) {
          replay.offer(TestData.example(c + "-" + i, c, "d", 4), batch);
        }
      }
      replay.flush(batch);
      store.commit(batch);
      assertThat(replay.sizeByClass()).isEqualTo(Map.of(0, 30, 1, 30, 2, 30));
      assertThat(replay.seenByClass()).containsEntry(0, 500L).containsEntry(2, 500L);
      assertThat(new HashSet<>(replay.snapshot())).hasSize(90);
    }
  }

  @Test
  void shouldDropATargetWithItsExampleAndRestoreTargetsById() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 20, 1);
      StoreBatch batch = store.newBatch();
      for (int i = 0; i < 20; i++) {
        replay.offer(TestData.example("a-" + i, i % 2, "d", 4), batch);
      }
      // only examples the learner has trained on may get a target
      assertThat(replay.untargeted()).isEmpty();
      List<Example> held = replay.snapshot();
      replay.markLearned(held.subList(0, 5));
      assertThat(replay.untargeted()).containsExactlyElementsOf(held.subList(0, 5));
      replay.markLearned(held);
      assertThat(replay.untargeted()).containsExactlyElementsOf(held);
      float[] logits = new float[held.size() * 2];
      for (int i = 0; i < logits.length; i++) {
        logits[i] = i;
      }
      Example gone = TestData.example("never-held", 0, "d", 4);
      replay.target(List.of(held.get(0), gone), new float[] {7f, 8f, 9f, 10f}, 2);
      replay.target(held.subList(1, held.size()), java.util.Arrays.copyOfRange(logits, 2, 40), 2);
      assertThat(replay.untargeted()).isEmpty();
      assertThat(replay.targets(List.of(held.get(0), gone, held.get(3))))
          .containsExactly(new float[] {7f, 8f}, null, new float[] {6f, 7f});

      // a long stream replaces most examples: their targets leave with them
      for (int i = 0; i < 2000; i++) {
        replay.offer(TestData.example("b-" + i, i % 2, "d", 4), batch);
      }
      List<Example> now = replay.snapshot();
      Map<String, float[]> byId = replay.targetsById();
      assertThat(byId.keySet())
          .allMatch(id -> id.startsWith("a-"))
          .allMatch(id -> now.stream().anyMatch(e -> e.id().equals(id)));
      assertThat(replay.untargeted()).isEmpty(); // the newcomers are not learned yet

      ReplayBuffer other = ReplayBuffer.load(store, "m2", 20, 1);
      StoreBatch otherBatch = store.newBatch();
      now.forEach(e -> other.offer(e, otherBatch));
      other.restoreTargets(byId);
      assertThat(other.targetsById()).containsOnlyKeys(byId.keySet());
      byId.forEach((id, t) -> assertThat(other.targetsById().get(id)).isEqualTo(t));
    }
  }

  @Test
  void shouldKeepEveryDomainAnEqualShareWhenBalancingByDomainAndReloadIt() {
    Map<String, Integer> classBalanced = domainShares(false);
    Map<String, Integer> domainBalanced = domainShares(true);
    // by class, the first domain fades to its share of the stream (400 of 3,400 offers)
    assertThat(classBalanced.get("")).isEqualTo(60);
    assertThat(domainBalanced).isEqualTo(Map.of("d0", 20, "d1", 20, "d2", 20));
    try (RetainStore store = RetainStore.open(dir.resolve("true"), false)) {
      ReplayBuffer reloaded = ReplayBuffer.load(store, "m", 60, 9, true);
      assertThat(reloaded.sizeByDomain()).isEqualTo(domainBalanced);
      assertThat(reloaded.sizeByClass()).isEqualTo(Map.of(0, 30, 1, 30));
      assertThat(reloaded.seenByClass()).isEqualTo(Map.of(0, 1700L, 1, 1700L));
    }
  }

  /** Slots per domain after 400 examples of d0, then 1,500 of d1 and of d2, two classes each. */
  private Map<String, Integer> domainShares(boolean byDomain) {
    try (RetainStore store = RetainStore.open(dir.resolve(Boolean.toString(byDomain)), false)) {
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 60, 5, byDomain);
      int[] counts = {400, 1500, 1500};
      StoreBatch batch = store.newBatch();
      for (int d = 0; d < 3; d++) {
        for (int i = 0; i < counts[d]; i++) {
          replay.offer(TestData.example(d + "-" + i, i % 2, "d" + d, 4), batch);
        }
      }
      replay.flush(batch);
      store.commit(batch);
      if (!byDomain) {
        long early = replay.snapshot().stream().filter(e -> e.domain().equals("d0")).count();
        assertThat(early).as("d0 slots by class").isLessThan(15);
      }
      return replay.sizeByDomain();
    }
  }

  @Test
  void shouldSampleWithinClassUniformlyWhenStreamIsLong() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 100, 7);
      try (StoreBatch batch = store.newBatch()) {
        for (int i = 0; i < 10_000; i++) {
          replay.offer(TestData.example("x-" + i, 0, "d", 2), batch);
        }
      }
      // a uniform reservoir of 100 out of 10,000 has a mean index near 5,000
      double mean =
          replay.snapshot().stream()
              .mapToInt(e -> Integer.parseInt(e.id().substring(2)))
              .average()
              .orElseThrow();
      assertThat(mean).isBetween(3_500.0, 6_500.0);
    }
  }

  @Test
  void shouldReloadTheSameStateWhenReopened() {
    try (RetainStore store = RetainStore.open(dir, true)) {
      ModelParts parts = ModelParts.load(store);
      StoreBatch batch = store.newBatch();
      for (int i = 0; i < 300; i++) {
        Example e = TestData.example("e" + i, i % 3, "dom-" + (i / 100), 4);
        parts.dedup.add(e.id());
        if (!parts.holdout.offer(e)) {
          parts.replay.offer(e, batch);
        }
      }
      parts.flush(batch);
      Offsets.put(batch, "g", new TopicPartition("t", 0), 300);
      store.commit(batch);
    }
    try (RetainStore store = RetainStore.open(dir, true)) {
      ModelParts parts = ModelParts.load(store);
      assertThat(parts.holdout.domains()).containsExactly("dom-0", "dom-1", "dom-2");
      assertThat(parts.holdout.sizeByDomain()).containsEntry("dom-0", 10);
      assertThat(parts.holdout.seenByDomain()).containsEntry("dom-2", 100L);
      assertThat(parts.replay.seenByClass().values().stream().mapToLong(Long::longValue).sum())
          .isEqualTo(270);
      assertThat(parts.replay.size()).isEqualTo(60);
      assertThat(parts.dedup.add("e5")).isFalse();
      assertThat(parts.dedup.add("new")).isTrue();
      assertThat(Offsets.read(store, "g")).containsEntry(new TopicPartition("t", 0), 300L);
    }
  }

  @Test
  void shouldHoldOutEveryTenthUpToTheCapWhenADomainIsLong() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      HoldoutSets holdout = HoldoutSets.load(store, "m", 10, 5);
      for (int i = 1; i <= 50; i++) {
        assertThat(holdout.offer(TestData.example("h" + i, 0, "d", 2))).isEqualTo(i % 10 == 0);
      }
      assertThat(holdout.holdout("d"))
          .extracting(Example::id)
          .containsExactly("h10", "h20", "h30", "h40", "h50");
      for (int i = 51; i <= 1000; i++) {
        boolean held = holdout.offer(TestData.example("h" + i, 0, "d", 2));
        assertThat(held && i % 10 != 0).as("h%d is not a candidate", i).isFalse();
      }
      assertThat(holdout.holdout("d")).hasSize(5);
    }
  }

  /**
   * A long stationary domain keeps refreshing its holdout: a reservoir over the domain's
   * candidates, so the set is a uniform sample of the whole domain, not its first examples; the
   * store holds what memory holds.
   */
  @Test
  void shouldKeepAUniformSampleOfALongDomainInItsHoldout() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      HoldoutSets holdout = HoldoutSets.load(store, "m", 2, 100);
      try (StoreBatch batch = store.newBatch()) {
        for (int i = 0; i < 20_000; i++) {
          holdout.offer(TestData.example("h" + i, 0, "d", 2), HoldoutSets.position(0, i));
        }
        holdout.flush(batch);
        store.commit(batch);
      }
      List<Integer> held =
          holdout.holdout("d").stream().map(e -> Integer.parseInt(e.id().substring(1))).toList();
      assertThat(held).hasSize(100);
      long late = held.stream().filter(i -> i >= 10_000).count();
      assertThat(late).as("held out from the second half of the domain").isBetween(30L, 70L);
      assertThat(HoldoutSets.load(store, "m", 2, 100).holdout("d"))
          .extracting(Example::id)
          .containsExactlyElementsOf(holdout.holdout("d").stream().map(Example::id).toList());
    }
  }

  @Test
  void shouldRememberAtLeastTheWindowWhenGenerationsExpire() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      DedupWindow dedup = DedupWindow.load(store, "m", 10);
      for (int g = 0; g < 5; g++) {
        StoreBatch batch = store.newBatch();
        for (int i = 0; i < 4; i++) {
          assertThat(dedup.add("id-" + (g * 4 + i))).isTrue();
        }
        dedup.flush(batch);
        store.commit(batch);
      }
      DedupWindow reloaded = DedupWindow.load(store, "m", 10);
      for (int i = 10; i < 20; i++) {
        assertThat(reloaded.add("id-" + i)).as("id-" + i).isFalse();
      }
      assertThat(reloaded.add("id-0")).isTrue();
    }
  }

  /**
   * Random ids, repeats and group commits against a plain model of the window (every id since the
   * oldest kept generation): the fingerprint set answers as the model does, across expiry and a
   * reload.
   */
  @Test
  void shouldRejectExactlyTheIdsOfKeptGenerationsWhenIdsRepeatAtRandom() {
    SplittableRandom random = new SplittableRandom(11);
    List<List<String>> kept = new ArrayList<>(); // the model: generations still remembered
    List<String> current = new ArrayList<>();
    int window = 50;
    try (RetainStore store = RetainStore.open(dir, false)) {
      DedupWindow dedup = DedupWindow.load(store, "m", window);
      for (int step = 0; step < 20_000; step++) {
        String id = "id-" + random.nextInt(400);
        boolean known = current.contains(id) || kept.stream().anyMatch(g -> g.contains(id));
        assertThat(dedup.add(id)).as("step %d, %s", step, id).isEqualTo(!known);
        if (!known) {
          current.add(id);
        }
        if (random.nextInt(8) == 0 || step == 19_999) {
          StoreBatch batch = store.newBatch();
          dedup.flush(batch);
          store.commit(batch);
          if (!current.isEmpty()) {
            kept.add(current);
            current = new ArrayList<>();
          }
          int remembered = kept.stream().mapToInt(List::size).sum();
          while (remembered - kept.get(0).size() >= window) {
            remembered -= kept.remove(0).size();
          }
        }
      }
      DedupWindow reloaded = DedupWindow.load(store, "m", window);
      assertThat(reloaded.size()).isEqualTo(kept.stream().mapToInt(List::size).sum());
      for (int i = 0; i < 400; i++) {
        String id = "id-" + i;
        assertThat(reloaded.add(id)).isEqualTo(kept.stream().noneMatch(g -> g.contains(id)));
      }
    }
  }

  /** Plain ASCII generations are written directly; any other id in modified UTF-8, as before. */
  @Test
  void shouldReloadIdsOfEveryKindWhenWrittenInGenerations() {
    List<List<String>> generations =
        List.of(
            List.of("a-1", "a-2", ""),
            List.of("caf\u00e9", "x\u0000y", "\ud83d\ude00", "plain"),
            List.of("z".repeat(ExampleValidator.MAX_NAME_CHARS)));
    try (RetainStore store = RetainStore.open(dir, false)) {
      DedupWindow dedup = DedupWindow.load(store, "m", 100);
      for (List<String> ids : generations) {
        StoreBatch batch = store.newBatch();
        ids.forEach(id -> assertThat(dedup.add(id)).isTrue());
        dedup.flush(batch);
        store.commit(batch);
      }
      DedupWindow reloaded = DedupWindow.load(store, "m", 100);
      assertThat(reloaded.size()).isEqualTo(8);
      generations.forEach(ids -> ids.forEach(id -> assertThat(reloaded.add(id)).as(id).isFalse()));
      assertThat(reloaded.add("a-3")).isTrue();
    }
  }

  @Test
  void shouldRefuseUseWhenClosed() {
    RetainStore store = RetainStore.open(dir, false);
    store.close();
    store.close();
    assertThatThrownBy(store::newBatch)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  @Test
  void shouldReturnSamplesFromTheBufferWhenAsked() {
    try (RetainStore store = RetainStore.open(dir, false)) {
      ReplayBuffer replay = ReplayBuffer.load(store, "m", 20, 3);
      assertThat(replay.sample(5, new SplittableRandom(1))).isEmpty();
      try (StoreBatch batch = store.newBatch()) {
        for (int i = 0; i < 40; i++) {
          replay.offer(TestData.example("s" + i, i % 2, "d", 2), batch);
        }
      }
      assertThat(replay.sample(5, new SplittableRandom(1)))
          .as("nothing held is learned yet: the learner has not reached it")
          .isEmpty();
      List<Example> learned = replay.snapshot().subList(0, 5);
      replay.markLearned(learned);
      List<Example> sample = replay.sample(64, new SplittableRandom(1));
      assertThat(sample).hasSize(64);
      assertThat(learned).containsAll(sample);
      replay.markAllLearned();
      assertThat(replay.sample(200, new SplittableRandom(1))).containsAll(replay.snapshot());
    }
  }

  private record ModelParts(ReplayBuffer replay, HoldoutSets holdout, DedupWindow dedup) {
    static ModelParts load(RetainStore store) {
      return new ModelParts(
          ReplayBuffer.load(store, "m", 60, 1),
          HoldoutSets.load(store, "m", 10, 1000),
          DedupWindow.load(store, "m", 1000));
    }

    void flush(StoreBatch batch) {
      replay.flush(batch);
      holdout.flush(batch);
      dedup.flush(batch);
    }
  }

  /**
   * A full disk is reported as such: a RocksDB write on a 1 MiB tmpfs fails with "store write
   * failed: ... No space left on device". Needs a mount of a small tmpfs (root here and in CI);
   * skipped with a message where mounting is not allowed.
   */
  @Test
  void shouldSayTheDiskIsFullWhenItIs() throws Exception {
    Path mount = dir.resolve("full");
    java.nio.file.Files.createDirectories(mount);
    Process mounted =
        new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount.toString())
            .redirectErrorStream(true)
            .start();
    String said = new String(mounted.getInputStream().readAllBytes());
    org.junit.jupiter.api.Assumptions.assumeTrue(
        mounted.waitFor() == 0, "cannot mount a small tmpfs here: " + said.strip());
    try (RetainStore store = RetainStore.open(mount, false)) {
      byte[] value = new byte[64 << 10];
      new SplittableRandom(1).nextBytes(value);
      assertThatThrownBy(
              () -> {
                for (int i = 0; i < 1000; i++) {
                  try (StoreBatch batch = store.newBatch()) {
                    batch.put(Family.META, Keys.of("fill").i32(i).bytes(), value);
                    store.commit(batch);
                  }
                }
              })
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("store write failed")
          .hasMessageContaining("No space left on device");
    } finally {
      new ProcessBuilder("umount", "-l", mount.toString()).start().waitFor();
    }
  }
}
