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

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
