"""analyses/deployment.py: every rule passes on the real plans and fails on a plan changed the
way a real deployment would fail (each fixture reverts one review finding in the plan)."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from analyses import deployment
from analyses.model import Plan
from tests.conftest import planned

VARIANTS = [("dev", ()), ("prod", ()), ("dev", ("databaseEngine=timescaledb",)),
            ("prod", ("databaseEngine=timescaledb",))]


@pytest.mark.parametrize("stack,overrides", VARIANTS, ids=["dev", "prod", "dev-timescaledb", "prod-timescaledb"])
def test_the_real_plans_break_no_rule(stack, overrides):
    assert deployment.violations(planned(stack, overrides)) == []


def test_every_rule_names_an_upstream_source():
    assert len(deployment.RULES) == 15
    assert len({r.id for r in deployment.RULES}) == len(deployment.RULES)
    for rule in deployment.RULES:
        assert rule.description and len(rule.source) > 20, rule.id


def changed(plan: Plan, select, change=None, **fields) -> Plan:
    """`plan` with `change(inputs)` and `fields` applied to every resource `select` accepts."""
    resources = []
    for r in plan.resources:
        if select(r):
            inputs = copy.deepcopy(r.inputs)
            if change:
                change(inputs)
            r = dataclasses.replace(r, inputs=inputs, **fields)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def without_dependency(plan: Plan, select, dropped) -> Plan:
    """`plan` where the resources `select` accepts no longer depend on (or use) what `dropped` accepts."""
    gone = {r.urn for r in plan.resources if dropped(r)}
    assert gone, "the fixture drops nothing"
    return dataclasses.replace(plan, resources=[
        dataclasses.replace(r, dependencies=[d for d in r.dependencies if d not in gone],
                            provider=None if r.provider in gone else r.provider) if select(r) else r
        for r in plan.resources])


def named(typ: str, name: str | None = None):
    return lambda r: r.type == typ and (name is None or r.name == name)


CONTROLLER = "services-aws-load-balancer-controller"


def addon(name: str):
    return lambda r: r.type == "aws:eks/addon:Addon" and r.inputs.get("addonName") == name


NODE_GROUP = named("eks:index:ManagedNodeGroup")
RELEASE = "kubernetes:helm.sh/v3:Release"


def coredns_inside_the_cluster(plan):
    return changed(plan, named("eks:index:Cluster"), lambda i: i["corednsAddonOptions"].update(enabled=True))


def preview_role_with_view_only(plan):
    def change(inputs):
        entry = inputs["accessEntries"]["ci-preview"]
        entry["accessPolicies"] = {"AmazonEKSViewPolicy": {
            "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            "accessScope": {"type": "cluster"}}}
    return changed(plan, named("eks:index:Cluster"), change)


def creator_listed_as_admin(plan):
    def change(inputs):
        inputs["accessEntries"]["admin-9"] = {"principalArn": plan.settings["cluster_access"]["creator_role_arn"],
                                              "accessPolicies": {}}
    return changed(plan, named("eks:index:Cluster"), change)


def kafka_without_idempotence(plan):
    def change(inputs):
        document = json.loads(inputs["policy"])
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "IdempotentProduce"]
        inputs["policy"] = json.dumps(document)
    return changed(plan, lambda r: r.type == "aws:iam/rolePolicy:RolePolicy" and r.name == "app-gateway-kafka", change)


def budget_without_unhealthy_eviction(plan):
    """A budget that counts unready pods: one crash-looping pod blocks every drain of its node."""
    manifests = copy.deepcopy(plan.manifests)
    for document in manifests["ecomind-release"]:
        if document["kind"] == "PodDisruptionBudget":
            document["spec"].pop("unhealthyPodEvictionPolicy")
    return dataclasses.replace(plan, manifests=manifests)


def ui_without_safe_to_evict(plan):
    """KM1 reverted: the UI's pods keep their emptyDirs unnamed for Cluster Autoscaler."""
    manifests = copy.deepcopy(plan.manifests)
    for document in manifests["ecomind-release"]:
        if document["kind"] == "Deployment" and document["metadata"]["name"] == "ecomind-ui":
            document["spec"]["template"]["metadata"]["annotations"].pop(deployment.SAFE_TO_EVICT_LOCAL_VOLUMES)
    return dataclasses.replace(plan, manifests=manifests)


def alb_beside_the_pods(plan):
    """km reverted: dev's internal ALB in the private subnets, so the policies admit the pods' ranges."""
    private = [s.inputs["cidrBlock"] for s in plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in s.name]
    manifests = copy.deepcopy(plan.manifests)
    for document in manifests["ecomind-release"]:
        for rule in document["spec"].get("ingress", []) if document["kind"] == "NetworkPolicy" else []:
            if any("ipBlock" in source for source in rule.get("from", [])):
                rule["from"] = [{"ipBlock": {"cidr": cidr}} for cidr in private]
    return dataclasses.replace(plan, manifests=manifests)


def api_without_keep_alive(plan):
    """KM4 reverted: the api's uvicorn left at its 5 s keep-alive under the ALB's 60 s."""
    manifests = copy.deepcopy(plan.manifests)
    for document in manifests["ecomind-release"]:
        if document["kind"] == "Deployment" and document["metadata"]["name"] == "ecomind-api":
            for container in document["spec"]["template"]["spec"]["containers"]:
                container["env"] = [e for e in container["env"] if e["name"] != "UVICORN_TIMEOUT_KEEP_ALIVE"]
    return dataclasses.replace(plan, manifests=manifests)


FIXTURES = {
    "pod-addons-after-nodes": [coredns_inside_the_cluster,
                               lambda p: without_dependency(p, addon("coredns"), NODE_GROUP),
                               # It waits for the nodes through CoreDNS, the EBS CSI driver and the
                               # controller too: drop all.
                               lambda p: without_dependency(p, addon("metrics-server"),
                                                            lambda r: NODE_GROUP(r) or addon("coredns")(r)
                                                            or addon("aws-ebs-csi-driver")(r)
                                                            or named(RELEASE, CONTROLLER)(r))],
    "kubernetes-after-nodes": [lambda p: without_dependency(p, named("pulumi:providers:kubernetes"),
                                                            lambda r: NODE_GROUP(r) or addon("coredns")(r))],
    "custom-resources-after-crds": [
        lambda p: without_dependency(p, named("kubernetes:external-secrets.io/v1:ClusterSecretStore"),
                                     named(RELEASE, "services-external-secrets"))],
    "after-load-balancer-webhooks": [
        lambda p: without_dependency(p, named(RELEASE, "services-cluster-autoscaler"),
                                     named(RELEASE, "services-aws-load-balancer-controller")),
        # M2/KM5: the add-ons that create Services, created beside the controller.
        lambda p: without_dependency(p, addon("metrics-server"), named(RELEASE, CONTROLLER)),
        lambda p: without_dependency(p, addon("amazon-cloudwatch-observability"), named(RELEASE, CONTROLLER))],
    "scale-down-with-local-storage": [ui_without_safe_to_evict],
    # M1: the ALB switched its access logs on before the log bucket's policy let ELB write.
    "logging-after-bucket-policy": [
        lambda p: without_dependency(p, named("aws:lb/loadBalancer:LoadBalancer"),
                                     named("aws:s3/bucketPolicy:BucketPolicy"))],
    "ingress-admits-no-pod-range": [alb_beside_the_pods],
    # A target group replaced (port, protocol or VPC) would be a new ARN sent as an update.
    "immutable-fields-replace": [lambda p: changed(p, named("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"),
                                                   replace_on_changes=[])],
    "keep-alive-outlasts-the-alb": [api_without_keep_alive,
                                    lambda p: changed(p, named("aws:lb/loadBalancer:LoadBalancer"),
                                                      lambda i: i.update(idleTimeout=120))],
    "irsa-role-before-workload": [
        lambda p: without_dependency(p, named(RELEASE, "services-cluster-autoscaler"),
                                     named("aws:iam/role:Role", "services-cluster-autoscaler-role"))],
    "ci-roles-reach-the-cluster": [preview_role_with_view_only, creator_listed_as_admin],
    "node-groups-follow-the-cluster": [lambda p: changed(p, NODE_GROUP, lambda i: i.pop("version")),
                                       lambda p: changed(p, NODE_GROUP, lambda i: i.update(releaseVersion="1.30.1-x"))],
    "subnets-by-zone-id": [
        lambda p: changed(p, named("aws:ec2/subnet:Subnet"),
                          lambda i: i.update(availabilityZone="us-east-1a") or i.pop("availabilityZoneId")),
        lambda p: changed(p, named("aws:ec2/subnet:Subnet"), lambda i: i.update(availabilityZoneId="use1-az3"))],
    "idempotent-producers": [kafka_without_idempotence],
    "drains-can-finish": [
        lambda p: changed(p, named(RELEASE, "services-external-secrets"),
                          lambda i: i["values"].update(replicaCount=1, podDisruptionBudget={"enabled": True,
                                                                                            "minAvailable": 1})),
        budget_without_unhealthy_eviction],
}


@pytest.mark.parametrize("rule,index", [(rule, i) for rule, fixtures in FIXTURES.items() for i in range(len(fixtures))])
def test_each_rule_fails_its_fixture_with_one_line_naming_rule_resource_and_source(rule, index):
    broken = FIXTURES[rule][index](planned("dev"))
    section = deployment.analyse(broken)
    mine = [v for v in section["violations"] if v["rule"] == rule]
    assert mine, f"{rule} did not catch fixture {index}: {section['violations']}"
    [source] = [r.source for r in deployment.RULES if r.id == rule]
    for line in section["failures"]:
        assert "\n" not in line
    lines = [line for line in section["failures"] if line.startswith(f"deployment/{rule}: ")]
    assert lines and all(source in line and "urn:pulumi:dev::" in line for line in lines)


def test_every_rule_has_a_fixture():
    assert set(FIXTURES) == {r.id for r in deployment.RULES}


def test_a_single_instance_database_with_a_budget_fails_the_drain_rule():
    plan = planned("dev", ("databaseEngine=timescaledb",))
    broken = changed(plan, named("kubernetes:postgresql.cnpg.io/v1:Cluster"),
                     lambda i: i["spec"].update(enablePDB=True))
    assert [v["rule"] for v in deployment.violations(broken)] == ["drains-can-finish"]


def test_a_custom_resource_of_an_unknown_group_asks_for_its_chart():
    plan = planned("dev")
    store = plan.one("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    stray = dataclasses.replace(store, urn=store.urn.replace("ClusterSecretStore", "Widget"),
                                type="kubernetes:widgets.example.com/v1:Widget")
    [violation] = deployment.violations(dataclasses.replace(plan, resources=[*plan.resources, stray]))
    assert violation["rule"] == "custom-resources-after-crds" and "CRD_CHARTS" in violation["message"]


@pytest.mark.parametrize("rule,index", [(rule, i) for rule, fixtures in FIXTURES.items() for i in range(len(fixtures))])
def test_every_analysis_reports_on_a_broken_plan_instead_of_crashing(rule, index):
    """make plan must print the rule's line, so no other analysis may fail on what the rule catches."""
    import analyses

    sections = analyses.run(FIXTURES[rule][index](planned("dev")))
    assert any(line.startswith(f"deployment/{rule}: ") for line in sections["deployment"]["failures"])


def test_any_add_on_created_beside_the_controller_fails_whatever_it_is():
    """One mechanism for every add-on: no list of which ones create Services to keep in sync."""
    plan = planned("dev")
    ebs = next(r for r in plan.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "aws-ebs-csi-driver")
    provider = next(r for r in plan.of_type("pulumi:providers:kubernetes"))
    cut = dataclasses.replace(provider, dependencies=[d for d in provider.dependencies if d != ebs.urn])
    beside = dataclasses.replace(plan, resources=[cut if r is provider else r for r in plan.resources])
    found = [v["message"] for v in deployment.violations(beside) if v["rule"] == "after-load-balancer-webhooks"]
    assert found == ["the aws-ebs-csi-driver add-on is created beside the load balancer controller, whose webhook "
                     "refuses its Services until it serves"]


def test_unnamed_emptydirs_fail_whichever_way_the_autoscaler_treats_local_storage():
    """The stack turns skip-nodes-with-local-storage off (the add-ons' emptyDirs); an unnamed volume in
    the chart still fails, since the annotation is what says the autoscaler may drop it."""
    broken = ui_without_safe_to_evict(planned("dev"))
    flag_on = changed(broken, named(RELEASE, "services-cluster-autoscaler"),
                      lambda i: i["values"]["extraArgs"].pop("skip-nodes-with-local-storage"))
    [off] = [v for v in deployment.violations(broken) if v["rule"] == "scale-down-with-local-storage"]
    [on] = [v for v in deployment.violations(flag_on) if v["rule"] == "scale-down-with-local-storage"]
    assert off["message"].startswith("Deployment ecomind-ui: emptyDir next-cache, tmp not in ")
    assert off["message"].endswith("drops it as scratch") and on["message"].endswith("is ever scaled down")


def test_the_rule_counts_volumes_as_the_autoscaler_does():
    """drain.go: hostPath and disk-backed emptyDir are local, a memory emptyDir is not; the annotation
    is split on ',' without trimming."""
    spec = {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {"medium": "Memory"}},
                        {"name": "c", "hostPath": {"path": "/var"}}, {"name": "d", "secret": {}}]}
    assert deployment.local_volumes(spec) == {"a", "c"}
    manifests = copy.deepcopy(planned("dev").manifests)
    for document in manifests["ecomind-release"]:
        if document["kind"] == "Deployment" and document["metadata"]["name"] == "ecomind-ui":
            document["spec"]["template"]["metadata"]["annotations"][deployment.SAFE_TO_EVICT_LOCAL_VOLUMES] = \
                "tmp, next-cache"
    spaced = dataclasses.replace(planned("dev"), manifests=manifests)
    [violation] = [v for v in deployment.violations(spaced) if v["rule"] == "scale-down-with-local-storage"]
    assert "emptyDir next-cache not in" in violation["message"]


def test_an_alb_idle_timeout_above_the_servers_names_each_of_them():
    plan = changed(planned("dev"), named("aws:lb/loadBalancer:LoadBalancer"), lambda i: i.update(idleTimeout=120))
    found = sorted(v["message"] for v in deployment.violations(plan) if v["rule"] == "keep-alive-outlasts-the-alb")
    assert [m.split(":")[0] for m in found] == ["Deployment ecomind-api", "Deployment ecomind-ui"]
    assert "UVICORN_TIMEOUT_KEEP_ALIVE is 75, so its server closes idle connections after 75 s" in found[0]
    assert "KEEP_ALIVE_TIMEOUT is 75000" in found[1] and "before the ALB's 120 s idle timeout" in found[1]
