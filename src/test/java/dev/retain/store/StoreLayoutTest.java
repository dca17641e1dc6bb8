package dev.retain.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.record.Example;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pins every key and value layout the store writes: a store written by an older release must read
 * the same. The content is made through the public API (replay, holdouts, dedup window, positions,
 * the whole values of {@link Blob}); every family is dumped as hex and compared with a golden file.
 * The store's random identity is left out.
 */
class StoreLayoutTest {
  private static final String GOLDEN = "/golden/store-v1.txt";
  @TempDir Path dir;

  @Test
  void shouldWriteTheKeysAndValuesOfTheGoldenStore() throws IOException {
    String dump;
    try (RetainStore store = RetainStore.open(dir.resolve("db"), false)) {
      fill(store);
      dump = dump(store);
    }
    try (InputStream in = getClass().getResourceAsStream(GOLDEN)) {
      if (in == null) {
        Path out = Path.of("target", "store-v1.txt");
        Files.writeString(out, dump);
        throw new AssertionError("no " + GOLDEN + "; this build's layout is in " + out);
      }
      assertThat(dump).isEqualTo(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  private static void fill(RetainStore store) {
    ModelState state =
        new ModelState(
            "m",
            ReplayBuffer.load(store, "m", 4, 7),
            HoldoutSets.load(store, "m", 3, 2),
            DedupWindow.load(store, "m", 8));
    try (StoreBatch batch = store.newBatch()) {
      for (int i = 0; i < 9; i++) {
        Example e =
            new Example(
                "id-" + i, new float[] {i, -0.5f}, i % 2, i < 5 ? "d0" : "d1", 1_700_000_000L + i);
        state.dedup().add(e.id());
        state.route(e, HoldoutSets.position(1, i), batch);
      }
      state.regimes().open(Map.of(1, 9L));
      state.flush(batch);
      Offsets.put(batch, "g", new TopicPartition("t", 1), 42L);
      for (Blob blob : Blob.values()) {
        byte[] value = blob.name().getBytes(StandardCharsets.UTF_8);
        boolean perVersion = blob == Blob.VERSION || blob == Blob.ARCHIVE;
        batch.put(blob, value, perVersion ? new String[] {"m", "v1"} : new String[] {"m"});
      }
      store.commit(batch);
    }
  }

  /** Every key and value of every family, as hex lines, in family and key order. */
  private static String dump(RetainStore store) {
    byte[] identity = Keys.of("store-identity").bytes();
    HexFormat hex = HexFormat.of();
    List<String> lines = new ArrayList<>();
    for (Family family : Family.values()) {
      store.scan(
          family,
          new byte[0],
          (key, value) -> {
            if (!java.util.Arrays.equals(key, identity)) {
              lines.add(family + " " + hex.formatHex(key) + " " + hex.formatHex(value));
            }
          });
    }
    return String.join("\n", lines) + "\n";
  }
}
