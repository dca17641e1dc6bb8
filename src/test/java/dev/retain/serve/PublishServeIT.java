package dev.retain.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterExport;
import dev.retain.adapter.AdapterVersion;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.record.Example;
import dev.retain.record.JsonExampleCodec;
import dev.retain.streams.FeedbackExamples;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.Python;
import dev.retain.testing.TestData;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Learner, publisher and serving endpoint together on a real broker: versions are published and
 * hot-swapped into serving, bad requests get 4xx, a poisoned stream (domain 0's inputs with flipped
 * labels) promotes nothing that forgets domain 0, and a rollback through the token-guarded admin
 * endpoint is followed by serving.
 */
@Tag("integration")
class PublishServeIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "s3cret";
  private final HttpClient http = HttpClient.newHttpClient();
  private final DriftStream stream = TestData.driftStream();
  @TempDir Path dir;

  @Test
  void shouldPublishServeGatePoisonAndRollBack() throws Exception {
    Map<String, Object> props = TestData.learnerConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.ADMIN_TOKEN, TOKEN);
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.SERVE_MAX_REQUEST_BYTES, 4096);
    props.put(RetainConfig.SERVE_PREDICTIONS, true);
    // a naive learner (no replay, no logit replay, no EWC), so that the poison really damages
    // candidates and only
    // the gate stands between them and serving
    props.put(RetainConfig.TRAIN_REPLAY_RATIO, 0.0);
    props.put(RetainConfig.TRAIN_EWC_LAMBDA, 0.0);
    props.put(RetainConfig.TRAIN_LOGIT_REPLAY, 0.0);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    produce(config, 0, "domain-0", false);
    produce(config, 1, "domain-1", false);
    PrometheusMeterRegistry learnerMeters = Metrics.registry("learner");
    PrometheusMeterRegistry serveMeters = Metrics.registry("serve");
    try (LearnerNode learner = new LearnerNode(config, learnerMeters).start();
        ServeNode serve = new ServeNode(config, serveMeters).start()) {
      String api = "http://127.0.0.1:" + serve.port() + "/v1/models/default";
      String admin = "http://127.0.0.1:" + learner.adminPort() + "/v1/models/default";
      AdapterVersion first = awaitServingChampion(learner, serve);
      String served = "http://127.0.0.1:" + serve.port();
      for (String path :
          List.of(
              "/health/live", "/health/ready", "/v2/health/ready", "/v2/models/default/ready")) {
        assertThat(status(served + path)).as(path).isEqualTo(200);
      }
      assertThat(status("http://127.0.0.1:" + learner.metricsPort() + "/health/ready"))
          .isEqualTo(200);
      assertThat(containerHealthCheck(Map.of("RETAIN_SERVE_PORT", "" + serve.port()))).isZero();
      assertThat(containerHealthCheck(Map.of("RETAIN_METRICS_PORT", "" + learner.metricsPort())))
          .isZero();
      assertThat(
              status("http://127.0.0.1:" + learner.metricsPort() + "/v1/models/default/versions"))
          .as("the admin API is not on the metrics port")
          .isEqualTo(404);
      assertThat(first.evaluation()).containsKeys("domain-0", "domain-1");

      JsonNode one = post(api + "/predict", body(stream.example(1, 9000)), 200);
      assertThat(one.get("version").asText()).isEqualTo(first.id());
      assertThat(one.get("class").asInt()).isBetween(0, 3);
      JsonNode batch = post(api + "/predict", batchBody(3), 200);
      assertThat(batch.get("predictions")).hasSize(3);
      assertThat(get(api, 200).get("adapter_config").get("peft_type").asText()).isEqualTo("LORA");
      assertOutputsOnRequest(api, served, first.id());
      assertExportMatchesServing(config, api, first.id());
      assertPredictionLogged(config, one.get("id").asText(), first.id());
      sendFeedback(config, one.get("id").asText(), stream.example(1, 9000).label());
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> serve.online().counts().containsKey(first.id()));
      assertThat(serve.online().counts().get(first.id())[1]).isEqualTo(1);
      assertFeedbackBecameExample(config, one.get("id").asText(), first.id());
      assertThat(
              serveMeters.get("retain.online.accuracy").tag("version", first.id()).gauge().value())
          .isIn(0.0, 1.0);
      post(api + "/predict", "{\"features\":[1,2,3]}", 400);
      post(api + "/predict", "not json", 400);
      // finite but so large that the model's output overflows: no NaN score
      post(
          api + "/predict",
          "{\"features\":[" + "3.4e38,".repeat(stream.features() - 1) + "-3.4e38]}",
          400);
      post(api + "/predict", "{\"instances\":[" + "[0],".repeat(2000) + "[0]]}", 413);
      get(api + "/nothing", 404);

      double cleanBefore = servedAccuracy(serve, 0);
      produce(config, 0, "poisoned", true);
      await()
          .atMost(Duration.ofMinutes(3))
          .until(() -> learnedLast(learner, "poisoned") || !learner.learner().isAlive());
      assertThat(learner.learner().failure()).isNull();
      double candidateDomain0 = learner.learner().report().current().get("domain-0");
      double rejected =
          Search.in(learnerMeters).name("retain.adapters.rejected").counters().stream()
              .mapToDouble(c -> c.count())
              .sum();
      assertThat(rejected).as("the gate rejected poisoned candidates").isPositive();
      AdapterVersion champion = learner.publisher().registry().champion();
      assertThat(champion.evaluation().get("domain-0"))
          .as("the champion kept domain 0 while the candidate fell to %.3f", candidateDomain0)
          .isGreaterThan(candidateDomain0 + 0.1);
      assertThat(servedAccuracy(serve, 0))
          .as("served accuracy on clean domain 0")
          // the gate allows epsilon (0.05) per promotion, plus sampling noise of the two measures
          .isGreaterThan(cleanBefore - 0.1);

      List<AdapterVersion> history = learner.publisher().registry().history();
      String target = history.get(0).id();
      double swaps = serveMeters.get("retain.serve.swaps").counter().count();
      rollback(admin, target, "wrong", 401);
      rollback(admin, target, TOKEN, 200);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  serveMeters.get("retain.serve.swaps").counter().count() > swaps
                      && serve.follower().current().version().equals(target));
      assertThat(learner.publisher().registry().champion().id()).isEqualTo(target);
      assertThat(get(admin + "/versions", TOKEN, 200).get("champion").asText()).isEqualTo(target);
      assertThat(families(learnerMeters.scrape() + serveMeters.scrape()))
          .as("retain_* families exposed vs the README's metric table")
          .isEqualTo(readmeMetricTable());
    }
  }

  private static void sendFeedback(RetainConfig config, String id, int label) {
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      producer.send(
          new ProducerRecord<>(
              config.topic("feedback"),
              "default".getBytes(StandardCharsets.UTF_8),
              ("{\"id\":\"" + id + "\",\"label\":" + label + "}")
                  .getBytes(StandardCharsets.UTF_8)));
    }
  }

  /** The prediction with {@code id} reached the predictions topic with its version. */
  /** The label sent as feedback came back on the examples topic, joined with its prediction. */
  private static void assertFeedbackBecameExample(RetainConfig config, String id, String version) {
    var codec =
        dev.retain.record.ExampleCodec.of(
            config.choice(RetainConfig.RECORD_CODEC, dev.retain.config.Choice.Codec.class));
    try (var consumer = KafkaClients.follower(config, "feedback-examples-check")) {
      consumer.subscribe(List.of(config.examplesTopic()));
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                  var served = record.headers().lastHeader(FeedbackExamples.SERVING_VERSION);
                  if (served != null && codec.decode(record.value(), "").id().equals(id)) {
                    assertThat(new String(served.value(), StandardCharsets.UTF_8))
                        .isEqualTo(version);
                    assertThat(codec.decode(record.value(), "").features()).hasSize(32);
                    return true;
                  }
                }
                return false;
              });
    }
  }

  private static void assertPredictionLogged(RetainConfig config, String id, String version) {
    try (var consumer = KafkaClients.consumer(config, "predictions-check")) {
      consumer.subscribe(List.of(config.predictionsTopic()));
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                  JsonNode value = JSON.readTree(record.value());
                  if (value.get("id").asText().equals(id)) {
                    assertThat(value.get("version").asText()).isEqualTo(version);
                    assertThat(value.get("features")).hasSize(32);
                    return true;
                  }
                }
                return false;
              });
    }
  }

  private static AdapterVersion awaitServingChampion(LearnerNode learner, ServeNode serve) {
    await()
        .atMost(Duration.ofMinutes(3))
        .until(
            () -> {
              AdapterVersion champion = learner.publisher().registry().champion();
              ServingModel serving = serve.follower().current();
              return champion != null
                  && serving != null
                  && champion.evaluation().containsKey("domain-1")
                  && serving.version().equals(champion.id());
            });
    return learner.publisher().registry().champion();
  }

  private static java.util.Set<String> families(String scrape) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    for (String line : scrape.split("\n")) {
      if (line.startsWith("# TYPE retain_")) {
        out.add(line.split(" ")[2]);
      }
    }
    // a timer's companion gauge (<name>_max) is documented with the timer
    out.removeIf(
        name -> name.endsWith("_max") && out.contains(name.substring(0, name.length() - 4)));
    return out;
  }

  private static java.util.Set<String> readmeMetricTable() throws java.io.IOException {
    String readme = java.nio.file.Files.readString(Path.of("README.md"));
    String table =
        readme.substring(
            readme.indexOf("<!-- metrics-table:begin -->"),
            readme.indexOf("<!-- metrics-table:end -->"));
    java.util.Set<String> out = new java.util.TreeSet<>();
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "^\\| `(retain_[a-z_]+)`", java.util.regex.Pattern.MULTILINE)
            .matcher(table);
    while (m.find()) {
      if (!m.group(1).startsWith("retain_fleet_")) { // a fleet's own, checked by FleetIT
        out.add(m.group(1));
      }
    }
    return out;
  }

  private static boolean learnedLast(LearnerNode node, String domain) {
    List<String> learned = node.learner().matrix().learned();
    return !learned.isEmpty() && learned.get(learned.size() - 1).equals(domain);
  }

  private double servedAccuracy(ServeNode serve, int domain) {
    ServingModel model = serve.follower().current();
    int right = 0;
    int n = 1000;
    for (int i = 0; i < n; i++) {
      Example e = stream.example(domain, 20_000 + i);
      float[] p = model.probabilities(e.features());
      int best = 0;
      for (int k = 1; k < p.length; k++) {
        best = p[k] > p[best] ? k : best;
      }
      right += best == e.label() ? 1 : 0;
    }
    return right / (double) n;
  }

  private void produce(RetainConfig config, int domain, String name, boolean flipLabels) {
    JsonExampleCodec codec = new JsonExampleCodec();
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < 2000; i++) {
        Example e = stream.example(domain, 100_000L * (flipLabels ? 1 : 0) + i);
        int label = flipLabels ? (e.label() + 1) % 4 : e.label();
        Example out = new Example(name + "-" + i, e.features(), label, name, e.ts());
        producer.send(new ProducerRecord<>(config.examplesTopic(), key, codec.encode(out)));
      }
    }
  }

  /** Runs the image's health check (deploy/healthcheck.sh) with {@code env}; its exit code. */
  private static int containerHealthCheck(Map<String, String> env) throws Exception {
    ProcessBuilder check = new ProcessBuilder("deploy/healthcheck.sh").redirectErrorStream(true);
    check.environment().put("RETAIN_METRICS_PORT", "1"); // nothing listens: the next port is tried
    check.environment().put("RETAIN_SERVE_PORT", "1");
    check.environment().putAll(env);
    Process process = check.start();
    process.getInputStream().readAllBytes();
    return process.waitFor();
  }

  /**
   * Probabilities and logits on request in Retain's format, the KServe v2 metadata and inference
   * request, and the content type checked.
   */
  private void assertOutputsOnRequest(String api, String served, String version) throws Exception {
    Example e = stream.example(1, 9001);
    JsonNode own =
        post(
            api + "/predict",
            JSON.writeValueAsString(
                Map.of("features", e.features(), "outputs", List.of("probabilities", "logits"))),
            200);
    double sum = 0;
    for (JsonNode p : own.get("probabilities")) {
      sum += p.asDouble();
    }
    assertThat(sum).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-4));
    assertThat(own.get("logits")).hasSameSizeAs(own.get("probabilities"));
    String v2 = served + "/v2/models/default";
    JsonNode meta = get(v2, 200);
    assertThat(meta.get("versions").get(0).asText()).isEqualTo(version);
    assertThat(meta.get("inputs").get(0).get("shape").get(1).asInt()).isEqualTo(stream.features());
    float[][] xs = {stream.example(1, 9100).features(), stream.example(1, 9101).features()};
    Map<String, Object> input =
        Map.of("name", "input", "datatype", "FP32", "shape", List.of(2, stream.features()));
    Map<String, Object> nested = new java.util.HashMap<>(input);
    nested.put("data", xs);
    JsonNode infer =
        post(
            v2 + "/infer",
            JSON.writeValueAsString(Map.of("id", "r1", "inputs", List.of(nested))),
            200);
    assertThat(infer.get("model_version").asText()).isEqualTo(version);
    assertThat(infer.get("id").asText()).isEqualTo("r1");
    JsonNode classes = infer.get("outputs").get(0);
    assertThat(classes.get("name").asText()).isEqualTo("class");
    assertThat(classes.get("data")).hasSize(2);
    JsonNode batch = post(api + "/predict", batchBody(2), 200).get("predictions");
    assertThat(classes.get("data").get(1).asInt()).isEqualTo(batch.get(1).get("class").asInt());
    Map<String, Object> flat = new java.util.HashMap<>(input);
    float[] data = new float[2 * stream.features()];
    System.arraycopy(xs[0], 0, data, 0, xs[0].length);
    System.arraycopy(xs[1], 0, data, xs[0].length, xs[1].length);
    flat.put("data", data);
    JsonNode logits =
        post(
            v2 + "/infer",
            JSON.writeValueAsString(
                Map.of("inputs", List.of(flat), "outputs", List.of(Map.of("name", "logits")))),
            200);
    assertThat(logits.get("outputs")).hasSize(1);
    assertThat(logits.get("outputs").get(0).get("shape").get(0).asInt()).isEqualTo(2);
    flat.put("shape", List.of(3, stream.features()));
    post(v2 + "/infer", JSON.writeValueAsString(Map.of("inputs", List.of(flat))), 400);
    HttpResponse<String> typed =
        http.send(
            HttpRequest.newBuilder(URI.create(api + "/predict"))
                .header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString(body(e)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(typed.statusCode()).isEqualTo(415);
  }

  /**
   * {@code retain export} writes the version and its base; an independent reader (numpy) and, where
   * it is installed, PEFT over the exported module give the logits serving gives.
   */
  private void assertExportMatchesServing(RetainConfig config, String api, String version)
      throws Exception {
    Path dir = Files.createTempDirectory("retain-export");
    AdapterExport.Exported exported = AdapterExport.export(config, version, dir);
    assertThat(exported.version()).isEqualTo(version);
    for (String file :
        List.of(
            AdapterArchive.CONFIG_FILE,
            AdapterArchive.WEIGHTS_FILE,
            AdapterArchive.PROVENANCE_FILE,
            AdapterExport.BASE_FILE,
            AdapterExport.MODULE_FILE)) {
      assertThat(dir.resolve(file)).as(file).isNotEmptyFile();
    }
    assertThatThrownBy(() -> AdapterExport.export(config, "no-such-version", dir))
        .hasMessageContaining("no version no-such-version");
    float[][] xs = {stream.example(2, 9200).features(), stream.example(3, 9201).features()};
    Path inputs = dir.resolve("inputs.json");
    Files.write(inputs, JSON.writeValueAsBytes(xs));
    JsonNode served =
        post(
                api + "/predict",
                JSON.writeValueAsString(Map.of("instances", xs, "outputs", List.of("logits"))),
                200)
            .get("predictions");
    List<String> checks = new ArrayList<>();
    if (Python.has("numpy")) {
      checks.add("numpy_check.py");
    } else {
      System.err.println("numpy check skipped: python3 with numpy not found");
    }
    if (Python.has("torch", "peft", "safetensors")) {
      checks.add("peft_check.py");
    } else {
      System.err.println("PEFT check skipped: python3 with torch, peft and safetensors not found");
    }
    for (String check : checks) {
      JsonNode logits = JSON.readTree(Python.script(check, dir.toString(), inputs.toString()));
      for (int i = 0; i < xs.length; i++) {
        for (int k = 0; k < logits.get(i).size(); k++) {
          assertThat(logits.get(i).get(k).asDouble())
              .as("%s, instance %d, logit %d", check, i, k)
              .isCloseTo(
                  served.get(i).get("logits").get(k).asDouble(),
                  org.assertj.core.data.Offset.offset(1e-3));
        }
      }
    }
  }

  private String body(Example e) throws Exception {
    return JSON.writeValueAsString(Map.of("id", e.id(), "features", e.features()));
  }

  private String batchBody(int n) throws Exception {
    float[][] xs = new float[n][];
    for (int i = 0; i < n; i++) {
      xs[i] = stream.example(1, 9100 + i).features();
    }
    return JSON.writeValueAsString(Map.of("instances", xs));
  }

  private JsonNode post(String url, String body, int status) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(url))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    return JSON.readTree(response.body());
  }

  private JsonNode get(String url, int status) throws Exception {
    return get(url, null, status);
  }

  private JsonNode get(String url, String token, int status) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url));
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
    return JSON.readTree(response.body());
  }

  private void rollback(String admin, String to, String token, int status) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(admin + "/rollback"))
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"to\":\"" + to + "\"}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
  }

  private int status(String url) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  /** Serving without any version: alive, not ready, on both sets of names. */
  @Test
  void shouldBeAliveButNotReadyBeforeAnyVersion() throws Exception {
    Map<String, Object> props = TestData.learnerConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.SERVE_PORT, 0);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    PrometheusMeterRegistry meters = Metrics.registry("serve");
    try (ServeNode serve = new ServeNode(config, meters).start()) {
      String served = "http://127.0.0.1:" + serve.port();
      assertThat(status(served + "/health/live")).isEqualTo(200);
      assertThat(status(served + "/v2/health/live")).isEqualTo(200);
      assertThat(status(served + "/health/ready")).isEqualTo(503);
      assertThat(status(served + "/v2/models/default/ready")).isEqualTo(503);
      assertThat(serve.stoppedWorker()).isNull();
      // the follower's thread stops while the node runs: not live, its gauge 0, and the node
      // names it, which makes retain serve exit non-zero
      serve.follower().close();
      assertThat(serve.stoppedWorker()).isEqualTo("the adapter follower stopped");
      assertThat(status(served + "/health/live")).isEqualTo(503);
      assertThat(meters.get("retain.worker.up").tag("worker", "adapter-follower").gauge().value())
          .isZero();
    }
  }
}
