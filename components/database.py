"""PostgreSQL for EcoMind, on RDS. Whatever engine serves it, dependants see `DatabaseEndpoint`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import (
    check_account_id,
    check_arn,
    check_ids,
    check_log_retention,
    check_name,
    check_region,
    check_tags,
    refuse,
)
from components.guards import admit_only, key_with_log_groups
from components.naming import stack_role
from components.region_copies import CopyRegion
from settings import DatabaseSettings

POSTGRES_PORT = 5432
DATABASE_NAME = "ecomind"
MASTER_USERNAME = "ecomind_admin"
# The services' own role: it logs in with IAM authentication tokens, so it has no password that a
# rotation of the master password could break. The migrations (as the master) create it and its
# grants; the services only read and write data.
APP_USERNAME = "ecomind_app"
# Statements slower than this are logged with their plan inputs; 500 ms is well above the
# api's p99 target and catches missing indexes on the rollup tables.
SLOW_STATEMENT_MS = 500
# Database Insights "standard" keeps 7 days of Performance Insights history at no charge.
# Seconds between Enhanced Monitoring samples: RDS offers 1, 5, 10, 15, 30 or 60; 60 keeps the
# RDSOSMetrics log volume (counted in usageLogGbPerMonth) lowest.
ENHANCED_MONITORING_SECONDS = 60
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
LOG_EXPORTS = ("postgresql", "upgrade", "iam-db-auth-error")
# Low-traffic hours in us-east-1 for the team (UTC); backups must not overlap maintenance.
BACKUP_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"
# RDS CreateDBInstance, DBInstanceIdentifier constraints.
DB_INSTANCE_IDENTIFIER = re.compile(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)")


@dataclasses.dataclass(frozen=True)
class DatabaseEndpoint:
    """What the application and its network policy need, the same for every engine."""

    host: pulumi.Output[str]
    port: int
    database_name: str
    secret_arn: pulumi.Output[str]
    """Secrets Manager secret with `username` and `password` (RDS-managed in RDS mode)."""
    security_group_id: pulumi.Output[str]
    """Security group that admits clients; the cluster's security group is its one source."""
    engine: str
    app_user: str | None = None
    """RDS: the services' own database role, which logs in with IAM database authentication
    (None: the services use `secret_arn`'s credentials)."""
    connect_arn: pulumi.Output[str] | None = None
    """RDS: `rds-db:connect` resource of `app_user` (arn:aws:rds-db:<region>:<account>:dbuser:
    <DbiResourceId>/<user>, RDS user guide, "Creating and using an IAM policy for IAM database access")."""


@dataclasses.dataclass(frozen=True)
class DatabaseRestore:
    """Where a recovery stack's instance comes from: another stack's automated backups, replicated
    to this region (RDS user guide, "Restoring to a specified time from a replicated backup")."""

    backup_arn: str
    """The replicated automated backups (arn:aws:rds:<region>:<account>:auto-backup:ab-...)."""
    key_arn: str
    """The key that encrypts them. RestoreDBInstanceToPointInTime takes no KmsKeyId (its request
    members, botocore's rds model): the restored storage keeps this key, so the instance names it
    rather than a key of its own, which the provider would read as a replacement."""
    point_in_time: str | None = None
    """RFC 3339 UTC time to restore to; None: the latest restorable time."""

    def __post_init__(self) -> None:
        check_arn(self, "backup_arn", "rds", "arn:aws:rds:us-west-2:111122223333:auto-backup:ab-<id>")
        check_arn(self, "key_arn", "kms", "arn:aws:kms:us-west-2:111122223333:key/<id>")
        if self.point_in_time is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z",
                                                                 self.point_in_time):
            refuse(self, "point_in_time", "expected an RFC 3339 time in UTC such as 2026-11-25T09:30:00Z, or None")


@dataclasses.dataclass(frozen=True)
class DatabaseArgs:
    settings: DatabaseSettings
    """The stack's database settings (instance class, storage in GiB, backup and log retention in days)."""
    identifier: str
    """RDS instance identifier; also names its log groups."""
    account_id: pulumi.Input[str]
    """AWS account the key policy and log-group grant are scoped to."""
    region: str
    """Region of the stack, for the CloudWatch Logs grant on the key."""
    vpc_id: pulumi.Input[str]
    """VPC of the security group (`Network.vpc_id`)."""
    data_subnet_ids: Sequence[pulumi.Input[str]]
    """Data subnets of the DB subnet group, one per zone (`Network.data_subnet_ids`)."""
    client_security_group_id: pulumi.Input[str]
    """The one security group admitted on 5432: the cluster's (`Cluster.cluster_security_group_id`)."""
    secrets_key_arn: pulumi.Input[str]
    """CMK for the RDS-managed master credentials secret."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, log groups, security group, subnet and parameter groups and instance."""
    protect: bool = False
    """Prod: `protect` on the key and instance, RDS deletion protection, a final snapshot, automated
    backups kept on deletion and changes held for the maintenance window; the default (dev) has none."""
    copies: CopyRegion | None = None
    """Replicate the automated backups (snapshots and transaction logs) to this region under its key
    for the backup retention (setting drRegion): a point-in-time restore there after a region loss
    (RDS user guide, "Replicating automated backups to another AWS Region"); None: none."""
    backup_window: str = BACKUP_WINDOW
    """Daily backup window, UTC (hh:mm-hh:mm). A stack stopped at night (officeHours) takes it in its
    working day instead: RDS takes no automated backup while an instance is stopped (RDS user guide,
    "Stopping an Amazon RDS DB instance temporarily")."""

    restore: DatabaseRestore | None = None
    """A recovery stack: restore the instance from another stack's replicated backups instead of
    creating an empty one; None: a new database."""
    maintenance_window: str = MAINTENANCE_WINDOW
    """Weekly maintenance window, UTC (ddd:hh:mm-ddd:hh:mm); a stack stopped at night and at weekends
    holds it in its working week, or pending maintenance would wait for a window it never runs in."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z]{3}:\d{2}:\d{2}-[a-z]{3}:\d{2}:\d{2}", str(self.maintenance_window)):
            refuse(self, "maintenance_window", "expected ddd:hh:mm-ddd:hh:mm in UTC, such as sun:04:30-sun:05:30")
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", str(self.backup_window)):
            refuse(self, "backup_window", "expected hh:mm-hh:mm in UTC, such as 03:00-04:00")
        if self.settings.engine != "rds" or self.settings.timescale is not None:
            refuse(self, "settings.engine", "expected rds: the timescaledb engine is TimescaleDatabase")
        check_log_retention(self, "settings.log_retention_days")
        check_name(self, "identifier", DB_INSTANCE_IDENTIFIER,
                   "expected 1 to 63 letters, digits or hyphens, starting with a letter, without a trailing or "
                   "double hyphen (RDS CreateDBInstance)")
        check_account_id(self)
        check_region(self)
        # A DB subnet group needs subnets in at least two zones (RDS user guide, "Working with a DB
        # instance in a VPC").
        check_ids(self, "data_subnet_ids", minimum=2, what="one subnet per zone, at least 2")
        check_arn(self, "secrets_key_arn", "kms", "arn:aws:kms:us-east-1:111122223333:key/<id>")
        check_tags(self)


class Database(pulumi.ComponentResource):
    """RDS for PostgreSQL in the data subnets: private, encrypted, TLS-only, backed up."""

    endpoint: DatabaseEndpoint
    """Host, port, database name, credentials secret and security group."""
    key_arn: pulumi.Output[str]
    """CMK that encrypts storage, snapshots, Performance Insights and the database's logs."""
    ready: list[pulumi.Resource]
    """What the application release must wait for beyond the endpoint's values: nothing on RDS."""
    backups_copy_arn: pulumi.Output[str] | None
    """ARN of the automated backups replicated to the copy region (a recovery stack's
    recoveryDatabaseBackupArn); None without copies."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:data:Database", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        # RDS writes exports to these exact groups; made first, they get retention and the key.
        key, log_groups = key_with_log_groups(
            f"{name}-storage", description=f"Encrypts the {args.identifier} database, its snapshots and logs",
            log_groups={f"{name}-{kind}": f"/aws/rds/instance/{args.identifier}/{kind}" for kind in LOG_EXPORTS},
            retention_days=s.log_retention_days, account_id=args.account_id, region=args.region, tags=args.tags,
            protect=args.protect, parent=self)
        security_group = admit_only(
            f"{name}-sg", vpc_id=args.vpc_id, client_security_group_id=args.client_security_group_id,
            port=POSTGRES_PORT, description="PostgreSQL from EKS nodes and pods", tags=args.tags, parent=self)
        subnets = aws.rds.SubnetGroup(f"{name}-subnets", subnet_ids=list(args.data_subnet_ids),
                                      description=f"Data subnets of {args.identifier}",
                                      tags={**args.tags, "Name": f"{name}-subnets"}, opts=child)
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{s.engine_version}",
            description=f"TLS-only, slow statement logging for {args.identifier}",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1", apply_method="pending-reboot"),
                aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value=str(SLOW_STATEMENT_MS)),
                aws.rds.ParameterGroupParameterArgs(name="shared_preload_libraries",
                                                    value=",".join(s.preload_libraries), apply_method="pending-reboot"),
                aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
                # Every schema change in the log: who altered or dropped what, and when (a review
                # finding: DDL went unlogged; checkov CKV2_AWS_30 asks for statement logging).
                aws.rds.ParameterGroupParameterArgs(name="log_statement", value="ddl"),
                aws.rds.ParameterGroupParameterArgs(name="log_disconnections", value="1"),
            ],
            tags={**args.tags, "Name": f"{name}-params"},
            opts=child,
        )
        # Enhanced Monitoring: OS-level CPU, memory and processes, which CloudWatch's instance
        # metrics do not show (RDS user guide, "Monitoring OS metrics with Enhanced Monitoring").
        # RDS assumes this role for the one instance (aws:SourceArn, confused deputy prevention).
        monitoring = aws.iam.Role(
            f"{name}-monitoring", description=f"Enhanced Monitoring of {args.identifier}",
            **stack_role(args.account_id),
            assume_role_policy=pulumi.Output.json_dumps(docs.service_trust_policy(
                "monitoring.rds.amazonaws.com", args.account_id,
                f"arn:aws:rds:{args.region}:{{account}}:db:{args.identifier}")),
            tags={**args.tags, "Name": f"{name}-monitoring"}, opts=child)
        monitoring_policy = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring", role=monitoring.name,
            policy_arn=docs.managed_policy_arn("service-role/AmazonRDSEnhancedMonitoringRole"), opts=child)
        instance = aws.rds.Instance(
            f"{name}-postgres",
            monitoring_interval=ENHANCED_MONITORING_SECONDS,
            monitoring_role_arn=monitoring.arn,
            identifier=args.identifier,
            engine="postgres",
            engine_version=s.engine_version,
            auto_minor_version_upgrade=True,
            instance_class=s.instance_class,
            storage_type="gp3",
            allocated_storage=s.allocated_storage_gib,
            max_allocated_storage=s.max_allocated_storage_gib,
            storage_encrypted=True,
            kms_key_id=args.restore.key_arn if args.restore else key.key_arn,
            # The restore keeps the source's data, master user and extensions; the provider sets the
            # rest (parameter group, monitoring, the managed master secret) with ModifyDBInstance
            # once the instance is available (terraform-provider-aws, rds instance.go, its
            # restore_to_point_in_time branch): the master gets a new password in a new secret.
            restore_to_point_in_time=aws.rds.InstanceRestoreToPointInTimeArgs(
                source_db_instance_automated_backups_arn=args.restore.backup_arn,
                restore_time=args.restore.point_in_time,
                use_latest_restorable_time=True if args.restore.point_in_time is None else None,
            ) if args.restore else None,
            db_name=DATABASE_NAME,
            username=MASTER_USERNAME,
            # RDS generates the password, keeps it in Secrets Manager under our key and rotates
            # it: it never appears in config, code or Pulumi state.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.secrets_key_arn,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            multi_az=s.multi_az,
            parameter_group_name=parameters.name,
            backup_retention_period=s.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.protect,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=f"{args.identifier}-final" if args.protect else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=key.key_arn,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            database_insights_mode="standard",
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=not args.protect,
            tags={**args.tags, "Name": args.identifier},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect,
                                        depends_on=[*log_groups, monitoring_policy]),
        )
        self.endpoint = DatabaseEndpoint(
            host=instance.address,
            port=POSTGRES_PORT,
            database_name=DATABASE_NAME,
            secret_arn=instance.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn),
            security_group_id=security_group.id,
            engine="rds",
            app_user=APP_USERNAME,
            connect_arn=pulumi.Output.concat("arn:aws:rds-db:", args.region, ":", args.account_id, ":dbuser:",
                                             instance.resource_id, "/", APP_USERNAME),
        )
        self.backups_copy_arn = None
        if args.copies:
            # Created in the destination region (StartDBInstanceAutomatedBackupsReplication is called
            # there), from the source instance's ARN. Its ID is the replicated backups' ARN, what a
            # recovery restores from (terraform-provider-aws, instance_automated_backups_replication.go).
            self.backups_copy_arn = aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backups-{args.copies.region}", source_db_instance_arn=instance.arn,
                kms_key_id=args.copies.key_arn, retention_period=s.backup_retention_days,
                region=args.copies.region, opts=child).id
        self.key_arn = key.key_arn
        self.ready = []
        self.register_outputs({"host": self.endpoint.host, "secret_arn": self.endpoint.secret_arn,
                               "security_group_id": self.endpoint.security_group_id})
