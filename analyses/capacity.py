"""Whether each tier carries the stack's load (settings load*), and with how much headroom.

For every tier the plan sizes, the capacity the planned size gives and the load at the busiest
minute, in the same unit: requests a second per service, events a second for the worker, Kafka
ingress, partitions and storage per broker,
database connections, storage and baseline CPU, cache memory. Headroom is capacity over load: a
tier below 1 fails `make plan`; one more than OVER_PROVISIONED times the load, where the ladder
has a smaller size, is reported (advisory). Every per-unit figure names its source; the ones
that are assumptions about EcoMind's code say so, and a load test is what replaces them. Whether
the pods fit on the nodes, node by node, is analyses/packing.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from analyses import packing
from analyses.model import Plan

SECTION = "capacity"
SECONDS_PER_DAY = 86_400
OVER_PROVISIONED = 20

# --- What EcoMind's services do per replica (assumptions: not measured; a load test replaces them) ---
# Requests a second one replica serves at its CPU request: gateway, a Go handler that validates an
# event and produces one Kafka record; api, FastAPI reading rollups from PostgreSQL; ui, Next.js
# server rendering. Events a second one worker replica consumes and writes as rollups.
REQUESTS_PER_REPLICA = {"gateway": 100, "api": 25, "ui": 25}
EVENTS_PER_WORKER = 200
UI_PAGES_PER_API_CALL = 0.2      # the ui serves a fifth as many requests as the api (settings loadApiCallsPerDay)
INGEST_TOPICS = 2                # each event is written twice: events.raw, then events.enriched by the worker
# Database connections each process opens at most: SQLAlchemy's default pool (5) and overflow (10)
# (SQLAlchemy docs, "Connection Pooling", QueuePool defaults), one process per pod; the migration
# Job one; what RDS reserves for itself and operators, 5.
CONNECTIONS_PER_PROCESS = 15
OPERATOR_CONNECTIONS = 5
DATABASE_CLIENTS = ("api", "worker")
# A release rolls every Deployment at once and each new pod opens its pool before an old one
# closes (maxSurge, maxUnavailable 0): the clients at their HPA maximum plus the surge must fit
# under max_connections with a fifth to spare (an operator's psql, a second migration, a
# connection the server has not yet reaped).
CONNECTION_HEADROOM = 1.2
# Bytes the database keeps per ingested event after rollup (rows and indexes, amortised), kept
# for a year: an assumption about EcoMind's schema.
STORED_BYTES_PER_EVENT = 200
DATABASE_RETENTION_DAYS = 365
# Database CPU-seconds per ingested event and per api call (a rollup upsert; an indexed read):
# assumptions, as above.
DATABASE_CPU_SECONDS_PER_EVENT = 0.001
DATABASE_CPU_SECONDS_PER_API_CALL = 0.005
# Cache: a session per active user (2 KB) and a rate-limit counter per client per minute (200 B,
# a key with its TTL); users are the api calls over 100 calls a user a day.
SESSION_BYTES = 2048
RATE_LIMIT_BYTES = 200
API_CALLS_PER_USER = 100

# --- AWS's figures -------------------------------------------------------------------------------------
# Partitions per broker, replicas included: MSK developer guide, "Best practices for Standard
# brokers", right-size your cluster (t3.small 300; m5/m7g large 1000). Ingress a broker sustains,
# MB/s: assumed. AWS publishes no table, only its sizing spreadsheet; these are a fraction of the
# broker's EBS throughput (m7g.large 78.75 MiB/s in AWS's msk_sizing.py) and, for the burstable
# t3.small (20% CPU baseline, CPU credits), far below it.
MSK_BROKERS: Mapping[str, tuple[int, float]] = {
    "kafka.t3.small": (300, 4.0),
    "kafka.m5.large": (1000, 8.0),
    "kafka.m7g.large": (1000, 8.0),
    "kafka.m7g.xlarge": (1000, 16.0),
}
# Storage autoscaling grows a broker's volume at this use (components/streaming.py target).
MSK_STORAGE_TARGET = 0.6
# RDS for PostgreSQL: max_connections defaults to LEAST(DBInstanceClassMemory/9531392, 5000) (RDS
# user guide, "Maximum number of database connections"); DBInstanceClassMemory is below the class's
# memory by what the OS and RDS keep (about 10%, an approximation). Memory GiB, vCPUs and, for
# burstable classes, the baseline share of each vCPU (RDS user guide, "DB instance classes";
# EC2 "Burstable performance instances", baseline per vCPU).
RDS_CLASSES: Mapping[str, tuple[float, int, float]] = {
    "db.t4g.micro": (1, 2, 0.10), "db.t4g.small": (2, 2, 0.20), "db.t4g.medium": (4, 2, 0.20),
    "db.t4g.large": (8, 2, 0.30), "db.m7g.large": (8, 2, 1.0), "db.m7g.xlarge": (16, 4, 1.0),
    "db.r7g.large": (16, 2, 1.0), "db.r7g.xlarge": (32, 4, 1.0),
}
RDS_MEMORY_AVAILABLE = 0.9
RDS_BYTES_PER_CONNECTION = 9_531_392
# PostgreSQL's own default max_connections (postgresql.conf), which CloudNativePG keeps unless set.
POSTGRES_DEFAULT_CONNECTIONS = 100
# ElastiCache node memory (GiB) per type (ElastiCache user guide, "Supported node types") and the
# share Valkey should keep for replication and overhead: reserved-memory-percent's default of 25,
# which AWS advises raising to 30 on small nodes and 50 on micro ones in production (ElastiCache
# user guide, "Managing reserved memory"); the model counts with the advice.
CACHE_NODES: Mapping[str, float] = {"cache.t4g.micro": 0.5, "cache.t4g.small": 1.37, "cache.t4g.medium": 3.09,
                                    "cache.m7g.large": 6.38, "cache.r7g.large": 13.07}
CACHE_RESERVED = {"cache.t4g.micro": 0.5, "cache.t4g.small": 0.3}
DEFAULT_CACHE_RESERVED = 0.25
GIB = 1024 ** 3

# A rolling update adds up to maxSurge of each Deployment (components/release.py ROLLOUT: 50%).
SURGE = packing.SURGE


@dataclasses.dataclass(frozen=True)
class Row:
    tier: str
    capacity: float
    load: float
    unit: str
    basis: str
    smaller: str | None = None
    """A smaller size of the same ladder, named when the tier is far over its load."""
    needed: float = 1.0
    """The headroom below which the tier fails."""

    @property
    def headroom(self) -> float:
        return math.inf if self.load == 0 else self.capacity / self.load

    @property
    def short(self) -> bool:
        return self.headroom < self.needed


def peak_rates(load: Mapping[str, int]) -> dict[str, float]:
    per_second = {"ingest": load["ingest_calls_per_day"] / SECONDS_PER_DAY,
                  "api": load["api_calls_per_day"] / SECONDS_PER_DAY}
    per_second["ui"] = per_second["api"] * UI_PAGES_PER_API_CALL
    return {k: v * load["peak_factor"] for k, v in per_second.items()}


def _service_rows(plan: Plan, peaks: Mapping[str, float], partitions: int) -> list[Row]:
    rows = []
    for service, deployment in sorted(packing.deployments(plan).items()):
        if service in REQUESTS_PER_REPLICA:
            load = peaks["ingest"] if service == "gateway" else peaks[service]
            rows.append(Row(f"{service} requests", deployment["most"] * REQUESTS_PER_REPLICA[service], load, "req/s",
                            f"{deployment['most']} replicas at most x {REQUESTS_PER_REPLICA[service]} req/s (assumed)"))
        elif service == "worker":
            consumers = min(deployment["most"], partitions) if partitions else deployment["most"]
            rows.append(Row("worker events", consumers * EVENTS_PER_WORKER, peaks["ingest"], "events/s",
                            f"{consumers} consumers (replicas, at most the partitions) x {EVENTS_PER_WORKER}/s "
                            "(assumed)"))
    return rows


def _kafka_rows(plan: Plan, load: Mapping[str, int], peaks: Mapping[str, float]) -> list[Row]:
    clusters = plan.of_type("aws:msk/cluster:Cluster")
    if not clusters:
        return []
    [cluster] = clusters
    instance = cluster.inputs["brokerNodeGroupInfo"]["instanceType"]
    brokers = cluster.inputs["numberOfBrokerNodes"]
    limit_partitions, limit_ingress = MSK_BROKERS[instance]
    topics = plan.of_type("aws:msk/topic:Topic")
    replicas = sum(t.inputs["partitionCount"] * t.inputs["replicationFactor"] for t in topics)
    factor = max((t.inputs["replicationFactor"] for t in topics), default=1)
    ingress = peaks["ingest"] * load["event_bytes"] * INGEST_TOPICS / 1e6
    per_broker = ingress * factor / brokers
    retention_days = max((int(json.loads(t.inputs.get("configs") or "{}").get("retention.ms", 0)) / 86_400_000
                          for t in topics), default=7)
    daily_gb = load["ingest_calls_per_day"] * load["event_bytes"] * INGEST_TOPICS * factor / brokers / 1e9
    volume = cluster.inputs["brokerNodeGroupInfo"]["storageInfo"]["ebsStorageInfo"]["volumeSize"]
    # Storage autoscaling grows the volume up to its target's maximum (components/streaming.py).
    ceiling = next((t.inputs["maxCapacity"] for t in plan.of_type("aws:appautoscaling/target:Target")
                    if t.inputs.get("serviceNamespace") == "kafka"), volume)
    smaller = _smaller(MSK_BROKERS, instance, key=lambda shape: shape[1])
    return [
        Row("kafka ingress per broker", limit_ingress, per_broker, "MB/s",
            f"{instance}: {limit_ingress} MB/s (assumed; no AWS table); RF {factor} over {brokers} brokers", smaller),
        Row("kafka partitions per broker", limit_partitions, replicas / brokers, "partitions",
            f"{instance}: {limit_partitions} (MSK best practices); {replicas} replicas over {brokers} brokers"),
        Row("kafka storage per broker", ceiling * MSK_STORAGE_TARGET, daily_gb * retention_days, "GB",
            f"{volume} GB growing to {ceiling} GB, used to the {MSK_STORAGE_TARGET:.0%} autoscaling target; "
            f"{retention_days:.0f} days retained"),
    ]


def _database_rows(plan: Plan, load: Mapping[str, int], peaks: Mapping[str, float]) -> list[Row]:
    deployments = packing.deployments(plan)
    clients = sum(math.ceil(deployments[s]["most"] * (1 + SURGE)) for s in DATABASE_CLIENTS if s in deployments)
    connections = clients * CONNECTIONS_PER_PROCESS + 1 + OPERATOR_CONNECTIONS
    stored_gb = load["ingest_calls_per_day"] * STORED_BYTES_PER_EVENT * DATABASE_RETENTION_DAYS / 1e9
    cpu = (peaks["ingest"] * DATABASE_CPU_SECONDS_PER_EVENT + peaks["api"] * DATABASE_CPU_SECONDS_PER_API_CALL)
    basis = (f"{clients} client pods (HPA maximum + {SURGE:.0%} surge) x {CONNECTIONS_PER_PROCESS} (SQLAlchemy pool) "
             f"+ migrations + operators; needs {CONNECTION_HEADROOM}x")
    rows = []
    for instance in plan.of_type("aws:rds/instance:Instance"):
        klass = instance.inputs["instanceClass"]
        memory, vcpus, baseline = RDS_CLASSES[klass]
        limit = min(int(memory * GIB * RDS_MEMORY_AVAILABLE / RDS_BYTES_PER_CONNECTION), 5000)
        smaller = _smaller(RDS_CLASSES, klass, key=lambda shape: (shape[0], shape[2]))
        rows += [
            Row("database connections", limit, connections, "connections",
                f"{klass} max_connections (RDS default formula); {basis}", needed=CONNECTION_HEADROOM),
            Row("database storage", instance.inputs.get("maxAllocatedStorage") or instance.inputs["allocatedStorage"],
                stored_gb, "GB", f"storage autoscaling ceiling; {STORED_BYTES_PER_EVENT} B an event kept "
                f"{DATABASE_RETENTION_DAYS} days (assumed)"),
            Row("database cpu", vcpus * baseline, cpu, "vCPU",
                f"{klass}: {vcpus} vCPU x {baseline:.0%} baseline; {DATABASE_CPU_SECONDS_PER_EVENT * 1000:.0f} ms an "
                f"event, {DATABASE_CPU_SECONDS_PER_API_CALL * 1000:.0f} ms an api call (assumed)", smaller),
        ]
    for cluster in plan.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster"):
        spec = cluster.inputs["spec"]
        limit = int(((spec.get("postgresql") or {}).get("parameters") or {}).get(
            "max_connections", POSTGRES_DEFAULT_CONNECTIONS))
        cpu_limit = _cpu(((spec.get("resources") or {}).get("requests") or {}).get("cpu", "1"))
        size = _gib(spec["storage"]["size"])
        rows += [
            Row("database connections", limit, connections, "connections", f"max_connections {limit}; {basis}",
                needed=CONNECTION_HEADROOM),
            Row("database storage", size, stored_gb, "GB",
                f"{spec['storage']['size']} per instance; {STORED_BYTES_PER_EVENT} B an event kept "
                f"{DATABASE_RETENTION_DAYS} days (assumed)"),
            Row("database cpu", cpu_limit, cpu, "vCPU",
                "the instance's CPU request; per-event and per-call CPU assumed"),
        ]
    return rows


def _cache_rows(plan: Plan, load: Mapping[str, int]) -> list[Row]:
    rows = []
    users = load["api_calls_per_day"] / API_CALLS_PER_USER
    clients = users  # one rate-limit key a client a minute; a client per user (assumed)
    needed = (users * SESSION_BYTES + clients * RATE_LIMIT_BYTES) / GIB
    for group in plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        node = group.inputs["nodeType"]
        reserved = CACHE_RESERVED.get(node, DEFAULT_CACHE_RESERVED)
        usable = CACHE_NODES[node] * (1 - reserved)
        rows.append(Row("cache memory", usable, needed, "GiB",
                        f"{node}: {CACHE_NODES[node]} GiB less {reserved:.0%} reserved; {users:,.0f} sessions of "
                        f"{SESSION_BYTES} B and rate-limit keys (assumed)", _smaller(CACHE_NODES, node)))
    return rows


def _smaller(ladder: Mapping[str, Any], size: str, key=lambda shape: shape) -> str | None:
    """The next size below `size` on its ladder (same family prefix), if there is one."""
    family = size.rsplit(".", 1)[0]
    below = sorted((key(shape), name) for name, shape in ladder.items()
                   if name.rsplit(".", 1)[0] == family and key(shape) < key(ladder[size]))
    return below[-1][1] if below else None


def _cpu(value: Any) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _gib(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Gi|Mi|Ti)", value)
    if not match:
        raise ValueError(f"capacity: cannot read the storage size {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number * {"Mi": 1 / 1024, "Gi": 1, "Ti": 1024}[unit]


def rows(plan: Plan, load: Mapping[str, int]) -> list[Row]:
    peaks = peak_rates(load)
    raw = [t for t in plan.of_type("aws:msk/topic:Topic") if t.inputs["name"] == "events.raw"]
    partitions = raw[0].inputs["partitionCount"] if raw else 0
    return [*_service_rows(plan, peaks, partitions), *_kafka_rows(plan, load, peaks),
            *_database_rows(plan, load, peaks), *_cache_rows(plan, load)]


def _format(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}" if value >= 0.01 else f"{value:.4f}"


def analyse(plan: Plan) -> dict[str, Any]:
    load = plan.settings.get("load")
    if not load:
        return {"rows": [], "failures": [], "summary": []}
    found = rows(plan, load)
    failures = [f"capacity: {r.tier} below {'' if r.needed == 1 else f'{r.needed:g}x '}the load: "
                f"{_format(r.capacity)} {r.unit} for "
                f"{_format(r.load)} at peak ({r.basis})" for r in found if r.short]
    advisories = [f"{r.tier}: {r.headroom:,.0f}x the load; {r.smaller} is the next size down"
                  for r in found if r.smaller and r.headroom > OVER_PROVISIONED]
    peaks = peak_rates(load)
    width = max(len(r.tier) for r in found)
    summary = [f"Capacity at the busiest minute ({load['ingest_calls_per_day']:,} ingest and "
               f"{load['api_calls_per_day']:,} api calls a day, peak x{load['peak_factor']}: "
               f"{peaks['ingest']:.1f} ingest and {peaks['api']:.1f} api req/s; analyses/capacity.py):",
               *(f"  {r.tier:<{width}}  {_format(r.capacity):>9} / {_format(r.load):>9} {r.unit:<11} "
                 f"{'BELOW' if r.short else f'{r.headroom:,.1f}x':>8}  {r.basis}" for r in found),
               *(f"  advisory: {a}" for a in advisories)]
    return {"load": dict(load), "rows": [{**dataclasses.asdict(r), "headroom": round(r.headroom, 2)
                                          if math.isfinite(r.headroom) else None} for r in found],
            "advisories": advisories, "failures": failures, "summary": summary}

