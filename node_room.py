"""What a node offers its pods and what every node carries before any of them: the facts the
settings check a database size against (settings.py) and the plan packs pods with
(analyses/packing.py). Each figure names where it was read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

# Instance types a node group may use: CPU architecture (which decides the AL2023 AMI type),
# vCPUs and GiB of memory. Source: AWS EC2 instance type pages. The cost model prices exactly
# this list.
NODE_INSTANCE_SHAPES: Mapping[str, tuple[str, int, int]] = {
    "t3.medium": ("x86_64", 2, 4),
    "t3.large": ("x86_64", 2, 8),
    "t3.xlarge": ("x86_64", 4, 16),
    "t3a.large": ("x86_64", 2, 8),
    "m6i.large": ("x86_64", 2, 8),
    "m6i.xlarge": ("x86_64", 4, 16),
    "m7i.large": ("x86_64", 2, 8),
    "m7i.xlarge": ("x86_64", 4, 16),
    "m7i.2xlarge": ("x86_64", 8, 32),
    "c7i.xlarge": ("x86_64", 4, 8),
    "r7i.large": ("x86_64", 2, 16),
    "t4g.small": ("arm64", 2, 2),
    "t4g.medium": ("arm64", 2, 4),
    "t4g.large": ("arm64", 2, 8),
    "t4g.xlarge": ("arm64", 4, 16),
    "m6g.large": ("arm64", 2, 8),
    "m7g.medium": ("arm64", 1, 4),
    "m7g.large": ("arm64", 2, 8),
    "m7g.xlarge": ("arm64", 4, 16),
    "r7g.medium": ("arm64", 1, 8),
    "r7g.large": ("arm64", 2, 16),
}
# --- What a node offers ------------------------------------------------------------------------------
# Pods a node takes with the VPC CNI (ENIs x (addresses - 1) + 2): awslabs/amazon-eks-ami
# instance-info (formerly eni-max-pods.txt), read at nodeadm v20260724. The limit counts every pod,
# host-network DaemonSets included.
MAX_PODS: Mapping[str, int] = {
    "t3.medium": 17, "t3.large": 35, "t3.xlarge": 58, "t3a.large": 35, "m6i.large": 29, "m6i.xlarge": 58,
    "m7i.large": 29, "m7i.xlarge": 58, "m7i.2xlarge": 58, "c7i.xlarge": 58, "r7i.large": 29,
    "t4g.small": 11, "t4g.medium": 17, "t4g.large": 35, "t4g.xlarge": 58, "m6g.large": 29, "m7g.medium": 8,
    "m7g.large": 29,
    "m7g.xlarge": 58, "r7g.medium": 8, "r7g.large": 29,
}
# What the kubelet keeps back on AL2023 (nodeadm, v20260724): memory 11 MiB a pod slot + 255 MiB,
# the 100 MiB hard eviction threshold; CPU 6% of the first core, 1% of the second, 0.5% of the
# third and fourth, 0.25% of the rest.
EVICTION_MIB = 100


def reserved_cpu_millicores(vcpus: int) -> float:
    steps = [60, 10, 5, 5]
    return sum(steps[:vcpus]) + max(0, vcpus - 4) * 2.5


@dataclasses.dataclass(frozen=True)
class Room:
    """CPU (millicores), memory (MiB) and pod slots."""
    cpu: float
    memory: float
    pods: int

    def __add__(self, other: Room) -> Room:
        return Room(self.cpu + other.cpu, self.memory + other.memory, self.pods + other.pods)

    def __sub__(self, other: Room) -> Room:
        return Room(self.cpu - other.cpu, self.memory - other.memory, self.pods - other.pods)

    def holds(self, demand: Room) -> bool:
        return demand.cpu <= self.cpu and demand.memory <= self.memory and demand.pods <= self.pods

    def shortfall(self, demand: Room) -> str:
        short = [f"{demand.cpu - self.cpu:,.0f}m CPU" if demand.cpu > self.cpu else "",
                 f"{demand.memory - self.memory:,.0f} MiB memory" if demand.memory > self.memory else "",
                 "a pod slot" if demand.pods > self.pods else ""]
        return ", ".join(s for s in short if s)


def allocatable(instance_type: str) -> Room:
    """What a node of `instance_type` offers to pods."""
    _, vcpus, gib = NODE_INSTANCE_SHAPES[instance_type]
    pods = MAX_PODS[instance_type]
    return Room(vcpus * 1000 - reserved_cpu_millicores(vcpus), gib * 1024 - (11 * pods + 255) - EVICTION_MIB, pods)


# --- What every node carries ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DaemonSet:
    cpu: int
    memory: int
    tolerates_taints: bool
    """Whether it tolerates every taint (`operator: Exists`), and so runs on tainted groups too (prod's
    system nodes, the database nodes); one that tolerates none runs on untainted nodes only."""
    source: str


# Requests (millicores, MiB) at the versions the stacks pin. kube-proxy's EKS build was not found
# published: its figure is upstream Kubernetes' (aws/containers-roadmap#1509: no memory request).
DAEMONSETS: Mapping[str, DaemonSet] = {
    "kube-proxy": DaemonSet(100, 0, True, "upstream kube-proxy manifest 100m; aws/containers-roadmap#1509"),
    "aws-node": DaemonSet(50, 0, True, "aws/amazon-vpc-cni-k8s v1.22.4 charts/aws-vpc-cni values.yaml: aws-node "
                          "25m, aws-eks-nodeagent 25m, tolerations Exists"),
    "ebs-csi-node": DaemonSet(30, 104, True, "kubernetes-sigs/aws-ebs-csi-driver helm-chart 2.64.0 values.yaml and "
                              "_node.tpl: ebs-plugin 10m/40Mi, registrar and liveness probe 10m/32Mi, "
                              "tolerateAllTaints"),
    "cloudwatch-agent": DaemonSet(250, 128, True, "aws-observability/helm-charts amazon-cloudwatch-observability-6.4.0 "
                                  "values.yaml agent.resources, root tolerations Exists"),
    "fluent-bit": DaemonSet(50, 25, True, "amazon-cloudwatch-observability-6.4.0 values.yaml "
                            "containerLogs.fluentBit.resources"),
    # GuardDuty Runtime Monitoring with EKS add-on management (bootstrap/baseline.py) installs it on
    # every cluster of the account, with no toleration (aws/containers-roadmap#2520, open, asks for one).
    "aws-guardduty-agent": DaemonSet(200, 256, False, "GuardDuty user guide, \"Configure GuardDuty security agent "
                                     "(add-on) parameters for Amazon EKS\": requests 200m, 256Mi"),
}


def daemonsets_on(tainted: bool) -> Room:
    """What the DaemonSets take on one node of a group with (or without) a NoSchedule taint."""
    landing = [d for d in DAEMONSETS.values() if d.tolerates_taints or not tainted]
    return Room(sum(d.cpu for d in landing), sum(d.memory for d in landing), len(landing))


# The native sidecar plugin-barman-cloud adds to every instance pod of a cluster that names it
# (cloudnative-pg/plugin-barman-cloud v0.13.0 internal/cnpgi/operator/lifecycle.go), with the
# ObjectStore's instanceSidecarConfiguration.resources, which components/timescale.py sets to this
# (unset, it would request nothing and run BestEffort).
BACKUP_SIDECAR = Room(100, 256, 0)


def database_instance_room(instance_type: str) -> Room:
    """What one in-cluster database instance may request on a node of `instance_type`: what the node
    offers, less the backup sidecar and every DaemonSet, those that tolerate no taint included, so
    that the instance still fits the day the GuardDuty agent gains the toleration
    aws/containers-roadmap#2520 asks for (the plan packs the database nodes without it)."""
    return allocatable(instance_type) - daemonsets_on(tainted=False) - BACKUP_SIDECAR
