"""What every ecomind-infra stack relies on, created once per AWS account.

- an S3 bucket for Pulumi state: versioned, SSE-KMS, private, TLS-only, old versions expire;
- a KMS key (and alias) the stacks use as their secrets provider (awskms://alias/...);
- the GitHub Actions OIDC identity provider;
- per stack, a deploy role and a preview role (delivery.py), and the repository's side of their
  trust: its OIDC subject template and environments (repository.py);
- the account's detective controls and defaults (baseline.py): CloudTrail into a locked bucket,
  GuardDuty, Security Hub, Access Analyzer, the account S3 public access block, EBS encryption.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import guarded
import pulumi
import pulumi_aws as aws
from baseline import AccountBaseline, AccountBaselineArgs
from delivery import StackDelivery, StackDeliveryArgs, deploy_role_name, preview_role_name, state_bucket_denials
from repository import RepositoryDelivery, RepositoryDeliveryArgs

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
STATE_KEY_ALIAS = "alias/ecomind-pulumi-state"

SECRETS_KEY_ALIAS = "alias/ecomind-pulumi-secrets"


@dataclasses.dataclass(frozen=True)
class FoundationArgs:
    account_id: pulumi.Input[str]
    """The account the bootstrap runs in."""
    repository: str
    """owner/name of the repository whose workflows assume the CI roles."""
    state_bucket_name: str
    """Globally unique name of the Pulumi state bucket."""
    noncurrent_state_days: int
    """Days old state versions are kept."""
    region: str = "us-east-1"
    """Region of the stacks' clusters (their OIDC providers' host)."""
    stacks: Sequence[str] = ("dev", "prod")
    """Stacks deployed into this account: each gets its own CI roles and GitHub environments."""
    first_deploy_role_arns: Sequence[str] = ()
    """Roles whose holders may assume a deploy role, for a stack's first `pulumi up`: it runs
    before that stack's VPC runners exist, and as the deploy role so that it is the cluster's
    creator (docs/adr/0011)."""
    merge_queue_previews: Sequence[str] = ("dev",)
    """Stacks the pull-request workflow previews, with credentials, in the merge queue."""
    reviewer_team_ids: Mapping[str, Sequence[int]] = dataclasses.field(default_factory=dict)
    """GitHub team IDs whose approval a stack's deploy job waits for."""
    security_alert_email: str | None = None
    """Where the account's security alerts (key destruction) go."""
    trail_retention_days: int = 365
    """Days Object Lock keeps each CloudTrail record (compliance mode: nobody shortens it)."""
    manage_repository: bool = True
    """Whether this bootstrap also sets the repository's OIDC template and environments (once per
    repository, when several accounts are bootstrapped)."""


STATE_LOCK_DAYS = 30
"""Days each state version is kept from deletion (Object Lock, governance mode)."""


class Foundation(pulumi.ComponentResource):
    """State bucket, keys, OIDC provider, and each stack's CI roles and GitHub environments."""

    state_url: pulumi.Output[str]
    """Backend URL for `pulumi login` (s3://...)."""
    secrets_provider: str
    """Secrets provider for `pulumi stack init --secrets-provider`."""
    deploy_role_arns: dict[str, pulumi.Output[str]]
    """Per stack, the role its deploy job assumes."""
    preview_role_arns: dict[str, pulumi.Output[str]]
    """Per stack, the role its drift check and merge-queue preview assume."""

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:Foundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        tags = {"project": "ecomind-infra", "environment": "shared", "owner": "platform-engineering",
                "cost-centre": "ecomind", "managed-by": "pulumi"}
        key_policy = pulumi.Output.from_input(args.account_id).apply(lambda a: json.dumps(guarded.key_policy(a)))
        state_key = aws.kms.Key(f"{name}-state", description="Encrypts Pulumi state objects", enable_key_rotation=True,
                                deletion_window_in_days=30, policy=key_policy, tags=tags, opts=kept)
        aws.kms.Alias(f"{name}-state", name=STATE_KEY_ALIAS, target_key_id=state_key.key_id, opts=child)
        secrets_key = aws.kms.Key(f"{name}-secrets", description="Pulumi secrets provider for ecomind-infra stacks",
                                  enable_key_rotation=True, deletion_window_in_days=30, policy=key_policy, tags=tags,
                                  opts=kept)
        aws.kms.Alias(f"{name}-secrets", name=SECRETS_KEY_ALIAS, target_key_id=secrets_key.key_id, opts=child)

        bucket, block, versioning = guarded.private_bucket(f"{name}-state", args.state_bucket_name, state_key.arn,
                                                           tags, self, purpose="pulumi state", object_lock=True)
        # Governance mode: no CI role can destroy a checkpoint version for STATE_LOCK_DAYS, while
        # an administrator holding s3:BypassGovernanceRetention still can (S3 user guide,
        # "Object Lock retention modes"). Pulumi's DIY backend deletes lock files and `stack rm`
        # deletes checkpoints without a version ID: those become delete markers, which Object
        # Lock allows, and the locked versions stay recoverable.
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-state", bucket=bucket.id, object_lock_enabled="Enabled",
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE", days=STATE_LOCK_DAYS)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state", bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-state-versions", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_state_days),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7))],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        ci_roles = pulumi.Output.from_input(args.account_id).apply(lambda account: {
            stack: [f"arn:aws:iam::{account}:role/{deploy_role_name(stack)}",
                    f"arn:aws:iam::{account}:role/{preview_role_name(stack)}"] for stack in args.stacks})
        aws.s3.BucketPolicy(f"{name}-state", bucket=bucket.id, policy=pulumi.Output.all(bucket.arn, ci_roles).apply(
            lambda a: json.dumps({"Version": "2012-10-17", "Statement": [
                guarded.deny_insecure_transport(a[0]), *state_bucket_denials(a[0], a[1])]})),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))

        # GitHub's OIDC provider; AWS validates its certificates itself, the thumbprint is kept
        # for the API's sake (IAM user guide, "Configure GitHub OIDC").
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github", url=GITHUB_OIDC_URL, client_id_lists=["sts.amazonaws.com"],
            thumbprint_lists=["6938fd4d98bab03faadb97b34396831e3780aea1"], tags=tags, opts=child)
        AccountBaseline(f"{name}-baseline", AccountBaselineArgs(
            account_id=args.account_id, region=args.region, trail_bucket_name=f"{args.state_bucket_name}-trail",
            trail_retention_days=args.trail_retention_days, tags=tags, alert_email=args.security_alert_email),
            opts=child)
        keys = [state_key.arn, secrets_key.arn]
        delivery = {stack: StackDelivery(f"{name}-{stack}", StackDeliveryArgs(
            stack=stack, account_id=args.account_id, region=args.region, repository=args.repository,
            provider_arn=provider.arn, state_bucket_arn=bucket.arn, key_arns=keys,
            first_deploy_role_arns=args.first_deploy_role_arns,
            merge_queue_previews=stack in args.merge_queue_previews, tags=tags), opts=child)
            for stack in args.stacks}
        if args.manage_repository:
            RepositoryDelivery(f"{name}-repository", RepositoryDeliveryArgs(
                repository=args.repository, stacks=list(args.stacks),
                role_arns={stack: (d.deploy_role_arn, d.preview_role_arn) for stack, d in delivery.items()},
                reviewer_team_ids=args.reviewer_team_ids, merge_queue_previews=list(args.merge_queue_previews)),
                opts=child)

        self.state_url = bucket.bucket.apply(lambda b: f"s3://{b}")
        self.secrets_provider = f"awskms://{SECRETS_KEY_ALIAS}"
        self.deploy_role_arns = {stack: d.deploy_role_arn for stack, d in delivery.items()}
        self.preview_role_arns = {stack: d.preview_role_arn for stack, d in delivery.items()}
        self.register_outputs({"state_url": self.state_url, "deploy_role_arns": self.deploy_role_arns,
                               "preview_role_arns": self.preview_role_arns})
