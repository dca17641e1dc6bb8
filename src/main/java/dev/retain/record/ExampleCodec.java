package dev.retain.record;

/** Turns examples into record values and back. Implementations are thread-safe. */
public interface ExampleCodec {
  byte[] encode(Example example);

  /**
   * Decodes one record value.
   *
   * @param defaultDomain domain given to an example that carries none
   * @throws InvalidExampleException with {@link RejectReason#UNPARSABLE} when the bytes are not an
   *     example
   */
  Example decode(byte[] value, String defaultDomain) throws InvalidExampleException;

  /** The codec for a configured name: {@code json} or {@code binary}. */
  static ExampleCodec named(String name) {
    return switch (name) {
      case "json" -> new JsonExampleCodec();
      case "binary" -> new BinaryExampleCodec();
      default -> throw new IllegalArgumentException("Unknown codec '" + name + "'");
    };
  }
}
