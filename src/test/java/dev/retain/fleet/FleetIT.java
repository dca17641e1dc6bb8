package dev.retain.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.retain.adapter.AdapterRecord;
import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.ingest.DeadLetter;
import dev.retain.publish.Registry;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import dev.retain.soak.Learner;
import dev.retain.store.Changelog;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three learner processes (child JVMs running {@code retain run} with {@code retain.fleet.enabled})
 * in one group over 6 partitions and 30 models with different drifts. All models learn; one process
 * is killed with SIGKILL mid-stream and its models resume on the others from the changelog; it
 * restarts and partitions return to it. Then, per model, from the changelog: every good example was
 * accepted exactly once and every bad one dead-lettered, the versions form one chain with rising
 * steps (no second writer), every version on the adapters topic is in that chain, and versions
 * after the move evaluate every domain learned before it.
 */
@Tag("integration")
class FleetIT {
  private static final int MODELS = 30;
  private static final int PARTITIONS = 6;
  private static final int PER_DOMAIN = 150;
  private static final Pattern PORT = Pattern.compile("metrics on :(\\d+)");
  private static final Pattern ADMIN = Pattern.compile("admin on :(\\d+)");
  @TempDir Path dir;
  private final Map<String, Learner> children = new HashMap<>();
  private final HttpClient http = HttpClient.newHttpClient();
  private final Map<String, Path> logs = new HashMap<>();
  private final List<Path> allLogs = new ArrayList<>();

  @AfterEach
  void stopChildren() throws IOException, InterruptedException {
    for (Learner child : children.values()) {
      child.kill();
    }
    Path kept = Path.of("target", "fleet-it"); // the children's logs, for a failure's reader
    Files.createDirectories(kept);
    for (Path log : allLogs) {
      Files.copy(log, kept.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    }
  }

  @Test
  void shouldMoveModelsWithTheirStateWhenAnInstanceDiesAndComesBack() throws Exception {
    Map<String, Object> props = TestData.learnerConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.TOPIC_PARTITIONS, PARTITIONS);
    props.put(RetainConfig.FLEET_ENABLED, true);
    props.put(RetainConfig.MODEL_BASE_PATH, base(new RetainConfig(props)).toString());
    props.put(RetainConfig.TRAIN_THREADS, 1);
    props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 10);
    props.put(RetainConfig.TRAIN_NEW_REGIME_PASSES, 1);
    props.put(RetainConfig.HOLDOUT_EVERY, 5);
    props.put(RetainConfig.ADMIN_TOKEN, "fleet-secret");
    props.put(RetainConfig.FLEET_STANDBY_REPLICAS, 1);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config);
      for (int i = 0; i < 3; i++) {
        start("i" + i, props);
      }
      awaitOwners(admin, config, 3);
      Map<String, Integer> good = new TreeMap<>();
      produce(config, 0, 2, good); // domains 0 and 1 of every model, and bad records
      await("every model publishes")
          .atMost(Duration.ofMinutes(4))
          .pollInterval(Duration.ofSeconds(1))
          .until(() -> versions(config).keySet().size() == MODELS);

      Set<Integer> killed = owned(admin, config).get("i0");
      produce(config, 2, 3, good); // a new drift for every model, and at once:
      children.remove("i0").kill(); // SIGKILL mid-stream, nothing closed
      awaitOwners(admin, config, 2);
      awaitSettled(admin, config);
      assertThat(allLogs.stream().map(FleetIT::read))
          .as("standby copies were kept")
          .anyMatch(log -> log.contains("keeping partition"));
      Map<String, List<AdapterVersion>> beforeReturn = versions(config);

      start("i0", props);
      awaitOwners(admin, config, 3);
      produce(config, 3, 4, good); // domain 2 again: more of the same drift
      awaitSettled(admin, config);
      assertOneAdminOwnerPerModel();
      assertFleetMetricsDocumented();
      for (Learner child : children.values()) {
        child.stop(); // SIGTERM: the shutdown hook closes, last commits land
        assertThat(child.isAlive()).isFalse();
      }
      children.clear();
      verify(config, good, killed, beforeReturn);
    }
  }

  /** A base pretrained on domain 0 of one stream, shared by every model. */
  private Path base(RetainConfig config) throws IOException {
    DriftStream stream = TestData.driftStream();
    List<Example> examples = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      examples.add(stream.example(0, i));
    }
    Path out = dir.resolve("base.safetensors");
    long seed = config.getLong(RetainConfig.TRAIN_SEED);
    ai.djl.engine.Engine.getInstance().setRandomSeed((int) seed); // the same base every run
    try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
        dev.retain.model.LoraNet model = dev.retain.train.BaseModels.create(manager, config)) {
      dev.retain.train.Pretrainer.train(model, examples, 5, 64, 1e-3f, seed);
      dev.retain.train.BaseModels.writeFile(model, out);
    }
    return out;
  }

  private void start(String instance, Map<String, Object> props) throws IOException {
    Map<String, Object> own = new HashMap<>(props);
    own.put(RetainConfig.INGEST_INSTANCE_ID, instance);
    own.put(RetainConfig.STORE_DIR, dir.resolve(instance).toString());
    Path log = dir.resolve(instance + "-" + System.nanoTime() + ".log");
    children.put(instance, Learner.start(own, log, "768m"));
    logs.put(instance, log);
    allLogs.add(log);
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The metrics port a child printed at start. */
  private int port(String instance) throws IOException {
    Matcher m = PORT.matcher(Files.readString(logs.get(instance)));
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  /**
   * Each model's admin API answers on exactly the instance that owns it; the others say where to
   * ask.
   */
  private void assertOneAdminOwnerPerModel() throws Exception {
    for (int m = 0; m < MODELS; m++) {
      int owners = 0;
      for (String instance : children.keySet()) {
        Matcher admin = ADMIN.matcher(Files.readString(logs.get(instance)));
        assertThat(admin.find()).isTrue();
        HttpResponse<String> response =
            http.send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + admin.group(1)
                                + "/v1/models/"
                                + model(m)
                                + "/versions"))
                    .header("Authorization", "Bearer fleet-secret")
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() == 200) {
          owners++;
          assertThat(response.body()).contains("\"champion\"");
        } else {
          assertThat(response.statusCode()).isEqualTo(404);
          assertThat(response.body()).contains("not learned by this instance");
        }
      }
      assertThat(owners).as("instances answering for %s", model(m)).isEqualTo(1);
    }
  }

  /** The fleet's own meter families are those the README's metric table lists. */
  private void assertFleetMetricsDocumented() throws Exception {
    String scrape = scrape(children.keySet().iterator().next());
    Set<String> exposed = new java.util.TreeSet<>();
    Matcher family = Pattern.compile("(?m)^(retain_fleet_[a-z_]+)\\{").matcher(scrape);
    while (family.find()) {
      exposed.add(family.group(1));
    }
    Set<String> documented = new java.util.TreeSet<>();
    Matcher row =
        Pattern.compile("(?m)^\\| `(retain_fleet_[a-z_]+)`")
            .matcher(Files.readString(Path.of("README.md")));
    while (row.find()) {
      documented.add(row.group(1));
    }
    assertThat(exposed).isNotEmpty().isEqualTo(documented);
  }

  private String scrape(String instance) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port(instance) + "/metrics"))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** Partitions each member of the group owns, by instance id. */
  private static Map<String, Set<Integer>> owned(Admin admin, RetainConfig config)
      throws Exception {
    String group = config.getString(RetainConfig.INGEST_GROUP_ID);
    ConsumerGroupDescription description =
        admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    Map<String, Set<Integer>> owned = new TreeMap<>();
    for (MemberDescription member : description.members()) {
      owned.put(
          member.groupInstanceId().orElse(member.consumerId()),
          member.assignment().topicPartitions().stream()
              .map(TopicPartition::partition)
              .collect(Collectors.toSet()));
    }
    return owned;
  }

  private void awaitOwners(Admin admin, RetainConfig config, int members) {
    await("the group settles with " + members + " members each owning partitions")
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions() // the group does not exist until its first member joins
        .until(
            () -> {
              Map<String, Set<Integer>> owned = owned(admin, config);
              return owned.size() == members
                  && owned.values().stream().allMatch(p -> !p.isEmpty())
                  && owned.values().stream().mapToInt(Set::size).sum() == PARTITIONS;
            });
  }

  /** Until every record is stored (the group's offsets at the end) and every learner is idle. */
  private void awaitSettled(Admin admin, RetainConfig config) {
    await("every record stored and every learner idle")
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions() // a child not listening yet
        .until(() -> stored(admin, config) && idle());
  }

  private static boolean stored(Admin admin, RetainConfig config) throws Exception {
    String group = config.getString(RetainConfig.INGEST_GROUP_ID);
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
    for (int p = 0; p < PARTITIONS; p++) {
      latest.put(new TopicPartition(config.examplesTopic(), p), OffsetSpec.latest());
    }
    var ends = admin.listOffsets(latest).all().get();
    for (var e : ends.entrySet()) {
      OffsetAndMetadata at = committed.get(e.getKey());
      if (e.getValue().offset() > 0 && (at == null || at.offset() < e.getValue().offset())) {
        return false;
      }
    }
    return true;
  }

  private boolean idle() throws Exception {
    for (String instance : children.keySet()) {
      if (port(instance) < 0) {
        return false;
      }
      Matcher busy =
          Pattern.compile("retain_fleet_learners_busy\\{[^}]*} (\\S+)").matcher(scrape(instance));
      if (!busy.find() || Double.parseDouble(busy.group(1)) != 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Produces domains [from, to) of every model (domain 3 is domain 2 again, later examples), each
   * model's stream its own; the first call adds two bad records per model and one bad key.
   */
  private static void produce(RetainConfig config, int from, int to, Map<String, Integer> good) {
    JsonExampleCodec json = new JsonExampleCodec();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int m = 0; m < MODELS; m++) {
        String model = model(m);
        byte[] key = model.getBytes(StandardCharsets.UTF_8);
        // less noise than the learner tests use: every model beats the gate's baseline on 150
        // examples a domain, so the test is about where models run, not how fast they learn
        DriftStream stream = new DriftStream(32, 4, 1.0f, 100 + m);
        for (int d = from; d < to; d++) {
          int domain = Math.min(d, 2);
          for (int i = 0; i < PER_DOMAIN; i++) {
            long index = (d == 3 ? PER_DOMAIN : 0) + i;
            Example e = stream.example(domain, index);
            Example named =
                new Example(
                    model + "-" + d + "-" + i, e.features(), e.label(), "domain-" + domain, 0);
            producer.send(new ProducerRecord<>(config.examplesTopic(), key, json.encode(named)));
            good.merge(model, 1, Integer::sum);
          }
        }
        if (from == 0) {
          producer.send(new ProducerRecord<>(config.examplesTopic(), key, "{not json".getBytes()));
          Example bad = new Example(model + "-bad", new float[32], 9, "domain-0", 0);
          producer.send(new ProducerRecord<>(config.examplesTopic(), key, json.encode(bad)));
        }
      }
      if (from == 0) {
        producer.send(
            new ProducerRecord<>(config.examplesTopic(), "no model!".getBytes(), "{}".getBytes()));
      }
      producer.flush();
    }
  }

  private static String model(int m) {
    return String.format("m%02d", m);
  }

  /** Versions on the adapters topic by model, in order (republished ones once). */
  private static Map<String, List<AdapterVersion>> versions(RetainConfig config) {
    Map<String, List<AdapterVersion>> byModel = new TreeMap<>();
    Map<String, Set<String>> seen = new HashMap<>();
    for (ConsumerRecord<byte[], byte[]> r : readCommitted(config, config.adaptersTopic())) {
      String model = AdapterRecord.key(r);
      String id = AdapterRecord.header(r, AdapterRecord.VERSION);
      if (seen.computeIfAbsent(model, x -> new HashSet<>()).add(id)) {
        byModel
            .computeIfAbsent(model, x -> new ArrayList<>())
            .add(
                new AdapterVersion(
                    id,
                    model,
                    AdapterRecord.header(r, AdapterRecord.PARENT),
                    "",
                    Map.of(),
                    Map.of(),
                    0,
                    0));
      }
    }
    return byModel;
  }

  private void verify(
      RetainConfig config,
      Map<String, Integer> good,
      Set<Integer> killed,
      Map<String, List<AdapterVersion>> beforeReturn)
      throws Exception {
    Map<String, Integer> deadLetters = deadLettersByModel(config);
    assertThat(deadLetters).containsEntry("no model!", 1);
    Map<String, List<AdapterVersion>> published = versions(config);
    Set<String> movedModels = new HashSet<>();
    for (int p = 0; p < PARTITIONS; p++) {
      Changelog changelog =
          new Changelog(
              KafkaClients.changelogProducer(config, p),
              () -> KafkaClients.changelogReader(config),
              new TopicPartition(config.changelogTopic(), p));
      try (RetainStore store = RetainStore.open(dir.resolve("check-" + p), false, changelog)) {
        for (String model : store.models(dev.retain.store.Blob.CHAMPION)) {
          RetainConfig own = config.forModel(model);
          ModelState state = ModelState.load(store, own);
          long accepted = state.holdout().seenByDomain().values().stream().mapToLong(x -> x).sum();
          assertThat(accepted)
              .as("examples of %s accepted once each", model)
              .isEqualTo(good.get(model).longValue());
          assertThat(deadLetters.get(model)).as("dead letters of %s", model).isEqualTo(2);
          List<AdapterVersion> history = new Registry(store, model).history();
          assertChain(model, history);
          Set<String> ids = history.stream().map(AdapterVersion::id).collect(Collectors.toSet());
          assertThat(published.get(model))
              .as("every version of %s on the topic is in its one history", model)
              .allMatch(v -> ids.contains(v.id()));
          if (killed.contains(p)) {
            movedModels.add(model);
            assertEvaluatesEarlierDomains(model, history, beforeReturn.get(model));
          }
        }
      }
    }
    assertThat(published).hasSize(MODELS);
    assertThat(movedModels).isNotEmpty();
  }

  /** One chain: each version's parent is the one before, and steps rise strictly. */
  private static void assertChain(String model, List<AdapterVersion> history) {
    List<AdapterVersion> bySteps = new ArrayList<>(history);
    bySteps.sort(java.util.Comparator.comparingLong(AdapterVersion::steps));
    assertThat(bySteps).as("versions of %s", model).isNotEmpty();
    for (int i = 1; i < bySteps.size(); i++) {
      assertThat(bySteps.get(i).steps()).isGreaterThan(bySteps.get(i - 1).steps());
      assertThat(bySteps.get(i).parent())
          .as("parent of %s's version %d", model, i)
          .isEqualTo(bySteps.get(i - 1).id());
    }
  }

  /**
   * A model that moved: its versions made after the move evaluate every domain the versions before
   * it did (the holdouts and the matrix moved with it).
   */
  private static void assertEvaluatesEarlierDomains(
      String model, List<AdapterVersion> history, List<AdapterVersion> atMove) {
    Map<String, AdapterVersion> byId = new LinkedHashMap<>();
    history.forEach(v -> byId.put(v.id(), v));
    AdapterVersion last = byId.get(atMove.get(atMove.size() - 1).id());
    assertThat(last).isNotNull();
    for (AdapterVersion later : history) {
      if (later.steps() > last.steps()) {
        assertThat(later.evaluation().keySet())
            .as("%s after the move", model)
            .containsAll(last.evaluation().keySet());
      }
    }
  }

  /** Every committed record of {@code topic} now, read to its end. */
  private static List<ConsumerRecord<byte[], byte[]>> readCommitted(
      RetainConfig config, String topic) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (var consumer = KafkaClients.changelogReader(config)) {
      List<TopicPartition> partitions =
          consumer.partitionsFor(topic).stream()
              .map(i -> new TopicPartition(topic, i.partition()))
              .toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }

  /** Distinct dead letters (by source partition and offset) per model key. */
  private static Map<String, Integer> deadLettersByModel(RetainConfig config) {
    Map<String, Set<String>> sources = new TreeMap<>();
    for (ConsumerRecord<byte[], byte[]> r : readCommitted(config, config.deadLetterTopic())) {
      String key = r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8);
      String source =
          new String(r.headers().lastHeader(DeadLetter.SOURCE_PARTITION).value())
              + ":"
              + new String(r.headers().lastHeader(DeadLetter.SOURCE_OFFSET).value());
      sources.computeIfAbsent(key, k -> new HashSet<>()).add(source);
    }
    Map<String, Integer> counts = new TreeMap<>();
    sources.forEach((k, v) -> counts.put(k, v.size()));
    return counts;
  }
}
