package dev.retain.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.retain.config.RetainConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The demo reads RETAIN_* variables as `retain run` does, but keeps its own embedded broker. */
class DemoCommandTest {
  @Test
  void shouldApplyEnvironmentSettingsButKeepItsOwnBroker() throws Exception {
    DemoCommand demo = new DemoCommand();
    demo.perDomain = 4000;
    RetainConfig config =
        demo.config(
            "127.0.0.1:19092",
            Map.of(
                "RETAIN_TRAIN_DEVICE", "cpu",
                "RETAIN_TRAIN_EWC_LAMBDA", "3",
                "RETAIN_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092",
                "RETAIN_JAVA_OPTS", "-Xmx1g"));

    assertThat(config.getString(RetainConfig.TRAIN_DEVICE)).isEqualTo("cpu");
    assertThat(config.getDouble(RetainConfig.TRAIN_EWC_LAMBDA)).isEqualTo(3.0);
    assertThat(config.getString(RetainConfig.BOOTSTRAP_SERVERS)).isEqualTo("127.0.0.1:19092");
    assertThat(config.getString(RetainConfig.RECORD_CODEC)).isEqualTo("binary");
    assertThat(config.getInt(RetainConfig.MODEL_PRETRAIN_EXAMPLES)).isEqualTo(2000);
  }

  @Test
  void shouldKeepItsDefaultsWithoutVariables() throws Exception {
    DemoCommand demo = new DemoCommand();
    demo.perDomain = 4000;
    RetainConfig config = demo.config("127.0.0.1:19092", Map.of("PATH", "/bin"));

    assertThat(config.getString(RetainConfig.TRAIN_DEVICE)).isEqualTo("auto");
    assertThat(config.getBoolean(RetainConfig.STORE_SYNC)).isFalse();
  }
}
