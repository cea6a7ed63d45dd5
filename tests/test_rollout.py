"""make plan's rollout table: no request dropped by a rollout, a drain or (prod) a zone loss.

Every fix the table relies on is removed once from prod's rendered release, and prod's plan must
then fail with a line naming the service and the reason.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import pytest

from analyses import rollout
from components.release import DEREGISTRATION_DELAY_SECONDS
from tests.conftest import planned

RELEASE = "ecomind-release"


def documents(plan, kind: str, name: str | None = None) -> list[dict]:
    return [d for d in plan.manifests[RELEASE] if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def deployment(plan, name: str = "ecomind-api") -> dict:
    [found] = documents(plan, "Deployment", name)
    return found


def zone_spread(plan) -> dict:
    return next(c for c in deployment(plan)["spec"]["template"]["spec"]["topologySpreadConstraints"]
                if c["topologyKey"] == "topology.kubernetes.io/zone")


def container(plan) -> dict:
    return deployment(plan)["spec"]["template"]["spec"]["containers"][0]


def without_readiness_gate(plan):
    namespace = plan.one("kubernetes:core/v1:Namespace", "ecomind-namespace")
    namespace.inputs["metadata"]["labels"].pop(rollout.READINESS_GATE_LABEL)


def api_target_group(plan):
    return plan.one("aws:lb/targetGroup:TargetGroup", "web-api")


def set_deregistration_delay(value: int | None) -> Callable:
    """The api's target group as planned: its delay changed, or left to ELB's default."""
    def change(plan):
        if value is None:
            api_target_group(plan).inputs.pop("deregistrationDelay")
        else:
            api_target_group(plan).inputs["deregistrationDelay"] = value
    return change


def binding(plan, name: str = "ecomind-api") -> dict:
    """The api's TargetGroupBinding as the stack plans it (inputs of the custom resource)."""
    [found] = [b.inputs for b in plan.of_type(rollout.BINDING) if b.inputs["metadata"]["name"] == name]
    return found


def bind_elsewhere(plan):
    """The api's binding names a target group the stack does not plan."""
    spec = binding(plan)["spec"]
    spec["targetGroupARN"] = spec["targetGroupARN"].replace("/web-api-", "/someone-else-")


def bindings_in_the_chart(plan):
    """km reverted: the bindings rendered by the chart, which Helm creates after the Deployments."""
    gone = {b.urn for b in plan.resources if b.type == rollout.BINDING}
    for b in [b for b in plan.resources if b.urn in gone]:
        plan.resources.remove(b)
        plan.manifests[RELEASE].append({"kind": "TargetGroupBinding", **copy.deepcopy(b.inputs)})
    for r in plan.resources:
        r.dependencies[:] = [d for d in r.dependencies if d not in gone]


def controller_values(plan) -> dict:
    return next(r for r in plan.of_type("kubernetes:helm.sh/v3:Release")
                if r.inputs["chart"] == "aws-load-balancer-controller").inputs["values"]


def drop_budget(plan):
    budget = next(b for b in documents(plan, "PodDisruptionBudget")
                  if b["spec"]["selector"]["matchLabels"] == deployment(plan)["spec"]["selector"]["matchLabels"])
    plan.manifests[RELEASE].remove(budget)


def migration_env(plan) -> list[dict]:
    [job] = documents(plan, "Job")
    return job["spec"]["template"]["spec"]["containers"][0]["env"]


# fix removed -> (what to change, words the failure line must hold)
REMOVALS: dict[str, tuple[Callable, str]] = {
    "readiness gate": (without_readiness_gate, "readiness gate"),
    "binding's target type": (lambda p: binding(p)["spec"].pop("targetType"), "readiness gate"),
    "bindings before the release": (bindings_in_the_chart, "first install's pods get no gate"),
    "fail-closed pod webhook": (lambda p: controller_values(p).pop("podMutatorWebhookConfig"), "fails open"),
    "webhook selecting the services": (lambda p: controller_values(p)["objectSelector"]["matchExpressions"][0].update(
        values=["worker"]), "objectSelector skips its pods"),
    "controller replicas": (lambda p: controller_values(p).update(replicaCount=1), "runs one replica"),
    "controller budget": (lambda p: controller_values(p).pop("podDisruptionBudget"), "no PodDisruptionBudget"),
    "controller zone spread": (lambda p: controller_values(p).pop("topologySpreadConstraints"), "may share a zone"),
    "controller spread over its own pods": (lambda p: controller_values(p)["topologySpreadConstraints"][0][
        "labelSelector"]["matchLabels"].update({"app.kubernetes.io/name": "someone-else"}), "may share a zone"),
    "webhook certificate kept": (lambda p: controller_values(p).pop("keepTLSSecret"), "new webhook CA"),
    # KM3: the health check as it was, 2 failures 10 s apart with a 5 s timeout.
    "health check that fails fast": (lambda p: api_target_group(p).inputs["healthCheck"].update(interval=10, timeout=5),
                                     "dead zone's targets for up to 25 s"),
    "preStop sleep": (lambda p: container(p).pop("lifecycle"), "preStop sleep 0 s"),
    "grace period": (lambda p: deployment(p)["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=30),
                     "grace period 30 s"),
    "maxUnavailable 0": (lambda p: deployment(p)["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1),
                         "maxUnavailable"),
    # The gateway, which scales to 12 in prod: 12 waves of one pod outlast the release's timeout.
    "surge that fits the timeout": (lambda p: deployment(p, "ecomind-gateway")["spec"]["strategy"][
        "rollingUpdate"].update(maxSurge=1), "ecomind-gateway: a rollout can drop requests: 12 waves of 1"),
    "deregistration delay": (set_deregistration_delay(None), "drains for 300 s"),
    "deregistration delay to match": (set_deregistration_delay(120), "drains for 120 s"),
    # 30 s of drain after a 10 s propagation is 40 s; a pod serving 39 s drops the last second's requests.
    "drain that covers the propagation": (lambda p: container(p)["lifecycle"]["preStop"]["sleep"].update(seconds=29),
                                          "stops serving after 39 s"),
    "binding to the stack's target group": (bind_elsewhere, "names no target group of this stack"),
    "disruption budget": (drop_budget, "no PodDisruptionBudget"),
    "replicas per zone": (lambda p: next(h for h in documents(p, "HorizontalPodAutoscaler")
                                         if h["spec"]["scaleTargetRef"]["name"] == "ecomind-api")["spec"].update(
        minReplicas=1), "1 replica"),
    "spread held": (lambda p: zone_spread(p).update(whenUnsatisfiable="ScheduleAnyway"), "not DoNotSchedule"),
    "spread honours taints": (lambda p: zone_spread(p).pop("nodeTaintsPolicy"), "stay Pending"),
    "spread per ReplicaSet": (lambda p: zone_spread(p).pop("matchLabelKeys"), "matchLabelKeys"),
    "zonal node groups": (lambda p: [g.inputs.update(subnetIds=["subnet-a", "subnet-b", "subnet-c"])
                                     for g in p.of_type("eks:index:ManagedNodeGroup")], "autoscaler cannot add a node"),
    "migration deadline": (lambda p: documents(p, "Job")[0]["spec"].update(activeDeadlineSeconds=600), "deadline"),
    "migration lock_timeout": (lambda p: migration_env(p).remove(
        next(e for e in migration_env(p) if e["name"] == "PGOPTIONS")), "lock_timeout"),
}


def mutated(change: Callable):
    plan = planned("prod")
    copied = dataclasses.replace(plan, resources=copy.deepcopy(plan.resources),
                                 manifests=copy.deepcopy(plan.manifests))
    change(copied)
    return copied


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_rollout_or_drain_drops_a_request_and_prod_survives_a_zone_loss(stack):
    section = rollout.analyse(planned(stack))
    assert {row["service"] for row in section["services"]} == {"ecomind-gateway", "ecomind-api", "ecomind-ui"}
    for row in section["services"]:
        assert row["rollout"]["safe"] and row["drain"]["safe"], (row["service"], row)
        assert row["zone_loss"]["safe"] or stack == "dev", (row["service"], row["zone_loss"])
        assert row["readiness_gate"] and row["pre_stop_seconds"] > rollout.PROPAGATION_SECONDS
    assert section["migration"]["safe"] and section["failures"] == []
    assert section["enforced"] is (stack == "prod")


@pytest.mark.parametrize("fix", sorted(REMOVALS))
def test_removing_a_fix_fails_prods_plan_with_the_service_and_the_reason(fix):
    change, words = REMOVALS[fix]
    failures = rollout.analyse(mutated(change))["failures"]
    assert failures, f"removing the {fix} went unnoticed"
    assert any(words in line and ("ecomind-" in words or "ecomind-api" in line or "migrations" in line)
               for line in failures), failures


def test_an_unrendered_release_is_a_failure_not_a_pass():
    plan = dataclasses.replace(planned("prod"), manifests={})
    assert rollout.analyse(plan)["failures"]


def test_the_numbers_the_table_relies_on_are_the_charts_and_the_target_groups():
    plan = planned("prod")
    [row] = [r for r in rollout.analyse(plan)["services"] if r["service"] == "ecomind-api"]
    values = plan.one("kubernetes:helm.sh/v3:Release", RELEASE).inputs["values"]
    chart = values["rollout"]
    assert row["deregistration_delay_seconds"] == plan.one(
        "aws:lb/targetGroup:TargetGroup", "web-api").inputs["deregistrationDelay"] == DEREGISTRATION_DELAY_SECONDS
    assert row["pre_stop_seconds"] == chart["preStopSleepSeconds"] > row["deregistration_delay_seconds"]
    assert row["grace_seconds"] >= row["pre_stop_seconds"] + chart["appDrainSeconds"] > row["pre_stop_seconds"]


def test_the_zone_loss_window_is_reported_as_requests_at_risk():
    """KM3: the ALB routes to a dead target until its health checks fail the threshold in a row."""
    from analyses import capacity

    plan = planned("prod")
    [row] = [r for r in rollout.analyse(plan)["services"] if r["service"] == "ecomind-api"]
    check = api_target_group(plan).inputs["healthCheck"]
    window = [check["interval"] + check["timeout"], 2 * check["interval"] + check["timeout"]]
    assert row["detection"]["window_seconds"] == window == [8, 13]
    assert window[1] <= rollout.DETECTION_OBJECTIVE_SECONDS
    assert row["detection"]["zone_share"] == round(1 / 3, 3)  # 3 replicas, one per zone
    peak = capacity.peak_rates(plan.settings["load"])["api"]
    assert row["detection"]["zone_requests_at_peak"] == round(peak * 13 / 3, 1)
