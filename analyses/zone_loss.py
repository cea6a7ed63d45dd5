"""Whether each tier keeps serving when one availability zone is lost (enforced in prod).

Zones of resources are found through their dependencies on subnets (placed by zone ID); the
tiers are NAT, nodes, the database (either engine), Kafka, the cache and the application.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from analyses.model import Plan, PlannedResource
from policies import ecomind_rules as rules

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECTION = "az_loss"


@dataclasses.dataclass(frozen=True)
class Tier:
    tier: str
    survives: bool
    reason: str


class _Topology:
    """Zones of planned resources, found through their dependencies on subnets."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.by_urn = {r.urn: r for r in plan.resources}
        # By zone ID; a subnet placed by name still has a zone (the deployment rules refuse it).
        self.subnet_zone = {r.urn: r.inputs.get("availabilityZoneId") or r.inputs.get("availabilityZone")
                            for r in plan.of_type("aws:ec2/subnet:Subnet")}

    def zones_of(self, resource: PlannedResource) -> set[str]:
        return {self.subnet_zone[d] for d in resource.dependencies if d in self.subnet_zone}

    def dependency(self, resource: PlannedResource, typ: str) -> PlannedResource | None:
        return next((self.by_urn[d] for d in resource.dependencies if self.by_urn[d].type == typ), None)


def _nat_tier(t: _Topology) -> Tier:
    nats = t.plan.of_type("aws:ec2/natGateway:NatGateway")
    nat_zone = {n.urn: next(iter(t.zones_of(n)), None) for n in nats}
    # Which zone each private route table serves: through its subnet association.
    table_zone = {}
    for association in t.plan.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        table = t.dependency(association, "aws:ec2/routeTable:RouteTable")
        zones = t.zones_of(association)
        if table and zones:
            table_zone.setdefault(table.urn, set()).update(zones)
    crossing = []
    for route in t.plan.of_type("aws:ec2/route:Route"):
        nat = t.dependency(route, "aws:ec2/natGateway:NatGateway")
        table = t.dependency(route, "aws:ec2/routeTable:RouteTable")
        if nat and table and table_zone.get(table.urn) != {nat_zone[nat.urn]}:
            crossing.append(route.name)
    if len(set(nat_zones := nat_zone.values())) < 2 or crossing:
        return Tier("NAT", False, f"{len(nats)} NAT gateway(s) in {len(set(nat_zones))} zone(s); zones routing "
                                  f"through another zone's NAT: {len(crossing)}")
    return Tier("NAT", True, f"one NAT gateway per zone ({len(nats)}), each zone routes through its own")


def _node_tier(t: _Topology) -> Tier:
    """Node groups pooled by their ecomind.io/node-group label: the database's zonal groups are one
    pool, which keeps nodes if it has a zone left."""
    pools: dict[str, list[tuple[set[str], int]]] = {}
    for group in t.plan.of_type("eks:index:ManagedNodeGroup"):
        pool = (group.inputs.get("labels") or {}).get("ecomind.io/node-group", group.name)
        pools.setdefault(pool, []).append((t.zones_of(group), group.inputs["scalingConfig"]["minSize"]))
    problems = []
    for pool, groups in sorted(pools.items()):
        zones = set().union(*(zones for zones, _ in groups))
        low = sum(size for _, size in groups)
        # The worst zone to lose: a spread group loses its share, a zonal group all of its nodes.
        lost = max((sum(size if len(group_zones) == 1 else math.ceil(size / len(group_zones))
                        for group_zones, size in groups if zone in group_zones) for zone in zones), default=0)
        if len(zones) < 2 or low - lost < 1:
            problems.append(f"{pool}: {low} node(s) over {len(zones)} zone(s) leaves {low - lost}")
    if problems:
        return Tier("nodes", False, "; ".join(problems))
    return Tier("nodes", True, "every node pool spans the zones and keeps nodes after losing one")


def _database_tier(t: _Topology) -> Tier:
    [cluster] = t.plan.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster") or [None]
    if cluster is not None:
        return _in_cluster_database_tier(cluster.inputs["spec"])
    [db] = t.plan.of_type("aws:rds/instance:Instance") or [None]
    if db is None:
        return Tier("database", False, "no database planned")
    if db.inputs.get("multiAz") is True:
        return Tier("database", True, "Multi-AZ: RDS fails over to the standby in another zone")
    return Tier("database", False, "single-AZ instance: lost with its zone")


def _in_cluster_database_tier(spec: Mapping[str, Any]) -> Tier:
    gaps = rules.in_cluster_database_gaps(spec)
    if gaps:
        return Tier("database", False, "; ".join(gaps))
    return Tier("database", True, f"{spec['instances']} instances, one per zone, every commit on a synchronous "
                                  "standby: CloudNativePG promotes a standby with no committed loss")


def _kafka_tier(t: _Topology) -> Tier:
    [cluster] = t.plan.of_type("aws:msk/cluster:Cluster") or [None]
    if cluster is None:
        return Tier("kafka", False, "no Kafka cluster planned")
    zones = len(t.zones_of(cluster))
    brokers = cluster.inputs["numberOfBrokerNodes"]
    [configuration] = t.plan.of_type("aws:msk/configuration:Configuration")
    lines = configuration.inputs["serverProperties"].split("\n")
    properties = dict(line.split("=", 1) for line in lines if "=" in line)
    replication = int(properties.get("default.replication.factor", 1))
    min_insync = int(properties.get("min.insync.replicas", 1))
    per_zone = math.ceil(brokers / zones) if zones else brokers
    if zones >= 2 and replication - per_zone >= min_insync and replication >= 2:
        return Tier("kafka", True, f"{brokers} brokers over {zones} zones, RF {replication}, min.insync {min_insync}: "
                                   "writes keep their quorum")
    return Tier("kafka", False, f"{brokers} brokers over {zones} zones, RF {replication}, min.insync {min_insync}")


def _cache_tier(t: _Topology) -> Tier:
    [cache] = t.plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup") or [None]
    if cache is None:
        return Tier("cache", False, "no cache planned")
    zones = set(cache.inputs.get("preferredCacheClusterAzs") or [])
    if cache.inputs.get("automaticFailoverEnabled") and cache.inputs.get("multiAzEnabled") and len(zones) >= 2:
        nodes = cache.inputs["numCacheClusters"]
        return Tier("cache", True, f"{nodes} nodes in {len(zones)} zones, automatic failover")
    return Tier("cache", False, "one node or no automatic failover across zones")


def _merge(base: dict, override: Mapping) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged.get(key, {}), value) if isinstance(value, Mapping) and isinstance(
            merged.get(key), dict) else value
    return merged


def _application_tier(t: _Topology) -> Tier:
    [release] = [r for r in t.plan.of_type("kubernetes:helm.sh/v3:Release") if r.name.endswith("-release")] or [None]
    if release is None:
        return Tier("application", False, "no EcoMind release planned")
    chart = PROJECT_DIR / release.inputs["chart"]
    values = yaml.safe_load((chart / "values.yaml").read_text())
    for asset in release.inputs.get("valueYamlFiles", []):
        values = _merge(values, yaml.safe_load((PROJECT_DIR / asset["path"]).read_text()) or {})
    values = _merge(values, release.inputs["values"])
    strict = values["topologySpread"]["whenUnsatisfiable"] == "DoNotSchedule"
    weak = []
    for service, spec in values["services"].items():
        scaling = spec.get("autoscaling") or {}
        replicas = scaling["minReplicas"] if scaling.get("enabled") else spec["replicas"]
        if replicas < 2:
            weak.append(f"{service} ({replicas})")
    if weak or not strict:
        return Tier("application", False, f"single-replica services: {', '.join(weak) or 'none'}; "
                                          f"zone spread enforced: {strict}")
    return Tier("application", True, "every service runs 2+ replicas spread over zones, one PodDisruptionBudget each")


def az_loss(plan: Plan) -> list[Tier]:
    topology = _Topology(plan)
    return [_nat_tier(topology), _node_tier(topology), _database_tier(topology), _kafka_tier(topology),
            _cache_tier(topology), _application_tier(topology)]


def az_loss_section(plan: Plan, enforced: bool) -> dict[str, Any]:
    return {"enforced": enforced, "tiers": [dataclasses.asdict(t) for t in az_loss(plan)]}


def format_table(section: Sequence[Mapping[str, Any]]) -> list[str]:
    width = max(len(t["tier"]) for t in section)
    return [f"  {t['tier']:<{width}}  {'survives' if t['survives'] else 'LOST    '}  {t['reason']}" for t in section]


def analyse(plan: Plan) -> dict[str, Any]:
    """The `az_loss` section; in prod every tier that stops serving fails the plan."""
    environment = plan.settings["environment"]
    section = az_loss_section(plan, enforced=environment == "prod")
    failures = [f"az-loss: {t['tier']} stops serving when a zone is lost: {t['reason']}"
                for t in section["tiers"] if not t["survives"]] if section["enforced"] else []
    summary = [f"Losing one availability zone ({'enforced' if section['enforced'] else 'reported only'} "
               f"in {environment}):", *format_table(section["tiers"])]
    return {**section, "failures": failures, "summary": summary}
