package dev.retain.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The listener holds idle and slow clients without letting them stall anyone else. */
class HttpServerTest {
  private final HttpClient client =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final List<Socket> sockets = new ArrayList<>();
  private HttpServer server;

  @AfterEach
  void close() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    if (server != null) {
      server.close();
    }
  }

  private HttpServer start(Limits limits) {
    server =
        new HttpServer("127.0.0.1", 0, limits)
            .health(() -> true, () -> null, "/health")
            .route("/echo", call -> call.respond(200, "text/plain", call.body()))
            .route(
                "/fail",
                call -> {
                  throw new IllegalStateException("broken route");
                })
            .start();
    return server;
  }

  private HttpResponse<String> get(String path) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private Socket open() throws IOException {
    Socket socket = new Socket("127.0.0.1", server.port());
    socket.setSoTimeout(10_000);
    sockets.add(socket);
    return socket;
  }

  /** The response's status line. */
  private static String statusLine(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    StringBuilder line = new StringBuilder();
    for (int b = in.read(); b != -1 && b != '\r'; b = in.read()) {
      line.append((char) b);
    }
    return line.toString();
  }

  @Test
  void aThousandIdleConnectionsDoNotStallOneWorker() throws Exception {
    start(new Limits(1, 16, 4096, 60_000, 10_000, 1 << 20));
    for (int i = 0; i < 1000; i++) {
      open(); // connected, sends nothing
    }
    Socket half = open();
    half.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: x\r\n".getBytes());
    for (int i = 0; i < 20; i++) {
      assertThat(get("/health/live").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void aBodyThatDoesNotArriveGets408WhileOthersAreAnswered() throws Exception {
    start(new Limits(1, 16, 4096, 60_000, 300, 1 << 20));
    Socket slow = open();
    OutputStream out = slow.getOutputStream();
    out.write(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    assertThat(get("/health/ready").statusCode()).isEqualTo(200);
    assertThat(statusLine(slow)).startsWith("HTTP/1.1 408");
  }

  @Test
  void anIdleConnectionIsClosed() throws Exception {
    start(new Limits(1, 16, 4096, 200, 10_000, 1 << 20));
    Socket idle = open();
    assertThat(idle.getInputStream().read()).isEqualTo(-1); // closed by the server
  }

  @Test
  void connectionsBeyondTheLimitWaitUntilOneCloses() throws Exception {
    start(new Limits(1, 16, 2, 300, 10_000, 1 << 20));
    open();
    open();
    // a third connection is accepted once the idle ones time out
    assertThat(get("/health/live").statusCode()).isEqualTo(200);
  }

  @Test
  void aBodyAboveTheLimitGets413() throws Exception {
    start(new Limits(1, 16, 4096, 60_000, 10_000, 1000));
    HttpResponse<String> declared =
        client.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[2000]))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(declared.statusCode()).isEqualTo(413);
    Socket chunked = open();
    chunked
        .getOutputStream()
        .write(
            ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "800\r\n"
                    + "x".repeat(0x800)
                    + "\r\n0\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    assertThat(statusLine(chunked)).startsWith("HTTP/1.1 413");
    HttpResponse<String> small =
        client.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("hello"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(small.body()).isEqualTo("hello");
  }

  @Test
  void aFullQueueGets503AndAFailingRoute500() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    start(new Limits(1, 1, 4096, 60_000, 10_000, 1000));
    server.route(
        "/block",
        call -> {
          entered.countDown();
          release.await(10, TimeUnit.SECONDS);
          call.respond(200, "text/plain", "done");
        });
    CompletableFuture<HttpResponse<String>> first = async("/block");
    assertThat(entered.await(5, TimeUnit.SECONDS)).isTrue();
    // one route runs; one request waits on the worker and one in the queue: of four more, at
    // least two are refused
    List<CompletableFuture<HttpResponse<String>>> more = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      more.add(async("/health/live"));
    }
    // the refused ones answer at once, the others wait for the route: release it only once every
    // request has reached the server and two were refused, however slowly the client sends them
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .until(() -> more.stream().filter(CompletableFuture::isDone).count() >= 2);
    release.countDown();
    assertThat(first.get(5, TimeUnit.SECONDS).body()).isEqualTo("done");
    List<Integer> statuses = new ArrayList<>();
    for (CompletableFuture<HttpResponse<String>> f : more) {
      statuses.add(f.get(5, TimeUnit.SECONDS).statusCode());
    }
    assertThat(statuses).containsOnly(200, 503);
    assertThat(statuses).filteredOn(s -> s == 503).hasSizeGreaterThanOrEqualTo(2);
    assertThat(get("/fail").statusCode()).isEqualTo(500);
    assertThat(get("/nowhere").statusCode()).isEqualTo(404);
  }

  private CompletableFuture<HttpResponse<String>> async(String path) {
    return client.sendAsync(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
