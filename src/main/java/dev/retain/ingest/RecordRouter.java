package dev.retain.ingest;

import dev.retain.config.Choice;
import dev.retain.config.RetainConfig;
import dev.retain.record.Example;
import dev.retain.record.ExampleCodec;
import dev.retain.record.ExampleValidator;
import dev.retain.record.InvalidExampleException;
import dev.retain.record.RejectReason;
import dev.retain.store.HoldoutSets;
import dev.retain.store.ModelState;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;

/**
 * Routes each polled record into a group commit, to its model's {@link Lanes.Lane}: a record of a
 * model not learned here is skipped; a bad one becomes a dead letter with its reason; a good one
 * goes to the holdout or, trainable, to the replay reservoir and the learner (its effects in the
 * commit's store batch). Records being caught up on ({@link CatchUp}) go to the learner only. On
 * the absorb thread.
 */
final class RecordRouter {
  private final Lanes lanes;
  private final CatchUp catchUp;
  private final ExampleCodec codec;
  private final ExampleValidator validator;
  private final String dlqTopic;
  private final int maxBytes;
  private final int maxDomains;

  RecordRouter(RetainConfig config, Lanes lanes, CatchUp catchUp) {
    this.lanes = lanes;
    this.catchUp = catchUp;
    this.codec = ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    this.validator =
        new ExampleValidator(
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getInt(RetainConfig.RECORD_CLASSES),
            config.getDouble(RetainConfig.RECORD_MAX_ABS_FEATURE).floatValue());
    this.dlqTopic = config.deadLetterTopic();
    this.maxBytes = config.getInt(RetainConfig.RECORD_MAX_BYTES);
    this.maxDomains = config.getInt(RetainConfig.RECORD_MAX_DOMAINS);
  }

  /** Routes a poll's records into {@code pending} and moves its positions past them. */
  void route(ConsumerRecords<byte[], ByteBuffer> records, PendingCommit pending) {
    int firstOfPoll = pending.trainable.size();
    long polledBytes = 0;
    long keptBytes = 0;
    for (TopicPartition tp : records.partitions()) {
      List<ConsumerRecord<byte[], ByteBuffer>> part = records.records(tp);
      Long until = catchUp.until(tp);
      for (ConsumerRecord<byte[], ByteBuffer> record : part) {
        long size = Math.max(0, record.serializedValueSize());
        polledBytes += size;
        boolean again = until != null && record.offset() < until;
        pending.records += again ? 0 : 1; // a record counts once, when it is stored
        keptBytes += (again ? catchUp(record, pending) : route(record, pending)) ? size : 0;
      }
      long next = part.get(part.size() - 1).offset() + 1;
      if (until == null || next > until) {
        pending.position(tp, next); // a stored position never moves back
      }
      catchUp.reached(tp, next);
    }
    if (keptBytes * 2 < polledBytes) {
      // a binary example's features are a view of the fetch buffer: a few examples among many
      // skipped or rejected records (a topic shared by several models, say) must not keep whole
      // buffers alive while they wait for the learner, so they copy their features out
      pending.trainable.subList(firstOfPoll, pending.trainable.size()).forEach(Example::features);
    }
  }

  /**
   * A record stored before but not trained on: to its model's learner when it is a trainable
   * example (valid, not held out, not a second copy of an id) that the learner has not trained on,
   * with no store effect.
   */
  private boolean catchUp(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    Lanes.Lane lane = laneOrNull(record);
    if (lane == null || catchUp.trained(lane.model(), partition(record), record.offset())) {
      return false;
    }
    Example example = decodedOrNull(record, lane.state());
    if (example == null // dead-lettered when it was first read
        || heldOut(lane.state(), example)
        || !catchUp.firstTime(lane.model() + '\u0000' + example.id())) {
      return false;
    }
    example.features(); // its own array: it is not in any stored batch
    pending.trainable(lane, example, partition(record), record.offset());
    return true;
  }

  private Lanes.Lane laneOrNull(ConsumerRecord<byte[], ByteBuffer> record) {
    try {
      return lanes.of(record.key());
    } catch (InvalidExampleException e) {
      return null;
    }
  }

  /**
   * True when {@code example} is in a holdout: under its domain, or, for a record without one,
   * under any regime (it was named after the regime current when it was first read).
   */
  private static boolean heldOut(ModelState state, Example example) {
    if (!state.regimes().isRegime(example.domain())) {
      return state.holdout().holds(example.domain(), example.id());
    }
    return state.holdout().domains().stream()
        .filter(state.regimes()::isRegime)
        .anyMatch(d -> state.holdout().holds(d, example.id()));
  }

  private Example decodedOrNull(ConsumerRecord<byte[], ByteBuffer> record, ModelState state) {
    try {
      return decode(record, state);
    } catch (InvalidExampleException e) {
      return null;
    }
  }

  /** An accepted record: its model's lane and its example. */
  private record Accepted(Lanes.Lane lane, Example example) {}

  /** Routes one record; true when it became a trainable example that the learner will get. */
  private boolean route(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    Accepted accepted = accept(record, pending);
    if (accepted == null) {
      return false;
    }
    long position = HoldoutSets.position(record.partition(), record.offset());
    Lanes.Lane lane = accepted.lane();
    Example trainable = lane.state().route(accepted.example(), position, pending.batch);
    if (trainable == null) {
      pending.heldOut(lane); // stored, so its features are an array already (see Example)
      return false;
    }
    pending.trainable(lane, trainable, partition(record), record.offset());
    return true;
  }

  /** The record's lane and example, or null when it is skipped or rejected. */
  private Accepted accept(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    try {
      Lanes.Lane lane = lanes.of(record.key());
      if (lane == null) {
        return null; // another model's, counted as skipped
      }
      Example example = decode(record, lane.state());
      admit(lane.state(), example);
      return new Accepted(lane, example);
    } catch (InvalidExampleException e) {
      rejected(record, e, pending);
      return null;
    }
  }

  private void rejected(
      ConsumerRecord<byte[], ByteBuffer> record, InvalidExampleException e, PendingCommit pending) {
    Lanes.Lane lane = e.reason() == RejectReason.BAD_MODEL_ID ? null : laneOrNull(record);
    lanes.rejected(lane, e.reason());
    pending.rejects.add(DeadLetter.of(dlqTopic, record, e));
  }

  private static TopicPartition partition(ConsumerRecord<?, ?> record) {
    return new TopicPartition(record.topic(), record.partition());
  }

  /** Refuses an example of one domain too many, or whose id was seen before. */
  private void admit(ModelState state, Example example) throws InvalidExampleException {
    if (!state.holdout().admits(example.domain(), maxDomains)) {
      throw new InvalidExampleException(
          RejectReason.DOMAIN_LIMIT,
          "domain "
              + example.domain()
              + " would be one more than "
              + RetainConfig.RECORD_MAX_DOMAINS
              + "="
              + maxDomains);
    }
    if (!state.dedup().add(example.id())) {
      throw new InvalidExampleException(RejectReason.DUPLICATE_ID, "duplicate id " + example.id());
    }
  }

  private Example decode(ConsumerRecord<byte[], ByteBuffer> record, ModelState state)
      throws InvalidExampleException {
    ByteBuffer value = record.value();
    if (value == null) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "null value");
    }
    if (value.remaining() > maxBytes) {
      throw new InvalidExampleException(
          RejectReason.OVERSIZED, value.remaining() + " bytes > limit " + maxBytes);
    }
    Example example = codec.decode(value, state.regimes().current());
    validator.validate(example);
    return example;
  }
}
