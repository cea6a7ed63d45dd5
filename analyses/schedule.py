"""How long `pulumi up` takes: the critical path through the plan's dependency graph.

Each resource type has a typical creation time with its source or the assumption behind it.
Pulumi starts a resource as soon as every resource it depends on exists, so the from-scratch
duration is the longest path through the recorded dependencies and explicit providers (a chart
waits for the Kubernetes provider, which waits for the nodes). Components take no time of their
own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from analyses.model import Plan

# seconds, source
CREATION_SECONDS: Mapping[str, tuple[int, str]] = {
    "eks:index:Cluster": (720, "EKS user guide: cluster creation takes 10-15 minutes; plus OIDC provider and add-ons"),
    "eks:index:ManagedNodeGroup": (300, "EKS user guide: managed node groups become ACTIVE in about 3-5 minutes"),
    "eks:index:VpcCniAddon": (90, "assumption: EKS add-on reaches ACTIVE in 1-2 minutes"),
    "aws:eks/addon:Addon": (120, "assumption: EKS add-on reaches ACTIVE in 1-2 minutes once nodes exist"),
    "aws:rds/instance:Instance": (900, "RDS user guide: a new DB instance takes 10-20 minutes; Multi-AZ at the top"),
    "aws:msk/cluster:Cluster": (1800, "MSK developer guide: creating a cluster takes up to 30 minutes"),
    "aws:msk/topic:Topic": (30, "assumption"),
    "aws:msk/configuration:Configuration": (5, "assumption"),
    "aws:elasticache/replicationGroup:ReplicationGroup": (900, "ElastiCache user guide: 10-15 minutes for a replication group"),
    "aws:cloudfront/distribution:Distribution": (300, "CloudFront developer guide: a distribution deploys in about 5 minutes"),
    "aws:acm/certificateValidation:CertificateValidation": (180, "ACM user guide: DNS validation takes minutes once the record exists"),
    "aws:ec2/natGateway:NatGateway": (120, "VPC user guide: a NAT gateway is available in a few minutes"),
    "aws:kms/key:Key": (10, "assumption"),
    "aws:iam/role:Role": (10, "assumption: IAM is eventually consistent within seconds"),
    "kubernetes:helm.sh/v3:Release": (180, "assumption: controller charts roll out in 1-3 minutes with atomic waits"),
    "pulumi:providers:kubernetes": (0, "local"),
    "pulumi:providers:aws": (0, "local"),
    "kubernetes:postgresql.cnpg.io/v1:Cluster": (600, "assumption: CloudNativePG brings up a primary, then clones "
                                                      "each standby in turn; minutes for an empty database"),
    "aws:codebuild/project:Project": (15, "assumption"),
}
# A recovery stack's instance (restoreToPointInTime): created as a new one is, then the
# transaction logs since the last daily snapshot replayed up to the target, then the provider's
# ModifyDBInstance for what the restore call does not take (terraform-provider-aws, rds
# instance.go). RDS gives no duration: about 45 minutes for a small instance, assumed until a drill.
RESTORED_DATABASE_SECONDS = (2700, "assumption until a drill: a point-in-time restore from replicated backups, "
                                   "instance creation plus log replay plus the provider's modify")
DEFAULT_SECONDS = (5, "assumption: API-only resources (subnets, routes, policies, alarms) take seconds")
# An application-only change updates the EcoMind release: migration hook, rolling update of
# four services with maxSurge 1, readiness probes.
APP_RELEASE_SECONDS = (240, "assumption: migrations about 1 minute, rollouts of 3 replicas about 3 minutes")


def seconds_for(resource_type: str, custom: bool, inputs: Mapping[str, Any] | None = None) -> tuple[int, str]:
    if resource_type == "aws:rds/instance:Instance" and (inputs or {}).get("restoreToPointInTime"):
        return RESTORED_DATABASE_SECONDS
    if resource_type in CREATION_SECONDS:
        return CREATION_SECONDS[resource_type]
    return DEFAULT_SECONDS if custom else (0, "component")


# What CI must allow an `up`: the critical path with MSK at the worst that users report (creates
# "routinely close to 60 minutes or more", hashicorp/terraform-provider-aws#17726, and over 60 in
# #11736), plus the job's set-up (make plan, install), with half again as margin.
WORST_CASE_SECONDS: Mapping[str, tuple[int, str]] = {
    "aws:msk/cluster:Cluster": (3600, "hashicorp/terraform-provider-aws#17726: MSK creates near 60 minutes or more"),
}
JOB_SETUP_MINUTES = 10  # checkout, make plan (its set-up), pulumi install: about 7 to 10 minutes
JOB_MARGIN = 1.5


def ci_job_minutes(plan: Plan) -> int:
    """The least a deploy job's timeout-minutes (and its credentials) must cover, in minutes."""
    def worst(resource_type: str, custom: bool, inputs: Mapping[str, Any] | None = None) -> tuple[int, str]:
        return WORST_CASE_SECONDS.get(resource_type) or seconds_for(resource_type, custom, inputs)
    path = critical_path(plan, worst)["seconds"] / 60
    return math.ceil((path + JOB_SETUP_MINUTES) * JOB_MARGIN)


def critical_path(plan: Plan, seconds_of=None) -> dict[str, Any]:
    seconds_of = seconds_of or seconds_for
    by_urn = {r.urn: r for r in plan.resources}
    finish: dict[str, int] = {}
    previous: dict[str, str | None] = {}

    def done(urn: str) -> int:
        if urn not in finish:
            resource = by_urn[urn]
            start, before = 0, None
            for dependency in resource.waits_for:
                if done(dependency) > start:
                    start, before = finish[dependency], dependency
            finish[urn] = start + seconds_of(resource.type, resource.custom, resource.inputs)[0]
            previous[urn] = before
        return finish[urn]

    end = max(plan.resources, key=lambda r: done(r.urn))
    path, cursor = [], end.urn
    while cursor:
        resource = by_urn[cursor]
        seconds, source = seconds_of(resource.type, resource.custom, resource.inputs)
        if seconds:
            path.append({"resource": resource.name, "type": resource.type, "seconds": seconds, "source": source})
        cursor = previous[cursor]
    path.reverse()
    return {"seconds": finish[end.urn], "minutes": round(finish[end.urn] / 60, 1), "path": path}


def schedule(plan: Plan) -> dict[str, Any]:
    """The plan's `schedule` section."""
    seconds, source = APP_RELEASE_SECONDS
    return {
        "from_scratch": critical_path(plan),
        "application_change": {"seconds": seconds, "minutes": round(seconds / 60, 1),
                                "path": [{"resource": "ecomind-release", "type": "kubernetes:helm.sh/v3:Release",
                                          "seconds": seconds, "source": source}]},
    }


SECTION = "schedule"


def analyse(plan: Plan) -> dict[str, Any]:
    """The `schedule` section: from-scratch and application-release critical paths."""
    section = schedule(plan)
    return {**section, "failures": [],
            "summary": ["Deployment time (critical path through the dependency graph):", *format_path(section)]}


def format_path(section: Mapping[str, Any]) -> list[str]:
    lines = [f"  from scratch: {section['from_scratch']['minutes']} minutes"]
    lines += [f"    {step['seconds'] / 60:5.1f} min  {step['resource']} ({step['type']})"
              for step in section["from_scratch"]["path"]]
    lines.append(f"  application-only change: {section['application_change']['minutes']} minutes (the EcoMind release)")
    return lines
