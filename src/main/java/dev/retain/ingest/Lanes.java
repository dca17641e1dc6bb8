package dev.retain.ingest;

import dev.retain.config.RetainConfig;
import dev.retain.metrics.ModelMeters;
import dev.retain.record.InvalidExampleException;
import dev.retain.record.RejectReason;
import dev.retain.store.ModelState;
import dev.retain.store.RetainStore;
import dev.retain.store.StoreBatch;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The models ingest writes for, each a {@link Lane}: one model for {@code retain run} (records
 * keyed for another model are skipped), or, in a fleet, every model whose records arrive, each
 * opened from the store on its first record. Lanes are opened on the absorb thread and read from
 * any.
 */
public final class Lanes {
  private static final Pattern MODEL_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  private final RetainConfig config;
  private final MeterRegistry registry;
  private final Function<String, Lane> opener; // null: only the one lane
  private final Map<String, Lane> lanes = new ConcurrentHashMap<>();
  private final String defaultModel;
  private final byte[] defaultKey;
  private final Counter skipped; // fleet: records of models not learned here
  private final Counter badKeys; // fleet: records whose key names no model
  private final Map<String, Long> lastRecord = new ConcurrentHashMap<>(); // fleet: nanoTime
  private final long idleNanos; // fleet: a model idle this long may be closed; 0: never
  private volatile Evictor evictor = Evictor.NEVER;
  private long lastSweep = System.nanoTime();

  /** Decides whether an idle model's lane may close, and closes what hangs on it. */
  public interface Evictor {
    Evictor NEVER =
        new Evictor() {
          @Override
          public boolean evictable(String model) {
            return false;
          }

          @Override
          public void evicted(String model) {}
        };

    /** True when nothing of {@code model} is in flight outside ingest (its learner is idle). */
    boolean evictable(String model);

    /** Called once the lane is gone: close the learner, drop the meters. */
    void evicted(String model);
  }

  /** One model's state, meters and the sink of its learner. */
  record Lane(ModelState state, IngestMetrics metrics, ExampleSink sink) {
    String model() {
      return state.model();
    }
  }

  private Lanes(RetainConfig config, MeterRegistry registry, Function<String, Lane> opener) {
    this.config = config;
    this.registry = registry;
    this.opener = opener;
    this.defaultModel = config.getString(RetainConfig.MODEL_ID);
    this.defaultKey = defaultModel.getBytes(StandardCharsets.UTF_8);
    this.idleNanos = config.getLong(RetainConfig.FLEET_MODEL_IDLE_MS) * 1_000_000L;
    ModelMeters fleet = opener == null ? null : new ModelMeters(registry, "*");
    this.skipped =
        fleet == null
            ? null
            : fleet.counter(
                "retain.examples.skipped", "Records keyed for another model, left alone");
    this.badKeys =
        fleet == null
            ? null
            : fleet.counter(
                "retain.examples.rejected",
                "Records sent to the dead-letter topic",
                "reason",
                RejectReason.BAD_MODEL_ID.tag());
  }

  /** The one model {@code state} of {@code retain run}, whose learner reads {@code sink}. */
  public static Lanes single(
      RetainConfig config, ModelState state, ExampleSink sink, MeterRegistry registry) {
    Lanes lanes = new Lanes(config, registry, null);
    lanes.lanes.put(state.model(), lanes.lane(state, sink));
    return lanes;
  }

  /**
   * A fleet partition's lanes over {@code store}: a model's lane opens, with its state loaded from
   * the store, on its first record; {@code learner} then gives the sink its examples go to.
   */
  public static Lanes perModel(
      RetainConfig config,
      RetainStore store,
      MeterRegistry registry,
      Function<ModelState, ExampleSink> learner) {
    Lanes[] self = new Lanes[1];
    self[0] =
        new Lanes(
            config,
            registry,
            model -> {
              ModelState state = ModelState.load(store, config.forModel(model));
              return self[0].lane(state, learner.apply(state));
            });
    return self[0];
  }

  private Lane lane(ModelState state, ExampleSink sink) {
    return new Lane(
        state,
        new IngestMetrics(registry, state, config.getInt(RetainConfig.RECORD_CLASSES)),
        sink);
  }

  /**
   * The lane of a record with {@code key} (no key: {@code retain.model.id}), or null when the
   * record belongs to a model not learned here (counted as skipped).
   *
   * @throws InvalidExampleException in a fleet, for a key that cannot name a model
   */
  Lane of(byte[] key) throws InvalidExampleException {
    if (opener == null) {
      return only(key);
    }
    String model = key == null ? defaultModel : modelId(key);
    lastRecord.put(model, System.nanoTime());
    Lane lane = lanes.get(model);
    if (lane == null && !config.learns(model)) {
      lastRecord.remove(model);
      skipped.increment();
      return null;
    }
    return lane != null ? lane : lanes.computeIfAbsent(model, opener);
  }

  /** The one lane of {@code retain run} for its model's key; another key is skipped. */
  private Lane only(byte[] key) {
    Lane only = lanes.get(defaultModel);
    if (key == null || Arrays.equals(key, defaultKey)) {
      return only;
    }
    only.metrics().skipped();
    return null;
  }

  private static String modelId(byte[] key) throws InvalidExampleException {
    String model = utf8(key);
    if (!MODEL_ID.matcher(model).matches()) {
      throw new InvalidExampleException(
          RejectReason.BAD_MODEL_ID, "key is not a model id ([A-Za-z0-9._-]{1,128})");
    }
    return model;
  }

  private static String utf8(byte[] key) throws InvalidExampleException {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(key))
          .toString();
    } catch (CharacterCodingException e) {
      throw new InvalidExampleException(RejectReason.BAD_MODEL_ID, "key is not UTF-8");
    }
  }

  /** Counts a dead letter: under its model, or, when it has none, under model "*". */
  void rejected(Lane lane, RejectReason reason) {
    if (lane != null) {
      lane.metrics().rejected(reason);
    } else if (badKeys != null) {
      badKeys.increment();
    }
  }

  /** Times each atomic store write: under the one model, or in a fleet under model "*". */
  io.micrometer.core.instrument.Timer commitTimer() {
    return opener == null
        ? lanes.values().iterator().next().metrics().commitDuration
        : new ModelMeters(registry, "*")
            .timer(
                "retain.ingest.commit.duration",
                "Time of one atomic store write, dead letters flushed first");
  }

  /** Sets what decides about, and closes what hangs on, an idle model's lane. */
  public void evictor(Evictor evictor) {
    this.evictor = evictor;
  }

  /**
   * In a fleet, at most once a second, closes the lanes of models that got no record for {@code
   * retain.fleet.model.idle.ms}, have nothing {@code busy} in ingest and whose evictor agrees:
   * their state is all in the store, and their next record opens them again from it. On the absorb
   * thread.
   */
  void evictIdle(java.util.function.Predicate<Lane> busy) {
    long now = System.nanoTime();
    if (opener == null || idleNanos <= 0 || now - lastSweep < 1_000_000_000L) {
      return;
    }
    lastSweep = now;
    for (Lane lane : List.copyOf(lanes.values())) {
      String model = lane.model();
      if (now - lastRecord.getOrDefault(model, now) > idleNanos
          && !busy.test(lane)
          && !lane.state().changed()
          && evictor.evictable(model)) {
        lanes.remove(model);
        lastRecord.remove(model);
        evictor.evicted(model);
      }
    }
  }

  /** True for a fleet's lanes, which open a model on its first record. */
  boolean isFleet() {
    return opener != null;
  }

  /** Every open lane. */
  Collection<Lane> all() {
    return lanes.values();
  }

  /** The models open here. */
  public List<String> models() {
    return List.copyOf(lanes.keySet());
  }

  /** True while some model's learner lags; ingest then pauses. */
  boolean saturated() {
    for (Lane lane : lanes.values()) {
      if (lane.sink().saturated()) {
        return true;
      }
    }
    return false;
  }

  /** True when some model's holdouts or regimes changed since the last flush. */
  boolean changed() {
    for (Lane lane : lanes.values()) {
      if (lane.state().changed()) {
        return true;
      }
    }
    return false;
  }

  /** Adds every model's changed counters to {@code batch}; once per batch. */
  void flush(StoreBatch batch) {
    lanes.values().forEach(lane -> lane.state().flush(batch));
  }
}
