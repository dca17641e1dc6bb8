package dev.retain.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RetainConfigTest {
  @Test
  void shouldUseDocumentedDefaultsWhenNothingIsSet() {
    RetainConfig config = new RetainConfig(Map.of());
    assertThat(config.getInt(RetainConfig.REPLAY_CAPACITY)).isEqualTo(2000);
    assertThat(config.getInt(RetainConfig.HOLDOUT_EVERY)).isEqualTo(10);
    assertThat(config.getInt(RetainConfig.HOLDOUT_MAX_PER_DOMAIN)).isEqualTo(1000);
    assertThat(config.examplesTopic()).isEqualTo("retain.examples");
    assertThat(config.deadLetterTopic()).isEqualTo("retain.examples.dlq");
  }

  @Test
  void shouldNameKeyAndValueWhenAValueIsInvalid() {
    assertThatThrownBy(() -> new RetainConfig(Map.of(RetainConfig.REPLAY_CAPACITY, "-5")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(RetainConfig.REPLAY_CAPACITY)
        .hasMessageContaining("-5");
    assertThatThrownBy(() -> new RetainConfig(Map.of(RetainConfig.RECORD_CODEC, "xml")))
        .hasMessageContaining(RetainConfig.RECORD_CODEC)
        .hasMessageContaining("xml");
  }

  @Test
  void shouldBuildTheConfiguredArchitectureAndRejectACnnOverANonSquareImage() {
    assertThat(new RetainConfig(Map.of()).architecture()).hasToString("mlp 784-256-256-10");
    assertThat(
            new RetainConfig(
                    Map.of(RetainConfig.MODEL_ARCH, "cnn", RetainConfig.MODEL_HIDDEN, "128"))
                .architecture())
        .hasToString("cnn 28x28 c16-32 dense 1568-128-10");
    assertThatThrownBy(
            () ->
                new RetainConfig(
                    Map.of(RetainConfig.MODEL_ARCH, "cnn", RetainConfig.RECORD_FEATURES, "30")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(RetainConfig.MODEL_ARCH)
        .hasMessageContaining("retain.record.features=30 is not a square");
    assertThatThrownBy(
            () ->
                new RetainConfig(
                    Map.of(
                        RetainConfig.MODEL_ARCH, "cnn", RetainConfig.MODEL_CONV_CHANNELS, "8,8,8")))
        .hasMessageContaining("multiple of 8");
  }

  @Test
  void shouldRejectUnknownRetainKeysWhenMisspelt() {
    assertThatThrownBy(() -> new RetainConfig(Map.of("retain.replay.capacty", "10")))
        .hasMessageContaining("retain.replay.capacty");
  }

  @Test
  void shouldPassKafkaSettingsThroughWhenPrefixed() {
    RetainConfig config =
        new RetainConfig(
            Map.of(
                "retain.kafka.security.protocol",
                "SASL_SSL",
                "retain.kafka.sasl.mechanism",
                "PLAIN",
                RetainConfig.BOOTSTRAP_SERVERS,
                "broker:9093"));
    assertThat(config.kafkaClientProperties())
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("sasl.mechanism", "PLAIN")
        .containsEntry("bootstrap.servers", "broker:9093");
  }

  @Test
  void shouldIgnoreRetainEnvironmentVariablesThatAreNotSettingsWhenLoading() {
    RetainConfig config =
        ConfigLoader.load(
            null,
            Map.of(
                "RETAIN_JAVA_OPTS", "-Xmx1g",
                "RETAIN_KAFKA_SECURITY_PROTOCOL", "SSL",
                "RETAIN_TRAIN_EWC_LAMBDA", "2"),
            List.of());
    assertThat(config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA)).isEqualTo(2.0);
    assertThat(config.kafkaClientProperties()).containsEntry("security.protocol", "SSL");
  }

  @Test
  void shouldApplyFileThenEnvironmentThenFlagsWhenLoading(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("retain.properties");
    Files.writeString(
        file, "retain.replay.capacity=100\nretain.holdout.every=5\nretain.model.id=from-file\n");
    RetainConfig config =
        ConfigLoader.load(
            file,
            Map.of("RETAIN_HOLDOUT_EVERY", "7", "RETAIN_MODEL_ID", "from-env", "PATH", "/bin"),
            List.of("retain.model.id=from-flag"));
    assertThat(config.getInt(RetainConfig.REPLAY_CAPACITY)).isEqualTo(100);
    assertThat(config.getInt(RetainConfig.HOLDOUT_EVERY)).isEqualTo(7);
    assertThat(config.getString(RetainConfig.MODEL_ID)).isEqualTo("from-flag");
  }

  @Test
  void shouldFailClearlyWhenAnOverrideHasNoEquals() {
    assertThatThrownBy(() -> ConfigLoader.load(null, Map.of(), List.of("retain.model.id")))
        .hasMessageContaining("key=value");
  }

  /** The README's configuration table is generated from the code; keep them equal. */
  @Test
  void shouldMatchReadmeTableWhenDocumented() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    String begin = "<!-- config-table:begin -->\n";
    String end = "<!-- config-table:end -->";
    String table = readme.substring(readme.indexOf(begin) + begin.length(), readme.indexOf(end));
    assertThat(table)
        .as("README table out of date: run scripts/retain config and paste its output")
        .isEqualTo(RetainConfig.markdownTable());
  }

  /** A full default batch of Fashion-MNIST images, every value with four decimals, fits. */
  @Test
  void shouldFitAFullDefaultBatchInTheDefaultRequestLimit() {
    RetainConfig defaults = new RetainConfig(java.util.Map.of());
    int batch = defaults.getInt(RetainConfig.SERVE_MAX_BATCH);
    String image = ("0.1234,".repeat(783) + "0.1234");
    long body = (long) batch * ("[" + image + "],").length() + "{\"instances\":[]}".length();
    assertThat(body).isLessThanOrEqualTo(defaults.getInt(RetainConfig.SERVE_MAX_REQUEST_BYTES));
  }
}
