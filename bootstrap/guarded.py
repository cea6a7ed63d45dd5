"""What every key and bucket of the bootstrap shares: a key policy nobody can use to destroy
the key, and a private, versioned, KMS-encrypted bucket."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


def key_policy(account: str, *statements: dict) -> dict:
    """The account administers the key through IAM, nobody schedules its deletion or disables it
    (an explicit deny in a key policy wins over any IAM allow; changing this policy, in a reviewed
    change, comes first), and `statements` grant the services that use it."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersKeyThroughIam", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "NobodyDestroysTheKey", "Effect": "Deny", "Principal": {"AWS": "*"},
         "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "Resource": "*"},
        *statements,
    ]}


def service_trust(service: str, **condition: dict) -> dict:
    """A role's trust in one AWS service, with `condition` when the service is known to send it
    (the platform's analyses/service_principals.py holds what each service sends, with sources)."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [{**statement, **({"Condition": condition} if condition else {})}]}


def service_role(name: str, description: str, trust: pulumi.Input[dict], policy: pulumi.Input[dict],
                 tags: Mapping[str, str], parent: pulumi.Resource) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """A role an AWS service assumes (`trust`, from service_trust) and its one inline policy, both
    named `name`: what replication, repository templates and event forwarding each need."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(name, description=description, tags=dict(tags), opts=child,
                        assume_role_policy=pulumi.Output.from_input(trust).apply(json.dumps))
    return role, aws.iam.RolePolicy(name, role=role.id, opts=child,
                                    policy=pulumi.Output.from_input(policy).apply(json.dumps))


def deny_insecure_transport(bucket_arn: str) -> dict:
    return {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def private_bucket(name: str, bucket_name: str, key_arn: pulumi.Input[str], tags: Mapping[str, str],
                   parent: pulumi.Resource, purpose: str, object_lock: bool = False, region: str | None = None
                   ) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning]:
    """A protected bucket: all four public-access blocks, owner-enforced objects, SSE-KMS with a
    bucket key and versioning; Object Lock when asked (it can only be set at creation); in
    `region` when given (a copy's), else the bootstrap's."""
    placed = {"region": region} if region else {}
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, bucket=bucket_name, force_destroy=False, tags={**tags, "purpose": purpose},
                           object_lock_enabled=object_lock or None, **placed,
                           opts=pulumi.ResourceOptions(parent=parent, protect=True))
    block = aws.s3.BucketPublicAccessBlock(name, bucket=bucket.id, **placed, block_public_acls=True,
                                           block_public_policy=True, ignore_public_acls=True,
                                           restrict_public_buckets=True, opts=child)
    aws.s3.BucketOwnershipControls(name, bucket=bucket.id, **placed, rule=aws.s3.BucketOwnershipControlsRuleArgs(
        object_ownership="BucketOwnerEnforced"), opts=child)
    aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=bucket.id, **placed, rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.
            BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=key_arn), bucket_key_enabled=True)], opts=child)
    versioning = aws.s3.BucketVersioning(name, bucket=bucket.id, **placed, versioning_configuration=aws.s3.
                                         BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=child)
    return bucket, block, versioning
