"""Every stack setting, declared once: name, type, description and default.

`SETTINGS` is the registry. `Pulumi.yaml`'s `config:` block and the README's configuration
reference are checked against it by the test suite, so the three cannot drift.

Pulumi gives a project-level key one default for every stack. The defaults here are the
production-grade ones (highly available, private, long retention): a stack that wants to be
cheaper opts out in its own `Pulumi.<stack>.yaml`, and `describe_opt_outs` lists every such
opt-out so the plan prints it. Rules that depend on the environment (what prod refuses
outright) live in `_validate_environment_rules`.

`load` turns raw config (strings, as the engine passes them) into frozen dataclasses, or
raises `ConfigError` with one line that names the key, the bad value and what is allowed.
It runs before any resource is registered.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import ipaddress
import json
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from node_room import NODE_INSTANCE_SHAPES, database_instance_room

PROJECT = "ecomind-infra"

# --- Reference data, each with its source -------------------------------------------------

# Amazon EKS Kubernetes versions and the last day of standard support (14 months after the
# EKS release). Source: AWS, "Understand the Kubernetes version lifecycle on EKS"
# (docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html), read 2026-11-25, and
# endoflife-date/endoflife.date products/amazon-eks.md (de1074d, 2026-07-08), which scrapes it;
# 1.36's date is its release date (2026-06-02) plus 14 months. No 1.37 on EKS was seen.
EKS_STANDARD_SUPPORT_ENDS: Mapping[str, datetime.date] = {
    "1.34": datetime.date(2026, 12, 2),
    "1.35": datetime.date(2027, 3, 27),
    "1.36": datetime.date(2027, 8, 2),
}

# EKS managed add-on builds per Kubernetes version, pinned so that an upgrade is a reviewed
# change rather than whatever `most_recent` returns on the day; renovate.json moves them
# (datasource aws-eks-addon). Where each was seen, read 2026-12-01:
# - coredns v1.14.3-eksbuild.3 and kube-proxy v1.36.0-eksbuild.14 (1.36): the EKS user guide's
#   version tables (managing-coredns, managing-kube-proxy).
# - vpc-cni v1.22.4-eksbuild.3: upstream tag v1.22.4 (aws/amazon-vpc-cni-k8s, 2026-07-08); the
#   eksbuild suffix only in third-party describe-addon-versions records (2026-08 to 2026-10).
# - aws-ebs-csi-driver v1.66.0-eksbuild.1: the v1.66 line exists upstream (v1.67.1 published
#   2026-10-20); the build suffix is not confirmed by an AWS page: a guess until
#   `aws eks describe-addon-versions --addon-name aws-ebs-csi-driver` says otherwise.
# - metrics-server, and the 1.35 coredns/kube-proxy builds: third-party describe-addon-versions
#   records only (defaults for their version, 2026-10): likewise to confirm before the first up.
# - amazon-cloudwatch-observability v6.4.0-eksbuild.1: the add-on follows its Helm chart's
#   version (docs name v6.2.0-eksbuild.1 for chart 6.2.0); chart 6.4.0 is tag
#   amazon-cloudwatch-observability-6.4.0 of aws-observability/helm-charts (f4ad2e3, 2026-07-21),
#   and the agent operator's test matrix covers 1.35 and 1.36 (a9f8b93). The eksbuild suffix and
#   its compatibility with each version are a guess until describe-addon-versions confirms them.
ADDON_VERSIONS: Mapping[str, Mapping[str, str]] = {
    "1.35": {
        "vpc-cni": "v1.22.4-eksbuild.3",
        "coredns": "v1.13.2-eksbuild.31",
        "kube-proxy": "v1.35.3-eksbuild.29",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
        "metrics-server": "v0.8.1-eksbuild.10",
        "amazon-cloudwatch-observability": "v6.4.0-eksbuild.1",
    },
    "1.36": {
        "vpc-cni": "v1.22.4-eksbuild.3",
        "coredns": "v1.14.3-eksbuild.3",
        "kube-proxy": "v1.36.0-eksbuild.14",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
        "metrics-server": "v0.9.0-eksbuild.11",
        "amazon-cloudwatch-observability": "v6.4.0-eksbuild.1",
    },
}

# EKS-optimised AL2023 AMI release per Kubernetes version, the managed node groups'
# `release_version` (the same release for the x86_64 and arm64 standard AMIs). With a launch
# template that names no AMI, EKS picks the AMI from the group's version and release version;
# left unset, pulumi-eks sends neither (nodejs/eks/nodes/nodegroup.ts, createManagedNodeGroup),
# so nodes would keep their first AMI and Kubernetes version forever. Pinned so that AMI patches
# arrive as a reviewed change. Source: awslabs/amazon-eks-ami CHANGELOG.md, "AMI Release
# v20260714" (commit 15822511, 2026-07-21), the newest release that lists these versions in the
# upstream repository; later builds (1.36.4-20261003) were seen only in third-party files.
AMI_RELEASE_VERSIONS: Mapping[str, str] = {
    "1.35": "1.35.6-20260714",
    "1.36": "1.36.2-20260714",
}

# Cluster Autoscaler must match the cluster's minor version (its README, "Releases"). Seen:
# kubernetes/autoscaler tags cluster-autoscaler-1.36.1 (35e8a28, 2026-07-22) and 1.35.0 (the
# default image of chart 9.59.0); that the registry.k8s.io image exists was not checked here.
CLUSTER_AUTOSCALER_IMAGE_TAGS: Mapping[str, str] = {"1.35": "v1.35.0", "1.36": "v1.36.1"}

# Availability zones this project places subnets in, per supported region, by zone ID. A zone
# name (us-east-1a) maps to a different physical zone in each account, a zone ID (use1-az1)
# to the same one everywhere (AWS RAM user guide, "Availability Zone IDs"), so only IDs can
# keep out the zones EKS refuses. IDs rather than an invoke so that a plan is reproducible
# offline; the order decides which zones a stack uses first.
REGION_AVAILABILITY_ZONE_IDS: Mapping[str, tuple[str, ...]] = {
    "us-east-1": ("use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"),
    "us-east-2": ("use2-az1", "use2-az2", "use2-az3"),
    "us-west-2": ("usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"),
    "eu-west-1": ("euw1-az1", "euw1-az2", "euw1-az3"),
    "eu-central-1": ("euc1-az1", "euc1-az2", "euc1-az3"),
}
# Zone IDs where EKS cannot place control-plane network interfaces; CreateCluster answers
# UnsupportedAvailabilityZoneException. Source: EKS user guide, "View Amazon EKS networking
# requirements for VPC and subnets" (network-reqs), subnet requirements, read 2026-12-01.
# use1-az3 also lacks current-generation instance types (EC2 user guide, "Regions and Zones").
EKS_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "cac1-az3"})

NODE_INSTANCE_TYPES: Mapping[str, str] = {name: shape[0] for name, shape in NODE_INSTANCE_SHAPES.items()}

# Values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy API).
CLOUDWATCH_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)

# Engine versions of the data tier, pinned; each was current and supported on 2026-11-25.
# PostgreSQL: the major version only, so RDS applies minor (security) releases in the
# maintenance window instead of Pulumi fighting them; 17 is supported by the PostgreSQL
# project until November 2029 (postgresql.org versioning policy). Kafka: MSK "Supported
# Apache Kafka versions", where 3.9.x carries the "recommended" mark (read September 2026).
# Valkey: ElastiCache "Supported engine versions"; 8.2 is the newest release of the valkey8
# parameter family (9.x exists; see docs/adr/0007-valkey.md for why not yet).
POSTGRES_MAJOR_VERSION = "17"
KAFKA_VERSION = "3.9.x"
VALKEY_VERSION = "8.2"
# ElastiCache ModifyReplicationGroup AuthTokenUpdateStrategy values this project uses (DELETE,
# which turns AUTH off, is never one of them).
AUTH_TOKEN_STRATEGIES = ("SET", "ROTATE")
MAX_GENERATION = 1_000_000

# Retention bounds AWS and this project set for automated RDS backups: RDS allows 0 to 35
# days; the team's RTO/RPO targets ask for at least 7 everywhere and 14 in prod.
BACKUP_RETENTION_DAYS_RANGE = (1, 35)
MIN_BACKUP_RETENTION_DAYS = {"dev": 7, "prod": 14}

# RDS for PostgreSQL lists what shared_preload_libraries accepts ("Extensions supported for
# RDS for PostgreSQL"); timescaledb is not among them, so a parameter group asking for it
# is rejected by the RDS API.
RDS_PRELOAD_LIBRARIES = ("pg_stat_statements", "auto_explain", "pg_cron", "pg_partman_bgw",
                         "pg_hint_plan", "pgaudit", "pg_prewarm", "plprofiler")

# The in-cluster engine (docs/adr/0010-timescaledb-on-eks.md): TimescaleDB's own image, which
# carries the TimescaleDB Apache and TSL (compression, continuous aggregates) libraries and the
# toolkit. The tag names the PostgreSQL minor and TimescaleDB release. Seen only in public
# deployment manifests (2026), not in a registry tag list, so a guess until
# `docker manifest inspect` confirms it; pg17.11-ts2.30.2 was seen once too. Same PostgreSQL
# major as the RDS engine.
DATABASE_ENGINES = ("rds", "timescaledb")
TIMESCALEDB_IMAGE = "timescale/timescaledb-ha:pg17.11-ts2.30.1"
MIN_TIMESCALEDB_BACKUP_DAYS = {"dev": 7, "prod": 30}
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")

DB_INSTANCE_CLASSES = ("db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.t4g.large", "db.m7g.large", "db.m7g.xlarge",
                       "db.r7g.large", "db.r7g.xlarge")
KAFKA_INSTANCE_TYPES = ("kafka.t3.small", "kafka.m7g.large", "kafka.m7g.xlarge", "kafka.m5.large")
CACHE_NODE_TYPES = ("cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.m7g.large",
                    "cache.r7g.large")
CDN_PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# Where the global services' regional pieces live: CloudFront's certificates (ACM), CLOUDFRONT-scope
# WAF ACLs and vended log delivery are made in us-east-1 only (CloudFront developer guide,
# "Requirements for using SSL/TLS certificates with CloudFront"; WAF developer guide, "Using AWS WAF
# with CloudFront"), and AWS Budgets has one endpoint, signed for us-east-1 (botocore endpoints.json,
# budgets, aws-global). A recovery stack for that region's loss needs none of them.
GLOBAL_SERVICES_REGION = "us-east-1"
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")

# Public subnets hold only load balancers and NAT gateways, data subnets only RDS, MSK and
# ElastiCache ENIs: a /24 (251 usable addresses, AWS reserves 5) per zone is ample for both.
# Private subnets hold nodes and, with the VPC CNI, every pod's IP: that size is a setting.
# The cluster's Kubernetes service (ClusterIP) range, set rather than left to EKS, which picks
# 172.20.0.0/16 or 10.100.0.0/16 by the VPC's range (EKS API reference, KubernetesNetworkConfigRequest
# serviceIpv4Cidr; only at cluster creation): the chart's network policies name it, so that egress to
# AWS's public APIs on 443 cannot reach an in-cluster Service, a webhook's among them.
KUBERNETES_SERVICE_CIDR = "172.20.0.0/16"
PUBLIC_SUBNET_PREFIX_LENGTH = 24
DATA_SUBNET_PREFIX_LENGTH = 24

ENVIRONMENTS = ("dev", "prod")
NAT_MODES = ("perAz", "single")
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")
TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
                 "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
NODE_GROUP_NAMES = ("system", "workload")
# EKS access policies (EKS user guide, "Review access policy permissions"). The deploy role
# installs CRDs, cluster roles and webhooks through Helm, which only cluster scope allows.
# Previews and drift checks read every object, and Helm keeps each release in a Secret of its
# namespace, which AmazonEKSViewPolicy cannot read and AmazonEKSAdminViewPolicy can.
ADMIN_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
READ_ONLY_ACCESS_POLICY = "AmazonEKSAdminViewPolicy"

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_LABEL = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class ConfigError(pulumi.RunError):
    """A stack setting is invalid. The message is one line: key, value, what is allowed.

    A `RunError` so that a real `pulumi up` prints the message without a traceback.
    """


# --- The registry ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Setting:
    """One stack setting as `Pulumi.yaml` declares it (`type` is a Pulumi config type)."""

    key: str
    type: str
    description: str
    default: Any = None
    items: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


def _node_group_settings(group: str, *, instance_types: list[str], capacity: str,
                         sizes: tuple[int, int, int], taints: list[str],
                         purpose: str) -> tuple[Setting, ...]:
    low, desired, high = sizes
    return (
        Setting(f"{group}NodeInstanceTypes", "array",
                f"EC2 instance types of the {purpose} node group, in order of preference.",
                instance_types, items="string"),
        Setting(f"{group}NodeCapacityType", "string",
                f"ON_DEMAND or SPOT for the {purpose} node group.", capacity),
        Setting(f"{group}NodeMinSize", "integer", f"Fewest nodes in the {purpose} node group.", low),
        Setting(f"{group}NodeDesiredSize", "integer",
                f"Nodes the {purpose} node group starts with (the autoscaler moves it later).", desired),
        Setting(f"{group}NodeMaxSize", "integer", f"Most nodes in the {purpose} node group.", high),
        Setting(f"{group}NodeLabels", "array",
                f"Extra Kubernetes labels on {purpose} nodes, as key=value.", [], items="string"),
        Setting(f"{group}NodeTaints", "array",
                f"Kubernetes taints on {purpose} nodes, as key=value:Effect.", taints, items="string"),
    )


# The sizes' defaults (prod's) are the smallest that make plan's capacity table passes for the
# small-enterprise load with prod's guarantees kept (analyses/capacity.py, docs/adr/0017).
SETTINGS: tuple[Setting, ...] = (
    Setting("environment", "string",
            "dev or prod. Decides which safety rules apply and whether stateful resources are protected."),
    Setting("awsAccountId", "string",
            "AWS account the stack deploys into (12 digits). aws:allowedAccountIds must name exactly it, so the "
            "AWS provider refuses credentials of any other account, and every role ARN setting must be in it."),
    Setting("owner", "string", "Team that owns the stack; applied as the owner tag.", "platform-engineering"),
    Setting("costCentre", "string", "Cost centre billed for the stack; applied as the cost-centre tag.", "ecomind"),
    Setting("vpcCidr", "string", "IPv4 CIDR block of the VPC (/16 to /24).", "10.0.0.0/16"),
    Setting("availabilityZoneCount", "integer",
            "Availability zones to spread subnets, NAT, nodes and data services over (2 to the region's count).", 3),
    Setting("privateSubnetPrefixLength", "integer",
            "Prefix length of each private (node and pod) subnet; pods take their IPs from it.", 19),
    Setting("natGateways", "string",
            "perAz (one NAT gateway per zone, survives a zone loss) or single (one shared gateway, cheaper).", "perAz"),
    Setting("logRetentionDays", "integer",
            "Days CloudWatch keeps VPC flow logs and EKS control-plane logs (a CloudWatch retention value).", 365),
    Setting("kubernetesVersion", "string", "EKS Kubernetes version; must be in EKS standard support.", "1.36"),
    Setting("clusterPublicAccessCidrs", "array",
            "CIDRs allowed to reach the EKS API over its public endpoint; empty turns the public endpoint off.",
            [], items="string"),
    Setting("clusterAdminRoleArns", "array",
            "IAM role ARNs granted cluster-admin through EKS access entries (people; not the creator or CI roles).",
            [], items="string"),
    Setting("clusterCreatorRoleArn", "string",
            "IAM role that runs the stack's first `pulumi up` and so creates the EKS cluster; EKS makes it "
            "cluster admin itself, so it gets no access entry (normally the stack's CI deploy role)."),
    Setting("ciDeployRoleArn", "string",
            "IAM role the deploy workflow assumes for `pulumi up`; cluster admin through an access entry "
            "unless it is the cluster creator."),
    Setting("ciPreviewRoleArn", "string",
            "IAM role previews and drift checks assume; read-only access to every Kubernetes object, "
            "Helm's release secrets included (AmazonEKSAdminViewPolicy)."),
    Setting("databaseInstanceClass", "string", "RDS instance class of the PostgreSQL database.", "db.t4g.medium"),
    Setting("databaseAllocatedStorageGib", "integer", "Initial gp3 storage of the database, GiB.", 20),
    Setting("databaseMaxAllocatedStorageGib", "integer",
            "Ceiling for RDS storage autoscaling, GiB (at least the allocated storage).", 500),
    Setting("databaseBackupRetentionDays", "integer",
            "Days of automated RDS backups (point-in-time recovery window); dev >= 7, prod >= 14.", 14),
    Setting("databasePreloadLibraries", "array",
            "shared_preload_libraries of the database; only libraries RDS for PostgreSQL offers.",
            ["pg_stat_statements"], items="string"),
    Setting("databaseEngine", "string",
            "rds (RDS for PostgreSQL) or timescaledb (PostgreSQL with TimescaleDB on the EKS cluster, "
            "run by CloudNativePG; docs/adr/0010-timescaledb-on-eks.md).", "rds"),
    Setting("timescaledbInstances", "integer",
            "timescaledb engine: PostgreSQL instances, one per zone (a primary and synchronous standbys); "
            "prod >= 3.", 3),
    Setting("timescaledbNodeInstanceType", "string",
            "timescaledb engine: EC2 instance type of the database nodes (one tainted node group per zone).",
            "t4g.medium"),
    Setting("timescaledbCpuMillicores", "integer",
            "timescaledb engine: CPU each instance requests and is limited to, millicores (with the node's "
            "DaemonSets and the backup sidecar, at most 1150 on a t4g.medium).", 1000),
    Setting("timescaledbMemoryGib", "integer",
            "timescaledb engine: memory each instance requests and is limited to, GiB.", 2),
    Setting("timescaledbStorageGib", "integer",
            "timescaledb engine: data volume of each instance (encrypted gp3), GiB.", 30),
    Setting("timescaledbWalStorageGib", "integer",
            "timescaledb engine: separate WAL volume of each instance (encrypted gp3), GiB.", 20),
    Setting("timescaledbBackupRetentionDays", "integer",
            "timescaledb engine: days of base backups and WAL kept in S3 (the point-in-time recovery "
            "window); dev >= 7, prod >= 30.", 30),
    Setting("timescaledbClusterName", "string",
            "timescaledb engine: name of the database cluster; its backups are kept under this name. "
            "A recovery creates a cluster with a new name.", "ecomind-db"),
    Setting("timescaledbRecoverFrom", "string",
            "timescaledb engine: name of an earlier cluster whose backups the new cluster is restored "
            "from (docs/DISASTER_RECOVERY.md); empty to start an empty database.", ""),
    Setting("timescaledbRecoveryTargetTime", "string",
            "timescaledb engine: point in time to recover to, RFC 3339 in UTC (2026-11-25T09:30:00Z); "
            "empty for the end of the archived WAL. Needs timescaledbRecoverFrom.", ""),
    Setting("kafkaBrokerInstanceType", "string", "MSK broker instance type (one broker per zone).", "kafka.m7g.large"),
    Setting("kafkaBrokerStorageGib", "integer", "Initial EBS storage per Kafka broker, GiB.", 20),
    Setting("kafkaBrokerStorageMaxGib", "integer", "Ceiling for MSK broker storage autoscaling, GiB.", 1000),
    Setting("kafkaTopicPartitions", "integer",
            "Partitions of each EcoMind topic (events.raw, events.enriched); keyed by org_id.", 12),
    Setting("cacheNodeType", "string", "ElastiCache (Valkey) node type; prod runs one node per zone.",
            "cache.t4g.small"),
    Setting("cacheSnapshotRetentionDays", "integer", "Days ElastiCache keeps daily snapshots (1 to 35).", 7),
    Setting("cacheAuthTokenGeneration", "integer",
            "Generation of the Valkey AUTH token: `make rotate-secret SECRET=cache` raises it by one and sets "
            "cacheAuthTokenStrategy to ROTATE (docs/DEPLOYMENT.md, Rotate the generated secrets).", 1),
    Setting("cacheAuthTokenStrategy", "string",
            "SET: only the current AUTH token is valid. ROTATE: the previous one stays valid too, while a "
            "rotation rolls out; `make rotate-secret SECRET=cache FINISH=1` sets SET again.", "SET"),
    Setting("jwtKeyGeneration", "integer",
            "Generation of the api's JWT signing key: `make rotate-secret SECRET=jwt` raises it by one; the "
            "previous key keeps verifying (JWT_SECRET_PREVIOUS) until the next rotation.", 1),
    Setting("gatewayHmacKeyGeneration", "integer",
            "Generation of the gateway's request signing key: `make rotate-secret SECRET=gateway-hmac` raises it "
            "by one; the previous key keeps verifying (GATEWAY_HMAC_SECRET_PREVIOUS).", 1),
    Setting("cdnPriceClass", "string", "CloudFront price class of the UI assets distribution.", "PriceClass_All"),
    Setting("assetsCdn", "boolean",
            "Serve the UI's static assets from S3 through CloudFront (with its certificate, WAF and logs, which "
            "exist only in us-east-1). false: the UI serves them itself through the ALB; a recovery stack outside "
            "us-east-1 must set false, so that it needs nothing of the region whose loss it answers.", True),
    Setting("drRegion", "string",
            "Region that holds copies of the database backups and the application secrets, each under a key "
            "there (docs/DISASTER_RECOVERY.md, region loss); none: no copies, which prod refuses.", "us-west-2"),
    # A recovery stack (Pulumi.prod-dr.yaml): the platform rebuilt in the second region from another
    # stack's region-loss copies; `pulumi stack output recoveryInputs` of that stack gives the values.
    Setting("recoverFromStack", "string",
            "Makes this a recovery stack of that stack (prod): the database restored from its replicated backups, "
            "the release on its replicated images, secrets and reports bucket (docs/DISASTER_RECOVERY.md, region "
            "loss); empty: an ordinary stack.", ""),
    Setting("recoveryPointInTime", "string",
            "Recovery stack: the time the database is restored to, RFC 3339 in UTC (2026-11-25T09:30:00Z), or "
            "latest for the latest restorable time of the replicated backups.", "latest"),
    Setting("recoveryDatabaseBackupArn", "string",
            "Recovery stack: ARN of the source database's replicated automated backups in this region "
            "(arn:aws:rds:<region>:<account>:auto-backup:ab-...); the source's recoveryInputs output.", ""),
    Setting("recoveryCopiesKeyArn", "string",
            "Recovery stack: ARN of the source stack's dr-copies key in this region, which encrypts the backups, "
            "the secret replicas and the reports copy; the source's recoveryInputs output.", ""),
    Setting("recoveryReportsBucket", "string",
            "Recovery stack: name of the source's reports bucket copy in this region, which the release then "
            "uses; the source's recoveryInputs output.", ""),
    Setting("officeHours", "string",
            "Days and hours the stack runs its nodes, database and canary (MON-FRI 07-19), in officeHoursTimezone; "
            "outside them EventBridge Scheduler stops them. Empty: always on (prod must be).", ""),
    Setting("officeHoursTimezone", "string", "IANA time zone of officeHours (Europe/London).", "UTC"),
    Setting("canaryIntervalMinutes", "integer",
            "Minutes between the outside check's runs (each run costs; its alarm pages after two failed runs).", 5),
    Setting("publicDomain", "string",
            "Domain the stack serves under (assets.<domain> for the CDN); empty for AWS default names.", ""),
    Setting("publicHostLabel", "string",
            "Added to the stack's host names (app-<label>.<domain>, assets-<label>.<domain>) so that a second "
            "stack under the same domain (the recovery stack) takes none of the first one's names; empty: "
            "app.<domain> and assets.<domain>.", ""),
    Setting("publicHostedZoneId", "string",
            "Route 53 public hosted zone of publicDomain; set together with publicDomain.", ""),
    Setting("monthlyBudgetUsd", "integer",
            "Estimated monthly cost the plan may reach; make plan fails above it (the cost model's total).", 3500),
    Setting("budgetAlertThresholdsUsd", "array",
            "Actual monthly spend (USD) at which AWS Budgets notifies the alert topic; the team's $500 and $1,000.",
            ["500", "1000"], items="string"),
    Setting("alertEmail", "string",
            "Email subscribed to the budget and alarm topic (confirmed by the recipient); empty for none.", ""),
    Setting("usageNatGbPerMonth", "integer",
            "GB a month through NAT (image pulls, AWS APIs outside endpoints, egress); for the cost model.", 150),
    Setting("usageLogGbPerMonth", "integer", "GB a month of CloudWatch logs (flow, control plane, RDS, MSK).", 60),
    Setting("usageStorageGb", "integer", "GB of reports and exports in S3; for the cost model.", 100),
    Setting("usageDatabaseGb", "integer",
            "GB of data in the database (timescaledb engine: sizes the S3 backups); a year at the small-enterprise "
            "load is about 7 (make plan's capacity table); for the cost model.", 10),
    Setting("usageCdnGbPerMonth", "integer", "GB a month CloudFront serves (UI assets); for the cost model.", 200),
    # The load the capacity model sizes every tier against (analyses/capacity.py); the defaults are
    # the team's "small enterprise" (../shared/ecomind-app.md: 100-500 users, about 100k ingest
    # calls a day). "medium" is about 1M ingest calls a day.
    Setting("loadIngestCallsPerDay", "integer",
            "Ingest calls a day the gateway takes (each one event on events.raw); for the capacity model.", 100_000),
    Setting("loadApiCallsPerDay", "integer",
            "api calls a day (500 users at about 100 each); the ui serves a fifth as many pages; capacity model.",
            50_000),
    Setting("loadPeakFactor", "integer",
            "Busiest minute's rate over the day's average rate (working hours carry most calls); capacity model.", 5),
    Setting("loadEventBytes", "integer", "Bytes of one ingest event on Kafka; for the capacity model.", 1024),
    Setting("githubRepository", "string",
            "owner/name of the repository whose workflows run on this stack's CI runners.", "ecomind/ecomind-infra"),
    Setting("githubConnectionArn", "string",
            "AWS CodeConnections connection to GitHub (authorised once in the console) for the CI runners."),
    Setting("appImageTag", "string",
            "Release tag of the four EcoMind images (immutable in ECR); never latest.", None),
    *_node_group_settings("system", instance_types=["t4g.medium"], capacity="ON_DEMAND", sizes=(3, 3, 6),
                          taints=["CriticalAddonsOnly=true:NoSchedule"],
                          purpose="system (cluster add-ons and controllers)"),
    Setting("workloadNodeGroupPerZone", "boolean",
            "One workload node group per zone, with the sizes above split between them: Cluster Autoscaler can "
            "add a node in the zone a Pending pod needs (zone spread DoNotSchedule), which it cannot do for one "
            "group over every zone (its FAQ, 'scale-up of a multi-AZ node group').", True),
    *_node_group_settings("workload", instance_types=["t4g.medium"], capacity="ON_DEMAND", sizes=(3, 3, 9),
                          taints=[], purpose="workload (EcoMind services)"),
)

SETTINGS_BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}


# --- Typed results ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str  # the EKS API's spelling: NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE


@dataclasses.dataclass(frozen=True)
class NodeGroupSettings:
    name: str
    instance_types: tuple[str, ...]
    architecture: str
    capacity_type: str
    min_size: int
    desired_size: int
    max_size: int
    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    zone_index: int | None = None
    """Set for a group that lives in one zone (the database nodes: EBS volumes are zonal);
    None for a group spread over every zone."""


@dataclasses.dataclass(frozen=True)
class SubnetLayout:
    """CIDR blocks per zone, in zone order."""

    public: tuple[str, ...]
    private: tuple[str, ...]
    data: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class NetworkSettings:
    vpc_cidr: str
    availability_zone_ids: tuple[str, ...]
    """Zone IDs (use1-az1), the same physical zones in every account."""
    subnets: SubnetLayout
    nat_gateway_per_az: bool
    log_retention_days: int


@dataclasses.dataclass(frozen=True)
class ClusterAccess:
    """One EKS access entry: a principal and the cluster-wide access policy it is associated with."""

    key: str
    principal_arn: str
    policy: str
    """An EKS access policy name (`EKS_ACCESS_POLICIES`)."""


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    name: str
    kubernetes_version: str
    public_access_cidrs: tuple[str, ...]
    creator_role_arn: str
    """Holds cluster admin through EKS's creator bootstrap, not through an access entry."""
    ci_deploy_role_arn: str
    ci_preview_role_arn: str
    access_entries: tuple[ClusterAccess, ...]
    """Every principal other than the creator that may reach the Kubernetes API, and how far."""
    node_groups: tuple[NodeGroupSettings, ...]
    addon_versions: Mapping[str, str]
    ami_release_version: str
    """AL2023 AMI release of every managed node group (`AMI_RELEASE_VERSIONS`)."""
    log_retention_days: int


@dataclasses.dataclass(frozen=True)
class TimescaleSettings:
    """The in-cluster engine: CloudNativePG running TimescaleDB's image."""

    cluster_name: str
    image: str
    postgres_major: int
    instances: int
    node_instance_type: str
    cpu_millicores: int
    memory_gib: int
    storage_gib: int
    wal_storage_gib: int
    backup_retention_days: int
    recover_from: str | None
    recovery_target_time: str | None
    node_group_label: str
    node_taint: Taint


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    instance_class: str
    engine_version: str
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    backup_retention_days: int
    preload_libraries: tuple[str, ...]
    multi_az: bool
    log_retention_days: int
    engine: str = "rds"
    timescale: TimescaleSettings | None = None
    """Set when `engine` is timescaledb."""


@dataclasses.dataclass(frozen=True)
class StreamingSettings:
    kafka_version: str
    broker_instance_type: str
    broker_count: int
    storage_gib: int
    storage_max_gib: int
    topic_partitions: int
    replication_factor: int
    min_insync_replicas: int
    log_retention_days: int


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    engine_version: str
    node_type: str
    node_count: int
    """Primary plus replicas; more than one means automatic failover across zones."""
    snapshot_retention_days: int
    log_retention_days: int
    auth_token_generation: int = 1
    """Raised by one to rotate the AUTH token (a new random value)."""
    auth_token_strategy: str = "SET"
    """ElastiCache's AuthTokenUpdateStrategy: ROTATE keeps the previous token valid too, SET does not."""


@dataclasses.dataclass(frozen=True)
class SigningKeySettings:
    jwt_generation: int
    """Generation of the api's JWT signing key; the previous generation keeps verifying."""
    gateway_hmac_generation: int
    """Generation of the gateway's request signing key; the previous generation keeps verifying."""


@dataclasses.dataclass(frozen=True)
class EdgeSettings:
    price_class: str
    domain: str | None
    hosted_zone_id: str | None
    canary_interval_minutes: int = 5
    host_label: str = ""
    """Appended to each host's first label (app-dr.<domain>); empty: app.<domain>."""
    cdn: bool = True
    """The assets distribution and its us-east-1 pieces (setting assetsCdn); False: the UI serves its assets."""

    def _host(self, name: str) -> str | None:
        return f"{name}{'-' + self.host_label if self.host_label else ''}.{self.domain}" if self.domain else None

    @property
    def assets_host(self) -> str | None:
        return self._host("assets")

    @property
    def app_host(self) -> str | None:
        """Where EcoMind answers; None without a domain (an internal ALB)."""
        return self._host("app")

    @property
    def primary_app_host(self) -> str | None:
        """The unlabelled app.<domain>: what users know, which a recovery stack takes over at failover."""
        return f"app.{self.domain}" if self.domain else None


@dataclasses.dataclass(frozen=True)
class RecoverySettings:
    """A recovery stack's source: which stack's copies it is built from, and where they are."""

    source_stack: str
    point_in_time: str | None
    """RFC 3339 UTC; None: the latest restorable time."""
    database_backup_arn: str
    copies_key_arn: str
    reports_bucket: str

    @property
    def secret_prefix(self) -> str:
        """The source's secrets, whose replicas here keep their names (Secrets Manager user guide,
        "Replicate an AWS Secrets Manager secret to other AWS Regions")."""
        return f"ecomind/{self.source_stack}/"

    @property
    def repository_prefix(self) -> str:
        """The source's repositories, which ECR replication recreates here under the same names."""
        return f"ecomind-{self.source_stack}"


@dataclasses.dataclass(frozen=True)
class AppSettings:
    image_tag: str


@dataclasses.dataclass(frozen=True)
class CiSettings:
    repository: str
    connection_arn: str


@dataclasses.dataclass(frozen=True)
class CostSettings:
    monthly_budget_usd: int
    alert_thresholds_usd: tuple[int, ...]
    alert_email: str | None
    nat_gb: int
    log_gb: int
    storage_gb: int
    cdn_gb: int
    database_gb: int


WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_OFFICE_HOURS = re.compile(r"(?P<first>[A-Z]{3})-(?P<last>[A-Z]{3}) (?P<start>\d{2})-(?P<end>\d{2})")


@dataclasses.dataclass(frozen=True)
class OfficeHours:
    """When a stack that need not run all the time runs: days (a range of WEEKDAYS) and hours."""

    first_day: str
    last_day: str
    start_hour: int
    end_hour: int
    timezone: str

    @property
    def days(self) -> str:
        """The days as a cron day-of-week field (MON-FRI)."""
        return f"{self.first_day}-{self.last_day}"

    @property
    def backup_window(self) -> str:
        """Half an hour inside office hours (RDS's backup window is UTC): four hours after they
        start, at the zone's January offset; summer time moves it by an hour, still inside them."""
        local = min(self.start_hour + 4, self.end_hour - 2)
        offset = datetime.datetime(2026, 1, 15, 12, tzinfo=zoneinfo.ZoneInfo(self.timezone)).utcoffset()
        hour = int(local - offset.total_seconds() // 3600) % 24
        return f"{hour:02d}:00-{hour:02d}:30"

    @property
    def maintenance_window(self) -> str:
        """An hour after the backup window, on the first office day (RDS: ddd:hh:mm-ddd:hh:mm, UTC)."""
        hour = (int(self.backup_window[:2]) + 1) % 24
        day = self.first_day.lower()
        return f"{day}:{hour:02d}:00-{day}:{hour:02d}:30"

    @property
    def running_fraction(self) -> float:
        """Share of a week's hours inside office hours."""
        days = WEEKDAYS.index(self.last_day) - WEEKDAYS.index(self.first_day) + 1
        return days * (self.end_hour - self.start_hour) / (7 * 24)


@dataclasses.dataclass(frozen=True)
class LoadSettings:
    ingest_calls_per_day: int
    api_calls_per_day: int
    peak_factor: int
    event_bytes: int


@dataclasses.dataclass(frozen=True)
class StackSettings:
    project: str
    stack: str
    environment: str
    account_id: str
    """The account every resource and every role ARN setting belongs to."""
    region: str
    tags: Mapping[str, str]
    network: NetworkSettings
    cluster: ClusterSettings
    database: DatabaseSettings
    streaming: StreamingSettings
    cache: CacheSettings
    edge: EdgeSettings
    app: AppSettings
    cost: CostSettings
    load: LoadSettings
    office_hours: OfficeHours | None
    dr_region: str | None
    """Where the region-loss copies live; None: none."""
    recovery: RecoverySettings | None
    """A recovery stack's source (recoverFromStack); None: an ordinary stack."""
    ci: CiSettings
    signing_keys: SigningKeySettings

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def protect_stateful(self) -> bool:
        """Whether stateful resources carry `protect` and AWS deletion protection."""
        return self.is_prod


# --- Parsing -----------------------------------------------------------------------------------

def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    return ConfigError(f"invalid setting '{PROJECT}:{key}' = {shown}: {allowed}")


def _parse(setting: Setting, raw: Any) -> Any:
    """Raw config arrives as strings (arrays as JSON); typed values pass through."""
    key, kind = setting.key, setting.type
    if kind == "string":
        optional = setting.default == ""
        if not isinstance(raw, str) or not (raw.strip() or optional):
            raise _fail(key, raw, "expected a non-empty string")
        return raw.strip()
    if kind == "integer":
        if isinstance(raw, bool):
            raise _fail(key, raw, "expected a whole number")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw.strip()):
            return int(raw)
        raise _fail(key, raw, "expected a whole number")
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if raw in ("true", "false"):
            return raw == "true"
        raise _fail(key, raw, "expected true or false")
    if kind == "array":
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                raise _fail(key, raw, "expected a list of strings") from None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise _fail(key, raw, "expected a list of non-empty strings")
        return [v.strip() for v in value]
    raise AssertionError(f"setting {key} has unsupported type {kind}")


def _values(raw_config: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values for every registered key; unknown keys are an error, not ignored."""
    prefix = f"{PROJECT}:"
    given: dict[str, Any] = {}
    for full_key, raw in raw_config.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix):]
        if key not in SETTINGS_BY_KEY:
            close = difflib.get_close_matches(key, SETTINGS_BY_KEY, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see the configuration reference in README.md"
            raise ConfigError(f"unknown setting '{full_key}': not a setting of this project; {hint}")
        given[key] = raw
    values = {}
    for setting in SETTINGS:
        if setting.key in given:
            values[setting.key] = _parse(setting, given[setting.key])
        elif setting.required:
            raise ConfigError(f"missing setting '{prefix}{setting.key}': {setting.description}")
        else:
            values[setting.key] = setting.default
    return values


def _one_of(key: str, value: str, allowed: tuple[str, ...] | Mapping[str, Any]) -> str:
    if value not in allowed:
        raise _fail(key, value, "allowed values are " + ", ".join(allowed))
    return value


def _cidr(key: str, value: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise _fail(key, value, "expected an IPv4 CIDR block such as 10.0.0.0/16") from None
    if "/" not in value:
        raise _fail(key, value, "expected an IPv4 CIDR block with a prefix length, such as 10.0.0.0/16")
    if str(network) != value:
        raise _fail(key, value, f"host bits are set; the block is {network}")
    return network


def _layout_subnets(key: str, vpc: ipaddress.IPv4Network, zones: int, private_prefix: int) -> SubnetLayout:
    """Carve zone-ordered subnets, largest first so every block stays aligned.

    Packing power-of-two blocks in descending size leaves no gaps, so the layout fits exactly
    when the blocks' total size fits in the VPC.
    """
    sizes = {"private": private_prefix, "public": PUBLIC_SUBNET_PREFIX_LENGTH, "data": DATA_SUBNET_PREFIX_LENGTH}
    needed = zones * sum(2 ** (32 - p) for p in sizes.values())
    if needed > vpc.num_addresses or any(p < vpc.prefixlen for p in sizes.values()):
        raise _fail(key, str(vpc), (
            f"too small for {zones} zones of one private /{private_prefix}, one public "
            f"/{PUBLIC_SUBNET_PREFIX_LENGTH} and one data /{DATA_SUBNET_PREFIX_LENGTH} subnet "
            f"({needed} addresses needed, {vpc.num_addresses} available)"))
    cursor = int(vpc.network_address)
    blocks: dict[str, list[str]] = {tier: [] for tier in sizes}
    for tier, prefix in sorted(sizes.items(), key=lambda item: item[1]):
        for _ in range(zones):
            block = ipaddress.IPv4Network((cursor, prefix))
            blocks[tier].append(str(block))
            cursor += block.num_addresses
    return SubnetLayout(public=tuple(blocks["public"]), private=tuple(blocks["private"]), data=tuple(blocks["data"]))


def _labels(key: str, entries: list[str]) -> dict[str, str]:
    labels = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep or not _LABEL.match(name) or not _LABEL_VALUE.match(value):
            raise _fail(key, entry, "expected a Kubernetes label as key=value, such as team=ecomind")
        labels[name] = value
    return labels


def _taints(key: str, entries: list[str]) -> tuple[Taint, ...]:
    taints = []
    for entry in entries:
        match = re.fullmatch(r"([^=:]+)(?:=([^:]*))?:(\w+)", entry)
        if not match or match.group(3) not in TAINT_EFFECTS or not _LABEL.match(match.group(1)):
            raise _fail(key, entry, "expected a taint as key=value:Effect with Effect one of "
                        + ", ".join(TAINT_EFFECTS))
        taints.append(Taint(match.group(1), match.group(2) or "", TAINT_EFFECTS[match.group(3)]))
    return tuple(taints)


def _per_zone(group: NodeGroupSettings, zones: Sequence[str]) -> tuple[NodeGroupSettings, ...]:
    """`group` as one group per zone, its sizes split between them (rounded up, so that none of
    them is smaller than the whole group's share); named after the zone ID, which is the same
    physical zone in every account."""
    def share(total: int) -> int:
        return -(-total // len(zones))

    return tuple(dataclasses.replace(
        group, name=f"{group.name}-{zone}", min_size=share(group.min_size), desired_size=share(group.desired_size),
        max_size=max(1, share(group.max_size)), zone_index=index) for index, zone in enumerate(zones))


def _node_group(group: str, v: Mapping[str, Any]) -> NodeGroupSettings:
    prefix = f"{group}Node"
    types_key = f"{prefix}InstanceTypes"
    types = v[types_key]
    if not types:
        raise _fail(types_key, types, "list at least one instance type")
    for instance_type in types:
        _one_of(types_key, instance_type, NODE_INSTANCE_TYPES)
    architectures = {NODE_INSTANCE_TYPES[t] for t in types}
    if len(architectures) > 1:
        raise _fail(types_key, types, "all instance types of one node group must share a CPU architecture")
    low, desired, high = v[f"{prefix}MinSize"], v[f"{prefix}DesiredSize"], v[f"{prefix}MaxSize"]
    if low < 0:
        raise _fail(f"{prefix}MinSize", low, "must be 0 or more")
    if high < 1:
        raise _fail(f"{prefix}MaxSize", high, "must be at least 1 (EKS managed node groups need one)")
    if low > high:
        raise _fail(f"{prefix}MinSize", low, f"must not exceed {prefix}MaxSize ({high})")
    if not low <= desired <= high:
        raise _fail(f"{prefix}DesiredSize", desired,
                    f"must lie between {prefix}MinSize ({low}) and {prefix}MaxSize ({high})")
    return NodeGroupSettings(
        name=group,
        instance_types=tuple(types),
        architecture=architectures.pop(),
        capacity_type=_one_of(f"{prefix}CapacityType", v[f"{prefix}CapacityType"], CAPACITY_TYPES),
        min_size=low, desired_size=desired, max_size=high,
        labels={"ecomind.io/node-group": group, **_labels(f"{prefix}Labels", v[f"{prefix}Labels"])},
        taints=_taints(f"{prefix}Taints", v[f"{prefix}Taints"]),
    )


def _database(v: Mapping[str, Any], environment: str, zones: int, retention: int) -> DatabaseSettings:
    _one_of("databaseInstanceClass", v["databaseInstanceClass"], DB_INSTANCE_CLASSES)
    allocated, ceiling = v["databaseAllocatedStorageGib"], v["databaseMaxAllocatedStorageGib"]
    if not 20 <= allocated <= 65536:
        raise _fail("databaseAllocatedStorageGib", allocated, "must be between 20 and 65536 (RDS gp3 limits)")
    if not allocated <= ceiling <= 65536:
        raise _fail("databaseMaxAllocatedStorageGib", ceiling,
                    f"must be between databaseAllocatedStorageGib ({allocated}) and 65536")
    backups = v["databaseBackupRetentionDays"]
    floor, top = MIN_BACKUP_RETENTION_DAYS[environment], BACKUP_RETENTION_DAYS_RANGE[1]
    if not floor <= backups <= top:
        raise _fail("databaseBackupRetentionDays", backups, f"must be between {floor} and {top} in {environment}")
    libraries = v["databasePreloadLibraries"]
    if "timescaledb" in libraries:
        raise _fail("databasePreloadLibraries", libraries, (
            "RDS for PostgreSQL cannot load timescaledb (it is not an RDS extension); use native "
            "partitioning with pg_partman on RDS, or the in-cluster TimescaleDB engine "
            "(docs/adr/0005-timescaledb.md)"))
    for library in libraries:
        _one_of("databasePreloadLibraries", library, RDS_PRELOAD_LIBRARIES)
    engine = _one_of("databaseEngine", v["databaseEngine"], DATABASE_ENGINES)
    return DatabaseSettings(
        instance_class=v["databaseInstanceClass"], engine_version=POSTGRES_MAJOR_VERSION,
        allocated_storage_gib=allocated, max_allocated_storage_gib=ceiling, backup_retention_days=backups,
        preload_libraries=tuple(libraries), multi_az=environment == "prod", log_retention_days=retention,
        engine=engine, timescale=_timescale(v, environment, zones) if engine == "timescaledb" else None)


def _timescale(v: Mapping[str, Any], environment: str, zones: int) -> TimescaleSettings:
    instances = v["timescaledbInstances"]
    if not 1 <= instances <= zones:
        raise _fail("timescaledbInstances", instances,
                    f"must be between 1 and availabilityZoneCount ({zones}): one instance per zone")
    node_type = _one_of("timescaledbNodeInstanceType", v["timescaledbNodeInstanceType"], NODE_INSTANCE_SHAPES)
    # An instance shares its node with the node's DaemonSets and its pod with the backup sidecar.
    room = database_instance_room(node_type)
    cpu_limit, memory_limit = int(room.cpu), int(room.memory // 1024)
    leaves = (f"what a {node_type} node leaves after the kubelet's reservation, its DaemonSets and the backup "
              "sidecar: node_room.py")
    cpu, gib = v["timescaledbCpuMillicores"], v["timescaledbMemoryGib"]
    if not 250 <= cpu <= cpu_limit:
        raise _fail("timescaledbCpuMillicores", cpu, f"must be between 250 and {cpu_limit} ({leaves})")
    if not 1 <= gib <= memory_limit:
        raise _fail("timescaledbMemoryGib", gib, f"must be between 1 and {memory_limit} ({leaves})")
    for key, low in (("timescaledbStorageGib", 10), ("timescaledbWalStorageGib", 5)):
        if not low <= v[key] <= 16384:
            raise _fail(key, v[key], f"must be between {low} and 16384 (gp3 volume limits)")
    backups, floor = v["timescaledbBackupRetentionDays"], MIN_TIMESCALEDB_BACKUP_DAYS[environment]
    if not floor <= backups <= 3650:
        raise _fail("timescaledbBackupRetentionDays", backups, f"must be between {floor} and 3650 in {environment}")
    name, source, target = v["timescaledbClusterName"], v["timescaledbRecoverFrom"], v["timescaledbRecoveryTargetTime"]
    for key, value in (("timescaledbClusterName", name), ("timescaledbRecoverFrom", source)):
        if value and not _DNS_LABEL.match(value):
            raise _fail(key, value, "expected a lower-case DNS label of at most 40 characters, such as ecomind-db")
    if source == name:
        raise _fail("timescaledbRecoverFrom", source,
                    "must differ from timescaledbClusterName: a recovery creates a new cluster, so the old "
                    "cluster's backups stay untouched")
    if target:
        if not source:
            raise _fail("timescaledbRecoveryTargetTime", target,
                        "needs timescaledbRecoverFrom (the cluster to recover)")
        _past_time("timescaledbRecoveryTargetTime", target, "")
    return TimescaleSettings(
        cluster_name=name, image=TIMESCALEDB_IMAGE, postgres_major=int(POSTGRES_MAJOR_VERSION),
        instances=instances, node_instance_type=node_type, cpu_millicores=cpu, memory_gib=gib,
        storage_gib=v["timescaledbStorageGib"], wal_storage_gib=v["timescaledbWalStorageGib"],
        backup_retention_days=backups, recover_from=source or None, recovery_target_time=target or None,
        node_group_label="database", node_taint=Taint("ecomind.io/dedicated", "database", "NO_SCHEDULE"))


def _database_node_groups(t: TimescaleSettings, zones: tuple[str, ...]) -> tuple[NodeGroupSettings, ...]:
    """One on-demand node group per zone that holds an instance: an instance's EBS volumes stay in
    their zone, so its replacement node must come up in that zone (Cluster Autoscaler FAQ)."""
    return tuple(NodeGroupSettings(
        name=f"database-{zone.rsplit('-', 1)[-1]}", instance_types=(t.node_instance_type,),
        architecture=NODE_INSTANCE_TYPES[t.node_instance_type],
        capacity_type="ON_DEMAND", min_size=1, desired_size=1, max_size=2,
        labels={"ecomind.io/node-group": t.node_group_label}, taints=(t.node_taint,), zone_index=index,
    ) for index, zone in enumerate(zones[:t.instances]))


def _streaming(v: Mapping[str, Any], environment: str, zones: int, retention: int) -> StreamingSettings:
    _one_of("kafkaBrokerInstanceType", v["kafkaBrokerInstanceType"], KAFKA_INSTANCE_TYPES)
    storage, ceiling = v["kafkaBrokerStorageGib"], v["kafkaBrokerStorageMaxGib"]
    if not 1 <= storage <= 16384:
        raise _fail("kafkaBrokerStorageGib", storage, "must be between 1 and 16384 (MSK broker EBS limits)")
    if not storage < ceiling <= 16384:
        raise _fail("kafkaBrokerStorageMaxGib", ceiling,
                    f"must be above kafkaBrokerStorageGib ({storage}) and at most 16384")
    partitions = v["kafkaTopicPartitions"]
    if not 1 <= partitions <= 1000:
        raise _fail("kafkaTopicPartitions", partitions, "must be between 1 and 1000")
    # One broker per zone; three copies of every partition when there are three brokers, and in
    # prod a write needs two of them, so one broker (or zone) can fail without losing an ack.
    replication = min(3, zones)
    return StreamingSettings(
        kafka_version=KAFKA_VERSION, broker_instance_type=v["kafkaBrokerInstanceType"], broker_count=zones,
        storage_gib=storage, storage_max_gib=ceiling, topic_partitions=partitions,
        replication_factor=replication, min_insync_replicas=2 if environment == "prod" and replication >= 3 else 1,
        log_retention_days=retention)


def _cache(v: Mapping[str, Any], environment: str, zones: int, retention: int) -> CacheSettings:
    _one_of("cacheNodeType", v["cacheNodeType"], CACHE_NODE_TYPES)
    snapshots = v["cacheSnapshotRetentionDays"]
    if not 1 <= snapshots <= 35:
        raise _fail("cacheSnapshotRetentionDays", snapshots, "must be between 1 and 35")
    strategy = _one_of("cacheAuthTokenStrategy", v["cacheAuthTokenStrategy"], AUTH_TOKEN_STRATEGIES)
    return CacheSettings(engine_version=VALKEY_VERSION, node_type=v["cacheNodeType"],
                         node_count=zones if environment == "prod" else 1,
                         snapshot_retention_days=snapshots, log_retention_days=retention,
                         auth_token_generation=_generation(v, "cacheAuthTokenGeneration"),
                         auth_token_strategy=strategy)


def _generation(v: Mapping[str, Any], key: str) -> int:
    generation = v[key]
    if not 1 <= generation <= MAX_GENERATION:
        raise _fail(key, generation, f"must be a whole number from 1 to {MAX_GENERATION:,}, raised by one per rotation")
    return generation


def _signing_keys(v: Mapping[str, Any]) -> SigningKeySettings:
    return SigningKeySettings(jwt_generation=_generation(v, "jwtKeyGeneration"),
                              gateway_hmac_generation=_generation(v, "gatewayHmacKeyGeneration"))


def _edge(v: Mapping[str, Any], region: str) -> EdgeSettings:
    price_class = _one_of("cdnPriceClass", v["cdnPriceClass"], CDN_PRICE_CLASSES)
    if v["assetsCdn"] and v["recoverFromStack"] and region != GLOBAL_SERVICES_REGION:
        raise _fail("assetsCdn", True, f"a recovery stack in {region} cannot depend on {GLOBAL_SERVICES_REGION}, where "
                    "CloudFront's certificate, WAF and log delivery must be made: set false (the UI serves its "
                    "assets through the ALB)")
    domain, zone = v["publicDomain"], v["publicHostedZoneId"]
    if bool(domain) != bool(zone):
        key, value = ("publicHostedZoneId", zone) if domain else ("publicDomain", domain)
        raise _fail(key, value, "publicDomain and publicHostedZoneId are set together or not at all")
    if domain and not _DOMAIN.match(domain):
        raise _fail("publicDomain", domain, "expected a lower-case DNS name such as ecomind.example.com")
    if zone and not _ZONE_ID.match(zone):
        raise _fail("publicHostedZoneId", zone, "expected a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ")
    interval = v["canaryIntervalMinutes"]
    if not 1 <= interval <= 60:
        raise _fail("canaryIntervalMinutes", interval, "expected 1 to 60 minutes between the canary's runs")
    label = v["publicHostLabel"]
    if label and not _DNS_LABEL.match(label):
        raise _fail("publicHostLabel", label, "expected a lower-case DNS label such as dr, or empty")
    return EdgeSettings(price_class=price_class, domain=domain or None, hosted_zone_id=zone or None,
                        canary_interval_minutes=interval, host_label=label, cdn=v["assetsCdn"])


def _app(v: Mapping[str, Any]) -> AppSettings:
    tag = v["appImageTag"]
    if tag == "latest" or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        raise _fail("appImageTag", tag, "expected an immutable release tag such as 2026.11.20-3f2a1bc (not latest)")
    return AppSettings(image_tag=tag)


def _cost(v: Mapping[str, Any]) -> CostSettings:
    thresholds = []
    for raw in v["budgetAlertThresholdsUsd"]:
        if not raw.isdigit() or int(raw) < 1:
            raise _fail("budgetAlertThresholdsUsd", v["budgetAlertThresholdsUsd"],
                        "expected whole USD amounts such as 500")
        thresholds.append(int(raw))
    if not thresholds or thresholds != sorted(set(thresholds)):
        raise _fail("budgetAlertThresholdsUsd", v["budgetAlertThresholdsUsd"], "list ascending, distinct thresholds")
    if v["monthlyBudgetUsd"] < 1:
        raise _fail("monthlyBudgetUsd", v["monthlyBudgetUsd"], "must be a positive number of USD")
    email = v["alertEmail"]
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
        raise _fail("alertEmail", email, "expected an email address such as platform@example.com")
    usage = {k: v[k] for k in ("usageNatGbPerMonth", "usageLogGbPerMonth", "usageStorageGb", "usageCdnGbPerMonth",
                               "usageDatabaseGb")}
    for key, value in usage.items():
        if value < 0:
            raise _fail(key, value, "must be 0 or more")
    return CostSettings(monthly_budget_usd=v["monthlyBudgetUsd"], alert_thresholds_usd=tuple(thresholds),
                        alert_email=email or None, nat_gb=usage["usageNatGbPerMonth"],
                        log_gb=usage["usageLogGbPerMonth"], storage_gb=usage["usageStorageGb"],
                        cdn_gb=usage["usageCdnGbPerMonth"], database_gb=usage["usageDatabaseGb"])


def _dr_region(v: Mapping[str, Any], environment: str, region: str) -> str | None:
    dr = v["drRegion"]
    if dr == "none":
        # A recovery stack runs because the source's region is lost: it keeps no copies there until
        # the fail back (docs/DISASTER_RECOVERY.md).
        if environment == "prod" and not v["recoverFromStack"]:
            raise _fail("drRegion", dr, "prod keeps copies in a second region: name one of "
                        + ", ".join(r for r in REGION_AVAILABILITY_ZONE_IDS if r != region))
        return None
    if dr == region or dr not in REGION_AVAILABILITY_ZONE_IDS:
        raise _fail("drRegion", dr, f"expected a supported region other than {region}: "
                    + ", ".join(r for r in REGION_AVAILABILITY_ZONE_IDS if r != region) + ", or none")
    return dr


def _past_time(key: str, value: str, alternative: str) -> None:
    """A point to recover to: RFC 3339 in UTC, not in the future (no backup reaches it yet)."""
    try:
        parsed = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise _fail(key, value, f"expected {alternative}an RFC 3339 time in UTC such as 2026-11-25T09:30:00Z") from None
    if parsed > datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
        raise _fail(key, value, "must not be in the future")


_RECOVERY_KEYS = ("recoveryDatabaseBackupArn", "recoveryCopiesKeyArn", "recoveryReportsBucket")
_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _recovery(v: Mapping[str, Any], stack: str, account: str, region: str) -> RecoverySettings | None:
    source, point = v["recoverFromStack"], v["recoveryPointInTime"]
    if not source:
        for key in ("recoveryPointInTime", *_RECOVERY_KEYS):
            if v[key] != SETTINGS_BY_KEY[key].default:
                raise _fail(key, v[key], "only a recovery stack sets it: set recoverFromStack too")
        return None
    if not _DNS_LABEL.match(source) or source == stack:
        raise _fail("recoverFromStack", source, f"expected the name of another stack (prod), not {stack!r} itself")
    if v["databaseEngine"] != "rds":
        raise _fail("recoverFromStack", source, "a recovery stack restores the rds engine from replicated backups; "
                    "the timescaledb engine recovers from its backups bucket with timescaledbRecoverFrom "
                    "(docs/DISASTER_RECOVERY.md, region loss)")
    if point != "latest":
        _past_time("recoveryPointInTime", point, "latest or ")
    shapes = {
        "recoveryDatabaseBackupArn": (re.compile(rf"^arn:aws:rds:{region}:{account}:auto-backup:ab-[A-Za-z0-9]+$"),
                                      f"arn:aws:rds:{region}:{account}:auto-backup:ab-<id>"),
        "recoveryCopiesKeyArn": (re.compile(rf"^arn:aws:kms:{region}:{account}:key/(mrk-)?[0-9a-f-]{{32,36}}$"),
                                 f"arn:aws:kms:{region}:{account}:key/<id>"),
        "recoveryReportsBucket": (_BUCKET_NAME, "an S3 bucket name"),
    }
    for key, (shape, example) in shapes.items():
        if not shape.match(v[key]):
            raise _fail(key, v[key], f"a recovery stack needs it, in this stack's region and account: expected "
                        f"{example} (the source stack's recoveryInputs output)")
    return RecoverySettings(source_stack=source, point_in_time=None if point == "latest" else point,
                            database_backup_arn=v["recoveryDatabaseBackupArn"],
                            copies_key_arn=v["recoveryCopiesKeyArn"], reports_bucket=v["recoveryReportsBucket"])


def _office_hours(v: Mapping[str, Any], environment: str) -> OfficeHours | None:
    text, timezone = v["officeHours"], v["officeHoursTimezone"]
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _fail("officeHoursTimezone", timezone,
                    "expected an IANA time zone such as Europe/London or UTC") from None
    if not text:
        return None
    if environment == "prod":
        raise _fail("officeHours", text, "prod runs all the time: leave it empty")
    match = _OFFICE_HOURS.fullmatch(text)
    if (not match or match["first"] not in WEEKDAYS or match["last"] not in WEEKDAYS
            or WEEKDAYS.index(match["first"]) > WEEKDAYS.index(match["last"])
            or not 0 <= int(match["start"]) < int(match["end"]) <= 23):
        raise _fail("officeHours", text, "expected DAY-DAY HH-HH with days MON..SUN in order and hours 00-23, start "
                    "before end (MON-FRI 07-19), or empty")
    return OfficeHours(first_day=match["first"], last_day=match["last"], start_hour=int(match["start"]),
                       end_hour=int(match["end"]), timezone=timezone)


def _load(v: Mapping[str, Any]) -> LoadSettings:
    for key in ("loadIngestCallsPerDay", "loadApiCallsPerDay"):
        if v[key] < 0:
            raise _fail(key, v[key], "must be 0 or more calls a day")
    if not 1 <= v["loadPeakFactor"] <= 100:
        raise _fail("loadPeakFactor", v["loadPeakFactor"], "expected 1 to 100 (the peak rate over the average)")
    if not 64 <= v["loadEventBytes"] <= 1_048_576:
        raise _fail("loadEventBytes", v["loadEventBytes"],
                    "expected 64 to 1048576 bytes (Kafka's default message limit)")
    return LoadSettings(ingest_calls_per_day=v["loadIngestCallsPerDay"], api_calls_per_day=v["loadApiCallsPerDay"],
                        peak_factor=v["loadPeakFactor"], event_bytes=v["loadEventBytes"])


def _ci(v: Mapping[str, Any]) -> CiSettings:
    repository, connection = v["githubRepository"], v["githubConnectionArn"]
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise _fail("githubRepository", repository, "expected owner/name, such as ecomind/ecomind-infra")
    service = r"arn:aws[a-z-]*:(codeconnections|codestar-connections)"
    if not re.fullmatch(service + r":[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}", connection):
        raise _fail("githubConnectionArn", connection, "expected a CodeConnections ARN such as "
                    "arn:aws:codeconnections:us-east-1:111122223333:connection/<uuid>")
    return CiSettings(repository=repository, connection_arn=connection)


def _role_arn(key: str, arn: Any, account: str | None = None) -> str:
    if not isinstance(arn, str) or not _ROLE_ARN.match(arn):
        raise _fail(key, arn, "expected an IAM role ARN such as arn:aws:iam::111122223333:role/admin")
    if account and arn.split(":")[4] != account:
        raise _fail(key, arn, f"must be a role of the stack's account awsAccountId ({account})")
    return arn


def _account(raw_config: Mapping[str, Any], v: Mapping[str, Any]) -> str:
    """The stack's account, and the AWS provider's own guard on it (allowedAccountIds: the
    provider fails before any call with credentials of another account; pulumi-aws config)."""
    account = v["awsAccountId"]
    if not re.fullmatch(r"\d{12}", str(account)):
        raise _fail("awsAccountId", account, "expected a 12-digit AWS account ID")
    raw = raw_config.get("aws:allowedAccountIds")
    try:
        allowed = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        allowed = raw
    if allowed != [account]:
        raise ConfigError(f"invalid setting 'aws:allowedAccountIds' = {json.dumps(raw)}: must be "
                          f"[\"{account}\"] (awsAccountId), so that the AWS provider refuses any other account")
    return account


def _cluster_access(v: Mapping[str, Any]) -> tuple[str, tuple[ClusterAccess, ...]]:
    """Who reaches the Kubernetes API. EKS allows one access entry per principal and already
    made one for the creator (pulumi-eks sets bootstrapClusterCreatorAdminPermissions, cluster.ts),
    so a second entry for any principal fails with 409 ResourceInUseException: refused here."""
    account = v["awsAccountId"]
    creator = _role_arn("clusterCreatorRoleArn", v["clusterCreatorRoleArn"], account)
    deploy = _role_arn("ciDeployRoleArn", v["ciDeployRoleArn"], account)
    preview = _role_arn("ciPreviewRoleArn", v["ciPreviewRoleArn"], account)
    if preview in (creator, deploy):
        raise _fail("ciPreviewRoleArn", preview, "must differ from clusterCreatorRoleArn and ciDeployRoleArn: "
                    "previews get read-only cluster access, the creator and deploy role cluster admin")
    wanted = [(f"admin-{index}", _role_arn("clusterAdminRoleArns", arn, account), ADMIN_ACCESS_POLICY)
              for index, arn in enumerate(v["clusterAdminRoleArns"])]
    if deploy != creator:
        wanted.append(("ci-deploy", deploy, ADMIN_ACCESS_POLICY))
    wanted.append(("ci-preview", preview, READ_ONLY_ACCESS_POLICY))
    seen = {creator: "clusterCreatorRoleArn"}
    for key, arn, _ in wanted:
        setting = "clusterAdminRoleArns" if key.startswith("admin-") else {"ci-deploy": "ciDeployRoleArn",
                                                                          "ci-preview": "ciPreviewRoleArn"}[key]
        if arn in seen:
            raise _fail(setting, arn, f"is already given cluster access as {seen[arn]}; EKS takes one access entry "
                        "per principal (a second fails with 409 ResourceInUseException): list it once")
        seen[arn] = setting
    return creator, tuple(ClusterAccess(key, arn, policy) for key, arn, policy in wanted)


def _validate_environment_rules(s: StackSettings) -> None:
    """What prod refuses outright: anything that stops it surviving the loss of one zone."""
    if not s.is_prod:
        return
    if "0.0.0.0/0" in s.cluster.public_access_cidrs:
        raise _fail("clusterPublicAccessCidrs", list(s.cluster.public_access_cidrs),
                    "0.0.0.0/0 is not allowed in prod; list the CIDRs that deploy the stack")
    if not s.network.nat_gateway_per_az:
        raise _fail("natGateways", "single", "prod needs perAz so that losing one zone keeps egress")
    zones = len(s.network.availability_zone_ids)
    if s.database.timescale and s.database.timescale.instances < 3:
        raise _fail("timescaledbInstances", s.database.timescale.instances,
                    "prod needs at least 3 (a primary and two synchronous standbys in three zones)")
    for group in s.cluster.node_groups:
        if group.zone_index is None and group.min_size < zones:
            raise _fail(f"{group.name}NodeMinSize", group.min_size,
                        f"prod needs at least one node per zone ({zones})")


def load(raw_config: Mapping[str, Any], *, stack: str, region: str | None,
         today: datetime.date | None = None) -> StackSettings:
    """Validate and type every setting. Pure: no Pulumi runtime needed."""
    v = _values(raw_config)
    today = today or datetime.date.today()
    environment = _one_of("environment", v["environment"], ENVIRONMENTS)

    account = _account(raw_config, v)
    region = region or "us-east-1"
    if region not in REGION_AVAILABILITY_ZONE_IDS:
        raise ConfigError(f"invalid setting 'aws:region' = {region!r}: supported regions are "
                          + ", ".join(REGION_AVAILABILITY_ZONE_IDS))
    zones_available = tuple(z for z in REGION_AVAILABILITY_ZONE_IDS[region] if z not in EKS_UNSUPPORTED_ZONE_IDS)
    zone_count = v["availabilityZoneCount"]
    if not 2 <= zone_count <= len(zones_available):
        raise _fail("availabilityZoneCount", zone_count,
                    f"must be between 2 and {len(zones_available)} (the zones {region} offers this project and EKS: "
                    + ", ".join(zones_available) + ")")

    vpc = _cidr("vpcCidr", v["vpcCidr"])
    if not 16 <= vpc.prefixlen <= 24:
        raise _fail("vpcCidr", v["vpcCidr"], "prefix length must be between /16 and /24 (the VPC limits)")
    if not vpc.is_private:
        raise _fail("vpcCidr", v["vpcCidr"], "must be a private (RFC 1918) range")
    if vpc.overlaps(ipaddress.IPv4Network(KUBERNETES_SERVICE_CIDR)):
        raise _fail("vpcCidr", v["vpcCidr"], f"overlaps the clusters' Kubernetes service range "
                    f"{KUBERNETES_SERVICE_CIDR}, which EKS refuses")
    private_prefix = v["privateSubnetPrefixLength"]
    if not 16 <= private_prefix <= 27:
        raise _fail("privateSubnetPrefixLength", private_prefix, "must be between 16 and 27")
    subnets = _layout_subnets("vpcCidr", vpc, zone_count, private_prefix)

    retention = v["logRetentionDays"]
    if retention not in CLOUDWATCH_RETENTION_DAYS:
        raise _fail("logRetentionDays", retention,
                    "must be a CloudWatch retention value: " + ", ".join(map(str, CLOUDWATCH_RETENTION_DAYS)))

    version = v["kubernetesVersion"]
    supported = [k for k, ends in EKS_STANDARD_SUPPORT_ENDS.items()
                 if ends >= today and k in ADDON_VERSIONS and k in AMI_RELEASE_VERSIONS]
    if version not in supported:
        raise _fail("kubernetesVersion", version,
                    f"must be a version in EKS standard support on {today.isoformat()}: " + ", ".join(supported))

    public_cidrs = tuple(str(_cidr("clusterPublicAccessCidrs", c)) for c in v["clusterPublicAccessCidrs"])
    creator, access_entries = _cluster_access(v)

    database = _database(v, environment, zone_count, retention)
    node_groups = tuple(_node_group(g, v) for g in NODE_GROUP_NAMES)
    if v["workloadNodeGroupPerZone"]:
        node_groups = tuple(zonal for g in node_groups
                            for zonal in (_per_zone(g, zones_available[:zone_count]) if g.name == "workload" else (g,)))
    if database.timescale:
        node_groups += _database_node_groups(database.timescale, zones_available[:zone_count])
    tags = {"project": PROJECT, "environment": environment, "stack": stack,
            "owner": v["owner"], "cost-centre": v["costCentre"], "managed-by": "pulumi"}
    settings = StackSettings(
        project=PROJECT,
        stack=stack,
        environment=environment,
        account_id=account,
        region=region,
        tags=tags,
        network=NetworkSettings(
            vpc_cidr=str(vpc),
            availability_zone_ids=zones_available[:zone_count],
            subnets=subnets,
            nat_gateway_per_az=_one_of("natGateways", v["natGateways"], NAT_MODES) == "perAz",
            log_retention_days=retention,
        ),
        cluster=ClusterSettings(
            name=f"{PROJECT}-{stack}",
            kubernetes_version=version,
            public_access_cidrs=public_cidrs,
            creator_role_arn=creator,
            ci_deploy_role_arn=v["ciDeployRoleArn"],
            ci_preview_role_arn=v["ciPreviewRoleArn"],
            access_entries=access_entries,
            node_groups=node_groups,
            addon_versions=ADDON_VERSIONS[version],
            ami_release_version=AMI_RELEASE_VERSIONS[version],
            log_retention_days=retention,
        ),
        database=database,
        streaming=_streaming(v, environment, zone_count, retention),
        cache=_cache(v, environment, zone_count, retention),
        edge=_edge(v, region),
        app=_app(v),
        cost=_cost(v),
        load=_load(v),
        office_hours=_office_hours(v, environment),
        dr_region=_dr_region(v, environment, region),
        recovery=_recovery(v, stack, account, region),
        ci=_ci(v),
        signing_keys=_signing_keys(v),
    )
    _validate_environment_rules(settings)
    return settings


def describe_opt_outs(raw_config: Mapping[str, Any]) -> list[str]:
    """Settings a stack moved away from the production-grade default, one line each."""
    v = _values(raw_config)
    return [f"{key} = {json.dumps(v[key])} (default {json.dumps(s.default)})"
            for key, s in SETTINGS_BY_KEY.items()
            if not s.required and v[key] != s.default]


def raw_config_from_runtime() -> dict[str, Any]:
    """All config the engine passed to this program, keyed `namespace:key`."""
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def load_from_runtime() -> StackSettings:
    """The settings of the stack being deployed (real engine or the offline plan)."""
    raw = raw_config_from_runtime()
    return load(raw, stack=pulumi.get_stack(), region=raw.get("aws:region"))
