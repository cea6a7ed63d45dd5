"""What losing the stack's region would cost, store by store: what survives in the second region
(setting drRegion), how much data would be lost (RPO) and how long getting it back would take,
against the team's 4-hour RTO target.

The copies are read from the plan (a replica, a replication resource); a store without one says
so. The times are estimates, each with its source or assumption, until a timed drill replaces
them (docs/DISASTER_RECOVERY.md, "Region loss", describes the drill). A region-loss recovery is
blocked outright while the Pulumi state and the secrets-provider key live only in the lost region:
that gap is the bootstrap's (bootstrap/), and the table names it rather than guess around it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from analyses import schedule
from analyses.model import Plan

SECTION = "region_loss"
RTO_TARGET_MINUTES = 240  # the team's target (../shared/ecomind-app.md)
# Assumptions, in minutes, until a drill measures them:
DECLARE_MINUTES = 30          # noticing, deciding to fail over, paging who runs it
DNS_MINUTES = 5               # the alias record's change and a resolver's cache (ALB alias: 60 s TTL)
# A point-in-time restore of a small instance from replicated backups: RDS user guide, "Restoring
# to a specified time" gives no duration; about 20 minutes to create plus the log replay, assumed.
DATABASE_RESTORE_MINUTES = 45
# How far replicated transaction logs trail the source: RDS describes the destination's latest
# restorable time as near the source's (automated backups replication); 10 minutes assumed.
REPLICATED_LOG_LAG_MINUTES = 10
# The worker's consumer-lag alarm threshold (components/service_levels.py): what is unconsumed on
# events.raw when the region goes, at most this old while the alarm is quiet.
CONSUMER_LAG_MINUTES = 5
IMAGE_BUILD_MINUTES = 20      # CI rebuilding the four images from git into the new region's registry


@dataclasses.dataclass(frozen=True)
class Store:
    store: str
    copy: str
    rpo: str
    recovery_minutes: int | None
    """Minutes to have it back once the platform is up; None: it cannot be recovered as planned."""


def stores(plan: Plan) -> list[Store]:
    if plan.settings.get("recovery"):
        return recovery_stores(plan, plan.settings["recovery"])
    found = []
    replications = plan.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")
    if plan.of_type("aws:rds/instance:Instance"):
        if replications:
            region = replications[0].inputs.get("region")
            found.append(Store("database (RDS)", f"automated backups replicated to {region}",
                               f"~{REPLICATED_LOG_LAG_MINUTES} min (replicated transaction logs, assumed)",
                               DATABASE_RESTORE_MINUTES))
        else:
            found.append(Store("database (RDS)", "none", "everything: no backup outside the region", None))
    if plan.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster"):
        copied = _bucket_store(plan, "database backups", "database (timescaledb)")
        # A recovery from the copy: a new cluster bootstrapped from the base backup and WAL
        # (docs/DISASTER_RECOVERY.md), the archive_timeout of 5 minutes bounding the WAL not yet
        # uploaded, plus replication.
        found.append(dataclasses.replace(copied, rpo="~20 min (WAL archived every 5 min, then replicated; assumed)",
                                         recovery_minutes=DATABASE_RESTORE_MINUTES)
                     if copied.recovery_minutes is not None else copied)
    secrets = plan.of_type("aws:secretsmanager/secret:Secret")
    replicated = [s for s in secrets if s.inputs.get("replicas")]
    found.append(Store("application secrets", f"{len(replicated)} of {len(secrets)} replicated",
                       "0 (each new version is replicated)" if replicated and len(replicated) == len(secrets)
                       else "the unreplicated ones: regenerated, sessions and signatures invalidated",
                       0 if replicated else None))
    found += [
        Store("database master secret", "none: RDS manages it in the source region",
              "0: a restored instance gets a new RDS-managed secret", 0),
        Store("events.raw (Kafka)", "none: declared reconstructible",
              f"unconsumed events, at most ~{CONSUMER_LAG_MINUTES} min (the consumer-lag alarm)", 0),
        Store("events.enriched (Kafka)", "none: declared reconstructible",
              "0: its content is in the database's rollups", 0),
        Store("cache (sessions, rate limits)", "none: declared reconstructible",
              "sessions: users sign in again", 0),
        _bucket_store(plan, "reports and exports", "reports bucket"),
        _images_store(plan),
        _state_store(plan),
    ]
    return found


def _mentions(plan: Plan, text: str) -> bool:
    """Whether any resource's inputs name `text` (a policy's resource, a chart value)."""
    return any(text in json.dumps(r.inputs, default=str) for r in plan.resources)


def recovery_stores(plan: Plan, recovery: dict[str, Any]) -> list[Store]:
    """A recovery stack's table: each store as this plan rebuilds it from the source's copies. A
    store the plan does not take from a copy says so, and blocks the RTO."""
    source, point = recovery["source_stack"], recovery.get("point_in_time")
    restored = [r for r in plan.of_type("aws:rds/instance:Instance") if r.inputs.get("restoreToPointInTime")]
    arn = restored[0].inputs["restoreToPointInTime"].get("sourceDbInstanceAutomatedBackupsArn", "") if restored else ""
    minutes = round(schedule.RESTORED_DATABASE_SECONDS[0] / 60)
    database = (Store("database (RDS)", f"restored from {source}'s replicated automated backups ({arn}), "
                      f"~{minutes} min on the platform's critical path",
                      f"to {point} (recoveryPointInTime)" if point else
                      f"~{REPLICATED_LOG_LAG_MINUTES} min: the latest restorable time (assumed)",
                      0) if restored else
                Store("database (RDS)", "none: the plan creates an empty instance", "everything", None))
    # The names the recovery settings give the source's copies (settings.RecoverySettings).
    secrets, images = f":secret:{recovery['secret_prefix']}", f"/{recovery['repository_prefix']}/"
    reports = recovery["reports_bucket"]

    def reused(store: str, found: bool, copy: str, rpo: str) -> Store:
        return Store(store, copy, rpo, 0) if found else Store(store, "none: made anew", "everything", None)

    return [
        database,
        reused("signing keys (jwt, gateway HMAC)", _mentions(plan, secrets), f"{source}'s replicas, read in place",
               "0 (each version replicated)"),
        Store("database master secret", "new: RDS manages one for the restored instance",
              "0: the master's password is set anew, nothing logs in with the old one", 0),
        Store("cache auth token", "new: generated by this stack", "0: clients read the new one", 0),
        Store("events.raw (Kafka)", "none: declared reconstructible",
              f"unconsumed events, at most ~{CONSUMER_LAG_MINUTES} min (the consumer-lag alarm)", 0),
        Store("events.enriched (Kafka)", "none: declared reconstructible",
              "0: its content is in the database's rollups", 0),
        Store("cache (sessions, rate limits)", "none: declared reconstructible", "sessions: users sign in again", 0),
        reused("reports bucket", bool(reports) and _mentions(plan, f"arn:aws:s3:::{reports}"),
               f"{source}'s copy ({reports}), used in place", "~15 min of new objects (assumed; no RTC)"),
        reused("images (ECR)", _mentions(plan, images), f"{source}'s replicated repositories", "0"),
        _state_store(plan),
    ]


def _images_store(plan: Plan) -> Store:
    """The bootstrap replicates the whole registry where it copies the state (one configuration an account)."""
    if plan.settings.get("state_copy_region"):
        return Store("images (ECR)", f"registry replicated to {plan.settings['state_copy_region']} (bootstrap)",
                     "0", 0)
    return Store("images (ECR)", "none", "0 (rebuilt from git)", IMAGE_BUILD_MINUTES)


def _state_store(plan: Plan) -> Store:
    """The bootstrap's copy of the state and its secrets provider (the plan's settings say where)."""
    region = plan.settings.get("state_copy_region")
    if region:
        return Store("Pulumi state and secrets-provider key",
                     f"state replicated to {region} (Object Lock kept); the multi-Region secrets key's replica there",
                     "~15 min of checkpoints (assumed; no RTC)", 0)
    return Store("Pulumi state and secrets-provider key", "none: in the primary region only (bootstrap/)",
                 "recovery blocked: no state to plan from, no key to decrypt config", None)


def _bucket_store(plan: Plan, purpose: str, store: str) -> Store:
    """A bucket's copy: an S3 replication rule on the bucket of that purpose, to a bucket elsewhere."""
    buckets = {b.urn for b in plan.of_type("aws:s3/bucket:Bucket")
               if b.inputs.get("tags", {}).get("purpose") == purpose}
    for config in plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        if buckets & set(config.dependencies):
            # Most objects replicate within seconds to minutes; S3 Replication Time Control's
            # 15-minute SLA is not bought (S3 user guide, "Replicating objects").
            return Store(store, "S3 replication of every new version", "~15 min of new objects (assumed; no RTC)", 0)
    return Store(store, "none", f"{purpose}: everything", None)


# Global services whose one control plane is in us-east-1, by type prefix: a recovery stack outside
# that region creates none of them (their create fails while it is lost). IAM roles and Route 53
# records are the exception the runbook accepts and explains (docs/DISASTER_RECOVERY.md, "A lost
# region": their data planes keep serving, and the roles the stack needs first exist already).
GLOBAL_CONTROL_PLANE_TYPES = {
    "aws:budgets/": "AWS Budgets (one endpoint, budgets.amazonaws.com, signed for us-east-1)",
    "aws:cloudfront/": "CloudFront (its certificates, WAF and log delivery in us-east-1)",
    "aws:shield/": "Shield Advanced (us-east-1 control plane)",
    "aws:globalaccelerator/": "Global Accelerator (us-west-2 control plane only)",
}


def outside_its_region(plan: Plan) -> list[tuple[Any, str]]:
    """In a recovery stack, what needs another region than the stack's: a resource placed elsewhere
    (its `region` argument; review H4: CloudFront's certificate, WAF and logs in us-east-1), or one
    of a global service whose control plane is in us-east-1 (AWS Budgets). (resource, where)."""
    region = plan.settings.get("region")
    if not plan.settings.get("recovery") or not region:
        return []
    found = [(r, r.inputs["region"]) for r in plan.resources
             if r.custom and r.inputs.get("region") not in (None, region)]
    if region != "us-east-1":
        found += [(r, service) for r in plan.resources for prefix, service in GLOBAL_CONTROL_PLANE_TYPES.items()
                  if r.type.startswith(prefix)]
    return found


def analyse(plan: Plan) -> dict[str, Any]:
    table = stores(plan)
    # In a recovery stack's plan the restore is a resource, on the platform's critical path.
    platform = schedule.schedule(plan)["from_scratch"]["minutes"]
    blocked = [s.store for s in table if s.recovery_minutes is None]
    restore = max((s.recovery_minutes or 0) for s in table)
    rto = None if blocked else round(DECLARE_MINUTES + platform + restore + DNS_MINUTES)
    width = max(len(s.store) for s in table)
    verdict = (f"RTO {rto} min against {RTO_TARGET_MINUTES}" if rto is not None
               else "RTO: none yet; blocked by " + ", ".join(blocked))
    summary = ["Losing the region (estimates until a drill: analyses/region_loss.py):",
               *(f"  {s.store:<{width}}  copy: {s.copy}; RPO: {s.rpo}; back in "
                 f"{'-' if s.recovery_minutes is None else str(s.recovery_minutes) + ' min'}" for s in table),
               f"  {verdict} (declare {DECLARE_MINUTES} + platform {platform} + longest restore {restore} "
               f"+ DNS {DNS_MINUTES} min)"]
    failures = ([f"region-loss: the estimated RTO ({rto} min) exceeds the {RTO_TARGET_MINUTES}-minute target"]
                if rto is not None and rto > RTO_TARGET_MINUTES else [])
    failures += [f"region-loss/recovery-in-its-region: {r.type} {r.name} needs {where}, not only the recovery "
                 f"stack's {plan.settings['region']}: the region whose loss the stack answers "
                 "[source: docs/DISASTER_RECOVERY.md, \"A lost region\"]" for r, where in outside_its_region(plan)]
    return {"stores": [dataclasses.asdict(s) for s in table], "rto_minutes": rto, "blocked_by": blocked,
            "rto_target_minutes": RTO_TARGET_MINUTES, "failures": failures, "summary": summary}
