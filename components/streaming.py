"""Kafka for EcoMind on MSK (provisioned): IAM-authenticated, TLS everywhere, one broker per zone."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.args import (
    check_account_id,
    check_ids,
    check_log_retention,
    check_name,
    check_region,
    check_tags,
    refuse,
)
from components.guards import admit_only, key_with_log_groups
from settings import StreamingSettings

# MSK's listener for IAM-authenticated clients over TLS (MSK "Port information").
KAFKA_IAM_PORT = 9098
# The topics ../shared/ecomind-app.md names: the gateway produces raw events, the worker
# turns them into enriched ones. Both are keyed by org_id.
TOPICS = ("events.raw", "events.enriched")
CONSUMER_GROUP = "ecomind-worker"
# Grow broker volumes when they are 60% full (MSK storage auto scaling recommends 50-60%),
# leaving room for a day of peak ingest before the next scaling step.
STORAGE_TARGET_UTILISATION = 60
# Seven days of events lets the worker replay a week after a bad release.
TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000
# MSK CreateCluster, ClusterName: 1 to 64 letters, digits or hyphens.
CLUSTER_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,63}")


def server_properties(s: StreamingSettings) -> str:
    """The cluster configuration: nothing is created implicitly, every write is acknowledged by
    `min.insync.replicas` brokers, and an out-of-sync replica never becomes leader."""
    return "\n".join([
        "auto.create.topics.enable=false",
        f"default.replication.factor={s.replication_factor}",
        f"min.insync.replicas={s.min_insync_replicas}",
        "unclean.leader.election.enable=false",
        f"num.partitions={s.topic_partitions}",
        "allow.everyone.if.no.acl.found=false",
    ]) + "\n"


@dataclasses.dataclass(frozen=True)
class StreamingArgs:
    settings: StreamingSettings
    """The stack's Kafka settings: version, broker type and count, storage in GiB, partitions, replication."""
    cluster_name: str
    """MSK cluster name (the stack's cluster name); also names its configuration and broker-log group."""
    account_id: pulumi.Input[str]
    """AWS account the key policy and log-group grant are scoped to."""
    region: str
    """Region of the stack, for the CloudWatch Logs grant on the key."""
    vpc_id: pulumi.Input[str]
    """VPC of the security group (`Network.vpc_id`)."""
    data_subnet_ids: Sequence[pulumi.Input[str]]
    """Data subnets the brokers are spread over, one per zone (`Network.data_subnet_ids`)."""
    client_security_group_id: pulumi.Input[str]
    """The one security group admitted on the IAM port 9098: the cluster's (`Cluster.cluster_security_group_id`)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key, log group, security group and cluster."""
    protect: bool = False
    """Pulumi `protect` on the key, the cluster and its topics (on in prod); the default leaves them deletable."""

    def __post_init__(self) -> None:
        s = self.settings
        check_log_retention(self, "settings.log_retention_days")
        # Kafka refuses a topic with more replicas than brokers, and with min.insync.replicas above
        # the replication factor no write is ever acknowledged.
        if not 1 <= s.min_insync_replicas <= s.replication_factor <= s.broker_count:
            refuse(self, "settings.replication_factor", f"expected between min_insync_replicas "
                   f"({s.min_insync_replicas}) and broker_count ({s.broker_count})")
        check_name(self, "cluster_name", CLUSTER_NAME,
                   "expected 1 to 64 letters, digits or hyphens, starting with a letter or digit (MSK cluster names)")
        check_account_id(self)
        check_region(self)
        # MSK wants client subnets in at least two zones and the same number of brokers in each
        # (MSK CreateCluster: the broker count must be a multiple of the client subnets' zones).
        check_ids(self, "data_subnet_ids", minimum=2, what="one subnet per zone, at least 2")
        if s.broker_count % len(self.data_subnet_ids):
            refuse(self, "data_subnet_ids", f"expected a number of subnets that divides settings.broker_count "
                   f"({s.broker_count}): MSK places the same number of brokers in each zone")
        check_tags(self)


class Streaming(pulumi.ComponentResource):
    """An MSK cluster in the data subnets with EcoMind's topics."""

    bootstrap_brokers: pulumi.Output[str]
    """Comma-separated broker addresses for IAM clients (port 9098), KAFKA_BROKERS for the app."""
    cluster_arn: pulumi.Output[str]
    """ARN of the cluster; topic and group ARNs derive from it."""
    security_group_id: pulumi.Output[str]
    """Security group that admits Kafka clients."""

    def __init__(self, name: str, args: StreamingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:data:Streaming", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        key, [logs] = key_with_log_groups(
            f"{name}-storage", description=f"Encrypts the {args.cluster_name} brokers' volumes and logs",
            log_groups={f"{name}-broker-logs": f"/ecomind/{args.cluster_name}/broker-logs"},
            retention_days=s.log_retention_days, account_id=args.account_id, region=args.region, tags=args.tags,
            protect=args.protect, parent=self)
        security_group = admit_only(
            f"{name}-sg", vpc_id=args.vpc_id, client_security_group_id=args.client_security_group_id,
            port=KAFKA_IAM_PORT, description="Kafka (IAM over TLS) from EKS nodes and pods", tags=args.tags,
            parent=self)
        configuration = aws.msk.Configuration(
            f"{name}-config", name=f"{args.cluster_name}-config", kafka_versions=[s.kafka_version],
            description=f"Broker settings of {args.cluster_name}", server_properties=server_properties(s), opts=child)
        cluster = aws.msk.Cluster(
            f"{name}-kafka",
            cluster_name=args.cluster_name,
            kafka_version=s.kafka_version,
            number_of_broker_nodes=s.broker_count,
            broker_node_group_info=aws.msk.ClusterBrokerNodeGroupInfoArgs(
                instance_type=s.broker_instance_type,
                client_subnets=list(args.data_subnet_ids),
                security_groups=[security_group.id],
                storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoArgs(
                    ebs_storage_info=aws.msk.ClusterBrokerNodeGroupInfoStorageInfoEbsStorageInfoArgs(
                        volume_size=s.storage_gib)),
                connectivity_info=aws.msk.ClusterBrokerNodeGroupInfoConnectivityInfoArgs(
                    public_access=aws.msk.ClusterBrokerNodeGroupInfoConnectivityInfoPublicAccessArgs(
                        type="DISABLED")),
            ),
            # IAM through IRSA: no shared password, and each service is allowed its own topics.
            client_authentication=aws.msk.ClusterClientAuthenticationArgs(
                sasl=aws.msk.ClusterClientAuthenticationSaslArgs(iam=True, scram=False),
                unauthenticated=False,
            ),
            encryption_info=aws.msk.ClusterEncryptionInfoArgs(
                encryption_at_rest_kms_key_arn=key.key_arn,
                encryption_in_transit=aws.msk.ClusterEncryptionInfoEncryptionInTransitArgs(
                    client_broker="TLS", in_cluster=True),
            ),
            configuration_info=aws.msk.ClusterConfigurationInfoArgs(
                arn=configuration.arn, revision=configuration.latest_revision),
            logging_info=aws.msk.ClusterLoggingInfoArgs(broker_logs=aws.msk.ClusterLoggingInfoBrokerLogsArgs(
                cloudwatch_logs=aws.msk.ClusterLoggingInfoBrokerLogsCloudwatchLogsArgs(
                    enabled=True, log_group=logs.name))),
            open_monitoring=aws.msk.ClusterOpenMonitoringArgs(prometheus=aws.msk.ClusterOpenMonitoringPrometheusArgs(
                jmx_exporter=aws.msk.ClusterOpenMonitoringPrometheusJmxExporterArgs(enabled_in_broker=True),
                node_exporter=aws.msk.ClusterOpenMonitoringPrometheusNodeExporterArgs(enabled_in_broker=True))),
            enhanced_monitoring="PER_BROKER",
            tags={**args.tags, "Name": args.cluster_name},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        scaling = aws.appautoscaling.Target(
            f"{name}-storage-scaling", service_namespace="kafka", scalable_dimension="kafka:broker-storage:VolumeSize",
            resource_id=cluster.arn, min_capacity=1, max_capacity=s.storage_max_gib, opts=child)
        aws.appautoscaling.Policy(
            f"{name}-storage-scaling", policy_type="TargetTrackingScaling", service_namespace=scaling.service_namespace,
            scalable_dimension=scaling.scalable_dimension, resource_id=scaling.resource_id,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=STORAGE_TARGET_UTILISATION,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="KafkaBrokerStorageUtilization"),
                disable_scale_in=True,  # MSK volumes cannot shrink
            ),
            opts=child)
        for topic in TOPICS:
            aws.msk.Topic(
                f"{name}-{topic.replace('.', '-')}", cluster_arn=cluster.arn, name=topic,
                partition_count=s.topic_partitions, replication_factor=s.replication_factor,
                configs=json.dumps({"retention.ms": str(TOPIC_RETENTION_MS), "cleanup.policy": "delete",
                                    "min.insync.replicas": str(s.min_insync_replicas)}),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect))

        self.bootstrap_brokers = cluster.bootstrap_brokers_sasl_iam
        self.cluster_arn = cluster.arn
        self.security_group_id = security_group.id
        self.register_outputs({"bootstrap_brokers": self.bootstrap_brokers, "cluster_arn": self.cluster_arn,
                               "security_group_id": self.security_group_id})
