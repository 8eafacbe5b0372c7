package dev.stowage.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.backend.kubernetes.MockApiServer;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * deploy/kubernetes: every manifest read by the fabric8 model and created on the API server mock;
 * the Deployment runs the Kubernetes backend, the RBAC grants no wildcard and no write beyond the
 * tasks' namespace, and the namespaces agree.
 */
class KubernetesManifestsTest {
  MockApiServer api;
  KubernetesClient client;

  @BeforeEach
  void startApiServer() {
    api = MockApiServer.start();
    client = api.client();
  }

  @AfterEach
  void stopApiServer() {
    api.close();
  }

  @Test
  void theShippedManifestsLoadApplyAndGrantLeastPrivilege() throws Exception {
    var all = new ArrayList<HasMetadata>();
    try (var files = Files.list(Path.of("..", "deploy", "kubernetes"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (InputStream in = Files.newInputStream(f)) {
          List<HasMetadata> items = client.load(in).items();
          assertThat(items).as(f.toString()).isNotEmpty();
          all.addAll(items);
        }
      }
    }
    assertThat(all)
        .extracting(HasMetadata::getKind)
        .contains(
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "Service");
    for (HasMetadata item : all) {
      assertThat(client.resource(item).create()).as(item.getKind()).isNotNull();
    }

    Deployment d = client.apps().deployments().inNamespace("stowage").withName("stowage").get();
    assertThat(d.getSpec().getReplicas()).isEqualTo(1);
    var container = d.getSpec().getTemplate().getSpec().getContainers().getFirst();
    assertThat(container.getArgs())
        .contains(
            "up",
            "--backend=kubernetes",
            "--namespace=stowage-tasks",
            "--kube-stager-image=stowage:0.1.0",
            "--kube-s3-secret=stowage-s3");
    assertThat(container.getEnv())
        .allSatisfy(e -> assertThat(e.getValueFrom().getSecretKeyRef()).isNotNull());
    assertThat(container.getSecurityContext().getAllowPrivilegeEscalation()).isFalse();
    assertThat(d.getSpec().getTemplate().getSpec().getServiceAccountName()).isEqualTo("stowage");

    ClusterRole cluster = client.rbac().clusterRoles().withName("stowage-scheduler").get();
    assertThat(cluster.getRules())
        .flatExtracting(PolicyRule::getVerbs)
        .containsOnly("get", "list", "watch");
    Role tasks = client.rbac().roles().inNamespace("stowage-tasks").withName("stowage-tasks").get();
    var rules = new ArrayList<PolicyRule>(cluster.getRules());
    rules.addAll(tasks.getRules());
    assertThat(rules).flatExtracting(PolicyRule::getVerbs).doesNotContain("*");
    assertThat(rules).flatExtracting(PolicyRule::getResources).doesNotContain("*", "secrets");
  }
}
