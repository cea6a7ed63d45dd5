"""Availability measured as a user meets it: a CloudWatch Synthetics canary that asks every HTTP
service for its health path through the stack's ALB, and the alarm on its success.

In prod the canary calls https://app.<domain> from AWS's network, outside the VPC; without a
domain (dev) the ALB is internal, so the canary runs in the private subnets and calls the ALB's
own name. Each service is one step of the run (the ALB's header route, components/load_balancer.py
health_requests), so a failing step names the service.

The canary's code is canaries/health/index.js; the program packs it into a zip whose name carries
its content hash: the provider reads `zip_file` as a path and compares only that string, so a
change of content under the same name would never reach AWS (pulumi/pulumi-aws#2022).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_ids, check_log_retention, check_name, check_tags, is_plain, refuse
from components.bucket import SecureBucket, SecureBucketArgs
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.guards import encrypted_log_group
from components.load_balancer import health_requests
from components.monitoring import alarm_name, notifying_alarm
from components.naming import stack_role

SOURCE = Path(__file__).resolve().parent.parent / "canaries" / "health" / "index.js"
# Puppeteer runtimes load the handler from nodejs/node_modules/ in the zip (CloudWatch user guide,
# "Writing a Node.js canary script"; Synthetics API reference, CanaryCodeInput.Handler).
ZIP_ENTRY = "nodejs/node_modules/index.js"
HANDLER = "index.handler"
BUILD_DIR = "build/canaries"
# The newest Node.js Puppeteer runtime seen in the CloudWatch user guide's runtime list
# ("Runtime versions using Node.js and Puppeteer", stored copy read 2026-12-01); its module is
# @aws/synthetics-puppeteer. Not confirmed against `aws synthetics describe-runtime-versions`:
# check before the first up; a runtime AWS has deprecated cannot create a canary.
RUNTIME_VERSION = "syn-nodejs-puppeteer-15.0"
RUNTIME_MODULE = "@aws/synthetics-puppeteer"
# A run asks three paths; each step waits at most the module's default request timeout.
TIMEOUT_SECONDS = 60
MEMORY_MB = 960  # the smallest a canary takes (provider: multiple of 64, at least 960)
# Days Synthetics keeps a run's record; the artifact bucket expires objects after the longer one.
SUCCESS_RETENTION_DAYS = 7
FAILURE_RETENTION_DAYS = 31
# Paged when two runs in a row had a failing step; no run is a failure too.
FAILED_RUNS = 2
# CreateCanary allows 255 characters of [0-9a-z_-], but the Lambda function and its log group
# take the first 21 (`cwsyn-<21>-<uuid>`, Synthetics API reference, DeleteCanary): the role's
# log grant and the key's log condition can only name the group by a prefix that is the whole name.
CANARY_NAME = re.compile(r"[0-9a-z_-]{1,21}")


@dataclasses.dataclass(frozen=True)
class CanaryVpc:
    """Where an in-VPC canary runs and what it calls."""

    vpc_id: pulumi.Input[str]
    """The stack's VPC (`Network.vpc_id`)."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Private subnets (`Network.private_subnet_ids`): the canary's ENIs, egress to S3 and CloudWatch through NAT."""
    load_balancer_security_group_id: pulumi.Input[str]
    """The internal ALB's security group (`ApplicationLoadBalancer.security_group_id`): the only
    place the canary sends HTTP to."""


@dataclasses.dataclass(frozen=True)
class HealthCanaryArgs:
    canary_name: str
    """The canary's name (ecomind-<stack>-health): at most 21 of [0-9a-z_-], see CANARY_NAME."""
    stack: str
    """Stack name: names the alarm (ecomind-<stack>-synthetic-check)."""
    region: str
    """Region of the stack: the canary's, its key's and its log group's."""
    account_id: pulumi.Input[str]
    """The stack's account: the key policy and the role's trust are scoped to it."""
    url: pulumi.Input[str]
    """Where EcoMind answers (`ApplicationLoadBalancer.url`): https://app.<domain>, or the
    internal ALB's http:// name."""
    topic_arn: pulumi.Input[str]
    """The alert topic (`Monitoring.topic_arn`) the alarm notifies."""
    access_log_bucket: pulumi.Input[str]
    """Bucket of the artifact bucket's server access logs (`Storage.logs`)."""
    log_retention_days: int
    """Days the canary's log group keeps its runs' logs (setting logRetentionDays)."""
    tags: Mapping[str, str]
    """Stack tags, on every resource here."""
    interval_minutes: int = 5
    """Minutes between runs (setting canaryIntervalMinutes): the alarm's period, so a page comes
    after two of them."""
    vpc: CanaryVpc | None = None
    """Run inside the VPC (required when `url` is the internal ALB); None runs it in AWS's network."""
    protect: bool = False
    """Pulumi `protect` on the key and the artifact bucket (on in prod)."""

    def __post_init__(self) -> None:
        check_name(self, "canary_name", CANARY_NAME,
                   "expected 1 to 21 lower-case letters, digits, '-' or '_' (a canary's Lambda keeps only 21)")
        check_name(self, "stack", rule="expected the stack name, which names the alarm")
        check_account_id(self)
        check_log_retention(self, "log_retention_days")
        check_tags(self)
        if isinstance(self.interval_minutes, bool) or self.interval_minutes not in range(1, 61):
            refuse(self, "interval_minutes", "expected 1 to 60 minutes (at most an hour: the alarm's period)")
        if is_plain(self.url) and not re.fullmatch(r"https?://[a-z0-9.-]+", str(self.url)):
            refuse(self, "url", "expected http(s)://<host> with no path (ApplicationLoadBalancer.url)")
        if self.vpc is not None:
            if not isinstance(self.vpc, CanaryVpc):
                refuse(self, "vpc", "expected a CanaryVpc or None")
            check_ids(self, "vpc.subnet_ids")


def package(source: Path = SOURCE, build_dir: str = BUILD_DIR) -> str:
    """The canary's zip, relative to the project: the same bytes, and so the same name, for the
    same script (entries dated 1980-01-01, as zip's earliest date)."""
    script = source.read_bytes()
    path = Path(build_dir) / f"health-{hashlib.sha256(script).hexdigest()[:12]}.zip"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = zipfile.ZipInfo(ZIP_ENTRY, date_time=(1980, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16
        partial = path.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(entry, script)
        partial.replace(path)
    return str(path)


def checks() -> list[dict]:
    """The run's steps, one per HTTP service, as the script reads them (ECOMIND_CHECKS)."""
    return [{"name": service, "path": path, "headers": headers}
            for service, (path, headers) in sorted(health_requests().items())]


def function_name(engine_arn: str) -> str:
    """The canary's Lambda function from its engine ARN
    (arn:aws:lambda:<region>:<account>:function:<name>[:<version>])."""
    return engine_arn.split(":")[6]


class HealthCanary(pulumi.ComponentResource):
    """The canary, its encrypted artifacts and logs, its role, and the alarm that pages."""

    alarm_names: list[str]
    """The alarm on the canary's success."""
    canary_name: str
    """The canary (its metrics' CanaryName dimension)."""

    def __init__(self, name: str, args: HealthCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:operations:HealthCanary", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def tagged(resource: str) -> dict[str, str]:
            return {**args.tags, "Name": resource}
        # The Lambda's log group is /aws/lambda/cwsyn-<name>-<uuid>: the key may serve only that.
        log_groups = f"/aws/lambda/cwsyn-{args.canary_name}-*"
        key = EncryptionKey(f"{name}-key", EncryptionKeyArgs(
            description=f"Encrypts the artifacts and logs of the {args.canary_name} canary",
            account_id=args.account_id, tags=args.tags, protect=args.protect, service_statements=[
                docs.cloudwatch_logs_key_statement(args.region, args.account_id, [log_groups], patterns=True)]),
            opts=child)
        artifacts = SecureBucket(f"{name}-artifacts", SecureBucketArgs(
            purpose="canary artifacts", kms_key_arn=key.key_arn, tags=args.tags,
            expire_after_days=FAILURE_RETENTION_DAYS, access_log_bucket=args.access_log_bucket, protect=args.protect),
            opts=child)

        role = aws.iam.Role(
            f"{name}-role", description=f"Runs the {args.canary_name} canary", **stack_role(args.account_id),
            assume_role_policy=json.dumps(docs.documented_service_trust("lambda.amazonaws.com")),
            tags=tagged(f"{name}-role"), opts=child)
        aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=pulumi.Output.json_dumps(docs.canary_policy(
            artifacts.bucket_arn, key.key_arn, log_groups, args.account_id, args.region,
            in_vpc=args.vpc is not None)), opts=child)

        vpc_config, network = None, []
        if args.vpc:
            group = aws.ec2.SecurityGroup(
                f"{name}-sg", vpc_id=args.vpc.vpc_id, description=f"The {args.canary_name} canary",
                tags=tagged(f"{name}-sg"),
                # Lambda's ENIs outlive the canary by up to ~20 minutes after a delete; until they
                # go, deleting the group fails with DependencyViolation (aws/aws-cdk#22282,
                # hashicorp/terraform-provider-aws#37046), which the provider retries this long.
                opts=pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(delete="45m")))
            network = [
                group,
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-to-alb", security_group_id=group.id,
                    referenced_security_group_id=args.vpc.load_balancer_security_group_id, ip_protocol="tcp",
                    from_port=80, to_port=80, description="to the internal ALB", tags=tagged(f"{name}-to-alb"),
                    opts=child),
                aws.vpc.SecurityGroupEgressRule(
                    f"{name}-https-out", security_group_id=group.id, cidr_ipv4="0.0.0.0/0", ip_protocol="tcp",
                    from_port=443, to_port=443, description="HTTPS to S3 and CloudWatch (artifacts, metrics)",
                    tags=tagged(f"{name}-https-out"), opts=child),
            ]
            vpc_config = aws.synthetics.CanaryVpcConfigArgs(subnet_ids=list(args.vpc.subnet_ids),
                                                            security_group_ids=[group.id])

        canary = aws.synthetics.Canary(
            f"{name}-canary", name=args.canary_name, runtime_version=RUNTIME_VERSION, handler=HANDLER,
            zip_file=package(), execution_role_arn=role.arn,
            artifact_s3_location=artifacts.bucket_name.apply(lambda bucket: f"s3://{bucket}/runs/"),
            artifact_config=aws.synthetics.CanaryArtifactConfigArgs(
                s3_encryption=aws.synthetics.CanaryArtifactConfigS3EncryptionArgs(
                    encryption_mode="SSE_KMS", kms_key_arn=key.key_arn)),
            schedule=aws.synthetics.CanaryScheduleArgs(
                expression=f"rate({args.interval_minutes} minute{'s' if args.interval_minutes > 1 else ''})"),
            run_config=aws.synthetics.CanaryRunConfigArgs(
                timeout_in_seconds=TIMEOUT_SECONDS, memory_in_mb=MEMORY_MB, active_tracing=False,
                environment_variables={"ECOMIND_BASE_URL": args.url, "ECOMIND_CHECKS": json.dumps(checks())}),
            # start_canary, as the provider applies it (terraform-provider-aws internal/service/synthetics/
            # canary.go at 008508f): an update of anything but tags stops the canary if the state says it
            # runs, applies, and starts it again only when true; the state's status is what the last read
            # saw (a refresh, or the last update). So in a stack with office hours, an evening `up` that
            # changes the canary starts it for the night (review m2): it fails against the stopped stack
            # with its alarms quiet, and the morning's StartCanary finds it running. false would instead
            # leave a canary changed by a daytime `up` stopped until the next morning, its missing data
            # paging: the lesser harm is kept, knowingly. After a manual refresh at night, a daytime
            # change may skip the stop and wait on the canary's state: refresh it again by day first.
            vpc_config=vpc_config, start_canary=True, delete_lambda=True,
            success_retention_period=SUCCESS_RETENTION_DAYS, failure_retention_period=FAILURE_RETENTION_DAYS,
            tags=tagged(args.canary_name),
            # Its role's policy before its first run; its network before it, so that a destroy
            # removes the canary (and starts its ENIs' release) before the security group.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*network]))
        # Lambda makes the function's group on the first write, with no retention and no key; the
        # role may not create groups, so the stack's group (named once the function exists) is the
        # one the logs land in, and the first run's logs are lost if the run beats it.
        encrypted_log_group(f"{name}-logs", log_group_name=canary.engine_arn.apply(
            lambda arn: f"/aws/lambda/{function_name(arn)}"), retention_days=args.log_retention_days,
            key_arn=key.key_arn, tags=args.tags, parent=self)

        self.canary_name = args.canary_name
        self.alarm_names = []
        alarm = "synthetic-check"
        self.alarm_names.append(alarm_name(args.stack, alarm))
        notifying_alarm(
            f"{name}-alarm", stack=args.stack, alarm=alarm, topic_arn=args.topic_arn, tags=args.tags, opts=child,
            alarm_description=(f"{args.canary_name}: a service's health path failing through the ALB in "
                               f"{FAILED_RUNS} runs in a row, or no run at all (docs/ALARMS.md)"),
            namespace="CloudWatchSynthetics", metric_name="SuccessPercent", dimensions={"CanaryName": canary.name},
            statistic="Minimum", period=args.interval_minutes * 60, evaluation_periods=FAILED_RUNS, threshold=100,
            comparison_operator="LessThanThreshold", treat_missing_data="breaching")
        self.register_outputs({"canary_name": self.canary_name, "alarm_names": self.alarm_names})
