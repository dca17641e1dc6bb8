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

  /**
   * A configuration for a small learner on {@link #driftStream()}: 32 features, 4 classes, a
   * 32-64-4 base pretrained on the first 1,000 examples, consolidation only at domain boundaries
   * and when idle.
   */
  public static Map<String, Object> learnerConfig(String bootstrap, Path storeDir) {
    Map<String, Object> props = smallConfig(bootstrap, storeDir);
    props.put(RetainConfig.RECORD_FEATURES, 32);
    props.put(RetainConfig.RECORD_CLASSES, 4);
    props.put(RetainConfig.MODEL_HIDDEN, "64");
    props.put(RetainConfig.MODEL_PRETRAIN_EXAMPLES, 1000);
    props.put(RetainConfig.MODEL_PRETRAIN_EPOCHS, 5);
    props.put(RetainConfig.TRAIN_BATCH_SIZE, 32);
    props.put(RetainConfig.TRAIN_LEARNING_RATE, 1e-2);
    props.put(RetainConfig.TRAIN_EWC_LAMBDA, 1.0);
    props.put(RetainConfig.TRAIN_FISHER_SAMPLES, 200);
    props.put(RetainConfig.TRAIN_CONSOLIDATE_EVERY, 0L);
    props.put(RetainConfig.TRAIN_IDLE_MS, 300L);
    props.put(RetainConfig.TRAIN_IDLE_REHEARSAL_STEPS, 200);
    props.put(RetainConfig.REPLAY_CAPACITY, 300);
    return props;
  }

  /** The generated drift problem the learner tests use (matches {@link #learnerConfig}). */
  public static dev.retain.data.DriftStream driftStream() {
    return new dev.retain.data.DriftStream(32, 4, 1.5f, 5);
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
    props.put(RetainConfig.METRICS_PORT, 0);
    props.put(RetainConfig.ADMIN_PORT, 0);
    props.put(RetainConfig.METRICS_HOST, "127.0.0.1");
    // one batch in flight per connection: in full runs a producer's first batch to a new topic was
    // sometimes refused while a later one was accepted, and the first then failed with out-of-order
    // sequence numbers for the two-minute delivery timeout, and was lost
    props.put("retain.kafka.max.in.flight.requests.per.connection", 1);
    return props;
  }
}
