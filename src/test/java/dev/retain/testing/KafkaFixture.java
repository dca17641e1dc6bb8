package dev.retain.testing;

import dev.retain.cluster.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ServiceConfigurationError;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The one real Kafka broker shared by every integration test in this JVM: Testcontainers' Kafka
 * when a Docker engine is available, otherwise Retain's embedded KRaft broker (Kafka's own test
 * kit, combined mode, one node). Started on first use, stopped when the JVM exits.
 */
public final class KafkaFixture {
  private static String bootstrap;

  private KafkaFixture() {}

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
    Runtime.getRuntime().addShutdownHook(new Thread(kafka::stop));
    return kafka.getBootstrapServers();
  }

  private static String startEmbedded() {
    EmbeddedKafka kafka = EmbeddedKafka.start();
    Runtime.getRuntime().addShutdownHook(new Thread(kafka::close));
    return kafka.bootstrapServers();
  }
}
