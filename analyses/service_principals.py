"""What each AWS service this project trusts presents when it acts: the confused-deputy condition
keys it sends (`aws:SourceAccount`, `aws:SourceArn`) and the ARN form of the source.

A trust or resource-policy condition on a key the service does not send, or on an ARN of another
form, never matches: AssumeRole is denied, the delivery fails, silently until the first real
run. So every statement whose principal is a service is checked against its row here
(analyses/aws_semantics.py, rule service-conditions), and a service with no row fails the plan
until someone adds one with its source.
"""

from __future__ import annotations

import dataclasses
import re

_REGION = r"[a-z]{2}(-[a-z]+)+-\d"
_ACCOUNT = r"\d{12}"
_NAME = r"[^:/\s]+"


@dataclasses.dataclass(frozen=True)
class ServiceRow:
    source_account: bool
    """It sends aws:SourceAccount (the account of the resource it acts for)."""
    source_arn: str | None
    """The form of the aws:SourceArn it sends (a regular expression over the whole ARN, `*` allowed
    where a policy may use ArnLike), or None: it sends no aws:SourceArn, so a condition on it denies."""
    source: str
    """Where this was read; "unverified" where no AWS page says it and no real run showed it."""
    in_key_policies: ServiceRow | None = None
    """What it sends to KMS instead, where that differs (a key policy's statement is judged by it)."""

    def arn_matches(self, value: str) -> bool:
        if self.source_arn is None:
            return False
        return re.fullmatch(self.source_arn, value) is not None


def _arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
    return (rf"arn:aws:{service}:{_REGION if region else ''}:{_ACCOUNT if account else ''}:" + resource)


SERVICES: dict[str, ServiceRow] = {
    "scheduler.amazonaws.com": ServiceRow(
        True, _arn("scheduler", rf"schedule-group/{_NAME}"),
        "EventBridge Scheduler user guide, \"Set up the execution role\": the confused-deputy example "
        "conditions aws:SourceArn on the schedule GROUP's ARN (arn:aws:scheduler:<region>:<account>:"
        "schedule-group/<group>), not the schedule's"),
    "lambda.amazonaws.com": ServiceRow(
        False, None,
        "Lambda developer guide, \"Defining Lambda function permissions with an execution role\": the "
        "execution role's trust names lambda.amazonaws.com with no condition; Lambda documents no "
        "aws:SourceArn or aws:SourceAccount for assuming it (unverified beyond the guide's silence)"),
    "s3.amazonaws.com": ServiceRow(
        False, None,
        "S3 user guide, \"Setting up permissions for live replication\": the replication role's documented "
        "trust has no condition; no AWS page says S3 sends aws:SourceAccount or aws:SourceArn when it "
        "assumes it (unverified either way), and a condition it does not meet fails replication silently"),
    "vpc-flow-logs.amazonaws.com": ServiceRow(
        True, _arn("ec2", r"vpc-flow-log/(fl-[0-9a-f]+|\*)"),
        "VPC user guide, \"IAM role for publishing flow logs to CloudWatch Logs\" (confused deputy): "
        "aws:SourceArn arn:aws:ec2:<region>:<account>:vpc-flow-log/<flow-log-id>"),
    "monitoring.rds.amazonaws.com": ServiceRow(
        True, _arn("rds", rf"db:({_NAME}|\*)"),
        "RDS user guide, \"Setting up and enabling Enhanced Monitoring\": the role's trust may "
        "condition aws:SourceArn on arn:aws:rds:<region>:<account>:db:<instance> and aws:SourceAccount"),
    "codebuild.amazonaws.com": ServiceRow(
        True, _arn("codebuild", rf"project/({_NAME}|\*)"),
        "CodeBuild user guide, \"Cross-service confused deputy prevention\": aws:SourceArn "
        "arn:aws:codebuild:<region>:<account>:project/<name>"),
    "cloudtrail.amazonaws.com": ServiceRow(
        True, _arn("cloudtrail", rf"trail/{_NAME}"),
        "CloudTrail user guide, \"Amazon S3 bucket policy for CloudTrail\" and \"Configure AWS KMS key "
        "policies for CloudTrail\": aws:SourceArn arn:aws:cloudtrail:<region>:<account>:trail/<name>"),
    "config.amazonaws.com": ServiceRow(
        True, _arn("config", r"\*"),
        "AWS Config developer guide, \"Permissions for the Amazon S3 bucket\" and \"Permissions for the KMS "
        "key\": AWS:SourceAccount, and AWS:SourceArn arn:aws:config:<region>:<account>:*"),
    "delivery.logs.amazonaws.com": ServiceRow(
        True, _arn("logs", r"\*"),
        "CloudWatch Logs user guide, \"Logs sent to Amazon S3\" (vended logs): aws:SourceAccount and "
        "aws:SourceArn arn:aws:logs:<region>:<account>:*"),
    "logging.s3.amazonaws.com": ServiceRow(
        True, r"arn:aws:s3:::[a-z0-9.*-]+",
        "S3 user guide, \"Permissions for log delivery\": aws:SourceAccount and aws:SourceArn of the "
        "SOURCE bucket"),
    "cloudfront.amazonaws.com": ServiceRow(
        True, r"arn:aws:cloudfront::\d{12}:distribution/[A-Z0-9]+",
        "CloudFront developer guide, \"Restrict access to an Amazon S3 origin\" (OAC): AWS:SourceArn "
        "arn:aws:cloudfront::<account>:distribution/<id>"),
    "budgets.amazonaws.com": ServiceRow(
        True, r"arn:aws:budgets::\d{12}:(budget/[^\s]+|\*)",
        "AWS Budgets user guide, \"Creating an Amazon SNS topic for budget notifications\": "
        "aws:SourceAccount and aws:SourceArn arn:aws:budgets::<account>:*"),
    "cloudwatch.amazonaws.com": ServiceRow(
        True, _arn("cloudwatch", r"alarm:[^\s]+"),
        "SNS developer guide, \"Amazon SNS access policy examples\" (CloudWatch alarms): aws:SourceArn "
        "of the alarm and aws:SourceAccount"),
    "events.amazonaws.com": ServiceRow(
        True, _arn("events", r"rule/[^\s]+"),
        "EventBridge user guide, \"Permissions for Amazon SNS\": aws:SourceArn of the rule",
        in_key_policies=ServiceRow(
            False, None,
            "SNS developer guide, \"Configure AWS KMS permissions for AWS services\" (its key policy for "
            "EventBridge has no condition), and AWS's MDAA construct documentation, which cites it: aws:SourceAccount "
            "and aws:SourceArn are not sent in EventBridge's KMS calls for an encrypted topic; every notification "
            "is dropped")),
    "ec2.amazonaws.com": ServiceRow(
        False, None,
        "EC2 user guide, \"IAM roles for Amazon EC2\": the instance role's trust has no condition; EC2 "
        "sends no source keys when an instance profile's role is assumed"),
    "eks.amazonaws.com": ServiceRow(
        True, _arn("eks", rf"cluster/({_NAME}|\*)"),
        "EKS user guide, \"Amazon EKS cluster IAM role\" (confused deputy): aws:SourceArn of the cluster "
        "(arn:aws:eks:<region>:<account>:cluster/<name>) and aws:SourceAccount"),
    "ecr.amazonaws.com": ServiceRow(
        False, None,
        "ECR user guide, \"Repository creation templates\" (IAM role for the template): the role's trust "
        "names ecr.amazonaws.com with no condition"),
}
# CloudWatch Logs in a region encrypts with a key: its principal names the region.
_LOGS = ServiceRow(
    True, _arn("logs", r"log-group:[^\s]+"),
    "CloudWatch Logs user guide, \"Encrypt log data in CloudWatch Logs using AWS KMS\": the key policy "
    "conditions kms:EncryptionContext:aws:logs:arn on the log group's ARN")


def row(service: str, *, key_policy: bool = False) -> ServiceRow | None:
    """The service's row; `key_policy`: as KMS sees it, where that differs."""
    if re.fullmatch(rf"logs\.{_REGION}\.amazonaws\.com", service):
        return _LOGS
    found = SERVICES.get(service)
    return (found.in_key_policies or found) if key_policy and found else found
