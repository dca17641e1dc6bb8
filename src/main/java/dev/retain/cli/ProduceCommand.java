package dev.retain.cli;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.data.DomainStream;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Produces a drift stream of labeled examples to the examples topic. */
@Command(name = "produce", description = "Produce a generated drift stream to the examples topic.")
final class ProduceCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--domains", defaultValue = "3", description = "Domains, one after another.")
  int domains;

  @Option(names = "--per-domain", defaultValue = "2000", description = "Examples per domain.")
  int perDomain;

  @Option(
      names = "--bad-every",
      defaultValue = "0",
      description = "Send a malformed record after every N good ones (0: never).")
  int badEvery;

  @Option(
      names = "--data",
      defaultValue = "generated",
      description =
          "generated, fashion-permuted, fashion-rotated, or auto (Fashion-MNIST when installed).")
  String data;

  @Option(names = "--seed", defaultValue = "42", description = "Seed of the generated stream.")
  long seed;

  @Override
  public Integer call() {
    RetainConfig config = options.load();
    DomainStream stream =
        DomainStream.named(
            data,
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getInt(RetainConfig.RECORD_CLASSES),
            seed);
    ExampleCodec codec =
        ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    long sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int d = 0; d < domains; d++) {
        for (int i = 0; i < perDomain; i++) {
          Example example = stream.example(d, i);
          producer.send(new ProducerRecord<>(config.examplesTopic(), key, codec.encode(example)));
          sent++;
          if (badEvery > 0 && sent % badEvery == 0) {
            byte[] bad = "{\"id\": \"broken\"".getBytes(StandardCharsets.UTF_8);
            producer.send(new ProducerRecord<>(config.examplesTopic(), key, bad));
          }
        }
      }
    }
    System.out.println(
        "produced " + sent + " examples over " + domains + " domains to " + config.examplesTopic());
    return 0;
  }
}
