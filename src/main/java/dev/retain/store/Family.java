package dev.retain.store;

import java.nio.charset.StandardCharsets;

/** The column families of the store, one per kind of state. */
enum Family {
  /** Class-balanced replay reservoir: model, class, slot to binary example. */
  REPLAY("replay"),
  /** Held-out evaluation sets: model, domain, sequence to binary example. */
  HOLDOUT("holdout"),
  /** Consumer positions: group, topic, partition to next offset. */
  OFFSETS("offsets"),
  /** Diagonal Fisher information and EWC anchor weights. */
  FISHER("fisher"),
  /** Adapter version registry: champion, history. */
  ADAPTERS("adapters"),
  /** Counters and small bookkeeping values. */
  META("meta"),
  /** Recent example ids per model, in arrival order, for duplicate rejection. */
  DEDUP("dedup");

  private final String cfName;

  Family(String cfName) {
    this.cfName = cfName;
  }

  byte[] columnFamilyName() {
    return cfName.getBytes(StandardCharsets.UTF_8);
  }
}
