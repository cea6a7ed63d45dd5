"""Whether a rollout, a node drain or a zone loss can drop a request, per service behind the ALB.

Read from what the EcoMind release would install (the rendered chart in `plan.manifests`), its
values and its namespace, for each Deployment a TargetGroupBinding binds to one of the stack's
target groups (whose planned deregistration delay is the one the ALB applies). Each verdict has
its reason. Prod enforces every one (a failure line names the service and the reason); dev reports
them, since a single replica cannot survive a drain.

How a pod leaves the ALB without a dropped request (aws-load-balancer-controller docs, "Pod
readiness gate" and the deployment guide; Kubernetes "Pod Lifecycle", termination):
- a new pod is ready only once its target is healthy: the controller's pod webhook injects the gate
  in namespaces labelled elbv2.k8s.aws/pod-readiness-gate-inject=enabled, for a binding of type ip
  whose Service selects the pod, both existing when the pod is created. The gate is certain only if
  the webhook fails closed for the pod (failurePolicy Fail, its objectSelector matching the pod: the
  chart's default Ignore admits a pod without a gate while the controller is down), the binding is
  created before the release (Helm would create it after the Deployments), and the controller stays
  available: two replicas, a budget, one per zone (a fail-closed webhook with no controller refuses
  every new pod, a zone loss's replacements included);
- on termination the controller deregisters the target. Until that reaches the ALB
  (PROPAGATION_SECONDS, assumed), new requests still arrive: the preStop sleep is strictly longer
  than that. The ALB then lets in-flight requests finish for its deregistration delay, so the pod
  serves (preStop, then the app's drain) at least until propagation plus that delay;
- the grace period covers preStop plus the app's own drain, so nothing is killed mid-request;
- maxUnavailable 0: old pods go only as new ones are ready, in waves of maxSurge that finish
  inside the release's Helm timeout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from analyses import capacity
from analyses.model import Plan

SECTION = "rollout"
RELEASE = "ecomind-release"
BINDING = "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"
CONTROLLER_CHART = "aws-load-balancer-controller"
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
# Assumptions, each used once below. PROPAGATION_SECONDS has no primary source: the controller's
# maintainers describe it as its own processing plus ELB's API propagation
# (aws-load-balancer-controller#1719); real runs needed preStop sleeps of 25 s (#1064) and saw rare
# 502s at 40 s in instance mode (#2106). The stack sleeps 40 s, well above it.
PROPAGATION_SECONDS = 10   # pod Terminating -> controller deregisters -> ALB stops new requests
WAVE_SECONDS = 90          # a surge wave: image pull, start, readiness, ALB health checks to healthy
# When a node or a zone dies, its pods' targets stay registered until the node controller marks
# the node Unknown (node-monitor-grace-period, 50 s since Kubernetes 1.32: kubernetes#126287; EKS
# exposes no way to change it) and the controller deregisters them; the ALB stops sending them
# requests sooner, once its own health checks fail the unhealthy threshold in a row: from
# (threshold - 1) x interval + timeout to threshold x interval + timeout after the death (ELB user
# guide, "Health checks for Application Load Balancer target groups"). That window, in which the
# dead targets' share of requests fails, is what the stack keeps short: at most this long.
NODE_MONITOR_GRACE_SECONDS = 50
DETECTION_OBJECTIVE_SECONDS = 15
# The busiest minute's request rate each service sees (analyses/capacity.py).
PEAK_OF = {"gateway": "ingest", "api": "api", "ui": "ui"}


def _percent_or_count(value: Any, of: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(of * int(value[:-1]) / 100)
    return int(value)


def _verdict(problems: list[str]) -> dict[str, Any]:
    return {"safe": not problems, "reason": "; ".join(problems) if problems else "no request is dropped"}


def _detection(plan: Plan, target_group_arn: str, replicas: int, zones: int, peak: float) -> dict[str, Any] | None:
    """How long the ALB keeps routing to a dead target of this group, and what a zone's or a node's
    loss puts at risk in that window at the busiest minute (replicas spread one per zone)."""
    group = next((g for g in plan.of_type(TARGET_GROUP) if g.arn == target_group_arn), None)
    if group is None:
        return None
    check = group.inputs.get("healthCheck") or {}
    # ELB's defaults for an HTTP target group (API reference, CreateTargetGroup).
    interval, timeout = check.get("interval", 30), check.get("timeout", 6)
    threshold = check.get("unhealthyThreshold", 2)
    low, high = (threshold - 1) * interval + timeout, threshold * interval + timeout
    zone_share = math.ceil(replicas / zones) / replicas if replicas else 1.0
    node_share = 1 / replicas if replicas else 1.0
    basis = f"{threshold} failed checks {interval} s apart, {timeout} s timeout"
    return {"window_seconds": [low, high], "basis": basis,
            "zone_share": round(zone_share, 3), "node_share": round(node_share, 3),
            "zone_requests_at_peak": round(peak * high * zone_share, 1),
            "node_requests_at_peak": round(peak * high * node_share, 1)}


def _deregistration_delay(plan: Plan, target_group_arn: str) -> int | None:
    """The planned delay of the target group a binding names; None when the plan has no such
    group (a binding to a target group the stack does not own). ELB's default is 300 s."""
    group = next((g for g in plan.of_type(TARGET_GROUP) if g.arn == target_group_arn), None)
    if group is None:
        return None
    return int(group.inputs.get("deregistrationDelay", 300))


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes label selector (matchLabels, matchExpressions In/NotIn/Exists) selects `labels`."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        value, values = labels.get(e["key"]), e.get("values") or []
        if {"In": value in values, "NotIn": value not in values, "Exists": value is not None,
                "DoesNotExist": value is None}[e["operator"]] is False:
            return False
    return True


def _controller(plan: Plan) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """The load balancer controller's values, and what makes its pod webhook or its own availability
    uncertain (aws/eks-charts stable/aws-load-balancer-controller values.yaml and webhook.yaml at 3.5.0)."""
    release = next((r for r in plan.of_type("kubernetes:helm.sh/v3:Release")
                    if r.inputs.get("chart") == CONTROLLER_CHART), None)
    if release is None:
        return None, {"rollout": ["no load balancer controller: nothing registers the pods"], "zone": []}
    values = release.inputs.get("values") or {}
    problems: dict[str, list[str]] = {"rollout": [], "zone": []}
    if values.get("replicaCount", 2) < 2:
        problems["rollout"].append("the load balancer controller runs one replica: while it restarts no target is "
                                   "registered and no pod created")
    if not values.get("podDisruptionBudget"):
        problems["rollout"].append("the load balancer controller has no PodDisruptionBudget: a drain can stop both "
                                   "replicas")
    if (values.get("podMutatorWebhookConfig") or {}).get("failurePolicy") == "Fail" and not (
            values.get("keepTLSSecret") or values.get("enableCertManager")):
        problems["rollout"].append("each upgrade of the load balancer controller makes a new webhook CA (keepTLSSecret "
                                   "false): until its pods reload the certificate, every pod behind the ALB is refused")
    pods = {"app.kubernetes.io/name": values.get("nameOverride") or CONTROLLER_CHART,
            "app.kubernetes.io/instance": release.inputs.get("name", "")}
    spread = next((c for c in values.get("topologySpreadConstraints") or []
                   if c.get("topologyKey") == "topology.kubernetes.io/zone"
                   and _selects(c.get("labelSelector") or {"matchLabels": {"-": "-"}}, pods)), None)
    if spread is None or spread.get("whenUnsatisfiable") != "DoNotSchedule":
        problems["zone"].append("the load balancer controller's replicas may share a zone: losing it stops every "
                                "new pod until they reschedule")
    return values, problems


def _webhook_gates(values: Mapping[str, Any] | None, pod_labels: Mapping[str, str]) -> str | None:
    """Why the pod webhook may admit this pod without a gate, or None when it fails closed for it."""
    if values is None:
        return "no load balancer controller"
    if (values.get("podMutatorWebhookConfig") or {}).get("failurePolicy", "Ignore") != "Fail":
        return ("the controller's pod webhook fails open (failurePolicy Ignore, the chart's default): a pod created "
                "while the controller is down has no gate")
    if not _selects(values.get("objectSelector") or {}, pod_labels):
        return "the controller's pod webhook's objectSelector skips its pods"
    return None


def analyse(plan: Plan) -> dict[str, Any]:
    documents = plan.manifests.get(RELEASE)
    enforced = plan.settings.get("environment") == "prod"
    if documents is None:
        return {"enforced": enforced, "services": [], "failures": [
            f"{SECTION}: the EcoMind release was not rendered, so no rollout can be judged"],
            "summary": ["Rollout safety: the chart was not rendered"]}
    release = plan.one("kubernetes:helm.sh/v3:Release", RELEASE)
    values = release.inputs.get("values", {})
    timeout = release.inputs.get("timeout", 300)
    namespace = next((r for r in plan.of_type("kubernetes:core/v1:Namespace")
                      if r.inputs.get("metadata", {}).get("name") == release.inputs.get("namespace")), None)
    labelled = bool(namespace) and namespace.inputs["metadata"].get("labels", {}).get(READINESS_GATE_LABEL) == "enabled"
    zones = len(plan.outputs.get("availabilityZoneIds", [])) or 3
    # The nodes the services run on: with one group over every zone, Cluster Autoscaler cannot
    # add a node in the zone a Pending replica needs (its FAQ on multi-AZ node groups).
    workload_groups = [g for g in plan.of_type("eks:index:ManagedNodeGroup")
                       if g.inputs.get("labels", {}).get("ecomind.io/node-group") == "workload"]
    zonal_scale_up = bool(workload_groups) and all(len(g.inputs.get("subnetIds", [])) == 1 for g in workload_groups)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in documents:
        by_kind.setdefault(d["kind"], []).append(d)
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    # Bindings the stack creates before the release, and any the chart renders (Helm creates those
    # after the Deployments: helm pkg/release/v1/util/kind_sorter.go, unknown kinds last).
    upstream = plan.upstream_of(release)
    bindings = [(b.inputs, b.urn in upstream) for b in plan.of_type(BINDING)
                if b.inputs.get("metadata", {}).get("namespace") == release.inputs.get("namespace")]
    bindings += [(b, False) for b in by_kind.get("TargetGroupBinding", [])]
    bindings.sort(key=lambda pair: pair[0]["spec"]["serviceRef"]["name"])
    controller, controller_problems = _controller(plan)
    load = plan.settings.get("load")
    peaks = capacity.peak_rates(load) if load else {}
    # The app's own drain after SIGTERM, as the release declares it (0 when it declares none).
    drain_seconds = int(values.get("rollout", {}).get("appDrainSeconds", 0))
    rows = []
    for binding, first in bindings:
        selector = services[binding["spec"]["serviceRef"]["name"]]["spec"]["selector"]
        [deployment] = [d for d in by_kind.get("Deployment", [])
                        if d["spec"]["selector"]["matchLabels"] == selector]
        delay = _deregistration_delay(plan, binding["spec"].get("targetGroupARN", ""))
        # The pod webhook gates only bindings of type ip (pod_readiness_gate.go at v3.5.0); stated
        # here, so that the plan shows what the binding webhook would otherwise infer from AWS.
        ungated = [] if labelled else ["its namespace is not labelled for readiness gates"]
        if binding["spec"].get("targetType") != "ip":
            ungated.append("its TargetGroupBinding does not state targetType ip")
        if not first:
            ungated.append("its TargetGroupBinding is created with or after the release, so a first install's pods "
                           "get no gate")
        webhook = _webhook_gates(controller, deployment["spec"]["template"]["metadata"].get("labels") or {})
        ungated += [webhook] if webhook else []
        row = _judge(deployment, by_kind, ungated=ungated, delay=delay, drain_seconds=drain_seconds,
                     timeout=timeout, zones=zones, prod=enforced, zonal_scale_up=zonal_scale_up,
                     controller=controller_problems)
        service = deployment["metadata"]["labels"].get("app.kubernetes.io/component", "")
        row["detection"] = _detection(plan, binding["spec"].get("targetGroupARN", ""), row["replicas"]["min"], zones,
                                      peaks.get(PEAK_OF.get(service, ""), 0.0))
        if row["detection"] and row["detection"]["window_seconds"][1] > DETECTION_OBJECTIVE_SECONDS:
            row["zone_loss"] = _verdict([*([] if row["zone_loss"]["safe"] else [row["zone_loss"]["reason"]]),
                                         f"the ALB keeps routing to a dead zone's targets for up to "
                                         f"{row['detection']['window_seconds'][1]} s "
                                         f"({row['detection']['basis']}; objective {DETECTION_OBJECTIVE_SECONDS} s)"])
        rows.append(row)
    migration = _judge_migration(by_kind.get("Job", []), timeout)
    failures = []
    if enforced:
        for row in rows:
            for event in ("rollout", "drain", "zone_loss"):
                if not row[event]["safe"]:
                    failures.append(f"{SECTION}: {row['service']}: a {event.replace('_', ' ')} can drop requests: "
                                    f"{row[event]['reason']}")
        if not migration["safe"]:
            failures.append(f"{SECTION}: migrations: {migration['reason']}")
    summary = [f"Rollout safety of the services behind the ALB ({'enforced' if enforced else 'reported only'} in "
               f"{plan.settings.get('environment', plan.stack)}):"]
    for row in rows:
        marks = "  ".join(f"{event.replace('_', ' ')} {'ok' if row[event]['safe'] else 'DROPS'}"
                          for event in ("rollout", "drain", "zone_loss"))
        summary.append(f"  {row['service']:<16} {marks}")
        if row.get("detection"):
            d = row["detection"]
            low, high = d["window_seconds"]
            summary.append(f"      losing a zone: {low}-{high} s ({d['basis']}) until the ALB stops routing to its "
                           f"targets, {d['zone_share']:.0%} of requests meanwhile, "
                           f"{d['zone_requests_at_peak']:,.0f} at peak; a node: {d['node_share']:.0%}, "
                           f"{d['node_requests_at_peak']:,.0f} (the node controller takes {NODE_MONITOR_GRACE_SECONDS} "
                           "s to deregister them)")
        for event in ("rollout", "drain", "zone_loss"):
            if not row[event]["safe"]:
                summary.append(f"      {event}: {row[event]['reason']}")
    summary.append(f"  migrations       {'ok' if migration['safe'] else 'STALLS'}: {migration['reason']}")
    if any(row.get("detection") for row in rows):
        summary.append("  (a zone's figures are a floor: the ALB's own node in that zone also fails the clients that "
                       "resolved it until DNS drops it, a time AWS does not state)")
    return {"enforced": enforced, "services": rows, "migration": migration, "failures": failures, "summary": summary}


def _judge(deployment: dict[str, Any], by_kind: Mapping[str, list[dict[str, Any]]], *, ungated: list[str],
           delay: int | None, drain_seconds: int, timeout: int, zones: int, prod: bool,
           zonal_scale_up: bool, controller: Mapping[str, list[str]]) -> dict[str, Any]:
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    hpa = next((h for h in by_kind.get("HorizontalPodAutoscaler", []) if h["spec"]["scaleTargetRef"]["name"] == name),
               None)
    minimum = hpa["spec"]["minReplicas"] if hpa else spec.get("replicas", 1)
    maximum = hpa["spec"]["maxReplicas"] if hpa else spec.get("replicas", 1)
    strategy = spec.get("strategy", {}).get("rollingUpdate", {})
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    grace = pod.get("terminationGracePeriodSeconds", 30)

    rollout = []
    if ungated:
        rollout.append("no certain ALB readiness gate (" + "; ".join(ungated) + "): a new pod can count as ready "
                       "before its target is healthy")
    rollout += controller["rollout"]
    if _percent_or_count(strategy.get("maxUnavailable", "25%"), maximum) != 0:
        rollout.append("maxUnavailable is not 0: old pods go before new ones serve")
    surge = _percent_or_count(strategy.get("maxSurge", "25%"), maximum)
    if surge < 1:
        rollout.append("maxSurge rounds to 0 new pods")
    elif math.ceil(maximum / surge) * WAVE_SECONDS > timeout:
        rollout.append(f"{math.ceil(maximum / surge)} waves of {surge} at {maximum} replicas take longer than the "
                       f"release's {timeout} s timeout")
    if pre_stop <= PROPAGATION_SECONDS:
        rollout.append(f"preStop sleep {pre_stop} s is not longer than the ALB's deregistration propagation "
                       f"({PROPAGATION_SECONDS} s)")
    if delay is None:
        rollout.append("its TargetGroupBinding names no target group of this stack, so the ALB's deregistration "
                       "delay is unknown")
    elif PROPAGATION_SECONDS + delay > pre_stop + drain_seconds:
        rollout.append(f"the ALB drains for {delay} s after a {PROPAGATION_SECONDS} s propagation, but the pod stops "
                       f"serving after {pre_stop + drain_seconds} s")
    if grace < pre_stop + drain_seconds:
        rollout.append(f"grace period {grace} s is shorter than preStop {pre_stop} s plus the app's drain "
                       f"{drain_seconds} s: pods are killed mid-request")
    safe_termination = not rollout

    drain = [] if safe_termination else ["pods are evicted as a rollout replaces them (see rollout)"]
    budget = next((b for b in by_kind.get("PodDisruptionBudget", [])
                   if b["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]), None)
    if minimum < 2:
        drain.append(f"{minimum} replica: a drain evicts the only one")
    if budget is None:
        drain.append("no PodDisruptionBudget: a drain may evict every replica at once")
    elif "maxUnavailable" in budget["spec"] and _percent_or_count(budget["spec"]["maxUnavailable"], minimum) < 1:
        drain.append("the PodDisruptionBudget allows no eviction: drains never finish")

    zone = list(controller["zone"])
    spread = next((c for c in pod.get("topologySpreadConstraints", [])
                   if c["topologyKey"] == "topology.kubernetes.io/zone"), None)
    if minimum < 2 or (prod and minimum < zones):
        zone.append(f"{minimum} replica(s) over {zones} zones: losing one can take every replica")
    if spread is None or spread.get("whenUnsatisfiable") != "DoNotSchedule":
        zone.append("replicas are not held to one per zone (zone spread is not DoNotSchedule)")
    else:
        if spread.get("nodeTaintsPolicy") != "Honor":
            zone.append("the zone spread counts a lost zone's tainted nodes, so replacement pods stay Pending")
        if "pod-template-hash" not in spread.get("matchLabelKeys", []):
            zone.append("without matchLabelKeys [pod-template-hash] a rollout's new pods can all land in one zone")
        if not zonal_scale_up:
            zone.append("the workload nodes are one group over every zone, so the autoscaler cannot add a node in "
                        "the zone a Pending replica needs (workloadNodeGroupPerZone)")
    return {"service": name, "replicas": {"min": minimum, "max": maximum}, "pre_stop_seconds": pre_stop,
            "grace_seconds": grace, "deregistration_delay_seconds": delay, "readiness_gate": not ungated,
            "rollout": _verdict(rollout), "drain": _verdict(drain), "zone_loss": _verdict(zone)}


def _judge_migration(jobs: list[dict[str, Any]], timeout: int) -> dict[str, Any]:
    problems = []
    for job in jobs:
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline is None or deadline >= timeout:
            problems.append(f"{job['metadata']['name']}'s deadline ({deadline} s) is not inside the release's "
                            f"{timeout} s timeout, so a stuck migration outlives the rollback")
        env = {e["name"]: e for c in job["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        if "lock_timeout" not in env.get("PGOPTIONS", {}).get("value", ""):
            problems.append(f"{job['metadata']['name']} sets no lock_timeout: it can queue every query behind its lock")
    return {"safe": not problems,
            "reason": "; ".join(problems) or "deadline inside the release timeout, lock_timeout set"}
