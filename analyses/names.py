"""Explicit physical names of account- or region-unique resources, and collisions between stacks.

A name the program sets (`name=`, `identifier=`, ...) is the resource's identity in the AWS
account: two stacks that set the same one cannot both exist, and the second `pulumi up`
fails with AlreadyExists (or, for a CloudFront policy, `...AlreadyExists` 409). Names Pulumi
generates (logical name plus a random suffix) never collide and are not looked at here.

Every `aws:` type with a `name` input is treated as unique per account and region unless it
is listed in `SCOPED`, so a new type is checked by default rather than forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SECTION = "physical_names"
SOURCE = "source: each Create API, where a name set explicitly is the resource's identity in its account and region"

# The input that carries a type's own name, where it is not `name`. Source: each resource's
# Create API (CreateDBInstance DBInstanceIdentifier, CreateCluster ClusterName for MSK and
# EKS, CreateReplicationGroup ReplicationGroupId, CreateBucket Bucket).
NAME_FIELDS: Mapping[str, str] = {
    "aws:rds/instance:Instance": "identifier",
    "aws:rds/cluster:Cluster": "clusterIdentifier",
    "aws:msk/cluster:Cluster": "clusterName",
    "aws:elasticache/replicationGroup:ReplicationGroup": "replicationGroupId",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "eks:index:Cluster": "name",
}

# Types whose `name` is unique only inside another resource that already carries the stack
# in its own name, with the scope that makes it so.
SCOPED: Mapping[str, str] = {
    "aws:iam/rolePolicy:RolePolicy": "inline policy names are unique per role (PutRolePolicy)",
    "aws:msk/topic:Topic": "topic names are unique per MSK cluster",
    "aws:route53/record:Record": "record names are unique per hosted zone, and each stack has its own domain",
    "aws:ec2/securityGroup:SecurityGroup": "group names are unique per VPC (CreateSecurityGroup)",
    "aws:eks/addon:Addon": "add-on names are unique per EKS cluster",
    "aws:eks/accessEntry:AccessEntry": "entries are unique per EKS cluster",
    "aws:codebuild/webhook:Webhook": "one webhook per CodeBuild project",
    "aws:s3/bucketMetric:BucketMetric": "metrics configuration ids are unique per bucket "
                                        "(PutBucketMetricsConfiguration)",
}


def explicit_names(resources: Iterable[Any]) -> dict[tuple[str, str], str]:
    """(type, physical name) -> URN, for every unique-per-account name the plan sets.

    `resources` are planned resources (objects with `type`, `custom`, `inputs` and `urn`, or
    their JSON form as dicts)."""
    found: dict[tuple[str, str], str] = {}
    for resource in resources:
        get = resource.get if isinstance(resource, dict) else lambda key, r=resource: getattr(r, key)
        typ = get("type")
        if not get("custom") or typ in SCOPED or not typ.startswith(("aws:", "eks:")):
            continue
        value = get("inputs").get(NAME_FIELDS.get(typ, "name"))
        if isinstance(value, str) and value:
            found[(typ, value)] = get("urn")
    return found


def collisions(names_by_stack: Mapping[str, Mapping[tuple[str, str], str]]) -> list[str]:
    """One line per physical name that two stacks both set, naming both stacks and resources.
    `names_by_stack`: each stack's `explicit_names`."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for stack, names in sorted(names_by_stack.items()):
        for key, urn in sorted(names.items()):
            if key in seen:
                other_stack, other_urn = seen[key]
                problems.append(f"physical name {key[1]!r} ({key[0]}) is set by stack {other_stack!r} "
                                f"({other_urn}) and by stack {stack!r} ({urn}): the second `pulumi up` "
                                "fails with AlreadyExists; build it with components.naming.stack_scoped")
            else:
                seen[key] = (stack, urn)
    return problems


def analyse(plan: Any) -> dict[str, Any]:
    """The `physical_names` section: every explicit name, and a failure for one that does not
    carry the stack's name (and so would collide with the same name in another stack)."""
    names = explicit_names(plan.resources)
    failures = [f"physical-names: {typ} {name!r} ({urn}) does not carry the stack name {plan.stack!r}; build it "
                f"with components.naming.stack_scoped [{SOURCE}]"
                for (typ, name), urn in sorted(names.items()) if plan.stack not in name]
    return {"explicit": [{"type": typ, "name": name, "urn": urn} for (typ, name), urn in sorted(names.items())],
            "failures": failures,
            "summary": [f"Physical names: {len(names)} set explicitly, {len(failures)} without the stack name"]}


def collisions_between(sections: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """`collisions` over the `physical_names` sections of several stacks' plans."""
    return collisions({stack: {(n["type"], n["name"]): n["urn"] for n in section["explicit"]}
                       for stack, section in sections.items()})
