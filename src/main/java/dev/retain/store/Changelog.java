package dev.retain.store;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store's mirror in one partition of a compacted Kafka topic, so that the store can be rebuilt
 * wherever its partition goes. Each commit of the store is written to the partition in one Kafka
 * transaction, one record per change (key: the column family and the store key; value: the value,
 * or a tombstone for a delete; the consumer positions the store keeps among them), and only then
 * applied to the local copy with the changelog position after it. A copy opened anywhere restores
 * itself from its own last position (from the start when it is new) to the partition's end.
 *
 * <p>The producer's transactional id names the partition: the instance that claims the partition
 * fences every earlier writer, whose next commit then fails without changing anything, so a stale
 * owner can never extend the history.
 */
public final class Changelog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Changelog.class);

  /** The local copy's position in the changelog: under META, never sent. */
  static final byte[] POSITION = Keys.of("changelog-position").bytes();

  private final Producer<byte[], byte[]> producer;
  private final Supplier<Consumer<byte[], byte[]>> readers;
  private final TopicPartition partition;
  private volatile long restored;

  /**
   * @param producer transactional, with an id that names {@code partition} and nothing else
   * @param readers makes a read_committed consumer, outside any group, to restore with
   */
  public Changelog(
      Producer<byte[], byte[]> producer,
      Supplier<Consumer<byte[], byte[]>> readers,
      TopicPartition partition) {
    this.producer = producer;
    this.readers = readers;
    this.partition = partition;
  }

  /** Fences every earlier writer of the partition and aborts its open transaction. */
  void claim() {
    try {
      producer.initTransactions();
    } catch (KafkaException e) {
      throw new StoreException("cannot claim changelog " + partition + ": " + e.getMessage(), e);
    }
  }

  /** Changelog records the last restore applied to the local copy. */
  public long restored() {
    return restored;
  }

  /** Applies what the changelog holds past the local copy's position, up to its end. */
  void restore(RetainStore store) {
    byte[] stored = store.get(Family.META, POSITION);
    long from = stored == null ? 0 : Keys.readLong(stored);
    long applied = 0;
    try (Consumer<byte[], byte[]> reader = readers.get()) {
      reader.assign(List.of(partition));
      long end = reader.endOffsets(List.of(partition)).get(partition);
      long start = reader.beginningOffsets(List.of(partition)).get(partition);
      reader.seek(partition, Math.max(from, start));
      while (reader.position(partition) < end) {
        applied += apply(store, reader);
      }
    }
    restored = applied;
    LOG.info("restored {} changes of {} from offset {}", applied, partition, from);
  }

  /**
   * Keeps {@code store}, a copy this instance does not own (a standby), up to date with {@code
   * partition} of the changelog until {@code stopped}: it starts from the copy's own position and
   * applies each committed transaction as it lands, so that taking the partition over later only
   * restores what the last poll missed. {@code applied} hears how many changes each poll applied
   * (0: the copy is current).
   */
  public static void follow(
      RetainStore store,
      Consumer<byte[], byte[]> reader,
      TopicPartition partition,
      java.util.function.BooleanSupplier stopped,
      java.util.function.IntConsumer applied) {
    byte[] stored = store.get(Family.META, POSITION);
    long from = stored == null ? 0 : Keys.readLong(stored);
    reader.assign(List.of(partition));
    long start = reader.beginningOffsets(List.of(partition)).get(partition);
    reader.seek(partition, Math.max(from, start));
    while (!stopped.getAsBoolean()) {
      applied.accept(apply(store, reader));
    }
  }

  /** Applies one poll's records to the local copy with the position after them. */
  private static int apply(RetainStore store, Consumer<byte[], byte[]> reader) {
    int n = 0;
    try (StoreBatch batch = store.newLocalBatch()) {
      for (ConsumerRecord<byte[], byte[]> record : reader.poll(Duration.ofMillis(500))) {
        apply(batch, record);
        n++;
      }
      if (n > 0) {
        long next = reader.position(reader.assignment().iterator().next());
        batch.putLocal(Family.META, POSITION, Keys.longValue(next));
        store.writeLocal(batch);
      }
    }
    return n;
  }

  /** A put, or for a tombstone a delete, of the record's family and key. */
  private static void apply(StoreBatch batch, ConsumerRecord<byte[], byte[]> record) {
    Family family = Family.values()[record.key()[0]];
    byte[] key = java.util.Arrays.copyOfRange(record.key(), 1, record.key().length);
    if (record.value() == null) {
      batch.delete(family, key);
    } else {
      batch.putLocal(family, key, record.value());
    }
  }

  /**
   * Writes {@code changes} in one transaction and returns the changelog's position after them, or
   * -1 when there were none.
   *
   * @throws StoreFencedException when another instance claimed the partition
   */
  long write(List<StoreBatch.Change> changes) {
    try {
      return send(changes);
    } catch (ProducerFencedException | InvalidProducerEpochException e) {
      throw new StoreFencedException(
          "another instance owns changelog " + partition + " now: this copy is stale", e);
    } catch (KafkaException e) {
      abortQuietly(e);
      throw new StoreException("changelog write to " + partition + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreException("interrupted while writing changelog " + partition, e);
    } catch (ExecutionException e) {
      throw new StoreException("changelog write to " + partition + " failed: " + e.getCause(), e);
    }
  }

  /** One transaction of {@code changes}; the position after them, or -1 for none. */
  private long send(List<StoreBatch.Change> changes)
      throws InterruptedException, ExecutionException {
    producer.beginTransaction();
    List<Future<RecordMetadata>> sent = new ArrayList<>(changes.size());
    for (StoreBatch.Change change : changes) {
      sent.add(producer.send(record(change)));
    }
    producer.commitTransaction();
    return sent.isEmpty() ? -1 : sent.get(sent.size() - 1).get().offset() + 1;
  }

  private void abortQuietly(KafkaException cause) {
    try {
      producer.abortTransaction();
    } catch (KafkaException e) {
      cause.addSuppressed(e);
    }
  }

  private ProducerRecord<byte[], byte[]> record(StoreBatch.Change change) {
    byte[] key = new byte[change.key().length + 1];
    key[0] = (byte) change.family().ordinal();
    System.arraycopy(change.key(), 0, key, 1, change.key().length);
    return new ProducerRecord<>(partition.topic(), partition.partition(), key, change.value());
  }

  @Override
  public void close() {
    try {
      producer.close(Duration.ofSeconds(5));
    } catch (KafkaException e) {
      LOG.warn("closing the producer of changelog {}: {}", partition, e.getMessage());
    }
  }
}
