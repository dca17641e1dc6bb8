package dev.retain.serve;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.retain.metrics.HttpEndpoint;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /v1/models/{model}/predict} with {@code {"features": [...]}} (one instance) or {@code
 * {"instances": [[...], ...]}} (a batch), each optionally with {@code "id"} / {@code "ids"}; and
 * {@code GET /v1/models/{model}} for the version serving now and its evaluation. A request takes
 * the current model once and answers from it, so a swap never splits a request across versions. Bad
 * input gets a 4xx with a JSON {@code error}.
 */
final class PredictHandler implements HttpHandler {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final AdapterFollower follower;
  private final String model;
  private final int maxBytes;
  private final int maxBatch;
  private final ServeMetrics metrics;
  private final PredictionLog log;

  PredictHandler(
      AdapterFollower follower,
      String model,
      int maxBytes,
      int maxBatch,
      ServeMetrics metrics,
      PredictionLog log) {
    this.follower = follower;
    this.model = model;
    this.maxBytes = maxBytes;
    this.maxBatch = maxBatch;
    this.metrics = metrics;
    this.log = log;
  }

  String path() {
    return "/v1/models/" + model;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    long start = System.nanoTime();
    try (exchange) {
      String rest = exchange.getRequestURI().getPath().substring(path().length());
      String method = exchange.getRequestMethod();
      if (rest.isEmpty() && method.equals("GET")) {
        describe(exchange);
      } else if (rest.equals("/predict") && method.equals("POST")) {
        predict(exchange, start);
      } else {
        error(
            exchange,
            rest.isEmpty() || rest.equals("/predict") ? 405 : 404,
            "no route " + method + " " + exchange.getRequestURI().getPath());
      }
    }
  }

  private void describe(HttpExchange exchange) throws IOException {
    ServingModel serving = follower.current();
    if (serving == null) {
      error(exchange, 503, "no adapter version published yet");
      return;
    }
    ObjectNode body = JSON.createObjectNode();
    body.put("model", model);
    body.put("version", serving.version());
    body.set("adapter_config", serving.config());
    HttpEndpoint.respond(exchange, 200, "application/json", JSON.writeValueAsString(body));
  }

  private void predict(HttpExchange exchange, long start) throws IOException {
    byte[] bytes = readLimited(exchange.getRequestBody());
    if (bytes == null) {
      error(exchange, 413, "request larger than " + maxBytes + " bytes");
      return;
    }
    ServingModel serving = follower.current();
    if (serving == null) {
      error(exchange, 503, "no adapter version published yet");
      return;
    }
    Request request;
    try {
      request = Request.parse(bytes, serving.features(), maxBatch);
    } catch (JsonProcessingException e) {
      error(exchange, 400, "body is not JSON: " + e.getOriginalMessage());
      return;
    } catch (IllegalArgumentException e) {
      error(exchange, 400, e.getMessage());
      return;
    }
    ObjectNode body = JSON.createObjectNode();
    body.put("model", model);
    body.put("version", serving.version());
    ArrayNode predictions = JSON.createArrayNode();
    float[][] probabilities = serving.probabilities(request.instances());
    for (int i = 0; i < probabilities.length; i++) {
      if (!Float.isFinite(probabilities[i][argMax(probabilities[i])])) {
        // finite inputs so large that the model's output overflows: no answer, rather than NaN
        error(exchange, 400, "instance " + i + ": inputs too large, the model's output overflows");
        return;
      }
    }
    for (int i = 0; i < request.instances().size(); i++) {
      float[] p = probabilities[i];
      int best = argMax(p);
      ObjectNode one = predictions.addObject();
      String id = request.ids().get(i);
      if (id != null) {
        one.put("id", id);
      }
      one.put("class", best);
      one.put("score", p[best]);
      log.write(id, serving.version(), best, p[best], request.instances().get(i));
    }
    if (request.single()) {
      body.setAll((ObjectNode) predictions.get(0));
    } else {
      body.set("predictions", predictions);
    }
    HttpEndpoint.respond(exchange, 200, "application/json", JSON.writeValueAsString(body));
    metrics.served(serving.version(), request.instances().size(), System.nanoTime() - start);
  }

  /** The body, or null when it is larger than the limit. */
  private byte[] readLimited(InputStream in) throws IOException {
    byte[] bytes = in.readNBytes(maxBytes + 1);
    return bytes.length > maxBytes ? null : bytes;
  }

  private static int argMax(float[] p) {
    int best = 0;
    for (int i = 1; i < p.length; i++) {
      if (p[i] > p[best]) {
        best = i;
      }
    }
    return best;
  }

  private void error(HttpExchange exchange, int status, String message) throws IOException {
    metrics.error(status);
    HttpEndpoint.respond(
        exchange,
        status,
        "application/json",
        JSON.writeValueAsString(java.util.Map.of("error", message)));
  }

  /** A parsed request: its instances and their ids (null where none was given). */
  record Request(List<float[]> instances, List<String> ids, boolean single) {
    private static final JsonFactory FACTORY =
        JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .build();

    /** Parses with a streaming parser straight into float arrays (no tree per request). */
    static Request parse(byte[] body, int features, int maxBatch) throws IOException {
      try (JsonParser p = FACTORY.createParser(body)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          throw new IllegalArgumentException(
              "body must be a JSON object with features or instances");
        }
        float[] single = null;
        String id = null;
        List<float[]> instances = null;
        List<String> ids = new ArrayList<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          JsonToken value = p.nextToken();
          switch (field) {
            case "features" -> single = vector(p, features, 0);
            case "id" -> id = value == JsonToken.VALUE_NULL ? null : p.getValueAsString();
            case "instances" -> instances = batch(p, features, maxBatch);
            case "ids" -> ids = strings(p);
            default -> p.skipChildren();
          }
        }
        if (single != null) {
          List<String> one = new ArrayList<>();
          one.add(id);
          return new Request(List.of(single), one, true);
        }
        if (instances == null || instances.isEmpty()) {
          throw new IllegalArgumentException(
              "body needs \"features\" (one) or \"instances\" (a non-empty batch)");
        }
        List<String> padded = new ArrayList<>(ids);
        while (padded.size() < instances.size()) {
          padded.add(null);
        }
        return new Request(instances, padded.subList(0, instances.size()), false);
      }
    }

    private static List<float[]> batch(JsonParser p, int features, int maxBatch)
        throws IOException {
      if (p.currentToken() != JsonToken.START_ARRAY) {
        throw new IllegalArgumentException("\"instances\" must be an array of arrays");
      }
      List<float[]> out = new ArrayList<>();
      while (p.nextToken() != JsonToken.END_ARRAY) {
        if (out.size() == maxBatch) {
          throw new IllegalArgumentException("batch larger than the limit " + maxBatch);
        }
        out.add(vector(p, features, out.size()));
      }
      return out;
    }

    private static float[] vector(JsonParser p, int features, int index) throws IOException {
      if (p.currentToken() != JsonToken.START_ARRAY) {
        throw new IllegalArgumentException(
            "instance " + index + ": expected an array of " + features + " numbers");
      }
      float[] x = new float[features];
      int i = 0;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
        if (i == features) {
          throw new IllegalArgumentException(
              "instance " + index + ": more than " + features + " features");
        }
        if (t != JsonToken.VALUE_NUMBER_FLOAT && t != JsonToken.VALUE_NUMBER_INT) {
          throw new IllegalArgumentException(
              "instance " + index + ": feature " + i + " is not a number");
        }
        float v = p.getFloatValue();
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException(
              "instance " + index + ": feature " + i + " is not finite");
        }
        x[i++] = v;
      }
      if (i != features) {
        throw new IllegalArgumentException(
            "instance " + index + ": expected " + features + " features, got " + i);
      }
      return x;
    }

    private static List<String> strings(JsonParser p) throws IOException {
      List<String> out = new ArrayList<>();
      if (p.currentToken() != JsonToken.START_ARRAY) {
        p.skipChildren();
        return out;
      }
      while (p.nextToken() != JsonToken.END_ARRAY) {
        out.add(p.currentToken() == JsonToken.VALUE_NULL ? null : p.getValueAsString());
      }
      return out;
    }
  }
}
