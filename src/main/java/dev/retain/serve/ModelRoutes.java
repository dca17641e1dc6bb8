package dev.retain.serve;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.http.Call;
import dev.retain.http.HttpServer;
import dev.retain.http.Route;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Routes {@code /v1/models/...} and {@code /v2/models/...} to the model the path names, each with
 * its own context (meters, prediction log, input monitor) and handlers, made on first use; {@code
 * GET /v1/models} lists the models served and their versions. A model is served when the follower
 * follows it and it has a version, or when it is named (by {@code retain.serve.models} or as {@code
 * retain.model.id}): a named model without a version yet answers 503, any other 404.
 */
final class ModelRoutes implements Route {
  private final AdapterFollower follower;
  private final String primary;
  private final Function<String, Serving> contexts;
  private final Map<String, Endpoint> endpoints = new ConcurrentHashMap<>();

  /** A model's two faces. */
  private record Endpoint(Serving context, PredictHandler predict, InferHandler infer) {}

  ModelRoutes(AdapterFollower follower, String primary, Function<String, Serving> contexts) {
    this.follower = follower;
    this.primary = primary;
    this.contexts = contexts;
  }

  /** Makes {@code model}'s context now (its meters appear before its first request). */
  ModelRoutes serve(String model) {
    endpoint(model);
    return this;
  }

  private Endpoint endpoint(String model) {
    return endpoints.computeIfAbsent(
        model,
        m -> {
          Serving context = contexts.apply(m);
          return new Endpoint(context, new PredictHandler(context), new InferHandler(context));
        });
  }

  @Override
  public void handle(Call call) throws Exception {
    String path = call.path();
    if (path.equals("/v1/models") || path.equals("/v1/models/")) {
      list(call);
      return;
    }
    boolean v2 = path.startsWith("/v2/models/");
    String rest = path.substring("/v1/models/".length());
    String model = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
    if (!known(model)) {
      call.error(404, "no model " + model + " is served here");
    } else if (v2 && path.endsWith("/" + model + "/ready")) {
      HttpServer.check(call, follower.current(model) == null ? "no version of " + model : null);
    } else if (v2) {
      endpoint(model).infer().handle(call);
    } else {
      endpoint(model).predict().handle(call);
    }
  }

  private boolean known(String model) {
    return follower.follows(model)
        && (follower.current(model) != null
            || follower.named().contains(model)
            || model.equals(primary));
  }

  private void list(Call call) {
    if (!call.method().equals("GET")) {
      call.error(405, "GET only");
      return;
    }
    ObjectNode body = Call.JSON.createObjectNode();
    ArrayNode models = body.putArray("models");
    follower
        .models()
        .forEach(
            (name, serving) -> {
              ObjectNode one = models.addObject();
              one.put("model", name);
              one.put("version", serving.version());
            });
    call.json(200, body);
  }

  /** Closes every model's prediction log (their input monitors). */
  void close() {
    endpoints.values().forEach(e -> e.context().log().close());
  }
}
