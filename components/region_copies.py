"""Where a stack keeps what it would need after losing its region (setting drRegion), and the
key that encrypts it there: a copy must be encrypted by a key in its own region, since a KMS key
never leaves the region it was made in (KMS developer guide, "Multi-Region keys" for the
exception this project does not need for data: the copies are written there, not moved)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import refuse
from components.bucket import SecureBucket, SecureBucketArgs
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.naming import stack_role
from settings import REGION_AVAILABILITY_ZONE_IDS


@dataclasses.dataclass(frozen=True)
class CopyRegion:
    """The second region and its key, handed to each component that keeps a copy there."""

    region: str
    """The region of the copies (setting drRegion)."""
    key_arn: pulumi.Input[str]
    """The CMK in that region that encrypts every copy (`copy_region`)."""
    log_bucket_name: pulumi.Input[str] | None = None
    """The access-log bucket in that region, where each copy's server access logs go (S3 delivers them
    to a bucket in the source bucket's own region only); None: the copies log nowhere."""

    def __post_init__(self) -> None:
        if self.region not in REGION_AVAILABILITY_ZONE_IDS:
            refuse(self, "region", "expected a supported region: " + ", ".join(REGION_AVAILABILITY_ZONE_IDS))


def copy_region(region: str, *, account_id: pulumi.Input[str], tags: Mapping[str, str], protect: bool,
                log_retention_days: int) -> CopyRegion:
    """The key in `region` for the stack's copies there, and the bucket their access logs go to: S3
    server access logs reach a bucket in the same region only, with SSE-S3 encryption (S3 user guide,
    "Enabling Amazon S3 server access logging", destination bucket requirements), and a recovery
    stack serves from these copies (review G1)."""
    key = EncryptionKey("dr-copies", EncryptionKeyArgs(
        description=f"Encrypts the stack's region-loss copies in {region}: database backups and secrets",
        account_id=account_id, tags=tags, protect=protect, region=region))
    logs = SecureBucket("dr-access-logs", SecureBucketArgs(
        purpose=f"access logs of the region-loss copies in {region}", kms_key_arn=None, tags=tags, region=region,
        expire_after_days=log_retention_days, deferred_policy=True, protect=protect))
    logs.attach_policy(pulumi.Output.all(logs.bucket_arn, account_id).apply(
        lambda a: [docs.server_access_log_statement(a[0], a[1])]))
    return CopyRegion(region=region, key_arn=key.key_arn, log_bucket_name=logs.bucket_name)


def replicate_bucket(name: str, source: SecureBucket, *, source_key_arn: pulumi.Input[str], copies: CopyRegion,
                     source_region: str, purpose: str, account_id: pulumi.Input[str], tags: Mapping[str, str],
                     protect: bool, parent: pulumi.Resource, object_lock_days: int | None = None) -> SecureBucket:
    """A copy of `source` in the second region: a bucket there under its key, and S3 replication of
    every new object version and delete marker, KMS-encrypted objects included (S3 user guide,
    "Replicating objects within and across Regions"; both buckets versioned). Its own role may read
    versions of this source and write replicas to this destination only. Objects written before
    the rule existed are not copied by it (S3 Batch Replication does that once). `object_lock_days`:
    the source locks its versions, so the copy must have Object Lock too and the role reads each
    version's retention (S3 user guide, "Using Object Lock with S3 Replication")."""
    child = pulumi.ResourceOptions(parent=parent)
    replica = SecureBucket(f"{name}-copy", SecureBucketArgs(
        purpose=f"{purpose} (region-loss copy)", kms_key_arn=copies.key_arn, tags=tags, region=copies.region,
        access_log_bucket=copies.log_bucket_name, protect=protect, object_lock_days=object_lock_days), opts=child)
    role = aws.iam.Role(
        f"{name}-replication", description=f"Replicates {purpose} to {copies.region}", **stack_role(account_id),
        assume_role_policy=json.dumps(docs.documented_service_trust("s3.amazonaws.com")),
        tags={**tags, "Name": f"{name}-replication"}, opts=child)
    policy = aws.iam.RolePolicy(f"{name}-replication", role=role.id, policy=pulumi.Output.json_dumps(
        docs.bucket_replication_policy(source.bucket_arn, source_key_arn, source_region, replica.bucket_arn,
                                       copies.key_arn, copies.region, locked=object_lock_days is not None)),
        opts=child)
    aws.s3.BucketReplicationConfig(
        f"{name}-replication", bucket=source.bucket_name, role=role.arn,
        rules=[aws.s3.BucketReplicationConfigRuleArgs(
            id="region-loss-copy", status="Enabled", priority=1,
            filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
            delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
            source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                    status="Enabled")),
            destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
                bucket=replica.bucket_arn, storage_class="STANDARD_IA",
                encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                    replica_kms_key_id=copies.key_arn)))],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[source.versioning, replica.versioning, policy]))
    return replica
