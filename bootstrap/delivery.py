"""Who may deploy and preview each stack: one deploy and one preview role per stack, bound to the
GitHub workflow, ref and environment that may use them, and a permissions boundary that every
role the stack creates must carry.

Trust: AWS evaluates only the `sub` and `aud` claims of GitHub's tokens ("Support for custom
claims for OIDC is unavailable in AWS", GitHub docs, "Configuring OpenID Connect in Amazon Web
Services"; IAM user guide, "Available keys for AWS web identity federation"). The repository's
subject template (repository.py) puts the workflow file and ref into `sub`:
`repo:<owner>/<name>:environment:<env>:job_workflow_ref:<owner>/<name>/.github/workflows/<file>@<ref>`
(GitHub docs, "OpenID Connect reference", customizing the subject claims). So a job of another
workflow, of a pull request's copy of a workflow, or of another environment presents a subject
no role trusts.

Permissions: the deploy role creates every service through PowerUserAccess (no IAM); its IAM
writes are limited to roles under the stack's path (`/ecomind-infra/<stack>/`), each created or
changed only with the stack's boundary attached (iam:PermissionsBoundary, IAM user guide,
"Permissions boundaries for IAM entities"), attaching only the AWS managed policies the stack
uses (iam:PolicyARN), and passing them only to the services that take them
(iam:PassedToService). The boundary allows no IAM write but service-linked roles, so a role the
deploy role creates cannot grant more than the deploy role holds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
from baseline import ALERT_RULE_NAME, ALERT_TOPIC_NAME

PROJECT = "ecomind-infra"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# Two hours: the deploy job's timeout (120 minutes), itself above the slowest `up` with MSK at its
# reported worst case (analyses/schedule.py ci_job_minutes). Expiring credentials mid-update would
# leave the stack locked with operations pending.
CI_SESSION_SECONDS = 7200
DEPLOY_WORKFLOW = "deploy.yml"
DRIFT_WORKFLOW = "drift.yml"
PULL_REQUEST_WORKFLOW = "pull-request.yml"
MAIN = "refs/heads/main"
# Merge-queue runs check out refs/heads/gh-readonly-queue/main/pr-<n>-<sha> (GitHub docs,
# "Managing a merge queue"): code that passed review, the only PR code that gets credentials.
MERGE_QUEUE_REFS = "refs/heads/gh-readonly-queue/main/*"

# The AWS managed policies the stacks attach (components/cluster.py, irsa.py). Any other
# attachment is refused; a test checks the list against every planned attachment.
STACK_MANAGED_POLICIES = (
    "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore", "AmazonEKS_CNI_Policy", "service-role/AmazonEBSCSIDriverPolicy",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)
# Services the stack passes its roles to (the iam:PassedToService each Create call checks; the plan's
# rule passrole-coverage, analyses/aws_semantics.py PASSED_ROLES, reads every role a platform
# resource hands over against this list): EKS (cluster role, node role, add-on roles), CodeBuild
# (the runner project), VPC flow logs (the delivery role), RDS Enhanced Monitoring, the Synthetics
# canary, EventBridge Scheduler (dev's office-hours role) and S3 replication (the region-loss
# copies' roles: PutBucketReplication passes the role to s3.amazonaws.com, S3 user guide, "Setting
# up permissions for live replication"). Which name RDS presents for the monitoring role (its
# service principal, or rds.amazonaws.com, the caller) and which CreateCanary presents (Synthetics,
# or Lambda, which runs the canary) were not confirmed in the documentation read: both are allowed.
PASSED_TO_SERVICES = ("eks.amazonaws.com", "codebuild.amazonaws.com", "vpc-flow-logs.amazonaws.com",
                      "monitoring.rds.amazonaws.com", "rds.amazonaws.com", "synthetics.amazonaws.com",
                      "lambda.amazonaws.com", "scheduler.amazonaws.com", "s3.amazonaws.com")
# Service-linked roles the stack's services create on first use.
SERVICE_LINKED_ROLES = ("eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                        "autoscaling.amazonaws.com", "kafka.amazonaws.com", "rds.amazonaws.com",
                        "elasticache.amazonaws.com", "codebuild.amazonaws.com")


def deploy_role_name(stack: str) -> str:
    return f"{PROJECT}-{stack}-deploy"


def preview_role_name(stack: str) -> str:
    return f"{PROJECT}-{stack}-preview"


def stack_path(stack: str) -> str:
    """IAM path of every role the stack creates (components/naming.py, iam_path)."""
    return f"/{PROJECT}/{stack}/"


def boundary_name(stack: str) -> str:
    return f"{PROJECT}-{stack}-boundary"


def github_subject(repository: str, environment: str, workflow: str, ref: str) -> str:
    """The `sub` GitHub issues to a job of `workflow` at `ref` in `environment` (the template)."""
    return (f"repo:{repository}:environment:{environment}:job_workflow_ref:"
            f"{repository}/.github/workflows/{workflow}@{ref}")


def _web_identity(provider_arn: str, exact: Sequence[str], like: Sequence[str] = ()) -> list[dict]:
    statements = [{"Sid": "GitHubWorkflowsExactly", "Effect": "Allow", "Principal": {"Federated": provider_arn},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                                                  f"{GITHUB_OIDC_HOST}:sub": list(exact)}}}]
    if like:
        statements.append({"Sid": "GitHubMergeQueue", "Effect": "Allow", "Principal": {"Federated": provider_arn},
                           "Action": "sts:AssumeRoleWithWebIdentity",
                           "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE},
                                         "StringLike": {f"{GITHUB_OIDC_HOST}:sub": list(like)}}})
    return statements


def deploy_trust(provider_arn: str, repository: str, stack: str, operators: Sequence[str] = ()) -> dict:
    """The deploy workflow on main, in the stack's own environment; and named operators for the
    stack's first `up` (docs/adr/0011), which runs before its VPC runners exist."""
    statements = _web_identity(provider_arn, [github_subject(repository, stack, DEPLOY_WORKFLOW, MAIN)])
    if operators:
        statements.append({"Sid": "FirstDeploymentOperators", "Effect": "Allow", "Principal": {"AWS": list(operators)},
                           "Action": "sts:AssumeRole"})
    return {"Version": "2012-10-17", "Statement": statements}


def preview_trust(provider_arn: str, repository: str, stack: str, merge_queue: bool) -> dict:
    """The nightly drift check on main and, for a stack previewed before merging, the pull-request
    workflow in the merge queue; both in the stack's preview environment. Never a pull request."""
    environment = f"{stack}-preview"
    like = [github_subject(repository, environment, PULL_REQUEST_WORKFLOW, MERGE_QUEUE_REFS)] if merge_queue else []
    return {"Version": "2012-10-17", "Statement": _web_identity(
        provider_arn, [github_subject(repository, environment, DRIFT_WORKFLOW, MAIN)], like)}


def boundary_policy() -> dict:
    """The most any role a stack creates may do: everything but IAM, Organizations and account
    settings, plus reading IAM and creating the service-linked roles its services use."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ServicesButNotIam", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"],
         "Resource": "*"},
        {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}}},
    ]}


def deploy_iam_policy(account: str, region: str, stack: str) -> dict:
    """IAM writes of a stack's deploy role: its own path, its own boundary, nothing else."""
    roles = f"arn:aws:iam::{account}:role{stack_path(stack)}*"
    boundary = f"arn:aws:iam::{account}:policy{stack_path(stack)}{boundary_name(stack)}"
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "CreateAndChangeRolesWithTheBoundary", "Effect": "Allow",
         "Action": ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:DeleteRolePolicy"],
         "Resource": roles, "Condition": with_boundary},
        {"Sid": "AttachTheStacksManagedPolicies", "Effect": "Allow",
         "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], "Resource": roles,
         "Condition": {**with_boundary, "ArnEquals": {"iam:PolicyARN": [
             f"arn:aws:iam::aws:policy/{policy}" for policy in STACK_MANAGED_POLICIES]}}},
        {"Sid": "ManageTheStacksRoles", "Effect": "Allow",
         "Action": ["iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription",
                    "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags",
                    "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
                    "iam:ListInstanceProfilesForRole"],
         "Resource": roles},
        {"Sid": "PassTheStacksRolesToItsServices", "Effect": "Allow", "Action": "iam:PassRole", "Resource": roles,
         "Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}}},
        {"Sid": "ClusterOidcProviders", "Effect": "Allow",
         "Action": ["iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
                    "iam:GetOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
                    "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint"],
         "Resource": f"arn:aws:iam::{account}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/*"},
        {"Sid": "ServiceLinkedRoles", "Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
         "Resource": f"arn:aws:iam::{account}:role/aws-service-role/*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}}},
        {"Sid": "TheBoundaryStaysOn", "Effect": "Deny",
         "Action": ["iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion", "iam:DeletePolicy",
                    "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"],
         "Resource": [roles, boundary]},
    ]}


# What a deploy role may never do to the account's own guards, which PowerUserAccess would let it
# stop, blind or rewrite (review M1s): the trail, GuardDuty (a suppression filter or a trusted IP
# list hides findings as surely as a deleted detector), Config, Security Hub, Access Analyzer,
# the key-destruction alert, and the bootstrap keys' policies. The stack creates none of these.
ACCOUNT_GUARD_ACTIONS = (
    "cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail", "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
    "guardduty:DeleteDetector", "guardduty:UpdateDetector", "guardduty:CreateFilter", "guardduty:UpdateFilter",
    "guardduty:CreateIPSet", "guardduty:UpdateIPSet", "guardduty:DeletePublishingDestination",
    "guardduty:UpdatePublishingDestination", "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:ArchiveFindings",
    "config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder", "config:PutConfigurationRecorder",
    "config:DeleteDeliveryChannel", "config:PutDeliveryChannel",
    "securityhub:DisableSecurityHub", "securityhub:BatchDisableStandards", "securityhub:BatchUpdateFindings",
    "securityhub:CreateAutomationRule", "securityhub:BatchUpdateAutomationRules",
    "securityhub:UpdateStandardsControl", "securityhub:BatchUpdateStandardsControlAssociations",
    "access-analyzer:DeleteAnalyzer", "access-analyzer:CreateArchiveRule", "access-analyzer:UpdateArchiveRule",
)
GUARDED_BUCKET_ACTIONS = ("s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
                          "s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:DeleteBucket")
ALERT_ACTIONS = ("events:DisableRule", "events:DeleteRule", "events:PutRule", "events:PutTargets",
                 "events:RemoveTargets", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:AddPermission",
                 "sns:RemovePermission")


def account_guards_policy(account: str, alert_rule: str, alert_topic: str, key_arns: Sequence[str],
                          bucket_arns: Sequence[str] = ()) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        *([{"Sid": "TheTrailsBucketStaysLocked", "Effect": "Deny", "Action": list(GUARDED_BUCKET_ACTIONS),
            "Resource": list(bucket_arns)}] if bucket_arns else []),
        {"Sid": "TheAccountsGuardsStayOn", "Effect": "Deny", "Action": list(ACCOUNT_GUARD_ACTIONS), "Resource": "*"},
        {"Sid": "TheSecurityAlertStaysOn", "Effect": "Deny", "Action": list(ALERT_ACTIONS),
         "Resource": [f"arn:aws:events:*:{account}:rule/{alert_rule}", f"arn:aws:sns:*:{account}:{alert_topic}"]},
        {"Sid": "TheBootstrapKeysKeepTheirPolicies", "Effect": "Deny", "Action": "kms:PutKeyPolicy",
         "Resource": list(key_arns)},
    ]}


def state_objects(bucket_arn: str, stack: str) -> list[str]:
    """The stack's objects in Pulumi's DIY backend (project-scoped layout): the checkpoint, history
    and backups under <project>/<stack> (pkg/backend/diy/store.go projectReferenceStore), the lock
    objects under the stack's fully qualified name, organization/<project>/<stack>
    (pkg/backend/diy/lock.go stackLockDir; backend.go FullyQualifiedName)."""
    return [f"{bucket_arn}/.pulumi/stacks/{PROJECT}/{stack}.json*",
            *(f"{bucket_arn}/.pulumi/{folder}/{PROJECT}/{stack}/*" for folder in ("history", "backups")),
            f"{bucket_arn}/.pulumi/locks/organization/{PROJECT}/{stack}/*",
            f"{bucket_arn}/.pulumi/meta.yaml"]


def state_access(bucket_arn: str, stack: str, key_arns: Sequence[str], write: bool) -> dict:
    objects = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if write else [])
    kms = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListState", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": bucket_arn},
        {"Sid": "TheStacksStateObjects", "Effect": "Allow", "Action": objects,
         "Resource": state_objects(bucket_arn, stack)},
        {"Sid": "StateAndSecretsKeys", "Effect": "Allow", "Action": kms, "Resource": list(key_arns)},
    ]}


# Every object action that reads, writes or removes a state object or one of its versions: a
# versioned read (GetObject?versionId) is authorised as s3:GetObjectVersion, not s3:GetObject, and
# ReadOnlyAccess and PowerUserAccess grant both (S3 user guide, "Policy actions for Amazon S3":
# GetObjectVersion, GetObjectVersionAttributes, DeleteObjectVersion).
STATE_OBJECT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes",
                        "s3:GetObjectVersionAttributes", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                        "s3:RestoreObject")
# What would erase the state's history or loosen its guards, which no CI role does: Pulumi's DIY
# backend deletes without a version ID (delete markers), and Object Lock's governance mode yields
# to s3:BypassGovernanceRetention (S3 user guide, "Object Lock retention modes"). s3:PutObjectRetention
# stays allowed: without the bypass it can only lengthen a governance retention, and whether a PUT
# under the bucket's default retention is authorised as it too was not found stated.
STATE_HISTORY_ACTIONS = ("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
                         "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning",
                         "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                         "s3:PutReplicationConfiguration", "s3:DeleteBucket")


def state_bucket_denials(bucket_arn: str, role_arns_by_stack: dict[str, Sequence[str]]) -> list[dict]:
    """Bucket-policy statements: a stack's CI roles touch no other stack's state, in any version
    (PowerUserAccess and ReadOnlyAccess would otherwise reach every object of the bucket), and no CI
    role erases a version or loosens the bucket's retention, versioning, replication or policy."""
    every_role = sorted({role for roles in role_arns_by_stack.values() for role in roles})
    return [*({"Sid": f"OnlyItsOwnState{stack.title().replace('-', '')}", "Effect": "Deny",
               "Principal": {"AWS": list(roles)}, "Action": list(STATE_OBJECT_ACTIONS),
               "NotResource": state_objects(bucket_arn, stack)}
              for stack, roles in sorted(role_arns_by_stack.items())),
            {"Sid": "NoCiRoleErasesStateHistory", "Effect": "Deny", "Principal": {"AWS": every_role},
             "Action": list(STATE_HISTORY_ACTIONS), "Resource": [bucket_arn, f"{bucket_arn}/*"]}]


@dataclasses.dataclass(frozen=True)
class StackDeliveryArgs:
    stack: str
    """The stack (and GitHub environment) these roles serve: dev, prod."""
    account_id: pulumi.Input[str]
    """Account the stack deploys into (the bootstrap runs in it)."""
    region: str
    """Region of the stack's EKS cluster (its OIDC provider's host)."""
    repository: str
    """owner/name of the GitHub repository whose workflows assume the roles."""
    provider_arn: pulumi.Input[str]
    """GitHub's OIDC provider in IAM."""
    state_bucket_arn: pulumi.Input[str]
    """The Pulumi state bucket."""
    key_arns: Sequence[pulumi.Input[str]]
    """The state and secrets-provider keys."""
    first_deploy_role_arns: Sequence[str] = ()
    """Roles whose holders may assume the deploy role for the stack's first `up`."""
    merge_queue_previews: bool = False
    """Whether the pull-request workflow previews this stack in the merge queue (never prod)."""
    alert_rule_name: str = ALERT_RULE_NAME
    """The account's key-destruction alert rule, which the deploy role may not touch."""
    alert_topic_name: str = ALERT_TOPIC_NAME
    """Its topic."""
    guarded_key_arns: Sequence[pulumi.Input[str]] = ()
    """The account baseline's keys (trail, alert): their policies stay the bootstrap's too."""
    guarded_bucket_arns: Sequence[pulumi.Input[str]] = ()
    """The account baseline's buckets (the trail's): their policy, versioning and lifecycle too."""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    """Tags of the roles and the boundary."""

    def __post_init__(self) -> None:
        if self.merge_queue_previews and self.stack == "prod":
            raise pulumi.RunError("invalid StackDeliveryArgs.merge_queue_previews = True for stack 'prod': the prod "
                                  "preview never runs pull-request code")


class StackDelivery(pulumi.ComponentResource):
    """A stack's deploy and preview roles and the boundary of every role it creates."""

    deploy_role_arn: pulumi.Output[str]
    """Role of the deploy workflow's job in the stack's environment."""
    preview_role_arn: pulumi.Output[str]
    """Role of the drift check (and merge-queue preview) in the stack's preview environment."""
    boundary_arn: pulumi.Output[str]
    """Permissions boundary every role of the stack carries."""

    def __init__(self, name: str, args: StackDeliveryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:StackDelivery", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        s = args.stack
        boundary = aws.iam.Policy(f"{name}-boundary", name=boundary_name(s), path=stack_path(s),
                                  description=f"Most any role of stack {s} may do: no IAM writes",
                                  policy=json.dumps(boundary_policy()), tags=args.tags, opts=child)
        provider, state = pulumi.Output.from_input(args.provider_arn), pulumi.Output.all(
            args.state_bucket_arn, *args.key_arns)

        def ci_role(purpose: str, role_name: str, description: str, trust: pulumi.Output[dict],
                    managed_policy: str, write: bool) -> aws.iam.Role:
            """A CI role: its trust, one AWS managed policy, and read (or write) access to the stack's state."""
            role = aws.iam.Role(f"{name}-{purpose}", name=role_name, description=description,
                                assume_role_policy=trust.apply(json.dumps), max_session_duration=CI_SESSION_SECONDS,
                                tags=args.tags, opts=child)
            aws.iam.RolePolicyAttachment(f"{name}-{purpose}-{'services' if write else 'read-only'}", role=role.name,
                                         policy_arn=f"arn:aws:iam::aws:policy/{managed_policy}", opts=child)
            aws.iam.RolePolicy(f"{name}-{purpose}-state", role=role.id, policy=state.apply(
                lambda a: json.dumps(state_access(a[0], s, a[1:], write=write))), opts=child)
            return role

        deploy = ci_role("deploy", deploy_role_name(s), f"Deploys stack {s} ({DEPLOY_WORKFLOW} on main)",
                         provider.apply(lambda arn: deploy_trust(arn, args.repository, s, args.first_deploy_role_arns)),
                         "PowerUserAccess", write=True)
        aws.iam.RolePolicy(f"{name}-deploy-iam", role=deploy.id, policy=pulumi.Output.from_input(args.account_id).apply(
            lambda account: json.dumps(deploy_iam_policy(account, args.region, s))), opts=child)
        keys, buckets = [*args.key_arns, *args.guarded_key_arns], list(args.guarded_bucket_arns)
        aws.iam.RolePolicy(f"{name}-deploy-guards", role=deploy.id, policy=pulumi.Output.all(
            args.account_id, *keys, *buckets).apply(lambda a: json.dumps(account_guards_policy(
                a[0], args.alert_rule_name, args.alert_topic_name, a[1:1 + len(keys)], a[1 + len(keys):]))),
            opts=child)
        preview = ci_role("preview", preview_role_name(s), f"Previews and drift checks of stack {s}",
                          provider.apply(lambda arn: preview_trust(arn, args.repository, s, args.merge_queue_previews)),
                          "ReadOnlyAccess", write=False)
        self.deploy_role_arn, self.preview_role_arn, self.boundary_arn = deploy.arn, preview.arn, boundary.arn
        self.register_outputs({"deploy_role_arn": deploy.arn, "preview_role_arn": preview.arn,
                               "boundary_arn": boundary.arn})
