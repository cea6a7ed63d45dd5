"""The EcoMind chart, rendered by the real helm with the values each stack computes, then checked
by helm lint, kubernetes-validate (the cluster's Kubernetes version) and checkov.

A missing binary fails these tests: `make test` installs helm and checkov first.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.release import CHART_DIR
from tests.conftest import PROJECT_DIR, STACKS, planned, validate_operator_objects

CHART = PROJECT_DIR / CHART_DIR
HELM = Path(os.environ.get("ECOMIND_HELM", PROJECT_DIR / ".venv" / "bin" / "helm"))
CHECKOV = Path(os.environ.get("ECOMIND_CHECKOV", PROJECT_DIR / ".venv-tools" / "bin" / "checkov"))
KUBERNETES_VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
# Kinds whose schema is not among Kubernetes' own; validated against the operator's schema below.
CUSTOM_KINDS = {"ExternalSecret"}
# TargetGroupBinding v1beta1 as the controller's CRD declares it at chart 3.5.0 (aws/eks-charts
# stable/aws-load-balancer-controller/crds/crds.yaml at 5239609): its spec fields, those it
# requires, and the enum of targetType. No npm package models this CRD, so the test holds them.
TARGET_GROUP_BINDING_SPEC = {"assumeRoleExternalId", "iamRoleArnToAssume", "ipAddressType", "multiClusterTargetGroup",
                             "networking", "nodeSelector", "serviceRef", "targetGroupARN", "targetGroupName",
                             "targetGroupProtocol", "targetType", "vpcID"}
TARGET_GROUP_BINDING_REQUIRED = {"serviceRef"}
SERVICE_REF_FIELDS = {"name", "port"}


def tool(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make test` (it installs helm and checkov)")
    return str(path)


def stack_values(stack: str) -> dict:
    release = planned(stack).one("kubernetes:helm.sh/v3:Release", "ecomind-release")
    return release.inputs["values"]


def helm(*args: str, values: dict | None = None, tmp: Path | None = None, environment: str = "dev"):
    command = [tool(HELM), *args, str(CHART), "-f", str(CHART / f"values-{environment}.yaml")]
    if values is not None:
        values_file = tmp / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        command += ["-f", str(values_file)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@functools.cache
def rendered(stack: str) -> tuple[Path, list[dict]]:
    """What the plan's render (offline/render.py: helm template with the release's own values
    and the cluster's Kubernetes version) says the release installs, also written out one
    object a file for the tools that read a directory. One directory per xdist worker, so that
    no worker deletes the files another is reading."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    out = Path(os.environ.get("PYTEST_RENDER_DIR", PROJECT_DIR / "build" / "chart")) / worker / stack
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*.yaml"):
        old.unlink()
    documents = planned(stack).manifests["ecomind-release"]
    for index, document in enumerate(documents):
        name = f"{index:02d}-{document['kind'].lower()}-{document['metadata']['name']}.yaml"
        (out / name).write_text(yaml.safe_dump(document, sort_keys=False))
    return out, documents


def of_kind(stack: str, kind: str) -> list[dict]:
    return [d for d in rendered(stack)[1] if d["kind"] == kind]


@pytest.fixture(params=STACKS)
def stack(request) -> str:
    return request.param


def test_helm_lint_strict_passes_with_each_stack_values(stack, tmp_path):
    result = helm("lint", "--strict", values=stack_values(stack), tmp=tmp_path, environment=stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_rendered_manifests_validate_against_the_cluster_kubernetes_schemas(stack):
    out, documents = rendered(stack)
    version = planned(stack).one("eks:index:Cluster").inputs["version"] + ".0"
    files = [str(f) for f in sorted(out.rglob("*.yaml"))]
    result = subprocess.run([str(KUBERNETES_VALIDATE), "--strict", "-k", version, *files],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if "Couldn't find schema" in line]
    assert all(any(f"kind {kind} " in line for kind in CUSTOM_KINDS) for line in skipped), skipped
    assert len(skipped) == sum(d["kind"] in CUSTOM_KINDS for d in documents)


def test_external_secrets_validate_against_the_external_secrets_schema(stack):
    documents = of_kind(stack, "ExternalSecret")
    assert len(documents) >= 4
    assert [r for r in validate_operator_objects(documents) if r["errors"]] == []


def test_checkov_finds_no_failed_check_and_every_skip_says_why(stack):
    out, _ = rendered(stack)
    result = subprocess.run([tool(CHECKOV), "-d", str(out), "--framework", "kubernetes", "--skip-download",
                             "-o", "json"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 100
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 20, skipped["check_id"]


def test_each_deployment_restarts_for_exactly_the_secrets_it_reads(stack):
    deployments = of_kind(stack, "Deployment")
    restarted = 0
    for deployment in deployments:
        read = {env["valueFrom"]["secretKeyRef"]["name"]
                for container in deployment["spec"]["template"]["spec"]["containers"]
                for env in container.get("env", []) if "secretKeyRef" in env.get("valueFrom", {})}
        annotation = deployment["metadata"].get("annotations", {}).get("secret.reloader.stakater.com/reload")
        assert set(annotation.split(",") if annotation else []) == read, deployment["metadata"]["name"]
        restarted += bool(read)
    assert restarted == 2, "gateway and api read secrets; the worker (IAM database login) and the ui none"


def test_signing_keys_reach_their_service_as_current_and_previous(stack):
    by_name = {d["metadata"]["name"]: d for d in of_kind(stack, "ExternalSecret")}
    for secret, key, service in (("ecomind-jwt", "JWT_SECRET", "ecomind-api"),
                                 ("ecomind-gateway-hmac", "GATEWAY_HMAC_SECRET", "ecomind-gateway")):
        data = {d["secretKey"]: d["remoteRef"] for d in by_name[secret]["spec"]["data"]}
        assert data[key]["property"] == "current" and data[f"{key}_PREVIOUS"]["property"] == "previous"
        assert data[key]["key"] == data[f"{key}_PREVIOUS"]["key"]
        [deployment] = [d for d in of_kind(stack, "Deployment") if d["metadata"]["name"] == service]
        env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert {key, f"{key}_PREVIOUS"} <= env


def test_every_workload_runs_restricted(stack):
    pods = [(d["metadata"]["name"], d["spec"]["template"]["spec"])
            for d in of_kind(stack, "Deployment") + of_kind(stack, "Job")]
    assert len(pods) == 5
    for name, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert ":latest" not in container["image"] and ":" in container["image"], name


def test_http_services_have_probes_and_the_worker_has_none(stack):
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in of_kind(stack, "Deployment")}
    expected = {"gateway": ("/health", 8080), "api": ("/health", 8000), "ui": ("/", 3000)}
    for component, (path, port) in expected.items():
        [container] = deployments[component]["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == path
        assert container["livenessProbe"]["httpGet"]["path"] == path
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    [worker] = deployments["worker"]["spec"]["template"]["spec"]["containers"]
    assert "readinessProbe" not in worker and "ports" not in worker


def test_environment_matches_the_application_contract(stack):
    env = {d["metadata"]["labels"]["app.kubernetes.io/component"]:
           {e["name"]: e for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
           for d in of_kind(stack, "Deployment")}
    assert {"PORT", "KAFKA_BROKERS", "REDIS_ADDR", "GATEWAY_HMAC_SECRET"} <= set(env["gateway"])
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ACCESS_TOKEN_EXPIRE_MINUTES"} <= set(env["api"])
    assert {"KAFKA_BROKERS", "DATABASE_URL"} <= set(env["worker"])
    assert {"NEXT_PUBLIC_API_URL"} <= set(env["ui"])
    for component, variables in env.items():
        for name in ("REDIS_URL", "JWT_SECRET", "GATEWAY_HMAC_SECRET", "REDIS_PASSWORD", "JWT_SECRET_PREVIOUS",
                     "GATEWAY_HMAC_SECRET_PREVIOUS"):
            if name in variables:
                assert "value" not in variables[name], (component, name)
                assert variables[name]["valueFrom"]["secretKeyRef"]["name"].startswith("ecomind-")
    assert env["gateway"]["KAFKA_BROKERS"]["value"] == planned(stack).outputs["kafkaBootstrapBrokers"]


def test_the_services_log_in_to_rds_as_their_own_role_with_iam_tokens_and_no_password(stack):
    # RDS rotates the master password; a service holding it would fail new connections until it
    # restarted with the new one. The services instead log in as their own role with IAM
    # authentication tokens they mint (valid 15 minutes), and only the migrations use the master.
    host = stack_values(stack)["database"]["host"]
    for deployment in of_kind(stack, "Deployment"):
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        if "DATABASE_URL" not in env:
            continue
        assert env["DATABASE_URL"] == {"name": "DATABASE_URL",
                                       "value": f"postgresql://ecomind_app@{host}:5432/ecomind?sslmode=verify-full"}
        assert env["DATABASE_IAM_AUTH"]["value"] == "true"
    secrets = {e["metadata"]["name"] for e in of_kind(stack, "ExternalSecret")}
    assert "ecomind-database" not in secrets, "no service reads the master credentials"
    [job] = of_kind(stack, "Job")
    job_env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert job_env["DATABASE_APP_USER"]["value"] == "ecomind_app"
    assert job_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "ecomind-migrations-database"


def test_replicas_spread_over_zones_with_a_disruption_budget_each(stack):
    for deployment in of_kind(stack, "Deployment"):
        constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        zone = next(c for c in constraints if c["topologyKey"] == "topology.kubernetes.io/zone")
        assert zone["whenUnsatisfiable"] == ("DoNotSchedule" if stack == "prod" else "ScheduleAnyway")
    budgets = {b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
               for b in of_kind(stack, "PodDisruptionBudget")}
    assert budgets == {"gateway", "api", "worker", "ui"}


def test_gateway_and_api_autoscale(stack):
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(stack, "HorizontalPodAutoscaler")}
    assert set(hpas) == {"ecomind-gateway", "ecomind-api"}
    assert all(h["apiVersion"] == "autoscaling/v2" for h in hpas.values())
    assert hpas["ecomind-api"]["spec"]["minReplicas"] == (3 if stack == "prod" else 2)


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook_after_their_secret(stack):
    [job] = of_kind(stack, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["alembic", "upgrade", "head"]
    assert "/api:" in job["spec"]["template"]["spec"]["containers"][0]["image"]
    secret = next(e for e in of_kind(stack, "ExternalSecret") if e["metadata"]["name"] == "ecomind-migrations-database")
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    [api] = [d for d in of_kind(stack, "Deployment") if d["metadata"]["name"] == "ecomind-api"]
    assert "command" not in api["spec"]["template"]["spec"]["containers"][0]  # the api never migrates itself


def test_each_http_service_is_bound_to_its_own_target_group_of_the_stack_before_the_release(stack):
    """The stack creates the bindings, before the release, so that the first install's pods get
    their readiness gates (Helm would create a chart's bindings after its Deployments)."""
    plan = planned(stack)
    groups = {g.name.removeprefix("web-"): g for g in plan.of_type("aws:lb/targetGroup:TargetGroup")}
    services = {d["metadata"]["name"]: d for d in of_kind(stack, "Service")}
    assert not of_kind(stack, "TargetGroupBinding")
    bindings = plan.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")
    assert sorted(b.inputs["metadata"]["name"] for b in bindings) == ["ecomind-api", "ecomind-gateway", "ecomind-ui"]
    release = plan.one("kubernetes:helm.sh/v3:Release", "ecomind-release")
    vpc = plan.one("aws:ec2/vpc:Vpc")
    for binding in bindings:
        assert binding.urn in plan.upstream_of(release)
        assert binding.inputs["apiVersion"] == "elbv2.k8s.aws/v1beta1"
        assert binding.inputs["metadata"]["namespace"] == release.inputs["namespace"]
        spec = binding.inputs["spec"]
        assert set(spec) <= TARGET_GROUP_BINDING_SPEC and set(spec) >= TARGET_GROUP_BINDING_REQUIRED
        assert set(spec["serviceRef"]) == SERVICE_REF_FIELDS
        service = services[spec["serviceRef"]["name"]]
        [port] = service["spec"]["ports"]
        assert spec["serviceRef"]["port"] == port["port"]
        group = groups[binding.inputs["metadata"]["name"].removeprefix("ecomind-")]
        assert spec["targetGroupARN"] == group.arn and group.inputs["port"] == port["port"]
        # The pods' IPs, as the target group's type; the controller manages no security group rule.
        assert spec["targetType"] == "ip" == group.inputs["targetType"] and "networking" not in spec
        assert spec["vpcID"] == vpc.id == group.inputs["vpcId"]


def test_network_policies_deny_by_default_and_allow_only_the_app_flows(stack):
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(stack, "NetworkPolicy")}
    assert policies["ecomind-default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    data = {c for c in stack_values(stack)["network"]["dataCidrs"]}

    def egress_ports(name):
        return {(p["port"]) for rule in policies[name]["egress"] for p in rule.get("ports", [])
                if any(t.get("ipBlock", {}).get("cidr") in data for t in rule["to"])}
    assert egress_ports("ecomind-gateway") == {9098, 6379}
    assert egress_ports("ecomind-api") == {5432, 6379}
    assert egress_ports("ecomind-worker") == {9098, 5432}
    assert egress_ports("ecomind-migrations") == {5432}
    assert policies["ecomind-worker"]["ingress"] == []

    # The timescaledb engine's pods and Services, by namespace, on 5432 only: for exactly the
    # services that reach PostgreSQL.
    in_cluster = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ecomind-db"}},
                  "podSelector": {"matchExpressions": [{"key": "cnpg.io/cluster", "operator": "Exists"}]}}

    def to_in_cluster_database(name):
        return [rule["ports"] for rule in policies[name]["egress"] if in_cluster in rule.get("to", [])]
    for name in ("ecomind-api", "ecomind-worker", "ecomind-migrations"):
        assert to_in_cluster_database(name) == [[{"protocol": "TCP", "port": 5432}]], name
    assert to_in_cluster_database("ecomind-gateway") == []
    ui_egress = policies["ecomind-ui"]["egress"]
    assert len(ui_egress) == 1 and ui_egress[0]["ports"] == [{"protocol": "TCP", "port": 8000}]

    # 443 to AWS's public APIs, never into the VPC nor to a Service's ClusterIP (a webhook's among
    # them): the VPC CNI's policy agent sees the ClusterIP before kube-proxy translates it.
    import settings

    cluster = planned(stack).one("eks:index:Cluster")
    assert cluster.inputs["kubernetesServiceIpAddressRange"] == settings.KUBERNETES_SERVICE_CIDR
    for name in ("ecomind-gateway", "ecomind-api", "ecomind-worker"):
        [public] = [t["ipBlock"] for rule in policies[name]["egress"] for t in rule["to"]
                    if t.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"]
        assert public["except"] == [stack_values(stack)["network"]["vpcCidr"], settings.KUBERNETES_SERVICE_CIDR]


# Selectors of the Services CloudNativePG makes for a cluster, and the labels of its instance
# pods (cloudnative-pg pkg/specs/services.go and pods.go at v1.30.0).
CNPG_SERVICE_SELECTORS = {
    "rw": {"cnpg.io/cluster": "ecomind", "cnpg.io/instanceRole": "primary"},
    "ro": {"cnpg.io/cluster": "ecomind", "cnpg.io/instanceRole": "replica"},
    "r": {"cnpg.io/cluster": "ecomind", "cnpg.io/podRole": "instance"},
}
CNPG_PRIMARY_POD_LABELS = {"cnpg.io/cluster": "ecomind", "cnpg.io/podRole": "instance",
                           "cnpg.io/instanceRole": "primary", "role": "primary"}


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector against a label set, as apimachinery's labels.Selector.Matches does."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if not {"Exists": present, "DoesNotExist": not present, "In": present and labels[key] in values,
                "NotIn": not present or labels[key] not in values}[operator]:
            return False
    return True


def test_database_clients_may_reach_the_engine_services_cluster_ips(stack):
    """The VPC CNI policy agent matches the egress podSelector against each Service's selector
    to admit its ClusterIP (endpoints.go); a selector with a key the -rw Service lacks (such as
    cnpg.io/podRole) admits the pods but never the address clients dial."""
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(stack, "NetworkPolicy")}
    selectors = [peer["podSelector"] for rule in policies["ecomind-api"]["egress"] for peer in rule.get("to", [])
                 if "namespaceSelector" in peer]
    assert selectors
    for selector in selectors:
        for service, service_selector in CNPG_SERVICE_SELECTORS.items():
            assert selects(selector, service_selector), f"the -{service} Service's ClusterIP is not admitted"
        assert selects(selector, CNPG_PRIMARY_POD_LABELS), "the instance pods themselves are not admitted"


def test_secrets_come_from_external_secrets_by_arn_and_never_from_values(stack):
    values = stack_values(stack)
    secrets = {e["metadata"]["name"]: e for e in of_kind(stack, "ExternalSecret")}
    assert set(secrets) == {"ecomind-cache", "ecomind-jwt", "ecomind-gateway-hmac", "ecomind-migrations-database"}
    for secret in secrets.values():
        assert secret["apiVersion"] == "external-secrets.io/v1"
        assert secret["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}
        keys = [d["remoteRef"]["key"] for d in secret["spec"].get("data", [])] + \
               [d["extract"]["key"] for d in secret["spec"].get("dataFrom", [])]
        assert keys and all(k.startswith("arn:aws:secretsmanager:") for k in keys)
    template = secrets["ecomind-migrations-database"]["spec"]["target"]["template"]["data"]["DATABASE_URL"]
    host = values["database"]["host"]
    credentials = "{{ .username | urlquery }}:{{ .password | urlquery }}"
    assert template == f"postgresql://{credentials}@{host}:5432/ecomind?sslmode=require"
    extract = secrets["ecomind-migrations-database"]["spec"]["dataFrom"][0]["extract"]
    assert extract["key"] == values["secrets"]["databaseSecretArn"]


def test_service_accounts_carry_the_irsa_roles_the_stack_made(stack):
    accounts = {a["metadata"]["name"]: a for a in of_kind(stack, "ServiceAccount")}
    roles = planned(stack).outputs["appRoleArns"]
    for service in ("gateway", "api", "worker"):
        assert accounts[f"ecomind-{service}"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == roles[service]
    assert "annotations" not in accounts["ecomind-ui"]["metadata"]


@pytest.mark.parametrize("change,error", [
    ({"image": {"tag": "latest"}}, "/image/tag"),
    ({"image": {"tag": ""}}, "/image/tag"),
    ({"secrets": {"jwtSecretArn": "my-plaintext-secret"}}, "/secrets/jwtSecretArn"),
    ({"secrets": {"jwtSecretArn": "ecomind/prod/jwt secret"}}, "/secrets/jwtSecretArn"),
    ({"databasePassword": "hunter2"}, "additional properties"),
    ({"network": {"dataCidrs": []}}, "/network/dataCidrs"),
])
def test_schema_rejects_malformed_values(tmp_path, change, error):
    values = json.loads(json.dumps(stack_values("dev")))
    for key, value in change.items():
        if isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    result = helm("template", "ecomind", values=values, tmp=tmp_path)
    assert result.returncode != 0 and error in result.stderr, result.stderr
