package dev.retain.config;

import dev.retain.model.Architecture;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Range;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.ConfigException;

/**
 * Retain's one typed configuration. Every key is defined once here with its type, default,
 * validator and documentation; the README's configuration table is generated from {@link
 * #markdownTable()}.
 *
 * <p>Keys under {@value #KAFKA_PREFIX} are passed through, prefix removed, to every Kafka client
 * (bootstrap servers, security protocol, SASL, TLS...).
 */
public final class RetainConfig extends AbstractConfig {

  /** Prefix of Kafka client settings passed through to producers, consumers and admin clients. */
  public static final String KAFKA_PREFIX = "retain.kafka.";

  public static final String BOOTSTRAP_SERVERS = KAFKA_PREFIX + "bootstrap.servers";
  public static final String MODEL_ID = "retain.model.id";
  public static final String KAFKA_STARTUP_TIMEOUT_MS = "retain.kafka.startup.timeout.ms";
  public static final String TOPIC_PREFIX = "retain.topic.prefix";
  public static final String RECORD_CODEC = "retain.record.codec";
  public static final String RECORD_FEATURES = "retain.record.features";
  public static final String RECORD_CLASSES = "retain.record.classes";
  public static final String RECORD_MAX_BYTES = "retain.record.max.bytes";
  public static final String RECORD_MAX_ABS_FEATURE = "retain.record.max.abs.feature";
  public static final String RECORD_MAX_DOMAINS = "retain.record.max.domains";
  public static final String RECORD_DEFAULT_DOMAIN = "retain.record.default.domain";
  public static final String INGEST_GROUP_ID = "retain.ingest.group.id";
  public static final String INGEST_INSTANCE_ID = "retain.ingest.instance.id";
  public static final String INGEST_MAX_POLL_RECORDS = "retain.ingest.max.poll.records";
  public static final String INGEST_POLL_TIMEOUT_MS = "retain.ingest.poll.timeout.ms";
  public static final String INGEST_COMMIT_RECORDS = "retain.ingest.commit.records";
  public static final String INGEST_COMMIT_INTERVAL_MS = "retain.ingest.commit.interval.ms";
  public static final String INGEST_DEDUP_WINDOW = "retain.ingest.dedup.window";
  public static final String INGEST_INBOX_CAPACITY = "retain.ingest.inbox.capacity";
  public static final String STORE_DIR = "retain.store.dir";
  public static final String STORE_SYNC = "retain.store.sync";
  public static final String REPLAY_CAPACITY = "retain.replay.capacity";
  public static final String REPLAY_BALANCE = "retain.replay.balance";
  public static final String HOLDOUT_EVERY = "retain.holdout.every";
  public static final String HOLDOUT_MAX_PER_DOMAIN = "retain.holdout.max.per.domain";
  public static final String METRICS_PORT = "retain.metrics.port";
  public static final String METRICS_HOST = "retain.metrics.host";
  public static final String PUBLISH_GATE_ENABLED = "retain.publish.gate.enabled";
  public static final String PUBLISH_GATE_Z = "retain.publish.gate.z";
  public static final String PUBLISH_MAX_DOMAIN_DROP = "retain.publish.max.domain.drop";
  public static final String PUBLISH_FORGETTING_BUDGET = "retain.publish.forgetting.budget";
  public static final String PUBLISH_ON_REJECT = "retain.publish.on.reject";
  public static final String PUBLISH_INLINE_MAX_BYTES = "retain.publish.inline.max.bytes";
  public static final String PUBLISH_BLOB_DIR = "retain.publish.blob.dir";
  public static final String PUBLISH_ROLLBACK_TIMEOUT_MS = "retain.publish.rollback.timeout.ms";
  public static final String ADMIN_TOKEN = "retain.admin.token";
  public static final String ADMIN_TOKEN_FILE = "retain.admin.token.file";
  public static final String ADMIN_HOST = "retain.admin.host";
  public static final String ADMIN_PORT = "retain.admin.port";
  public static final String SERVE_HOST = "retain.serve.host";
  public static final String SERVE_PORT = "retain.serve.port";
  public static final String SERVE_MAX_REQUEST_BYTES = "retain.serve.max.request.bytes";
  public static final String SERVE_MAX_BATCH = "retain.serve.max.batch";
  public static final String SERVE_THREADS = "retain.serve.threads";
  public static final String SERVE_MODELS = "retain.serve.models";
  public static final String TOPIC_PARTITIONS = "retain.topic.partitions";
  public static final String TOPIC_REPLICATION = "retain.topic.replication.factor";
  public static final String SERVE_VERSIONS_KEPT = "retain.serve.versions.kept";
  public static final String FLEET_ENABLED = "retain.fleet.enabled";
  public static final String FLEET_MODELS = "retain.fleet.models";
  public static final String FLEET_TRAIN_SLOTS = "retain.fleet.train.slots";
  public static final String FLEET_STANDBY_REPLICAS = "retain.fleet.standby.replicas";
  public static final String FLEET_MODEL_IDLE_MS = "retain.fleet.model.idle.ms";
  public static final String HTTP_QUEUE = "retain.http.queue";
  public static final String HTTP_MAX_CONNECTIONS = "retain.http.max.connections";
  public static final String HTTP_IDLE_TIMEOUT_MS = "retain.http.idle.timeout.ms";
  public static final String HTTP_REQUEST_TIMEOUT_MS = "retain.http.request.timeout.ms";
  public static final String SERVE_PREDICTIONS = "retain.serve.predictions.enabled";
  public static final String FEEDBACK_WINDOW_MS = "retain.feedback.window.ms";
  public static final String FEEDBACK_EXAMPLES = "retain.feedback.examples.enabled";
  public static final String MODEL_ARCH = "retain.model.arch";
  public static final String MODEL_CONV_CHANNELS = "retain.model.conv.channels";
  public static final String MODEL_HIDDEN = "retain.model.hidden.layers";
  public static final String MODEL_BASE_PATH = "retain.model.base.path";
  public static final String MODEL_PRETRAIN_EXAMPLES = "retain.model.pretrain.examples";
  public static final String MODEL_PRETRAIN_EPOCHS = "retain.model.pretrain.epochs";
  public static final String LORA_RANK = "retain.lora.rank";
  public static final String LORA_ALPHA = "retain.lora.alpha";
  public static final String LORA_RSLORA = "retain.lora.rslora";
  public static final String LORA_CONV = "retain.lora.conv";
  public static final String TRAIN_ENABLED = "retain.train.enabled";
  public static final String TRAIN_BATCH_SIZE = "retain.train.batch.size";
  public static final String TRAIN_REPLAY_RATIO = "retain.train.replay.ratio";
  public static final String TRAIN_LOGIT_REPLAY = "retain.train.logit.replay";
  public static final String TRAIN_LEARNING_RATE = "retain.train.learning.rate";
  public static final String TRAIN_EWC_LAMBDA = "retain.train.ewc.lambda";
  public static final String TRAIN_EWC_GAMMA = "retain.train.ewc.gamma";
  public static final String TRAIN_FISHER_SAMPLES = "retain.train.fisher.samples";
  public static final String TRAIN_CONSOLIDATE_EVERY = "retain.train.consolidate.every";
  public static final String TRAIN_IDLE_REHEARSAL_STEPS = "retain.train.idle.rehearsal.steps";
  public static final String TRAIN_IDLE_MS = "retain.train.idle.ms";
  public static final String TRAIN_SEED = "retain.train.seed";
  public static final String TRAIN_DEVICE = "retain.train.device";
  public static final String TRAIN_THREADS = "retain.train.threads";
  public static final String TRAIN_PREFETCH = "retain.train.prefetch";
  public static final String TRAIN_FRESH_LOSS = "retain.train.fresh.loss";
  public static final String TRAIN_NEW_REGIME_PASSES = "retain.train.new.regime.passes";
  public static final String TRAIN_NEW_REGIME_EXAMPLES = "retain.train.new.regime.examples";
  public static final String DRIFT_DETECTOR = "retain.drift.detector";
  public static final String DRIFT_ADWIN_DELTA = "retain.drift.adwin.delta";
  public static final String DRIFT_PH_DELTA = "retain.drift.page.hinkley.delta";
  public static final String DRIFT_PH_LAMBDA = "retain.drift.page.hinkley.lambda";
  public static final String DRIFT_INPUT_ENABLED = "retain.drift.input.enabled";
  public static final String DRIFT_INPUT_REFERENCE = "retain.drift.input.reference";
  public static final String DRIFT_INPUT_WINDOW = "retain.drift.input.window";
  public static final String DRIFT_INPUT_ALPHA = "retain.drift.input.alpha";
  public static final String DRIFT_INPUT_PROJECTIONS = "retain.drift.input.projections";
  public static final String DRIFT_INPUT_TRAINING = "retain.drift.input.training";
  public static final String DRIFT_MIN_REGIME = "retain.drift.min.regime.examples";
  public static final String DRIFT_RECURRING_EXAMPLES = "retain.drift.recurring.examples";
  public static final String DRIFT_RECURRING_ALPHA = "retain.drift.recurring.alpha";

  static final ConfigDef DEFINITION = define();

  public RetainConfig(Map<?, ?> originals) {
    super(DEFINITION, originals, false);
    rejectUnknownRetainKeys(originals);
    try {
      architecture();
    } catch (IllegalArgumentException e) {
      throw new ConfigException(MODEL_ARCH, getString(MODEL_ARCH), e.getMessage());
    }
  }

  private static ConfigDef define() {
    return new ConfigDef()
        .define(
            BOOTSTRAP_SERVERS,
            Type.STRING,
            "localhost:9092",
            Importance.HIGH,
            "Kafka bootstrap servers. Any other Kafka client setting can be given as"
                + " retain.kafka.CLIENT_KEY, e.g. retain.kafka.security.protocol.")
        .define(
            KAFKA_STARTUP_TIMEOUT_MS,
            Type.LONG,
            300_000L,
            Range.atLeast(0),
            Importance.LOW,
            "At start, how long `retain run` and `retain serve` keep trying to reach the brokers"
                + " (backoff from 1 s to 30 s, a warning per failed attempt) before they exit.")
        .define(
            MODEL_ID,
            Type.STRING,
            "default",
            new NonBlank(),
            Importance.HIGH,
            "Model id: the key of every example record and adapter version of this model.")
        .define(
            TOPIC_PREFIX,
            Type.STRING,
            "retain",
            new NonBlank(),
            Importance.MEDIUM,
            "Prefix of every topic: PREFIX.examples, PREFIX.examples.dlq, PREFIX.adapters and so on.")
        .define(
            RECORD_CODEC,
            Type.STRING,
            "json",
            Choice.in(Choice.Codec.class),
            Importance.HIGH,
            "Codec of the examples topic: json (for people) or binary (compact).")
        .define(
            RECORD_FEATURES,
            Type.INT,
            784,
            Range.between(1, 1 << 20),
            Importance.HIGH,
            "Number of features every example must carry.")
        .define(
            RECORD_CLASSES,
            Type.INT,
            10,
            Range.between(2, 1 << 16),
            Importance.HIGH,
            "Number of classes; labels must lie in [0, classes).")
        .define(
            RECORD_MAX_DOMAINS,
            Type.INT,
            100,
            Range.between(1, 100_000),
            Importance.MEDIUM,
            "Most domains a model keeps (each has a holdout, metric series and a say in the gate)."
                + " A record that would open one more goes to the dead-letter topic (reason"
                + " domain_limit); the domains already known go on.")
        .define(
            RECORD_MAX_ABS_FEATURE,
            Type.DOUBLE,
            1e6,
            Range.between(Double.MIN_NORMAL, Float.MAX_VALUE),
            Importance.MEDIUM,
            "Largest magnitude a feature may have; a record with a larger one goes to the"
                + " dead-letter topic (reason feature_out_of_range): one extreme value can make a"
                + " training step overflow. Scale features to a sensible range first.")
        .define(
            RECORD_MAX_BYTES,
            Type.INT,
            1 << 16,
            Range.atLeast(64),
            Importance.MEDIUM,
            "Largest accepted record value in bytes; larger ones go to the dead-letter topic.")
        .define(
            RECORD_DEFAULT_DOMAIN,
            Type.STRING,
            "default",
            new NonBlank(),
            Importance.LOW,
            "Domain given to examples that carry none.")
        .define(
            INGEST_GROUP_ID,
            Type.STRING,
            "retain-ingest",
            new NonBlank(),
            Importance.MEDIUM,
            "Consumer group of the ingest stage. Positions live in RocksDB; Kafka's copy is"
                + " informational (for lag monitoring).")
        .define(
            INGEST_INSTANCE_ID,
            Type.STRING,
            "",
            Importance.LOW,
            "Static group membership id (group.instance.id) of this instance; when set, a"
                + " restarted instance takes its partitions back at once instead of waiting for"
                + " the session timeout. Empty: dynamic membership.")
        .define(
            INGEST_MAX_POLL_RECORDS,
            Type.INT,
            10_000,
            Range.atLeast(1),
            Importance.LOW,
            "Largest number of records returned by one consumer poll.")
        .define(
            INGEST_POLL_TIMEOUT_MS,
            Type.LONG,
            200L,
            Range.atLeast(1),
            Importance.LOW,
            "How long one consumer poll waits for records.")
        .define(
            INGEST_COMMIT_RECORDS,
            Type.INT,
            10_000,
            Range.atLeast(1),
            Importance.MEDIUM,
            "Group commit: records whose effects and positions go into one atomic store write.")
        .define(
            INGEST_COMMIT_INTERVAL_MS,
            Type.LONG,
            100L,
            Range.atLeast(0),
            Importance.MEDIUM,
            "Group commit: the longest a handled record waits for its store write.")
        .define(
            INGEST_DEDUP_WINDOW,
            Type.INT,
            100_000,
            Range.atLeast(0),
            Importance.MEDIUM,
            "Number of most recent example ids per model remembered to reject duplicates"
                + " (0 disables).")
        .define(
            INGEST_INBOX_CAPACITY,
            Type.INT,
            8192,
            Range.atLeast(1),
            Importance.MEDIUM,
            "Accepted examples waiting for the learner; above it ingest pauses its partitions.")
        .define(
            STORE_DIR,
            Type.STRING,
            "data/retain",
            new NonBlank(),
            Importance.HIGH,
            "Directory of the RocksDB store.")
        .define(
            STORE_SYNC,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "fsync the write-ahead log on every batch (survives power loss, not only a crash).")
        .define(
            REPLAY_CAPACITY,
            Type.INT,
            2000,
            Range.atLeast(1),
            Importance.HIGH,
            "Slots of the balanced replay reservoir per model.")
        .define(
            REPLAY_BALANCE,
            Type.STRING,
            "class",
            Choice.in(Choice.ReplayBalance.class),
            Importance.MEDIUM,
            "How the replay reservoir shares its slots: equally among classes, or equally among"
                + " (domain, class) pairs, so that early domains keep as many slots as recent ones.")
        .define(
            HOLDOUT_EVERY,
            Type.INT,
            10,
            Range.atLeast(2),
            Importance.MEDIUM,
            "Every n-th example of a domain is held out for evaluation and never trained on.")
        .define(
            HOLDOUT_MAX_PER_DOMAIN,
            Type.INT,
            1000,
            Range.atLeast(1),
            Importance.MEDIUM,
            "Largest held-out evaluation set per domain.")
        .define(
            METRICS_PORT,
            Type.INT,
            9404,
            Range.between(0, 65535),
            Importance.LOW,
            "Port of the /metrics endpoint (0 picks a free port).")
        .define(
            METRICS_HOST,
            Type.STRING,
            "0.0.0.0",
            new NonBlank(),
            Importance.LOW,
            "Address the /metrics endpoint binds (all interfaces, so Prometheus can scrape it).")
        .define(
            PUBLISH_GATE_ENABLED,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "Judge each candidate with the promotion gate (true), or publish every candidate that"
                + " changed (false: what a plain training loop serves; the benches' baselines).")
        .define(
            PUBLISH_GATE_Z,
            Type.DOUBLE,
            1.645,
            Range.between(0.0, 10.0),
            Importance.MEDIUM,
            "Promotion gate: standard errors of a domain's holdout accuracy difference that count"
                + " as sampling noise, not loss (1.645: one-sided 95%; 0: every difference counts).")
        .define(
            PUBLISH_MAX_DOMAIN_DROP,
            Type.DOUBLE,
            0.15,
            Range.between(0.0, 1.0),
            Importance.HIGH,
            "Promotion gate: a candidate that loses more than this on any one domain's holdout"
                + " beyond sampling noise is rejected, whatever else it learned.")
        .define(
            PUBLISH_FORGETTING_BUDGET,
            Type.DOUBLE,
            0.03,
            Range.between(0.0, 1.0),
            Importance.HIGH,
            "Promotion gate: the mean loss beyond sampling noise over all domains a candidate may"
                + " pay for what it learned; it must also raise the average accuracy.")
        .define(
            PUBLISH_ON_REJECT,
            Type.STRING,
            "continue",
            Choice.in(Choice.OnReject.class),
            Importance.MEDIUM,
            "After a rejected candidate, keep training from it (continue) or from the champion"
                + " (revert).")
        .define(
            PUBLISH_INLINE_MAX_BYTES,
            Type.INT,
            4 << 20,
            Range.atLeast(1024),
            Importance.LOW,
            "Adapter archives larger than this are stored under retain.publish.blob.dir and the"
                + " record carries a file: pointer instead.")
        .define(
            PUBLISH_BLOB_DIR,
            Type.STRING,
            "",
            Importance.LOW,
            "Where large adapter archives go (shared with serving). Empty: <store dir>/blobs.")
        .define(
            PUBLISH_ROLLBACK_TIMEOUT_MS,
            Type.LONG,
            10_000L,
            Range.atLeast(1000),
            Importance.LOW,
            "A rollback's record is delivered within this or the rollback is refused (503) and"
                + " nothing changes, e.g. while the broker is unreachable.")
        .define(
            ADMIN_TOKEN,
            Type.PASSWORD,
            "",
            Importance.HIGH,
            "Bearer token of the admin endpoints (rollback). Empty: admin endpoints refuse all."
                + " Prefer retain.admin.token.file or RETAIN_ADMIN_TOKEN: a -s value shows in ps.")
        .define(
            ADMIN_TOKEN_FILE,
            Type.STRING,
            "",
            Importance.MEDIUM,
            "File holding the admin token (trimmed); when set, it wins over retain.admin.token.")
        .define(
            ADMIN_HOST,
            Type.STRING,
            "127.0.0.1",
            new NonBlank(),
            Importance.MEDIUM,
            "Address the learner's admin API (rollback, versions) binds: loopback by default.")
        .define(
            ADMIN_PORT,
            Type.INT,
            9405,
            Range.between(0, 65535),
            Importance.LOW,
            "Port of the learner's admin API (0 picks a free port).")
        .define(
            SERVE_HOST,
            Type.STRING,
            "127.0.0.1",
            new NonBlank(),
            Importance.MEDIUM,
            "Address `retain serve` binds.")
        .define(
            SERVE_PORT,
            Type.INT,
            8080,
            Range.between(0, 65535),
            Importance.MEDIUM,
            "Port of `retain serve` (0 picks a free port).")
        .define(
            SERVE_MAX_REQUEST_BYTES,
            Type.INT,
            8 << 20,
            Range.atLeast(1024),
            Importance.LOW,
            "Largest prediction request body; larger ones get 413. The default holds a full batch"
                + " (retain.serve.max.batch) of 784 features written with four decimals.")
        .define(
            SERVE_MAX_BATCH,
            Type.INT,
            1024,
            Range.atLeast(1),
            Importance.LOW,
            "Most instances in one prediction request; more get 400.")
        .define(
            TOPIC_PARTITIONS,
            Type.INT,
            1,
            Range.between(1, 10_000),
            Importance.MEDIUM,
            "Partitions of each topic Retain creates (existing topics are left as they are)."
                + " Records are keyed by model id, so one model's records share a partition; more"
                + " partitions let more consumers share many models' traffic.")
        .define(
            TOPIC_REPLICATION,
            Type.SHORT,
            (short) 1,
            Range.between(1, 32),
            Importance.MEDIUM,
            "Replication factor of each topic Retain creates: 1 for one broker, 3 in production"
                + " (a broker may fail without losing examples, adapters or bases).")
        .define(
            SERVE_MODELS,
            Type.LIST,
            "*",
            Importance.MEDIUM,
            "Models retain serve answers for: * (every model on the adapters topic, each with its"
                + " own champion, hot swap and rollback) or a comma-separated list of model ids.")
        .define(
            FLEET_ENABLED,
            Type.BOOLEAN,
            false,
            Importance.HIGH,
            "true: retain run learns every model whose records lie in the partitions the consumer"
                + " group gives it, and keeps each partition's state in a store mirrored to the"
                + " compacted <prefix>.changelog topic, so that state moves with its partition"
                + " when instances start, stop or fail (README, Running a fleet).")
        .define(
            FLEET_MODELS,
            Type.LIST,
            "*",
            Importance.MEDIUM,
            "With retain.fleet.enabled, the models learned: * (a model starts, from this"
                + " configuration, on its first record) or a comma-separated list of model ids"
                + " (records of other models are skipped and counted).")
        .define(
            FLEET_TRAIN_SLOTS,
            Type.INT,
            1,
            Range.atLeast(1),
            Importance.MEDIUM,
            "With retain.fleet.enabled, how many models take a training step at the same time;"
                + " models with work wait their turn first come, first served, so a busy model"
                + " never starves the others.")
        .define(
            FLEET_MODEL_IDLE_MS,
            Type.LONG,
            600_000L,
            Range.atLeast(0),
            Importance.MEDIUM,
            "With retain.fleet.enabled, a model that got no record for this long and whose learner"
                + " has trained and consolidated everything is closed (learner, publisher, meters"
                + " and memory); its store stays, and its next record opens it again. 0: never.")
        .define(
            FLEET_STANDBY_REPLICAS,
            Type.INT,
            0,
            Range.between(0, 3),
            Importance.MEDIUM,
            "With retain.fleet.enabled, how many other instances keep a warm copy of each"
                + " partition's store, following its changelog, so that a partition that moves"
                + " after a failure resumes without restoring its whole history (as Kafka"
                + " Streams' num.standby.replicas; each copy costs the partition's disk and"
                + " changelog reads).")
        .define(
            SERVE_VERSIONS_KEPT,
            Type.INT,
            4,
            Range.between(1, 64),
            Importance.LOW,
            "Latest versions of each model kept in memory, so that a request may name one"
                + " (/v1/models/{model}/versions/{version}/predict, for shadow or canary"
                + " comparison).")
        .define(
            SERVE_THREADS,
            Type.INT,
            4,
            Range.atLeast(1),
            Importance.LOW,
            "Threads of `retain serve` that answer complete requests (a forward pass each);"
                + " connections are read and written without them.")
        .define(
            HTTP_QUEUE,
            Type.INT,
            256,
            Range.atLeast(1),
            Importance.LOW,
            "Complete requests that may wait for a thread on each HTTP listener; more get 503.")
        .define(
            HTTP_MAX_CONNECTIONS,
            Type.INT,
            4096,
            Range.atLeast(1),
            Importance.LOW,
            "Open connections each HTTP listener accepts; further ones wait in the accept queue."
                + " Idle connections cost a socket, not a thread.")
        .define(
            HTTP_IDLE_TIMEOUT_MS,
            Type.LONG,
            30_000L,
            Range.atLeast(100),
            Importance.LOW,
            "An HTTP connection that sends or takes nothing for this long is closed.")
        .define(
            HTTP_REQUEST_TIMEOUT_MS,
            Type.LONG,
            10_000L,
            Range.atLeast(100),
            Importance.LOW,
            "A request's body must arrive within this (else 408), and a thread must take it"
                + " within this (else 503), so slow clients cannot hold others up.")
        .define(
            SERVE_PREDICTIONS,
            Type.BOOLEAN,
            false,
            Importance.LOW,
            "Write each prediction (id, version, class, score, features) to the predictions"
                + " topic, and join it with labels on the feedback topic into online accuracy per"
                + " adapter version (Kafka Streams).")
        .define(
            FEEDBACK_WINDOW_MS,
            Type.LONG,
            3_600_000L,
            Range.atLeast(1L),
            Importance.LOW,
            "How long after a prediction its label may arrive on the feedback topic.")
        .define(
            FEEDBACK_EXAMPLES,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "With retain.serve.predictions.enabled: turn each label on the feedback topic into a"
                + " labeled example on the examples topic (the served prediction's features, the"
                + " label; headers retain.prediction.ts and retain.serving.version), exactly once"
                + " through Kafka Streams. A label later than retain.feedback.window.ms, or for an"
                + " id with no prediction, goes to the dead-letter topic with its reason.")
        .define(
            MODEL_ARCH,
            Type.STRING,
            "mlp",
            Choice.in(Choice.Arch.class),
            Importance.MEDIUM,
            "Base architecture: mlp (Linear layers over the feature vector) or cnn (3x3"
                + " convolutions, each with ReLU and 2x2 max pooling, over a square one-channel"
                + " image of the features, e.g. 784 = 28x28; then the hidden Linear layers).")
        .define(
            MODEL_CONV_CHANNELS,
            Type.LIST,
            "16,32",
            new PositiveInts(),
            Importance.LOW,
            "Output channels of each convolution of the cnn base.")
        .define(
            MODEL_HIDDEN,
            Type.LIST,
            "256,256",
            new PositiveInts(),
            Importance.MEDIUM,
            "Hidden Linear layer sizes of the base; inputs and outputs follow the record's"
                + " features (or the convolutions) and classes.")
        .define(
            MODEL_BASE_PATH,
            Type.STRING,
            "",
            Importance.HIGH,
            "A base written by `retain pretrain` (safetensors); {model} in it stands for the model"
                + " id, so that a fleet's models may each have their own. Empty: pretrain the base"
                + " at first start on the first examples, then keep it in the store.")
        .define(
            MODEL_PRETRAIN_EXAMPLES,
            Type.INT,
            6000,
            Range.atLeast(1),
            Importance.MEDIUM,
            "Examples used to pretrain the base at first start (when no base path is set). The"
                + " learner waits for this many trainable examples before it trains at all"
                + " (retain_train_pretrain_awaited counts down): more gives the base better"
                + " features and the served model higher accuracy on every drift kind the"
                + " benchmarks try, at the cost of a later start.")
        .define(
            MODEL_PRETRAIN_EPOCHS,
            Type.INT,
            10,
            Range.atLeast(1),
            Importance.LOW,
            "Passes over the pretraining examples.")
        .define(
            LORA_RANK,
            Type.INT,
            16,
            Range.between(1, 1024),
            Importance.MEDIUM,
            "LoRA rank r of the adapter on every Linear layer.")
        .define(
            LORA_ALPHA,
            Type.DOUBLE,
            16.0,
            Range.atLeast(0.0),
            Importance.MEDIUM,
            "LoRA alpha; the adapter's output is scaled by alpha/r.")
        .define(
            LORA_RSLORA,
            Type.BOOLEAN,
            false,
            Importance.LOW,
            "Scale by alpha/sqrt(r) (rsLoRA) instead of alpha/r.")
        .define(
            LORA_CONV,
            Type.BOOLEAN,
            false,
            Importance.LOW,
            "Also adapt the cnn base's convolutions (PEFT's Conv2d LoRA: a 3x3 convolution to r"
                + " channels, then a 1x1 one back); otherwise only the Linear layers.")
        .define(
            TRAIN_ENABLED,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "Run the learner in `retain run`; false runs ingest only.")
        .define(
            TRAIN_BATCH_SIZE,
            Type.INT,
            64,
            Range.between(1, 65536),
            Importance.MEDIUM,
            "New examples per training step.")
        .define(
            TRAIN_REPLAY_RATIO,
            Type.DOUBLE,
            1.0,
            Range.between(0.0, 16.0),
            Importance.MEDIUM,
            "Replayed examples per new example in each step (0: no replay).")
        .define(
            TRAIN_LOGIT_REPLAY,
            Type.DOUBLE,
            0.5,
            Range.between(0.0, 100.0),
            Importance.MEDIUM,
            "Weight of logit replay (as in DER++): replayed examples' logits are pulled towards"
                + " the logits the model gave them at the consolidation after they arrived, by"
                + " this times their mean squared difference (0: labels only).")
        .define(
            TRAIN_NEW_REGIME_PASSES,
            Type.INT,
            3,
            Range.between(1, 16),
            Importance.LOW,
            "Steps on each batch of new examples while a domain or regime is new (see"
                + " retain.train.new.regime.examples), each with its own replay sample: a new"
                + " regime is learned in fewer of its examples. 1: one step per batch throughout.")
        .define(
            TRAIN_NEW_REGIME_EXAMPLES,
            Type.LONG,
            3000L,
            Range.atLeast(0),
            Importance.LOW,
            "Examples for which a domain or regime the learner has not learned before counts as"
                + " new.")
        .define(
            TRAIN_LEARNING_RATE,
            Type.DOUBLE,
            1e-3,
            Range.between(0.0, 1.0),
            Importance.MEDIUM,
            "Adam learning rate of the adapter.")
        .define(
            TRAIN_EWC_LAMBDA,
            Type.DOUBLE,
            0.0,
            Range.atLeast(0.0),
            Importance.MEDIUM,
            "EWC strength lambda (0: no EWC penalty). Off by default: on Permuted Fashion-MNIST"
                + " with replay, lambda 1 cost 0.3 points and 10 or more stopped new domains from"
                + " being learned (see README, bench continual).")
        .define(
            TRAIN_EWC_GAMMA,
            Type.DOUBLE,
            0.9,
            Range.between(0.0, 1.0),
            Importance.LOW,
            "Decay of the old Fisher in the online merge F = gamma F + F_new.")
        .define(
            TRAIN_FISHER_SAMPLES,
            Type.INT,
            1000,
            Range.atLeast(1),
            Importance.LOW,
            "Recent examples whose per-sample gradients estimate the Fisher at a consolidation.")
        .define(
            TRAIN_CONSOLIDATE_EVERY,
            Type.LONG,
            10_000L,
            Range.atLeast(0L),
            Importance.MEDIUM,
            "Consolidate (Fisher, evaluation, candidate adapter) every this many new examples, as"
                + " well as at each domain boundary and when the stream goes idle (0: only then).")
        .define(
            TRAIN_IDLE_REHEARSAL_STEPS,
            Type.INT,
            1000,
            Range.atLeast(0),
            Importance.LOW,
            "Replay-only steps (from the class-balanced reservoir) the learner takes when the"
                + " stream goes quiet for retain.train.idle.ms, before it consolidates: they"
                + " rebalance the output layer after a burst of new classes or a new domain. 0: off.")
        .define(
            TRAIN_IDLE_MS,
            Type.LONG,
            500L,
            Range.atLeast(1L),
            Importance.LOW,
            "How long without new examples counts as idle.")
        .define(
            TRAIN_SEED,
            Type.LONG,
            42L,
            Importance.LOW,
            "Seed of the engine and of replay sampling, for reproducible runs.")
        .define(
            TRAIN_DEVICE,
            Type.STRING,
            "auto",
            Choice.in(Choice.Device.class),
            Importance.MEDIUM,
            "Where training runs: auto picks a GPU when the engine finds one.")
        .define(
            TRAIN_THREADS,
            Type.INT,
            1,
            Range.atLeast(0),
            Importance.LOW,
            "Intra-op threads of the engine (0: its default, one per core). One by default: the"
                + " default MLP's products are too small to gain from a second thread, which"
                + " costs more than it brings, and ingest needs a core (see README, bench"
                + " continual).")
        .define(
            TRAIN_PREFETCH,
            Type.BOOLEAN,
            true,
            Importance.LOW,
            "Compute the next batch's frozen first layer (MLP) on a helper thread while a step"
                + " trains: the step's largest product moves to a second core (about a third of"
                + " one in bench continual). It changes nothing but speed, not even a rounding."
                + " Off: the learner uses one core (see README, bench continual).")
        .define(
            TRAIN_FRESH_LOSS,
            Type.STRING,
            "ace",
            Choice.in(Choice.FreshLoss.class),
            Importance.MEDIUM,
            "Cross-entropy of the new examples in a step: ace (ER-ACE: a softmax over the classes"
                + " present among them, so new classes do not push old ones down; replayed"
                + " examples keep the full softmax) or full (every class).")
        .define(
            DRIFT_DETECTOR,
            Type.STRING,
            "adwin",
            Choice.in(Choice.DriftDetector.class),
            Importance.MEDIUM,
            "Watches the learner's prequential error (each new example predicted before it is"
                + " learned) for a drift: adwin (ADaptive WINdowing, Bifet and Gavalda 2007),"
                + " page-hinkley (Page 1954) or none. A detection is logged and counted as"
                + " retain_drift_detections_total{source=<detector>}; the records' domain field"
                + " still decides the learner's domains and holdouts.")
        .define(
            DRIFT_ADWIN_DELTA,
            Type.DOUBLE,
            0.002,
            Range.between(1e-9, 0.5),
            Importance.LOW,
            "ADWIN's confidence: the probability of a false alarm at a check is at most this."
                + " Smaller: fewer false alarms, later detections.")
        .define(
            DRIFT_PH_DELTA,
            Type.DOUBLE,
            0.05,
            Range.atLeast(0.0),
            Importance.LOW,
            "Page-Hinkley's delta: the rise of the error rate it tolerates (0.05: five points).")
        .define(
            DRIFT_PH_LAMBDA,
            Type.DOUBLE,
            50.0,
            Range.atLeast(1e-9),
            Importance.LOW,
            "Page-Hinkley's threshold on the cumulative deviation: larger, fewer false alarms and"
                + " later detections.")
        .define(
            DRIFT_INPUT_ENABLED,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "In retain serve: watch the unlabeled inputs for a drift, through each prediction's"
                + " confidence and the input's random projections (two-sample Kolmogorov-Smirnov"
                + " tests between a reference window and the latest inputs); each detection is"
                + " logged, counted (retain_drift_detections_total{source=input-ks}) and published"
                + " to PREFIX.drift, before any label arrives.")
        .define(
            DRIFT_INPUT_REFERENCE,
            Type.INT,
            1000,
            Range.atLeast(10),
            Importance.LOW,
            "Predictions in the reference window: the first ones of a served version, or after a"
                + " detection.")
        .define(
            DRIFT_INPUT_WINDOW,
            Type.INT,
            500,
            Range.atLeast(10),
            Importance.LOW,
            "The latest predictions compared with the reference, every tenth of this many.")
        .define(
            DRIFT_INPUT_ALPHA,
            Type.DOUBLE,
            1e-4,
            Range.between(1e-12, 0.5),
            Importance.LOW,
            "Significance of one check: a stationary stream raises a false alarm with probability"
                + " at most this per check (one check per 50 inputs by default; the tests of one"
                + " check share it).")
        .define(
            DRIFT_INPUT_PROJECTIONS,
            Type.INT,
            4,
            Range.between(0, 64),
            Importance.LOW,
            "Random projections of each input that the input tests watch (besides serving's"
                + " confidence): fixed Gaussian directions, so any shift of the input distribution"
                + " moves them; 0 watches the confidence only.")
        .define(
            DRIFT_INPUT_TRAINING,
            Type.BOOLEAN,
            true,
            Importance.MEDIUM,
            "In the learner: watch the incoming examples' inputs too (their projections, no label"
                + " needed). On records without a domain, an input drift opens a regime as an"
                + " error drift does; it finds a change that leaves the error flat, such as the"
                + " return of a regime the model still knows.")
        .define(
            DRIFT_MIN_REGIME,
            Type.INT,
            1000,
            Range.atLeast(0),
            Importance.LOW,
            "Examples a regime lasts at least: a detection sooner after the last one is counted"
                + " but opens no regime (the slower detector of one drift, say). A producer's"
                + " domain that returns after another consolidates only if this many examples"
                + " were trained since the last consolidation (a new domain always does).")
        .define(
            DRIFT_RECURRING_EXAMPLES,
            Type.INT,
            300,
            Range.atLeast(0),
            Importance.LOW,
            "Examples of a new regime compared with each earlier regime's holdout (input"
                + " projections, Kolmogorov-Smirnov): when one matches, the regime is that one"
                + " come back and takes its name again. 0: every drift opens a new regime.")
        .define(
            DRIFT_RECURRING_ALPHA,
            Type.DOUBLE,
            0.01,
            Range.between(1e-12, 0.5),
            Importance.LOW,
            "A new regime is an earlier one come back when the test that they differ has a"
                + " p-value of at least this (the best-matching earlier regime wins).");
  }

  /** Comma-separated positive integers. */
  static final class PositiveInts implements ConfigDef.Validator {
    @Override
    public void ensureValid(String name, Object value) {
      for (Object item : (List<?>) value) {
        try {
          if (Integer.parseInt(item.toString().trim()) < 1) {
            throw new ConfigException(name, value, "sizes must be >= 1");
          }
        } catch (NumberFormatException e) {
          throw new ConfigException(name, value, "not an integer: " + item);
        }
      }
    }

    @Override
    public String toString() {
      return "comma-separated positive integers";
    }
  }

  /** Layer sizes of the base: features, hidden layers, classes. */
  /** The base's architecture: the MLP of {@link #layerSizes()}, or the configured CNN. */
  /** The admin token: from {@code retain.admin.token.file} when set, else the configured value. */
  public String adminToken() {
    String file = getString(ADMIN_TOKEN_FILE);
    if (file.isBlank()) {
      return getPassword(ADMIN_TOKEN).value();
    }
    try {
      return java.nio.file.Files.readString(java.nio.file.Path.of(file)).trim();
    } catch (java.io.IOException e) {
      throw new ConfigException(ADMIN_TOKEN_FILE, file, "cannot read it: " + e.getMessage());
    }
  }

  /** The constant of {@code type} that setting {@code key} names (see {@link Choice}). */
  public <E extends Enum<E>> E choice(String key, Class<E> type) {
    return Choice.parse(type, getString(key));
  }

  /** The side of the square image the features are (for a cnn base). */
  private int imageSide() {
    int features = getInt(RECORD_FEATURES);
    int side = (int) Math.round(Math.sqrt(features));
    if (side * side != features) {
      String setting = RECORD_FEATURES + "=" + features;
      throw new IllegalArgumentException(
          "cnn needs a square image: " + setting + " is not a square number");
    }
    return side;
  }

  public Architecture architecture() {
    if (choice(MODEL_ARCH, Choice.Arch.class) == Choice.Arch.MLP) {
      return Architecture.mlp(layerSizes());
    }
    int side = imageSide();
    int[] sizes = layerSizes();
    return Architecture.cnn(
        side,
        ints(getList(MODEL_CONV_CHANNELS)),
        java.util.Arrays.copyOfRange(sizes, 1, sizes.length - 1),
        getInt(RECORD_CLASSES));
  }

  private static int[] ints(List<String> values) {
    return values.stream().mapToInt(v -> Integer.parseInt(v.trim())).toArray();
  }

  public int[] layerSizes() {
    List<String> hidden = getList(MODEL_HIDDEN);
    int[] sizes = new int[hidden.size() + 2];
    sizes[0] = getInt(RECORD_FEATURES);
    for (int i = 0; i < hidden.size(); i++) {
      sizes[i + 1] = Integer.parseInt(hidden.get(i).trim());
    }
    sizes[sizes.length - 1] = getInt(RECORD_CLASSES);
    return sizes;
  }

  private static void rejectUnknownRetainKeys(Map<?, ?> originals) {
    List<String> unknown = new ArrayList<>();
    for (Object key : originals.keySet()) {
      String name = String.valueOf(key);
      if (name.startsWith("retain.")
          && !name.startsWith(KAFKA_PREFIX)
          && !DEFINITION.names().contains(name)) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new ConfigException("Unknown configuration key(s): " + unknown);
    }
  }

  /** Kafka client settings: every {@value #KAFKA_PREFIX} key without its prefix. */
  public Map<String, Object> kafkaClientProperties() {
    Map<String, Object> props = originalsWithPrefix(KAFKA_PREFIX);
    props.put("bootstrap.servers", getString(BOOTSTRAP_SERVERS));
    return props;
  }

  public String topic(String suffix) {
    return getString(TOPIC_PREFIX) + "." + suffix;
  }

  /** True when retain serve answers for {@code model} (retain.serve.models: * or a list). */
  public boolean serves(String model) {
    List<String> models = getList(SERVE_MODELS);
    return models.contains("*") || models.contains(model);
  }

  /** True when a fleet node learns {@code model} (retain.fleet.models: * or a list). */
  public boolean learns(String model) {
    List<String> models = getList(FLEET_MODELS);
    return models.contains("*") || models.contains(model);
  }

  /** This configuration with {@code retain.model.id} set to {@code model}. */
  public RetainConfig forModel(String model) {
    Map<Object, Object> copy = new java.util.HashMap<>(originals());
    copy.put(MODEL_ID, model);
    return new RetainConfig(copy);
  }

  /** The base file of {@code model}: retain.model.base.path with {model} replaced; may be blank. */
  public String basePath(String model) {
    return getString(MODEL_BASE_PATH).replace("{model}", model);
  }

  /** The topic that mirrors each partition's store in a fleet. */
  public String changelogTopic() {
    return topic("changelog");
  }

  public String examplesTopic() {
    return topic("examples");
  }

  public String adaptersTopic() {
    return topic("adapters");
  }

  public String basesTopic() {
    return topic("bases");
  }

  public String predictionsTopic() {
    return topic("predictions");
  }

  public String driftTopic() {
    return topic("drift");
  }

  public String deadLetterTopic() {
    return topic("examples.dlq");
  }

  /** The configuration table of the README: key, type, default, meaning. */
  /** The default as the table shows it; none for a password. */
  private static String shown(ConfigDef.ConfigKey key) {
    return key.hasDefault() && key.type != Type.PASSWORD
        ? ConfigDef.convertToString(key.defaultValue, key.type)
        : "";
  }

  public static String markdownTable() {
    StringBuilder out =
        new StringBuilder("| key | type | default | meaning |\n| --- | --- | --- | --- |\n");
    for (ConfigDef.ConfigKey key : DEFINITION.configKeys().values()) {
      String type = key.type.name().toLowerCase(Locale.ROOT);
      out.append(
          String.format(
              "| `%s` | %s | `%s` | %s |\n", key.name, type, shown(key), key.documentation));
    }
    return out.toString();
  }

  /** Rejects empty or blank strings. */
  static final class NonBlank implements ConfigDef.Validator {
    @Override
    public void ensureValid(String name, Object value) {
      if (value == null || value.toString().isBlank()) {
        throw new ConfigException(name, value, "must not be blank");
      }
    }

    @Override
    public String toString() {
      return "non-blank string";
    }
  }
}
