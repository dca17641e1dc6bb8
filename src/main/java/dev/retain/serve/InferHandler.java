package dev.retain.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.retain.http.Call;
import dev.retain.http.Route;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The KServe (Open Inference Protocol v2) face of serving: {@code GET /v2/models/{model}}
 * (metadata) and {@code POST /v2/models/{model}/infer} with one input tensor of shape {@code [n,
 * features]} (or {@code [features]}), its data flat or nested. Outputs {@code class} (INT64),
 * {@code score}, {@code probabilities} and {@code logits} (FP32); all of them unless the request
 * names some. With a request {@code id}, instance i is logged for the feedback join as {@code id}
 * (one instance) or {@code id:i}.
 */
final class InferHandler implements Route {
  private static final Set<String> OUTPUTS = Set.of("class", "score", "probabilities", "logits");
  private static final Set<String> TYPES =
      Set.of("FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16");
  private final Serving context;

  InferHandler(Serving context) {
    this.context = context;
  }

  String path() {
    return "/v2/models/" + context.model();
  }

  /** False, with the error answered, unless {@code rest} names a route and the method fits. */
  private boolean routed(Call call, String rest) {
    if (!rest.isEmpty() && !rest.equals("/infer")) {
      error(call, 404, "no route " + call.method() + " " + call.path());
      return false;
    }
    String method = rest.isEmpty() ? "GET" : "POST";
    if (!call.method().equals(method)) {
      error(call, 405, method + " only");
      return false;
    }
    return true;
  }

  @Override
  public void handle(Call call) {
    long start = System.nanoTime();
    String rest = call.path().substring(path().length());
    ServingModel serving = context.current();
    if (routed(call, rest)) {
      answer(call, rest, serving, start);
    }
  }

  private void answer(Call call, String rest, ServingModel serving, long start) {
    if (serving == null) {
      error(call, 503, "no adapter version published yet");
    } else if (rest.isEmpty()) {
      call.json(200, metadata(serving));
    } else if (!call.contentTypeIs("application/json")) {
      error(call, 415, "send application/json");
    } else {
      infer(call, serving, start);
    }
  }

  private ObjectNode metadata(ServingModel serving) {
    ObjectNode body = Call.JSON.createObjectNode();
    body.put("name", context.model());
    body.putArray("versions").add(serving.version());
    body.put("platform", "retain");
    ObjectNode input = body.putArray("inputs").addObject();
    input.put("name", "input");
    input.put("datatype", "FP32");
    input.putArray("shape").add(-1).add(serving.features());
    ArrayNode outputs = body.putArray("outputs");
    for (String name : List.of("class", "score", "probabilities", "logits")) {
      output(outputs.addObject(), name);
    }
    return body;
  }

  private static void output(ObjectNode output, String name) {
    output.put("name", name);
    output.put("datatype", name.equals("class") ? "INT64" : "FP32");
    ArrayNode shape = output.putArray("shape").add(-1);
    if (name.equals("probabilities") || name.equals("logits")) {
      shape.add(-1);
    }
  }

  private void infer(Call call, ServingModel serving, long start) {
    JsonNode request;
    List<float[]> instances;
    Set<String> wanted;
    Predictions answer;
    try {
      request = Call.JSON.readTree(call.body());
      if (request == null || !request.isObject()) {
        throw new IllegalArgumentException("body must be a JSON object with \"inputs\"");
      }
      instances = instances(request.path("inputs"), serving.features());
      wanted = outputs(request.path("outputs"));
      answer = Predictions.of(serving, instances);
    } catch (IOException e) {
      error(call, 400, "body is not JSON: " + e.getMessage());
      return;
    } catch (IllegalArgumentException e) {
      error(call, 400, e.getMessage());
      return;
    }
    String id = request.path("id").isTextual() ? request.path("id").asText() : null;
    answer.log(context.log(), ids(id, instances.size()), instances);
    ObjectNode body = Call.JSON.createObjectNode();
    body.put("model_name", context.model());
    body.put("model_version", answer.version());
    if (id != null) {
      body.put("id", id);
    }
    ArrayNode outputs = body.putArray("outputs");
    int n = answer.size();
    if (wanted.contains("class")) {
      ArrayNode data = tensor(outputs, "class", "INT64", n, 0);
      for (int c : answer.classes()) {
        data.add(c);
      }
    }
    if (wanted.contains("score")) {
      PredictHandler.floats(tensor(outputs, "score", "FP32", n, 0), answer.scores());
    }
    matrix(outputs, wanted, "probabilities", answer.probabilities());
    matrix(outputs, wanted, "logits", answer.logits());
    call.json(200, body);
    context.metrics().served(answer.version(), n, System.nanoTime() - start);
  }

  private static void matrix(ArrayNode outputs, Set<String> wanted, String name, float[][] rows) {
    if (wanted.contains(name)) {
      ArrayNode data = tensor(outputs, name, "FP32", rows.length, rows[0].length);
      for (float[] row : rows) {
        PredictHandler.floats(data, row);
      }
    }
  }

  /** Adds an output tensor of shape [n] (or [n, k] when k > 0) and gives its data array. */
  private static ArrayNode tensor(ArrayNode outputs, String name, String type, int n, int k) {
    ObjectNode tensor = outputs.addObject();
    tensor.put("name", name);
    tensor.put("datatype", type);
    ArrayNode shape = tensor.putArray("shape").add(n);
    if (k > 0) {
      shape.add(k);
    }
    return tensor.putArray("data");
  }

  private List<float[]> instances(JsonNode inputs, int features) {
    if (!inputs.isArray() || inputs.size() != 1) {
      throw new IllegalArgumentException("\"inputs\" must hold exactly one tensor");
    }
    JsonNode input = inputs.get(0);
    String type = input.path("datatype").asText("");
    if (!TYPES.contains(type)) {
      throw new IllegalArgumentException("datatype must be one of " + TYPES + ", not " + type);
    }
    JsonNode shape = input.path("shape");
    int n = shape.size() == 2 ? shape.get(0).asInt(-1) : 1;
    int width = shape.size() == 2 ? shape.get(1).asInt(-1) : shape.path(0).asInt(-1);
    if (shape.size() < 1 || shape.size() > 2 || width != features || n < 1) {
      throw new IllegalArgumentException(
          "shape must be [n, " + features + "] or [" + features + "], not " + shape);
    }
    if (n > context.maxBatch()) {
      throw new IllegalArgumentException("batch larger than the limit " + context.maxBatch());
    }
    float[] flat = new float[n * features];
    int filled = flatten(input.path("data"), flat, 0);
    if (filled != flat.length) {
      throw new IllegalArgumentException(
          "data holds " + filled + " numbers, shape " + shape + " needs " + flat.length);
    }
    List<float[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(java.util.Arrays.copyOfRange(flat, i * features, (i + 1) * features));
    }
    return out;
  }

  /** Copies the numbers of a flat or nested array into {@code into}; gives the count. */
  private static int flatten(JsonNode data, float[] into, int at) {
    if (!data.isArray()) {
      throw new IllegalArgumentException("\"data\" must be an array of numbers");
    }
    for (JsonNode v : data) {
      at = v.isArray() ? flatten(v, into, at) : put(v, into, at);
      if (at > into.length) {
        return at; // more than the shape holds: reported by the caller
      }
    }
    return at;
  }

  /** Puts one number at {@code at}; the next position. */
  private static int put(JsonNode v, float[] into, int at) {
    if (!v.isNumber() || !Float.isFinite(v.floatValue())) {
      throw new IllegalArgumentException("data[" + at + "] is not a finite number");
    }
    if (at < into.length) {
      into[at] = v.floatValue();
    }
    return at + 1;
  }

  private static Set<String> outputs(JsonNode requested) {
    if (requested.isMissingNode() || requested.isNull()) {
      return OUTPUTS;
    }
    Set<String> names = new java.util.HashSet<>();
    for (JsonNode output : requested) {
      String name = output.path("name").asText("");
      if (!OUTPUTS.contains(name)) {
        throw new IllegalArgumentException(
            "unknown output " + name + "; choose from " + new java.util.TreeSet<>(OUTPUTS));
      }
      names.add(name);
    }
    return names;
  }

  private static List<String> ids(String id, int n) {
    List<String> ids = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ids.add(id == null ? null : n == 1 ? id : id + ":" + i);
    }
    return ids;
  }

  private void error(Call call, int status, String message) {
    context.error(call, status, message);
  }
}
