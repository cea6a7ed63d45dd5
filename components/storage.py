"""Object storage for reports and exports, and the bucket every access log lands in."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi

from components import policy_documents as docs
from components.args import check_account_id, check_arn, check_count, check_tags
from components.bucket import SecureBucket, SecureBucketArgs, Transition
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.load_balancer import ACCESS_LOG_PREFIX, check_log_delivery_region, log_delivery_principal
from components.region_copies import CopyRegion, replicate_bucket

# The team's rule for reports: infrequent access after 30 days, archive after 90. Glacier
# Instant Retrieval is the archive class the api can still serve from without a restore.
REPORT_TRANSITIONS = (Transition(30, "STANDARD_IA"), Transition(90, "GLACIER_IR"))
# Key prefixes the services write under (../shared/ecomind-app.md: api reports, worker exports).
REPORTS_PREFIX = "reports/"
EXPORTS_PREFIX = "exports/"


@dataclasses.dataclass(frozen=True)
class BucketInUse:
    """A bucket another stack made, which this stack's services use (a recovery stack's reports: the
    source's region-loss copy, which holds what the lost region wrote)."""

    name: str
    key_arn: str
    """Its default encryption key: readers and writers need it."""

    def __post_init__(self) -> None:
        check_arn(self, "key_arn", "kms", "arn:aws:kms:us-west-2:111122223333:key/<id>")

    @property
    def bucket_name(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input(self.name)

    @property
    def bucket_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.from_input(f"arn:aws:s3:::{self.name}")


@dataclasses.dataclass(frozen=True)
class StorageArgs:
    account_id: pulumi.Input[str]
    """AWS account the reports key and the log bucket's delivery grants are scoped to."""
    log_retention_days: int
    """Days the access-log bucket keeps S3, CloudFront and ALB access logs (setting logRetentionDays)."""
    region: str
    """Region of the stack: whose ELB log-delivery account may write the ALB's logs."""
    tags: Mapping[str, str]
    """Stack tags, applied to both buckets and the reports key."""
    protect: bool = False
    """Pulumi `protect` on both buckets and the reports key (on in prod); the default leaves them deletable."""
    copies: CopyRegion | None = None
    """Replicate the reports bucket to this region (setting drRegion); None: no copy."""
    reports_in_use: BucketInUse | None = None
    """A recovery stack: the services use this bucket for reports and exports (the source's copy)
    instead of a new, empty one; None: the stack makes its own."""

    def __post_init__(self) -> None:
        check_account_id(self)
        check_count(self, "log_retention_days", unit="day")
        check_log_delivery_region(self)
        check_tags(self)


class Storage(pulumi.ComponentResource):
    """The reports bucket (SSE-KMS) and the access-log bucket."""

    reports: SecureBucket | BucketInUse
    """Reports (api) and exports (worker) bucket."""
    reports_key_arn: pulumi.Output[str]
    """CMK of the reports bucket; readers need kms:Decrypt on it."""
    logs: SecureBucket
    """Server access logs and CloudFront access logs."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:storage:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The statements name the bucket's own ARN, so the policy follows the bucket.
        self.logs = SecureBucket(f"{name}-access-logs", SecureBucketArgs(
            purpose="access logs", kms_key_arn=None, tags=args.tags, expire_after_days=args.log_retention_days,
            deferred_policy=True, protect=args.protect), opts=child)
        self.logs.attach_policy(pulumi.Output.all(self.logs.bucket_arn, args.account_id).apply(
            lambda a: docs.access_log_delivery_statements(
                a[0], a[1], (ACCESS_LOG_PREFIX, log_delivery_principal(args.region)))))
        if args.reports_in_use:
            self.reports, self.reports_copy = args.reports_in_use, None
            self.reports_key_arn = pulumi.Output.from_input(args.reports_in_use.key_arn)
            self.register_outputs({"reports_bucket": self.reports.bucket_name, "logs_bucket": self.logs.bucket_name})
            return
        key = EncryptionKey(f"{name}-reports", EncryptionKeyArgs(
            description="Encrypts EcoMind reports and exports", account_id=args.account_id, tags=args.tags,
            protect=args.protect), opts=child)
        self.reports_key_arn = key.key_arn
        self.reports = SecureBucket(f"{name}-reports", SecureBucketArgs(
            purpose="reports and exports", kms_key_arn=key.key_arn, tags=args.tags, transitions=REPORT_TRANSITIONS,
            access_log_bucket=self.logs.bucket_name, protect=args.protect), opts=child)
        self.reports_copy = replicate_bucket(
            f"{name}-reports", self.reports, source_key_arn=key.key_arn, copies=args.copies, source_region=args.region,
            purpose="reports and exports", account_id=args.account_id, tags=args.tags, protect=args.protect,
            parent=self) if args.copies else None
        self.register_outputs({"reports_bucket": self.reports.bucket_name, "logs_bucket": self.logs.bucket_name})
