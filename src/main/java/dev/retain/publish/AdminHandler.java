package dev.retain.publish;

import com.fasterxml.jackson.databind.JsonNode;
import dev.retain.adapter.AdapterVersion;
import dev.retain.http.Call;
import dev.retain.http.Route;
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
public final class AdminHandler implements Route {
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

  private Map<String, Object> versions() {
    Map<String, Object> body = new java.util.LinkedHashMap<>();
    body.put("champion", idOf(publisher.registry().champion())); // null before the first
    body.put("history", publisher.registry().history());
    return body;
  }

  @Override
  public void handle(Call call) {
    if (!authorised(call)) {
      call.error(token.length == 0 ? 403 : 401, "admin token missing or wrong");
      return;
    }
    String action = call.path().substring(path().length());
    String method = call.method();
    if (action.equals("versions") && method.equals("GET")) {
      call.json(200, versions());
    } else if (action.equals("rollback") && method.equals("POST")) {
      rollback(call);
    } else {
      call.error(404, "no such admin action: " + method + " " + action);
    }
  }

  /** The version the body names ("" for none), or null when the body is not JSON (answered). */
  private static String target(Call call) {
    try {
      JsonNode request = Call.JSON.readTree(call.body());
      return request == null ? "" : request.path("to").asText("");
    } catch (IOException e) {
      call.error(400, "body must be JSON: {\"to\": \"<version>\"}");
      return null;
    }
  }

  private void rollback(Call call) {
    String to = target(call);
    if (to == null) {
      return; // answered
    } else if (to.isEmpty()) {
      call.error(400, "body must name the version: {\"to\": \"<version>\"}");
    } else {
      rollback(call, to);
    }
  }

  private void rollback(Call call, String to) {
    try {
      AdapterVersion version = publisher.rollback(to);
      call.json(200, Map.of("champion", version));
    } catch (IllegalArgumentException e) {
      call.error(404, e.getMessage());
    } catch (IllegalStateException e) {
      call.error(503, "rollback not done, the champion is unchanged: " + e.getMessage());
    }
  }

  private boolean authorised(Call call) {
    String header = call.header("Authorization");
    if (token.length == 0 || header == null || !header.startsWith("Bearer ")) {
      return false;
    }
    byte[] given = header.substring("Bearer ".length()).getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  private static String idOf(AdapterVersion version) {
    return version == null ? null : version.id();
  }
}
