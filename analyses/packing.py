"""Whether every pod the stack runs fits on a node of its group, packed node by node.

A node group's summed CPU says little: a pod runs on one node, beside one copy of every DaemonSet
that lands there, and asks the kubelet for what its containers request (plus any sidecar an
operator injects). So for each node group this places, one by one and largest first, every pod
the group must hold at the size judged, onto nodes of its smallest instance type as kube-scheduler
does by default (the feasible node with the most left, NodeResourcesFit LeastAllocated), each
node first carrying its DaemonSets. A pod larger than an empty node's room is a failure naming the
pod, the node type and the shortfall; so is a pod no node has room left for. `make plan` prints,
per group, the fullest node (requests / allocatable) and what would not fit.

The scheduler also spreads by zone and honours affinities this does not model beyond one database
instance a node; the groups judged at their maximum (workload) assume Cluster Autoscaler has added
the nodes. Every request below names the chart, add-on or code it was read from.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analyses.model import Plan
from node_room import DAEMONSETS, Room, allocatable, daemonsets_on

SECTION = "packing"
NODE_GROUP = "eks:index:ManagedNodeGroup"
CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE_LABEL = "ecomind.io/node-group"

# --- What each group must hold ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Pods:
    name: str
    count: int
    cpu: float
    memory: float
    one_per_node: bool = False
    """Required anti-affinity: never two on a node."""
    after_autoscaler: bool = False
    """Created once Cluster Autoscaler runs (after ClusterServices.ready), so a pod with no room
    makes it add a node to the group, up to the group's maximum."""
    tolerates_system_taint: bool = True
    """False for a controller with no toleration: on tainted system nodes it runs on the workload's."""

    @property
    def demand(self) -> Room:
        return Room(self.cpu, self.memory, 1)


# Controllers besides the release (replicas, CPU m, memory MiB each), as their charts or add-ons
# request: CoreDNS (upstream Kubernetes manifest; the EKS build is not published), EBS CSI
# controller (chart 2.64.0, with its snapshotter), metrics-server (EKS add-on; upstream chart
# 100m/200Mi; 2 replicas assumed), the CloudWatch operator (chart 6.4.0), Reloader, and the load
# balancer controller, External Secrets' three parts and Cluster Autoscaler as
# components/cluster_services.py CONTROLLER_RESOURCES requests them (tests/test_packing.py holds
# the two to the planned releases' values). Charts that set no request upstream are counted at
# UNSET_REQUEST, what such a controller uses. CoreDNS and the EBS CSI controller may also land on
# workload nodes; they are counted where they are sure to fit, on the system nodes.
UNSET_REQUEST = (50, 128)
SYSTEM_PODS: Mapping[str, tuple[int, int, int]] = {
    "coredns": (2, 100, 70), "ebs-csi-controller": (2, 60, 232), "metrics-server": (2, 100, 200),
    "cloudwatch-operator": (1, 100, 64), "reloader": (2, 10, 64),
    "aws-load-balancer-controller": (2, 50, 128), "external-secrets": (2, 20, 96),
    "external-secrets-webhook": (2, 10, 64), "external-secrets-cert-controller": (2, 10, 64),
    "cluster-autoscaler": (1, 100, 300),
}
# The CloudWatch operator's chart gives it `tolerations: []`, which replaces the chart's
# tolerate-everything default (amazon-cloudwatch-observability-6.4.0 values.yaml manager.tolerations,
# templates/_helpers.tpl common.tolerations): on tainted system nodes it runs on the workload's.
NO_SYSTEM_TOLERATION = frozenset({"cloudwatch-operator"})
# The in-cluster engine's controllers (CloudNativePG operator chart 0.29.0, two replicas as
# components/timescale.py installs it; barman-cloud plugin chart 0.7.0; cert-manager v1.21.1's
# three parts): no request upstream either.
TIMESCALE_SYSTEM_PODS: Mapping[str, tuple[int, int, int]] = {
    "cloudnative-pg": (2, *UNSET_REQUEST), "barman-cloud": (1, *UNSET_REQUEST), "cert-manager": (3, *UNSET_REQUEST),
}
OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
BACKUP_PLUGIN = "barman-cloud.cloudnative-pg.io"
# A rolling update adds up to maxSurge of each Deployment (components/release.py ROLLOUT: 50%).
SURGE = 0.5


def quantity_millicores(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def quantity_mib(value: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 ** 2, "K": 1e3 / 2 ** 20, "M": 1e6 / 2 ** 20,
             "G": 1e9 / 2 ** 20}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * units[unit] if unit else float(number) / 2 ** 20


def _requests(container: Mapping[str, Any]) -> Room:
    requests = (container.get("resources") or {}).get("requests") or {}
    return Room(quantity_millicores(requests.get("cpu", "0")), quantity_mib(requests.get("memory", "0Mi")), 0)


def pod_requests(spec: Mapping[str, Any]) -> Room:
    """A pod's effective request as the scheduler computes it: its containers and native sidecars
    (init containers with restartPolicy Always) summed, or an init container with the sidecars
    started before it, whichever is larger (Kubernetes docs, "Resource sharing within containers")."""
    sidecars, peak = Room(0, 0, 0), Room(0, 0, 0)
    for init in spec.get("initContainers") or []:
        if init.get("restartPolicy") == "Always":
            sidecars = sidecars + _requests(init)
        else:
            during = sidecars + _requests(init)
            peak = Room(max(peak.cpu, during.cpu), max(peak.memory, during.memory), 0)
    running = sidecars
    for container in spec.get("containers") or []:
        running = running + _requests(container)
    return Room(max(running.cpu, peak.cpu), max(running.memory, peak.memory), 1)


def deployments(plan: Plan) -> dict[str, dict[str, Any]]:
    """The release's Deployments by service, with their replicas at most (HPA max, or replicas)."""
    manifests = plan.manifests.get("ecomind-release", [])
    scalers = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"] for h in manifests
               if h["kind"] == "HorizontalPodAutoscaler"}
    found = {}
    for d in (m for m in manifests if m["kind"] == "Deployment"):
        name = d["metadata"]["name"]
        service = d["metadata"]["labels"].get("app.kubernetes.io/component", name.rsplit("-", 1)[-1])
        found[service] = {"name": name, "most": scalers.get(name, d["spec"].get("replicas", 1)),
                          "least": d["spec"].get("replicas", 1), "spec": d["spec"]["template"]["spec"]}
    return found


def _sidecar(plan: Plan, spec: Mapping[str, Any]) -> tuple[Room, str | None]:
    """The backup plugin's sidecar in each instance pod of a cluster with `spec` (its ObjectStore's
    instanceSidecarConfiguration.resources), and a problem when the plan cannot say what it asks."""
    names = [(p.get("parameters") or {}).get("barmanObjectName") for p in spec.get("plugins") or []
             if p.get("name") == BACKUP_PLUGIN]
    if not names:
        return Room(0, 0, 0), None
    stores = {s.inputs.get("metadata", {}).get("name"): s.inputs.get("spec", {}) for s in plan.of_type(OBJECT_STORE)}
    if names[0] not in stores:
        return Room(0, 0, 0), f"names ObjectStore {names[0]}, which the stack does not create"
    resources = (stores[names[0]].get("instanceSidecarConfiguration") or {}).get("resources") or {}
    if not resources.get("requests"):
        return Room(0, 0, 0), (f"ObjectStore {names[0]} sets no instanceSidecarConfiguration.resources.requests: "
                               "the barman-cloud sidecar in every instance pod asks nothing and is not counted")
    return _requests({"resources": resources}), None


def database_instances(plan: Plan) -> tuple[list[Pods], list[str]]:
    """The in-cluster engine's instance pods: the postgres container (its init container asks the
    same: cloudnative-pg v1.30.0 pkg/specs/containers.go) plus the backup plugin's sidecar, and what
    the plan cannot count."""
    found, problems = [], []
    for cluster in plan.of_type(CNPG_CLUSTER):
        spec = cluster.inputs["spec"]
        name = cluster.inputs["metadata"]["name"]
        sidecar, problem = _sidecar(plan, spec)
        if problem:
            problems.append(f"database nodes: Cluster {name} {problem}" if problem.startswith("names")
                            else f"database nodes: {problem}")
        total = _requests({"resources": spec.get("resources") or {}}) + sidecar
        found.append(Pods(f"{name} instance" + (" + barman-cloud sidecar" if sidecar.cpu or sidecar.memory else ""),
                          spec.get("instances", 1), total.cpu, total.memory, one_per_node=True))
    return found, problems


def group_pods(plan: Plan, tainted: Mapping[str, bool]) -> dict[str, list[Pods]]:
    """What each node group must hold: the release at its HPA maximum plus a rollout's surge on the
    workload nodes, the controllers on the system nodes (those without a toleration on the
    workload's, when the system nodes are tainted), the database instances on theirs. The
    cluster's own controllers (Cluster Autoscaler among them) must fit at the desired size; what is
    installed after them (the release, the in-cluster engine's operators) may scale a group up."""
    found: dict[str, list[Pods]] = {"workload": [], "system": [], "database": database_instances(plan)[0]}
    for _, d in sorted(deployments(plan).items()):
        demand = pod_requests(d["spec"])
        found["workload"].append(Pods(d["name"], math.ceil(d["most"] * (1 + SURGE)), demand.cpu, demand.memory,
                                      after_autoscaler=True))
    engine = TIMESCALE_SYSTEM_PODS.items() if plan.of_type(CNPG_CLUSTER) else ()
    for name, (n, cpu, memory), later in [*((*i, False) for i in SYSTEM_PODS.items()), *((*i, True) for i in engine)]:
        moved = name in NO_SYSTEM_TOLERATION and tainted.get("system", False)
        found["workload" if moved else "system"].append(Pods(name, n, cpu, memory, after_autoscaler=later))
    return found


@dataclasses.dataclass(frozen=True)
class Group:
    role: str
    instance_type: str
    """Its smallest type: a group of several (Spot) is judged at its smallest."""
    desired: int
    most: int
    tainted: bool
    """A NoSchedule or NoExecute taint on its nodes: DaemonSets without tolerations stay off."""


@dataclasses.dataclass(frozen=True)
class Packed:
    group: Group
    room: Room
    """One node's allocatable."""
    daemons: Room
    loads: tuple[Room, ...]
    """What each node carries, DaemonSets included: one entry a node, scale-ups included."""
    unplaced: tuple[str, ...]
    """One line per pod that found no node, the first first."""
    spare: str
    """How many more of the group's largest pod would still fit."""

    def fullest(self, axis: str) -> float:
        return max(getattr(load, axis) for load in self.loads) if self.loads else 0.0


def _smallest(types) -> str:
    return min(types, key=lambda t: (allocatable(t).cpu, allocatable(t).memory))


def groups(plan: Plan) -> list[Group]:
    """The node groups by role (the ecomind.io/node-group label), their zonal groups summed."""
    found: dict[str, list] = {}
    for group in plan.of_type(NODE_GROUP):
        role = (group.inputs.get("labels") or {}).get(ROLE_LABEL, "workload")
        tainted = any(t.get("effect") in ("NO_SCHEDULE", "NO_EXECUTE") for t in group.inputs.get("taints") or [])
        found.setdefault(role, []).append((_smallest(group.inputs["instanceTypes"]), group.inputs["scalingConfig"],
                                           tainted))
    return [Group(role, _smallest(t for t, _, _ in members), sum(c["desiredSize"] for _, c, _ in members),
                  sum(c["maxSize"] for _, c, _ in members), any(x for _, _, x in members))
            for role, members in sorted(found.items())]


def _place(loads: list[Room], taken: list[set[str]], room: Room, pods: Pods) -> int | None:
    """Index of the node kube-scheduler's default scoring would pick for one of `pods`, or None."""
    feasible = [i for i, load in enumerate(loads)
                if (room - load).holds(pods.demand) and not (pods.one_per_node and pods.name in taken[i])]
    if not feasible:
        return None
    return max(feasible, key=lambda i: ((room.cpu - loads[i].cpu) / room.cpu + (room.memory - loads[i].memory)
                                        / room.memory, -i))


def pack(group: Group, pods: Sequence[Pods], autoscaled: bool) -> Packed:
    """Place `pods` on `group`'s nodes, the cluster's own first, each kind largest first; a pod
    created after the autoscaler that finds no room adds a node while the group is below its maximum."""
    room, daemons = allocatable(group.instance_type), daemonsets_on(group.tainted)
    loads, taken, unplaced = [daemons] * group.desired, [set() for _ in range(group.desired)], []
    order = sorted(pods, key=lambda p: (p.after_autoscaler, -p.cpu, -p.memory))
    for kind in order:
        for copy in range(kind.count):
            if not (room - daemons).holds(kind.demand):
                unplaced.append(f"{kind.name} fits on no {group.instance_type} node: it asks {kind.cpu:,.0f}m CPU "
                                f"and {kind.memory:,.0f} MiB, a node has {room.cpu - daemons.cpu:,.0f}m and "
                                f"{room.memory - daemons.memory:,.0f} MiB after its DaemonSets (short "
                                f"{(room - daemons).shortfall(kind.demand)})")
                break
            index = _place(loads, taken, room, kind)
            if index is None and kind.after_autoscaler and autoscaled and len(loads) < group.most:
                loads.append(daemons)
                taken.append(set())
                index = len(loads) - 1
            if index is None:
                emptiest = min(loads, key=lambda load: load.cpu) if loads else daemons
                before = "" if kind.after_autoscaler else ", before Cluster Autoscaler runs"
                limit = (f"{group.most} (its maximum)" if kind.after_autoscaler and autoscaled
                         else f"{group.desired} (its desired size{before})")
                unplaced.append(f"{kind.name} ({copy + 1} of {kind.count}) finds no room on {limit} "
                                f"{group.instance_type} node(s): the emptiest is short "
                                f"{(room - emptiest).shortfall(kind.demand) or 'a node its anti-affinity allows'}")
                break
            loads[index] = loads[index] + kind.demand
            taken[index].add(kind.name)
    largest = min(pods, key=lambda p: (-p.cpu, -p.memory), default=None)
    spare = "no pods"
    if largest:
        more = sum(_fits(room - load, largest) for load, names in zip(loads, taken, strict=True)
                   if not (largest.one_per_node and largest.name in names))
        spare = f"room for {more} more {largest.name}"
        if largest.after_autoscaler and autoscaled and len(loads) < group.most:
            later = (group.most - len(loads)) * _fits(room - daemons, largest)
            spare += f" here and {later} on the {group.most - len(loads)} node(s) Cluster Autoscaler may still add"
    return Packed(group, room, daemons, tuple(loads), tuple(unplaced), spare)


def _fits(free: Room, pods: Pods) -> int:
    if pods.one_per_node:
        return int(free.holds(pods.demand))
    counts = [free.pods]
    if pods.cpu:
        counts.append(free.cpu // pods.cpu)
    if pods.memory:
        counts.append(free.memory // pods.memory)
    return max(0, int(min(counts)))


def packed(plan: Plan) -> list[Packed]:
    found = groups(plan)
    pods = group_pods(plan, {g.role: g.tainted for g in found})
    autoscaled = any(r.inputs.get("chart") == "cluster-autoscaler" for r in plan.of_type(RELEASE))
    return [pack(group, pods.get(group.role, []), autoscaled) for group in found if group.desired]


def pods_running(plan: Plan, nodes: int) -> int:
    """Pods the cluster runs at rest: the release's replicas, the controllers, a DaemonSet pod a node."""
    release = sum(d["least"] for d in deployments(plan).values())
    system = sum(n for n, _, _ in SYSTEM_PODS.values())
    if plan.of_type(CNPG_CLUSTER):
        system += sum(n for n, _, _ in TIMESCALE_SYSTEM_PODS.values())
        system += sum(p.count for p in database_instances(plan)[0])
    return release + system + len(DAEMONSETS) * nodes


def _percent(used: float, whole: float, unit: str = "") -> str:
    return f"{used:,.0f}{unit} of {whole:,.0f}{unit} ({used / whole:.0%})"


def lines(results: Iterable[Packed]) -> list[str]:
    out = []
    for p in results:
        g = p.group
        scaled = f" (Cluster Autoscaler adds {len(p.loads) - g.desired}, at most {g.most})" if len(
            p.loads) != g.desired else ""
        memory = _percent(p.fullest("memory"), p.room.memory, " MiB")
        out.append(f"  {g.role}: {len(p.loads)} x {g.instance_type}{scaled}; fullest node cpu "
                   f"{_percent(p.fullest('cpu'), p.room.cpu, 'm')}, memory {memory}, "
                   f"pods {_percent(p.fullest('pods'), p.room.pods)}; DaemonSets {p.daemons.cpu:,.0f}m, "
                   f"{p.daemons.memory:,.0f} MiB, {p.daemons.pods} pods a node; "
                   + (f"does not fit: {p.unplaced[0]}" if p.unplaced else f"every pod placed, {p.spare}"))
    return out


# Releases whose pods the packing lets scale a group up: they must be installed after the autoscaler.
AFTER_AUTOSCALER_CHARTS = ("cloudnative-pg", "plugin-barman-cloud", "cert-manager")
APPLICATION_RELEASE = "ecomind-release"


def _scale_ups_wait_for_the_autoscaler(plan: Plan) -> list[str]:
    autoscalers = [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == "cluster-autoscaler"]
    problems = []
    for release in plan.of_type(RELEASE):
        if release.name != APPLICATION_RELEASE and release.inputs.get("chart") not in AFTER_AUTOSCALER_CHARTS:
            continue
        upstream = plan.upstream_of(release)
        if autoscalers and not any(a.urn in upstream for a in autoscalers):
            problems.append(f"release {release.name} does not wait for Cluster Autoscaler, yet its pods are "
                            "counted on nodes only the autoscaler adds")
    return problems


def analyse(plan: Plan) -> dict[str, Any]:
    results = packed(plan)
    failures = [*(f"packing: {p.group.role} nodes: {line}" for p in results for line in p.unplaced),
                *(f"packing: {problem}" for problem in database_instances(plan)[1]),
                *(f"packing: {problem}" for problem in _scale_ups_wait_for_the_autoscaler(plan))]
    return {
        "groups": [{**dataclasses.asdict(p.group), "nodes": len(p.loads),
                    "allocatable": dataclasses.asdict(p.room), "daemonsets": dataclasses.asdict(p.daemons),
                    "fullest": {axis: p.fullest(axis) for axis in ("cpu", "memory", "pods")},
                    "unplaced": list(p.unplaced), "spare": p.spare} for p in results],
        "failures": failures,
        "summary": ["Pods packed node by node (requests / allocatable of the fullest node; analyses/packing.py):",
                    *lines(results)],
    }
