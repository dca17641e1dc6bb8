package dev.retain.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Parses the compose file, the Kubernetes manifests, the Grafana provisioning and dashboard, and
 * checks that what each refers to (services, ports, volumes, files, labels, datasources) exists.
 */
class DeployFilesTest {
  private static final Path ROOT = Path.of("");
  private static final ObjectMapper YAML = new YAMLMapper();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode yaml(String path) throws IOException {
    return YAML.readTree(ROOT.resolve(path).toFile());
  }

  private static List<JsonNode> yamlDocuments(Path path) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (var parser = new YAMLFactory().createParser(path.toFile())) {
      var it = YAML.readValues(parser, JsonNode.class);
      while (it.hasNext()) {
        JsonNode doc = it.next();
        if (doc != null && !doc.isNull() && !doc.isEmpty()) {
          docs.add(doc);
        }
      }
    }
    return docs;
  }

  @Test
  void shouldReferOnlyToServicesVolumesAndFilesTheComposeFileDefines() throws IOException {
    JsonNode compose = yaml("deploy/docker-compose.yml");
    Set<String> services = names(compose.get("services"));
    Set<String> volumes = names(compose.get("volumes"));
    assertThat(services).contains("kafka", "learner", "serve", "prometheus", "grafana");
    for (var entry : compose.get("services").properties()) {
      JsonNode service = entry.getValue();
      assertThat(service.path("restart").asText())
          .as("restart policy of %s", entry.getKey())
          .isEqualTo("unless-stopped");
      for (var dependency : service.path("depends_on").properties()) {
        assertThat(services).contains(dependency.getKey());
        String condition = dependency.getValue().path("condition").asText();
        assertThat(condition).isIn("service_started", "service_healthy");
        if (condition.equals("service_healthy")) {
          assertThat(compose.at("/services/" + dependency.getKey() + "/healthcheck/test"))
              .as(
                  "%s waits for %s to be healthy: it needs a healthcheck",
                  entry.getKey(), dependency.getKey())
              .isNotEmpty();
        }
      }
      for (JsonNode mount : service.path("volumes")) {
        String source = mount.asText().split(":")[0];
        if (source.startsWith(".")) {
          assertThat(ROOT.resolve("deploy").resolve(source).normalize()).exists();
        } else {
          assertThat(volumes).as("named volume of %s", entry.getKey()).contains(source);
        }
      }
      if (service.has("build")) {
        assertThat(
                ROOT.resolve("deploy")
                    .resolve(service.get("build").get("context").asText())
                    .resolve(service.get("build").get("dockerfile").asText())
                    .normalize())
            .exists();
      }
    }
    // Prometheus scrapes the ports the learner and serving containers listen on
    JsonNode prometheus = yaml("deploy/prometheus/prometheus.yml");
    Map<String, String> ports = new HashMap<>();
    ports.put("learner", compose.at("/services/learner/environment/RETAIN_METRICS_PORT").asText());
    ports.put("serve", compose.at("/services/serve/environment/RETAIN_SERVE_PORT").asText());
    List<String> targets = new ArrayList<>();
    prometheus
        .get("scrape_configs")
        .forEach(job -> job.at("/static_configs/0/targets").forEach(t -> targets.add(t.asText())));
    assertThat(targets)
        .containsExactlyInAnyOrder(
            "learner:" + ports.get("learner"), "serve:" + ports.get("serve"));
    for (String target : targets) {
      String service = target.split(":")[0];
      assertThat(services).contains(service);
      assertThat(compose.at("/services/" + service + "/ports").toString())
          .contains(target.split(":")[1]);
    }
    assertThat(compose.at("/services/learner/environment/RETAIN_KAFKA_BOOTSTRAP_SERVERS").asText())
        .isEqualTo("kafka:9092");
    // serving reads the large adapters the learner writes as file: pointers
    String blobs = compose.at("/services/learner/environment/RETAIN_PUBLISH_BLOB_DIR").asText();
    assertThat(blobs).isNotEmpty();
    for (String service : List.of("learner", "serve")) {
      assertThat(compose.at("/services/" + service + "/volumes").toString())
          .contains("adapter-blobs:" + blobs);
    }
    assertThat(prometheus.at("/alerting/alertmanagers/0/static_configs/0/targets/0").asText())
        .startsWith("alertmanager:");
    assertThat(services).contains("alertmanager");
    // a fleet of two learners: each its own store and member id, one group
    assertThat(compose.at("/services/learner-2/environment/RETAIN_INGEST_INSTANCE_ID").asText())
        .isNotEqualTo(
            compose.at("/services/learner/environment/RETAIN_INGEST_INSTANCE_ID").asText());
    assertThat(compose.at("/services/learner-2/volumes/0").asText())
        .isNotEqualTo(compose.at("/services/learner/volumes/0").asText());
    for (String learner : List.of("learner", "learner-2")) {
      assertThat(compose.at("/services/" + learner + "/environment/RETAIN_FLEET_ENABLED").asText())
          .isEqualTo("${RETAIN_FLEET:-false}");
    }
  }

  @Test
  void shouldBuildANonRootImageWithAHealthCheckAndASmallContext() throws IOException {
    String dockerfile = Files.readString(ROOT.resolve("deploy/Dockerfile"));
    String runtime = dockerfile.substring(dockerfile.lastIndexOf("FROM "));
    assertThat(runtime).containsPattern("(?m)^USER [1-9][0-9]*");
    assertThat(runtime).containsPattern("(?m)^HEALTHCHECK .*healthcheck.sh");
    assertThat(runtime).containsPattern("(?m)^EXPOSE .*9404.*8080");
    assertThat(runtime).contains("MaxRAMPercentage");
    assertThat(ROOT.resolve("deploy/healthcheck.sh")).isExecutable();
    assertThat(Files.readString(ROOT.resolve("deploy/Dockerfile.dockerignore")))
        .contains("!src", "!pom.xml", "!deploy/healthcheck.sh");
  }

  @Test
  void shouldMatchKubernetesSelectorsPortsAndConfigMaps() throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    JsonNode kustomization = yaml("deploy/k8s/kustomization.yaml");
    for (JsonNode resource : kustomization.get("resources")) {
      docs.addAll(yamlDocuments(ROOT.resolve("deploy/k8s").resolve(resource.asText())));
    }
    Map<String, JsonNode> workloads = new HashMap<>();
    Set<String> configMaps = new HashSet<>();
    List<JsonNode> services = new ArrayList<>();
    for (JsonNode doc : docs) {
      switch (doc.get("kind").asText()) {
        case "StatefulSet", "Deployment" -> workloads.put(doc.at("/metadata/name").asText(), doc);
        case "ConfigMap" -> configMaps.add(doc.at("/metadata/name").asText());
        case "Service" -> services.add(doc);
        default -> {}
      }
    }
    assertThat(workloads.get("retain-learner").get("kind").asText()).isEqualTo("StatefulSet");
    assertThat(
            workloads
                .get("retain-learner")
                .at("/spec/volumeClaimTemplates/0/metadata/name")
                .asText())
        .isEqualTo("store");
    assertThat(workloads.get("retain-serve").get("kind").asText()).isEqualTo("Deployment");
    for (JsonNode workload : workloads.values()) {
      JsonNode pod = workload.at("/spec/template");
      assertThat(workload.at("/spec/selector/matchLabels").properties())
          .allSatisfy(
              l ->
                  assertThat(pod.at("/metadata/labels/" + l.getKey().replace("/", "~1")).asText())
                      .isEqualTo(l.getValue().asText()));
      Set<String> volumeNames = new HashSet<>();
      pod.at("/spec/volumes")
          .forEach(
              v -> {
                volumeNames.add(v.get("name").asText());
                if (v.has("configMap")) {
                  assertThat(configMaps).contains(v.at("/configMap/name").asText());
                }
              });
      workload
          .at("/spec/volumeClaimTemplates")
          .forEach(v -> volumeNames.add(v.at("/metadata/name").asText()));
      JsonNode container = pod.at("/spec/containers/0");
      container
          .get("volumeMounts")
          .forEach(m -> assertThat(volumeNames).contains(m.get("name").asText()));
      Set<String> portNames = new HashSet<>();
      Set<String> portNumbers = new HashSet<>();
      container
          .get("ports")
          .forEach(
              p -> {
                portNames.add(p.get("name").asText());
                portNumbers.add(p.get("containerPort").asText());
              });
      assertThat(portNumbers)
          .contains(pod.at("/metadata/annotations/prometheus.io~1port").asText());
      assertHardened(workload.at("/metadata/name").asText(), pod, container, portNames);
    }
    for (JsonNode service : services) {
      assertThat(service.at("/metadata/annotations").toString())
          .as("scrape annotations on pods, not also on the service")
          .doesNotContain("prometheus.io");
    }
    for (String workload : workloads.keySet()) {
      assertThat(
              docs.stream()
                  .filter(d -> d.get("kind").asText().equals("PodDisruptionBudget"))
                  .map(d -> d.at("/spec/selector/matchLabels/app.kubernetes.io~1name").asText()))
          .as("a PodDisruptionBudget for " + workload)
          .contains(workload);
    }
    for (JsonNode service : services) {
      JsonNode selector = service.at("/spec/selector");
      JsonNode target =
          workloads.values().stream()
              .filter(
                  w ->
                      w.at("/spec/template/metadata/labels/app.kubernetes.io~1name")
                          .asText()
                          .equals(selector.get("app.kubernetes.io/name").asText()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no workload for " + selector));
      JsonNode container = target.at("/spec/template/spec/containers/0");
      for (JsonNode port : service.at("/spec/ports")) {
        assertThat(container.get("ports").findValuesAsText("name"))
            .contains(port.get("targetPort").asText());
      }
    }
    JsonNode gpu = yamlDocuments(ROOT.resolve("deploy/k8s/learner-gpu-patch.yaml")).get(0);
    assertThat(gpu.at("/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu").asInt())
        .isEqualTo(1);
    assertThat(workloads).containsKey(gpu.at("/metadata/name").asText());
    assertThat(gpu.at("/spec/template/spec/tolerations/0/key").asText())
        .isEqualTo("nvidia.com/gpu");
    assertThat(gpu.at("/spec/template/spec/nodeSelector")).isNotEmpty();
    assertFleetPatch(workloads, docs);
  }

  /** The fleet patch scales the learner within the partition count, one move at a time. */
  private static void assertFleetPatch(Map<String, JsonNode> workloads, List<JsonNode> docs)
      throws IOException {
    JsonNode fleet = yamlDocuments(ROOT.resolve("deploy/k8s/learner-fleet-patch.yaml")).get(0);
    assertThat(workloads).containsKey(fleet.at("/metadata/name").asText());
    Map<String, String> env = new HashMap<>();
    fleet
        .at("/spec/template/spec/containers/0/env")
        .forEach(e -> env.put(e.get("name").asText(), e.get("value").asText()));
    assertThat(env).containsEntry("RETAIN_FLEET_ENABLED", "true");
    String properties =
        docs.stream()
            .filter(d -> d.get("kind").asText().equals("ConfigMap"))
            .map(d -> d.at("/data/retain.properties").asText())
            .findFirst()
            .orElseThrow();
    java.util.Properties config = new java.util.Properties();
    config.load(new java.io.StringReader(properties));
    assertThat(fleet.at("/spec/replicas").asInt())
        .isBetween(2, Integer.parseInt(config.getProperty("retain.topic.partitions")));
    assertThat(
            docs.stream()
                .filter(d -> d.get("kind").asText().equals("PodDisruptionBudget"))
                .filter(d -> d.toString().contains("retain-learner"))
                .map(d -> d.at("/spec/maxUnavailable").asInt()))
        .containsExactly(1);
  }

  /** Non-root, no privilege escalation, read-only root with a writable /tmp, probes, resources. */
  private static void assertHardened(
      String name, JsonNode pod, JsonNode container, Set<String> portNames) {
    assertThat(pod.at("/spec/securityContext/runAsNonRoot").asBoolean()).as(name).isTrue();
    JsonNode security = container.get("securityContext");
    assertThat(security.get("allowPrivilegeEscalation").asBoolean()).as(name).isFalse();
    assertThat(security.get("readOnlyRootFilesystem").asBoolean()).as(name).isTrue();
    assertThat(security.at("/capabilities/drop").toString()).as(name).contains("ALL");
    assertThat(container.get("volumeMounts").findValuesAsText("mountPath")).contains("/tmp");
    for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
      JsonNode get = container.at("/" + probe + "/httpGet");
      assertThat(get.get("path").asText())
          .as("%s of %s", probe, name)
          .isEqualTo(probe.equals("readinessProbe") ? "/health/ready" : "/health/live");
      assertThat(portNames).contains(get.get("port").asText());
    }
    assertThat(container.at("/resources/requests/memory").asText()).as(name).isNotEmpty();
    assertThat(container.at("/resources/limits/memory").asText()).as(name).isNotEmpty();
  }

  @Test
  void shouldGiveEveryDashboardPanelTheProvisionedDatasourceAndAQuery() throws IOException {
    JsonNode datasources = yaml("grafana/provisioning/datasources/prometheus.yml");
    String uid = datasources.at("/datasources/0/uid").asText();
    assertThat(datasources.at("/datasources/0/url").asText()).isEqualTo("http://prometheus:9090");
    JsonNode provider = yaml("grafana/provisioning/dashboards/retain.yml");
    assertThat(provider.at("/providers/0/options/path").asText())
        .isEqualTo("/var/lib/grafana/dashboards");
    JsonNode compose = yaml("deploy/docker-compose.yml");
    assertThat(compose.at("/services/grafana/volumes").toString())
        .contains("../grafana/dashboards:/var/lib/grafana/dashboards")
        .contains("../grafana/provisioning:/etc/grafana/provisioning");
    JsonNode dashboard = JSON.readTree(ROOT.resolve("grafana/dashboards/retain.json").toFile());
    assertThat(dashboard.get("panels").size()).isGreaterThanOrEqualTo(10);
    Set<Integer> ids = new HashSet<>();
    for (JsonNode panel : dashboard.get("panels")) {
      assertThat(ids.add(panel.get("id").asInt())).as("unique panel id").isTrue();
      assertThat(panel.at("/datasource/uid").asText())
          .as(panel.get("title").asText())
          .isEqualTo(uid);
      assertThat(panel.get("targets")).isNotEmpty();
      for (JsonNode target : panel.get("targets")) {
        assertThat(target.at("/datasource/uid").asText()).isEqualTo(uid);
        assertThat(target.get("expr").asText()).isNotBlank();
      }
    }
    for (JsonNode annotation : dashboard.at("/annotations/list")) {
      assertThat(annotation.at("/datasource/uid").asText()).isEqualTo(uid);
      assertThat(annotation.get("expr").asText()).isNotBlank();
    }
    List<String> titles = dashboard.get("panels").findValuesAsText("title");
    assertThat(String.join("|", titles))
        .contains("Retained accuracy per domain", "Forgetting", "Consumer lag", "Serving latency");
  }

  private static Set<String> names(JsonNode node) {
    Set<String> out = new HashSet<>();
    node.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
