package dev.retain.publish;

/** The running code's version: the jar's Implementation-Version, or "dev" from a build tree. */
final class CodeVersion {
  private CodeVersion() {}

  static String get() {
    String version = CodeVersion.class.getPackage().getImplementationVersion();
    return version == null ? "dev" : version;
  }
}
