package dev.retain.fleet;

import dev.retain.http.Call;
import dev.retain.http.Route;
import dev.retain.publish.AdapterPublisher;
import dev.retain.publish.AdminHandler;
import java.util.Map;
import java.util.function.Function;

/**
 * A fleet instance's admin API: the same per-model actions as a single learner's ({@link
 * AdminHandler}: {@code GET /v1/models/{model}/versions}, {@code POST .../rollback}), for the
 * models this instance owns now. A model owned elsewhere gets a 404 that says so: ask the instance
 * whose partitions hold it (its {@code retain_fleet_models} gauge, or each instance's {@code GET
 * /v1/models}), so that only the owner, whose publisher fences the others, changes a champion.
 */
final class FleetAdmin implements Route {
  static final String PATH = "/v1/models/";
  private final Function<String, AdapterPublisher> publishers;
  private final FleetNode node;
  private final String token;

  FleetAdmin(FleetNode node, Function<String, AdapterPublisher> publishers, String token) {
    this.node = node;
    this.publishers = publishers;
    this.token = token;
  }

  @Override
  public void handle(Call call) {
    String rest = call.path().substring(PATH.length());
    int slash = rest.indexOf('/');
    String model = slash < 0 ? null : rest.substring(0, slash);
    AdapterPublisher publisher = model == null ? null : publishers.apply(model);
    if (model == null) {
      call.error(404, "no such admin path: " + call.path());
    } else if (publisher == null) {
      call.error(404, notHere(model));
    } else {
      new AdminHandler(publisher, model, token).handle(call);
    }
  }

  private String notHere(String model) {
    return "model "
        + model
        + " is not learned by this instance now (its partitions: "
        + node.partitions()
        + "); ask the instance that owns it";
  }

  /** {@code GET /v1/models}: the models this instance learns, by partition. */
  static Route listing(FleetNode node) {
    return call -> call.json(200, Map.of("partitions", node.modelsByPartition()));
  }
}
