package dev.retain.ingest;

import dev.retain.record.InvalidExampleException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Utils;

/** Builds dead-letter records: the original key and value, with headers saying why and whence. */
public final class DeadLetter {
  public static final String REASON = "retain.reason";
  public static final String DETAIL = "retain.detail";
  public static final String SOURCE_TOPIC = "retain.source.topic";
  public static final String SOURCE_PARTITION = "retain.source.partition";
  public static final String SOURCE_OFFSET = "retain.source.offset";

  /** On a truncated dead letter: the original value's size in bytes. */
  public static final String ORIGINAL_SIZE = "retain.original.size";

  /** On a truncated dead letter: SHA-256 of the original value, in hex. */
  public static final String ORIGINAL_SHA256 = "retain.original.sha256";

  /** Bytes of the value a truncated dead letter keeps. */
  public static final int TRUNCATED_BYTES = 4096;

  private DeadLetter() {}

  static ProducerRecord<byte[], byte[]> of(
      String dlqTopic, ConsumerRecord<byte[], ByteBuffer> source, InvalidExampleException error) {
    Headers headers = new RecordHeaders();
    headers.add(REASON, utf8(error.reason().tag()));
    headers.add(DETAIL, utf8(String.valueOf(error.getMessage())));
    headers.add(SOURCE_TOPIC, utf8(source.topic()));
    headers.add(SOURCE_PARTITION, utf8(Integer.toString(source.partition())));
    headers.add(SOURCE_OFFSET, utf8(Long.toString(source.offset())));
    // the value is a view into the consumer's fetch buffer: copy it out before the next poll
    byte[] value = source.value() == null ? null : Utils.toArray(source.value().duplicate());
    return new ProducerRecord<>(dlqTopic, null, source.key(), value, headers);
  }

  /**
   * The same dead letter with its value cut to its first {@link #TRUNCATED_BYTES} bytes, for a
   * topic that refused the whole record as too large; headers say the original size and hash.
   */
  static ProducerRecord<byte[], byte[]> truncated(ProducerRecord<byte[], byte[]> letter) {
    byte[] value = letter.value() == null ? new byte[0] : letter.value();
    Headers headers = new RecordHeaders(letter.headers().toArray());
    headers.add(ORIGINAL_SIZE, utf8(Integer.toString(value.length)));
    headers.add(ORIGINAL_SHA256, utf8(sha256(value)));
    byte[] head = java.util.Arrays.copyOf(value, Math.min(value.length, TRUNCATED_BYTES));
    return new ProducerRecord<>(letter.topic(), null, letter.key(), head, headers);
  }

  private static String sha256(byte[] bytes) {
    try {
      return java.util.HexFormat.of()
          .formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
