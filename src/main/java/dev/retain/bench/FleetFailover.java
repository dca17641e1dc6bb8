package dev.retain.bench;

import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.soak.Learner;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.utils.Utils;

/**
 * The failover part of {@code retain bench fleet}: two instances ({@code retain run} in child JVMs)
 * share two partitions; the models of one partition are fed until its store holds about {@code
 * --state-mb}; its owner is killed with SIGKILL, and the time is taken from the kill to the other
 * instance's first training step on a moved model, which it can take only once the group gave it
 * the partition and it restored the store. Once without standby replicas, once with one. The
 * group's session timeout is the broker's least (6 s), the time the group takes to notice.
 */
final class FleetFailover {
  private static final Pattern PORT = Pattern.compile("metrics on :(\\d+)");
  private static final int FEATURES = 784;
  private static final int MODELS_PER_PARTITION = 3;
  private final String bootstrap;
  private final Path dir;
  private final int stateMb;
  private final HttpClient http = HttpClient.newHttpClient();
  private final Map<String, Learner> children = new java.util.HashMap<>();

  FleetFailover(String bootstrap, Path dir, int stateMb) {
    this.bootstrap = bootstrap;
    this.dir = dir;
    this.stateMb = stateMb;
  }

  void run(Report report) throws Exception {
    try {
      for (int standbys = 0; standbys <= 1; standbys++) {
        double[] figures = failover(standbys);
        String with = standbys == 0 ? "without standby" : "with 1 standby";
        report.row("failover " + with + ": state MB", String.format("%.0f", figures[0]));
        report.row(
            "failover " + with + ": kill to first step (s)", String.format("%.1f", figures[1]));
        report.figure("failover_state_mb_standbys_" + standbys, figures[0]);
        report.figure("failover_seconds_standbys_" + standbys, figures[1]);
      }
    } finally {
      for (Learner child : children.values()) {
        child.kill();
      }
    }
  }

  /** State MB of the moved partition and seconds from the kill to the first step after it. */
  private double[] failover(int standbys) throws Exception {
    RetainConfig config = config(standbys);
    Learner a = start("a", config);
    Learner b = start("b", config);
    await(
        () ->
            gauge("a", "retain_fleet_partitions") == 1
                && gauge("b", "retain_fleet_partitions") == 1);
    List<String> moved = modelsOf(partitionOf(a.log()), 2);
    int perModel = (int) ((long) stateMb << 20) / (FEATURES * 4 + 200) / MODELS_PER_PARTITION;
    FleetLoad.produceFor(config, moved, perModel, 0, 0);
    await(() -> gauge("a", "retain_fleet_learners_busy") == 0 && stored(config));
    double mb = FleetLoad.bytesUnder(storeOf(config, "a")) / 1e6;
    if (standbys > 0) {
      await(
          () ->
              gauge("b", "retain_fleet_standby_behind") == 0
                  && gauge("b", "retain_fleet_standby_partitions") == 1);
    }
    long kill = System.nanoTime();
    a.kill();
    long firstStep = stepAfter(config, moved, perModel);
    b.stop();
    return new double[] {mb, (firstStep - kill) / 1e9};
  }

  /**
   * Two partitions, a large reservoir, standbys as asked and the broker's least session timeout.
   */
  private RetainConfig config(int standbys) throws Exception {
    Map<String, Object> props = new FleetLoad(bootstrap, dir, FEATURES).props("failover");
    props.put(RetainConfig.TOPIC_PARTITIONS, 2);
    props.put(RetainConfig.REPLAY_CAPACITY, 100_000);
    props.put(RetainConfig.FLEET_STANDBY_REPLICAS, standbys);
    props.put("retain.kafka.session.timeout.ms", 6000);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 2, (short) 1);
    }
    return config;
  }

  private static Path storeOf(RetainConfig config, String instance) {
    return Path.of(config.getString(RetainConfig.STORE_DIR)).resolve(instance);
  }

  /** Feeds the moved models a few examples at a time until instance b trains one of them. */
  private long stepAfter(RetainConfig config, List<String> moved, int from) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    for (int i = 0; System.nanoTime() < deadline; i++) {
      FleetLoad.produceFor(config, moved, 4, 0, from + 4L * i);
      for (String model : moved) {
        if (counter("b", "retain_train_steps_total", model, v -> v > 0)) {
          return System.nanoTime();
        }
      }
      TimeUnit.MILLISECONDS.sleep(100); // the pace at which new examples arrive
    }
    throw new IllegalStateException("no training step after the failover within 5 minutes");
  }

  /** The partition an instance's log says it took first. */
  private static int partitionOf(Path log) throws IOException {
    Matcher m = Pattern.compile("took \\S+-(\\d+):").matcher(Files.readString(log));
    if (!m.find()) {
      throw new IllegalStateException("no partition taken yet");
    }
    return Integer.parseInt(m.group(1));
  }

  /** {@link #MODELS_PER_PARTITION} model ids that the default partitioner puts in {@code p}. */
  private static List<String> modelsOf(int p, int partitions) {
    List<String> models = new ArrayList<>();
    for (int m = 0; models.size() < MODELS_PER_PARTITION; m++) {
      byte[] key = FleetLoad.model(m).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      if (Utils.toPositive(Utils.murmur2(key)) % partitions == p) {
        models.add(FleetLoad.model(m));
      }
    }
    return models;
  }

  /** True once the group's committed positions reach the end of every partition. */
  private static boolean stored(RetainConfig config) throws Exception {
    try (Admin admin = KafkaClients.admin(config)) {
      var committed =
          admin
              .listConsumerGroupOffsets(config.getString(RetainConfig.INGEST_GROUP_ID))
              .partitionsToOffsetAndMetadata()
              .get();
      return FleetLoad.ends(admin, config, 2).entrySet().stream()
          .allMatch(
              e ->
                  e.getValue() == 0
                      || (committed.get(e.getKey()) != null
                          && committed.get(e.getKey()).offset() >= e.getValue()));
    }
  }

  /** {@code retain run} in a child JVM, as {@code instance}, with its own store. */
  private Learner start(String instance, RetainConfig config) throws IOException {
    Map<String, Object> props = new java.util.HashMap<>();
    config.originals().forEach((k, v) -> props.put(String.valueOf(k), v));
    props.put(RetainConfig.INGEST_INSTANCE_ID, instance);
    props.put(RetainConfig.STORE_DIR, storeOf(config, instance).toString());
    Path log = dir.resolve(instance + "-" + System.nanoTime() + ".log");
    Learner child = Learner.start(props, log, "2g");
    children.put(instance, child);
    return child;
  }

  private String scrape(String instance) throws Exception {
    Matcher m = PORT.matcher(Files.readString(children.get(instance).log()));
    if (!m.find()) {
      return "";
    }
    URI uri = URI.create("http://127.0.0.1:" + m.group(1) + "/metrics");
    return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
        .body();
  }

  private double gauge(String instance, String name) throws Exception {
    Matcher m = Pattern.compile(name + "\\{[^}]*} (\\S+)").matcher(scrape(instance));
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  private boolean counter(String instance, String name, String model, DoublePredicate test)
      throws Exception {
    Matcher m =
        Pattern.compile(name + "\\{[^}]*model=\"" + model + "\"[^}]*} (\\S+)")
            .matcher(scrape(instance));
    return m.find() && test.test(Double.parseDouble(m.group(1)));
  }

  private double counterSum(String instance, String name) throws Exception {
    Matcher m = Pattern.compile(name + "\\{[^}]*} (\\S+)").matcher(scrape(instance));
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  /** A condition on the children, checked every 200 ms for up to 10 minutes. */
  private interface Check {
    boolean holds() throws Exception;
  }

  private static void await(Check check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (!safely(check)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the failover setup did not settle in 10 minutes");
      }
      TimeUnit.MILLISECONDS.sleep(200); // polling the children's metrics
    }
  }

  private static boolean safely(Check check) {
    try {
      return check.holds();
    } catch (Exception e) {
      return false; // a child not listening yet
    }
  }
}
