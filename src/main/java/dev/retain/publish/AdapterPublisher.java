package dev.retain.publish;

import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterVersion;
import dev.retain.adapter.VersionIds;
import dev.retain.cluster.KafkaClients;
import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.model.SafeTensors;
import dev.retain.store.RetainStore;
import dev.retain.train.Candidate;
import dev.retain.train.CandidateHandler;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publishing stage: judges each candidate with the {@link PromotionGate} against the champion
 * (both evaluated on the same holdouts), records a promoted one as champion in the registry, then
 * publishes it as a PEFT archive on the adapters topic ({@link AdapterTopic}). A crash in between
 * leaves a champion that {@link #claim()} publishes again, with the same id: ids come from the
 * training position and the store, and a recorded id is never published twice. Also publishes the
 * frozen base on the bases topic, which serving reads. Thread-safe: the learner offers candidates
 * while the admin endpoint may roll back.
 */
public final class AdapterPublisher implements CandidateHandler, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterPublisher.class);
  private final Registry registry;
  private final PromotionGate gate;
  private final boolean gated;
  private final PublishMetrics metrics;
  private final AdapterArchive.LoraSpec lora;
  private final String model;
  private final boolean revertOnReject;
  private final long seed;
  private final String storeId;
  private final AdapterTopic out;
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
    this.storeId = store.identity();
    this.out = new AdapterTopic(config, producer, transactional, storeId);
    this.registry = new Registry(store, model);
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
    this.revertOnReject =
        config.choice(RetainConfig.PUBLISH_ON_REJECT, Choice.OnReject.class)
            == Choice.OnReject.REVERT;
    this.seed = config.getLong(RetainConfig.TRAIN_SEED);
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
    ensureClaimed();
    out.base(hash, safetensors);
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
    Optional<PromotionGate.Reason> rejection = rejection(candidate, champion);
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
    promote(candidate, champion, id, positions);
    return null;
  }

  /**
   * Why {@code candidate} may not be published, or empty. A non-finite adapter never is, gate or
   * not; the first candidate has no champion to protect, but must beat a trivial baseline.
   */
  private Optional<PromotionGate.Reason> rejection(Candidate candidate, AdapterVersion champion) {
    if (SafeTensors.firstNonFinite(candidate.adapter()) != null) {
      return Optional.of(PromotionGate.Reason.NON_FINITE);
    }
    if (champion != null && champion.steps() == candidate.steps()) {
      return Optional.of(PromotionGate.Reason.UNCHANGED);
    }
    if (!gated) {
      return Optional.empty();
    }
    return champion == null
        ? gate.judgeFirst(candidate.evaluation(), candidate.baseline())
        : gate.judge(
            new PromotionGate.Evidence(
                candidate.evaluation(), candidate.championEvaluation(), candidate.holdoutSizes()));
  }

  /**
   * Records the version with its archive, then publishes it: a crash in between leaves a champion
   * that the next start publishes again (republishChampion), never a published version the registry
   * lacks.
   */
  private AdapterVersion version(
      Candidate candidate, AdapterVersion champion, String id, Map<String, Long> positions) {
    return new AdapterVersion(
        id,
        model,
        champion == null ? "" : champion.id(),
        candidate.baseHash(),
        candidate.evaluation(),
        positions,
        candidate.steps(),
        System.currentTimeMillis());
  }

  private void promote(
      Candidate candidate, AdapterVersion champion, String id, Map<String, Long> positions) {
    AdapterVersion version = version(candidate, champion, id, positions);
    byte[] zip =
        AdapterArchive.of(version, lora, candidate.adapter(), provenance(candidate, champion))
            .toZip();
    ensureClaimed(); // before recording: a learner that may not publish records nothing either
    registry.promote(version, zip);
    out.version(version, zip);
    championTensors = candidate.adapter();
    metrics.promoted(version);
    LOG.info("promoted {} (average {})", id, String.format("%.3f", version.averageAccuracy()));
  }

  private Map<String, String> provenance(Candidate candidate, AdapterVersion parent) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("seed", Long.toString(seed));
    out.put("learned_domain", candidate.learnedDomain() == null ? "" : candidate.learnedDomain());
    out.put("trigger", candidate.trigger().tag());
    out.put("learned_from", learnedFrom(candidate, parent));
    out.put("code_version", CodeVersion.get());
    out.put("store_id", storeId);
    return out;
  }

  /** "topic-partition:[from,to)" per partition: the offsets learned since the parent. */
  private static String learnedFrom(Candidate candidate, AdapterVersion parent) {
    java.util.StringJoiner out = new java.util.StringJoiner(",");
    candidate
        .positions()
        .forEach(
            (tp, to) -> {
              long from = parent == null ? 0 : parent.positions().getOrDefault(tp.toString(), 0L);
              out.add(tp + ":[" + from + "," + to + ")");
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
      ensureClaimed();
      out.version(champion, registry.archive(champion.id()));
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
    ensureClaimed();
    republishChampion();
  }

  /** Claims the model at the first publication if {@link #claim()} did not run before. */
  private void ensureClaimed() {
    if (!out.claimed()) {
      AdapterVersion champion = registry.champion();
      out.claim(champion == null ? -1 : champion.steps());
    }
    out.checkNotFenced();
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
    byte[] zip = registry.archive(id);
    out.rollback(version, zip);
    registry.setChampion(id);
    championTensors = AdapterArchive.fromZip(zip).tensors();
    metrics.rolledBack(version);
    LOG.info("rolled back to {}", id);
    return version;
  }

  /** Closes the producer, which this publisher owns. */
  @Override
  public void close() {
    out.close();
  }
}
