package dev.retain.record;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;

/**
 * JSON form of an {@link Example}: {@code {"id": "...", "features": [...], "label": 7, "domain":
 * "...", "ts": 1732300000000}}. Uses Jackson's streaming API so no tree is built per record.
 */
public final class JsonExampleCodec implements ExampleCodec {
  private static final Map<String, Float> SPECIAL =
      Map.of(
          "NaN",
          Float.NaN,
          "Infinity",
          Float.POSITIVE_INFINITY,
          "-Infinity",
          Float.NEGATIVE_INFINITY);

  // fast (Schubfach / FastDoubleParser) number writing and parsing: features are most of the text
  // bare NaN and Infinity are read as numbers, so that they are rejected as non_finite_feature
  // rather than as unparsable; a field given twice is unparsable
  private static final JsonFactory FACTORY =
      JsonFactory.builder()
          .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
          .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
          .build();

  private static void write(JsonGenerator gen, Example example, boolean withDomain)
      throws IOException {
    gen.writeStartObject();
    gen.writeStringField("id", example.id());
    gen.writeFieldName("features");
    writeFloats(gen, example.features());
    gen.writeNumberField("label", example.label());
    if (withDomain) {
      gen.writeStringField("domain", example.domain());
    }
    gen.writeNumberField("ts", example.ts());
    gen.writeEndObject();
  }

  private static void writeFloats(JsonGenerator gen, float[] values) throws IOException {
    gen.writeStartArray();
    for (float f : values) {
      gen.writeNumber(f); // a float's shortest form, not the longer one of its double widening
    }
    gen.writeEndArray();
  }

  @Override
  public byte[] encode(Example example, boolean withDomain) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(64 + example.features().length * 10);
    try (JsonGenerator gen = FACTORY.createGenerator(out)) {
      write(gen, example, withDomain);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** A parser over the buffer's remaining bytes, without a copy when it has an array. */
  private static JsonParser parser(ByteBuffer value) throws IOException {
    if (value.hasArray()) {
      int offset = value.arrayOffset() + value.position();
      return FACTORY.createParser(value.array(), offset, value.remaining());
    }
    byte[] array = new byte[value.remaining()];
    value.duplicate().get(array);
    return FACTORY.createParser(array, 0, array.length);
  }

  @Override
  public Example decode(ByteBuffer value, String defaultDomain) throws InvalidExampleException {
    try (JsonParser parser = parser(value)) {
      return read(parser, defaultDomain);
    } catch (IOException | RuntimeException e) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "invalid JSON: " + e.getMessage());
    }
  }

  private static Example read(JsonParser parser, String defaultDomain)
      throws IOException, InvalidExampleException {
    if (parser.nextToken() != JsonToken.START_OBJECT) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "expected a JSON object");
    }
    String id = null;
    String domain = defaultDomain;
    float[] features = null;
    Integer label = null;
    long ts = 0;
    JsonToken next;
    while ((next = parser.nextToken()) == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      JsonToken token = parser.nextToken();
      switch (field) {
        case "id" -> id = string(parser, token, "id");
        case "features" -> features = readFeatures(parser, token);
        case "label" -> label = readLabel(parser, token);
        case "domain" -> {
          if (token != JsonToken.VALUE_NULL) {
            domain = string(parser, token, "domain");
          }
        }
        case "ts" -> ts = readTimestamp(parser, token);
        default -> parser.skipChildren();
      }
    }
    if (next != JsonToken.END_OBJECT) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "unterminated JSON object");
    }
    if (parser.nextToken() != null) {
      throw new InvalidExampleException(
          RejectReason.UNPARSABLE, "trailing data after the JSON object");
    }
    if (id == null || features == null || label == null) {
      throw new InvalidExampleException(
          RejectReason.UNPARSABLE, "missing field: id, features and label are required");
    }
    return new Example(id, features, label, domain, ts);
  }

  private static String string(JsonParser parser, JsonToken token, String field)
      throws IOException, InvalidExampleException {
    if (token != JsonToken.VALUE_STRING) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, field + " must be a string");
    }
    return parser.getText();
  }

  private static long readTimestamp(JsonParser parser, JsonToken token)
      throws IOException, InvalidExampleException {
    if (token == JsonToken.VALUE_NULL) {
      return 0;
    }
    if (token != JsonToken.VALUE_NUMBER_INT) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "ts must be an integer");
    }
    return parser.getLongValue();
  }

  private static int readLabel(JsonParser parser, JsonToken token)
      throws IOException, InvalidExampleException {
    if (token != JsonToken.VALUE_NUMBER_INT) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "label must be an integer");
    }
    return parser.getIntValue();
  }

  private static float[] readFeatures(JsonParser parser, JsonToken token)
      throws IOException, InvalidExampleException {
    if (token != JsonToken.START_ARRAY) {
      throw new InvalidExampleException(RejectReason.UNPARSABLE, "features must be an array");
    }
    float[] values = new float[1024];
    int n = 0;
    for (JsonToken t = parser.nextToken(); t != JsonToken.END_ARRAY; t = parser.nextToken()) {
      if (n == values.length) {
        values = Arrays.copyOf(values, n * 2);
      }
      values[n++] = number(parser, t);
    }
    return Arrays.copyOf(values, n);
  }

  /** Numbers, plus the strings "NaN", "Infinity" and "-Infinity" so they can be rejected later. */
  private static float number(JsonParser parser, JsonToken t)
      throws IOException, InvalidExampleException {
    if (t == JsonToken.VALUE_NUMBER_FLOAT || t == JsonToken.VALUE_NUMBER_INT) {
      return parser.getFloatValue();
    }
    Float special = t == JsonToken.VALUE_STRING ? SPECIAL.get(parser.getText()) : null;
    if (special != null) {
      return special;
    }
    throw new InvalidExampleException(RejectReason.UNPARSABLE, "features must be numbers");
  }
}
