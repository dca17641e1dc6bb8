package dev.retain.cli;

import dev.retain.cluster.KafkaClients;
import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.data.DomainStream;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
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

  @Option(
      names = "--no-domain",
      description =
          "Send records without a domain field, as most production streams do: the learner's"
              + " drift detector then finds the regimes.")
  boolean noDomain;

  @Option(
      names = "--shift",
      defaultValue = "abrupt",
      description =
          "abrupt (one domain after another), gradual (each change mixes the two domains over"
              + " --mix examples) or recurring (domains 0, 1, 0, 1, ...).")
  String shift;

  @Option(
      names = "--mix",
      defaultValue = "5000",
      description = "Examples over which a gradual change moves from one domain to the next.")
  int mix;

  @Option(
      names = "--label-delay",
      description =
          "Send no labels with the examples: ask serving (--serve) for each prediction, then send"
              + " its label to the feedback topic after about this many seconds (drawn between"
              + " half and one and a half times it). Needs retain serve with"
              + " retain.serve.predictions.enabled=true.")
  Double labelDelay;

  @Option(
      names = "--serve",
      defaultValue = "http://127.0.0.1:8080",
      description = "retain serve's address, for --label-delay.")
  java.net.URI serve;

  @Override
  public Integer call() throws Exception {
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
    SplittableRandom mixing = new SplittableRandom(seed);
    long sent = 0;
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config);
        DelayedLabels labels = labelDelay == null ? null : delayedLabels(config, producer)) {
      for (long i = 0; i < (long) domains * perDomain; i++) {
        Example example = stream.example(domainOf(i, mixing), i);
        if (labels != null) {
          labels.send(example);
        } else {
          producer.send(
              new ProducerRecord<>(config.examplesTopic(), key, codec.encode(example, !noDomain)));
        }
        sent++;
        if (badEvery > 0 && sent % badEvery == 0) {
          byte[] bad = "{\"id\": \"broken\"".getBytes(StandardCharsets.UTF_8);
          producer.send(new ProducerRecord<>(config.examplesTopic(), key, bad));
        }
      }
    }
    System.out.printf(
        labelDelay == null
            ? "produced %d examples over %d domains (%s%s) to %s%n"
            : "sent %d predictions over %d domains (%s%s) to serving, their labels later to %s%n",
        sent,
        domains,
        shift,
        noDomain ? ", no domain field" : "",
        labelDelay == null ? config.examplesTopic() : config.topic("feedback"));
    return 0;
  }

  private DelayedLabels delayedLabels(RetainConfig config, KafkaProducer<byte[], byte[]> producer) {
    return new DelayedLabels(
        serve,
        config.getString(RetainConfig.MODEL_ID),
        producer,
        config.topic("feedback"),
        labelDelay,
        seed);
  }

  /**
   * The domain of example {@code i}: its segment's, for a gradual change the next segment's with a
   * probability that grows over the last {@code mix} examples of the segment.
   */
  int domainOf(long i, SplittableRandom mixing) {
    int segment = (int) (i / perDomain);
    return switch (shift) {
      case "abrupt" -> segment;
      case "recurring" -> segment % 2;
      case "gradual" -> {
        long intoNext = i % perDomain - (perDomain - mix);
        boolean next = segment + 1 < domains && intoNext > 0 && mixing.nextLong(mix) < intoNext;
        yield next ? segment + 1 : segment;
      }
      default -> throw new IllegalArgumentException("--shift: abrupt, gradual or recurring");
    };
  }
}
