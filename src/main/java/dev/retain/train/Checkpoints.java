package dev.retain.train;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.model.SafeTensors;
import dev.retain.store.Blob;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * The learner's checkpoint: adapter and optimizer state (family {@code meta}) and the Fisher with
 * its anchors (family {@code fisher}), with the step count, the current domain and the accuracy
 * matrix, written in one atomic batch. A restart continues from the last consolidation with the
 * same EWC penalty.
 */
final class Checkpoints {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String DOMAIN = "domain"; // metadata fields
  private static final String MATRIX = "matrix";
  private static final String LEARNED = "learned";
  private static final String POSITIONS = "positions";
  private static final String TARGETS = "replay.targets";
  private static final String TARGET_IDS = "replay.target.ids";

  /** One row of the accuracy matrix: after learning {@code learned}, accuracy per domain. */
  record Row(String learned, Map<String, Double> accuracy) {}

  /**
   * @param positions next offset per partition of what the learner had trained on when it saved
   */
  record Restored(
      SafeTensors.Contents learner,
      Map<String, float[]> targets,
      List<Row> rows,
      String domain,
      Map<TopicPartition, Long> positions) {}

  private Checkpoints() {}

  static void save(
      RetainStore store,
      String model,
      Learner learner,
      Map<String, float[]> targets,
      List<Map<String, Double>> rows,
      List<String> learned,
      String domain,
      Map<TopicPartition, Long> positions) {
    SafeTensors.Contents all = learner.checkpoint();
    Map<String, SafeTensors.Tensor> ewc = new LinkedHashMap<>();
    Map<String, SafeTensors.Tensor> rest = new LinkedHashMap<>();
    all.tensors().forEach((k, v) -> (k.startsWith(Ewc.PREFIX) ? ewc : rest).put(k, v));
    Map<String, String> meta = new HashMap<>(all.metadata());
    meta.put(DOMAIN, domain == null ? "" : domain);
    meta.put(MATRIX, json(rows));
    meta.put(LEARNED, json(learned));
    Map<String, Long> byName = new java.util.TreeMap<>();
    positions.forEach((tp, offset) -> byName.put(tp.toString(), offset));
    meta.put(POSITIONS, json(byName));
    putTargets(targets, rest, meta);
    try (StoreBatch batch = store.newBatch()) {
      batch.put(Blob.CHECKPOINT, SafeTensors.write(rest, meta), model);
      batch.put(Blob.EWC_STATE, SafeTensors.write(ewc, Map.of()), model);
      store.commit(batch);
    }
  }

  /** The logit targets as one (examples, classes) tensor, their ids in the metadata. */
  private static void putTargets(
      Map<String, float[]> targets,
      Map<String, SafeTensors.Tensor> tensors,
      Map<String, String> meta) {
    if (targets.isEmpty()) {
      return;
    }
    int classes = targets.values().iterator().next().length;
    float[] rows = new float[targets.size() * classes];
    int i = 0;
    for (float[] t : targets.values()) {
      System.arraycopy(t, 0, rows, i++ * classes, classes);
    }
    tensors.put(TARGETS, new SafeTensors.Tensor(new long[] {targets.size(), classes}, rows));
    meta.put(TARGET_IDS, json(new ArrayList<>(targets.keySet())));
  }

  static Restored load(RetainStore store, String model) {
    byte[] learner = store.get(Blob.CHECKPOINT, model);
    if (learner == null) {
      return null;
    }
    SafeTensors.Contents main = SafeTensors.read(learner);
    byte[] fisher = store.get(Blob.EWC_STATE, model);
    Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>(main.tensors());
    if (fisher != null) {
      tensors.putAll(SafeTensors.read(fisher).tensors());
    }
    Map<String, String> meta = main.metadata();
    List<Map<String, Double>> rows = parse(meta.get(MATRIX), new TypeReference<>() {});
    List<String> learned = parse(meta.get(LEARNED), new TypeReference<>() {});
    List<Row> out = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      out.add(new Row(learned.get(i), rows.get(i)));
    }
    String domain = meta.get(DOMAIN);
    Map<String, float[]> targets = targets(tensors.remove(TARGETS), meta);
    return new Restored(
        new SafeTensors.Contents(tensors, meta),
        targets,
        out,
        domain == null || domain.isEmpty() ? null : domain,
        positions(meta.get(POSITIONS)));
  }

  private static Map<String, float[]> targets(SafeTensors.Tensor rows, Map<String, String> meta) {
    Map<String, float[]> targets = new LinkedHashMap<>();
    if (rows != null) {
      List<String> ids = parse(meta.get(TARGET_IDS), new TypeReference<>() {});
      int classes = (int) rows.shape()[1];
      for (int i = 0; i < ids.size(); i++) {
        targets.put(ids.get(i), Arrays.copyOfRange(rows.data(), i * classes, (i + 1) * classes));
      }
    }
    return targets;
  }

  /** Positions by partition name ({@code topic-partition}); none in older checkpoints. */
  private static Map<TopicPartition, Long> positions(String stored) {
    Map<TopicPartition, Long> positions = new LinkedHashMap<>();
    if (stored != null) {
      Map<String, Long> byName = parse(stored, new TypeReference<>() {});
      byName.forEach(
          (name, offset) -> {
            int dash = name.lastIndexOf('-');
            String topic = name.substring(0, dash);
            positions.put(
                new TopicPartition(topic, Integer.parseInt(name.substring(dash + 1))), offset);
          });
    }
    return positions;
  }

  private static String json(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static <T> T parse(String json, TypeReference<T> type) {
    try {
      return JSON.readValue(json, type);
    } catch (IOException e) {
      throw new UncheckedIOException("corrupt checkpoint metadata", e);
    }
  }
}
