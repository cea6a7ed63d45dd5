"""IAM and KMS policy documents as data.

Every function returns a plain dict (or an Output of one) so that tests can read the exact
statements, and components pass them through `pulumi.Output.json_dumps`. Each grant names
the exact ARNs it covers; no function here emits a `*` action.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

# Every region this project supports is in the commercial partition (settings.REGION_AVAILABILITY_ZONES).
PARTITION = "aws"

Document = dict[str, Any]


def document(*statements: Any) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust_policy(service: str, account_id: pulumi.Input[str]) -> pulumi.Output[Document]:
    """Lets one AWS service assume a role, only on behalf of this account (confused deputy guard)."""
    return pulumi.Output.from_input(account_id).apply(lambda account: document({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }))


def ec2_trust_policy() -> Document:
    """Node instance roles: EC2 assumes them for the instance profile (no SourceAccount on EC2)."""
    return document({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})


def irsa_trust_policy(provider_arn: pulumi.Input[str], issuer: pulumi.Input[str],
                      namespace: str, service_account: str) -> pulumi.Output[Document]:
    """Trust for exactly one Kubernetes service account through the cluster's OIDC provider.

    `issuer` is the provider URL without `https://`. Both `sub` and `aud` are pinned with
    StringEquals: a StringLike or a missing `aud` would let other service accounts or
    audiences assume the role.
    """
    def build(args: list[str]) -> Document:
        arn, host = args
        host = host.removeprefix("https://")
        return document({
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{host}:aud": "sts.amazonaws.com",
            }},
        })
    return pulumi.Output.all(provider_arn, issuer).apply(build)


def key_policy(account_id: pulumi.Input[str],
               service_statements: Sequence[pulumi.Input[Document | list[Document]]] = ()
               ) -> pulumi.Output[Document]:
    """A CMK policy: the account administers the key through IAM, plus named service grants.

    The account-root statement is what lets IAM policies (and the deploying role) manage the
    key at all; without it a key can become unmanageable. Services get only the statements
    passed in (each a statement or a list of them).
    """
    def build(args: list[Any]) -> Document:
        account, *grants = args
        services = [s for grant in grants for s in (grant if isinstance(grant, list) else [grant])]
        return document({
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{PARTITION}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }, *services)
    return pulumi.Output.all(account_id, *service_statements).apply(build)


def cloudwatch_logs_key_statement(region: str, account_id: pulumi.Input[str],
                                  log_group_names: Sequence[str]) -> pulumi.Output[Document]:
    """CloudWatch Logs may use the key only for the named log groups (encryption context)."""
    def build(account: str) -> Document:
        return {
            "Sid": "CloudWatchLogsEncryptsNamedLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                       "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
                f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}" for name in log_group_names
            ]}},
        }
    return pulumi.Output.from_input(account_id).apply(build)


def autoscaling_volume_key_statements(account_id: pulumi.Input[str]) -> pulumi.Output[list[Document]]:
    """Managed node groups launch through EC2 Auto Scaling, whose service-linked role must be
    able to use the CMK for the encrypted root volumes (AWS EBS encryption docs); grants only
    for AWS resources."""
    def build(account: str) -> list[Document]:
        role = (f"arn:{PARTITION}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/"
                "AWSServiceRoleForAutoScaling")
        return [{
            "Sid": "AutoScalingUsesKeyForNodeVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                       "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
            "Resource": "*",
        }, {
            "Sid": "AutoScalingGrantsForAttachedVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        }]
    return pulumi.Output.from_input(account_id).apply(build)


def log_delivery_policy(log_group_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """VPC flow logs write streams into one log group and nothing else."""
    return pulumi.Output.from_input(log_group_arn).apply(lambda arn: document({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [arn, f"{arn}:log-stream:*"],
    }))


def ebs_volume_key_policy(key_arn: pulumi.Input[str]) -> pulumi.Output[Document]:
    """What the EBS CSI driver needs to create and attach volumes encrypted with one CMK
    (aws-ebs-csi-driver docs, "KMS encryption")."""
    return pulumi.Output.from_input(key_arn).apply(lambda arn: document({
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        "Resource": arn,
        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    }, {
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                   "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
        "Resource": arn,
    }))


def managed_policy_arn(name: str) -> str:
    return f"arn:{PARTITION}:iam::aws:policy/{name}"
