"""Which changes of a stateful resource replace it, delete it or change it for good: the danger
list of the plan diff (offline/diff.py) and of nothing else.

The AWS provider is bridged from the Terraform AWS provider: an argument with `ForceNew: true`
(or a RequiresReplace plan modifier) in its schema makes Pulumi replace the resource when the
argument changes. The properties below are those of hashicorp/terraform-provider-aws as stored in
the public index (internal/service/<service>/<resource>.go; the website/docs/r pages where they
say "Forces new resource"), named as Pulumi names the inputs. Stored versions differ in age; a
property whose status changed between them is listed by the newer source. Kubernetes objects
follow the API's immutability (a StorageClass cannot be updated once created: Kubernetes docs,
"Storage Classes"), which the Kubernetes provider meets by replacing the object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TF = "hashicorp/terraform-provider-aws"

def _provider(path: str, marker: str, *pairs: tuple[str, str]) -> dict[str, str]:
    """Pulumi input -> where the Terraform AWS provider marks its argument as replacing."""
    return {prop: f"{TF} {path} ({argument}: {marker})" for prop, argument in pairs}


FORCE_NEW = "ForceNew"

# type -> {input path: where the provider says a change replaces the resource}
REPLACING: dict[str, dict[str, str]] = {
    "aws:rds/instance:Instance": _provider(
        "internal/service/rds/instance.go", FORCE_NEW, ("engine", "engine"), ("dbName", "db_name"),
        ("username", "username"), ("storageEncrypted", "storage_encrypted"), ("kmsKeyId", "kms_key_id"),
        ("availabilityZone", "availability_zone"), ("characterSetName", "character_set_name"),
        ("snapshotIdentifier", "snapshot_identifier"), ("restoreToPointInTime", "restore_to_point_in_time")),
    "aws:msk/cluster:Cluster": _provider(
        "internal/service/kafka/cluster.go", FORCE_NEW, ("clusterName", "cluster_name"),
        ("brokerNodeGroupInfo.clientSubnets", "broker_node_group_info.client_subnets"),
        ("brokerNodeGroupInfo.securityGroups", "broker_node_group_info.security_groups"),
        ("encryptionInfo.encryptionAtRestKmsKeyArn", "encryption_at_rest_kms_key_arn"),
        ("encryptionInfo.encryptionInTransit.inCluster", "encryption_in_transit.in_cluster")),
    "aws:msk/topic:Topic": _provider(
        "internal/service/kafka/topic.go", "RequiresReplace", ("name", "name"), ("clusterArn", "cluster_arn"),
        ("replicationFactor", "replication_factor")),
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        **_provider("internal/service/elasticache/replication_group.go", FORCE_NEW,
                    ("replicationGroupId", "replication_group_id"),
                    ("atRestEncryptionEnabled", "at_rest_encryption_enabled"), ("kmsKeyId", "kms_key_id"),
                    ("subnetGroupName", "subnet_group_name"), ("port", "port"),
                    ("dataTieringEnabled", "data_tiering_enabled"), ("networkType", "network_type"),
                    ("securityGroupNames", "security_group_names"), ("snapshotArns", "snapshot_arns"),
                    ("snapshotName", "snapshot_name")),
        **_provider("internal/service/elasticache", "ForceNewIf, except redis to valkey", ("engine", "engine"))},
    "aws:s3/bucket:Bucket": _provider(
        "website/docs/r/s3_bucket.html.markdown", '"Forces new resource"', ("bucket", "bucket"),
        ("bucketPrefix", "bucket_prefix"), ("objectLockEnabled", "object_lock_enabled")),
    "aws:kms/key:Key": _provider(
        "internal/service/kms/key.go", FORCE_NEW, ("customerMasterKeySpec", "customer_master_key_spec"),
        ("keyUsage", "key_usage"), ("multiRegion", "multi_region")),
    "aws:ecr/repository:Repository": _provider(
        "internal/service/ecr/repository.go", FORCE_NEW, ("name", "name"),
        ("encryptionConfigurations", "encryption_configuration")),
    "aws:secretsmanager/secret:Secret": _provider(
        "internal/service/secretsmanager/secret.go", FORCE_NEW, ("name", "name"), ("namePrefix", "name_prefix")),
    # pulumi-eks passes these to its aws.eks.Cluster (nodejs/eks/cluster.ts), whose name and
    # service CIDR are ForceNew.
    "eks:index:Cluster": _provider(
        "internal/service/eks/cluster.go, through pulumi-eks", FORCE_NEW, ("name", "name"),
        ("kubernetesServiceIpAddressRange", "kubernetes_network_config.service_ipv4_cidr")),
    "kubernetes:storage.k8s.io/v1:StorageClass": {
        prop: "Kubernetes docs, Storage Classes: a StorageClass cannot be updated once created"
        for prop in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode", "mountOptions")},
}

# pulumi-aws 7 manages each resource in the region its `region` input names (the provider's
# region by default); moving it is a new resource in the other region and the old one's delete.
# Read as the Terraform AWS provider v6's per-resource region, not checked resource by resource.
REGION = ("region", "pulumi-aws 7 per-resource `region` (the Terraform AWS provider v6's enhanced region "
                    "support): a resource moved to another region is a new one; assumed for every type, not "
                    "checked per type")

# type -> {input path: why a change cannot be taken back, and where that is said}
IRREVERSIBLE: dict[str, dict[str, tuple[str, str]]] = {
    "aws:rds/instance:Instance": {
        "engineVersion": ("an engine upgrade in place, with downtime; RDS cannot downgrade it",
                          f"{TF} internal/service/rds/instance.go (engine_version updated in place; a major "
                          "upgrade needs allow_major_version_upgrade)"),
        "identifier": ("renames the instance in place: its endpoint changes for every client",
                       f"{TF} internal/service/rds/instance.go (identifier updated in place, newer source)")},
    "aws:msk/cluster:Cluster": {
        "kafkaVersion": ("an in-place Kafka upgrade; a lower version replaces the cluster",
                         f"{TF} internal/service/kafka/cluster.go (ForceNewIfChange on a downgrade)")},
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "engineVersion": ("an in-place engine upgrade; a lower version replaces the group",
                          f"{TF} internal/service/elasticache (customizeDiffEngineVersionForceNewOnDowngrade)")},
}


def _matches(path: str, prop: str) -> bool:
    return path == prop or path.startswith(prop + ".") or path.startswith(prop + "[")


def stateful_types() -> set[str]:
    from policies.ecomind_rules import STATEFUL

    return set(STATEFUL)


def danger(old: Mapping[str, Mapping], new: Mapping[str, Mapping], updated: Sequence[Mapping],
           deleted: Sequence[Mapping]) -> list[dict[str, Any]]:
    """The changes that lose a stateful resource's data, or change it for good."""
    stateful = stateful_types()
    items: list[dict[str, Any]] = []
    replaced: set[str] = set()
    for resource in deleted:
        if resource["type"] in stateful or resource["protect"]:
            items.append({"action": "deletes", "urn": resource["urn"], "name": resource["name"],
                          "type": resource["type"], "property": None,
                          "why": "it leaves the plan (removed, or renamed without `aliases=`), so the engine deletes "
                                 "it" + (" and it is protected: the up fails" if resource["protect"] else ""),
                          "source": "Pulumi docs, Resource options: aliases"})
    for resource in updated:
        kind = resource["type"]
        replacing = {**REPLACING.get(kind, {}), **({REGION[0]: REGION[1]} if kind.startswith("aws:") else {})}
        for change in resource["changes"]:
            for prop, source in replacing.items():
                if _matches(change["path"], prop) and resource["urn"] not in replaced:
                    replaced.add(resource["urn"])
                    items.append({"action": "replaces", "urn": resource["urn"], "name": resource["name"],
                                  "type": kind, "property": change["path"],
                                  "why": f"`{change['path']}` changes, which forces a new resource", "source": source})
            for prop, (why, source) in IRREVERSIBLE.get(kind, {}).items():
                if _matches(change["path"], prop):
                    items.append({"action": "changes", "urn": resource["urn"], "name": resource["name"],
                                  "type": kind, "property": change["path"], "why": why, "source": source})
    # A replaced resource gets new outputs; whatever takes one of them into a replacing property is
    # replaced too (the mocks give a replacement the same IDs, so the plan alone would not show it).
    grown = True
    while grown:
        grown = False
        for urn, resource in new.items():
            if urn in replaced or urn not in old or resource["type"] not in stateful:
                continue
            for prop, dependencies in (resource.get("property_dependencies") or {}).items():
                hit = [d for d in dependencies if d in replaced]
                # The plan records dependencies per top-level input (encryptionInfo); the table may
                # name a property inside it (encryptionInfo.encryptionAtRestKmsKeyArn).
                source = next((src for key, src in REPLACING.get(resource["type"], {}).items()
                               if _matches(prop, key) or key.startswith(prop + ".")), None)
                if hit and source:
                    replaced.add(urn)
                    grown = True
                    items.append({"action": "replaces", "urn": urn, "name": resource["name"],
                                  "type": resource["type"], "property": prop,
                                  "why": f"`{prop}` takes an output of `{hit[0].rsplit('::', 1)[-1]}`, which is "
                                         "replaced", "source": source})
                    break
    return [item for item in items if item["type"] in stateful or item["action"] == "deletes"]


# --- names are a contract ------------------------------------------------------------------------------

CONTRACT = "policies/stateful-urns.json"


def stateful_urns(resources: Sequence[Any]) -> list[str]:
    """A plan's stateful URNs (resources as plan JSON dicts or PlannedResource objects)."""
    stateful = stateful_types()
    return sorted(r["urn"] if isinstance(r, Mapping) else r.urn for r in resources
                  if (r["type"] if isinstance(r, Mapping) else r.type) in stateful)


def main() -> int:
    """Rewrite the contract from build/plan/<stack>.json (after `make plans`), for a change that
    adds a stateful resource or renames one with `aliases=`: review the file's diff."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    from offline.plan import BOOTSTRAP_PREFIX, bootstrap_stacks, stack_files

    # The platform's stacks and each account's bootstrap (`make plans`).
    contract = {stack: stateful_urns(json.loads((root / "build" / "plan" / f"{stack}.json").read_text())["resources"])
                for stack in [*stack_files(), *(BOOTSTRAP_PREFIX + s for s in bootstrap_stacks())]}
    (root / CONTRACT).write_text(json.dumps(contract, indent=2) + "\n")
    print(f"Wrote {CONTRACT}: " + ", ".join(f"{stack} {len(urns)}" for stack, urns in contract.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
