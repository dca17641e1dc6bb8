package dev.retain.train;

/** What caused a consolidation; its tag is the {@code trigger} label and provenance field. */
public enum Trigger {
  /** The stream moved on to another domain. */
  DOMAIN("domain"),
  /** {@code retain.train.consolidate.every} new examples since the last one. */
  EVERY("every"),
  /** The stream went idle for {@code retain.train.idle.ms}. */
  IDLE("idle"),
  /** The drift detector raised an alarm on a stream without domains: a regime closed. */
  DRIFT("drift");

  private final String tag;

  Trigger(String tag) {
    this.tag = tag;
  }

  public String tag() {
    return tag;
  }
}
