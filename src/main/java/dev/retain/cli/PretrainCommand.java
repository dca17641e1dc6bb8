package dev.retain.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.data.DomainStream;
import dev.retain.model.LoraNet;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.record.ExampleValidator;
import dev.retain.record.InvalidExampleException;
import dev.retain.record.JsonExampleCodec;
import dev.retain.train.BaseModels;
import dev.retain.train.Pretrainer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Trains a frozen base for {@code retain.model.base.path}: on the first examples of a topic, of a
 * JSON-lines file (one example per line, the record's JSON form), or of a built-in data set, and
 * writes it as safetensors. Prints its hash, the base's identity.
 */
@Command(
    name = "pretrain",
    description = "Train a base model and write it for retain.model.base.path.")
final class PretrainCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @ArgGroup(multiplicity = "1")
  Source source;

  static final class Source {
    @Option(names = "--topic", description = "Read examples from this topic (from the beginning).")
    String topic;

    @Option(names = "--file", description = "Read examples from a JSON-lines file.")
    Path file;

    @Option(
        names = "--data",
        description = "Domain 0 of generated, fashion-permuted or fashion-rotated.")
    String data;
  }

  @Option(names = "--examples", defaultValue = "10000", description = "Examples to train on.")
  int examples;

  @Option(names = "--epochs", defaultValue = "5", description = "Passes over them.")
  int epochs;

  @Option(names = "--out", required = true, description = "Where to write the base (safetensors).")
  Path out;

  @Override
  public Integer call() throws Exception {
    RetainConfig config = options.load(java.util.Map.of());
    List<Example> train = read(config);
    if (train.isEmpty()) {
      System.err.println("no valid examples to train on");
      return 1;
    }
    pretrain(config, train);
    return 0;
  }

  private void pretrain(RetainConfig config, List<Example> train) throws java.io.IOException {
    long seed = config.getLong(RetainConfig.TRAIN_SEED);
    Engine.getInstance().setRandomSeed((int) seed);
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = BaseModels.create(manager, config)) {
      Pretrainer.train(model, train, epochs, 64, 1e-3f, seed);
      BaseModels.writeFile(model, out);
      System.out.printf(
          "wrote %s: base %s, trained on %,d examples, sha256 %s%n",
          out, model.architecture(), train.size(), model.baseHash());
    }
  }

  private List<Example> read(RetainConfig config) throws Exception {
    ExampleValidator validator =
        new ExampleValidator(
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getInt(RetainConfig.RECORD_CLASSES),
            config.getDouble(RetainConfig.RECORD_MAX_ABS_FEATURE).floatValue());
    List<Example> out = new ArrayList<>();
    if (source.data != null) {
      DomainStream stream =
          DomainStream.named(
              source.data,
              config.getInt(RetainConfig.RECORD_FEATURES),
              config.getInt(RetainConfig.RECORD_CLASSES),
              42);
      for (int i = 0; i < examples; i++) {
        out.add(stream.example(0, i));
      }
      return out;
    }
    String domain = config.getString(RetainConfig.RECORD_DEFAULT_DOMAIN);
    if (source.file != null) {
      JsonExampleCodec json = new JsonExampleCodec();
      for (String line : Files.readAllLines(source.file)) {
        if (out.size() < examples && !line.isBlank()) {
          add(out, validator, () -> json.decode(line.getBytes(StandardCharsets.UTF_8), domain));
        }
      }
      return out;
    }
    ExampleCodec codec =
        ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    try (KafkaConsumer<byte[], byte[]> consumer =
        KafkaClients.consumer(config, "retain-pretrain")) {
      List<TopicPartition> partitions = new ArrayList<>();
      consumer
          .partitionsFor(source.topic)
          .forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      int empty = 0;
      while (out.size() < examples && empty < 5) {
        var records = consumer.poll(Duration.ofSeconds(1));
        empty = records.isEmpty() ? empty + 1 : 0;
        for (ConsumerRecord<byte[], byte[]> record : records) {
          if (out.size() < examples && record.value() != null) {
            add(out, validator, () -> codec.decode(record.value(), domain));
          }
        }
      }
    }
    return out;
  }

  private interface Decode {
    Example get() throws InvalidExampleException;
  }

  /** Adds a valid example; bad ones are skipped (pretraining is offline, there is no DLQ). */
  private static void add(List<Example> out, ExampleValidator validator, Decode decode) {
    try {
      Example example = decode.get();
      validator.validate(example);
      out.add(example);
    } catch (InvalidExampleException e) {
      // skipped
    }
  }
}
