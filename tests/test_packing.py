"""analyses/packing.py and node_room.py: every pod of every stack and engine variant fits on a node
of its group, counted as the node really carries it, and what the plan says when one does not."""

from __future__ import annotations

import copy
import dataclasses

import pytest

import node_room
from analyses import packing
from tests.conftest import planned

CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
VARIANTS = [("dev", ()), ("prod", ()), ("prod-dr", ()), ("dev", ("databaseEngine=timescaledb",)),
            ("prod", ("databaseEngine=timescaledb",))]


@pytest.mark.parametrize("stack,overrides", VARIANTS,
                         ids=["dev", "prod", "prod-dr", "dev-timescaledb", "prod-timescaledb"])
def test_every_stack_and_engine_packs_and_the_plan_shows_each_groups_fullest_node(stack, overrides):
    plan = planned(stack, overrides)
    section = packing.analyse(plan)
    assert section["failures"] == []
    roles = {"system", "workload"} | ({"database"} if overrides else set())
    assert {g["role"] for g in section["groups"]} == roles
    lines = section["summary"][1:]
    assert len(lines) == len(roles)
    assert all("fullest node cpu" in line and "every pod placed" in line for line in lines), lines


def test_the_in_cluster_engine_fits_its_node_with_the_sidecar_and_headroom():
    """KB1: 1400m plus the barman-cloud sidecar and the DaemonSets is more than a t4g.medium offers;
    the default is 1000m, which leaves 350m (and fits even if the GuardDuty agent gains tolerations)."""
    section = packing.analyse(planned("prod", ("databaseEngine=timescaledb",)))
    [database] = [g for g in section["groups"] if g["role"] == "database"]
    room = node_room.allocatable("t4g.medium")
    assert database["fullest"]["cpu"] == 1000 + node_room.BACKUP_SIDECAR.cpu + database["daemonsets"]["cpu"]
    assert room.cpu - database["fullest"]["cpu"] >= node_room.DAEMONSETS["aws-guardduty-agent"].cpu


def with_database_cpu(plan, cpu: str):
    resources = []
    for r in plan.resources:
        if r.type == CLUSTER:
            inputs = copy.deepcopy(r.inputs)
            inputs["spec"]["resources"]["requests"]["cpu"] = cpu
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def test_a_pod_larger_than_any_node_of_its_group_fails_naming_pod_type_and_shortfall():
    broken = with_database_cpu(planned("prod", ("databaseEngine=timescaledb",)), "1400m")
    [line] = packing.analyse(broken)["failures"]
    assert line.startswith("packing: database nodes: ecomind-db instance + barman-cloud sidecar fits on no "
                           "t4g.medium node"), line
    assert "short 50m CPU" in line  # 1400 + 100 + 480 of DaemonSets = 1980m against 1930m


def test_the_settings_bound_a_database_instance_by_the_same_facts():
    """settings.py refuses a timescaledbCpuMillicores above this (tests/test_timescale.py)."""
    room = node_room.database_instance_room("t4g.medium")
    assert room.cpu == 1930 - 680 - node_room.BACKUP_SIDECAR.cpu == 1150  # the GuardDuty agent counted too
    assert node_room.daemonsets_on(tainted=True).cpu == 480


def without_sidecar_requests(plan):
    resources = []
    for r in plan.resources:
        if r.type == packing.OBJECT_STORE:
            inputs = copy.deepcopy(r.inputs)
            inputs["spec"].pop("instanceSidecarConfiguration")
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def test_a_sidecar_the_plan_cannot_count_fails_naming_its_object_store():
    failures = packing.analyse(without_sidecar_requests(planned("dev", ("databaseEngine=timescaledb",))))["failures"]
    assert any("ObjectStore ecomind-db-backups sets no instanceSidecarConfiguration.resources.requests" in f
               for f in failures), failures


def test_daemonsets_without_tolerations_stay_off_tainted_groups():
    """The GuardDuty agent tolerates no taint: on dev's untainted system nodes, not on prod's."""
    dev, prod = (packing.analyse(planned(s))["groups"] for s in ("dev", "prod"))
    system = {s: next(g for g in groups if g["role"] == "system") for s, groups in (("dev", dev), ("prod", prod))}
    agent = node_room.DAEMONSETS["aws-guardduty-agent"]
    assert system["dev"]["tainted"] is False and system["prod"]["tainted"] is True
    assert system["dev"]["daemonsets"]["cpu"] - system["prod"]["daemonsets"]["cpu"] == agent.cpu
    assert node_room.daemonsets_on(tainted=False).pods == len(node_room.DAEMONSETS)


def test_a_controller_without_a_toleration_is_packed_with_the_workload_when_system_nodes_are_tainted():
    prod = planned("prod")
    pods = packing.group_pods(prod, {g.role: g.tainted for g in packing.groups(prod)})
    assert "cloudwatch-operator" in {p.name for p in pods["workload"]}
    assert "cloudwatch-operator" not in {p.name for p in pods["system"]}


def test_the_clusters_own_controllers_must_fit_before_the_autoscaler_runs():
    """They are not after the autoscaler: one node fewer than the system group wants fails, naming
    the desired size, however large the group's maximum."""
    dev = planned("dev")
    [system] = [g for g in packing.groups(dev) if g.role == "system"]
    pods = packing.group_pods(dev, {"system": False})["system"]
    squeezed = packing.pack(dataclasses.replace(system, desired=1, most=5), pods, autoscaled=True)
    assert squeezed.unplaced and "its desired size, before Cluster Autoscaler runs" in squeezed.unplaced[0]
    scaled = packing.pack(dataclasses.replace(system, desired=1, most=5),
                          [dataclasses.replace(p, after_autoscaler=True) for p in pods], autoscaled=True)
    assert not scaled.unplaced and len(scaled.loads) > 1


def test_a_pods_request_counts_native_sidecars_and_its_largest_init_container():
    spec = {"initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "900m", "memory": "64Mi"}}},
                               {"name": "proxy", "restartPolicy": "Always",
                                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
            "containers": [{"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}
    assert packing.pod_requests(spec) == node_room.Room(900, 384, 1)
    spec["initContainers"].reverse()  # the sidecar starts first, so the migration runs beside it
    assert packing.pod_requests(spec) == node_room.Room(1000, 384, 1)


def test_node_allocatable_follows_the_kubelet_reservation():
    # t4g.medium: 2 vCPU, 4 GiB, 17 pods: 70m and 11 x 17 + 255 MiB reserved, 100 MiB eviction.
    assert node_room.allocatable("t4g.medium") == node_room.Room(1930, 4096 - (11 * 17 + 255) - 100, 17)
    assert node_room.reserved_cpu_millicores(4) == 80
    assert set(node_room.NODE_INSTANCE_SHAPES) <= set(node_room.MAX_PODS)


def test_the_model_counts_the_controllers_as_their_releases_request(stack_plan):
    from components.cluster_services import CONTROLLER_RESOURCES

    releases = {r.inputs["chart"]: r.inputs["values"] for r in stack_plan.of_type("kubernetes:helm.sh/v3:Release")}
    planned_requests = {
        "aws-load-balancer-controller": releases["aws-load-balancer-controller"],
        "external-secrets": releases["external-secrets"],
        "external-secrets-webhook": releases["external-secrets"]["webhook"],
        "external-secrets-cert-controller": releases["external-secrets"]["certController"],
        "cluster-autoscaler": releases["cluster-autoscaler"],
    }
    for name, values in planned_requests.items():
        requests = values["resources"]["requests"]
        assert requests == CONTROLLER_RESOURCES[name]["requests"]
        replicas, cpu, memory = packing.SYSTEM_PODS[name]
        assert (f"{cpu}m", f"{memory}Mi") == (requests["cpu"], requests["memory"]), name
        assert replicas == values.get("replicaCount", 1), name


def test_the_engines_operators_are_counted_as_installed():
    releases = {r.inputs["chart"]: r.inputs["values"]
                for r in planned("dev", ("databaseEngine=timescaledb",)).of_type("kubernetes:helm.sh/v3:Release")}
    assert packing.TIMESCALE_SYSTEM_PODS["cloudnative-pg"][0] == releases["cloudnative-pg"]["replicaCount"]
    assert packing.TIMESCALE_SYSTEM_PODS["barman-cloud"][0] == releases["plugin-barman-cloud"].get("replicaCount", 1)


def test_medium_load_packs_with_the_sizes_the_readme_gives_for_it():
    plan = planned("prod", ("loadIngestCallsPerDay=1000000", "loadApiCallsPerDay=500000"))
    assert packing.analyse(plan)["failures"] == []


def test_a_release_counted_on_added_nodes_must_wait_for_the_autoscaler():
    from tests.test_deployment_rules import named, without_dependency

    release = "kubernetes:helm.sh/v3:Release"
    plan = planned("prod", ("databaseEngine=timescaledb",))
    broken = without_dependency(plan, named(release, "database-operator"),
                                named(release, "services-cluster-autoscaler"))
    assert packing.analyse(broken)["failures"] == [
        "packing: release database-operator does not wait for Cluster Autoscaler, yet its pods are counted on nodes "
        "only the autoscaler adds"]
