"""GitHub Actions runners inside the VPC (CodeBuild-hosted), so CI reaches the private EKS API.

A workflow job with `runs-on: codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}`
runs on a fresh CodeBuild container in the private subnets (docs/adr/0009). The container's
role can only write its logs, attach to the VPC and use the GitHub connection; AWS access for
the job itself still comes from GitHub OIDC roles (bootstrap/).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import (
    check_account_id,
    check_ids,
    check_log_retention,
    check_name,
    check_region,
    check_tags,
    refuse,
)
from components.guards import key_with_log_groups
from components.naming import stack_role

# AWS's managed Amazon Linux 2023 standard image for CodeBuild; it carries the tools the
# workflows use (Python 3.11, Node, make, git).
RUNNER_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
# 4 vCPU / 7 GB: `make test` and a Pulumi update of the whole stack in one job.
RUNNER_COMPUTE = "BUILD_GENERAL1_MEDIUM"
# Longest job: a from-scratch `pulumi up` is planned at about 33 minutes.
RUNNER_TIMEOUT_MINUTES = 90
# CodeBuild CreateProject, name pattern.
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,254}")
# GitHub owner/name, as the source location https://github.com/<owner>/<name>.git takes it.
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# The shape of a CodeConnections (formerly CodeStar Connections) ARN, as githubConnectionArn takes it.
CONNECTION_ARN = re.compile(r"arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}"
                            r":connection/[0-9a-f-]+")


def runner_label_prefix(project_name: str) -> str:
    return f"codebuild-{project_name}"


@dataclasses.dataclass(frozen=True)
class CiRunnersArgs:
    project_name: str
    """CodeBuild project name (<cluster name>-ci); jobs select it in `runs-on`, and it names the log group."""
    repository: str
    """GitHub repository (owner/name, setting githubRepository) whose workflow jobs the runners take."""
    connection_arn: str
    """CodeConnections connection to GitHub (setting githubConnectionArn), the project's source auth."""
    account_id: pulumi.Input[str]
    """AWS account the trust, key and network-interface grants are scoped to."""
    region: str
    """Region of the stack, for the log and network-interface grants."""
    vpc_id: pulumi.Input[str]
    """VPC the runners attach to (`Network.vpc_id`)."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets the runner containers run in (`Network.private_subnet_ids`): egress through NAT."""
    cluster_security_group_id: pulumi.Input[str]
    """Cluster security group (`Cluster.cluster_security_group_id`) that gets an ingress rule on 443
    from the runners, so jobs reach the private EKS API."""
    log_retention_days: int
    """Days CloudWatch keeps the runners' build logs (setting logRetentionDays)."""
    workflow_names: Sequence[str]
    """`name:` of each workflow whose jobs these runners take (deploy and drift; for dev also
    pull-request, whose merge-queue preview runs here)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, log group, security group and its rules, role and project."""
    protect: bool = False
    """Pulumi `protect` on the logs key (on in prod); the default leaves it deletable."""

    def __post_init__(self) -> None:
        check_name(self, "project_name", PROJECT_NAME,
                   "expected 2 to 255 letters, digits, hyphens or underscores, starting with a letter or digit "
                   "(CodeBuild CreateProject)")
        check_name(self, "repository", REPOSITORY, "expected owner/name, such as ecomind/ecomind-infra")
        if not self.workflow_names or not all(isinstance(w, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", w)
                                              for w in self.workflow_names):
            refuse(self, "workflow_names",
                   "expected one or more workflow names of letters, digits, '.', '_' or '-'")
        check_name(self, "connection_arn", CONNECTION_ARN, "expected a CodeConnections ARN such as "
                   "arn:aws:codeconnections:us-east-1:111122223333:connection/<uuid>")
        check_account_id(self)
        check_region(self)
        check_ids(self, "private_subnet_ids")
        check_log_retention(self, "log_retention_days")
        check_tags(self)


class CiRunners(pulumi.ComponentResource):
    """A CodeBuild project that serves GitHub Actions jobs, and the path from it to the EKS API."""

    project_name: str
    """Jobs select it with runs-on: codebuild-<project_name>-<run id>-<attempt>."""

    def __init__(self, name: str, args: CiRunnersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:delivery:CiRunners", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key, [logs] = key_with_log_groups(
            f"{name}-logs", description=f"Encrypts the logs of the {args.project_name} CI runners",
            log_groups={f"{name}-logs": f"/ecomind/{args.project_name}"}, retention_days=args.log_retention_days,
            account_id=args.account_id, region=args.region, tags=args.tags, protect=args.protect, parent=self)
        group = aws.ec2.SecurityGroup(f"{name}-sg", vpc_id=args.vpc_id,
                                      description="GitHub Actions runners (CodeBuild)",
                                      tags={**args.tags, "Name": f"{name}-sg"}, opts=child)
        # HTTPS out only: GitHub, package registries, AWS APIs and the EKS API.
        aws.vpc.SecurityGroupEgressRule(f"{name}-https-out", security_group_id=group.id, cidr_ipv4="0.0.0.0/0",
                                        ip_protocol="tcp", from_port=443, to_port=443,
                                        description="HTTPS to GitHub, registries, AWS and EKS APIs",
                                        tags={**args.tags, "Name": f"{name}-https-out"}, opts=child)
        aws.vpc.SecurityGroupIngressRule(f"{name}-to-eks-api", security_group_id=args.cluster_security_group_id,
                                         referenced_security_group_id=group.id, ip_protocol="tcp", from_port=443,
                                         to_port=443, description="CI runners to the EKS API",
                                         tags={**args.tags, "Name": f"{name}-to-eks-api"}, opts=child)
        role = aws.iam.Role(
            f"{name}-role", description=f"CodeBuild service role of {args.project_name}", **stack_role(args.account_id),
            assume_role_policy=pulumi.Output.json_dumps(docs.service_trust_policy(
                "codebuild.amazonaws.com", args.account_id,
                f"arn:aws:codebuild:{args.region}:{{account}}:project/{args.project_name}")),
            tags={**args.tags, "Name": f"{name}-role"}, opts=child)
        aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=pulumi.Output.json_dumps(docs.ci_runner_policy(
            logs.arn, args.connection_arn, args.private_subnet_ids, args.account_id, args.region)), opts=child)
        project = aws.codebuild.Project(
            f"{name}-project",
            name=args.project_name,
            description=f"GitHub Actions runners for {args.repository} inside the VPC",
            service_role=role.arn,
            build_timeout=RUNNER_TIMEOUT_MINUTES,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER", compute_type=RUNNER_COMPUTE, image=RUNNER_IMAGE,
                image_pull_credentials_type="CODEBUILD", privileged_mode=False),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB", location=f"https://github.com/{args.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=args.connection_arn)),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=list(args.private_subnet_ids), security_group_ids=[group.id]),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(status="ENABLED",
                                                                                  group_name=logs.name)),
            encryption_key=key.key_arn,
            tags={**args.tags, "Name": args.project_name},
            opts=child,
        )
        # Only jobs of the workflows that run on this stack's runners start a build here
        # (CodeBuild user guide, "GitHub webhook events": WORKFLOW_NAME for workflow job events).
        # A workflow's name is read from the file at the job's ref, which a pull request can edit:
        # this keeps stray jobs out of the VPC, while the roles' trust is what keeps credentials out.
        workflows = "|".join(sorted(args.workflow_names))
        aws.codebuild.Webhook(
            f"{name}-webhook", project_name=project.name, build_type="BUILD",
            filter_groups=[aws.codebuild.WebhookFilterGroupArgs(filters=[
                aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern="WORKFLOW_JOB_QUEUED"),
                aws.codebuild.WebhookFilterGroupFilterArgs(type="WORKFLOW_NAME", pattern=f"^({workflows})$")])],
            opts=child)
        self.project_name = args.project_name
        self.register_outputs({"project_name": self.project_name})
