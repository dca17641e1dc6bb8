package dev.retain.config;

import java.util.Arrays;
import java.util.Locale;
import org.apache.kafka.common.config.ConfigDef.ValidString;

/**
 * The settings that take one of a fixed set of values. Each is an enumeration whose constants,
 * lower-cased, are the values the setting accepts: read one with {@link RetainConfig#choice}.
 */
public final class Choice {
  private Choice() {}

  /** {@code retain.model.arch}. */
  public enum Arch {
    MLP,
    CNN
  }

  /** {@code retain.record.codec}. */
  public enum Codec {
    JSON,
    BINARY
  }

  /** {@code retain.train.device}. */
  public enum Device {
    AUTO,
    CPU,
    GPU
  }

  /** {@code retain.publish.on.reject}. */
  public enum OnReject {
    CONTINUE,
    REVERT
  }

  /** {@code retain.replay.balance}. */
  public enum ReplayBalance {
    CLASS,
    DOMAIN
  }

  /** {@code retain.train.fresh.loss}. */
  public enum FreshLoss {
    ACE,
    FULL
  }

  /** {@code retain.drift.detector}. */
  public enum DriftDetector {
    ADWIN,
    PAGE_HINKLEY,
    NONE
  }

  /** The value a setting takes for {@code choice}. */
  public static String value(Enum<?> choice) {
    return choice.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** The constant of {@code type} that {@code value} names; fails on any other value. */
  public static <E extends Enum<E>> E parse(Class<E> type, String value) {
    return Enum.valueOf(type, value.toUpperCase(Locale.ROOT).replace('-', '_'));
  }

  /** A validator that accepts the values of {@code type}'s constants. */
  static ValidString in(Class<? extends Enum<?>> type) {
    return ValidString.in(
        Arrays.stream(type.getEnumConstants()).map(Choice::value).toArray(String[]::new));
  }
}
