package dev.retain.store;

/**
 * The values other packages keep in the store, each whole under one key: which column family holds
 * it and how its key is made (a prefix, then the parts: model id, version id). Every key layout of
 * the store is spelled in this package.
 */
public enum Blob {
  /** The learner's checkpoint (safetensors): per model. */
  CHECKPOINT(Family.META, "checkpoint"),
  /** The learner's EWC state (safetensors): per model; its key is the model id alone. */
  EWC_STATE(Family.FISHER, null),
  /** The frozen base (safetensors): per model. */
  BASE(Family.META, "base"),
  /** A promoted adapter version (JSON): per model and version id. */
  VERSION(Family.ADAPTERS, "version"),
  /** A promoted adapter's archive: per model and version id. */
  ARCHIVE(Family.ADAPTERS, "archive"),
  /** The champion's version id: per model. */
  CHAMPION(Family.ADAPTERS, "champion");

  private final Family family;
  private final String prefix;

  Blob(Family family, String prefix) {
    this.family = family;
    this.prefix = prefix;
  }

  Family family() {
    return family;
  }

  /** The prefix of every key of this blob; only for a blob whose keys have one. */
  byte[] prefix() {
    if (prefix == null) {
      throw new IllegalStateException(this + " keys have no prefix");
    }
    return Keys.of(prefix).bytes();
  }

  /** The key of the value whose parts are {@code parts}, or the prefix of all with those first. */
  byte[] key(String... parts) {
    Keys key = prefix == null ? Keys.of(parts[0]) : Keys.of(prefix).str(parts[0]);
    for (int i = 1; i < parts.length; i++) {
      key.str(parts[i]);
    }
    return key.bytes();
  }
}
