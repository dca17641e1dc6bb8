package dev.retain.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.publish.AdapterPublisher;
import dev.retain.store.RetainStore;
import dev.retain.testing.KafkaFixture;
import dev.retain.testing.TestData;
import dev.retain.train.BaseModels;
import dev.retain.train.Candidate;
import dev.retain.train.Trigger;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One {@code retain serve} for every model on the adapters topic: two models published by their own
 * publishers on one base; serving lists both, answers each with its own champion, swaps one without
 * touching the other, answers a request that names a kept earlier version, and refuses an unknown
 * model or version.
 */
@Tag("integration")
class ServeModelsIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();
  @TempDir Path dir;

  private RetainConfig config(String prefix, String model) {
    Map<String, Object> props = TestData.smallConfig(KafkaFixture.bootstrapServers(), dir);
    props.put(RetainConfig.TOPIC_PREFIX, prefix);
    props.put(RetainConfig.MODEL_ID, model);
    props.put(RetainConfig.STORE_DIR, dir.resolve(model).toString());
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.DRIFT_INPUT_ENABLED, false);
    return new RetainConfig(props);
  }

  @Test
  void shouldServeEveryModelOnTheTopicWithItsOwnChampion() throws Exception {
    String prefix = "models-" + System.nanoTime();
    RetainConfig a = config(prefix, "a");
    RetainConfig b = config(prefix, "b");
    try (Admin admin = KafkaClients.admin(a)) {
      Topics.ensure(admin, a, 1, (short) 1);
    }
    try (NDManager manager = NDManager.newBaseManager();
        LoraNet model = BaseModels.create(manager, a);
        RetainStore storeA = RetainStore.open(dir.resolve("a"), false);
        RetainStore storeB = RetainStore.open(dir.resolve("b"), false);
        AdapterPublisher publishA = publisher(a, storeA);
        AdapterPublisher publishB = publisher(b, storeB);
        ServeNode serve =
            new ServeNode(a, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT)).start()) {
      publishA.base(model.baseHash(), BaseModels.encode(model));
      publishA.offer(candidate("a", model, 1));
      publishB.offer(candidate("b", model, 2));
      String a1 = publishA.registry().champion().id();
      String b1 = publishB.registry().champion().id();
      await().atMost(Duration.ofSeconds(60)).until(() -> serve.follower().models().size() == 2);
      JsonNode listed = get(serve, "/v1/models");
      assertThat(listed.path("models").findValuesAsText("model")).containsExactly("a", "b");
      assertThat(predict(serve, "/v1/models/b/predict").path("version").asText()).isEqualTo(b1);

      publishA.offer(candidate("a", model, 3));
      String a2 = publishA.registry().champion().id();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> serve.follower().current("a").version().equals(a2));
      assertThat(predict(serve, "/v1/models/a/predict").path("version").asText()).isEqualTo(a2);
      assertThat(serve.follower().current("b").version()).as("b untouched").isEqualTo(b1);
      String earlier = "/v1/models/a/versions/" + a1 + "/predict";
      assertThat(predict(serve, earlier).path("version").asText()).isEqualTo(a1);
      assertThat(status(serve, "/v1/models/a/versions/nope/predict")).isEqualTo(404);
      assertThat(status(serve, "/v1/models/c/predict")).isEqualTo(404);
      assertThat(status(serve, "/v2/models/b/ready")).isEqualTo(200);
    }
  }

  private static AdapterPublisher publisher(RetainConfig config, RetainStore store) {
    return new AdapterPublisher(
        config, store, KafkaClients.producer(config), new SimpleMeterRegistry());
  }

  /** A candidate of {@code name} whose adapter is the model's, shifted by {@code i}. */
  private static Candidate candidate(String name, LoraNet model, int i) {
    Map<String, SafeTensors.Tensor> adapter = new LinkedHashMap<>(model.adapterTensors());
    adapter.replaceAll(
        (k, t) -> {
          float[] data = t.data().clone();
          for (int j = 0; j < data.length; j++) {
            data[j] += 1e-3f * i * ((j % 5) - 2);
          }
          return new SafeTensors.Tensor(t.shape(), data);
        });
    return new Candidate(
        name,
        adapter,
        Map.of("d0", 0.5 + i * 0.01),
        Map.of("d0", 0.5),
        model.baseHash(),
        Map.of(new TopicPartition("t", 0), 100L * i),
        10L * i,
        "d0",
        Trigger.EVERY,
        Map.of(),
        Map.of());
  }

  private HttpResponse<String> send(ServeNode serve, String path, String body) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + serve.port() + path));
    if (body != null) {
      request.header("Content-Type", "application/json");
      request.POST(HttpRequest.BodyPublishers.ofString(body));
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode get(ServeNode serve, String path) throws Exception {
    HttpResponse<String> answer = send(serve, path, null);
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    return JSON.readTree(answer.body());
  }

  private JsonNode predict(ServeNode serve, String path) throws Exception {
    HttpResponse<String> answer = send(serve, path, "{\"features\": [0.1, 0.2, 0.3, 0.4]}");
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    return JSON.readTree(answer.body());
  }

  private int status(ServeNode serve, String path) throws Exception {
    boolean get = path.endsWith("/ready");
    return send(serve, path, get ? null : "{\"features\": [0.1, 0.2, 0.3, 0.4]}").statusCode();
  }
}
