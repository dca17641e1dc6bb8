package dev.retain.serve;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.http.Call;
import dev.retain.http.Route;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code POST /v1/models/{model}/predict} with {@code {"features": [...]}} (one instance) or {@code
 * {"instances": [[...], ...]}} (a batch), each optionally with {@code "id"} / {@code "ids"} and
 * {@code "outputs": ["probabilities", "logits"]} for more than class and score; and {@code GET
 * /v1/models/{model}} for the version serving now and its evaluation. A request takes the current
 * model once and answers from it, so a swap never splits a request across versions. Bad input gets
 * a 4xx with a JSON {@code error}.
 */
final class PredictHandler implements Route {
  private static final String VERSIONS = "/versions/";
  private final Serving context;

  PredictHandler(Serving context) {
    this.context = context;
  }

  String path() {
    return "/v1/models/" + context.model();
  }

  @Override
  public void handle(Call call) {
    long start = System.nanoTime();
    String rest = call.path().substring(path().length());
    String method = call.method();
    if (rest.isEmpty() && method.equals("GET")) {
      describe(call);
    } else if (rest.equals("/predict") && method.equals("POST")) {
      predict(call, start, context.current(), "no adapter version published yet", 503);
    } else if (rest.startsWith(VERSIONS) && rest.endsWith("/predict") && method.equals("POST")) {
      String version = rest.substring(VERSIONS.length(), rest.length() - "/predict".length());
      ServingModel kept = context.follower().version(context.model(), version);
      predict(call, start, kept, "version " + version + " is not among those kept here", 404);
    } else {
      error(
          call,
          rest.isEmpty() || rest.equals("/predict") ? 405 : 404,
          "no route " + method + " " + call.path());
    }
  }

  private void describe(Call call) {
    ServingModel serving = context.current();
    if (serving == null) {
      error(call, 503, "no adapter version published yet");
      return;
    }
    ObjectNode body = Call.JSON.createObjectNode();
    body.put("model", context.model());
    body.put("version", serving.version());
    body.set("adapter_config", serving.config());
    body.set("provenance", serving.provenance());
    call.json(200, body);
  }

  /** Answers from {@code serving}; {@code status} with {@code missing} when it is null. */
  private void predict(Call call, long start, ServingModel serving, String missing, int status) {
    if (!call.contentTypeIs("application/json")) {
      error(call, 415, "send application/json");
      return;
    }
    if (serving == null) {
      error(call, status, missing);
      return;
    }
    Request request;
    Predictions answer;
    try {
      request = Request.parse(call.body(), serving.features(), context.maxBatch());
      answer = Predictions.of(serving, request.instances());
    } catch (JsonProcessingException e) {
      error(call, 400, "body is not JSON: " + e.getOriginalMessage());
      return;
    } catch (IOException | IllegalArgumentException e) {
      error(call, 400, e.getMessage());
      return;
    }
    answer.log(context.log(), request.ids(), request.instances());
    call.json(200, body(answer, request));
    context.metrics().served(answer.version(), answer.size(), System.nanoTime() - start);
  }

  private ObjectNode body(Predictions answer, Request request) {
    ObjectNode body = Call.JSON.createObjectNode();
    body.put("model", context.model());
    body.put("version", answer.version());
    ArrayNode predictions = Call.JSON.createArrayNode();
    for (int i = 0; i < answer.size(); i++) {
      ObjectNode one = predictions.addObject();
      String id = request.ids().get(i);
      if (id != null) {
        one.put("id", id);
      }
      one.put("class", answer.classes()[i]);
      one.put("score", answer.scores()[i]);
      if (request.outputs().contains("probabilities")) {
        floats(one.putArray("probabilities"), answer.probabilities()[i]);
      }
      if (request.outputs().contains("logits")) {
        floats(one.putArray("logits"), answer.logits()[i]);
      }
    }
    if (request.single()) {
      body.setAll((ObjectNode) predictions.get(0));
    } else {
      body.set("predictions", predictions);
    }
    return body;
  }

  static void floats(ArrayNode into, float[] values) {
    for (float v : values) {
      into.add(v);
    }
  }

  private void error(Call call, int status, String message) {
    context.error(call, status, message);
  }

  /** A parsed request: its instances and their ids (null where none was given). */
  record Request(List<float[]> instances, List<String> ids, boolean single, Set<String> outputs) {
    private static final Set<String> OUTPUTS = Set.of("class", "score", "probabilities", "logits");
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
        Set<String> outputs = Set.of();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          JsonToken value = p.nextToken();
          switch (field) {
            case "features" -> single = vector(p, features, 0);
            case "id" -> id = value == JsonToken.VALUE_NULL ? null : p.getValueAsString();
            case "instances" -> instances = batch(p, features, maxBatch);
            case "ids" -> ids = strings(p);
            case "outputs" -> outputs = outputs(p);
            default -> p.skipChildren();
          }
        }
        if (single != null) {
          List<String> one = new ArrayList<>();
          one.add(id);
          return new Request(List.of(single), one, true, outputs);
        }
        if (instances == null || instances.isEmpty()) {
          throw new IllegalArgumentException(
              "body needs \"features\" (one) or \"instances\" (a non-empty batch)");
        }
        List<String> padded = new ArrayList<>(ids);
        while (padded.size() < instances.size()) {
          padded.add(null);
        }
        return new Request(instances, padded.subList(0, instances.size()), false, outputs);
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

    private static Set<String> outputs(JsonParser p) throws IOException {
      List<String> names = strings(p);
      for (String name : names) {
        if (!OUTPUTS.contains(name)) {
          throw new IllegalArgumentException(
              "unknown output " + name + "; choose from " + new java.util.TreeSet<>(OUTPUTS));
        }
      }
      return Set.copyOf(names);
    }
  }
}
