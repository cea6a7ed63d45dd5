"""The account's detective controls and account-wide defaults, once per account.

- CloudTrail: one multi-region trail with global service events and log file validation,
  encrypted with its own key, into a bucket that Object Lock keeps in compliance mode (nobody,
  root included, deletes a record before its retention ends: S3 user guide, "Object Lock").
- GuardDuty with EKS audit-log and runtime monitoring (GuardDuty manages its agent add-on).
- Security Hub with AWS Foundational Security Best Practices and the CIS AWS Foundations
  Benchmark; IAM Access Analyzer for the account.
- AWS Config recording every supported resource type: Security Hub's controls are AWS Config
  rules, and evaluate nothing without a recorder (Security Hub user guide, "Enabling and
  configuring AWS Config"). Its snapshots go to the trail's locked bucket under config/.
- The account-wide S3 public access block, and EBS encryption by default.
- An alert when anyone schedules a KMS key's deletion or disables a key: the key policies deny
  it to all but named roles, and this says when one of those (or a policy change) did.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import guarded
import pulumi
import pulumi_aws as aws

TRAIL_NAME = "ecomind-account-trail"
# GuardDuty features this account turns on (GuardDuty API, DetectorFeature names).
GUARDDUTY_FEATURES = ("EKS_AUDIT_LOGS", "RUNTIME_MONITORING")
# Security Hub standards, by ARN (Security Hub user guide, "Standards reference").
SECURITY_HUB_STANDARDS = ("aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/3.0.0")
# KMS calls that start destroying what a key protects. EventBridge receives them as "AWS API
# Call via CloudTrail" events once a trail logs management events (EventBridge user guide,
# "Events from AWS services delivered via AWS CloudTrail").
# PutKeyPolicy too: a replaced policy can drop the guard that denies the other two (review M1s).
KEY_DESTRUCTION_EVENTS = ("ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy")
# Named, so that the deploy roles' guard can name them (bootstrap/delivery.py account_guards_policy).
ALERT_RULE_NAME = "ecomind-security-key-destruction"
ALERT_TOPIC_NAME = "ecomind-security-alerts"
CONFIG_NAME = "ecomind-account"
CONFIG_PREFIX = "config"


@dataclasses.dataclass(frozen=True)
class AccountBaselineArgs:
    account_id: pulumi.Input[str]
    """The account the bootstrap runs in."""
    region: str
    """Home region of the trail, Security Hub and GuardDuty."""
    trail_bucket_name: str
    """Globally unique name of the CloudTrail bucket."""
    trail_retention_days: int
    """Days Object Lock keeps every CloudTrail record undeletable (compliance mode)."""
    tags: Mapping[str, str]
    """Tags of the key, the bucket, the trail, the detector and the analyzer."""
    alert_email: str | None = None
    """Address the key-destruction alert goes to (None: the topic has no subscriber yet)."""
    watched_regions: Sequence[str] = ()
    """Other regions that hold the account's keys (drRegion): their key-destruction events are
    forwarded to the home region's alert."""

    def __post_init__(self) -> None:
        if not 1 <= self.trail_retention_days <= 36500:
            raise pulumi.RunError(f"invalid AccountBaselineArgs.trail_retention_days = {self.trail_retention_days}: "
                                  "expected 1 to 36500 days (Object Lock's limit is 100 years)")


def trail_arn(account: str, region: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{TRAIL_NAME}"


def trail_key_policy(account: str, region: str) -> dict:
    """CloudTrail encrypts with the key for this trail only (encryption context and SourceArn;
    CloudTrail user guide, "Configure AWS KMS key policies for CloudTrail")."""
    trail = trail_arn(account, region)
    return guarded.key_policy(
        account,
        {"Sid": "CloudTrailEncryptsThisTrail", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail},
                       "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:aws:cloudtrail:*:{account}:trail/*"}}},
        {"Sid": "CloudTrailDescribesTheKey", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "kms:DescribeKey", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
        # AWS Config writes its snapshots to the same bucket (AWS Config developer guide,
        # "Permissions for the KMS Key Used for the Amazon S3 Bucket").
        {"Sid": "ConfigEncryptsThisAccountsSnapshots", "Effect": "Allow",
         "Principal": {"Service": "config.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:SourceAccount": account}}})


def alert_key_policy(account: str) -> dict:
    """The alert topic's key: EventBridge encrypts what it publishes (SNS developer guide,
    "Encryption at rest": a CMK policy for the publishing service). No aws:SourceAccount: EventBridge
    does not send the source keys in the KMS calls of its delivery to an encrypted topic, so such a
    condition drops every alert silently (analyses/service_principals.py, events.amazonaws.com);
    the topic policy holds delivery to the one rule."""
    return guarded.key_policy(
        account,
        {"Sid": "EventBridgePublishes", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"})


def key_destruction_pattern() -> dict:
    return {"source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["kms.amazonaws.com"], "eventName": list(KEY_DESTRUCTION_EVENTS)}}


def trail_bucket_policy(bucket_arn: str, account: str, region: str) -> dict:
    """Only this account's trail writes, and only over TLS (CloudTrail user guide, "Amazon S3
    bucket policy for CloudTrail")."""
    trail = trail_arn(account, region)
    return {"Version": "2012-10-17", "Statement": [
        guarded.deny_insecure_transport(bucket_arn),
        {"Sid": "CloudTrailReadsTheAcl", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": bucket_arn, "Condition": {"StringEquals": {"aws:SourceArn": trail}}},
        {"Sid": "CloudTrailWritesThisAccountsLogs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
         "Condition": {"StringEquals": {"aws:SourceArn": trail, "s3:x-amz-acl": "bucket-owner-full-control"}}},
        # AWS Config developer guide, "Permissions for the Amazon S3 Bucket for the AWS Config
        # Delivery Channel": it checks the ACL and the bucket, then writes under its prefix.
        {"Sid": "ConfigChecksTheBucket", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
         "Action": ["s3:GetBucketAcl", "s3:ListBucket"], "Resource": bucket_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        {"Sid": "ConfigWritesThisAccountsSnapshots", "Effect": "Allow",
         "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"{bucket_arn}/{CONFIG_PREFIX}/AWSLogs/{account}/Config/*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account, "s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]}


class AccountBaseline(pulumi.ComponentResource):
    """CloudTrail into a locked bucket, GuardDuty, Security Hub, Access Analyzer, account defaults."""

    trail_bucket_name: pulumi.Output[str]
    """The CloudTrail bucket."""
    guarded_key_arns: list[pulumi.Output[str]]
    """The trail's and the alert's keys, whose policies no deploy role may replace."""
    guarded_bucket_arns: list[pulumi.Output[str]]
    """The trail's bucket, whose policy and lifecycle no deploy role may change."""

    def __init__(self, name: str, args: AccountBaselineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:AccountBaseline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        account = pulumi.Output.from_input(args.account_id)

        key = aws.kms.Key(f"{name}-trail", description="Encrypts the account's CloudTrail logs",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=dict(args.tags), opts=kept,
                          policy=account.apply(lambda a: json.dumps(trail_key_policy(a, args.region))))
        # Object Lock is set when the bucket is created, and needs versioning.
        bucket, block, _ = guarded.private_bucket(f"{name}-trail", args.trail_bucket_name, key.arn, args.tags, self,
                                                  purpose="audit trail", object_lock=True)
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-trail", bucket=bucket.id, object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="COMPLIANCE", days=args.trail_retention_days)), opts=child)
        # Records leave when their lock ends (a locked version cannot be expired earlier).
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-trail", bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-after-retention", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.trail_retention_days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=1),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7))],
            opts=child)
        policy = aws.s3.BucketPolicy(
            f"{name}-trail", bucket=bucket.id, policy=pulumi.Output.all(bucket.arn, account).apply(
                lambda a: json.dumps(trail_bucket_policy(a[0], a[1], args.region))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))
        aws.cloudtrail.Trail(
            f"{name}-trail", name=TRAIL_NAME, s3_bucket_name=bucket.id, kms_key_id=key.arn,
            is_multi_region_trail=True, include_global_service_events=True, enable_log_file_validation=True,
            enable_logging=True, tags=dict(args.tags), opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))

        detector = aws.guardduty.Detector(f"{name}-guardduty", enable=True,
                                          finding_publishing_frequency="FIFTEEN_MINUTES", tags=dict(args.tags),
                                          opts=child)
        aws.guardduty.DetectorFeature(f"{name}-guardduty-eks-audit-logs", detector_id=detector.id,
                                      name="EKS_AUDIT_LOGS", status="ENABLED", opts=child)
        aws.guardduty.DetectorFeature(
            f"{name}-guardduty-runtime", detector_id=detector.id, name="RUNTIME_MONITORING", status="ENABLED",
            additional_configurations=[aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(
                name="EKS_ADDON_MANAGEMENT", status="ENABLED")], opts=child)

        # AWS Config, through its service-linked role (AWSServiceRoleForConfig): an account that
        # already has the role, or a recorder (one per region), imports them first (UPGRADING.md).
        config_role = aws.iam.ServiceLinkedRole(f"{name}-config", aws_service_name="config.amazonaws.com",
                                                opts=child)
        recorder = aws.cfg.Recorder(
            f"{name}-config", name=CONFIG_NAME, role_arn=config_role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(all_supported=True, include_global_resource_types=True),
            opts=child)
        channel = aws.cfg.DeliveryChannel(
            f"{name}-config", name=CONFIG_NAME, s3_bucket_name=bucket.id, s3_key_prefix=CONFIG_PREFIX,
            s3_kms_key_arn=key.arn,
            snapshot_delivery_properties=aws.cfg.DeliveryChannelSnapshotDeliveryPropertiesArgs(
                delivery_frequency="TwentyFour_Hours"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[recorder, policy]))
        recording = aws.cfg.RecorderStatus(f"{name}-config", name=recorder.name, is_enabled=True,
                                           opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]))

        hub = aws.securityhub.Account(f"{name}-security-hub", enable_default_standards=False,
                                      auto_enable_controls=True,
                                      opts=pulumi.ResourceOptions(parent=self, depends_on=[recording]))
        for standard in SECURITY_HUB_STANDARDS:
            aws.securityhub.StandardsSubscription(
                f"{name}-{standard.split('/')[0]}",
                standards_arn=f"arn:aws:securityhub:{args.region}::standards/{standard}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[hub]))
        aws.accessanalyzer.Analyzer(f"{name}-access-analyzer", analyzer_name="ecomind-account", type="ACCOUNT",
                                    tags=dict(args.tags), opts=child)
        aws.s3.AccountPublicAccessBlock(f"{name}-s3-public-access", block_public_acls=True, block_public_policy=True,
                                        ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.ebs.EncryptionByDefault(f"{name}-ebs-encryption", enabled=True, opts=child)

        alert_key = aws.kms.Key(f"{name}-alerts", description="Encrypts the account's security alerts",
                                enable_key_rotation=True, deletion_window_in_days=30, tags=dict(args.tags),
                                policy=account.apply(lambda a: json.dumps(alert_key_policy(a))), opts=kept)
        topic = aws.sns.Topic(f"{name}-alerts", name=ALERT_TOPIC_NAME, kms_master_key_id=alert_key.arn,
                              tags=dict(args.tags), opts=child)
        rule = aws.cloudwatch.EventRule(f"{name}-key-destruction", name=ALERT_RULE_NAME,
                                        description="A KMS key was scheduled for deletion, disabled or given a new "
                                        "policy", event_pattern=json.dumps(key_destruction_pattern()),
                                        tags=dict(args.tags), opts=child)
        aws.sns.TopicPolicy(f"{name}-alerts", arn=topic.arn, policy=pulumi.Output.all(topic.arn, rule.arn).apply(
            lambda a: json.dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "TheKeyDestructionRulePublishes", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish", "Resource": a[0],
                "Condition": {"ArnEquals": {"aws:SourceArn": a[1]}}}]})), opts=child)
        aws.cloudwatch.EventTarget(f"{name}-key-destruction", rule=rule.name, arn=topic.arn, opts=child)
        self._forward_key_destruction(name, args, account)
        if args.alert_email:
            aws.sns.TopicSubscription(f"{name}-alerts-email", topic=topic.arn, protocol="email",
                                      endpoint=args.alert_email, opts=child)
        self.trail_bucket_name = bucket.bucket
        self.guarded_key_arns, self.guarded_bucket_arns = [key.arn, alert_key.arn], [bucket.arn]
        self.register_outputs({"trail_bucket_name": self.trail_bucket_name})

    def _forward_key_destruction(self, name: str, args: AccountBaselineArgs, account: pulumi.Output[str]) -> None:
        """EventBridge sees a KMS call in the region where it was made only (EventBridge user guide,
        "Events from AWS services delivered via AWS CloudTrail"), so each other region that holds keys
        (the DR copies', the secrets replica, the images copy's) gets the same rule, forwarding to the
        home region's default bus (EventBridge user guide, "Sending and receiving events between AWS
        Regions": a bus in another region is a target, with a role that may PutEvents on it), where
        the alert rule above matches the forwarded event unchanged (review m1)."""
        if not args.watched_regions:
            return
        child = pulumi.ResourceOptions(parent=self)
        home_bus = account.apply(lambda a: f"arn:aws:events:{args.region}:{a}:event-bus/default")
        role, policy = guarded.service_role(
            f"{name}-key-destruction-forwarding", "Forwards other regions' key-destruction events home",
            account.apply(lambda a: guarded.service_trust("events.amazonaws.com",
                                                          StringEquals={"aws:SourceAccount": a})),
            home_bus.apply(lambda bus: {"Version": "2012-10-17", "Statement": [{
                "Sid": "PutOnTheHomeBus", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]}),
            args.tags, self)
        for region in args.watched_regions:
            rule = aws.cloudwatch.EventRule(
                f"{name}-key-destruction-{region}", region=region, name=ALERT_RULE_NAME,
                description=f"A KMS key in {region} was scheduled for deletion, disabled or given a new policy: "
                "forwarded home",
                event_pattern=json.dumps(key_destruction_pattern()), tags=dict(args.tags), opts=child)
            aws.cloudwatch.EventTarget(f"{name}-key-destruction-{region}", region=region, rule=rule.name,
                                       arn=home_bus, role_arn=role.arn,
                                       opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
