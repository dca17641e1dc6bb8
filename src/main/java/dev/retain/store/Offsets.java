package dev.retain.store;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/** Consumer positions kept in the store, written in the same batch as the data they produced. */
public final class Offsets {
  private Offsets() {}

  /** Next offset to read, per partition, for consumer group {@code group}. */
  public static Map<TopicPartition, Long> read(RetainStore store, String group) {
    Map<TopicPartition, Long> out = new HashMap<>();
    store.scan(
        Family.OFFSETS,
        Keys.of(group).bytes(),
        (key, value) -> {
          Keys.Reader reader = new Keys.Reader(key);
          reader.str();
          String topic = reader.str();
          out.put(new TopicPartition(topic, reader.i32()), Keys.readLong(value));
        });
    return out;
  }

  public static void put(StoreBatch batch, String group, TopicPartition tp, long nextOffset) {
    byte[] key = Keys.of(group).str(tp.topic()).i32(tp.partition()).bytes();
    batch.put(Family.OFFSETS, key, Keys.longValue(nextOffset));
  }
}
