"""The EcoMind release and the cluster services it needs, as both stacks plan them."""

from __future__ import annotations

import json

import pytest

import settings
from analyses.deployment import chart_budgets
from components.cluster_services import (
    CLUSTER_AUTOSCALER,
    EXTERNAL_SECRETS,
    LOAD_BALANCER_CONTROLLER,
    RELOADER,
)
from components.release import ChartInputs, chart_values
from offline.plan import plan_stack
from tests.conftest import PROJECT_DIR, as_list, policy, statements

RELEASE = "kubernetes:helm.sh/v3:Release"


def release(plan):
    return plan.one(RELEASE, "ecomind-release")


def test_the_release_installs_the_local_chart_atomically_with_a_timeout(stack_plan):
    inputs = release(stack_plan).inputs
    assert inputs["chart"] == "charts/ecomind" and inputs["namespace"] == "ecomind" and inputs["name"] == "ecomind"
    assert inputs["atomic"] is True and inputs["cleanupOnFail"] is True and inputs["waitForJobs"] is True
    assert 0 < inputs["timeout"] <= 900
    assert inputs["valueYamlFiles"] == [{"path": f"charts/ecomind/values-{stack_plan.stack}.yaml"}]
    assert "repositoryOpts" not in inputs  # the chart renders from this repository, offline


def test_the_release_waits_for_the_services_whose_crds_and_webhooks_it_uses(stack_plan):
    dependencies = release(stack_plan).dependencies
    needed = [(RELEASE, "services-external-secrets"), (RELEASE, "services-aws-load-balancer-controller"),
              ("kubernetes:external-secrets.io/v1:ClusterSecretStore", "services-secret-store"),
              ("aws:eks/addon:Addon", "services-metrics-server"),
              ("kubernetes:core/v1:Namespace", "ecomind-namespace")]
    for typ, name in needed:
        assert stack_plan.one(typ, name).urn in dependencies, name


def test_the_namespace_enforces_the_restricted_pod_security_standard(stack_plan):
    namespace = stack_plan.one("kubernetes:core/v1:Namespace", "ecomind-namespace").inputs["metadata"]
    assert namespace["name"] == "ecomind"
    modes = ("enforce", "audit", "warn")
    assert {namespace["labels"][f"pod-security.kubernetes.io/{m}"] for m in modes} == {"restricted"}


def test_values_carry_the_stack_outputs(stack_plan):
    values = release(stack_plan).inputs["values"]
    outputs = stack_plan.outputs
    assert values["database"]["host"] == outputs["database"]["host"]
    assert values["secrets"]["databaseSecretArn"] == outputs["database"]["secretArn"]
    assert values["kafka"]["bootstrapBrokers"] == outputs["kafkaBootstrapBrokers"]
    assert values["cache"]["host"] == outputs["cache"]["host"]
    assert values["secrets"]["cacheSecretArn"] == outputs["secretArns"]["cache"]
    assert values["secrets"]["jwtSecretArn"] == outputs["secretArns"]["jwt"]
    assert values["storage"]["reportsBucket"] == outputs["reportsBucket"]
    assert values["image"]["repositories"] == outputs["ecrRepositories"]
    assert values["image"]["tag"] == {"dev": "2026.11.20-3f2a1bc", "prod": "2026.11.18-9c41d07"}[stack_plan.stack]
    assert {s: a["roleArn"] for s, a in values["serviceAccounts"].items()} == outputs["appRoleArns"]


def test_no_secret_value_reaches_the_release_values(stack_plan):
    text = json.dumps(release(stack_plan).inputs["values"])
    assert "[secret]" not in text and "offline-" not in text
    for key in ("password", "token", "secretString"):
        assert key not in text


def test_chart_values_is_pure_and_complete():
    inputs = ChartInputs(
        image_tag="t1", repositories={s: f"r/{s}" for s in ("gateway", "api", "worker", "ui")}, region="us-east-1",
        database_host="db", database_port=5432, database_name="ecomind", kafka_bootstrap_brokers="b:9098",
        cache_host="c", cache_port=6379, reports_bucket="reports", secret_store_name="store",
        database_secret_arn="a1", cache_secret_arn="a2", jwt_secret_arn="a3", gateway_hmac_secret_arn="a4",
        role_arns={"api": "r1"}, load_balancer_cidrs=["10.0.0.0/24"],
        data_cidrs=["10.0.1.0/24"], vpc_cidr="10.0.0.0/16", service_cidr="172.20.0.0/16", host=None)
    first, second = chart_values(inputs), chart_values(inputs)
    assert first == second
    assert "loadBalancer" not in first  # the bindings are the stack's, before the release
    assert first["ui"]["apiUrl"] == ""
    assert first["network"]["loadBalancerCidrs"] == ["10.0.0.0/24"]
    with_domain = chart_values(ChartInputs(**{**inputs.__dict__, "host": "app.example.com"}))
    assert with_domain["ui"]["apiUrl"] == "https://app.example.com"


@pytest.mark.parametrize("name,spec,namespace", [
    ("services-aws-load-balancer-controller", LOAD_BALANCER_CONTROLLER, "kube-system"),
    ("services-external-secrets", EXTERNAL_SECRETS, "external-secrets"),
    ("services-cluster-autoscaler", CLUSTER_AUTOSCALER, "kube-system"),
    # Its own namespace: scoped mode's Roles in kube-system would read every Secret there.
    ("ecomind-reloader", RELOADER, "reloader"),
])
def test_cluster_services_are_pinned_upstream_charts(stack_plan, name, spec, namespace):
    inputs = stack_plan.one(RELEASE, name).inputs
    assert inputs["chart"] == spec["chart"] and inputs["version"] == spec["version"]
    assert inputs["repositoryOpts"] == {"repo": spec["repo"]}
    assert inputs["namespace"] == namespace and inputs["atomic"] is True
    assert all(part.isdigit() for part in spec["version"].split("."))


def test_each_cluster_service_has_its_own_irsa_role(stack_plan):
    expected = {"services-load-balancer-controller": "kube-system:aws-load-balancer-controller",
                "services-external-secrets": "external-secrets:external-secrets",
                "services-cluster-autoscaler": "kube-system:cluster-autoscaler"}
    for role_name, subject in expected.items():
        [trust] = statements(policy(stack_plan.one("aws:iam/role:Role", f"{role_name}-role"), "assumeRolePolicy"))
        assert [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")] == [
            f"system:serviceaccount:{subject}"]
    values = stack_plan.one(RELEASE, "services-aws-load-balancer-controller").inputs["values"]
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert values["clusterName"] == f"ecomind-infra-{stack_plan.stack}"


def test_external_secrets_reads_exactly_the_ecomind_secrets(stack_plan):
    document = policy(stack_plan.one("aws:iam/rolePolicy:RolePolicy", "services-external-secrets-external-secrets"),
                      "policy")
    [read] = [s for s in statements(document) if s["Sid"] == "ReadNamedSecrets"]
    assert sorted(read["Resource"]) == sorted(stack_plan.outputs["secretArns"].values())
    [decrypt] = [s for s in statements(document) if s["Sid"] == "DecryptThroughSecretsManager"]
    assert decrypt["Resource"].startswith("arn:aws:kms:")
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "secretsmanager.us-east-1.amazonaws.com"


def test_secret_store_reads_secrets_manager_in_the_stack_region(stack_plan):
    store = stack_plan.one("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    assert store.inputs["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": "us-east-1"}}
    # Only the release's namespace may use the store (and the database's, with that engine).
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["ecomind"]}]
    assert stack_plan.one(RELEASE, "services-external-secrets").urn in store.dependencies


def test_cluster_autoscaler_resizes_only_this_cluster_and_matches_its_version(stack_plan):
    document = policy(stack_plan.one("aws:iam/rolePolicy:RolePolicy",
                                     "services-cluster-autoscaler-cluster-autoscaler"), "policy")
    [resize] = [s for s in statements(document) if "autoscaling:SetDesiredCapacity" in as_list(s["Action"])]
    cluster = f"ecomind-infra-{stack_plan.stack}"
    assert resize["Condition"]["StringEquals"][f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}"] == "owned"
    values = stack_plan.one(RELEASE, "services-cluster-autoscaler").inputs["values"]
    version = stack_plan.one("eks:index:Cluster").inputs["version"]
    assert values["image"]["tag"] == settings.CLUSTER_AUTOSCALER_IMAGE_TAGS[version]
    assert values["image"]["tag"].startswith(f"v{version}.")
    assert values["autoDiscovery"]["clusterName"] == cluster


def test_load_balancer_controller_mutates_only_what_it_tagged(stack_plan):
    document = policy(stack_plan.one("aws:iam/rolePolicy:RolePolicy",
                                     "services-load-balancer-controller-load-balancer-controller"), "policy")
    for statement in statements(document):
        actions = as_list(statement["Action"])
        destructive = ("elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
                       "ec2:DeleteSecurityGroup")
        if any(a in destructive for a in actions):
            assert "aws:ResourceTag/elbv2.k8s.aws/cluster" in json.dumps(statement.get("Condition", {})), statement
        assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_metrics_server_is_the_pinned_eks_add_on(stack_plan):
    addon = stack_plan.one("aws:eks/addon:Addon", "services-metrics-server").inputs
    version = stack_plan.one("eks:index:Cluster").inputs["version"]
    assert addon["addonName"] == "metrics-server"
    assert addon["addonVersion"] == settings.ADDON_VERSIONS[version]["metrics-server"]


def test_controllers_run_on_the_system_nodes(stack_plan):
    placements = [stack_plan.one(RELEASE, name).inputs["values"] for name in (
        "services-aws-load-balancer-controller", "services-external-secrets", "services-cluster-autoscaler")]
    placements.append(stack_plan.one(RELEASE, "ecomind-reloader").inputs["values"]["reloader"]["deployment"])
    for values in placements:
        assert values["nodeSelector"] == {"ecomind.io/node-group": "system"}
        assert {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]


def test_kubernetes_provider_gets_the_kubeconfig_as_a_secret(stack_plan):
    provider = stack_plan.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"


def test_changing_only_the_image_tag_changes_only_the_release(tmp_path):
    text = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
    changed = tmp_path / "Pulumi.dev.yaml"
    changed.write_text(text.replace("2026.11.20-3f2a1bc", "2026.11.24-77aa01e"))
    before, _ = plan_stack("dev")
    after, _ = plan_stack("dev", changed)
    differing = [a.name for a, b in zip(before.resources, after.resources, strict=True) if a != b]
    assert differing == ["ecomind-release"]
    assert after.one(RELEASE, "ecomind-release").inputs["values"]["image"]["tag"] == "2026.11.24-77aa01e"


@pytest.fixture(scope="module", params=[("dev", ()), ("prod", ()), ("prod", ("databaseEngine=timescaledb",))],
                ids=["dev", "prod", "prod-timescaledb"])
def any_plan(request):
    from tests.conftest import planned

    return planned(*request.param)


def test_every_release_waits_for_the_load_balancer_controller_webhooks(any_plan):
    """Its Service mutating webhook (failurePolicy Fail) refuses every Service created before
    its pods serve (eks-charts templates/webhook.yaml; aws-load-balancer-controller#4140)."""
    controller = any_plan.one(RELEASE, "services-aws-load-balancer-controller")
    others = [r for r in any_plan.of_type(RELEASE) if r.urn != controller.urn]
    assert len(others) >= 3
    for other in others:
        assert controller.urn in any_plan.upstream_of(other), f"{other.name} may race the controller's webhooks"


def test_no_chart_budget_lets_no_drain_finish(any_plan):
    """minAvailable equal to the replica count allows zero evictions: node drains, upgrades
    and scale-downs never finish (the external-secrets chart's default minAvailable 1)."""
    checked = 0
    for chart in any_plan.of_type(RELEASE):
        for where, replicas, budget in chart_budgets(chart.inputs.get("values", {})):
            checked += 1
            if "maxUnavailable" in budget:  # the charts render maxUnavailable when both are set
                assert budget["maxUnavailable"] >= 1, f"{chart.name} {where}"
            else:
                assert budget["minAvailable"] < replicas, f"{chart.name} {where}: minAvailable {budget} of {replicas}"
    assert checked >= 4


def test_external_secrets_runs_two_leader_elected_replicas_of_each_part(stack_plan):
    values = stack_plan.one(RELEASE, "services-external-secrets").inputs["values"]
    assert values["leaderElect"] is True
    for section in (values, values["webhook"], values["certController"]):
        assert section["replicaCount"] == 2
        assert section["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}


def test_with_the_in_cluster_engine_the_database_namespace_may_use_the_secret_store_too():
    from tests.conftest import planned

    store = planned("prod", ("databaseEngine=timescaledb",)).one("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["ecomind", "ecomind-db"]}]


def test_reloader_restarts_the_ecomind_services_when_a_secret_they_read_changes(stack_plan):
    # The services read secrets once, at start; External Secrets rewrites a Kubernetes Secret
    # when Secrets Manager's value changes (refreshInterval), and Reloader then rolls the
    # Deployments whose annotation names it (stakater/Reloader chart 2.2.16 values.yaml).
    reloader = stack_plan.one(RELEASE, "ecomind-reloader")
    values = reloader.inputs["values"]["reloader"]
    assert values["watchGlobally"] is False and values["namespaces"] == ["ecomind"], "scoped: Roles, no ClusterRole"
    assert values["enableHA"] is True and values["deployment"]["replicas"] == 2
    assert values["podDisruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert values["reloadStrategy"] == "annotations" and values["ignoreConfigMaps"] is True
    assert values["readOnlyRootFileSystem"] is True
    namespace = stack_plan.one("kubernetes:core/v1:Namespace", "ecomind-namespace")
    assert namespace.urn in reloader.dependencies, "its Role in the ecomind namespace needs the namespace"
    assert stack_plan.one(RELEASE, "services-aws-load-balancer-controller").urn in reloader.dependencies
    assert reloader.urn not in stack_plan.one(RELEASE, "ecomind-release").dependencies, "beside it, not before"
