package dev.retain.bench;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestLoop;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/** The two consumers {@code bench ingest} times: a bare one and Retain's ingest loop. */
final class Consumers {
  private Consumers() {}

  /**
   * Records per second of a plain consumer that only touches each value. Values are views into the
   * fetched data, as in Retain's ingest, so the ratio measures Retain's own work only.
   */
  /** Counts a record and adds its size, so that nothing is optimised away. */
  private static void touch(ConsumerRecord<byte[], ByteBuffer> record, long[] seenAndChecksum) {
    seenAndChecksum[0]++;
    seenAndChecksum[1] += record.value().remaining();
  }

  static Rate bare(RetainConfig config, int count) {
    try (KafkaConsumer<byte[], ByteBuffer> consumer =
        KafkaClients.bufferConsumer(config, "bare-" + System.nanoTime())) {
      consumer.subscribe(List.of(config.examplesTopic()));
      CpuClock clock = null;
      long[] seenAndChecksum = new long[2];
      while (seenAndChecksum[0] < count) {
        var records = consumer.poll(Duration.ofMillis(200));
        clock = clock == null && !records.isEmpty() ? new CpuClock() : clock;
        records.forEach(r -> touch(r, seenAndChecksum));
      }
      return clock.rate(seenAndChecksum[1] > 0 ? seenAndChecksum[0] : 0, consumer);
    }
  }

  /** Records per second of Retain's ingest loop, run on this thread. */
  static Rate retain(RetainConfig config, int count, boolean sync) throws IOException {
    Path dir = Path.of(config.getString(RetainConfig.STORE_DIR));
    try (RetainStore store = RetainStore.open(dir, sync)) {
      ModelState state = ModelState.load(store, config);
      KafkaConsumer<byte[], ByteBuffer> consumer = KafkaClients.ingestConsumer(config);
      IngestLoop loop =
          new IngestLoop(
              config,
              store,
              state,
              consumer,
              KafkaClients.producer(config),
              ExampleSink.DISCARD,
              new SimpleMeterRegistry());
      return timed(loop, consumer, count);
    }
  }

  /**
   * Runs {@code loop} on this thread until {@code count} records are committed, timed from the
   * first commit (the group join and first fetch left out), then shuts its clients down.
   */
  static Rate timed(IngestLoop loop, KafkaConsumer<?, ?> consumer, int count) {
    loop.subscribe();
    while (loop.committedRecords() == 0) {
      loop.pollOnce(); // group join and first fetch, as for the bare consumer
    }
    long first = loop.committedRecords();
    CpuClock clock = new CpuClock();
    while (loop.committedRecords() < count) {
      loop.pollOnce();
    }
    Rate rate = clock.rate(loop.committedRecords() - first, consumer);
    loop.shutdownClients();
    return rate;
  }
}
