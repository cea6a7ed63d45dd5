"""The cache for EcoMind: Valkey on ElastiCache, encrypted, authenticated, failover in prod."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.args import (
    SECRET_PREFIX,
    SECRET_PREFIX_RULE,
    check_account_id,
    check_count,
    check_ids,
    check_log_retention,
    check_name,
    check_region,
    check_tags,
    is_list,
    refuse,
)
from components.guards import admit_only, key_with_log_groups
from components.region_copies import CopyRegion
from components.secrets import rotation_tag, store_secret
from settings import CacheSettings

VALKEY_PORT = 6379
# ElastiCache AUTH tokens are 16 to 128 printable characters; 64 alphanumerics avoid the
# characters it forbids (/ " @) and any escaping in REDIS_URL.
AUTH_TOKEN_LENGTH = 64
SNAPSHOT_WINDOW = "02:00-03:00"
MAINTENANCE_WINDOW = "sun:05:30-sun:06:30"
# ElastiCache CreateReplicationGroup, ReplicationGroupId constraints.
REPLICATION_GROUP_ID = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,39}(?<!-)")


@dataclasses.dataclass(frozen=True)
class CacheArgs:
    settings: CacheSettings
    """The stack's cache settings (engine version, node type and count, snapshot and log retention)."""
    replication_group_id: str
    """ElastiCache replication group ID (the stack's cluster name); also names the slow-log group
    (/ecomind/<id>/slow-log) and, in prod, the final snapshot."""
    account_id: pulumi.Input[str]
    """AWS account the key policy and log-group grant are scoped to."""
    region: str
    """Region of the stack, for the CloudWatch Logs grant on the key."""
    vpc_id: pulumi.Input[str]
    """VPC of the security group (`Network.vpc_id`)."""
    data_subnet_ids: Sequence[pulumi.Input[str]]
    """Data subnets of the subnet group, one per zone (`Network.data_subnet_ids`)."""
    availability_zone_names: Sequence[pulumi.Input[str]]
    """The account's names of the data subnets' zones, in subnet order (ElastiCache places by name)."""
    client_security_group_id: pulumi.Input[str]
    """The one security group admitted on the Valkey port: the cluster's (`Cluster.cluster_security_group_id`)."""
    secrets_key_arn: pulumi.Input[str]
    """CMK of the secret holding endpoint and AUTH token (`ApplicationSecrets.key_arn`)."""
    secret_prefix: str
    """Secrets Manager path the auth secret is named under (ecomind/<stack>/, so <prefix>cache-auth)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, log group, security group, subnet group, replication group and secret."""
    protect: bool = False
    """Prod: `protect` on the key, group and secret, a final snapshot on deletion, changes held for the
    maintenance window and a 30-day secret recovery window; the default (dev) has none of these."""
    copies: CopyRegion | None = None
    """Replicate the auth secret to this region (setting drRegion): a cache rebuilt there needs a
    token, and the release reads it from the secret; None: no replica."""

    def __post_init__(self) -> None:
        check_log_retention(self, "settings.log_retention_days")
        check_count(self, "settings.node_count", unit="node")
        check_name(self, "replication_group_id", REPLICATION_GROUP_ID,
                   "expected 1 to 40 letters, digits or hyphens, starting with a letter, without a trailing "
                   "or double hyphen (ElastiCache CreateReplicationGroup)")
        check_account_id(self)
        check_region(self)
        check_ids(self, "data_subnet_ids")
        # One preferred zone per node: fewer names than nodes leaves ElastiCache to refuse the group.
        if not is_list(self.availability_zone_names) or len(self.availability_zone_names) < self.settings.node_count:
            refuse(self, "availability_zone_names",
                   f"expected a zone name per node, at least settings.node_count ({self.settings.node_count})")
        check_name(self, "secret_prefix", SECRET_PREFIX, SECRET_PREFIX_RULE)
        check_tags(self)


class Cache(pulumi.ComponentResource):
    """A Valkey replication group (cluster mode off: one primary endpoint for REDIS_ADDR)."""

    host: pulumi.Output[str]
    """Primary endpoint address."""
    port: int
    """Port clients connect to (TLS required)."""
    auth_secret_arn: pulumi.Output[str]
    """Secret holding {"host", "port", "token"} for REDIS_ADDR / REDIS_URL."""
    security_group_id: pulumi.Output[str]
    """Security group that admits cache clients."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:data:Cache", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        key, [slow_log] = key_with_log_groups(
            f"{name}-storage", description=f"Encrypts the {args.replication_group_id} cache, its snapshots and logs",
            log_groups={f"{name}-slow-log": f"/ecomind/{args.replication_group_id}/slow-log"},
            retention_days=s.log_retention_days, account_id=args.account_id, region=args.region, tags=args.tags,
            protect=args.protect, parent=self)
        security_group = admit_only(
            f"{name}-sg", vpc_id=args.vpc_id, client_security_group_id=args.client_security_group_id,
            port=VALKEY_PORT, description="Valkey from EKS nodes and pods", tags=args.tags, parent=self)
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets", subnet_ids=list(args.data_subnet_ids),
            description=f"Data subnets of {args.replication_group_id}", tags=args.tags, opts=child)
        # A new generation is a new token (pulumi-random replaces a value when its keepers
        # change). With ROTATE, ElastiCache keeps the previous token valid beside it; with SET,
        # only the current one. The provider sends ModifyReplicationGroup when either the token
        # or the strategy changes (terraform-provider-aws internal/service/elasticache/
        # replication_group.go, HasChanges("auth_token", "auth_token_update_strategy")), so the
        # second step of a rotation, ROTATE -> SET with the same token, is an update of its own.
        token = random.RandomPassword(f"{name}-auth-token", length=AUTH_TOKEN_LENGTH, special=False,
                                      keepers={"generation": str(s.auth_token_generation)}, opts=child)
        failover = s.node_count > 1
        group = aws.elasticache.ReplicationGroup(
            f"{name}-valkey",
            replication_group_id=args.replication_group_id,
            description=f"EcoMind rate limits and sessions ({args.replication_group_id})",
            engine="valkey",
            engine_version=s.engine_version,
            node_type=s.node_type,
            port=VALKEY_PORT,
            num_cache_clusters=s.node_count,
            preferred_cache_cluster_azs=list(args.availability_zone_names[:s.node_count]),
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            subnet_group_name=subnets.name,
            security_group_ids=[security_group.id],
            at_rest_encryption_enabled=True,
            kms_key_id=key.key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=token.result,
            auth_token_update_strategy=s.auth_token_strategy,
            snapshot_retention_limit=s.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            final_snapshot_identifier=f"{args.replication_group_id}-final" if args.protect else None,
            maintenance_window=MAINTENANCE_WINDOW,
            auto_minor_version_upgrade=True,
            apply_immediately=not args.protect,
            log_delivery_configurations=[aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgs(
                destination=slow_log.name, destination_type="cloudwatch-logs", log_format="json",
                log_type="slow-log")],
            tags={**args.tags, "Name": args.replication_group_id},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.host = group.primary_endpoint_address
        self.port = VALKEY_PORT
        self.security_group_id = security_group.id
        connection = pulumi.Output.json_dumps({"host": group.primary_endpoint_address, "port": VALKEY_PORT,
                                               "token": token.result})
        self.auth_secret_arn = store_secret(
            f"{name}-auth", f"{args.secret_prefix}cache-auth", "Valkey endpoint and AUTH token", connection,
            key_arn=args.secrets_key_arn, tags=args.tags, protect=args.protect, parent=self,
            rotation=rotation_tag("rotate-then-set", "make rotate-secret SECRET=cache"), copies=args.copies)
        self.register_outputs({"host": self.host, "auth_secret_arn": self.auth_secret_arn,
                               "security_group_id": self.security_group_id})
