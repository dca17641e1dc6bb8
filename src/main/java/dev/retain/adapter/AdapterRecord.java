package dev.retain.adapter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * The record of a version on the adapters topic: key = model id, value = the archive's zip (or,
 * with header {@code pointer=true}, a {@code file:} URI of it), headers {@code version}, {@code
 * parent}, {@code base-hash}, {@code store-id} (the learner's store identity), {@code evaluation}
 * (JSON) and {@code rollback=true} on a rollback. The bases topic holds each base's safetensors
 * under key = its hash.
 */
public final class AdapterRecord {
  public static final String VERSION = "version";
  public static final String PARENT = "parent";
  public static final String BASE_HASH = "base-hash";
  public static final String EVALUATION = "evaluation";
  public static final String ROLLBACK = "rollback";
  public static final String POINTER = "pointer";
  public static final String STORE = "store-id";
  private static final ObjectMapper JSON = new ObjectMapper();

  private AdapterRecord() {}

  /** The headers of {@code version}'s record. */
  private static byte[] json(Object value) {
    try {
      return JSON.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Headers headers(
      AdapterVersion version, String store, boolean rollback, boolean pointer) {
    RecordHeaders headers = new RecordHeaders();
    headers.add(VERSION, utf8(version.id()));
    headers.add(PARENT, utf8(version.parent()));
    headers.add(BASE_HASH, utf8(version.baseHash()));
    headers.add(STORE, utf8(store));
    headers.add(EVALUATION, json(version.evaluation()));
    if (rollback) {
      headers.add(ROLLBACK, utf8("true"));
    }
    if (pointer) {
      headers.add(POINTER, utf8("true"));
    }
    return headers;
  }

  /** A header's value as text, or "" when absent. */
  public static String header(ConsumerRecord<byte[], byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    return header == null ? "" : new String(header.value(), StandardCharsets.UTF_8);
  }

  /** The record's key as text (the model id, or a base's hash), or "" without one. */
  public static String key(ConsumerRecord<byte[], byte[]> record) {
    return record.key() == null ? "" : new String(record.key(), StandardCharsets.UTF_8);
  }

  /** The archive's zip: the value itself, or the file a pointer record names. */
  public static byte[] archiveBytes(ConsumerRecord<byte[], byte[]> record) throws IOException {
    if ("true".equals(header(record, POINTER))) {
      return Files.readAllBytes(
          Path.of(URI.create(new String(record.value(), StandardCharsets.UTF_8))));
    }
    return record.value();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Every record of {@code topics} from the beginning up to their end offsets now. */
  private static List<TopicPartition> partitions(
      Consumer<byte[], byte[]> consumer, List<String> topics) {
    List<TopicPartition> partitions = new ArrayList<>();
    for (String topic : topics) {
      consumer
          .partitionsFor(topic, Duration.ofSeconds(30))
          .forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
    }
    return partitions;
  }

  public static List<ConsumerRecord<byte[], byte[]>> snapshot(
      Consumer<byte[], byte[]> consumer, List<String> topics) {
    List<TopicPartition> partitions = partitions(consumer, topics);
    consumer.assign(partitions);
    consumer.seekToBeginning(partitions);
    Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    while (partitions.stream().anyMatch(p -> consumer.position(p) < end.get(p))) {
      consumer.poll(Duration.ofMillis(500)).forEach(out::add);
    }
    return out;
  }
}
