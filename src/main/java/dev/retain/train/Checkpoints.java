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
    if (!targets.isEmpty()) {
      int classes = targets.values().iterator().next().length;
      float[] rowsOfTargets = new float[targets.size() * classes];
      int i = 0;
      for (float[] t : targets.values()) {
        System.arraycopy(t, 0, rowsOfTargets, i++ * classes, classes);
      }
      rest.put(
          TARGETS, new SafeTensors.Tensor(new long[] {targets.size(), classes}, rowsOfTargets));
      meta.put(TARGET_IDS, json(new ArrayList<>(targets.keySet())));
    }
    try (StoreBatch batch = store.newBatch()) {
      batch.put(Blob.CHECKPOINT, SafeTensors.write(rest, meta), model);
      batch.put(Blob.EWC_STATE, SafeTensors.write(ewc, Map.of()), model);
      store.commit(batch);
    }
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
    List<Map<String, Double>> rows = parse(main.metadata().get(MATRIX), new TypeReference<>() {});
    List<String> learned = parse(main.metadata().get(LEARNED), new TypeReference<>() {});
    List<Row> out = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      out.add(new Row(learned.get(i), rows.get(i)));
    }
    String domain = main.metadata().get(DOMAIN);
    Map<String, float[]> targets = new LinkedHashMap<>();
    SafeTensors.Tensor rowsOfTargets = tensors.remove(TARGETS);
    if (rowsOfTargets != null) {
      List<String> ids = parse(main.metadata().get(TARGET_IDS), new TypeReference<>() {});
      int classes = (int) rowsOfTargets.shape()[1];
      for (int i = 0; i < ids.size(); i++) {
        targets.put(
            ids.get(i), Arrays.copyOfRange(rowsOfTargets.data(), i * classes, (i + 1) * classes));
      }
    }
    Map<TopicPartition, Long> positions = new LinkedHashMap<>();
    String stored = main.metadata().get(POSITIONS); // absent in checkpoints of older versions
    if (stored != null) {
      Map<String, Long> byName = parse(stored, new TypeReference<>() {});
      byName.forEach(
          (name, offset) -> {
            int dash = name.lastIndexOf('-');
            positions.put(
                new TopicPartition(
                    name.substring(0, dash), Integer.parseInt(name.substring(dash + 1))),
                offset);
          });
    }
    return new Restored(
        new SafeTensors.Contents(tensors, main.metadata()),
        targets,
        out,
        domain == null || domain.isEmpty() ? null : domain,
        positions);
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
