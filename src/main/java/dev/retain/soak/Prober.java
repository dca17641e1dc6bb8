package dev.retain.soak;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Asks serving for a prediction every 50 ms for the whole soak. Before the first version a 503 is
 * expected; after it every request must be answered.
 */
final class Prober implements AutoCloseable {
  final AtomicLong answered = new AtomicLong();
  final AtomicLong failedAfterFirst = new AtomicLong();
  private final Thread thread;
  private volatile boolean closed;

  Prober(int port, float[] features) {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/v1/models/default/predict"))
            .timeout(Duration.ofSeconds(2))
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "{\"features\":" + Arrays.toString(features) + "}"))
            .build();
    thread =
        new Thread(
            () -> {
              while (!closed) {
                probe(http, request);
                try {
                  TimeUnit.MILLISECONDS.sleep(50); // the probing cadence
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "retain-soak-prober");
    thread.setDaemon(true);
    thread.start();
  }

  private void probe(HttpClient http, HttpRequest request) {
    try {
      int status = http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
      if (status == 200) {
        answered.incrementAndGet();
      } else if (answered.get() > 0) {
        failedAfterFirst.incrementAndGet();
      }
    } catch (java.io.IOException e) {
      if (answered.get() > 0) {
        failedAfterFirst.incrementAndGet();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
