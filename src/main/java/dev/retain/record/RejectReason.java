package dev.retain.record;

import java.util.Locale;

/** Why a record went to the dead-letter topic. The tag value is {@link #tag()}. */
public enum RejectReason {
  UNPARSABLE,
  WRONG_FEATURE_COUNT,
  NON_FINITE_FEATURE,
  /** A feature larger in magnitude than {@code retain.record.max.abs.feature}. */
  FEATURE_OUT_OF_RANGE,
  LABEL_OUT_OF_RANGE,
  /** A new domain for a model that already has {@code retain.record.max.domains}. */
  DOMAIN_LIMIT,
  OVERSIZED,
  DUPLICATE_ID,
  /**
   * In a fleet, a record key that cannot name a model: empty, over 128 bytes, not UTF-8, or with a
   * character other than letters, digits, '.', '_' and '-'.
   */
  BAD_MODEL_ID;

  /** Lower-case name used in headers and metric tags, e.g. {@code wrong_feature_count}. */
  public String tag() {
    return name().toLowerCase(Locale.ROOT);
  }
}
