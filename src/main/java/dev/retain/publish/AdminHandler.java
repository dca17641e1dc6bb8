package dev.retain.publish;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.retain.metrics.HttpEndpoint;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;

/**
 * The learner's admin API under {@code /v1/models/{model}/}: {@code GET versions} lists the
 * registry (champion and history) and {@code POST rollback} with {@code {"to": "<version>"}} makes
 * an earlier version champion again and republishes it. Both need {@code Authorization: Bearer
 * <retain.admin.token>}; with no token configured every request is refused.
 */
public final class AdminHandler implements HttpHandler {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final AdapterPublisher publisher;
  private final String model;
  private final byte[] token;

  public AdminHandler(AdapterPublisher publisher, String model, String token) {
    this.publisher = publisher;
    this.model = model;
    this.token = token.getBytes(StandardCharsets.UTF_8);
  }

  /** The path prefix this handler serves. */
  public String path() {
    return "/v1/models/" + model + "/";
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      if (!authorised(exchange)) {
        error(exchange, token.length == 0 ? 403 : 401, "admin token missing or wrong");
        return;
      }
      String action = exchange.getRequestURI().getPath().substring(path().length());
      String method = exchange.getRequestMethod();
      if (action.equals("versions") && method.equals("GET")) {
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("champion", idOf(publisher.registry().champion())); // null before the first
        body.put("history", publisher.registry().history());
        HttpEndpoint.respond(exchange, 200, "application/json", JSON.writeValueAsString(body));
      } else if (action.equals("rollback") && method.equals("POST")) {
        rollback(exchange);
      } else {
        error(exchange, 404, "no such admin action: " + method + " " + action);
      }
    }
  }

  private void rollback(HttpExchange exchange) throws IOException {
    JsonNode request;
    try {
      request = JSON.readTree(exchange.getRequestBody().readNBytes(64 * 1024));
    } catch (IOException e) {
      error(exchange, 400, "body must be JSON: {\"to\": \"<version>\"}");
      return;
    }
    String to = request == null ? "" : request.path("to").asText("");
    if (to.isEmpty()) {
      error(exchange, 400, "body must name the version: {\"to\": \"<version>\"}");
      return;
    }
    try {
      AdapterVersion version = publisher.rollback(to);
      HttpEndpoint.respond(
          exchange, 200, "application/json", JSON.writeValueAsString(Map.of("champion", version)));
    } catch (IllegalArgumentException e) {
      error(exchange, 404, e.getMessage());
    }
  }

  private boolean authorised(HttpExchange exchange) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    if (token.length == 0 || header == null || !header.startsWith("Bearer ")) {
      return false;
    }
    byte[] given = header.substring("Bearer ".length()).getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  private static String idOf(AdapterVersion version) {
    return version == null ? null : version.id();
  }

  private static void error(HttpExchange exchange, int status, String message) throws IOException {
    HttpEndpoint.respond(
        exchange, status, "application/json", JSON.writeValueAsString(Map.of("error", message)));
  }
}
