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
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;

/**
 * Routes each polled record into a group commit: another model's record is skipped; a bad one
 * becomes a dead letter with its reason; a good one goes to the holdout or, trainable, to the
 * replay reservoir and the learner (its effects in the commit's store batch). Records being caught
 * up on ({@link CatchUp}) go to the learner only. On the absorb thread.
 */
final class RecordRouter {
  private final ModelState state;
  private final CatchUp catchUp;
  private final IngestMetrics metrics;
  private final ExampleCodec codec;
  private final ExampleValidator validator;
  private final String dlqTopic;
  private final int maxBytes;
  private final int maxDomains;
  private final byte[] modelKey;

  RecordRouter(RetainConfig config, ModelState state, CatchUp catchUp, IngestMetrics metrics) {
    this.state = state;
    this.catchUp = catchUp;
    this.metrics = metrics;
    this.codec = ExampleCodec.of(config.choice(RetainConfig.RECORD_CODEC, Choice.Codec.class));
    this.validator =
        new ExampleValidator(
            config.getInt(RetainConfig.RECORD_FEATURES),
            config.getInt(RetainConfig.RECORD_CLASSES),
            config.getDouble(RetainConfig.RECORD_MAX_ABS_FEATURE).floatValue());
    this.dlqTopic = config.deadLetterTopic();
    this.maxBytes = config.getInt(RetainConfig.RECORD_MAX_BYTES);
    this.maxDomains = config.getInt(RetainConfig.RECORD_MAX_DOMAINS);
    this.modelKey = state.model().getBytes(StandardCharsets.UTF_8);
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
   * A record stored before but not trained on: to the learner when it is a trainable example of
   * this model (valid, not held out, not a second copy of an id), with no store effect.
   */
  private boolean catchUp(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    Example example = ofThisModel(record) ? decodedOrNull(record) : null;
    if (example == null // dead-lettered when it was first read
        || heldOut(example)
        || !catchUp.firstTime(example.id())) {
      return false;
    }
    example.features(); // its own array: it is not in any stored batch
    pending.trainable(example, partition(record), record.offset());
    return true;
  }

  /**
   * True when {@code example} is in a holdout: under its domain, or, for a record without one,
   * under any regime (it was named after the regime current when it was first read).
   */
  private boolean heldOut(Example example) {
    if (!state.regimes().isRegime(example.domain())) {
      return state.holdout().holds(example.domain(), example.id());
    }
    return state.holdout().domains().stream()
        .filter(state.regimes()::isRegime)
        .anyMatch(d -> state.holdout().holds(d, example.id()));
  }

  private Example decodedOrNull(ConsumerRecord<byte[], ByteBuffer> record) {
    try {
      return decode(record);
    } catch (InvalidExampleException e) {
      return null;
    }
  }

  /** Routes one record; true when it became a trainable example that the learner will get. */
  private boolean route(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    Example example = accept(record, pending);
    if (example == null) {
      return false;
    }
    long position = HoldoutSets.position(record.partition(), record.offset());
    Example trainable = state.route(example, position, pending.batch);
    if (trainable == null) {
      pending.heldOut++; // stored, so its features are an array already (see Example)
      return false;
    }
    pending.trainable(trainable, partition(record), record.offset());
    return true;
  }

  private static TopicPartition partition(ConsumerRecord<?, ?> record) {
    return new TopicPartition(record.topic(), record.partition());
  }

  private boolean ofThisModel(ConsumerRecord<byte[], ByteBuffer> record) {
    return record.key() == null || Arrays.equals(modelKey, record.key());
  }

  /** The example of {@code record}, or null when it is skipped or rejected. */
  private Example accept(ConsumerRecord<byte[], ByteBuffer> record, PendingCommit pending) {
    if (!ofThisModel(record)) {
      metrics.skipped();
      return null;
    }
    try {
      Example example = decode(record);
      admit(example);
      return example;
    } catch (InvalidExampleException e) {
      metrics.rejected(e.reason());
      pending.rejects.add(DeadLetter.of(dlqTopic, record, e));
      return null;
    }
  }

  /** Refuses an example of one domain too many, or whose id was seen before. */
  private void admit(Example example) throws InvalidExampleException {
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

  private Example decode(ConsumerRecord<byte[], ByteBuffer> record) throws InvalidExampleException {
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
