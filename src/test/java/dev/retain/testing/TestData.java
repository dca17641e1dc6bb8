package dev.retain.testing;

import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/** Shared helpers: small examples and configurations for tests. */
public final class TestData {
  private TestData() {}

  public static Example example(String id, int label, String domain, int features) {
    float[] x = new float[features];
    for (int i = 0; i < features; i++) {
      x[i] = label + i * 0.01f;
    }
    return new Example(id, x, label, domain, 1_700_000_000_000L);
  }

  /** A configuration for 4 features and 3 classes on {@code bootstrap}, with unique topics. */
  public static Map<String, Object> smallConfig(String bootstrap, Path storeDir) {
    Map<String, Object> props = new HashMap<>();
    String unique = "t" + UUID.randomUUID().toString().substring(0, 8);
    props.put(RetainConfig.BOOTSTRAP_SERVERS, bootstrap);
    props.put(RetainConfig.TOPIC_PREFIX, unique);
    props.put(RetainConfig.INGEST_GROUP_ID, unique + "-ingest");
    props.put(RetainConfig.RECORD_FEATURES, 4);
    props.put(RetainConfig.RECORD_CLASSES, 3);
    props.put(RetainConfig.STORE_DIR, storeDir.toString());
    props.put(RetainConfig.STORE_SYNC, false);
    props.put(RetainConfig.INGEST_COMMIT_INTERVAL_MS, 20L);
    return props;
  }
}
