"""What every ecomind-infra stack relies on, created once per AWS account.

- an S3 bucket for Pulumi state: versioned, SSE-KMS, private, TLS-only, old versions expire;
- a KMS key (and alias) the stacks use as their secrets provider (awskms://alias/...);
- the GitHub Actions OIDC identity provider;
- a read-only role pull-request jobs assume to preview, and a deploy role that only jobs of
  the repository's `dev` and `prod` environments can assume. GitHub restricts those
  environments to the main branch (environment deployment branch rule, see
  docs/DEPLOYMENT.md); the trust conditions pin `sub` and `aud` exactly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
DEPLOY_ENVIRONMENTS = ("dev", "prod")
# One hour covers the longest job: a from-scratch `pulumi up` is planned at about 33 minutes.
CI_SESSION_SECONDS = 3600
STATE_KEY_ALIAS = "alias/ecomind-pulumi-state"
# Fixed names, so that each stack file can name these roles' ARNs (clusterCreatorRoleArn,
# ciDeployRoleArn, ciPreviewRoleArn) before they get their EKS access.
PREVIEW_ROLE_NAME = "ecomind-infra-preview"
DEPLOY_ROLE_NAME = "ecomind-infra-deploy"
SECRETS_KEY_ALIAS = "alias/ecomind-pulumi-secrets"


@dataclasses.dataclass(frozen=True)
class FoundationArgs:
    account_id: pulumi.Input[str]
    repository: str
    state_bucket_name: str
    noncurrent_state_days: int
    first_deploy_role_arns: Sequence[str] = ()
    """Roles whose holders may assume the deploy role, for a stack's first `pulumi up`: it runs
    before that stack's VPC runners exist, and as the deploy role so that it is the cluster's
    creator (docs/adr/0011)."""


def github_trust(provider_arn: pulumi.Input[str], subjects: Sequence[str]) -> pulumi.Output[dict]:
    """Trust for GitHub Actions tokens with exactly these subjects and the STS audience."""
    return pulumi.Output.from_input(provider_arn).apply(lambda arn: {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": list(subjects) if len(subjects) > 1 else subjects[0],
            }},
        }],
    })


def operator_trust_statement(role_arns: Sequence[str]) -> dict:
    """Named operator roles may assume the deploy role (the first `up` of a stack, from a
    workstation); their sessions carry the operator's identity into CloudTrail."""
    return {"Sid": "FirstDeploymentOperators", "Effect": "Allow", "Principal": {"AWS": list(role_arns)},
            "Action": "sts:AssumeRole"}


def state_access(bucket_arn: str, key_arns: Sequence[str], write: bool) -> dict:
    objects = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if write else [])
    kms = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListState", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": bucket_arn},
        {"Sid": "StateObjects", "Effect": "Allow", "Action": objects, "Resource": f"{bucket_arn}/*"},
        {"Sid": "StateAndSecretsKeys", "Effect": "Allow", "Action": kms, "Resource": list(key_arns)},
    ]}


DEPLOY_IAM_ACTIONS = (
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
    "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:PutRolePolicy", "iam:GetRolePolicy",
    "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:PassRole",
    "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
    "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile",
    "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:CreateServiceLinkedRole",
)


def deploy_iam_policy() -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "StackIamResources", "Effect": "Allow", "Action": list(DEPLOY_IAM_ACTIONS), "Resource": "*"}]}


class Foundation(pulumi.ComponentResource):
    """State bucket, keys, OIDC provider and the two CI roles."""

    state_url: pulumi.Output[str]
    """Backend URL for `pulumi login` (s3://...)."""
    secrets_provider: str
    """Secrets provider for `pulumi stack init --secrets-provider`."""
    preview_role_arn: pulumi.Output[str]
    """Role pull-request jobs assume (read-only)."""
    deploy_role_arn: pulumi.Output[str]
    """Role the dev and prod environment jobs assume."""

    def __init__(self, name: str, args: FoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:Foundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        tags = {"project": "ecomind-infra", "environment": "shared", "owner": "platform-engineering",
                "cost-centre": "ecomind", "managed-by": "pulumi"}
        root = pulumi.Output.from_input(args.account_id).apply(lambda a: f"arn:aws:iam::{a}:root")
        key_policy = root.apply(lambda principal: json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "AccountAdministersKeyThroughIam", "Effect": "Allow", "Principal": {"AWS": principal},
            "Action": "kms:*", "Resource": "*"}]}))
        state_key = aws.kms.Key(f"{name}-state", description="Encrypts Pulumi state objects", enable_key_rotation=True,
                                deletion_window_in_days=30, policy=key_policy, tags=tags, opts=kept)
        aws.kms.Alias(f"{name}-state", name=STATE_KEY_ALIAS, target_key_id=state_key.key_id, opts=child)
        secrets_key = aws.kms.Key(f"{name}-secrets", description="Pulumi secrets provider for ecomind-infra stacks",
                                  enable_key_rotation=True, deletion_window_in_days=30, policy=key_policy, tags=tags,
                                  opts=kept)
        aws.kms.Alias(f"{name}-secrets", name=SECRETS_KEY_ALIAS, target_key_id=secrets_key.key_id, opts=child)

        bucket = aws.s3.Bucket(f"{name}-state", bucket=args.state_bucket_name, force_destroy=False, tags=tags,
                               opts=kept)
        block = aws.s3.BucketPublicAccessBlock(f"{name}-state", bucket=bucket.id, block_public_acls=True,
                                               block_public_policy=True, ignore_public_acls=True,
                                               restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-state", bucket=bucket.id, rule=aws.s3.BucketOwnershipControlsRuleArgs(
            object_ownership="BucketOwnerEnforced"), opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-state", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.
                BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=state_key.arn),
                bucket_key_enabled=True)], opts=child)
        versioning = aws.s3.BucketVersioning(f"{name}-state", bucket=bucket.id,
                                             versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                                                 status="Enabled"), opts=child)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state", bucket=bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-state-versions", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_state_days))],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        aws.s3.BucketPolicy(f"{name}-state", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]))

        # GitHub's OIDC provider; AWS validates its certificates itself, the thumbprint is kept
        # for the API's sake (IAM user guide, "Configure GitHub OIDC").
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-github", url=GITHUB_OIDC_URL, client_id_lists=[STS_AUDIENCE],
            thumbprint_lists=["6938fd4d98bab03faadb97b34396831e3780aea1"], tags=tags, opts=child)
        repo = args.repository
        preview = aws.iam.Role(
            f"{name}-preview", name=PREVIEW_ROLE_NAME, description=f"Pull-request previews of {repo} (read-only)",
            assume_role_policy=pulumi.Output.json_dumps(github_trust(provider.arn, [f"repo:{repo}:pull_request"])),
            max_session_duration=CI_SESSION_SECONDS, tags=tags, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-preview-read-only", role=preview.name,
                                     policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess", opts=child)
        aws.iam.RolePolicy(f"{name}-preview-state", role=preview.id, policy=pulumi.Output.all(
            bucket.arn, state_key.arn, secrets_key.arn).apply(
                lambda a: json.dumps(state_access(a[0], a[1:], write=False))), opts=child)
        deploy_trust = github_trust(provider.arn, [f"repo:{repo}:environment:{env}" for env in DEPLOY_ENVIRONMENTS])
        if args.first_deploy_role_arns:
            deploy_trust = deploy_trust.apply(lambda document: {**document, "Statement": [
                *document["Statement"], operator_trust_statement(args.first_deploy_role_arns)]})
        deploy = aws.iam.Role(
            f"{name}-deploy", name=DEPLOY_ROLE_NAME,
            description=f"Deployments of {repo} from its dev and prod environments",
            assume_role_policy=pulumi.Output.json_dumps(deploy_trust),
            max_session_duration=CI_SESSION_SECONDS, tags=tags, opts=child)
        # Deploying creates every service (PowerUserAccess: everything but IAM and
        # Organizations) plus the IAM roles, policies and OIDC provider the stack defines. A
        # role that can create roles can escalate; the job that holds it is gated by GitHub
        # environments (prod: required reviewers), and pull requests never get it.
        aws.iam.RolePolicyAttachment(f"{name}-deploy-services", role=deploy.name,
                                     policy_arn="arn:aws:iam::aws:policy/PowerUserAccess", opts=child)
        aws.iam.RolePolicy(f"{name}-deploy-iam", role=deploy.id,
                           policy=json.dumps(deploy_iam_policy()), opts=child)

        self.state_url = bucket.bucket.apply(lambda b: f"s3://{b}")
        self.secrets_provider = f"awskms://{SECRETS_KEY_ALIAS}"
        self.preview_role_arn = preview.arn
        self.deploy_role_arn = deploy.arn
        self.register_outputs({"state_url": self.state_url, "preview_role_arn": self.preview_role_arn,
                               "deploy_role_arn": self.deploy_role_arn})
