package dev.retain.streams;

import java.nio.ByteBuffer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/** Right and total predictions of one version; stored as two big-endian longs. */
record Tally(long right, long total) {
  static final Tally NONE = new Tally(0, 0);

  Tally add(boolean correct) {
    return new Tally(right + (correct ? 1 : 0), total + 1);
  }

  double ratio() {
    return total == 0 ? Double.NaN : right / (double) total;
  }

  static Serde<Tally> serde() {
    Serializer<Tally> out =
        (topic, t) ->
            t == null ? null : ByteBuffer.allocate(16).putLong(t.right).putLong(t.total).array();
    Deserializer<Tally> in =
        (topic, bytes) -> {
          if (bytes == null) {
            return null;
          }
          ByteBuffer b = ByteBuffer.wrap(bytes);
          return new Tally(b.getLong(), b.getLong());
        };
    return Serdes.serdeFrom(out, in);
  }
}
