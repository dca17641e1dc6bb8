package dev.retain.record;

import dev.retain.config.Choice;
import java.nio.ByteBuffer;

/** Turns examples into record values and back. Implementations are thread-safe. */
public interface ExampleCodec {
  default byte[] encode(Example example) {
    return encode(example, true);
  }

  /**
   * The record of {@code example}; without {@code withDomain}, the record carries no domain (ingest
   * then names it after the current regime).
   */
  byte[] encode(Example example, boolean withDomain);

  /**
   * Decodes one record value: the buffer's remaining bytes, which may be a view into a larger
   * buffer (a Kafka fetch). The buffer's position is left as it was.
   *
   * @param defaultDomain domain given to an example that carries none
   * @throws InvalidExampleException with {@link RejectReason#UNPARSABLE} when the bytes are not an
   *     example
   */
  Example decode(ByteBuffer value, String defaultDomain) throws InvalidExampleException;

  /** Decodes a whole array; see {@link #decode(ByteBuffer, String)}. */
  default Example decode(byte[] value, String defaultDomain) throws InvalidExampleException {
    return decode(ByteBuffer.wrap(value), defaultDomain);
  }

  /** The codec for a configured name: {@code json} or {@code binary}. */
  static ExampleCodec named(String name) {
    return of(Choice.parse(Choice.Codec.class, name));
  }

  /** The codec of {@code retain.record.codec}. */
  static ExampleCodec of(Choice.Codec codec) {
    return switch (codec) {
      case JSON -> new JsonExampleCodec();
      case BINARY -> new BinaryExampleCodec();
    };
  }
}
