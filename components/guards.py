"""Building blocks every data service uses: a security group that admits one client group on
one port, and a log group encrypted with the service's key."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.encryption import EncryptionKey, EncryptionKeyArgs


def admit_only(name: str, *, vpc_id: pulumi.Input[str], client_security_group_id: pulumi.Input[str],
               port: int, description: str, tags: Mapping[str, str], parent: pulumi.Resource
               ) -> aws.ec2.SecurityGroup:
    """A security group whose only rule admits `port` from one other security group.

    No CIDR anywhere: the earlier design opened databases to the whole VPC. No egress rule
    either: these services answer connections and start none.
    """
    group = aws.ec2.SecurityGroup(
        name, vpc_id=vpc_id, description=description, tags={**tags, "Name": name},
        opts=pulumi.ResourceOptions(parent=parent))
    aws.vpc.SecurityGroupIngressRule(
        f"{name}-clients", security_group_id=group.id, referenced_security_group_id=client_security_group_id,
        ip_protocol="tcp", from_port=port, to_port=port, description=f"{description}: clients only",
        tags={**tags, "Name": f"{name}-clients"}, opts=pulumi.ResourceOptions(parent=parent))
    return group


def encrypted_log_group(name: str, *, log_group_name: str, retention_days: int, key_arn: pulumi.Input[str],
                        tags: Mapping[str, str], parent: pulumi.Resource,
                        region: str | None = None) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        name, name=log_group_name, retention_in_days=retention_days, kms_key_id=key_arn,
        tags={**tags, "Name": name}, region=region, opts=pulumi.ResourceOptions(parent=parent))


def key_with_log_groups(key_name: str, *, description: str, log_groups: Mapping[str, str], retention_days: int,
                        account_id: pulumi.Input[str], region: str, tags: Mapping[str, str], protect: bool,
                        parent: pulumi.Resource, in_region: bool = False
                        ) -> tuple[EncryptionKey, list[aws.cloudwatch.LogGroup]]:
    """A service's CMK, which CloudWatch Logs may use for exactly the named log groups, and
    those groups (resource name -> log group name), created before the service writes to them.
    `in_region`: create key and groups in `region` rather than the stack's."""
    placed = region if in_region else None
    key = EncryptionKey(key_name, EncryptionKeyArgs(
        description=description, account_id=account_id, tags=tags, protect=protect, region=placed,
        service_statements=[docs.cloudwatch_logs_key_statement(region, account_id, list(log_groups.values()))],
    ), opts=pulumi.ResourceOptions(parent=parent))
    groups = [encrypted_log_group(resource_name, log_group_name=group, retention_days=retention_days,
                                  key_arn=key.key_arn, tags=tags, parent=parent, region=placed)
              for resource_name, group in log_groups.items()]
    return key, groups
