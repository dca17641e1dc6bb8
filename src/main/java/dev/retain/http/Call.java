package dev.retain.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** One request and its response, as a route sees it. A route answers exactly once. */
public interface Call {
  /** Shared by the JSON answers of every route. */
  ObjectMapper JSON = new ObjectMapper();

  String method();

  /** The request path, without query. */
  String path();

  /** The first value of a request header, or null. */
  String header(String name);

  /**
   * The whole request body. The listener has read it before the route runs, within its request
   * timeout and size limit.
   */
  byte[] body();

  /** Sends the whole response. */
  void respond(int status, String contentType, byte[] body);

  default void respond(int status, String contentType, String body) {
    respond(status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  /** A JSON answer. */
  default void json(int status, Object body) {
    try {
      respond(status, "application/json", JSON.writeValueAsBytes(body));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a JSON answer", e);
    }
  }

  /** A JSON error: {@code {"error": message}}. */
  default void error(int status, String message) {
    json(status, Map.of("error", message));
  }

  /** True when the request's media type (before any parameters) is {@code type}, or absent. */
  default boolean contentTypeIs(String type) {
    String given = header("Content-Type");
    if (given == null) {
      return true;
    }
    int semicolon = given.indexOf(';');
    String media = (semicolon < 0 ? given : given.substring(0, semicolon)).trim();
    return media.equalsIgnoreCase(type);
  }
}
