package dev.retain.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A small HTTP server (the JDK's) that serves {@code GET /metrics} in Prometheus' text format and
 * whatever other handlers its owner adds. Binds the given host; port 0 picks a free port.
 */
public final class HttpEndpoint implements AutoCloseable {
  static {
    // the JDK server writes headers and body separately; with Nagle on, each small response then
    // waits for the client's delayed ACK (about 40 ms). Read once, when the server classes load.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;

  public HttpEndpoint(String host, int port, PrometheusMeterRegistry registry, int threads) {
    this(host, port, threads);
    server.createContext("/metrics", exchange -> scrape(exchange, registry));
  }

  /** An endpoint without {@code /metrics} (the learner's admin listener). */
  public HttpEndpoint(String host, int port, int threads) {
    try {
      server = HttpServer.create(new InetSocketAddress(host, port), 128);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + host + ":" + port, e);
    }
    executor =
        Executors.newFixedThreadPool(
            threads,
            r -> {
              Thread t = new Thread(r, "retain-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
  }

  private static void scrape(HttpExchange exchange, PrometheusMeterRegistry registry)
      throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, "text/plain", "GET only\n");
      return;
    }
    respond(exchange, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
  }

  /**
   * Adds the health checks under each of {@code prefixes} ({@code PREFIX/live}, {@code
   * PREFIX/ready}): 200 while {@code live} holds, 503 once not; 200 when {@code notReady} gives
   * null, else 503 with its reason.
   */
  public HttpEndpoint health(
      java.util.function.BooleanSupplier live,
      java.util.function.Supplier<String> notReady,
      String... prefixes) {
    for (String prefix : prefixes) {
      route(prefix + "/live", exchange -> check(exchange, live.getAsBoolean() ? null : "stopped"));
      route(prefix + "/ready", exchange -> check(exchange, notReady.get()));
    }
    return this;
  }

  /** 200 "ok", or 503 with {@code problem}. */
  public static void check(HttpExchange exchange, String problem) throws IOException {
    if (!"GET".equals(exchange.getRequestMethod())) {
      respond(exchange, 405, "text/plain", "GET only\n");
      return;
    }
    respond(
        exchange,
        problem == null ? 200 : 503,
        "text/plain; charset=utf-8",
        (problem == null ? "ok" : problem) + "\n");
  }

  /** Adds {@code handler} under {@code path}. */
  public HttpEndpoint route(String path, HttpHandler handler) {
    server.createContext(path, handler);
    return this;
  }

  public HttpEndpoint start() {
    server.start();
    return this;
  }

  /** The port actually bound. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Writes a whole response and closes the exchange. */
  public static void respond(HttpExchange exchange, int status, String contentType, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
