package dev.retain.bench;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.ingest.ExampleSink;
import dev.retain.ingest.IngestLoop;
import dev.retain.ingest.Lanes;
import dev.retain.store.Changelog;
import dev.retain.store.RetainStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * The changelog part of {@code retain bench fleet}: what mirroring the store to the changelog costs
 * ingest. The same records (784 features, 10 models, one partition) are ingested by the ingest loop
 * into a plain store ({@code retain run}) and into a store that writes every commit to its
 * changelog partition in a Kafka transaction first (a fleet), in the same run.
 */
final class FleetIngestCost {
  private static final int MODELS = 10;
  private final FleetLoad load;
  private final int records;

  FleetIngestCost(String bootstrap, Path dir, int records) {
    this.load = new FleetLoad(bootstrap, dir, 784);
    this.records = records;
  }

  void run(Report report) throws Exception {
    Rate plain = Consumers.retain(config("plain"), records, false);
    Rate mirrored = mirrored(config("changelog"));
    report.row("ingest rec/s, plain store", String.format("%,.0f", plain.perSecond()));
    report.row("ingest rec/s, store with changelog", String.format("%,.0f", mirrored.perSecond()));
    report.row(
        "ingest with changelog / plain",
        String.format("%.2f", mirrored.perSecond() / plain.perSecond()));
    report.figure("ingest_plain_per_second", plain.perSecond());
    report.figure("ingest_changelog_per_second", mirrored.perSecond());
    report.figure("ingest_changelog_ratio", mirrored.perSecond() / plain.perSecond());
  }

  /** Fresh one-partition topics holding the records, for models [0, 10). */
  private RetainConfig config(String name) throws Exception {
    Map<String, Object> props = load.props("ingest-" + name);
    props.put(RetainConfig.TOPIC_PARTITIONS, 1);
    props.put(RetainConfig.TRAIN_ENABLED, false);
    props.put(RetainConfig.INGEST_COMMIT_INTERVAL_MS, 100L);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    List<String> models = new ArrayList<>();
    for (int m = 0; m < MODELS; m++) {
      models.add(FleetLoad.model(m));
    }
    FleetLoad.produceFor(config, models, records / MODELS, 0, 0);
    return config;
  }

  /** Records per second of the ingest loop over a store mirrored to its changelog. */
  private static Rate mirrored(RetainConfig config) {
    int count = total(config);
    Changelog changelog =
        new Changelog(
            KafkaClients.changelogProducer(config, 0),
            () -> KafkaClients.changelogReader(config),
            new TopicPartition(config.changelogTopic(), 0));
    Path dir = Path.of(config.getString(RetainConfig.STORE_DIR), "partition-0");
    try (RetainStore store = RetainStore.open(dir, false, changelog)) {
      Lanes lanes =
          Lanes.perModel(config, store, new SimpleMeterRegistry(), s -> ExampleSink.DISCARD);
      KafkaConsumer<byte[], ByteBuffer> consumer = KafkaClients.partitionConsumer(config);
      TopicPartition tp = new TopicPartition(config.examplesTopic(), 0);
      return Consumers.timed(
          new IngestLoop(config, store, lanes, consumer, KafkaClients.producer(config), tp),
          consumer,
          count);
    }
  }

  private static int total(RetainConfig config) {
    try (Admin admin = KafkaClients.admin(config)) {
      return (int) FleetLoad.ends(admin, config, 1).values().stream().mapToLong(x -> x).sum();
    } catch (Exception e) {
      throw new IllegalStateException("cannot read the examples topic's end", e);
    }
  }
}
