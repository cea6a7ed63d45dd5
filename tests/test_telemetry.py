"""Cluster telemetry (components/telemetry.py) and the outside check (components/synthetics.py),
as both stacks plan them: the add-on, its role and log groups, the alarms on its metrics, and a
canary that reaches every service's health path through the ALB's own rules."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import settings
from components import synthetics, telemetry
from components.load_balancer import BACKENDS, HEALTH_ROUTE_HEADER
from components.release import DEPLOYMENTS
from tests.conftest import PROJECT_DIR, as_list, policy, stack_settings, statements

ADDON = "aws:eks/addon:Addon"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CANARY = "aws:synthetics/canary:Canary"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def cluster_name(plan) -> str:
    return plan.one("eks:index:Cluster").inputs["name"]


def addon(plan):
    return plan.one(ADDON, "telemetry-addon")


# --- The add-on ----------------------------------------------------------------------------------

def test_the_addon_is_pinned_for_the_clusters_version_with_signals_off_and_logs_on(stack_plan):
    inputs = addon(stack_plan).inputs
    version = stack_plan.one("eks:index:Cluster").inputs["version"]
    assert inputs["addonName"] == "amazon-cloudwatch-observability"
    assert inputs["addonVersion"] == settings.ADDON_VERSIONS[version]["amazon-cloudwatch-observability"]
    configuration = json.loads(inputs["configurationValues"])
    # Application Signals would inject SDKs into every pod on its next restart (chart >= 5.0.0).
    assert configuration["applicationSignals"] == {"enabled": False}
    assert configuration["containerLogs"] == {"enabled": True}
    # The chart's generated agent config is the one with enhanced observability on.
    assert "agent" not in configuration


def test_the_addon_waits_for_the_nodes_and_for_its_encrypted_log_groups(stack_plan):
    dependencies = set(addon(stack_plan).dependencies)
    assert {g.urn for g in stack_plan.of_type("eks:index:ManagedNodeGroup")} <= dependencies
    cluster = cluster_name(stack_plan)
    groups = {g.inputs["name"]: g for g in stack_plan.of_type(LOG_GROUP)}
    retention = stack_settings(stack_plan.stack).network.log_retention_days
    for kind in ("application", "dataplane", "host", "performance"):
        group = groups[f"/aws/containerinsights/{cluster}/{kind}"]
        assert group.urn in dependencies
        assert group.inputs["retentionInDays"] == retention and group.inputs["kmsKeyId"]
    key = stack_plan.one("aws:kms/key:Key", "telemetry-logs-key")
    [logs] = [s for s in statements(policy(key, "policy")) if s.get("Sid") == "CloudWatchLogsEncryptsNamedLogGroups"]
    assert sorted(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == sorted(
        groups[f"/aws/containerinsights/{cluster}/{k}"].arn for k in telemetry.LOG_KINDS)


def test_the_agents_role_is_the_addons_and_trusts_its_one_service_account(stack_plan):
    role = stack_plan.one("aws:iam/role:Role", "telemetry-agent-role")
    assert addon(stack_plan).inputs["serviceAccountRoleArn"] == role.arn
    [trust] = statements(policy(role, "assumeRolePolicy"))
    [condition] = trust["Condition"].values()
    subjects = [v for k, v in condition.items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:amazon-cloudwatch:cloudwatch-agent"]


def test_the_agent_writes_only_the_stacks_container_log_groups_and_its_metric_namespace(stack_plan):
    [document] = [policy(r, "policy") for r in stack_plan.of_type(ROLE_POLICY) if r.name.startswith("telemetry-")]
    cluster = cluster_name(stack_plan)
    arns = {g.arn for g in stack_plan.of_type(LOG_GROUP)
            if g.inputs["name"].startswith(f"/aws/containerinsights/{cluster}/")}
    assert len(arns) == 4
    for statement in statements(document):
        actions = as_list(statement["Action"])
        writes = [a for a in actions if not a.split(":")[1].startswith(("Describe", "Get", "List"))]
        if "*" in as_list(statement["Resource"]):
            # A write on * is only PutMetricData, and only into Container Insights' namespace.
            assert writes in ([], ["cloudwatch:PutMetricData"]), statement
            if writes:
                assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "ContainerInsights"}}
        else:
            assert {r.removesuffix(":log-stream:*") for r in as_list(statement["Resource"])} == arns


# --- Alarms on its metrics -----------------------------------------------------------------------

def container_alarms(plan) -> dict[str, dict]:
    return {a.inputs["name"].removeprefix(f"ecomind-{plan.stack}-"): a.inputs for a in plan.of_type(ALARM)
            if a.inputs.get("namespace") == "ContainerInsights"}


def test_every_deployment_of_the_release_has_a_restart_and_an_unavailable_alarm(stack_plan):
    deployments = {d["metadata"]["name"] for d in stack_plan.manifests["ecomind-release"] if d["kind"] == "Deployment"}
    assert deployments == set(DEPLOYMENTS)
    found = container_alarms(stack_plan)
    topic = stack_plan.one("aws:sns/topic:Topic").arn
    for deployment in DEPLOYMENTS:
        restarts, unavailable = found[f"{deployment}-restarts"], found[f"{deployment}-unavailable"]
        for alarm in (restarts, unavailable):
            # PodName is the Deployment's name in Container Insights (its ReplicaSets' pods).
            assert alarm["dimensions"] == {"ClusterName": cluster_name(stack_plan), "Namespace": "ecomind",
                                           "PodName": deployment}
            assert alarm["alarmActions"] == [topic]
        assert (restarts["metricName"], restarts["statistic"], restarts["period"]) == (
            "pod_number_of_container_restarts", "Sum", 900)
        assert restarts["threshold"] == telemetry.RESTARTS_PER_15_MINUTES
        assert (unavailable["metricName"], unavailable["statistic"]) == ("status_replicas_unavailable", "Minimum")
        assert unavailable["evaluationPeriods"] * unavailable["period"] == 900 and unavailable["threshold"] == 0


def test_the_capacity_alarm_fires_at_the_sum_of_the_node_groups_maximum_sizes(stack_plan):
    alarm = container_alarms(stack_plan)["nodes-at-capacity"]
    groups = stack_plan.of_type("eks:index:ManagedNodeGroup")
    assert alarm["threshold"] == sum(g.inputs["scalingConfig"]["maxSize"] for g in groups)
    assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["metricName"] == "cluster_node_count"
    assert alarm["dimensions"] == {"ClusterName": cluster_name(stack_plan)}


# --- The outside check ---------------------------------------------------------------------------

def canary(plan):
    return plan.one(CANARY, "canary-canary")


def test_the_canary_calls_the_stacks_url_from_inside_the_vpc_only_without_a_domain(stack_plan):
    inputs = canary(stack_plan).inputs
    variables = inputs["runConfig"]["environmentVariables"]
    assert variables["ECOMIND_BASE_URL"] == stack_plan.outputs["appUrl"]
    assert inputs["startCanary"] is True and inputs["deleteLambda"] is True
    assert inputs["runtimeVersion"] == synthetics.RUNTIME_VERSION
    assert len(inputs["name"]) <= 21 and stack_plan.stack in inputs["name"]
    if stack_plan.stack == "prod":
        assert variables["ECOMIND_BASE_URL"].startswith("https://") and "vpcConfig" not in inputs
    else:
        assert sorted(inputs["vpcConfig"]["subnetIds"]) == sorted(stack_plan.outputs["privateSubnetIds"])
        [group] = inputs["vpcConfig"]["securityGroupIds"]
        out = [r.inputs for r in stack_plan.of_type(EGRESS) if r.inputs["securityGroupId"] == group]
        alb_group = stack_plan.one("aws:ec2/securityGroup:SecurityGroup", "web-alb").id
        assert sorted((e["fromPort"], e.get("referencedSecurityGroupId") or e.get("cidrIpv4")) for e in out) == [
            (80, alb_group), (443, "0.0.0.0/0")]


def matching_rule(plan, listener_name: str, path: str, headers: dict[str, str]) -> str:
    """The service the ALB sends `GET path` with `headers` to, by the planned rules (lowest
    priority first, host conditions met as the canary's URL meets them; the default otherwise)."""
    listener = plan.one(LISTENER, listener_name)
    by_arn = {g.arn: g.name.removeprefix("web-") for g in plan.of_type("aws:lb/targetGroup:TargetGroup")}
    lowered = {k.lower(): v for k, v in headers.items()}
    for rule in sorted((r for r in plan.of_type(RULE) if listener.urn in r.dependencies),
                       key=lambda r: r.inputs["priority"]):
        matched = True
        for condition in rule.inputs["conditions"]:
            if "pathPattern" in condition:
                matched &= any(fnmatch.fnmatchcase(path, p) for p in condition["pathPattern"]["values"])
            if "httpHeader" in condition:
                header = condition["httpHeader"]
                matched &= lowered.get(header["httpHeaderName"].lower()) in header["values"]
        if matched:
            return by_arn[rule.inputs["actions"][0]["targetGroupArn"]]
    return by_arn[listener.inputs["defaultActions"][0]["targetGroupArn"]]


def test_each_step_of_the_canary_reaches_its_own_service_on_its_health_path(stack_plan):
    steps = json.loads(canary(stack_plan).inputs["runConfig"]["environmentVariables"]["ECOMIND_CHECKS"])
    assert sorted(step["name"] for step in steps) == sorted(BACKENDS)
    listener = "web-https" if stack_plan.stack == "prod" else "web-http"
    for step in steps:
        assert step["path"] == BACKENDS[step["name"]].health_path
        assert matching_rule(stack_plan, listener, step["path"], step["headers"]) == step["name"], step
    # Without the header, /health is the ui's: the route is the header's doing.
    assert matching_rule(stack_plan, listener, "/health", {}) == "ui"
    assert HEALTH_ROUTE_HEADER.lower().startswith("x-")


def test_the_canary_logs_into_the_stacks_encrypted_group_and_cannot_make_one(stack_plan):
    inputs = canary(stack_plan).inputs
    group = stack_plan.one(LOG_GROUP, "canary-logs").inputs
    assert group["name"].startswith(f"/aws/lambda/cwsyn-{inputs['name']}-") and group["kmsKeyId"]
    key = stack_plan.one("aws:kms/key:Key", "canary-key-key")
    [logs] = [s for s in statements(policy(key, "policy")) if s.get("Sid") == "CloudWatchLogsEncryptsNamedLogGroups"]
    [pattern] = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert fnmatch.fnmatchcase(stack_plan.one(LOG_GROUP, "canary-logs").arn, pattern)
    document = policy(stack_plan.one(ROLE_POLICY, "canary-role"), "policy")
    actions = {a for s in statements(document) for a in as_list(s["Action"])}
    assert "logs:CreateLogGroup" not in actions, "Lambda would make the group unencrypted and kept forever"
    assert ("ec2:CreateNetworkInterface" in actions) is (stack_plan.stack == "dev")
    artifacts = inputs["artifactConfig"]["s3Encryption"]
    assert artifacts["encryptionMode"] == "SSE_KMS" and artifacts["kmsKeyArn"] == key.arn


def test_the_canarys_alarm_pages_on_two_failed_runs_and_on_silence(stack_plan):
    [alarm] = [a.inputs for a in stack_plan.of_type(ALARM) if a.inputs.get("namespace") == "CloudWatchSynthetics"]
    assert alarm["dimensions"] == {"CanaryName": canary(stack_plan).inputs["name"]}
    assert (alarm["metricName"], alarm["threshold"], alarm["comparisonOperator"]) == (
        "SuccessPercent", 100, "LessThanThreshold")
    assert alarm["evaluationPeriods"] == synthetics.FAILED_RUNS and alarm["treatMissingData"] == "breaching"
    minutes = stack_settings(stack_plan.stack).edge.canary_interval_minutes
    assert alarm["period"] == minutes * 60
    assert canary(stack_plan).inputs["schedule"]["expression"] == f"rate({minutes} minutes)"
    assert alarm["alarmActions"] == [stack_plan.one("aws:sns/topic:Topic").arn]


# --- The canary's code ---------------------------------------------------------------------------

def test_the_zip_holds_the_script_where_the_runtime_loads_it_and_its_name_follows_the_content(tmp_path):
    path = Path(synthetics.package(build_dir=str(tmp_path)))
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [synthetics.ZIP_ENTRY]
        assert archive.read(synthetics.ZIP_ENTRY) == synthetics.SOURCE.read_bytes()
    assert synthetics.package(build_dir=str(tmp_path)) == str(path), "same script, same file"
    changed = tmp_path / "index.js"
    changed.write_text(synthetics.SOURCE.read_text() + "\n// changed\n")
    assert synthetics.package(changed, build_dir=str(tmp_path)) != str(path)


def test_the_planned_zip_is_the_committed_script_packaged(stack_plan):
    assert canary(stack_plan).inputs["zipFile"] == synthetics.package()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_script_makes_one_get_per_step_with_its_headers(tmp_path):
    """The script under Node with a stand-in for the runtime's module, which records each step."""
    module = tmp_path / "node_modules" / synthetics.RUNTIME_MODULE
    module.mkdir(parents=True)
    (module / "index.js").write_text(
        "exports.calls = []; exports.executeHttpStep = async (name, options) => "
        "{ exports.calls.push({name, options}); };")
    runner = tmp_path / "run.js"
    runner.write_text(
        f"const canary = require({json.dumps(str(synthetics.SOURCE))});\n"
        f"const stub = require({json.dumps(synthetics.RUNTIME_MODULE)});\n"
        "canary.handler().then(() => console.log(JSON.stringify(stub.calls)));\n")
    environment = {"NODE_PATH": str(tmp_path / "node_modules"), "ECOMIND_BASE_URL": "https://app.ecomind.example.com",
                   "ECOMIND_CHECKS": json.dumps(synthetics.checks()), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["node", str(runner)], env=environment, capture_output=True, text=True, timeout=30,
                          cwd=PROJECT_DIR)
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout)
    assert [c["name"] for c in calls] == [c["name"] for c in synthetics.checks()]
    for call, check in zip(calls, synthetics.checks(), strict=True):
        options = call["options"]
        assert (options["protocol"], options["hostname"], options["port"], options["method"]) == (
            "https:", "app.ecomind.example.com", 443, "GET")
        assert (options["path"], options["headers"]) == (check["path"], check["headers"])
