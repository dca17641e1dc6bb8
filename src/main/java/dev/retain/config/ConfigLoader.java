package dev.retain.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.config.ConfigException;

/**
 * Builds a {@link RetainConfig} from its three sources, lowest precedence first: a properties file,
 * environment variables ({@code RETAIN_TRAIN_EWC_LAMBDA} sets {@code retain.train.ewc.lambda}), and
 * {@code key=value} overrides from the command line.
 */
public final class ConfigLoader {
  private ConfigLoader() {}

  public static RetainConfig load(Path file, Map<String, String> env, List<String> overrides) {
    Map<String, Object> merged = new HashMap<>();
    if (file != null) {
      merged.putAll(readProperties(file));
    }
    merged.putAll(fromEnvironment(env));
    merged.putAll(parseOverrides(overrides));
    return new RetainConfig(merged);
  }

  /** The settings that {@code RETAIN_*} variables of {@code env} give. */
  public static Map<String, String> fromEnvironment(Map<String, String> env) {
    Map<String, String> out = new HashMap<>();
    env.forEach(
        (name, value) -> {
          String key = name.toLowerCase(Locale.ROOT).replace('_', '.');
          // other RETAIN_* variables (RETAIN_JAVA_OPTS of the launcher) are not settings
          if (name.startsWith("RETAIN_")
              && (key.startsWith(RetainConfig.KAFKA_PREFIX)
                  || RetainConfig.DEFINITION.names().contains(key))) {
            out.put(key, value);
          }
        });
    return out;
  }

  static Map<String, String> parseOverrides(List<String> overrides) {
    Map<String, String> out = new HashMap<>();
    for (String override : overrides) {
      int eq = override.indexOf('=');
      if (eq <= 0) {
        throw new ConfigException("Expected key=value but got '" + override + "'");
      }
      out.put(override.substring(0, eq).trim(), override.substring(eq + 1).trim());
    }
    return out;
  }

  private static Map<String, String> readProperties(Path file) {
    Properties props = new Properties();
    try (Reader reader = Files.newBufferedReader(file)) {
      props.load(reader);
    } catch (IOException e) {
      throw new ConfigException("Cannot read configuration file " + file + ": " + e.getMessage());
    }
    Map<String, String> out = new HashMap<>();
    props.stringPropertyNames().forEach(name -> out.put(name, props.getProperty(name)));
    return out;
  }
}
