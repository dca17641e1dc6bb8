package dev.retain.cli;

import dev.retain.config.RetainConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Makes an earlier adapter version champion again through the learner's admin endpoint (the learner
 * owns the version registry); serving follows the republished version.
 */
@Command(
    name = "rollback",
    description = "Make an earlier adapter version champion again (or list versions with --list).")
final class RollbackCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Option(names = "--model", description = "Model id (default: retain.model.id).")
  String model;

  @Option(names = "--to", description = "The version to make champion.")
  String to;

  @Option(names = "--list", description = "List the champion and the version history instead.")
  boolean list;

  @Option(
      names = "--url",
      description = "The learner's admin endpoint (default: http://127.0.0.1:<retain.admin.port>).")
  String url;

  private HttpRequest request(String model, String token) {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(model + (list ? "/versions" : "/rollback")))
            .header("Authorization", "Bearer " + token);
    if (!list) {
      request
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"to\":\"" + to.replace("\"", "") + "\"}"));
    }
    return request.build();
  }

  @Override
  public Integer call() throws Exception {
    RetainConfig config = options.load(java.util.Map.of());
    String m = model != null ? model : config.getString(RetainConfig.MODEL_ID);
    String base = url != null ? url : "http://127.0.0.1:" + config.getInt(RetainConfig.ADMIN_PORT);
    String token = config.adminToken();
    if (!list && (to == null || to.isBlank())) {
      System.err.println("name the version with --to VERSION (or use --list)");
      return 2;
    }
    HttpResponse<String> response =
        HttpClient.newHttpClient()
            .send(request(base + "/v1/models/" + m, token), HttpResponse.BodyHandlers.ofString());
    System.out.println(response.body());
    return response.statusCode() == 200 ? 0 : 1;
  }
}
