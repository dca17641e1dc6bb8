package dev.retain.soak;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import dev.retain.record.RejectReason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * The soak's stream, produced in parts between faults: good examples of four domains, and every
 * {@code badEvery}-th record a bad one (unparsable, a NaN feature, a label out of range, or a copy
 * of an earlier example), with what each offset must become.
 */
final class Stream {
  static final int FEATURES = 32;
  static final int CLASSES = 4;
  private static final int DOMAINS = 4;
  private final RetainConfig config;
  private final int n;
  private final int badEvery;
  private final DriftStream drift = new DriftStream(FEATURES, CLASSES, 1.5f, 5);
  private final JsonExampleCodec codec = new JsonExampleCodec();
  private final Map<String, Long> good = new TreeMap<>();
  private final Map<Long, RejectReason> badByOffset = new TreeMap<>();
  private byte[] lastGood;
  private int produced;
  // the newest good records: offset, id, domain (the learner must end past one of them)
  private final java.util.Deque<Object[]> tail = new java.util.ArrayDeque<>();

  Stream(RetainConfig config, int n, int badEvery) {
    this.config = config;
    this.n = n;
    this.badEvery = badEvery;
  }

  /** Produces the records up to {@code upTo} (of {@link #total()}) that are not out yet. */
  void produceUpTo(int upTo) throws Exception {
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    Map<Future<RecordMetadata>, RejectReason> bad = new HashMap<>();
    Map<Future<RecordMetadata>, Example> goodSent = new java.util.LinkedHashMap<>();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = produced; i < Math.min(upTo, n); i++) {
        Example e = drift.example(i * DOMAINS / n, i);
        e = new Example("soak-" + i, e.features(), e.label(), e.domain(), e.ts());
        RejectReason reason = i % badEvery == badEvery - 1 ? badKind(i / badEvery) : null;
        byte[] value;
        if (reason == null) {
          value = codec.encode(e);
          lastGood = value;
          good.merge(e.domain(), 1L, Long::sum);
        } else {
          value = badValue(reason, e, codec, lastGood);
        }
        Future<RecordMetadata> sent =
            producer.send(new ProducerRecord<>(config.examplesTopic(), key, value));
        if (reason != null) {
          bad.put(sent, reason);
        } else if (i >= Math.min(upTo, n) - 64) {
          goodSent.put(sent, e);
        }
      }
      producer.flush();
    }
    for (Map.Entry<Future<RecordMetadata>, RejectReason> entry : bad.entrySet()) {
      badByOffset.put(entry.getKey().get().offset(), entry.getValue());
    }
    for (Map.Entry<Future<RecordMetadata>, Example> entry : goodSent.entrySet()) {
      tail.addLast(
          new Object[] {
            entry.getKey().get().offset(), entry.getValue().id(), entry.getValue().domain()
          });
      if (tail.size() > 64) {
        tail.removeFirst();
      }
    }
    produced = Math.max(produced, Math.min(upTo, n));
  }

  /** The newest good records, newest last: {offset, id, domain}. */
  List<Object[]> tail() {
    return new ArrayList<>(tail);
  }

  long total() {
    return n;
  }

  Map<String, Long> goodPerDomain() {
    return good;
  }

  Map<Long, RejectReason> badByOffset() {
    return badByOffset;
  }

  float[] probe() {
    return drift.example(0, n + 1L).features();
  }

  private static RejectReason badKind(int k) {
    return switch (k % 4) {
      case 0 -> RejectReason.UNPARSABLE;
      case 1 -> RejectReason.NON_FINITE_FEATURE;
      case 2 -> RejectReason.LABEL_OUT_OF_RANGE;
      default -> RejectReason.DUPLICATE_ID;
    };
  }

  private static byte[] badValue(
      RejectReason reason, Example e, JsonExampleCodec codec, byte[] lastGood) {
    // the first bad records come after good ones: a duplicate always has an original
    return switch (reason) {
      case UNPARSABLE -> "{\"id\": \"broken".getBytes(StandardCharsets.UTF_8);
      case NON_FINITE_FEATURE ->
          new String(codec.encode(e), StandardCharsets.UTF_8)
              .replaceFirst("\"features\":\\[[^,\\]]+", "\"features\":[NaN")
              .getBytes(StandardCharsets.UTF_8);
      case LABEL_OUT_OF_RANGE ->
          codec.encode(new Example(e.id(), e.features(), CLASSES + 5, e.domain(), e.ts()));
      default -> lastGood; // an earlier example sent again: its id is a duplicate
    };
  }
}
