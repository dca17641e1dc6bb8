package dev.retain.publish;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterRecord;
import dev.retain.adapter.AdapterVersion;
import dev.retain.adapter.VersionIds;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.RetainConfig;
import dev.retain.model.SafeTensors;
import dev.retain.store.RetainStore;
import dev.retain.train.Candidate;
import dev.retain.train.CandidateHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publishing stage: judges each candidate with the {@link PromotionGate} against the champion
 * (both evaluated on the same holdouts), and publishes a promoted one as a PEFT archive on the
 * adapters topic (key = model id; headers {@code version}, {@code parent}, {@code base-hash},
 * {@code evaluation}) before recording it as champion in the registry. A crash in between can only
 * publish the same id again: ids come from the training position, and a recorded id is never
 * published twice. Also publishes the frozen base on the bases topic (key = its hash), which
 * serving reads. Thread-safe: the learner offers candidates while the admin endpoint may roll back.
 */
public final class AdapterPublisher implements CandidateHandler, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterPublisher.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Registry registry;
  private final Producer<byte[], byte[]> producer;
  private final PromotionGate gate;
  private final boolean gated;
  private final PublishMetrics metrics;
  private final AdapterArchive.LoraSpec lora;
  private final String model;
  private final String topic;
  private final String basesTopic;
  private final boolean revertOnReject;
  private final int inlineMaxBytes;
  private final Path blobDir;
  private final long seed;
  private final java.util.function.Supplier<Producer<byte[], byte[]>> rollbackProducer;
  private final String storeId;
  private final String publisherId;
  private final boolean transactional; // the producer has a transactional id: fencing applies
  private boolean claimed; // initTransactions done: any older publisher of this model is fenced
  private String fenced; // why this publisher may no longer publish, or null
  private Map<String, SafeTensors.Tensor> championTensors;

  /** A publisher over a plain producer (no fencing): benches and tools. */
  public AdapterPublisher(
      RetainConfig config,
      RetainStore store,
      Producer<byte[], byte[]> producer,
      io.micrometer.core.instrument.MeterRegistry meters) {
    this(config, store, producer, false, meters);
  }

  /**
   * The learner's publisher: a transactional producer whose id names the model ({@link
   * KafkaClients#publisherId}), so that when another learner starts publishing the model this one
   * is fenced and stops, loudly, rather than overwrite its history.
   */
  public static AdapterPublisher fenced(
      RetainConfig config, RetainStore store, io.micrometer.core.instrument.MeterRegistry meters) {
    return new AdapterPublisher(
        config, store, KafkaClients.transactionalProducer(config), true, meters);
  }

  private AdapterPublisher(
      RetainConfig config,
      RetainStore store,
      Producer<byte[], byte[]> producer,
      boolean transactional,
      io.micrometer.core.instrument.MeterRegistry meters) {
    this.model = config.getString(RetainConfig.MODEL_ID);
    this.transactional = transactional;
    this.storeId = store.identity();
    this.publisherId = KafkaClients.publisherId(config);
    this.registry = new Registry(store, model);
    this.producer = producer;
    this.gated = config.getBoolean(RetainConfig.PUBLISH_GATE_ENABLED);
    this.gate =
        new PromotionGate(
            config.getDouble(RetainConfig.PUBLISH_GATE_Z),
            config.getDouble(RetainConfig.PUBLISH_MAX_DOMAIN_DROP),
            config.getDouble(RetainConfig.PUBLISH_FORGETTING_BUDGET));
    this.lora =
        new AdapterArchive.LoraSpec(
            config.getInt(RetainConfig.LORA_RANK),
            config.getDouble(RetainConfig.LORA_ALPHA),
            config.getBoolean(RetainConfig.LORA_RSLORA));
    this.topic = config.adaptersTopic();
    this.basesTopic = config.basesTopic();
    this.revertOnReject = "revert".equals(config.getString(RetainConfig.PUBLISH_ON_REJECT));
    this.inlineMaxBytes = config.getInt(RetainConfig.PUBLISH_INLINE_MAX_BYTES);
    String dir = config.getString(RetainConfig.PUBLISH_BLOB_DIR);
    this.blobDir =
        dir.isBlank() ? Path.of(config.getString(RetainConfig.STORE_DIR), "blobs") : Path.of(dir);
    this.seed = config.getLong(RetainConfig.TRAIN_SEED);
    long rollbackTimeout = config.getLong(RetainConfig.PUBLISH_ROLLBACK_TIMEOUT_MS);
    this.rollbackProducer = () -> KafkaClients.boundedProducer(config, rollbackTimeout);
    this.metrics = new PublishMetrics(meters, model, registry);
  }

  public Registry registry() {
    return registry;
  }

  @Override
  public synchronized Map<String, SafeTensors.Tensor> champion() {
    if (championTensors == null) {
      AdapterVersion champion = registry.champion();
      if (champion != null) {
        championTensors = AdapterArchive.fromZip(registry.archive(champion.id())).tensors();
      }
    }
    return championTensors;
  }

  @Override
  public synchronized void base(String hash, byte[] safetensors) {
    send(
        new ProducerRecord<>(
            basesTopic,
            null,
            hash.getBytes(StandardCharsets.UTF_8),
            safetensors,
            new RecordHeaders()));
  }

  @Override
  public synchronized Map<String, SafeTensors.Tensor> offer(Candidate candidate) {
    Map<String, Long> positions = new LinkedHashMap<>();
    candidate.positions().forEach((tp, offset) -> positions.put(tp.toString(), offset));
    String id = VersionIds.of(model, positions, candidate.steps(), candidate.baseHash(), storeId);
    if (registry.version(id) != null) {
      return null; // published and recorded before a restart: nothing new
    }
    AdapterVersion champion = registry.champion();
    // the first candidate has no champion to protect, but must beat a trivial baseline
    String nonFinite = SafeTensors.firstNonFinite(candidate.adapter());
    Optional<PromotionGate.Reason> rejection =
        nonFinite != null
            ? Optional.of(PromotionGate.Reason.NON_FINITE) // never published, gate or not
            : champion != null && champion.steps() == candidate.steps()
                ? Optional.of(PromotionGate.Reason.UNCHANGED)
                : !gated
                    ? Optional.empty()
                    : champion == null
                        ? gate.judgeFirst(candidate.evaluation(), candidate.baseline())
                        : gate.judge(
                            new PromotionGate.Evidence(
                                candidate.evaluation(),
                                candidate.championEvaluation(),
                                candidate.holdoutSizes()));
    if (rejection.isPresent()) {
      metrics.rejected(rejection.get());
      LOG.info(
          "rejected candidate {} ({}): {} vs champion {}",
          id,
          rejection.get().tag(),
          candidate.evaluation(),
          candidate.championEvaluation());
      return revertOnReject && champion != null ? champion() : null;
    }
    AdapterVersion version =
        new AdapterVersion(
            id,
            model,
            champion == null ? "" : champion.id(),
            candidate.baseHash(),
            candidate.evaluation(),
            positions,
            candidate.steps(),
            System.currentTimeMillis());
    AdapterArchive archive =
        AdapterArchive.of(version, lora, candidate.adapter(), provenance(candidate, champion));
    byte[] zip = archive.toZip();
    // recorded first, published after: a crash in between leaves a champion that the next start
    // publishes again (republishChampion), never a published version the registry lacks
    registry.promote(version, zip);
    publish(version, zip, false);
    championTensors = candidate.adapter();
    metrics.promoted(version);
    LOG.info("promoted {} (average {})", id, String.format("%.3f", version.averageAccuracy()));
    return null;
  }

  private Map<String, String> provenance(Candidate candidate, AdapterVersion parent) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("seed", Long.toString(seed));
    out.put("learned_domain", candidate.learnedDomain() == null ? "" : candidate.learnedDomain());
    out.put("trigger", candidate.trigger());
    out.put("learned_from", learnedFrom(candidate, parent));
    out.put("code_version", CodeVersion.get());
    out.put("store_id", storeId);
    return out;
  }

  /** "topic-partition:[from,to)" per partition: the offsets learned since the parent. */
  private static String learnedFrom(Candidate candidate, AdapterVersion parent) {
    StringBuilder out = new StringBuilder();
    candidate
        .positions()
        .forEach(
            (tp, to) -> {
              long from = parent == null ? 0 : parent.positions().getOrDefault(tp.toString(), 0L);
              out.append(out.length() == 0 ? "" : ",")
                  .append(tp)
                  .append(":[")
                  .append(from)
                  .append(",")
                  .append(to)
                  .append(")");
            });
    return out.toString();
  }

  /**
   * Publishes the champion again, as it is (same id, same archive): called at start, so that a
   * version recorded just before a crash reaches the topic, and serving, after all. Publishing a
   * version twice changes nothing for serving. Returns the champion, or null when there is none.
   */
  public synchronized AdapterVersion republishChampion() {
    AdapterVersion champion = registry.champion();
    if (champion != null) {
      publish(champion, registry.archive(champion.id()), false);
      LOG.info("published the champion {} again", champion.id());
    }
    return champion;
  }

  /**
   * Takes over publishing this model: with a transactional producer, fences every other publisher
   * of it (an earlier instance of this learner, or a second learner), then publishes the champion
   * again. Called when the learner is given the model's partitions.
   */
  public synchronized void claim() {
    if (transactional && !claimed && fenced == null) {
      producer.initTransactions();
      claimed = true;
      LOG.info("publishing model {} (transactional id {})", model, publisherId);
    }
    republishChampion();
  }

  /**
   * Makes an earlier version champion again and publishes it, so serving follows. The record is
   * delivered or has failed within {@code retain.publish.rollback.timeout.ms}; only a delivered
   * rollback changes the champion.
   *
   * @throws IllegalArgumentException for an unknown version
   * @throws IllegalStateException when the record could not be delivered in time (nothing changed)
   */
  public synchronized AdapterVersion rollback(String id) {
    AdapterVersion version = registry.version(id);
    if (version == null) {
      throw new IllegalArgumentException("unknown version " + id + " of model " + model);
    }
    if (fenced != null) {
      throw new PublisherFencedException(fenced);
    }
    byte[] zip = registry.archive(id);
    try (Producer<byte[], byte[]> bounded = rollbackProducer.get()) {
      publish(bounded, version, zip, true);
    }
    registry.setChampion(id);
    championTensors = AdapterArchive.fromZip(zip).tensors();
    metrics.rolledBack(version);
    LOG.info("rolled back to {}", id);
    return version;
  }

  private void publish(AdapterVersion version, byte[] zip, boolean rollback) {
    publish(producer, version, zip, rollback);
  }

  /** Publishes through {@code via}: this publisher's own (fenced) producer or a rollback's. */
  private void publish(
      Producer<byte[], byte[]> via, AdapterVersion version, byte[] zip, boolean rollback) {
    boolean pointer = zip.length > inlineMaxBytes;
    byte[] value = pointer ? utf8(pointer(version.id(), zip)) : zip;
    ProducerRecord<byte[], byte[]> record =
        new ProducerRecord<>(
            topic,
            null,
            utf8(model),
            value,
            AdapterRecord.headers(version, storeId, rollback, pointer));
    if (via == producer) {
      send(record);
    } else {
      send(via, record);
    }
  }

  /** Writes an archive too large to inline next to the store; returns its URI. */
  private String pointer(String id, byte[] zip) {
    try {
      Files.createDirectories(blobDir);
      Path file = blobDir.resolve(id + ".zip");
      Files.write(file, zip);
      return file.toUri().toString();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store adapter archive " + id, e);
    }
  }

  private void send(ProducerRecord<byte[], byte[]> record) {
    if (fenced != null) {
      throw new PublisherFencedException(fenced);
    }
    if (!transactional) {
      send(producer, record);
      return;
    }
    if (!claimed) {
      producer.initTransactions();
      claimed = true;
    }
    try {
      producer.beginTransaction();
      producer.send(record);
      producer.commitTransaction(); // flushes: the record is written and visible, or not at all
    } catch (org.apache.kafka.common.errors.ProducerFencedException
        | org.apache.kafka.common.errors.InvalidProducerEpochException e) {
      fenced =
          "another learner publishes model "
              + model
              + " now (its producer fenced this one): this learner stops publishing";
      LOG.error("{}", fenced, e);
      throw new PublisherFencedException(fenced);
    } catch (org.apache.kafka.common.KafkaException e) {
      try {
        producer.abortTransaction();
      } catch (org.apache.kafka.common.KafkaException abort) {
        e.addSuppressed(abort);
      }
      throw new IllegalStateException(
          "publishing to " + record.topic() + " failed: " + e.getMessage(), e);
    }
  }

  private static void send(
      Producer<byte[], byte[]> producer, ProducerRecord<byte[], byte[]> record) {
    try {
      producer.send(record).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while publishing", e);
    } catch (ExecutionException | org.apache.kafka.common.KafkaException e) {
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      throw new IllegalStateException(
          "publishing to " + record.topic() + " failed: " + cause, cause);
    }
  }

  /** Closes the producer, which this publisher owns. */
  @Override
  public void close() {
    producer.close();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
