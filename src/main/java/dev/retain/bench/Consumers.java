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
  static Rate bare(RetainConfig config, int count) {
    try (KafkaConsumer<byte[], ByteBuffer> consumer =
        KafkaClients.bufferConsumer(config, "bare-" + System.nanoTime())) {
      consumer.subscribe(List.of(config.examplesTopic()));
      CpuClock clock = null;
      long seen = 0;
      long checksum = 0;
      while (seen < count) {
        for (ConsumerRecord<byte[], ByteBuffer> r : consumer.poll(Duration.ofMillis(200))) {
          clock = seen == 0 ? new CpuClock() : clock;
          checksum += r.value().remaining();
          seen++;
        }
      }
      return clock.rate(checksum > 0 ? seen : 0, consumer);
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
}
