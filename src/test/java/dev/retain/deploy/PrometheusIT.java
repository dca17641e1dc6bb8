package dev.retain.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.node.LearnerNode;
import dev.retain.record.JsonExampleCodec;
import dev.retain.serve.ServeNode;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Prometheus (Debian's package; scripts/test.sh installs it) scrapes a learner and a serving
 * endpoint running on the embedded broker with a short drift stream; every PromQL expression of the
 * dashboard and of the alert rules must be valid and return series. Alert expressions are evaluated
 * without their final threshold comparison (a healthy system fires none, but each must see its
 * metric). {@code promtool check rules} validates the rule file.
 */
@Tag("integration")
class PrometheusIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();
  @TempDir Path dir;

  private static Optional<Path> binary(String name) {
    for (String dir :
        (System.getenv("PATH") + File.pathSeparator + "/usr/bin").split(File.pathSeparator)) {
      Path candidate = Path.of(dir, name);
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  @Test
  void shouldEvaluateEveryDashboardAndAlertExpressionAgainstALiveLearner() throws Exception {
    Optional<Path> prometheus = binary("prometheus");
    if (prometheus.isEmpty() && !"1".equals(System.getenv("RETAIN_REQUIRE_PROMETHEUS"))) {
      Assumptions.abort("prometheus is not installed (scripts/test.sh installs it)");
    }
    assertThat(prometheus).as("prometheus binary (apt-get install prometheus)").isPresent();
    Process check =
        new ProcessBuilder(
                binary("promtool").orElseThrow().toString(),
                "check",
                "rules",
                "deploy/prometheus/alerts.yml")
            .redirectErrorStream(true)
            .start();
    String checkOutput = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(check.waitFor()).as(checkOutput).isZero();

    Map<String, Object> props =
        TestData.learnerConfig(KafkaFixture.bootstrapServers(), dir.resolve("store"));
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.SERVE_PREDICTIONS, true);
    RetainConfig config = new RetainConfig(props);
    try (Admin admin = KafkaClients.admin(config)) {
      Topics.ensure(admin, config, 1, (short) 1);
    }
    produce(config);
    try (LearnerNode learner = new LearnerNode(config, Metrics.registry("retain-learner")).start();
        ServeNode serve = new ServeNode(config, Metrics.registry("retain-serve")).start()) {
      await().atMost(Duration.ofMinutes(2)).until(() -> serve.follower().current() != null);
      for (int i = 0; i < 20; i++) {
        predict(serve.port());
      }
      http.send( // one bad request: the error counter exists
          HttpRequest.newBuilder(
                  URI.create("http://127.0.0.1:" + serve.port() + "/v1/models/default/predict"))
              .POST(HttpRequest.BodyPublishers.ofString("{}"))
              .build(),
          HttpResponse.BodyHandlers.ofString());
      feedback(config);
      await().atMost(Duration.ofSeconds(60)).until(() -> !serve.online().counts().isEmpty());
      int port = freePort();
      Process server = startPrometheus(prometheus.get(), port, learner.metricsPort(), serve.port());
      try {
        String api = "http://127.0.0.1:" + port + "/api/v1/";
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(500))
            .until(
                () ->
                    query(api, "up == 1").size() == 2
                        && query(api, "deriv(retain_replay_size[1m])").size() == 1);
        predict(serve.port());
        List<String> expressions = expressions();
        assertThat(expressions).hasSizeGreaterThan(25);
        assertThat(query(api, "retain_eval_accuracy"))
            .as("per-domain accuracy series")
            .hasSizeGreaterThanOrEqualTo(2);
        // rates need two scrapes of each target: allow a few seconds for every series to appear
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofSeconds(1))
            .untilAsserted(
                () ->
                    assertThat(failures(api, expressions))
                        .as("expressions that failed or returned nothing")
                        .isEmpty());
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () -> {
                  JsonNode rules = get(api + "rules").at("/data/groups/0/rules");
                  assertThat(rules).hasSize(alertExpressions().size());
                  rules.forEach(
                      r ->
                          assertThat(r.get("health").asText())
                              .as(r.get("name").asText())
                              .isEqualTo("ok"));
                });
      } finally {
        server.destroy();
        server.waitFor();
      }
    }
  }

  /**
   * {@code promtool test rules}: each alert fires on one series set and stays quiet on another;
   * {@code promtool check config} accepts the shipped Prometheus config as it is.
   */
  @Test
  void shouldFireAndQuietEveryAlertAndAcceptTheShippedConfig() throws Exception {
    Optional<Path> promtool = binary("promtool");
    if (promtool.isEmpty() && !"1".equals(System.getenv("RETAIN_REQUIRE_PROMETHEUS"))) {
      Assumptions.abort("promtool is not installed (scripts/test.sh installs it)");
    }
    assertThat(promtool).as("promtool binary (apt-get install prometheus)").isPresent();
    for (List<String> args :
        List.of(
            List.of("test", "rules", "alerts.test.yml"),
            List.of("check", "config", "prometheus.yml"))) {
      List<String> command = new ArrayList<>();
      command.add(promtool.get().toString());
      command.addAll(args);
      Process run =
          new ProcessBuilder(command)
              .directory(Path.of("deploy/prometheus").toFile())
              .redirectErrorStream(true)
              .start();
      String output = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(run.waitFor()).as(args + "\n" + output).isZero();
    }
    JsonNode tests =
        new YAMLMapper().readTree(Path.of("deploy/prometheus/alerts.test.yml").toFile());
    List<String> tested = tests.findValuesAsText("alertname");
    JsonNode rules = new YAMLMapper().readTree(Path.of("deploy/prometheus/alerts.yml").toFile());
    String runbook = java.nio.file.Files.readString(Path.of("src/site/markdown/runbook.md"));
    rules
        .get("groups")
        .forEach(
            g ->
                g.get("rules")
                    .forEach(
                        r -> {
                          String name = r.get("alert").asText();
                          assertThat(tested).as("a promtool test of " + name).contains(name);
                          assertThat(r.at("/annotations/runbook_url").asText())
                              .as("runbook of " + name)
                              .isEqualTo(
                                  "src/site/markdown/runbook.md#"
                                      + name.toLowerCase(java.util.Locale.ROOT));
                          assertThat(runbook).as("runbook section").contains("## " + name + "\n");
                        }));
  }

  private Map<String, String> failures(String api, List<String> expressions) throws Exception {
    Map<String, String> failures = new LinkedHashMap<>();
    for (String expr : expressions) {
      try {
        if (query(api, expr).isEmpty()) {
          failures.put(expr, "no series");
        }
      } catch (IllegalStateException e) {
        failures.put(expr, e.getMessage());
      }
    }
    return failures;
  }

  /**
   * Every expression of the dashboard (panels, annotations) and the alert rules, ready to query.
   */
  static List<String> expressions() throws IOException {
    List<String> out = new ArrayList<>();
    JsonNode dashboard = JSON.readTree(Path.of("grafana/dashboards/retain.json").toFile());
    dashboard
        .get("panels")
        .forEach(p -> p.get("targets").forEach(t -> out.add(t.get("expr").asText())));
    dashboard
        .at("/annotations/list")
        .forEach(a -> out.add(withoutThreshold(a.get("expr").asText())));
    // an alert rule is quiet on a healthy system; each metric it reads must exist (its logic is
    // tested by promtool test rules)
    for (String expr : alertExpressions()) {
      java.util.regex.Matcher metric = METRIC.matcher(expr);
      while (metric.find()) {
        if (!out.contains(metric.group())) {
          out.add(metric.group());
        }
      }
    }
    out.replaceAll(e -> e.replace("$model", "default").replace("$__rate_interval", "1m"));
    return out;
  }

  private static final java.util.regex.Pattern METRIC =
      java.util.regex.Pattern.compile("\\b(retain|kafka|process)_\\w+|\\bup(?=\\{)");

  static List<String> alertExpressions() throws IOException {
    List<String> out = new ArrayList<>();
    JsonNode rules = new YAMLMapper().readTree(Path.of("deploy/prometheus/alerts.yml").toFile());
    String runbook = java.nio.file.Files.readString(Path.of("src/site/markdown/runbook.md"));
    rules.get("groups").forEach(g -> g.get("rules").forEach(r -> out.add(r.get("expr").asText())));
    return out;
  }

  private static String withoutThreshold(String expr) {
    return expr.replaceFirst("\\s*(>=|<=|==|!=|>|<)\\s*[0-9.eE+-]+\\s*$", "");
  }

  private Process startPrometheus(Path binary, int port, int learnerPort, int servePort)
      throws IOException {
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(
        config,
        String.join(
            "\n",
            "global:",
            "  scrape_interval: 1s",
            "  evaluation_interval: 1s",
            "rule_files:",
            "  - " + Path.of("deploy/prometheus/alerts.yml").toAbsolutePath(),
            "scrape_configs:",
            "  - job_name: retain-learner",
            "    static_configs:",
            "      - targets: ['127.0.0.1:" + learnerPort + "']",
            "  - job_name: retain-serve",
            "    static_configs:",
            "      - targets: ['127.0.0.1:" + servePort + "']",
            ""));
    return new ProcessBuilder(
            binary.toString(),
            "--config.file=" + config,
            "--storage.tsdb.path=" + dir.resolve("tsdb"),
            "--web.listen-address=127.0.0.1:" + port)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("prometheus.log").toFile())
        .start();
  }

  private JsonNode query(String api, String expr) throws Exception {
    JsonNode body = get(api + "query?query=" + URLEncoder.encode(expr, StandardCharsets.UTF_8));
    if (!"success".equals(body.path("status").asText())) {
      throw new IllegalStateException(body.path("error").asText(body.toString()));
    }
    return body.at("/data/result");
  }

  private JsonNode get(String url) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    return JSON.readTree(response.body());
  }

  private int predictions;

  private void predict(int port) throws Exception {
    float[] x = TestData.driftStream().example(0, 77).features();
    String body = "{\"id\":\"p" + predictions++ + "\",\"features\":" + Arrays.toString(x) + "}";
    http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/v1/models/default/predict"))
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Delayed labels for the predictions made so far. */
  private void feedback(RetainConfig config) {
    int label = TestData.driftStream().example(0, 77).label();
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int i = 0; i < predictions; i++) {
        producer.send(
            new ProducerRecord<>(
                config.topic("feedback"),
                "default".getBytes(StandardCharsets.UTF_8),
                ("{\"id\":\"p" + i + "\",\"label\":" + label + "}")
                    .getBytes(StandardCharsets.UTF_8)));
      }
    }
  }

  private static void produce(RetainConfig config) {
    JsonExampleCodec codec = new JsonExampleCodec();
    byte[] key = config.getString(RetainConfig.MODEL_ID).getBytes(StandardCharsets.UTF_8);
    try (KafkaProducer<byte[], byte[]> producer = KafkaClients.producer(config)) {
      for (int d = 0; d < 2; d++) {
        for (int i = 0; i < 1500; i++) {
          producer.send(
              new ProducerRecord<>(
                  config.examplesTopic(), key, codec.encode(TestData.driftStream().example(d, i))));
          if (i % 100 == 0) {
            producer.send(
                new ProducerRecord<>(
                    config.examplesTopic(), key, "{broken".getBytes(StandardCharsets.UTF_8)));
          }
        }
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
