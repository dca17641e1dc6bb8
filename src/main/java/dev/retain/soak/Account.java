package dev.retain.soak;

import dev.retain.adapter.AdapterRecord;
import dev.retain.adapter.VersionIds;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.DeadLetter;
import dev.retain.model.Tensors;
import dev.retain.record.RejectReason;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * What the soak left behind, checked record by record: every good example counted once in the
 * store, every bad one in the dead-letter topic with its reason, and the published versions one
 * lineage (one store, steps strictly rising, each parent the version before, one content per id).
 */
record Account(
    long lost,
    long countedTwice,
    long deadLettersMissing,
    long deadLettersWrongReason,
    long deadLetterCopies,
    long untrained,
    int versions,
    int stepsNotRising,
    int parentBreaks,
    int idsWithTwoContents,
    int foreignVersions) {

  boolean clean() {
    return lost == 0
        && countedTwice == 0
        && deadLettersMissing == 0
        && deadLettersWrongReason == 0
        && untrained == 0
        && versions > 0
        && stepsNotRising == 0
        && parentBreaks == 0
        && idsWithTwoContents == 0
        && foreignVersions == 0;
  }

  static Account of(RetainConfig config, Stream stream, Path store) {
    long lost = 0;
    long twice = 0;
    long untrained;
    String storeId;
    try (RetainStore db = RetainStore.openReadOnly(store)) {
      Map<String, Long> seen = ModelState.load(db, config).holdout().seenByDomain();
      for (Map.Entry<String, Long> expected : stream.goodPerDomain().entrySet()) {
        long counted = seen.getOrDefault(expected.getKey(), 0L);
        lost += Math.max(0, expected.getValue() - counted);
        twice += Math.max(0, counted - expected.getValue());
      }
      storeId = db.identity();
      untrained = untrained(db, config, stream);
    }
    long[] dlq = deadLetters(config, stream);
    Lineage lineage = Lineage.of(versions(config), storeId);
    return new Account(
        lost,
        twice,
        dlq[0],
        dlq[1],
        dlq[2],
        untrained,
        lineage.order().size(),
        lineage.notRising(),
        lineage.breaks(),
        lineage.twoContents(),
        lineage.foreign());
  }

  /**
   * The published versions in order of first appearance, and what is wrong with them: steps that do
   * not rise, a parent that is not the version before, an id published with two contents, a version
   * from another store.
   */
  private record Lineage(
      List<String> order, int notRising, int breaks, int twoContents, int foreign) {
    static Lineage of(List<ConsumerRecord<byte[], byte[]>> versions, String storeId) {
      Map<String, Set<String>> contents = new HashMap<>();
      List<String> order = new ArrayList<>();
      Map<String, String> parents = new LinkedHashMap<>();
      int foreign = 0;
      for (ConsumerRecord<byte[], byte[]> r : versions) {
        String id = AdapterRecord.header(r, AdapterRecord.VERSION);
        foreign += storeId.equals(AdapterRecord.header(r, AdapterRecord.STORE)) ? 0 : 1;
        if (contents.computeIfAbsent(id, k -> new HashSet<>()).add(Tensors.sha256(r.value()))
            && contents.get(id).size() == 1) {
          order.add(id);
          parents.put(id, AdapterRecord.header(r, AdapterRecord.PARENT));
        }
      }
      int notRising = 0;
      int breaks = 0;
      for (int i = 1; i < order.size(); i++) {
        notRising += VersionIds.steps(order.get(i)) <= VersionIds.steps(order.get(i - 1)) ? 1 : 0;
        breaks += parents.get(order.get(i)).equals(order.get(i - 1)) ? 0 : 1;
      }
      int twoContents = (int) contents.values().stream().filter(s -> s.size() > 1).count();
      return new Lineage(order, notRising, breaks, twoContents, foreign);
    }
  }

  /**
   * Trainable records past the position the learner's last checkpoint says it trained up to: the
   * newest good record that is not held out must lie below it.
   */
  /** {@link #untrained} of the store at {@code store}, read while a learner may write it. */
  static long untrained(Path store, RetainConfig config, Stream stream) {
    try (RetainStore db = RetainStore.openReadOnly(store)) {
      return untrained(db, config, stream);
    } catch (RuntimeException e) {
      return Long.MAX_VALUE; // an open that races the writer's flush: read again next time
    }
  }

  private static long untrained(RetainStore db, RetainConfig config, Stream stream) {
    ModelState state = ModelState.load(db, config);
    List<Object[]> tail = stream.tail();
    long expected = 0;
    for (int i = tail.size() - 1; i >= 0; i--) {
      if (!state.holdout().holds((String) tail.get(i)[2], (String) tail.get(i)[1])) {
        expected = (Long) tail.get(i)[0] + 1;
        break;
      }
    }
    Long trained =
        dev.retain.train.TrainedPositions.of(db, state.model())
            .get(new org.apache.kafka.common.TopicPartition(config.examplesTopic(), 0));
    return Math.max(0, expected - (trained == null ? 0 : trained));
  }

  /** Missing bad records, ones with the wrong reason, and extra copies (at-least-once). */
  private static boolean rightReason(Stream stream, long offset, String reason) {
    RejectReason expected = stream.badByOffset().get(offset);
    return expected != null && expected.tag().equals(reason);
  }

  private static long[] deadLetters(RetainConfig config, Stream stream) {
    Map<Long, Integer> copies = new HashMap<>();
    long wrong = 0;
    try (Consumer<byte[], byte[]> consumer = KafkaClients.follower(config, "retain-soak-dlq")) {
      for (ConsumerRecord<byte[], byte[]> r :
          AdapterRecord.snapshot(consumer, List.of(config.deadLetterTopic()))) {
        long offset = Long.parseLong(AdapterRecord.header(r, DeadLetter.SOURCE_OFFSET));
        copies.merge(offset, 1, Integer::sum);
        wrong += rightReason(stream, offset, AdapterRecord.header(r, DeadLetter.REASON)) ? 0 : 1;
      }
    }
    long missing =
        stream.badByOffset().keySet().stream().filter(o -> !copies.containsKey(o)).count();
    long extra = copies.values().stream().mapToLong(c -> c - 1).sum();
    return new long[] {missing, wrong, extra};
  }

  private static List<ConsumerRecord<byte[], byte[]>> versions(RetainConfig config) {
    String model = config.getString(RetainConfig.MODEL_ID);
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (Consumer<byte[], byte[]> consumer = KafkaClients.follower(config, "retain-soak-check")) {
      for (ConsumerRecord<byte[], byte[]> r :
          AdapterRecord.snapshot(consumer, List.of(config.adaptersTopic()))) {
        if (r.value() != null && model.equals(new String(r.key(), StandardCharsets.UTF_8))) {
          out.add(r);
        }
      }
    }
    return out;
  }
}
