package dev.retain.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.record.Example;
import dev.retain.record.Feedback;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * How {@code retain produce --label-delay} streams examples as production sees them: each example's
 * features go to serving's predict endpoint under the example's id at once, and its label to the
 * feedback topic later, after a delay drawn uniformly between half and one and a half times the
 * given one; serving's feedback join then turns the two into a labeled example.
 */
final class DelayedLabels implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();
  private final ScheduledExecutorService later =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "retain-produce-labels");
            t.setDaemon(true);
            return t;
          });
  private final URI predict;
  private final byte[] key;
  private final Producer<byte[], byte[]> producer;
  private final String feedbackTopic;
  private final long delayMs;
  private final SplittableRandom random;
  private final AtomicLong labelled = new AtomicLong();

  DelayedLabels(
      URI serve,
      String model,
      Producer<byte[], byte[]> producer,
      String feedbackTopic,
      double delaySeconds,
      long seed) {
    this.predict = serve.resolve("/v1/models/" + model + "/predict");
    this.key = model.getBytes(StandardCharsets.UTF_8);
    this.producer = producer;
    this.feedbackTopic = feedbackTopic;
    this.delayMs = Math.round(delaySeconds * 1000);
    this.random = new SplittableRandom(seed);
  }

  /** Asks serving for {@code example}'s prediction now and sends its label later. */
  void send(Example example) throws IOException, InterruptedException {
    ObjectNode body = JSON.createObjectNode();
    body.put("id", example.id());
    var features = body.putArray("features");
    for (float f : example.features()) {
      features.add(f);
    }
    HttpResponse<String> answer =
        http.send(
            HttpRequest.newBuilder(predict)
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (answer.statusCode() != 200) {
      throw new IllegalStateException(
          "serving at " + predict + " answered " + answer.statusCode() + ": " + answer.body());
    }
    long wait = delayMs / 2 + (delayMs > 0 ? random.nextLong(delayMs + 1) : 0);
    byte[] label = new Feedback(example.id(), example.label()).toJson();
    later.schedule(
        () -> {
          producer.send(new ProducerRecord<>(feedbackTopic, key, label));
          labelled.incrementAndGet();
        },
        wait,
        TimeUnit.MILLISECONDS);
  }

  /** Labels sent to the feedback topic so far. */
  long labelled() {
    return labelled.get();
  }

  /** Waits until every label is sent. */
  @Override
  public void close() {
    later.shutdown();
    try {
      if (!later.awaitTermination(2 * delayMs + 60_000, TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("labels still waiting after twice the delay");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted with labels still to send", e);
    }
  }
}
