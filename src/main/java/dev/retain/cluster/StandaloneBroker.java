package dev.retain.cluster;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node KRaft broker in a child JVM (Kafka's own {@code kafka.Kafka}, from this class
 * path) with its data in a directory: unlike the embedded broker it can be killed and started again
 * on the same port and data, as an outage does. Used by {@code retain soak}.
 */
public final class StandaloneBroker implements AutoCloseable {
  private final Path dir;
  private final int port;
  private Process process;

  private StandaloneBroker(Path dir, int port) {
    this.dir = dir;
    this.port = port;
  }

  /** Formats {@code dir} and starts the broker on free ports. */
  public static StandaloneBroker start(Path dir) throws IOException, InterruptedException {
    int port = freePort();
    int controller = freePort();
    Files.createDirectories(dir);
    Path props = dir.resolve("server.properties");
    Files.writeString(
        props,
        String.join(
            "\n",
            "process.roles=broker,controller",
            "node.id=1",
            "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controller,
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.quorum.bootstrap.servers=127.0.0.1:" + controller,
            "log.dirs=" + dir.resolve("data"),
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "message.max.bytes=16777216",
            ""));
    Process format =
        java(
                List.of(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    UUID.randomUUID().toString().replace("-", "").substring(0, 22),
                    "-c",
                    props.toString(),
                    "--standalone"),
                dir.resolve("format.log"))
            .start();
    if (format.waitFor() != 0) {
      throw new IllegalStateException(
          "cannot format the broker's storage: " + Files.readString(dir.resolve("format.log")));
    }
    StandaloneBroker broker = new StandaloneBroker(dir, port);
    broker.startProcess();
    return broker;
  }

  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  /** Kills the broker (SIGKILL), as a crash or a lost machine does. */
  public void kill() throws InterruptedException {
    process.destroyForcibly().waitFor();
  }

  /** Starts the broker again on its port and data; returns once it accepts connections. */
  public void startProcess() throws InterruptedException {
    try {
      process =
          java(
                  List.of("kafka.Kafka", dir.resolve("server.properties").toString()),
                  dir.resolve("broker.log"))
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start the broker", e);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("the broker exited; see " + dir.resolve("broker.log"));
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        TimeUnit.MILLISECONDS.sleep(200); // polling the port the broker is about to open
      }
    }
    throw new IllegalStateException("the broker did not open port " + port + " in 120 s");
  }

  private static ProcessBuilder java(List<String> args, Path log) {
    List<String> command =
        new java.util.ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-Dlog4j2.level=WARN",
                "-cp",
                System.getProperty("java.class.path")));
    command.addAll(args);
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  @Override
  public void close() {
    if (process != null) {
      process.destroyForcibly();
    }
  }
}
