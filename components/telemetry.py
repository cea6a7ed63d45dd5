"""What the cluster and its pods do, in CloudWatch: the amazon-cloudwatch-observability EKS
add-on (Container Insights with enhanced observability, Fluent Bit container logs) with its own
IRSA role and the stack's encrypted log groups, and the alarms that read its metrics.

docs/adr/0016 compares it with ADOT and Amazon Managed Service for Prometheus. What the add-on
does is read in its Helm chart, aws-observability/helm-charts
charts/amazon-cloudwatch-observability at tag amazon-cloudwatch-observability-6.4.0 (f4ad2e3;
"the add-on and the Helm chart use the same configuration values", CloudWatch user guide,
"Configure the CloudWatch Observability EKS add-on"), and in the agent's metric declarations,
aws/amazon-cloudwatch-agent translator/translate/otel/exporter/awsemf/kubernetes.go (ab55b8d).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_count, check_log_retention, check_name, check_tags, refuse
from components.guards import key_with_log_groups
from components.irsa import OidcProvider, irsa_role_for
from components.monitoring import alarm_name, notifying_alarm

ADDON = "amazon-cloudwatch-observability"
# The add-on's namespace, and the one service account both the agent and Fluent Bit run as
# (templates/linux/fluent-bit-daemonset.yaml serviceAccountName, _helpers.tpl
# cloudwatch-agent.serviceAccountName at 6.4.0): the role trusts exactly that account.
NAMESPACE = "amazon-cloudwatch"
SERVICE_ACCOUNT = "cloudwatch-agent"
# Fluent Bit writes application, dataplane and host logs (values.yaml containerLogs.fluentBit.config
# at 6.4.0), the agent its EMF performance events, from which CloudWatch makes the ContainerInsights
# metrics (awsemf_default_kubernetes.yaml). Both create a group only when it is missing and set no
# retention or key on one that exists, so the stack makes them first, encrypted and with retention.
LOG_KINDS = ("application", "dataplane", "host", "performance")
# Configuration sent whole (the add-on resets every key it is not sent, CloudWatch user guide):
# container logs on; Application Signals off, since from chart 5.0.0 it would inject an SDK into
# every Java, Python, .NET and Node.js pod on its next restart and bill its traces (values.yaml
# applicationSignals, manager.applicationSignals.autoMonitor at 6.4.0); no GPU or Neuron exporters
# on nodes that have neither. `agent.config` is left out: the chart's generated config is the one
# with enhanced_container_insights on (_helpers.tpl cloudwatch-agent.build-default-config).
# The add-on's own schema decides what it takes, not the chart's values: no public copy of the
# v6.4.0-eksbuild.1 schema was found, so each key sent is one recorded add-on configurations were
# applied with (analyses/aws_semantics.py ADDON_CONFIGURATION_KEYS, rule addon-configuration);
# `aws eks describe-addon-configuration` confirms them before a first up.
CONFIGURATION = {
    "containerLogs": {"enabled": True},
    "applicationSignals": {"enabled": False},
    "dcgmExporter": {"enabled": False},
    "neuronMonitor": {"enabled": False},
}

# Alarms on Container Insights metrics (namespace ContainerInsights). PodName there is the
# workload's name (a Deployment's, for its ReplicaSets' pods; podstore.go addPodOwnersAndPodName in
# amazon-contributing/opentelemetry-collector-contrib at 12c3465), so one alarm covers every pod
# of a Deployment.
METRICS_NAMESPACE = "ContainerInsights"
PERIOD_SECONDS = 300
# pod_number_of_container_restarts is the restarts since the previous collection (a delta), so
# its Sum is the restarts in the period. A crash loop restarts at back-off 10 s doubling to 5 min
# (kubelet), so more than RESTARTS_PER_15_MINUTES in 15 minutes is a loop, not a one-off OOM.
RESTARTS_PER_15_MINUTES = 2
RESTART_PERIOD_SECONDS = 900
# status_replicas_unavailable (Deployment status.unavailableReplicas) above 0 through the whole of
# each of 3 periods: a pod not ready for 15 minutes, whether pending (no node fits: the groups are
# at their maximum) or failing readiness. A rollout's surge pods are not counted until they exist,
# and an HPA scale-up's new pods are ready within a few minutes.
UNAVAILABLE_PERIODS = 3
# All nodes the groups may hold, for 3 periods: the autoscaler has nothing left to add. EKS
# managed node groups publish no Auto Scaling group metrics (aws/containers-roadmap#762), and
# Container Insights counts nodes per cluster only (cluster_node_count: [ClusterName]).
AT_CAPACITY_PERIODS = 3


@dataclasses.dataclass(frozen=True)
class ClusterTelemetryArgs:
    stack: str
    """Stack name: names the alarms (ecomind-<stack>-...)."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster (`Cluster.cluster_name`) the add-on is installed on."""
    cluster_name_literal: str
    """The same name as a plain string: the log groups and the metrics' ClusterName carry it."""
    addon_version: str
    """The add-on build for the cluster's Kubernetes version (settings ADDON_VERSIONS)."""
    oidc: OidcProvider
    """The cluster's OIDC provider, which the agent's role trusts."""
    region: str
    """Region of the stack: the log groups' and their key's."""
    account_id: pulumi.Input[str]
    """The stack's account."""
    log_retention_days: int
    """Days the container, dataplane, host and performance logs are kept (setting logRetentionDays)."""
    topic_arn: pulumi.Input[str]
    """The alert topic (`Monitoring.topic_arn`) every alarm notifies."""
    namespace: str
    """Namespace of the EcoMind workloads (components/release.py NAMESPACE)."""
    workloads: Sequence[str]
    """Deployment names of the EcoMind services (ecomind-gateway, ...): one restart and one
    unavailable alarm each."""
    node_capacity: int
    """The most nodes the node groups may hold together (sum of their maximum sizes)."""
    tags: Mapping[str, str]
    """Stack tags, on every resource here."""
    workloads_ready: Sequence[pulumi.Resource] = ()
    """The node groups (`Cluster.workloads_ready`): the add-on's pods need nodes to become healthy;
    and the load balancer controller (`ClusterServices.webhooks_ready`), whose fail-closed Service
    webhook must serve before the add-on creates its webhook and agent Services."""
    protect: bool = False
    """Pulumi `protect` on the logs key (on in prod)."""

    def __post_init__(self) -> None:
        check_name(self, "stack", rule="expected the stack name, which names the alarms")
        check_name(self, "cluster_name_literal", rule="expected the cluster's name")
        if not isinstance(self.addon_version, str) or not self.addon_version.startswith("v"):
            refuse(self, "addon_version", f"expected an {ADDON} build such as v6.4.0-eksbuild.1")
        check_account_id(self)
        check_log_retention(self, "log_retention_days")
        check_name(self, "namespace", rule="expected the EcoMind namespace")
        if not self.workloads or not all(isinstance(w, str) and w for w in self.workloads):
            refuse(self, "workloads", "expected the EcoMind Deployment names")
        check_count(self, "node_capacity", unit="node")
        check_tags(self)


def log_group_names(cluster: str) -> dict[str, str]:
    return {kind: f"/aws/containerinsights/{cluster}/{kind}" for kind in LOG_KINDS}


class ClusterTelemetry(pulumi.ComponentResource):
    """Container Insights and container logs, and alarms on pods and nodes."""

    alarm_names: list[str]
    """Every alarm here (each notifies the topic)."""
    addon_name: str
    """The EKS add-on's name."""

    def __init__(self, name: str, args: ClusterTelemetryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:operations:ClusterTelemetry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        groups = log_group_names(args.cluster_name_literal)
        _, log_groups = key_with_log_groups(
            f"{name}-logs", description=f"Encrypts the container, node and performance logs of "
            f"{args.cluster_name_literal}", log_groups={f"{name}-{kind}": group for kind, group in groups.items()},
            retention_days=args.log_retention_days, account_id=args.account_id, region=args.region, tags=args.tags,
            protect=args.protect, parent=self)
        role = irsa_role_for(
            f"{name}-agent", args.oidc, NAMESPACE, SERVICE_ACCOUNT, tags=args.tags, opts=child,
            inline_policies={"container-insights": docs.container_insights_policy(
                [group.arn for group in log_groups])})
        addon = aws.eks.Addon(
            f"{name}-addon", cluster_name=args.cluster_name, addon_name=ADDON, addon_version=args.addon_version,
            service_account_role_arn=role.role_arn, configuration_values=json.dumps(CONFIGURATION, sort_keys=True),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE", tags=args.tags,
            # Its DaemonSets and operator need nodes; its writers need the groups to exist first,
            # or they make their own, unencrypted and kept forever.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.workloads_ready, *log_groups]))
        self.addon_name = ADDON

        self.alarm_names = []

        def alarm(alarm: str, description: str, **settings) -> None:
            self.alarm_names.append(alarm_name(args.stack, alarm))
            notifying_alarm(f"{name}-{alarm}", stack=args.stack, alarm=alarm, topic_arn=args.topic_arn,
                            tags=args.tags, opts=pulumi.ResourceOptions(parent=self, depends_on=[addon]),
                            alarm_description=description, namespace=METRICS_NAMESPACE, **settings)

        for workload in args.workloads:
            dimensions = {"ClusterName": args.cluster_name_literal, "Namespace": args.namespace, "PodName": workload}
            alarm(f"{workload}-restarts",
                  f"{workload}: more than {RESTARTS_PER_15_MINUTES} container restarts in 15 minutes, a crash loop "
                  "(docs/ALARMS.md)",
                  metric_name="pod_number_of_container_restarts", dimensions=dimensions, statistic="Sum",
                  period=RESTART_PERIOD_SECONDS, evaluation_periods=1, threshold=RESTARTS_PER_15_MINUTES,
                  comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
            alarm(f"{workload}-unavailable",
                  f"{workload}: a replica not ready for {UNAVAILABLE_PERIODS * PERIOD_SECONDS // 60} minutes, pending "
                  "or failing readiness (docs/ALARMS.md)",
                  metric_name="status_replicas_unavailable", dimensions=dimensions, statistic="Minimum",
                  period=PERIOD_SECONDS, evaluation_periods=UNAVAILABLE_PERIODS, threshold=0,
                  comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching")
        alarm("nodes-at-capacity",
              f"the cluster has held all {args.node_capacity} nodes its groups allow for "
              f"{AT_CAPACITY_PERIODS * PERIOD_SECONDS // 60} minutes: the autoscaler can add none (docs/ALARMS.md)",
              metric_name="cluster_node_count", dimensions={"ClusterName": args.cluster_name_literal},
              statistic="Minimum", period=PERIOD_SECONDS, evaluation_periods=AT_CAPACITY_PERIODS,
              threshold=args.node_capacity, comparison_operator="GreaterThanOrEqualToThreshold",
              treat_missing_data="notBreaching")
        self.register_outputs({"addon_name": self.addon_name, "alarm_names": self.alarm_names})
