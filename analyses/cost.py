"""A monthly cost estimate of a plan, line by line, from pricing/prices.csv.

Every billable resource type has a pricing rule here; every type that AWS does not bill is
listed in FREE_TYPES with the reason. A type in neither becomes an unpriced line, which fails
the plan: there is no silent zero. Usage the plan cannot know (GB through NAT, log GB, S3 GB,
CloudFront GB) comes from the stack's usage settings.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from analyses import packing
from analyses.model import Plan, PlannedResource
from settings import WEEKDAYS

PRICES_FILE = Path(__file__).resolve().parent.parent / "pricing" / "prices.csv"
HOURS_PER_MONTH = 730  # AWS pricing convention: 24 x 365 / 12
# Spot price as a fraction of on-demand: an assumption (AWS Spot pricing history for m6i/t3
# in us-east-1 sits at 30-40% of on-demand); the real price moves hourly.
SPOT_FRACTION = 0.35
# Where the plan cannot see usage, named assumptions (each used in exactly one line below).
ECR_GB_PER_REPOSITORY = 5      # about 10 release images of ~500 MB kept per service
REPLICATED_REPOSITORIES = 8    # the bootstrap's ECR replication: four services in each of dev and prod
ASSETS_GB = 1                  # a Next.js build's static assets
ALB_LCU = 1                    # 100k-1M requests a day stays under one LCU on average
ALB_REQUESTS_PER_MONTH = 30_000_000  # the top of that range, 1M requests a day, for the ALB's WAF
CDN_REQUESTS_PER_GB = 20_000   # ~50 KB per asset request
VENDED_LOG_FRACTION = 0.05     # CloudFront access logs as a share of served GB
CI_MINUTES_PER_MONTH = 1_500   # ~60 pull requests x 4 jobs x 5 minutes, plus deploys and nightly drift
# In-cluster database backups (barman-cloud): one full base backup a day, kept for the retention
# window, plus the WAL between them. Assumptions: gzip halves the data; an ingested event writes
# about 1 KB of WAL (its rollup upserts and their index entries), so 100k calls a day write 0.1 GB.
BACKUP_COMPRESSION = 0.5
WAL_BYTES_PER_EVENT = 1000
# S3 request metrics publish up to 16 metrics per filter, only for request kinds that occur;
# assumption: a backup folder sees about 10 of them (puts, gets, lists, deletes, heads, bytes,
# errors and latencies).
METRICS_PER_REQUEST_FILTER = 10

# Container Insights with enhanced observability bills each observation: one value of one metric of
# one node, pod or container per collection (60 s by default; CloudWatch user guide, "Container
# Insights with enhanced observability for Amazon EKS"). Assumptions, from the agent's metric
# declarations (aws/amazon-cloudwatch-agent translator/translate/otel/exporter/awsemf/kubernetes.go
# at ab55b8d): about 40 values a node and 50 a pod with its containers. The pods are the plan's:
# the release's replicas, the cluster's controllers and a DaemonSet pod a node (analyses/capacity.py).
OBSERVATIONS_PER_NODE = 40
OBSERVATIONS_PER_POD = 50
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60
COPY_PURPOSE = " (region-loss copy)"  # components/region_copies.py names a copy's purpose so
CANARY_ARTIFACT_MB_PER_RUN = 0.02
OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"

# The account baseline (bootstrap/): usage the plan cannot see, named assumptions.
TRAIL_GB_STORED = 12             # a year of gzip'd management events for one account, ~1 GB a month
STATE_GB_STORED = 1              # every stack's checkpoints and their kept versions
MANAGEMENT_EVENTS_M = 2          # million CloudTrail management events a month (CI, controllers, operators)
EKS_AUDIT_EVENTS_M = 20          # million EKS audit events a month across the account's clusters
RUNTIME_VCPUS = 24               # node vCPUs under GuardDuty Runtime Monitoring (dev 8 + prod 16, on demand)
SECURITY_HUB_CHECKS = 20_000     # FSBP + CIS checks a month; AWS moved Security Hub to per-resource plans in 2025
CONFIG_ITEMS = 10_000            # configuration items a month recorded continuously (nodes, ENIs, pods' ENIs churn)

FREE_TYPES = {
    "pulumi:pulumi:Stack": "not a cloud resource",
    "pulumi:providers:kubernetes": "not a cloud resource",
    "pulumi:providers:aws": "not a cloud resource",
    "kubernetes:core/v1:Namespace": "a Kubernetes object; its pods run on priced nodes",
    "kubernetes:external-secrets.io/v1:ClusterSecretStore": "a Kubernetes object",
    "kubernetes:external-secrets.io/v1:ExternalSecret": "a Kubernetes object",
    "kubernetes:storage.k8s.io/v1:StorageClass": "a Kubernetes object; volumes priced on the database cluster line",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "a Kubernetes object",
    "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding": "a Kubernetes object; the ALB and its target groups are priced",
    "kubernetes:postgresql.cnpg.io/v1:ImageCatalog": "a Kubernetes object",
    "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup": "a Kubernetes object; backups priced on the bucket line",
    "kubernetes:barmancloud.cnpg.io/v1:ObjectStore": "a Kubernetes object; backups priced on the bucket line",
    "aws:ec2/vpc:Vpc": "VPCs are free", "aws:ec2/subnet:Subnet": "free",
    "aws:ec2/routeTable:RouteTable": "free", "aws:ec2/route:Route": "free",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "free",
    "aws:ec2/internetGateway:InternetGateway": "free (data transfer is priced per NAT and CloudFront line)",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "free", "aws:ec2/securityGroup:SecurityGroup": "free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "free",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "free",
    "aws:codebuild/webhook:Webhook": "free (builds priced on the project line)",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "S3 gateway endpoints are free",
    "aws:ec2/flowLog:FlowLog": "billed as CloudWatch log ingestion (log group lines)",
    "aws:ec2/launchTemplate:LaunchTemplate": "free; volumes priced on the node group line",
    "aws:iam/role:Role": "IAM is free", "aws:iam/rolePolicy:RolePolicy": "IAM is free",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM is free",
    "aws:kms/alias:Alias": "free", "aws:kms/keyPolicy:KeyPolicy": "free",
    "eks:index:VpcCniAddon": "EKS add-ons are free",
    "aws:rds/subnetGroup:SubnetGroup": "free", "aws:rds/parameterGroup:ParameterGroup": "free",
    "aws:elasticache/subnetGroup:SubnetGroup": "free",
    "aws:msk/configuration:Configuration": "free", "aws:msk/topic:Topic": "free (storage priced on the cluster)",
    "aws:appautoscaling/target:Target": "free", "aws:appautoscaling/policy:Policy": "free",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "free",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "free",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "free (bucket keys keep KMS requests negligible)",
    "aws:s3/bucketVersioning:BucketVersioning": "free (noncurrent versions expire in 30 days)",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "free",
    "aws:s3/bucketPolicy:BucketPolicy": "free", "aws:s3/bucketLogging:BucketLogging": "free (log objects in the log bucket)",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "free",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "free",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "free", "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "free",
    "kubernetes:helm.sh/v3:Release": "charts run on the priced nodes",
    "aws:lb/targetGroup:TargetGroup": "free (the ALB's hours and LCUs are on its line)",
    "aws:lb/listener:Listener": "free (priced on the ALB line)", "aws:lb/listenerRule:ListenerRule": "free",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "free (the web ACL's line prices its requests)",
    "aws:acm/certificate:Certificate": "public ACM certificates are free",
    "aws:acm/certificateValidation:CertificateValidation": "free",
    "aws:route53/record:Record": "records in an existing zone; queries at this volume round to $0",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "free",
    "aws:secretsmanager/secretVersion:SecretVersion": "priced on the secret line",
    "random:index/randomPassword:RandomPassword": "not a cloud resource",
    "aws:budgets/budget:Budget": "budgets without actions are $0 (AWS Budgets price list, budgets.budget row)",
    "aws:sns/topic:Topic": "the first 1M publishes and 1,000 emails a month are free",
    "aws:sns/topicPolicy:TopicPolicy": "free", "aws:sns/topicSubscription:TopicSubscription": "free",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration":
        "free (the logs are priced on their log group line)",
    # The bootstrap project's account baseline and delivery settings.
    "pulumi:providers:github": "not a cloud resource",
    "aws:iam/policy:Policy": "IAM is free", "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM is free",
    "aws:accessanalyzer/analyzer:Analyzer": "account analyzers of external access are free (IAM Access Analyzer pricing)",
    "aws:cloudtrail/trail:Trail": "the first copy of management events is free; its storage is on the trail bucket line",
    "aws:cloudwatch/eventRule:EventRule": "events from AWS services to EventBridge are free",
    "aws:scheduler/schedule:Schedule": "EventBridge Scheduler's first 14 million invocations a month are free",
    "aws:scheduler/scheduleGroup:ScheduleGroup": "a container for schedules",
    "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": "settings for repositories ECR creates",
    "aws:cloudwatch/eventTarget:EventTarget": "free (SNS publishes are free at this volume)",
    "aws:ebs/encryptionByDefault:EncryptionByDefault": "free (a setting)",
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": "IAM is free",
    "aws:cfg/deliveryChannel:DeliveryChannel": "free (snapshots are stored on the trail bucket line)",
    "aws:cfg/recorderStatus:RecorderStatus": "free (the recorder's items are priced on its line)",
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock": "free (a setting)",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "free (a setting)",
    "aws:securityhub/account:Account": "billed per check on the standards lines",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": "a GitHub setting",
    "github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
    "ActionsRepositoryOidcSubjectClaimCustomizationTemplate": "a GitHub setting",
    "github:index/repositoryEnvironment:RepositoryEnvironment": "a GitHub setting",
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy": "a GitHub setting",
}


@dataclasses.dataclass(frozen=True)
class Price:
    id: str
    service: str
    dimension: str
    unit: str
    usd: float
    source: str
    read_on: str


@dataclasses.dataclass(frozen=True)
class Line:
    component: str
    resource: str
    dimension: str
    quantity: float
    unit: str
    unit_usd: float
    monthly_usd: float
    source: str


def load_prices(path: Path = PRICES_FILE) -> dict[str, Price]:
    with path.open() as handle:
        rows = [row for row in csv.DictReader(line for line in handle if not line.startswith("#"))]
    return {row["id"]: Price(row["id"], row["service"], row["dimension"], row["unit"], float(row["usd"]),
                             row["source"], row["read_on"]) for row in rows}


@dataclasses.dataclass(frozen=True)
class Usage:
    nat_gb: int
    log_gb: int
    storage_gb: int
    cdn_gb: int
    database_gb: int = 0

    @classmethod
    def of(cls, settings: Any) -> Usage:
        """The usage a stack's cost settings (`settings.CostSettings`) declare."""
        return cls(nat_gb=settings.nat_gb, log_gb=settings.log_gb, storage_gb=settings.storage_gb,
                   cdn_gb=settings.cdn_gb, database_gb=settings.database_gb)


class _Estimator:
    def __init__(self, plan: Plan, prices: Mapping[str, Price], usage: Usage):
        self.plan, self.prices, self.usage = plan, prices, usage
        self.by_urn = {r.urn: r for r in plan.resources}
        self.lines: list[Line] = []

    def component(self, resource: PlannedResource) -> str:
        """The top-level component a resource belongs to (what the table groups by)."""
        current = resource
        while current.parent and self.by_urn[current.parent].type != "pulumi:pulumi:Stack":
            current = self.by_urn[current.parent]
        return current.name

    def add(self, resource: PlannedResource, price_id: str, quantity: float, note: str = "") -> None:
        price = self.prices[price_id]
        self.lines.append(Line(self.component(resource), resource.name, price.dimension + (f" ({note})" if note else ""),
                               round(quantity, 3), price.unit, price.usd, round(quantity * price.usd, 2),
                               f"{price.id}: {price.source}"))

    def hours(self, resource, price_id, count=1, note=""):
        self.add(resource, price_id, count * HOURS_PER_MONTH, note)


def running_fraction(plan: Plan, api: str, key: str, value: Any) -> float:
    """Share of the week a resource runs when office-hours schedules stop and start it
    (components/office_hours.py): the hours between its start and its stop on the days they
    name, over a week's 168; 1 when nothing stops it. `api` is the service prefix of the
    Scheduler target (eks:, rds:, synthetics:), `key` the payload field naming the resource."""
    times = {}
    for schedule in plan.of_type("aws:scheduler/schedule:Schedule"):
        target = schedule.inputs["target"]
        if not target["arn"].startswith(f"arn:aws:scheduler:::aws-sdk:{api}"):
            continue
        payload = json.loads(target.get("input") or "{}")
        if payload.get(key) != value:
            continue
        minute, hour, _, _, days, _ = schedule.inputs["scheduleExpression"].removeprefix("cron(").rstrip(")").split()
        stopping = target["arn"].lower().endswith(("stopdbinstance", "stopcanary")) or (
            payload.get("ScalingConfig", {}).get("DesiredSize") == 0)
        times["stop" if stopping else "start"] = (int(hour) + int(minute) / 60, days)
    if set(times) != {"stop", "start"}:
        return 1.0
    (stop, days), (start, _) = times["stop"], times["start"]
    first, last = (WEEKDAYS.index(d) for d in days.split("-"))
    return (last - first + 1) * (stop - start) / (7 * 24)


def _node_group(e: _Estimator, r: PlannedResource) -> None:
    instance = r.inputs["instanceTypes"][0]
    nodes = r.inputs["scalingConfig"]["desiredSize"]
    spot = r.inputs.get("capacityType") == "SPOT"
    price = e.prices[f"ec2.{instance}"]
    running = running_fraction(e.plan, "eks:", "NodegroupName", r.inputs.get("nodeGroupName"))
    hours = nodes * HOURS_PER_MONTH * running
    kind = f"spot (assumed {int(SPOT_FRACTION * 100)}% of on-demand)" if spot else "on-demand"
    when = f", {running:.0%} of the week (office hours)" if running < 1 else ""
    e.lines.append(Line(e.component(r), r.name, f"{instance} {kind}{when}",
                        round(hours, 3), "hour", round(price.usd * (SPOT_FRACTION if spot else 1), 5),
                        round(hours * price.usd * (SPOT_FRACTION if spot else 1), 2), f"{price.id}: {price.source}"))
    template = next((e.by_urn[d] for d in r.dependencies if e.by_urn[d].type == "aws:ec2/launchTemplate:LaunchTemplate"),
                    None)
    volume = template.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] if template else 20
    # A node's root volume is deleted with it (delete_on_termination): stopped hours cost nothing.
    e.add(r, "ebs.gp3.gb", nodes * volume * running, f"{nodes} x {volume} GiB root volumes{when}")


def _nat(e: _Estimator, r: PlannedResource) -> None:
    nats = len(e.plan.of_type("aws:ec2/natGateway:NatGateway"))
    e.hours(r, "vpc.nat.hour")
    e.add(r, "vpc.nat.gb", e.usage.nat_gb / nats, "usageNatGbPerMonth shared across gateways")


def _rds(e: _Estimator, r: PlannedResource) -> None:
    multi = r.inputs.get("multiAz") is True
    # A stopped instance bills its storage, not its hours (RDS user guide, "Stopping an instance").
    running = running_fraction(e.plan, "rds:", "DbInstanceIdentifier", r.inputs.get("identifier"))
    e.add(r, f"rds.{r.inputs['instanceClass']}.{'multi' if multi else 'single'}", HOURS_PER_MONTH * running,
          f"{running:.0%} of the week (office hours)" if running < 1 else "")
    e.add(r, f"rds.gp3.gb.{'multi' if multi else 'single'}", r.inputs["allocatedStorage"])
    e.add(r, "secrets.secret", 1, "the RDS-managed master credentials secret")


def _msk(e: _Estimator, r: PlannedResource) -> None:
    brokers = r.inputs["numberOfBrokerNodes"]
    info = r.inputs["brokerNodeGroupInfo"]
    e.hours(r, f"msk.{info['instanceType']}", brokers, f"{brokers} brokers")
    volume = info["storageInfo"]["ebsStorageInfo"]["volumeSize"]
    e.add(r, "msk.storage.gb", brokers * volume, f"{brokers} x {volume} GB")


def _cache(e: _Estimator, r: PlannedResource) -> None:
    nodes = r.inputs.get("numCacheClusters", 1)
    e.hours(r, f"elasticache.{r.inputs['nodeType']}", nodes, f"{nodes} node(s)")


def _bucket(e: _Estimator, r: PlannedResource) -> None:
    purpose = r.inputs.get("tags", {}).get("purpose", "")
    if purpose.endswith(COPY_PURPOSE):
        # As much as their source holds: the stacks' copies in Standard-IA (components/region_copies.py),
        # the bootstrap's state copy in Standard.
        source = purpose.removesuffix(COPY_PURPOSE)
        if source == "pulumi state":
            e.add(r, "s3.standard.gb", STATE_GB_STORED, "region-loss copy of the state bucket")
        elif source == "database backups":
            # The copy keeps every replicated version for the same lock, as the source does.
            gb, _ = _backups_gb(e, r)
            e.add(r, "s3.ia.gb", gb, "region-loss copy of the database backups bucket")
        else:
            gb = {"reports and exports": e.usage.storage_gb}.get(source, e.usage.database_gb)
            e.add(r, "s3.ia.gb", gb, f"region-loss copy of the {source} bucket")
    elif purpose == "reports and exports":
        e.add(r, "s3.standard.gb", e.usage.storage_gb, "usageStorageGb, before tiering")
    elif purpose == "access logs":
        e.add(r, "s3.standard.gb", e.usage.log_gb, "access logs, kept for the log retention")
    elif purpose == "audit trail":
        e.add(r, "s3.standard.gb", TRAIL_GB_STORED, "assumed CloudTrail records kept under Object Lock")
    elif purpose == "pulumi state":
        e.add(r, "s3.standard.gb", STATE_GB_STORED, "assumed checkpoints and their versions")
    elif purpose == "database backups":
        gb, note = _backups_gb(e, r)
        e.add(r, "s3.standard.gb", gb, note)
    elif purpose == "canary artifacts":
        runs = sum(MINUTES_PER_MONTH / _canary_rate(c) for c in e.plan.of_type("aws:synthetics/canary:Canary"))
        e.add(r, "s3.standard.gb", runs * CANARY_ARTIFACT_MB_PER_RUN / 1000,
              f"a month of runs at an assumed {CANARY_ARTIFACT_MB_PER_RUN * 1000:.0f} KB each (log and HAR, no screenshot)")
    else:
        e.add(r, "s3.standard.gb", ASSETS_GB, "UI build assets")


def _backups_gb(e: _Estimator, r: PlannedResource) -> tuple[float, str]:
    """GB the in-cluster engine's backup bucket holds, and how that was reckoned."""
    [store] = e.plan.of_type("kubernetes:barmancloud.cnpg.io/v1:ObjectStore") or [None]
    days = int(store.inputs["spec"]["retentionPolicy"].rstrip("d")) if store else 0
    # What barman deletes past the retention stays as noncurrent versions (versioning guards
    # the backups against deletion) for as long as the bucket's lifecycle keeps them.
    lifecycle = next((x for x in e.plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                      if r.urn in x.dependencies), None)
    kept = lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"]["noncurrentDays"] if lifecycle else 0
    wal = e.plan.settings.get("load", {}).get("ingest_calls_per_day", 0) * WAL_BYTES_PER_EVENT / 1e9
    daily = e.usage.database_gb * BACKUP_COMPRESSION + wal
    return ((days + kept) * daily if store else 0,
            f"{days} days of daily base backups of {e.usage.database_gb} GB (usageDatabaseGb) at "
            f"{BACKUP_COMPRESSION:.0%} plus {wal:.2f} GB of WAL a day, and {kept} days of deleted versions")


def _database_cluster(e: _Estimator, r: PlannedResource) -> None:
    """The instances' EBS volumes; their nodes are priced on the database node group lines."""
    spec = r.inputs["spec"]
    instances = spec["instances"]
    for volume in ("storage", "walStorage"):
        size = int(spec[volume]["size"].removesuffix("Gi"))
        e.add(r, "ebs.gp3.gb", instances * size, f"{instances} x {size} GiB {volume}")


def _distribution(e: _Estimator, r: PlannedResource) -> None:
    # CloudFront's always-free tier: 1 TB out and 10M HTTPS requests a month (CloudFront pricing).
    e.add(r, "cloudfront.gb", max(0, e.usage.cdn_gb - 1024), f"{e.usage.cdn_gb} GB (usageCdnGbPerMonth) less the free 1 TB")
    requests = e.usage.cdn_gb * CDN_REQUESTS_PER_GB
    e.add(r, "cloudfront.requests.10k", max(0, requests - 10_000_000) / 10_000,
          f"{requests:,} requests at ~50 KB less the free 10M")
    e.add(r, "cloudwatch.vended.gb", e.usage.cdn_gb * VENDED_LOG_FRACTION, "access logs to S3")


def _log_group(e: _Estimator, r: PlannedResource) -> None:
    groups = len(e.plan.of_type("aws:cloudwatch/logGroup:LogGroup"))
    share = e.usage.log_gb / groups
    e.add(r, "cloudwatch.logs.ingest.gb", share, "usageLogGbPerMonth shared across log groups")
    months = min(r.inputs.get("retentionInDays", 30), 365) / 30
    e.add(r, "cloudwatch.logs.storage.gb", share * months / 2, f"average stored over {months:.0f} month(s) of retention")


def _load_balancer(e: _Estimator, r: PlannedResource) -> None:
    e.hours(r, "elb.alb.hour")
    e.hours(r, "elb.alb.lcu", ALB_LCU, f"assumed {ALB_LCU} LCU average")
    # An internet-facing ALB holds a public IPv4 address in each of its subnets; an internal one
    # only private addresses, which are free (VPC pricing, public IPv4 addresses).
    if not r.inputs.get("internal"):
        e.hours(r, "vpc.ipv4.hour", len(r.inputs.get("subnets", [])), "a public IPv4 address per subnet")


def _addon(e: _Estimator, r: PlannedResource) -> None:
    """EKS add-ons are free (their pods run on priced nodes); the observability add-on's metrics are not."""
    if r.inputs.get("addonName") != OBSERVABILITY_ADDON:
        return
    groups = e.plan.of_type("eks:index:ManagedNodeGroup")
    nodes = sum(g.inputs["scalingConfig"]["desiredSize"] for g in groups)
    pods = packing.pods_running(e.plan, nodes)
    # Nothing is collected from stopped nodes: the share of node-hours the groups run.
    running = sum(g.inputs["scalingConfig"]["desiredSize"] * running_fraction(
        e.plan, "eks:", "NodegroupName", g.inputs.get("nodeGroupName")) for g in groups) / nodes
    per_minute = nodes * OBSERVATIONS_PER_NODE + pods * OBSERVATIONS_PER_POD
    e.add(r, "cloudwatch.containerinsights.observation.m", per_minute * MINUTES_PER_MONTH * running / 1e6,
          f"{nodes} nodes x {OBSERVATIONS_PER_NODE} + {pods} pods x {OBSERVATIONS_PER_POD} a minute"
          + (f", {running:.0%} of the week" if running < 1 else ""))


def _canary_rate(r: PlannedResource) -> int:
    """Minutes between a canary's runs, from its `rate(N minutes)` schedule."""
    expression = r.inputs["schedule"]["expression"]
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)  # CloudWatch Synthetics schedule syntax
    if not match:
        raise LookupError(f"cost: no pricing rule for a canary schedule of {expression}")
    return int(match.group(1))


def _canary(e: _Estimator, r: PlannedResource) -> None:
    minutes = _canary_rate(r)
    running = running_fraction(e.plan, "synthetics:", "Name", r.inputs.get("name"))
    e.add(r, "synthetics.run", MINUTES_PER_MONTH / minutes * running, f"a run every {minutes} minutes"
          + (f", {running:.0%} of the week (office hours)" if running < 1 else ""))


def _replication(e: _Estimator, r: PlannedResource) -> None:
    """What S3 replication carries between regions in a month: the in-cluster engine's month of
    daily base backups and WAL; for other buckets, new objects assumed a twelfth of the bucket's
    usage (a year's growth)."""
    purpose = next((e.by_urn[d].inputs.get("tags", {}).get("purpose", "") for d in r.dependencies
                    if e.by_urn[d].type == "aws:s3/bucket:Bucket"), "")
    if purpose == "database backups":
        wal = e.plan.settings.get("load", {}).get("ingest_calls_per_day", 0) * WAL_BYTES_PER_EVENT / 1e9
        gb = 30 * (e.usage.database_gb * BACKUP_COMPRESSION + wal)
    else:
        gb = (STATE_GB_STORED if purpose == "pulumi state" else e.usage.storage_gb) / 12
    e.add(r, "transfer.interregion.gb", gb, "region-loss copy: a month's new objects to drRegion")


def _secret(e: _Estimator, r: PlannedResource) -> None:
    e.add(r, "secrets.secret", 1)
    replicas = len(r.inputs.get("replicas") or [])
    if replicas:
        # A replica is billed as a secret of its own (Secrets Manager pricing).
        e.add(r, "secrets.secret", replicas, "region-loss copy: a replica in drRegion")


def _backup_replication(e: _Estimator, r: PlannedResource) -> None:
    """RDS automated backups in a second region: the snapshots and transaction logs kept there for
    the retention, and what crosses regions to keep them (RDS pricing, backup storage; EC2 data
    transfer between regions). Assumptions: the database is usageDatabaseGb and changes about
    its WAL a day (WAL_BYTES_PER_EVENT x the ingest load)."""
    days = r.inputs.get("retentionPeriod") or 7
    daily = e.plan.settings.get("load", {}).get("ingest_calls_per_day", 0) * WAL_BYTES_PER_EVENT / 1e9
    stored = e.usage.database_gb + daily * days
    e.add(r, "rds.backup.gb", stored, f"region-loss copy: {e.usage.database_gb} GB and {days} days of changes")
    e.add(r, "transfer.interregion.gb", e.usage.database_gb + daily * 30,
          "region-loss copy: a full copy and a month of changes to drRegion")


def _metric_alarm(e: _Estimator, r: PlannedResource) -> None:
    # CloudWatch bills each metric an alarm evaluates: a metric-math alarm pays for every metric
    # in its expression (CloudWatch pricing, alarms).
    metrics = sum(1 for q in r.inputs.get("metricQueries", []) if "metric" in q) or 1
    e.add(r, "cloudwatch.alarm", metrics, f"{metrics} metrics in the alarm" if metrics > 1 else "")


def _health_check(e: _Estimator, r: PlannedResource) -> None:
    e.add(r, "route53.healthcheck", 1)
    if r.inputs.get("type") in ("HTTPS", "HTTPS_STR_MATCH"):
        e.add(r, "route53.healthcheck.feature", 1, "HTTPS")


def _web_acl(e: _Estimator, r: PlannedResource) -> None:
    e.add(r, "waf.webacl", 1)
    e.add(r, "waf.rule", len(r.inputs.get("rules", [])), "managed rule groups, one rule each")
    if r.inputs["scope"] == "CLOUDFRONT":
        requests = e.usage.cdn_gb * CDN_REQUESTS_PER_GB
        e.add(r, "waf.requests.m", requests / 1e6, f"{requests:,} CloudFront requests at ~50 KB")
    else:
        e.add(r, "waf.requests.m", ALB_REQUESTS_PER_MONTH / 1e6, "assumed ALB requests a month")


def _guardduty_feature(e: _Estimator, r: PlannedResource) -> None:
    if r.inputs["name"] == "EKS_AUDIT_LOGS":
        e.add(r, "guardduty.eks.audit.events.m", EKS_AUDIT_EVENTS_M, "assumed EKS audit events a month")
    elif r.inputs["name"] == "RUNTIME_MONITORING":
        e.add(r, "guardduty.runtime.eks.vcpu", RUNTIME_VCPUS, "assumed node vCPUs monitored")
    else:
        raise LookupError(f"cost: no pricing rule for GuardDuty feature {r.inputs['name']}")


def _security_hub_standard(e: _Estimator, r: PlannedResource) -> None:
    standards = len(e.plan.of_type("aws:securityhub/standardsSubscription:StandardsSubscription"))
    e.add(r, "securityhub.check", SECURITY_HUB_CHECKS / standards, "assumed checks a month, shared across standards")


RULES: dict[str, Callable[[_Estimator, PlannedResource], None]] = {
    "eks:index:Cluster": lambda e, r: e.hours(r, "eks.cluster.hour"),
    "eks:index:ManagedNodeGroup": _node_group,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": lambda e, r: e.hours(r, "vpc.ipv4.hour"),
    "aws:rds/instance:Instance": _rds,
    "aws:msk/cluster:Cluster": _msk,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:cloudfront/distribution:Distribution": _distribution,
    "aws:kms/key:Key": lambda e, r: e.add(r, "kms.key", 1),
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:kms/replicaKey:ReplicaKey": lambda e, r: e.add(r, "kms.key", 1, "region-loss copy: a multi-Region replica"),
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": lambda e, r: e.add(
        r, "ecr.storage.gb", ECR_GB_PER_REPOSITORY * REPLICATED_REPOSITORIES,
        f"region-loss copy: {REPLICATED_REPOSITORIES} repositories' images in drRegion"),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": _replication,
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": _backup_replication,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:eks/addon:Addon": _addon,
    "aws:synthetics/canary:Canary": _canary,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": lambda e, r: e.add(r, "cloudwatch.alarm.composite", 1),
    "aws:cloudwatch/dashboard:Dashboard": lambda e, r: e.add(
        r, "cloudwatch.dashboard", 1, "priced as if the account's 3 free dashboards were in use"),
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:cloudwatch/logDelivery:LogDelivery": lambda e, r: None,  # priced on the distribution line
    "aws:ecr/repository:Repository": lambda e, r: e.add(r, "ecr.storage.gb", ECR_GB_PER_REPOSITORY,
                                                        f"assumed {ECR_GB_PER_REPOSITORY} GB of images"),
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "kubernetes:postgresql.cnpg.io/v1:Cluster": _database_cluster,
    "aws:s3/bucketMetric:BucketMetric": lambda e, r: e.add(r, "cloudwatch.metric", METRICS_PER_REQUEST_FILTER,
                                                           f"assumed {METRICS_PER_REQUEST_FILTER} request metrics"),
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:guardduty/detector:Detector": lambda e, r: e.add(r, "guardduty.cloudtrail.events.m", MANAGEMENT_EVENTS_M,
                                                          "assumed management events a month"),
    "aws:guardduty/detectorFeature:DetectorFeature": _guardduty_feature,
    "aws:securityhub/standardsSubscription:StandardsSubscription": _security_hub_standard,
    "aws:cfg/recorder:Recorder": lambda e, r: e.add(r, "config.item", CONFIG_ITEMS,
                                                    "assumed configuration items a month"),
    "aws:codebuild/project:Project": lambda e, r: e.add(r, "codebuild.general1.medium.minute", CI_MINUTES_PER_MONTH,
                                                        "assumed CI minutes a month"),
}


def estimate(plan: Plan, usage: Usage, prices: Mapping[str, Price] | None = None) -> dict[str, Any]:
    """The plan's `cost` section."""
    prices = prices or load_prices()
    e = _Estimator(plan, prices, usage)
    unpriced = []
    for resource in plan.resources:
        rule = RULES.get(resource.type)
        if rule is not None:
            rule(e, resource)
        elif resource.type not in FREE_TYPES and resource.custom:
            unpriced.append({"urn": resource.urn, "type": resource.type})
    components: dict[str, float] = {}
    for line in e.lines:
        components[line.component] = round(components.get(line.component, 0) + line.monthly_usd, 2)
    total = round(sum(line.monthly_usd for line in e.lines), 2)
    copies = round(sum(line.monthly_usd for line in e.lines if is_region_copy(line)), 2)
    return {
        "currency": "USD",
        "region": "us-east-1",
        "hours_per_month": HOURS_PER_MONTH,
        "total_monthly_usd": total,
        "region_copies_monthly_usd": copies,
        "components": dict(sorted(components.items(), key=lambda item: -item[1])),
        "lines": [dataclasses.asdict(line) for line in sorted(e.lines, key=lambda line: -line.monthly_usd)],
        "unpriced": unpriced,
    }


SECTION = "cost"


def analyse(plan: Plan) -> dict[str, Any]:
    """The `cost` section: the estimate, and failures for an unpriced type or a blown budget."""
    budget = plan.settings["monthly_budget_usd"]
    section = estimate(plan, Usage(**plan.settings["usage"]))
    failures = [f"cost: no price for {u['type']} ({u['urn']})" for u in section["unpriced"]]
    if budget is not None and section["total_monthly_usd"] > budget:
        failures.append(f"cost: the estimate ({section['total_monthly_usd']:,.2f} USD a month) exceeds "
                        f"monthlyBudgetUsd ({budget:,})")
    limit = f"budget {budget:,} USD" if budget is not None else "the account baseline: outside the stacks' budgets"
    summary = [f"Monthly cost estimate (us-east-1 on-demand, pricing/prices.csv; {limit}):",
               *format_table(section), "  largest lines:", *top_lines(section)]
    return {**section, "failures": failures, "summary": summary}


def is_region_copy(line: Line) -> bool:
    """A line of the region-loss copies (drRegion): its own line in the totals, on top of the platform."""
    return "region-loss cop" in line.dimension or line.resource.endswith("-copy") or line.resource == "dr-copies-key"


def format_table(cost: Mapping[str, Any]) -> list[str]:
    width = max(len(name) for name in cost["components"])
    lines = [f"  {name:<{width}}  {usd:>10,.2f}" for name, usd in cost["components"].items()]
    lines.append(f"  {'total':<{width}}  {cost['total_monthly_usd']:>10,.2f}  USD a month")
    if cost.get("region_copies_monthly_usd"):
        lines.append(f"  {'of which region-loss copies':<{width}}  {cost['region_copies_monthly_usd']:>10,.2f}  "
                     "(drRegion; lines marked region-loss copy)")
    return lines


def top_lines(cost: Mapping[str, Any], count: int = 5) -> list[str]:
    return [f"  {line['monthly_usd']:>9,.2f}  {line['resource']}: {line['dimension']}"
            for line in cost["lines"][:count]]


def ceil_usd(value: float) -> int:
    return math.ceil(value)
