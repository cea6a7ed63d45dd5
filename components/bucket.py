"""An S3 bucket with every guard on: private, owner-enforced, encrypted, versioned, TLS-only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_count, check_tags, is_plain, refuse

# Old object versions are kept this long after being overwritten or deleted: enough to undo
# a bad release or a mistaken delete, without paying for versions forever.
NONCURRENT_VERSION_DAYS = 30
ABORT_INCOMPLETE_UPLOAD_DAYS = 7
# Storage classes a lifecycle transition may name (S3 API reference, Transition.StorageClass).
S3_TRANSITION_CLASSES = ("STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")


@dataclasses.dataclass(frozen=True)
class Transition:
    days: int
    storage_class: str


@dataclasses.dataclass(frozen=True)
class SecureBucketArgs:
    purpose: str
    """What the bucket holds, in words (reports and exports); its `purpose` tag."""
    kms_key_arn: pulumi.Input[str] | None
    """SSE-KMS with this CMK and an S3 bucket key; None only for the access-log bucket, because
    S3 server access logging cannot deliver to SSE-KMS buckets (S3 user guide), which then
    uses SSE-S3."""
    tags: Mapping[str, str]
    """Stack tags, applied to the bucket (with Name and purpose)."""
    transitions: Sequence[Transition] = ()
    """Storage-class steps for current objects, by age in days; the default keeps every object in STANDARD."""
    expire_after_days: int | None = None
    """Days after which current objects expire; the default None keeps them until deleted."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Bucket receiving this bucket's server access logs under s3/<name>/."""
    policy_statements: pulumi.Input[list[docs.Document]] | None = None
    """Statements added after the TLS-only denial in the bucket policy; the default adds none."""
    deferred_policy: bool = False
    """The owner calls `attach_policy` once the principals its statements name exist."""
    protect: bool = False
    """Pulumi `protect` on the bucket itself (the stack's protect_stateful: on in prod); the default
    leaves it deletable, though never with objects in it (force_destroy is off)."""
    region: str | None = None
    """A region other than the stack's for the bucket (a region-loss copy, components/region_copies.py);
    None: the stack's. Its key must be in that region too."""
    object_lock_days: int | None = None
    """Object Lock in governance mode: every object version is kept from deletion for this many
    days (S3 user guide, "Object Lock retention modes"); it can only be turned on when the
    bucket is created. The default None: no lock."""

    def __post_init__(self) -> None:
        if self.object_lock_days is not None and (
                isinstance(self.object_lock_days, bool) or not isinstance(self.object_lock_days, int)
                or not 1 <= self.object_lock_days <= 36500):
            refuse(self, "object_lock_days", "expected None or 1 to 36500 days (Object Lock's limit is 100 years)")
        if not isinstance(self.purpose, str):
            refuse(self, "purpose", "expected a string (it is a tag value)")
        if is_plain(self.kms_key_arn) and not self.kms_key_arn:
            refuse(self, "kms_key_arn", "expected a KMS key ARN, or None for SSE-S3")
        check_tags(self)
        for transition in self.transitions:
            if not isinstance(transition, Transition) or transition.storage_class not in S3_TRANSITION_CLASSES:
                refuse(self, "transitions", "expected Transition(days, storage_class) with a storage class of "
                       + ", ".join(S3_TRANSITION_CLASSES), value=transition)
            if not isinstance(transition.days, int) or transition.days < 0:
                refuse(self, "transitions", "expected Transition.days of 0 or more", value=transition)
        if self.expire_after_days is not None:
            # The lifecycle rule reads 0 as no expiry at all: refused rather than silently ignored.
            check_count(self, "expire_after_days", unit="day (or None to keep objects)")
            # S3 rejects a rule whose expiration is not later than its transitions.
            if any(t.days >= self.expire_after_days for t in self.transitions):
                refuse(self, "expire_after_days", "expected more days than every transition's")
        if is_plain(self.access_log_bucket) and not self.access_log_bucket:
            refuse(self, "access_log_bucket", "expected a bucket name, or None for no access logs")
        if self.deferred_policy and self.policy_statements is not None:
            refuse(self, "policy_statements", "expected None with deferred_policy: pass the statements to "
                   "attach_policy instead, or they are never attached")


class SecureBucket(pulumi.ComponentResource):
    """The bucket and its guard resources; `policy` always contains the TLS-only denial."""

    bucket_name: pulumi.Output[str]
    """Name of the bucket."""
    bucket_arn: pulumi.Output[str]
    versioning: pulumi.Resource
    """The bucket's versioning, which replication needs on before it is configured."""
    """ARN of the bucket."""
    regional_domain_name: pulumi.Output[str]
    """Regional endpoint, the origin CloudFront reaches it by."""

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        placed = {"region": args.region} if args.region else {}
        bucket = aws.s3.Bucket(name, force_destroy=False, **placed,
                               tags={**args.tags, "Name": name, "purpose": args.purpose},
                               object_lock_enabled=True if args.object_lock_days else None,
                               opts=pulumi.ResourceOptions(parent=self, protect=args.protect))
        self._name, self._bucket = name, bucket
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket.id, **placed, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, **placed,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=child)
        if args.kms_key_arn is not None:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=args.kms_key_arn)
        else:
            default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256")
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id, **placed,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=default, bucket_key_enabled=args.kms_key_arn is not None)],
            opts=child)
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, **placed,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=child)
        if args.object_lock_days:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-object-lock", bucket=bucket.id, **placed, object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode="GOVERNANCE", days=args.object_lock_days)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id, **placed,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="tiering-and-old-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                transitions=[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=t.days, storage_class=t.storage_class) for t in args.transitions] or None,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_after_days)
                if args.expire_after_days else None,
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=NONCURRENT_VERSION_DAYS),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_INCOMPLETE_UPLOAD_DAYS),
            )],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(f"{name}-access-logs", bucket=bucket.id, **placed,
                                 target_bucket=args.access_log_bucket,
                                 target_prefix=f"s3/{name}/", opts=child)
        self._public_access_block = block
        self._placed = placed
        self.versioning = versioning
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.regional_domain_name = bucket.bucket_regional_domain_name
        if not args.deferred_policy:
            self.attach_policy(args.policy_statements or [])
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})

    def attach_policy(self, statements: pulumi.Input[list[docs.Document]]) -> None:
        """The bucket policy: TLS-only, then `statements`."""
        document = pulumi.Output.all(self.bucket_arn, statements).apply(
            lambda args: docs.document(docs.tls_only_statement(args[0]), *args[1]))
        policy = aws.s3.BucketPolicy(f"{self._name}-policy", bucket=self._bucket.id,
                                     policy=pulumi.Output.json_dumps(document), **self._placed,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=[self._public_access_block]))
        self._log_target_name = pulumi.Output.all(self.bucket_name, policy.id).apply(lambda names: names[0])

    @property
    def log_target_name(self) -> pulumi.Output[str]:
        """The bucket's name, resolving only once its policy is in place: for a service that checks it
        may write when logging is switched on (ELB writes a test object and fails the change otherwise,
        ELB user guide, "Enable access logs for your Application Load Balancer")."""
        if not hasattr(self, "_log_target_name"):
            raise pulumi.RunError(f"SecureBucket {self._name}: log_target_name is read before attach_policy; "
                                  "a deferred policy must be attached first")
        return self._log_target_name
