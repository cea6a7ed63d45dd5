"""Budget notifications and the alarms that matter for cost and health, on one encrypted topic."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import (
    check_account_id,
    check_count,
    check_ids,
    check_name,
    check_tags,
    is_list,
    refuse,
)
from components.encryption import EncryptionKey, EncryptionKeyArgs

# Alarm thresholds, each the level at which someone should look before users notice.
CPU_PERCENT = 80          # sustained RDS CPU: queries queue above it
FREE_STORAGE_FRACTION = 0.10  # RDS autoscaling grows storage near 10% free; alarm if it cannot
DISK_USED_PERCENT = 80    # MSK broker data volume: autoscaling targets 60%, so 80% means it lags
MEMORY_PERCENT = 80       # Valkey memory: evictions start near the limit
# NAT bytes per hour above three times the stack's expected hourly average (usageNatGbPerMonth).
NAT_SURGE_FACTOR = 3
# In-cluster database backups: WAL reaches S3 at least every archive_timeout (5 minutes) while
# EcoMind ingests, so two hours without an upload means archiving has stopped; a base backup is
# taken daily, so 26 hours without one means the schedule failed.
WAL_SILENCE_HOURS = 2
BASE_BACKUP_SILENCE_HOURS = 26
HOURS_PER_MONTH = 730
EVALUATION_PERIODS = 3
PERIOD_SECONDS = 300
# The request-metric filters of the in-cluster engine's backup bucket that the backup alarms read.
BACKUP_KINDS = ("wal", "base")


def alarm_name(stack: str, alarm: str) -> str:
    """The physical name of every alarm of a stack: ecomind-<stack>-<alarm>."""
    return f"ecomind-{stack}-{alarm}"


def notifying_alarm(resource_name: str, *, stack: str, alarm: str, topic_arn: pulumi.Input[str],
                    tags: Mapping[str, str], opts: pulumi.ResourceOptions, **settings) -> aws.cloudwatch.MetricAlarm:
    """A metric alarm that tells the alert topic when it goes into ALARM and back to OK."""
    return aws.cloudwatch.MetricAlarm(resource_name, name=alarm_name(stack, alarm), alarm_actions=[topic_arn],
                                      ok_actions=[topic_arn], tags=tags, opts=opts, **settings)


@dataclasses.dataclass(frozen=True)
class MonitoringArgs:
    stack: str
    """Stack name; names the budget and every alarm (ecomind-<stack>-...) and filters the budget by the stack tag."""
    account_id: pulumi.Input[str]
    """AWS account the key and topic policies let AWS Budgets and CloudWatch publish for."""
    region: str
    """Region of the stack; not read here: the topic and alarms are made in the AWS provider's region."""
    thresholds_usd: Sequence[int]
    """Monthly cost alerts in USD, ascending (setting budgetAlertThresholdsUsd); the largest is the budget's limit."""
    alert_email: str | None
    """Address subscribed to the topic (setting alertEmail); None subscribes nobody."""
    database_identifier: str | None
    """The RDS instance to alarm on; None for the in-cluster engine, which has no RDS metrics."""
    database_allocated_gib: int
    """RDS allocated storage in GiB (setting databaseAllocatedStorageGib), the free-storage alarm's base."""
    database_backups: tuple[pulumi.Input[str], Mapping[str, str]] | None
    """In-cluster engine: the backup bucket and its request-metric filters (`wal`, `base`)."""
    kafka_cluster_name: str
    """MSK cluster name, the disk alarms' `Cluster Name` dimension."""
    kafka_brokers: int
    """Number of brokers (`StreamingSettings.broker_count`): one disk alarm per broker ID from 1."""
    cache_group_id: str
    """Valkey replication group ID; node N's alarm dimension is <id>-00N."""
    cache_nodes: int
    """Number of cache nodes (`CacheSettings.node_count`): one memory alarm each."""
    nat_gateway_ids: Sequence[pulumi.Input[str]]
    """NAT gateways (`Network.nat_gateway_ids`): one traffic alarm each."""
    nat_gb_per_month: int
    """Expected NAT traffic in GB a month (setting usageNatGbPerMonth), the traffic alarms' base."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, topic, budget and alarms."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources the alarms wait for (the data services they watch); the default waits for none."""
    budget: bool = True
    """Whether the stack has its AWS Budgets budget. AWS Budgets has one endpoint, in us-east-1
    (budgets.amazonaws.com, signed for us-east-1: botocore endpoints, aws-global), so a recovery
    stack for that region's loss makes none; its cost is priced by make plan instead."""
    protect: bool = False
    """Pulumi `protect` on the alert topic's key (on in prod); the default leaves it deletable."""

    def __post_init__(self) -> None:
        check_name(self, "stack", rule="expected the stack name, which names the budget and alarms")
        check_account_id(self)
        # The budget's limit is the largest threshold: an empty list has none.
        if not is_list(self.thresholds_usd) or not self.thresholds_usd or not all(
                isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in self.thresholds_usd):
            refuse(self, "thresholds_usd", "expected at least one whole number of USD, each 1 or more")
        if self.alert_email is not None and not isinstance(self.alert_email, str):
            refuse(self, "alert_email", "expected an email address, or None")
        if self.alert_email and "@" not in self.alert_email:
            refuse(self, "alert_email", "expected an email address such as platform@example.com, or None")
        # One engine per stack: with neither the database goes unwatched, with both one set of alarms
        # watches something that does not exist.
        if (self.database_identifier is None) == (self.database_backups is None):
            refuse(self, "database_identifier", "expected exactly one of database_identifier (RDS) and "
                   "database_backups (in-cluster engine)")
        if self.database_identifier is not None:
            check_name(self, "database_identifier", rule="expected the RDS instance identifier, or None")
        check_count(self, "database_allocated_gib", unit="GiB")
        if self.database_backups is not None:
            backups = self.database_backups
            filters = backups[1] if isinstance(backups, tuple) and len(backups) == 2 else None
            if not isinstance(filters, Mapping) or any(kind not in filters for kind in BACKUP_KINDS):
                refuse(self, "database_backups", "expected (bucket, filters) with a filter for each of "
                       + ", ".join(BACKUP_KINDS) + " (TimescaleDatabase.backup_metrics)")
        check_name(self, "kafka_cluster_name", rule="expected the MSK cluster name")
        check_count(self, "kafka_brokers", unit="broker")
        check_name(self, "cache_group_id", rule="expected the Valkey replication group ID")
        check_count(self, "cache_nodes", unit="node")
        check_ids(self, "nat_gateway_ids", what="one per NAT gateway, at least 1")
        check_count(self, "nat_gb_per_month", minimum=0, unit="GB")
        check_tags(self)


class Monitoring(pulumi.ComponentResource):
    """An SNS topic (CMK-encrypted) that AWS Budgets and CloudWatch alarms publish to."""

    topic_arn: pulumi.Output[str]
    """Topic every budget notification and alarm publishes to."""
    alarm_names: list[str]
    """Physical names of the data-tier alarms (for the dashboard's alarm widget)."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:operations:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        publishers = ("budgets.amazonaws.com", "cloudwatch.amazonaws.com")
        key = EncryptionKey(f"{name}-alerts", EncryptionKeyArgs(
            description=f"Encrypts the {args.stack} alert topic", account_id=args.account_id, tags=args.tags,
            protect=args.protect,
            service_statements=[docs.publisher_key_statement(publishers, args.account_id)]), opts=child)
        topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.key_arn,
                              tags={**args.tags, "Name": f"{name}-alerts"}, opts=child)
        aws.sns.TopicPolicy(f"{name}-alerts", arn=topic.arn,
                            policy=pulumi.Output.json_dumps(docs.topic_publish_policy(topic.arn, publishers,
                                                                                      args.account_id)), opts=child)
        if args.alert_email:
            aws.sns.TopicSubscription(f"{name}-alerts-email", topic=topic.arn, protocol="email",
                                      endpoint=args.alert_email, opts=child)
        # Costs are filtered by the stack tag every resource carries (activate it as a cost
        # allocation tag once per account, or the budget sees the whole account).
        if args.budget:
            self._budget(name, args, topic, child)

        alarm_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        self.alarm_names = []

        def alarm(alarm: str, description: str, namespace: str, metric: str, dimensions: Mapping,
                  threshold: float, comparison: str = "GreaterThanThreshold", statistic: str = "Average",
                  period: int = PERIOD_SECONDS, periods: int = EVALUATION_PERIODS, missing: str = "missing") -> None:
            self.alarm_names.append(alarm_name(args.stack, alarm))
            notifying_alarm(
                f"{name}-{alarm}", stack=args.stack, alarm=alarm, topic_arn=topic.arn, tags=args.tags,
                opts=alarm_opts, alarm_description=description, namespace=namespace, metric_name=metric,
                dimensions=dict(dimensions), statistic=statistic, period=period, evaluation_periods=periods,
                threshold=threshold, comparison_operator=comparison, treat_missing_data=missing)

        if args.database_identifier:
            db = {"DBInstanceIdentifier": args.database_identifier}
            alarm("rds-cpu", f"Database CPU above {CPU_PERCENT}% for 15 minutes", "AWS/RDS", "CPUUtilization", db,
                  CPU_PERCENT)
            alarm("rds-free-storage", "Database free storage under 10% of its allocation", "AWS/RDS",
                  "FreeStorageSpace", db, args.database_allocated_gib * 1024 ** 3 * FREE_STORAGE_FRACTION,
                  comparison="LessThanThreshold")
        if args.database_backups:
            bucket, filters = args.database_backups
            # S3 publishes request metrics only for hours with requests: no data is the failure.
            for kind, hours, what in (("wal", WAL_SILENCE_HOURS, "No WAL archived"),
                                      ("base", BASE_BACKUP_SILENCE_HOURS, "No base backup uploaded")):
                alarm(f"database-{kind}-backups", f"{what} to S3 for {hours} hours", "AWS/S3", "PutRequests",
                      {"BucketName": bucket, "FilterId": filters[kind]}, 1, comparison="LessThanThreshold",
                      statistic="Sum", period=3600, periods=hours, missing="breaching")
        for broker in range(1, args.kafka_brokers + 1):
            alarm(f"kafka-disk-broker-{broker}", f"Kafka broker {broker} data disk above {DISK_USED_PERCENT}%",
                  "AWS/Kafka", "KafkaDataLogsDiskUsed",
                  {"Cluster Name": args.kafka_cluster_name, "Broker ID": str(broker)}, DISK_USED_PERCENT)
        for node in range(1, args.cache_nodes + 1):
            alarm(f"cache-memory-node-{node}", f"Valkey node {node} memory above {MEMORY_PERCENT}%",
                  "AWS/ElastiCache", "DatabaseMemoryUsagePercentage",
                  {"CacheClusterId": f"{args.cache_group_id}-{node:03d}"}, MEMORY_PERCENT)
        hourly_bytes = args.nat_gb_per_month * 1024 ** 3 / HOURS_PER_MONTH
        for index, nat_id in enumerate(args.nat_gateway_ids):
            alarm(f"nat-bytes-{index + 1}", f"NAT traffic above {NAT_SURGE_FACTOR}x the expected hourly volume",
                  "AWS/NATGateway", "BytesOutToDestination", {"NatGatewayId": nat_id},
                  max(hourly_bytes * NAT_SURGE_FACTOR, 1024 ** 3), statistic="Sum", period=3600)

        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    @staticmethod
    def _budget(name: str, args: MonitoringArgs, topic: aws.sns.Topic, child: pulumi.ResourceOptions) -> None:
        """The monthly cost budget: an alert at each threshold, and when the forecast passes the limit."""
        aws.budgets.Budget(
            f"{name}-monthly-cost",
            name=f"ecomind-{args.stack}-monthly",
            budget_type="COST",
            limit_amount=str(max(args.thresholds_usd)),
            limit_unit="USD",
            time_unit="MONTHLY",
            cost_filters=[aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:stack${args.stack}"])],
            notifications=[aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN", threshold=float(threshold), threshold_type="ABSOLUTE_VALUE",
                notification_type="ACTUAL", subscriber_sns_topic_arns=[topic.arn])
                for threshold in args.thresholds_usd] + [aws.budgets.BudgetNotificationArgs(
                    comparison_operator="GREATER_THAN", threshold=100.0, threshold_type="PERCENTAGE",
                    notification_type="FORECASTED", subscriber_sns_topic_arns=[topic.arn])],
            tags=args.tags,
            opts=child,
        )
