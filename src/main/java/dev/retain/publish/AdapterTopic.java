package dev.retain.publish;

import dev.retain.adapter.AdapterRecord;
import dev.retain.adapter.AdapterVersion;
import dev.retain.adapter.VersionIds;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a model's records on the adapters and bases topics. With a transactional producer (the
 * learner's), each record is its own transaction, and the first one, or {@link #claim()}, fences
 * every earlier producer of the model; once fenced itself, it writes nothing more. Archives above
 * {@code retain.publish.inline.max.bytes} go to a file, and the record carries its {@code file:}
 * URI. Rollbacks go through a short-lived producer bounded by {@code
 * retain.publish.rollback.timeout.ms}. Not thread-safe: the publisher calls it under its lock.
 */
final class AdapterTopic implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterTopic.class);
  private final Producer<byte[], byte[]> producer;
  private final boolean transactional;
  private final Supplier<Producer<byte[], byte[]>> rollbackProducer;
  private final String model;
  private final String topic;
  private final String basesTopic;
  private final String storeId;
  private final String publisherId;
  private final int inlineMaxBytes;
  private final Path blobDir;
  private final RetainConfig config;
  private boolean claimed; // initTransactions done: any older producer of this model is fenced
  private String fenced; // why nothing more may be written, or null

  private static Path blobDir(RetainConfig config) {
    String dir = config.getString(RetainConfig.PUBLISH_BLOB_DIR);
    return dir.isBlank()
        ? Path.of(config.getString(RetainConfig.STORE_DIR), "blobs")
        : Path.of(dir);
  }

  AdapterTopic(
      RetainConfig config, Producer<byte[], byte[]> producer, boolean transactional, String store) {
    this.config = config;
    this.producer = producer;
    this.transactional = transactional;
    this.model = config.getString(RetainConfig.MODEL_ID);
    this.topic = config.adaptersTopic();
    this.basesTopic = config.basesTopic();
    this.storeId = store;
    this.publisherId = KafkaClients.publisherId(config);
    this.inlineMaxBytes = config.getInt(RetainConfig.PUBLISH_INLINE_MAX_BYTES);
    this.blobDir = blobDir(config);
    long rollbackTimeout = config.getLong(RetainConfig.PUBLISH_ROLLBACK_TIMEOUT_MS);
    this.rollbackProducer = () -> KafkaClients.boundedProducer(config, rollbackTimeout);
  }

  /**
   * Fences every earlier producer of this model (with a transactional producer), unless the model's
   * published lineage comes from another store and is ahead of this learner's champion ({@code
   * ownSteps}): then this learner must not publish at all (a second learner on a fresh store, say),
   * and it does not fence the owner either.
   */
  /** Why another store's lineage is ahead of {@code ownSteps}, or null when it is not. */
  private String aheadOf(long ownSteps) {
    ConsumerRecord<byte[], byte[]> latest = latest();
    String theirStore = latest == null ? "" : AdapterRecord.header(latest, AdapterRecord.STORE);
    String theirs = latest == null ? "" : AdapterRecord.header(latest, AdapterRecord.VERSION);
    boolean ahead =
        !theirStore.isEmpty() && !theirStore.equals(storeId) && VersionIds.steps(theirs) > ownSteps;
    return ahead ? aheadMessage(theirs, theirStore) : null;
  }

  private String aheadMessage(String theirs, String theirStore) {
    return String.format(
        "model %s's published lineage (%s from store %s) is ahead of this learner's store %s: not"
            + " publishing; run the model's learner on the store that holds its lineage",
        model, theirs, theirStore, storeId);
  }

  void claim(long ownSteps) {
    if (transactional && !claimed && fenced == null) {
      fenced = aheadOf(ownSteps);
      if (fenced != null) {
        LOG.error("{}", fenced);
        return;
      }
      producer.initTransactions();
      claimed = true;
      LOG.info("publishing model {} (transactional id {})", model, publisherId);
    }
  }

  /**
   * The newest record of this model on the adapters topic, or null. Read uncommitted: a committed
   * transaction's record is visible to committed readers only once its marker is written, a moment
   * after the commit returned, and a claim must not miss a publication just made.
   */
  private ConsumerRecord<byte[], byte[]> latest() {
    ConsumerRecord<byte[], byte[]> latest = null;
    try (Consumer<byte[], byte[]> consumer = KafkaClients.consumer(config, "retain-claim")) {
      for (ConsumerRecord<byte[], byte[]> record :
          AdapterRecord.snapshot(consumer, List.of(topic))) {
        if (record.value() != null && model.equals(AdapterRecord.key(record))) {
          latest = record;
        }
      }
    }
    return latest;
  }

  /** True once {@link #claim} ran (or when there is nothing to claim: no transactions). */
  boolean claimed() {
    return claimed || !transactional || fenced != null;
  }

  /** Fails when another publisher fenced this one. */
  void checkNotFenced() {
    if (fenced != null) {
      throw new PublisherFencedException(fenced);
    }
  }

  /** The base's record (key = its hash). */
  void base(String hash, byte[] safetensors) {
    send(new ProducerRecord<>(basesTopic, null, utf8(hash), safetensors, new RecordHeaders()));
  }

  /** {@code version}'s record, with its archive inline or as a pointer. */
  void version(AdapterVersion version, byte[] zip) {
    send(record(version, zip, false));
  }

  /**
   * A rollback's record, delivered within the rollback timeout or failed.
   *
   * @throws IllegalStateException when it was not delivered in time
   */
  void rollback(AdapterVersion version, byte[] zip) {
    checkNotFenced();
    try (Producer<byte[], byte[]> bounded = rollbackProducer.get()) {
      sendAndWait(bounded, record(version, zip, true));
    }
  }

  private ProducerRecord<byte[], byte[]> record(
      AdapterVersion version, byte[] zip, boolean rollback) {
    boolean pointer = zip.length > inlineMaxBytes;
    byte[] value = pointer ? utf8(pointer(version.id(), zip)) : zip;
    return new ProducerRecord<>(
        topic,
        null,
        utf8(model),
        value,
        AdapterRecord.headers(version, storeId, rollback, pointer));
  }

  /** Writes an archive too large to inline next to the store; returns its URI. */
  private String pointer(String id, byte[] zip) {
    try {
      Files.createDirectories(blobDir);
      Path file = blobDir.resolve(id + ".zip");
      Files.write(file, zip);
      return file.toUri().toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store adapter archive " + id, e);
    }
  }

  private void send(ProducerRecord<byte[], byte[]> record) {
    checkNotFenced();
    if (!transactional) {
      sendAndWait(producer, record);
      return;
    }
    if (!claimed) {
      throw new IllegalStateException("claim the model before publishing it");
    }
    try {
      producer.beginTransaction();
      producer.send(record);
      producer.commitTransaction(); // flushes: the record is written and visible, or not at all
    } catch (ProducerFencedException | InvalidProducerEpochException e) {
      fenced =
          "another learner publishes model "
              + model
              + " now (its producer fenced this one): this learner stops publishing";
      LOG.error("{}", fenced, e);
      throw new PublisherFencedException(fenced);
    } catch (KafkaException e) {
      try {
        producer.abortTransaction();
      } catch (KafkaException abort) {
        e.addSuppressed(abort);
      }
      throw new IllegalStateException(
          "publishing to " + record.topic() + " failed: " + e.getMessage(), e);
    }
  }

  private static void sendAndWait(
      Producer<byte[], byte[]> producer, ProducerRecord<byte[], byte[]> record) {
    try {
      producer.send(record).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while publishing", e);
    } catch (ExecutionException | KafkaException e) {
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      throw new IllegalStateException(
          "publishing to " + record.topic() + " failed: " + cause, cause);
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    producer.close();
  }
}
