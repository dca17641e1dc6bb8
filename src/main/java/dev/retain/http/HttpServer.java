package dev.retain.http;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One HTTP listener on Jetty. Jetty's selector reads requests and their bodies without a thread per
 * connection, so idle and slow clients cost a socket, not a worker; the connection count is
 * bounded, idle connections close, and a request whose body does not arrive (or that no worker
 * takes) within the request timeout is answered 408 (or 503). At most {@code workers} routes run at
 * once: a request that arrived whole runs on the thread that parsed it (no hand-over, the common
 * case for small requests), one whose body trickles in is read without a thread and then handed to
 * a bounded queue of workers. Port 0 picks a free port.
 */
public final class HttpServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HttpServer.class);
  private final Server server;
  private final ServerConnector connector;
  private final ThreadPoolExecutor workers;
  private final Semaphore running; // routes that run at once, on Jetty's threads or the workers
  private final Limits limits;
  private final Map<String, Route> exact = new ConcurrentHashMap<>();
  private final List<Map.Entry<String, Route>> prefixes = new ArrayList<>();

  public HttpServer(String host, int port, Limits limits) {
    this.limits = limits;
    running = new Semaphore(limits.workers());
    QueuedThreadPool io = new QueuedThreadPool(Math.max(16, 2 * limits.workers() + 4), 2);
    io.setName("retain-http-io");
    io.setDaemon(true);
    io.setReservedThreads(0);
    server = new Server(io);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(limits.idleTimeoutMs());
    connector.setAcceptQueueSize(128);
    server.addConnector(connector);
    server.addBean(new NetworkConnectionLimit(limits.maxConnections(), connector));
    server.setHandler(new Dispatch());
    AtomicInteger count = new AtomicInteger();
    workers =
        new ThreadPoolExecutor(
            limits.workers(),
            limits.workers(),
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(limits.queue()),
            r -> {
              Thread t = new Thread(r, "retain-http-" + count.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  /** Answers {@code path} exactly. */
  public HttpServer route(String path, Route route) {
    exact.put(path, route);
    return this;
  }

  /** Answers every path that starts with {@code prefix} (and no exact route). */
  public synchronized HttpServer prefix(String prefix, Route route) {
    prefixes.add(Map.entry(prefix, route));
    return this;
  }

  /** {@code GET /metrics} in Prometheus' text format. */
  public HttpServer metrics(PrometheusMeterRegistry registry) {
    return route(
        "/metrics",
        call -> {
          if (getOnly(call)) {
            call.respond(200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
          }
        });
  }

  /**
   * Health checks under each of {@code prefixes} ({@code PREFIX/live}, {@code PREFIX/ready}): 200
   * while {@code live} holds, 503 once not; 200 when {@code notReady} gives null, else 503 with its
   * reason.
   */
  public HttpServer health(BooleanSupplier live, Supplier<String> notReady, String... prefixes) {
    for (String prefix : prefixes) {
      route(prefix + "/live", call -> check(call, live.getAsBoolean() ? null : "stopped"));
      route(prefix + "/ready", call -> check(call, notReady.get()));
    }
    return this;
  }

  /** 200 "ok", or 503 with {@code problem}. */
  public static void check(Call call, String problem) {
    if (getOnly(call)) {
      call.respond(
          problem == null ? 200 : 503,
          "text/plain; charset=utf-8",
          (problem == null ? "ok" : problem) + "\n");
    }
  }

  private static boolean getOnly(Call call) {
    if (call.method().equals("GET") || call.method().equals("HEAD")) {
      return true;
    }
    call.respond(405, "text/plain; charset=utf-8", "GET only\n");
    return false;
  }

  public HttpServer start() {
    try {
      server.start();
    } catch (Exception e) {
      close();
      throw new IllegalStateException(
          "cannot listen on " + connector.getHost() + ":" + connector.getPort() + ": " + e, e);
    }
    return this;
  }

  /** The port actually bound. */
  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      LOG.warn("HTTP listener did not stop cleanly: {}", e.toString());
    }
    workers.shutdownNow();
  }

  /** The whole body, read as it arrives without holding a thread. */
  private static CompletableFuture<byte[]> read(Request request, int maxBytes) {
    CompletableFuture<byte[]> body = new CompletableFuture<>();
    Content.Source.asByteArrayAsync(request, maxBytes, Promise.Invocable.toPromise(body));
    return body;
  }

  private synchronized Route find(String path) {
    Route route = exact.get(path);
    if (route != null) {
      return route;
    }
    for (Map.Entry<String, Route> entry : prefixes) {
      if (path.startsWith(entry.getKey())) {
        return entry.getValue();
      }
    }
    return null;
  }

  /** Answers at once when the request is whole; else reads it without a thread, then queues it. */
  private final class Dispatch extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limits.requestTimeoutMs());
      JettyCall call = new JettyCall(request, response, callback);
      Route route = find(Request.getPathInContext(request));
      if (route == null) {
        call.error(404, "no route " + request.getMethod() + " " + call.path());
        return true;
      }
      long length = request.getLength();
      if (length > limits.maxBodyBytes()) {
        call.error(413, "request larger than " + limits.maxBodyBytes() + " bytes");
        return true;
      }
      CompletableFuture<byte[]> body =
          length == 0
                  || (length < 0 && !request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING))
              ? CompletableFuture.completedFuture(new byte[0])
              : read(request, limits.maxBodyBytes());
      if (body.isDone() && !body.isCompletedExceptionally() && running.tryAcquire()) {
        // the whole request is here and a permit is free: answer on this thread, no hand-over
        call.body = body.join();
        try {
          answer(call, route);
        } finally {
          running.release();
        }
        return true;
      }
      body.orTimeout(limits.requestTimeoutMs(), TimeUnit.MILLISECONDS)
          .whenComplete(
              (bytes, failure) -> {
                if (failure != null) {
                  refuse(call, failure);
                } else {
                  call.body = bytes;
                  submit(call, route, deadline);
                }
              });
      return true;
    }

    private void refuse(JettyCall call, Throwable failure) {
      Throwable cause =
          failure instanceof java.util.concurrent.CompletionException
              ? failure.getCause()
              : failure;
      if (cause instanceof TimeoutException) {
        call.error(408, "request body not complete within " + limits.requestTimeoutMs() + " ms");
      } else if (cause instanceof java.io.IOException) {
        call.error(400, "cannot read the request body: " + cause.getMessage());
      } else { // Jetty's reader refuses a body beyond the limit with a runtime exception
        call.error(413, "request larger than " + limits.maxBodyBytes() + " bytes");
      }
    }

    private void submit(JettyCall call, Route route, long deadline) {
      try {
        workers.execute(() -> run(call, route, deadline));
      } catch (RejectedExecutionException e) {
        call.error(503, "server busy: " + limits.queue() + " requests already wait");
      }
    }

    /** A worker slot by {@code deadline}; false, with a 503 answered, when there is none. */
    private boolean acquire(JettyCall call, long deadline) {
      try {
        if (running.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
          return true;
        }
        call.error(503, "server busy: no worker took the request in time");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        call.error(503, "server stopping");
      }
      return false;
    }

    private void run(JettyCall call, Route route, long deadline) {
      if (!acquire(call, deadline)) {
        return;
      }
      try {
        answer(call, route);
      } finally {
        running.release();
      }
    }

    private void answer(JettyCall call, Route route) {
      try {
        route.handle(call);
      } catch (Exception | Error e) {
        LOG.error("{} {} failed", call.method(), call.path(), e);
      } finally {
        if (!call.answered()) {
          call.error(500, "internal error");
        }
      }
    }
  }

  /** A Jetty request and response behind {@link Call}. */
  private static final class JettyCall implements Call {
    private final Request request;
    private final Response response;
    private final Callback callback;
    private final AtomicInteger answers = new AtomicInteger();
    private byte[] body = new byte[0];

    JettyCall(Request request, Response response, Callback callback) {
      this.request = request;
      this.response = response;
      this.callback = callback;
    }

    @Override
    public String method() {
      return request.getMethod();
    }

    @Override
    public String path() {
      return Request.getPathInContext(request);
    }

    @Override
    public String header(String name) {
      return request.getHeaders().get(name);
    }

    @Override
    public byte[] body() {
      return body;
    }

    @Override
    public void respond(int status, String contentType, byte[] bytes) {
      if (answers.getAndIncrement() > 0) {
        throw new IllegalStateException("answered twice: " + method() + " " + path());
      }
      response.setStatus(status);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
      response.write(true, ByteBuffer.wrap(bytes), callback);
    }

    boolean answered() {
      return answers.get() > 0;
    }
  }
}
