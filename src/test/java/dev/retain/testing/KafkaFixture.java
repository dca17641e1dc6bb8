package dev.retain.testing;

import dev.retain.cluster.EmbeddedKafka;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.awaitility.Awaitility;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The one real Kafka broker shared by every integration test in this JVM: Testcontainers' Kafka
 * when a Docker engine is available, otherwise Retain's embedded KRaft broker (Kafka's own test
 * kit, combined mode, one node). Started on first use; stopped when the test session ends ({@link
 * SessionListener}), before the JVM's shutdown hooks run. The kit deletes its directories from a
 * shutdown hook of its own; a broker stopped by another hook races that deletion, and a broker that
 * loses its log directory halts the JVM (once, a test fork exited non-zero after every test had
 * passed). A shutdown hook remains as a fallback.
 */
public final class KafkaFixture {
  private static String bootstrap;
  private static AutoCloseable running;

  private KafkaFixture() {}

  /**
   * Reads {@code topic} from its beginning until at least {@code expected} records arrived (30 s at
   * most, then the wait fails).
   */
  public static List<ConsumerRecord<byte[], byte[]>> readAll(
      RetainConfig config, String topic, int expected) {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        KafkaClients.consumer(config, "read-" + System.nanoTime())) {
      consumer.subscribe(List.of(topic));
      Awaitility.await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> {
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
                return out.size() >= expected;
              });
    }
    return out;
  }

  public static synchronized String bootstrapServers() {
    if (bootstrap == null) {
      bootstrap = dockerAvailable() ? startContainer() : startEmbedded();
    }
    return bootstrap;
  }

  private static boolean dockerAvailable() {
    boolean hinted =
        System.getenv("DOCKER_HOST") != null || Files.exists(Path.of("/var/run/docker.sock"));
    if (!hinted) {
      return false; // skip Testcontainers' probe, which is slow when there is no engine
    }
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException | ServiceConfigurationError e) {
      return false;
    }
  }

  private static String startContainer() {
    KafkaContainer kafka = new KafkaContainer("apache/kafka-native:4.1.0");
    kafka.start();
    keep(kafka::stop);
    return kafka.getBootstrapServers();
  }

  private static String startEmbedded() {
    EmbeddedKafka kafka = EmbeddedKafka.start();
    keep(kafka);
    return kafka.bootstrapServers();
  }

  private static void keep(AutoCloseable broker) {
    running = broker;
    Runtime.getRuntime().addShutdownHook(new Thread(KafkaFixture::stop));
  }

  /** Stops the broker, once; later calls do nothing. */
  public static synchronized void stop() {
    if (running == null) {
      return;
    }
    try {
      running.close();
    } catch (Exception e) {
      System.err.println("stopping the test broker failed: " + e);
    } finally {
      running = null;
    }
  }

  /** Stops the shared broker when the JUnit launcher session closes (registered as a service). */
  public static final class SessionListener implements LauncherSessionListener {
    @Override
    public void launcherSessionClosed(LauncherSession session) {
      stop();
    }
  }
}
