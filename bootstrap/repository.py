"""The repository's side of the trust, as code (pulumi-github): the OIDC subject template the
roles' trust policies expect, and the environments that gate who runs in them.

What only GitHub enforces, and so only a real run can prove: that a job gets the subject of its
own workflow file and ref, that an environment's branch policy stops other refs from using it,
and that prod's reviewers are asked before its job starts (GitHub docs, "Managing environments
for deployment").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_github as github

# What goes into each token's `sub` (GitHub docs, "OpenID Connect reference", customizing the
# subject claims): the repository, the job's context (its environment) and the workflow file
# with its ref. bootstrap/delivery.py builds the subjects the roles trust from the same keys.
SUBJECT_CLAIM_KEYS = ("repo", "context", "job_workflow_ref")
DEPLOY_BRANCHES = ("main",)
# The merge queue's refs, for a stack previewed before merging.
MERGE_QUEUE_BRANCHES = ("gh-readonly-queue/main/*",)


@dataclasses.dataclass(frozen=True)
class RepositoryDeliveryArgs:
    repository: str
    """owner/name of the repository."""
    stacks: Sequence[str]
    """Every stack: each gets a deploy environment `<stack>` and a preview environment `<stack>-preview`."""
    role_arns: Mapping[str, tuple[pulumi.Input[str], pulumi.Input[str]]]
    """(deploy, preview) role ARN per stack; each environment's AWS_ROLE_ARN secret."""
    reviewer_team_ids: Mapping[str, Sequence[int]]
    """GitHub team IDs whose approval a stack's deploy job waits for (prod)."""
    merge_queue_previews: Sequence[str] = ()
    """Stacks the pull-request workflow previews in the merge queue."""
    backend_urls: Mapping[str, pulumi.Input[str]] = dataclasses.field(default_factory=dict)
    """Per stack, the state backend (s3://bucket, in the stack's own account): each of its
    environments' PULUMI_BACKEND_URL secret, so that no job reaches another account's state."""
    subject_template: bool = True
    """Whether to set the repository-wide OIDC subject template: exactly one bootstrap does, since
    the template is one setting of the repository, not of an account."""

    def __post_init__(self) -> None:
        if "/" not in self.repository:
            raise pulumi.RunError(f"invalid RepositoryDeliveryArgs.repository = {self.repository!r}: "
                                  "expected owner/name")


class RepositoryDelivery(pulumi.ComponentResource):
    """OIDC subject template, environments with branch policies and reviewers, role secrets."""

    def __init__(self, name: str, args: RepositoryDeliveryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:bootstrap:RepositoryDelivery", name, None, opts)
        owner, repository = args.repository.split("/", 1)
        provider = github.Provider(f"{name}-github", owner=owner, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        if args.subject_template:
            github.ActionsRepositoryOidcSubjectClaimCustomizationTemplate(
                f"{name}-oidc-subject", repository=repository, use_default=False,
                include_claim_keys=list(SUBJECT_CLAIM_KEYS), opts=child)
        for stack in args.stacks:
            deploy_arn, preview_arn = args.role_arns[stack]
            previews = DEPLOY_BRANCHES + (MERGE_QUEUE_BRANCHES if stack in args.merge_queue_previews else ())
            for environment, branches, role_arn, teams in (
                    (stack, DEPLOY_BRANCHES, deploy_arn, args.reviewer_team_ids.get(stack, ())),
                    (f"{stack}-preview", previews, preview_arn, ())):
                gate = github.RepositoryEnvironment(
                    f"{name}-{environment}", repository=repository, environment=environment,
                    # Only refs the branch policies name may run in it, and nobody bypasses that.
                    deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                        protected_branches=False, custom_branch_policies=True),
                    can_admins_bypass=False,
                    reviewers=[github.RepositoryEnvironmentReviewerArgs(teams=list(teams))] if teams else None,
                    prevent_self_review=bool(teams) or None, opts=child)
                for index, branch in enumerate(branches):
                    github.RepositoryEnvironmentDeploymentPolicy(
                        f"{name}-{environment}-branch-{index}", repository=repository, environment=gate.environment,
                        branch_pattern=branch, opts=child)
                # An environment secret, not a variable: a job sees it only while it runs in that
                # environment, which the branch policies above gate.
                github.ActionsEnvironmentSecret(
                    f"{name}-{environment}-role", repository=repository, environment=gate.environment,
                    secret_name="AWS_ROLE_ARN", plaintext_value=role_arn, opts=child)
                if stack in args.backend_urls:
                    github.ActionsEnvironmentSecret(
                        f"{name}-{environment}-backend", repository=repository, environment=gate.environment,
                        secret_name="PULUMI_BACKEND_URL", plaintext_value=args.backend_urls[stack], opts=child)
        self.register_outputs({})
