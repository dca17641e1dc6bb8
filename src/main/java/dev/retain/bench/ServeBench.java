package dev.retain.bench;

import ai.djl.ndarray.NDManager;
import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.data.DriftStream;
import dev.retain.metrics.Metrics;
import dev.retain.model.LoraNet;
import dev.retain.model.SafeTensors;
import dev.retain.publish.AdapterPublisher;
import dev.retain.serve.ServeNode;
import dev.retain.store.RetainStore;
import dev.retain.train.BaseModels;
import dev.retain.train.Candidate;
import dev.retain.train.Trigger;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Serving latency and throughput over HTTP, single and batched, and the time from a version's
 * publication (through the real publisher) to its first use by the serving endpoint.
 */
@Command(name = "serve", description = "Prediction latency/throughput and publication-to-use time.")
public final class ServeBench implements Callable<Integer> {
  @Option(names = "--requests", defaultValue = "5000", description = "Single-instance requests.")
  int requests;

  @Option(names = "--batch", defaultValue = "64", description = "Instances per batched request.")
  int batch;

  @Option(names = "--batches", defaultValue = "500", description = "Batched requests.")
  int batches;

  @Option(names = "--versions", defaultValue = "20", description = "Versions published.")
  int versions;

  @Option(names = "--features", defaultValue = "784", description = "Features per instance.")
  int features;

  @Option(
      names = "--idle",
      defaultValue = "1000",
      description =
          "Idle connections held open (half of them mid-request) for a second single run.")
  int idle;

  @Option(names = "--bootstrap", description = "Use this cluster instead of an embedded broker.")
  String bootstrap;

  @Option(names = "--json", description = "Print one JSON object of the figures last.")
  boolean json;

  // HTTP/1.1 keep-alive (no h2c upgrade headers on every request), responses completed on the
  // client's selector thread rather than handed to another pool thread: fewer hops per request.
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).executor(Runnable::run).build();
  private io.micrometer.prometheusmetrics.PrometheusMeterRegistry serveMeters;

  @Override
  public Integer call() throws Exception {
    Report report =
        new Report(
            "serve: MLP " + features + "-256-256-10, its adapter merged in, HTTP on 127.0.0.1",
            "measure",
            "count",
            "per second",
            "p50 ms",
            "p99 ms");
    serveMeters = Metrics.registry("bench-serve");
    try (EmbeddedKafka broker = bootstrap == null ? EmbeddedKafka.start() : null) {
      RetainConfig config = config(broker == null ? bootstrap : broker.bootstrapServers());
      try (Admin admin = KafkaClients.admin(config)) {
        Topics.ensure(admin, config, 1, (short) 1);
      }
      try (NDManager manager = NDManager.newBaseManager();
          LoraNet model = BaseModels.create(manager, config);
          RetainStore store =
              RetainStore.open(
                  java.nio.file.Path.of(config.getString(RetainConfig.STORE_DIR)), false);
          AdapterPublisher publisher =
              new AdapterPublisher(
                  config, store, KafkaClients.producer(config), Metrics.registry("bench"));
          ServeNode serve = new ServeNode(config, serveMeters).start()) {
        publisher.base(model.baseHash(), BaseModels.encode(model));
        Versions versionsPublished = new Versions(publisher, model);
        versionsPublished.publishAndAwait(serve, 0);
        String url = "http://127.0.0.1:" + serve.port() + "/v1/models/default/predict";
        measureRequests(report, url, "single", requests, 1);
        measureRequests(report, url, "batch " + batch, batches, batch);
        double[] swap = new double[versions];
        for (int i = 0; i < versions; i++) {
          swap[i] = versionsPublished.publishAndAwait(serve, i + 1);
        }
        Arrays.sort(swap);
        report.row(
            "publication to use",
            versions,
            "",
            String.format("%.1f", percentile(swap, 0.5)),
            String.format("%.1f", percentile(swap, 0.99)));
        report
            .figure("publication_to_use_p50_ms", round(percentile(swap, 0.5)))
            .figure("publication_to_use_p99_ms", round(percentile(swap, 0.99)));
        if (idle > 0) {
          List<Socket> held = holdIdle(serve.port(), idle);
          try {
            measureRequests(report, url, "single, " + idle + " idle connections", requests, 1);
          } finally {
            for (Socket s : held) {
              s.close();
            }
          }
        }
      }
    }
    report.print(System.out, json);
    return 0;
  }

  private void measureRequests(Report report, String url, String name, int n, int size)
      throws Exception {
    DriftStream stream = new DriftStream(features, 10, 1.0f, 3);
    String[] bodies = new String[64];
    for (int i = 0; i < bodies.length; i++) {
      bodies[i] = body(stream, i, size);
    }
    for (int i = 0; i < Math.min(n, 1000); i++) {
      send(url, bodies[i % bodies.length]); // warm-up: JIT, connections
    }
    double[] ms = new double[n];
    double[] server = new double[n];
    io.micrometer.core.instrument.Timer timer =
        serveMeters.get("retain.serve.request.duration").timer();
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      double before = timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS);
      send(url, bodies[i % bodies.length]);
      ms[i] = (System.nanoTime() - t) / 1e6;
      server[i] = timer.totalTime(java.util.concurrent.TimeUnit.MILLISECONDS) - before;
    }
    Arrays.sort(server);
    double seconds = (System.nanoTime() - start) / 1e9;
    Arrays.sort(ms);
    double perSecond = n * (double) size / seconds;
    report.row(
        name + " predictions",
        n * size,
        perSecond,
        String.format("%.2f", percentile(ms, 0.5)),
        String.format("%.2f", percentile(ms, 0.99)));
    report.row(
        "  of which in the server",
        "",
        "",
        String.format("%.2f", percentile(server, 0.5)),
        String.format("%.2f", percentile(server, 0.99)));
    String key = name.contains("idle") ? "idle_single" : size == 1 ? "single" : "batch";
    report
        .figure(key + "_predictions_per_s", Math.round(perSecond))
        .figure(key + "_p50_ms", round(percentile(ms, 0.5)))
        .figure(key + "_p99_ms", round(percentile(ms, 0.99)))
        .figure(key + "_server_p50_ms", round(percentile(server, 0.5)))
        .figure(key + "_server_p99_ms", round(percentile(server, 0.99)));
  }

  /**
   * Opens {@code n} connections that send nothing more: half send nothing at all, half the first
   * line of a request and stop, as stalled clients do.
   */
  private static List<Socket> holdIdle(int port, int n) throws java.io.IOException {
    List<Socket> held = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Socket socket = new Socket("127.0.0.1", port);
      held.add(socket);
      if (i % 2 == 1) {
        socket
            .getOutputStream()
            .write(
                "POST /v1/models/default/predict HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
      }
    }
    return held;
  }

  private void send(String url, String body) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(url))
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException("HTTP " + response.statusCode() + ": " + response.body());
    }
  }

  private static String body(DriftStream stream, int seed, int size) {
    StringBuilder out = new StringBuilder(size == 1 ? "{\"features\":" : "{\"instances\":[");
    for (int i = 0; i < size; i++) {
      out.append(i == 0 ? "" : ",")
          .append(Arrays.toString(stream.example(0, seed * 1000L + i).features()));
    }
    return out.append(size == 1 ? "}" : "]}").toString();
  }

  /** Publishes version {@code i} through the publisher and times it until serving uses it. */
  private static final class Versions {
    private final AdapterPublisher publisher;
    private final LoraNet model;

    Versions(AdapterPublisher publisher, LoraNet model) {
      this.publisher = publisher;
      this.model = model;
    }

    double publishAndAwait(ServeNode serve, int i) {
      Map<String, SafeTensors.Tensor> adapter = new LinkedHashMap<>(model.adapterTensors());
      adapter.replaceAll((k, t) -> perturbed(t, i));
      Map<String, Double> evaluation = Map.of("domain-0", 0.5 + i * 0.001);
      Map<String, Double> worse = Map.of("domain-0", 0.5 + i * 0.001 - 0.0005);
      Candidate candidate =
          new Candidate(
              "default",
              adapter,
              evaluation,
              worse,
              model.baseHash(),
              Map.of(new TopicPartition("bench", 0), 1000L * (i + 1)),
              10L * (i + 1),
              "domain-0",
              Trigger.EVERY,
              Map.of(),
              Map.of());
      long start = System.nanoTime();
      publisher.offer(candidate);
      String id = publisher.registry().champion().id();
      while (serve.follower().current() == null
          || !serve.follower().current().version().equals(id)) {
        Thread.onSpinWait();
      }
      return (System.nanoTime() - start) / 1e6;
    }

    private static SafeTensors.Tensor perturbed(SafeTensors.Tensor t, int i) {
      float[] data = t.data().clone();
      for (int j = 0; j < data.length; j++) {
        data[j] += 1e-3f * ((j * 31 + i) % 7 - 3);
      }
      return new SafeTensors.Tensor(t.shape(), data);
    }
  }

  private RetainConfig config(String servers) throws Exception {
    Map<String, Object> props = new HashMap<>();
    props.put(RetainConfig.BOOTSTRAP_SERVERS, servers);
    props.put(RetainConfig.TOPIC_PREFIX, "bench-serve-" + System.nanoTime());
    props.put(RetainConfig.RECORD_FEATURES, features);
    props.put(RetainConfig.STORE_DIR, Files.createTempDirectory("retain-serve-bench").toString());
    props.put(RetainConfig.SERVE_PORT, 0);
    props.put(RetainConfig.SERVE_MAX_REQUEST_BYTES, 64 << 20);
    return new RetainConfig(props);
  }

  private static double percentile(double[] sorted, double q) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }
}
