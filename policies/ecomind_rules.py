"""EcoMind's guardrails, as plain functions over resources as the engine presents them.

Each rule sees a resource's type token, name, URN, input properties (wire names, as an
analyzer receives them) and whether it is protected. `pulumi preview --policy-pack policies`
runs them through `to_pulumi_policies()`; the offline plan runs them through `evaluate()`.
Every rule names the control it enforces: a CIS Amazon EKS Benchmark item, an EKS best
practices item, an AWS Foundational Security Best Practices (FSBP) control or a checkov ID.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

MANDATORY, ADVISORY = "mandatory", "advisory"
SECRET_MARKERS = ("[secret]",)
REQUIRED_TAGS = ("project", "environment", "owner", "cost-centre")
# Kubernetes versions in EKS standard support (the pack's default; overridable by config).
SUPPORTED_KUBERNETES_VERSIONS = ("1.34", "1.35", "1.36")
EKS_LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}

EKS_CLUSTER = ("eks:index:Cluster", "aws:eks/cluster:Cluster")
LAUNCH_TEMPLATE = ("aws:ec2/launchTemplate:LaunchTemplate",)
SUBNET = ("aws:ec2/subnet:Subnet",)
RDS = ("aws:rds/instance:Instance",)
RDS_PARAMETERS = ("aws:rds/parameterGroup:ParameterGroup",)
MSK = ("aws:msk/cluster:Cluster",)
CACHE = ("aws:elasticache/replicationGroup:ReplicationGroup",)
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
DISTRIBUTION = ("aws:cloudfront/distribution:Distribution",)
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
COMPOSITE_ALARM = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
CANARY = "aws:synthetics/canary:Canary"
ADDON = "aws:eks/addon:Addon"
EKS_CLUSTER = "eks:index:Cluster"
# The observability add-on and the log groups its writers use (components/telemetry.py).
OBSERVABILITY_ADDON = "amazon-cloudwatch-observability"
CONTAINER_LOG_KINDS = ("application", "dataplane", "host", "performance")
KMS_KEY = ("aws:kms/key:Key",)
INGRESS_RULE = ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",)
SECURITY_GROUP = ("aws:ec2/securityGroup:SecurityGroup",)
ROLE_POLICY = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy")
ROLE = ("aws:iam/role:Role",)
NAT = ("aws:ec2/natGateway:NatGateway",)
LOG_GROUP = ("aws:cloudwatch/logGroup:LogGroup",)
PG_CLUSTER = ("kubernetes:postgresql.cnpg.io/v1:Cluster",)
SCHEDULED_BACKUP = "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"
OBJECT_STORE = "kubernetes:barmancloud.cnpg.io/v1:ObjectStore"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
BACKUP_PLUGIN = "barman-cloud.cloudnative-pg.io"
# Types that accept tags and that this project creates; each must carry REQUIRED_TAGS.
TAGGABLE = (
    "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/flowLog:FlowLog", "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/launchTemplate:LaunchTemplate", "aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key", "aws:iam/role:Role",
    "aws:rds/instance:Instance", "aws:rds/subnetGroup:SubnetGroup", "aws:rds/parameterGroup:ParameterGroup",
    "aws:msk/cluster:Cluster", "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup", "aws:s3/bucket:Bucket", "aws:cloudfront/distribution:Distribution",
    "aws:acm/certificate:Certificate", "aws:ecr/repository:Repository", "aws:secretsmanager/secret:Secret",
    "aws:eks/addon:Addon", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "eks:index:Cluster",
    "eks:index:ManagedNodeGroup", "aws:sns/topic:Topic", "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:budgets/budget:Budget", "aws:codebuild/project:Project", "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup", "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule",
    "aws:synthetics/canary:Canary",
)


@dataclasses.dataclass(frozen=True)
class Resource:
    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    dependencies: Sequence[str] = ()


@dataclasses.dataclass(frozen=True)
class Config:
    environment: str = "prod"
    """Rules that differ between environments are strict unless told the stack is dev."""
    supported_kubernetes_versions: Sequence[str] = SUPPORTED_KUBERNETES_VERSIONS

    @property
    def prod(self) -> bool:
        return self.environment == "prod"


@dataclasses.dataclass(frozen=True)
class Violation:
    policy: str
    urn: str | None
    message: str
    enforcement: str


ResourceCheck = Callable[[Resource, Config], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Config], Iterable[tuple[str | None, str]]]


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    description: str
    control: str
    enforcement: str
    types: tuple[str, ...] | None = None
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _statements(document: Any) -> list[dict[str, Any]]:
    document = _json(document)
    return [s for s in _list((document or {}).get("Statement")) if isinstance(s, dict)]


def _cluster_view(props: Mapping[str, Any]) -> dict[str, Any]:
    """eks:index:Cluster (the component's inputs, offline) and aws:eks/cluster:Cluster (a real
    preview) say the same things in different shapes."""
    if "vpcConfig" in props:
        vpc = props.get("vpcConfig") or {}
        encryption = _list(props.get("encryptionConfig"))
        return {
            "private": vpc.get("endpointPrivateAccess"), "public": vpc.get("endpointPublicAccess"),
            "cidrs": vpc.get("publicAccessCidrs") or [], "logs": props.get("enabledClusterLogTypes") or [],
            "key": ((encryption[0] if encryption else {}).get("provider") or {}).get("keyArn"),
            "mode": (props.get("accessConfig") or {}).get("authenticationMode"), "version": props.get("version"),
        }
    return {
        "private": props.get("endpointPrivateAccess"), "public": props.get("endpointPublicAccess", True),
        "cidrs": props.get("publicAccessCidrs") or [], "logs": props.get("enabledClusterLogTypes") or [],
        "key": props.get("encryptionConfigKeyArn"), "mode": props.get("authenticationMode"),
        "version": props.get("version"),
    }


# --- EKS -----------------------------------------------------------------------------------------

def _eks_private(r: Resource, c: Config):
    if _cluster_view(r.props)["private"] is not True:
        yield "the EKS API private endpoint must be on"


def _eks_public(r: Resource, c: Config):
    view = _cluster_view(r.props)
    if view["public"] is False:
        return
    if not view["cidrs"] or ("0.0.0.0/0" in view["cidrs"] and c.prod):
        yield "a public EKS endpoint must be limited to listed CIDRs, never 0.0.0.0/0 in prod"


def _eks_private_only_in_prod(r: Resource, c: Config):
    if c.prod and _cluster_view(r.props)["public"] is not False:
        yield "prod's EKS API must have no public endpoint: CI reaches it from the runners in the VPC (ADR 0009)"


def _eks_logs(r: Resource, c: Config):
    missing = EKS_LOG_TYPES - set(_cluster_view(r.props)["logs"])
    if missing:
        yield f"control-plane log types missing: {', '.join(sorted(missing))}"


def _eks_secrets(r: Resource, c: Config):
    key = _cluster_view(r.props)["key"]
    if not (isinstance(key, str) and key.startswith("arn:aws") and ":kms:" in key):
        yield "Kubernetes secrets must be envelope-encrypted with a customer-managed KMS key"


def _eks_auth(r: Resource, c: Config):
    if _cluster_view(r.props)["mode"] != "API":
        yield "authentication mode must be API (access entries), not the aws-auth ConfigMap"


def _eks_version(r: Resource, c: Config):
    version = _cluster_view(r.props)["version"]
    if version not in c.supported_kubernetes_versions:
        yield f"Kubernetes {version} is not in EKS standard support ({', '.join(c.supported_kubernetes_versions)})"


# --- Nodes ---------------------------------------------------------------------------------------

def _imdsv2(r: Resource, c: Config):
    metadata = r.props.get("metadataOptions") or {}
    if metadata.get("httpTokens") != "required" or metadata.get("httpPutResponseHopLimit") != 1:
        yield "nodes must require IMDSv2 with a hop limit of 1"


def _encrypted_roots(r: Resource, c: Config):
    mappings = _list(r.props.get("blockDeviceMappings"))
    if not mappings or any(str((m.get("ebs") or {}).get("encrypted")).lower() != "true" for m in mappings):
        yield "every node volume must be encrypted"


def _no_public_ip(r: Resource, c: Config):
    if r.type in SUBNET and r.props.get("mapPublicIpOnLaunch") is True:
        yield "subnets must not give instances public IPs"
    for interface in _list(r.props.get("networkInterfaces")):
        if str(interface.get("associatePublicIpAddress")).lower() == "true":
            yield "node network interfaces must not get public IPs"


# --- RDS -----------------------------------------------------------------------------------------

def _rds_cmk(r: Resource, c: Config):
    key = r.props.get("kmsKeyId")
    if r.props.get("storageEncrypted") is not True or not (isinstance(key, str) and ":kms:" in key):
        yield "database storage must be encrypted with a customer-managed KMS key"


def _rds_private(r: Resource, c: Config):
    if r.props.get("publiclyAccessible") is True:
        yield "the database must not be publicly accessible"


def _rds_backups(r: Resource, c: Config):
    floor = 14 if c.prod else 7
    if (r.props.get("backupRetentionPeriod") or 0) < floor:
        yield f"backups must be kept at least {floor} days in {c.environment}"


def _rds_prod(r: Resource, c: Config):
    if c.prod and not (r.props.get("multiAz") is True and r.props.get("deletionProtection") is True):
        yield "prod databases must be Multi-AZ with deletion protection"


def _parameters(r: Resource) -> dict[str, str]:
    return {p.get("name"): str(p.get("value")) for p in _list(r.props.get("parameters")) if isinstance(p, dict)}


def _rds_tls(r: Resource, c: Config):
    if r.props.get("family", "").startswith("postgres") and _parameters(r).get("rds.force_ssl") != "1":
        yield "the parameter group must force TLS (rds.force_ssl = 1)"


def _rds_timescale(r: Resource, c: Config):
    if "timescaledb" in _parameters(r).get("shared_preload_libraries", ""):
        yield "RDS for PostgreSQL cannot load timescaledb (see docs/adr/0005-timescaledb.md)"


# --- MSK -----------------------------------------------------------------------------------------

def _msk_tls(r: Resource, c: Config):
    transit = ((r.props.get("encryptionInfo") or {}).get("encryptionInTransit") or {})
    if transit.get("clientBroker") != "TLS" or transit.get("inCluster") is not True:
        yield "Kafka must use TLS only, between clients and brokers and inside the cluster"


def _msk_cmk(r: Resource, c: Config):
    key = (r.props.get("encryptionInfo") or {}).get("encryptionAtRestKmsKeyArn")
    if not (isinstance(key, str) and ":kms:" in key):
        yield "Kafka storage must be encrypted with a customer-managed KMS key"


def _msk_auth(r: Resource, c: Config):
    auth = r.props.get("clientAuthentication") or {}
    sasl = auth.get("sasl") or {}
    if auth.get("unauthenticated") is not False or not (sasl.get("iam") or sasl.get("scram") or auth.get("tls")):
        yield "Kafka clients must authenticate (IAM, SCRAM or mTLS) and unauthenticated access must be off"


def _msk_logs(r: Resource, c: Config):
    logs = ((r.props.get("loggingInfo") or {}).get("brokerLogs") or {})
    if not any((logs.get(sink) or {}).get("enabled") for sink in ("cloudwatchLogs", "firehose", "s3")):
        yield "broker logs must be delivered somewhere"


# --- ElastiCache ---------------------------------------------------------------------------------

def _cache_encryption(r: Resource, c: Config):
    if r.props.get("atRestEncryptionEnabled") is not True or r.props.get("transitEncryptionEnabled") is not True:
        yield "the cache must be encrypted at rest and in transit"
    elif r.props.get("transitEncryptionMode", "required") != "required":
        yield "in-transit encryption must be required, not preferred"


def _cache_auth(r: Resource, c: Config):
    if not r.props.get("authToken") and not r.props.get("userGroupIds"):
        yield "the cache must require AUTH (a token or RBAC users)"


def _cache_prod(r: Resource, c: Config):
    if c.prod and not (r.props.get("automaticFailoverEnabled") is True and r.props.get("multiAzEnabled") is True):
        yield "prod caches must fail over automatically across zones"


# --- S3 (checked bucket by bucket across the guard resources) --------------------------------------

def _by_bucket(resources: Sequence[Resource], typ: str) -> dict[str, Resource]:
    """Guard resources keyed by the URN of the bucket they depend on."""
    buckets = {r.urn for r in resources if r.type == BUCKET}
    found: dict[str, Resource] = {}
    for r in resources:
        if r.type == typ:
            for dependency in r.dependencies:
                if dependency in buckets:
                    found[dependency] = r
    return found


def _buckets(resources):
    return [r for r in resources if r.type == BUCKET]


def _s3_public_access(resources, c):
    blocks = _by_bucket(resources, PUBLIC_ACCESS_BLOCK)
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _buckets(resources):
        block = blocks.get(bucket.urn)
        if block is None or not all(block.props.get(k) is True for k in keys):
            yield bucket.urn, "all four public-access blocks must be on"


def _s3_sse_kms(resources, c):
    encryption = _by_bucket(resources, ENCRYPTION)
    # S3 server access logging cannot write to SSE-KMS buckets: their targets may use SSE-S3.
    log_targets = {r.props.get("targetBucket") for r in resources if r.type == BUCKET_LOGGING}
    for bucket in _buckets(resources):
        config = encryption.get(bucket.urn)
        rules = _list((config.props if config else {}).get("rules"))
        algorithms = {(rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for rule in rules}
        name = bucket.props.get("bucket") or bucket.name
        allowed = {"aws:kms", "aws:kms:dsse"} | ({"AES256"} if _is_log_target(bucket, name, log_targets) else set())
        if not algorithms or not algorithms <= allowed:
            yield bucket.urn, "default encryption must be SSE-KMS (SSE-S3 only for an access-log target)"
        elif "aws:kms" in algorithms and not all(rule.get("bucketKeyEnabled") for rule in rules):
            yield bucket.urn, "SSE-KMS buckets must use an S3 bucket key"


def _is_log_target(bucket: Resource, name: str, targets: set) -> bool:
    return name in targets or any(isinstance(t, str) and t.startswith(f"{bucket.name}-") for t in targets)


def _s3_versioning(resources, c):
    versioning = _by_bucket(resources, VERSIONING)
    for bucket in _buckets(resources):
        config = versioning.get(bucket.urn)
        if config is None or (config.props.get("versioningConfiguration") or {}).get("status") != "Enabled":
            yield bucket.urn, "versioning must be enabled"


def _denies_insecure_transport(document: Any) -> bool:
    for s in _statements(document):
        condition = (s.get("Condition") or {}).get("Bool") or {}
        if s.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


def _s3_tls_only(resources, c):
    policies = _by_bucket(resources, BUCKET_POLICY)
    for bucket in _buckets(resources):
        policy = policies.get(bucket.urn)
        if policy is None or not _denies_insecure_transport(policy.props.get("policy")):
            yield bucket.urn, "the bucket policy must deny requests without TLS (aws:SecureTransport)"


def _s3_ownership(resources, c):
    controls = _by_bucket(resources, OWNERSHIP)
    for bucket in _buckets(resources):
        config = controls.get(bucket.urn)
        if config is None or (config.props.get("rule") or {}).get("objectOwnership") != "BucketOwnerEnforced":
            yield bucket.urn, "object ownership must be BucketOwnerEnforced (ACLs off)"


# --- CloudFront ------------------------------------------------------------------------------------

def _cf_https(r: Resource, c: Config):
    behaviours = [r.props.get("defaultCacheBehavior") or {}, *_list(r.props.get("orderedCacheBehaviors"))]
    if any(b.get("viewerProtocolPolicy") not in ("https-only", "redirect-to-https") for b in behaviours):
        yield "viewers must use HTTPS"


def _cf_oac(r: Resource, c: Config):
    for origin in _list(r.props.get("origins")):
        if ".s3." in str(origin.get("domainName", "")) and not origin.get("originAccessControlId"):
            yield f"S3 origin {origin.get('originId')} must use Origin Access Control"


def _cf_tls(r: Resource, c: Config):
    certificate = r.props.get("viewerCertificate") or {}
    if certificate.get("acmCertificateArn") and certificate.get("minimumProtocolVersion") not in (
            "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"):
        yield "a custom certificate must require TLS 1.2 or newer"


def _cf_logging(resources, c):
    sources = [r for r in resources if r.type == LOG_DELIVERY_SOURCE and r.props.get("logType") == "ACCESS_LOGS"]
    for distribution in (r for r in resources if r.type in DISTRIBUTION):
        legacy = (distribution.props.get("loggingConfig") or {}).get("bucket")
        if not legacy and not any(distribution.urn in s.dependencies for s in sources):
            yield distribution.urn, "access logging must be on (standard logging v2 or legacy)"


HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
WORKLOADS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet",
             "kubernetes:batch/v1:Job")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
VPC = "aws:ec2/vpc:Vpc"


def _restricted_workload(r: Resource, c: Config):
    """The Pod Security Standard "restricted", plus a read-only root and resource bounds."""
    pod = ((r.props.get("spec") or {}).get("template") or {}).get("spec") or {}
    context = pod.get("securityContext") or {}
    if context.get("runAsNonRoot") is not True:
        yield "pods must run as non-root (securityContext.runAsNonRoot)"
    if (context.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        yield "pods must use the RuntimeDefault seccomp profile"
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        own = container.get("securityContext") or {}
        name = container.get("name", "?")
        if own.get("allowPrivilegeEscalation") is not False or own.get("privileged"):
            yield f"container {name} may escalate privileges"
        if "ALL" not in ((own.get("capabilities") or {}).get("drop") or []):
            yield f"container {name} keeps Linux capabilities (drop ALL)"
        if own.get("readOnlyRootFilesystem") is not True:
            yield f"container {name} has a writable root filesystem"
        resources = container.get("resources") or {}
        if not resources.get("requests") or not (resources.get("limits") or {}).get("memory"):
            yield f"container {name} has no requests or memory limit"


def _network_policies_scoped(resources, c: Config):
    vpc_cidrs = {r.props.get("cidrBlock") for r in resources if r.type == VPC}
    for policy in (r for r in resources if r.type == NETWORK_POLICY):
        spec = policy.props.get("spec") or {}
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction, []) or []:
                peers, ports = rule.get(peers_key) or [], rule.get("ports") or []
                if not peers or not ports:
                    yield policy.urn, f"a {direction} rule must name both its peers and its ports (no allow-all)"
                for peer in peers:
                    block = peer.get("ipBlock") or {}
                    cidr = block.get("cidr")
                    if cidr in vpc_cidrs:
                        yield policy.urn, f"a {direction} rule admits the whole VPC ({cidr}); name the subnets"
                    if cidr in ("0.0.0.0/0", "::/0"):
                        if sorted(p.get("port") for p in ports) != [443]:
                            yield policy.urn, f"an internet peer ({cidr}) is allowed on other ports than 443"
                        if not vpc_cidrs & set(block.get("except") or []):
                            yield policy.urn, f"an internet peer ({cidr}) must except the VPC"


def _internet_facing(r: Resource) -> bool:
    return r.type == LOAD_BALANCER and not r.props.get("internal")


def _waf_public_entry_points(resources, c):
    associations = [r for r in resources if r.type == WEB_ACL_ASSOCIATION]
    for r in resources:
        if r.type in DISTRIBUTION and not r.props.get("webAclId"):
            yield r.urn, "a CloudFront distribution needs a WAF web ACL (webAclId)"
        # The association's resourceArn is the ALB's ARN, unknown in a preview: its dependency names it.
        if _internet_facing(r) and not any(r.urn in a.dependencies and a.props.get("webAclArn") for a in associations):
            yield r.urn, "an internet-facing ALB needs a WAF web ACL association"


def _alarms_notify(resources, c):
    """Every alarm notifies someone, except a metric alarm that is an input of a composite alarm
    (the composite notifies; its inputs would page twice)."""
    composites = [r for r in resources if r.type == COMPOSITE_ALARM]
    inputs = {d for composite in composites for d in composite.dependencies}
    for alarm in (r for r in resources if r.type in (METRIC_ALARM, COMPOSITE_ALARM)):
        if not _list(alarm.props.get("alarmActions")) and alarm.urn not in inputs:
            yield alarm.urn, "an alarm needs an alarm action (the alert topic), or to be a composite alarm's input"
        if alarm.props.get("actionsEnabled") is False:
            yield alarm.urn, "an alarm's actions must be enabled"


def _slo_alarms(resources, c):
    """In prod, each target group behind the ALB has both error-budget pages of the SRE
    workbook's pairs: a composite alarm that notifies over a window of at most an hour (fast
    burn) and one over six hours or more (slow burn), whose inputs are metric alarms on it."""
    if not c.prod:
        return
    alarms = {r.urn: r for r in resources if r.type == METRIC_ALARM}
    composites = [r for r in resources if r.type == COMPOSITE_ALARM and _list(r.props.get("alarmActions"))]

    def longest_window(alarm: Resource) -> int:
        return max((int((q.get("metric") or {}).get("period") or 0) for q in _list(alarm.props.get("metricQueries"))),
                   default=int(alarm.props.get("period") or 0))
    for group in (r for r in resources if r.type == TARGET_GROUP):
        windows = {max(longest_window(alarms[d]) for d in composite.dependencies
                       if d in alarms and group.urn in alarms[d].dependencies)
                   for composite in composites
                   if any(d in alarms and group.urn in alarms[d].dependencies for d in composite.dependencies)}
        if not any(w <= 3600 for w in windows) or not any(w >= 21600 for w in windows):
            yield group.urn, ("needs a fast (1 h) and a slow (6 h) error-budget composite alarm; "
                              f"found windows {sorted(windows)} s")


def _outside_check(resources, c):
    """Availability is measured as a user meets it: a started canary, and an alarm on its success
    that notifies and counts a canary that stopped reporting as failing."""
    canaries = [r for r in resources if r.type == CANARY]
    if not canaries:
        yield None, "no Synthetics canary checks the stack's health paths"
    for canary in canaries:
        if canary.props.get("startCanary") is not True:
            yield canary.urn, "the canary must be started (startCanary), or it never runs"
        if not any(a.type == METRIC_ALARM and a.props.get("namespace") == "CloudWatchSynthetics"
                   and (a.props.get("dimensions") or {}).get("CanaryName") == canary.props.get("name")
                   and _list(a.props.get("alarmActions")) and a.props.get("treatMissingData") == "breaching"
                   for a in resources):
            yield canary.urn, "needs a SuccessPercent alarm that notifies and treats missing data as breaching"


def _cluster_telemetry(resources, c):
    """Every EKS cluster sends its metrics and container logs to CloudWatch: the observability
    add-on, with a service-account role, writing to log groups the stack made (encrypted and
    retained, as log-groups-encrypted-retained requires) before it started."""
    for cluster in (r for r in resources if r.type == EKS_CLUSTER):
        addons = [a for a in resources if a.type == ADDON and a.props.get("addonName") == OBSERVABILITY_ADDON
                  and cluster.urn in a.dependencies]
        if not addons:
            yield cluster.urn, f"needs the {OBSERVABILITY_ADDON} add-on (Container Insights and container logs)"
        groups = {r.props.get("name"): r.urn for r in resources if r.type == LOG_GROUP[0]}
        for addon in addons:
            if not addon.props.get("serviceAccountRoleArn"):
                yield addon.urn, "the add-on needs its own service-account role (serviceAccountRoleArn)"
            for kind in CONTAINER_LOG_KINDS:
                group = f"/aws/containerinsights/{cluster.props.get('name')}/{kind}"
                if groups.get(group) not in addon.dependencies:
                    yield addon.urn, f"{group} must be made by the stack before the add-on starts writing"


def _alb_hardened(r: Resource, c: Config):
    if r.props.get("dropInvalidHeaderFields") is not True:
        yield "dropInvalidHeaderFields must be on (headers that are not valid HTTP are dropped)"
    if (r.props.get("accessLogs") or {}).get("enabled") is not True:
        yield "access logs must be on (accessLogs.enabled)"
    if c.prod and r.props.get("enableDeletionProtection") is not True:
        yield "deletion protection must be on in prod"


def _alb_listeners_https(resources, c):
    """On an internet-facing ALB every listener is HTTPS with a TLS 1.3 policy, or HTTP that only
    redirects to HTTPS (no rule of its own forwards anything)."""
    public = {r.urn for r in resources if _internet_facing(r)}
    rules_of: dict[str, list[Resource]] = {}
    for rule in (r for r in resources if r.type == LISTENER_RULE):
        for dependency in rule.dependencies:
            rules_of.setdefault(dependency, []).append(rule)
    for listener in (r for r in resources if r.type == LISTENER and public & set(r.dependencies)):
        protocol = listener.props.get("protocol")
        if protocol == "HTTPS":
            if not str(listener.props.get("sslPolicy", "")).startswith("ELBSecurityPolicy-TLS13-"):
                yield listener.urn, "an HTTPS listener needs a TLS 1.3 security policy (ELBSecurityPolicy-TLS13-...)"
            continue
        actions = _list(listener.props.get("defaultActions"))
        redirects = bool(actions) and all(a.get("type") == "redirect"
                                          and (a.get("redirect") or {}).get("protocol") == "HTTPS" for a in actions)
        if protocol != "HTTP" or not redirects or rules_of.get(listener.urn):
            yield listener.urn, f"a {protocol} listener on an internet-facing ALB may only redirect to HTTPS"


# --- KMS, network, IAM, tags -----------------------------------------------------------------------

def _kms_rotation(r: Resource, c: Config):
    if r.props.get("enableKeyRotation") is not True:
        yield "key rotation must be on"


def _kms_deletion_guard(r: Resource, c: Config):
    """A key's own policy denies deleting or disabling it to every principal but the stack's
    deploy role, and in prod to everyone (an explicit deny in a key policy beats any IAM allow)."""
    if "policy" not in r.props:  # a key whose policy is its own aws:kms/keyPolicy resource
        return
    guards = [s for s in _statements(_json(r.props["policy"])) if s.get("Effect") == "Deny"
              and s.get("Principal") in ({"AWS": "*"}, "*") and "kms:ScheduleKeyDeletion" in _list(s.get("Action"))]
    if not guards:
        yield "the key policy must deny kms:ScheduleKeyDeletion to every principal but named roles"
    elif c.environment == "prod" and any("Condition" in g for g in guards):
        yield "in prod no principal may schedule the key's deletion"


def _world_open(r: Resource, c: Config):
    if r.type in INGRESS_RULE:
        rules = [{"cidr": r.props.get("cidrIpv4") or r.props.get("cidrIpv6"), "from": r.props.get("fromPort"),
                  "to": r.props.get("toPort")}]
    else:
        rules = [{"cidr": cidr, "from": i.get("fromPort"), "to": i.get("toPort")}
                 for i in _list(r.props.get("ingress")) for cidr in _list(i.get("cidrBlocks")) + _list(i.get("ipv6CidrBlocks"))]
    for rule in rules:
        if rule["cidr"] in ("0.0.0.0/0", "::/0") and not (rule["from"] == rule["to"] and rule["from"] in (80, 443)):
            yield f"ingress from {rule['cidr']} is allowed only on 80 and 443 (load balancers)"


# Write actions allowed on Resource "*" without a condition, each reviewed: CodeBuild's VPC network
# interfaces ("Use CodeBuild with Amazon VPC": the policy must name Resource "*" for these).
# Reads (Describe*, List*, Get*) mostly take no resource ARN and are allowed on "*". The load
# balancer controller's creates are gone with it: it now registers targets in named target groups.
REVIEWED_WILDCARD_WRITES = frozenset({"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"})
READ_PREFIXES = ("Describe", "List", "Get")


def _wildcard_resource_reviewed(r: Resource, c: Config):
    for s in _statements(r.props.get("policy")):
        if s.get("Effect") != "Allow" or "*" not in _list(s.get("Resource")) or s.get("Condition"):
            continue
        for action in _list(s.get("Action")):
            verb = str(action).split(":", 1)[-1]
            if not verb.startswith(READ_PREFIXES) and action not in REVIEWED_WILDCARD_WRITES:
                yield (f"statement {s.get('Sid', '(unnamed)')} allows {action} on every resource: name the ARNs, "
                       "add a condition, or review it into REVIEWED_WILDCARD_WRITES")


VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def _s3_endpoint_scoped(r: Resource, c: Config):
    if not str(r.props.get("serviceName", "")).endswith(".s3") or r.props.get("vpcEndpointType") != "Gateway":
        return
    statements = _statements(r.props.get("policy"))
    if not statements:
        yield "the S3 gateway endpoint needs a policy (without one it allows every S3 call to every bucket)"
    for s in statements:
        if s.get("Effect") == "Allow" and not s.get("Condition"):
            writes = [a for a in _list(s.get("Action")) if not str(a).split(":", 1)[-1].startswith(("Get", "List"))]
            if writes:
                yield f"statement {s.get('Sid', '(unnamed)')} allows {writes[0]} on any account's bucket"


TOPIC = "aws:msk/topic:Topic"


def _topic_durability(r: Resource, c: Config):
    replicas = r.props.get("replicationFactor")
    insync = (_json(r.props.get("configs")) or {}).get("min.insync.replicas")
    if not isinstance(replicas, int) or insync is None:
        yield "each topic sets its replication factor and min.insync.replicas itself, not the broker defaults"
        return
    if int(insync) >= replicas:
        yield f"min.insync.replicas {insync} must be below the replication factor {replicas}, or one broker down stops writes"
    if c.prod and (replicas < 3 or int(insync) < 2):
        yield "prod topics keep 3 replicas with min.insync.replicas 2: an acknowledged write survives losing a broker"


def _no_wildcard_actions(r: Resource, c: Config):
    for s in _statements(r.props.get("policy")):
        if s.get("Effect") == "Allow" and any(a == "*" or a.endswith(":*") for a in _list(s.get("Action"))):
            yield f"statement {s.get('Sid', '(unnamed)')} allows every action of a service"


def _passrole_scoped(r: Resource, c: Config):
    for s in _statements(r.props.get("policy")):
        actions = _list(s.get("Action"))
        if s.get("Effect") != "Allow" or not any(a in ("iam:PassRole", "iam:*", "*") for a in actions):
            continue
        if "*" in _list(s.get("Resource")) or "iam:PassedToService" not in json.dumps(s.get("Condition") or {}):
            yield f"statement {s.get('Sid', '(unnamed)')} passes roles without naming them and the service"


def _log_group_encrypted_retained(r: Resource, c: Config):
    if not str(r.props.get("kmsKeyId", "")).startswith("arn:aws"):
        yield "a log group must be encrypted with a customer-managed KMS key"
    if not r.props.get("retentionInDays"):
        yield "a log group must have a retention period"


def _vpc_flow_logs(resources, c):
    flow_logs = [r for r in resources if r.type == "aws:ec2/flowLog:FlowLog"]
    for vpc in (r for r in resources if r.type == "aws:ec2/vpc:Vpc"):
        if not any(vpc.urn in f.dependencies for f in flow_logs):
            yield vpc.urn, "the VPC must have a flow log"


def _webhook_filtered(r: Resource, c: Config):
    for group in _list(r.props.get("filterGroups")):
        filters = {f.get("type"): f.get("pattern") for f in _list(group.get("filters"))}
        if "WORKFLOW_JOB_QUEUED" in str(filters.get("EVENT", "")) and not filters.get("WORKFLOW_NAME"):
            yield "a runner webhook must name the workflows whose jobs it takes (WORKFLOW_NAME)"


def _sns_encrypted(r: Resource, c: Config):
    if not r.props.get("kmsMasterKeyId"):
        yield "the topic must be encrypted with a KMS key"


# How a secret rotates, from its `rotation` tag (components/secrets.py ROTATION_PROCEDURES):
# each procedure is in docs/DEPLOYMENT.md, "Rotate the generated secrets".
ROTATION_PROCEDURES = ("dual-key", "rotate-then-set", "manual")
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


def _secrets_rotation_path(resources, c: Config):
    rotated = {d for r in resources if r.type == SECRET_ROTATION for d in r.dependencies}
    for r in resources:
        if r.type != SECRET or r.urn in rotated:
            continue
        procedure = str((r.props.get("tags") or {}).get("rotation", "")).split(":", 1)[0]
        if procedure not in ROTATION_PROCEDURES:
            yield r.urn, ("every secret rotates: a Secrets Manager rotation, or a `rotation` tag naming one of "
                          f"{', '.join(ROTATION_PROCEDURES)} (docs/DEPLOYMENT.md)")


def _ecr_immutable_scanned(r: Resource, c: Config):
    if r.props.get("imageTagMutability") != "IMMUTABLE":
        yield "image tags must be immutable"
    if (r.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
        yield "images must be scanned on push"


def _irsa_trust(r: Resource, c: Config):
    for s in _statements(r.props.get("assumeRolePolicy")):
        if s.get("Action") != "sts:AssumeRoleWithWebIdentity":
            continue
        equals = (s.get("Condition") or {}).get("StringEquals") or {}
        subjects = [v for k, v in equals.items() if k.endswith(":sub")]
        audiences = [v for k, v in equals.items() if k.endswith(":aud")]
        if len(subjects) != 1 or not isinstance(subjects[0], str) or "*" in subjects[0] \
                or not subjects[0].startswith("system:serviceaccount:") or audiences != ["sts.amazonaws.com"]:
            yield "IRSA trust must name exactly one service account (StringEquals on sub) and aud sts.amazonaws.com"


def _tags(r: Resource, c: Config):
    tags = r.props.get("tags")
    if isinstance(tags, list):  # eks:index:VpcCniAddon-style lists of maps
        tags = {k: v for t in tags for k, v in t.items()}
    missing = [t for t in REQUIRED_TAGS if not (tags or {}).get(t)]
    if missing:
        yield f"missing tags: {', '.join(missing)}"


# --- The in-cluster database (CloudNativePG) ---------------------------------------------------------

def _spec(r: Resource) -> Mapping[str, Any]:
    return r.props.get("spec") or {}


def _named(resources: Sequence[Resource], typ: str, name: str) -> Resource | None:
    return next((r for r in resources if r.type == typ and (r.props.get("metadata") or {}).get("name") == name), None)


def _pg_backups(resources, c):
    for cluster in (r for r in resources if r.type in PG_CLUSTER):
        name = (cluster.props.get("metadata") or {}).get("name")
        archivers = [p for p in _list(_spec(cluster).get("plugins")) if p.get("isWALArchiver") and p.get("name") == BACKUP_PLUGIN]
        store = _named(resources, OBJECT_STORE, (archivers[0].get("parameters") or {}).get("barmanObjectName")) \
            if archivers else None
        if store is None:
            yield cluster.urn, "WAL is not archived to a planned Barman Cloud object store"
        elif not re.fullmatch(r"[1-9]\d*[dwm]", str(_spec(store).get("retentionPolicy", ""))):
            yield store.urn, "the object store has no retention policy"
        scheduled = [b for b in resources if b.type == SCHEDULED_BACKUP
                     and (_spec(b).get("cluster") or {}).get("name") == name and _spec(b).get("method") == "plugin"]
        if not scheduled:
            yield cluster.urn, "no scheduled base backup through the backup plugin"


def _pg_encrypted(resources, c):
    for cluster in (r for r in resources if r.type in PG_CLUSTER):
        for volume in ("storage", "walStorage"):
            class_name = (_spec(cluster).get(volume) or {}).get("storageClass")
            storage_class = _named(resources, STORAGE_CLASS, class_name)
            parameters = (storage_class.props.get("parameters") or {}) if storage_class else {}
            if parameters.get("encrypted") != "true" or not str(parameters.get("kmsKeyId", "")).startswith("arn:"):
                yield cluster.urn, f"{volume} is not on a planned storage class encrypted with a CMK ({class_name})"


def _pg_tls(r: Resource, c: Config):
    rules = [" ".join(line.split()) for line in _list((_spec(r).get("postgresql") or {}).get("pg_hba"))]
    for network in ("0.0.0.0/0", "::/0"):
        if f"hostnossl all all {network} reject" not in rules:
            yield f"pg_hba does not reject connections without TLS from {network}"


def in_cluster_database_gaps(spec: Mapping[str, Any]) -> list[str]:
    """What would keep an in-cluster database (a CloudNativePG Cluster's spec) from losing a zone
    or an instance without losing a committed transaction; the zone-loss analysis uses it too."""
    affinity = spec.get("affinity") or {}
    synchronous = (spec.get("postgresql") or {}).get("synchronous") or {}
    gaps = []
    if (instances := spec.get("instances") or 1) < 3:
        gaps.append(f"{instances} instance(s): at least 3 are needed")
    if affinity.get("podAntiAffinityType") != "required" or affinity.get("topologyKey") != "topology.kubernetes.io/zone":
        gaps.append("instances are not spread one per zone (required anti-affinity on topology.kubernetes.io/zone)")
    if (synchronous.get("number") or 0) < 1 or synchronous.get("dataDurability", "required") != "required":
        gaps.append("commits do not wait for a synchronous standby (synchronous.number >= 1, dataDurability required)")
    return gaps


def _pg_prod(r: Resource, c: Config):
    if c.prod:
        yield from in_cluster_database_gaps(_spec(r))


# --- Protection of stateful resources in prod -------------------------------------------------------

STATEFUL = {
    "aws:rds/instance:Instance": lambda p: p.get("deletionProtection") is True and p.get("skipFinalSnapshot") is False
    and bool(p.get("finalSnapshotIdentifier")),
    "aws:msk/cluster:Cluster": lambda p: True,
    "aws:msk/topic:Topic": lambda p: True,
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda p: bool(p.get("finalSnapshotIdentifier")),
    "aws:s3/bucket:Bucket": lambda p: p.get("forceDestroy") is not True,
    "aws:kms/key:Key": lambda p: (p.get("deletionWindowInDays") or 30) >= 7,
    "eks:index:Cluster": lambda p: p.get("deletionProtection") is True,
    "aws:secretsmanager/secret:Secret": lambda p: (p.get("recoveryWindowInDays") or 30) >= 7,
    "aws:ecr/repository:Repository": lambda p: p.get("forceDelete") is not True,
    "kubernetes:postgresql.cnpg.io/v1:Cluster": lambda p: True,
    STORAGE_CLASS: lambda p: p.get("reclaimPolicy") == "Retain",
}


def _protected(resources, c: Config):
    """A stack policy: every stateful resource of a prod stack, with the options it was registered with."""
    if not c.prod:
        return
    for r in resources:
        if r.type not in STATEFUL:
            continue
        if not r.protect:
            yield r.urn, "stateful resources are protected in prod (protect)"
        if not STATEFUL[r.type](r.props):
            yield r.urn, "the resource's own deletion guards (deletion protection, final snapshot, no force destroy) must be on"


# --- Cost hints (advisory) ---------------------------------------------------------------------------

def _cost_nat(resources, c):
    nats = [r for r in resources if r.type in NAT]
    if not c.prod and len(nats) > 1:
        yield None, f"{len(nats)} NAT gateways in a non-prod stack (about $33 a month each); one is enough"


def _cost_log_retention(r: Resource, c: Config):
    if not c.prod and (r.props.get("retentionInDays") or 0) > 90:
        yield "non-prod log retention over 90 days costs storage nobody reads"


RULES: tuple[Rule, ...] = (
    Rule("eks-private-endpoint", "EKS API reachable privately from the VPC", "CIS EKS 5.4.2", MANDATORY, EKS_CLUSTER, _eks_private),
    Rule("eks-public-endpoint-restricted", "Public EKS endpoint off or CIDR-restricted; never world-open in prod",
         "CIS EKS 5.4.1, checkov CKV_AWS_38", MANDATORY, EKS_CLUSTER, _eks_public),
    Rule("eks-no-public-endpoint-in-prod", "Prod's EKS API endpoint is private only",
         "FSBP EKS.1, checkov CKV_AWS_39", MANDATORY, EKS_CLUSTER, _eks_private_only_in_prod),
    Rule("eks-control-plane-logging", "All five EKS control-plane log types", "CIS EKS 2.1.1, checkov CKV_AWS_37",
         MANDATORY, EKS_CLUSTER, _eks_logs),
    Rule("eks-secrets-encryption", "Kubernetes secrets envelope-encrypted with a CMK", "CIS EKS 5.3.1, checkov CKV_AWS_58",
         MANDATORY, EKS_CLUSTER, _eks_secrets),
    Rule("eks-authentication-mode-api", "Cluster access through access entries", "EKS best practices: identity and access management",
         MANDATORY, EKS_CLUSTER, _eks_auth),
    Rule("eks-supported-version", "Kubernetes version in EKS standard support", "FSBP EKS.2", MANDATORY, EKS_CLUSTER, _eks_version),
    Rule("nodes-imdsv2", "IMDSv2 required with hop limit 1", "EKS best practices: restrict IMDS, checkov CKV_AWS_79",
         MANDATORY, LAUNCH_TEMPLATE, _imdsv2),
    Rule("nodes-encrypted-volumes", "Node volumes encrypted", "FSBP EC2.3, checkov CKV_AWS_8", MANDATORY, LAUNCH_TEMPLATE,
         _encrypted_roots),
    Rule("no-public-ips", "No public IPs on nodes or by subnet default", "FSBP EC2.15, checkov CKV_AWS_130", MANDATORY,
         LAUNCH_TEMPLATE + SUBNET, _no_public_ip),
    Rule("rds-encrypted-cmk", "Database storage encrypted with a CMK", "FSBP RDS.3, checkov CKV_AWS_16", MANDATORY, RDS, _rds_cmk),
    Rule("rds-not-public", "Database not publicly accessible", "FSBP RDS.2, checkov CKV_AWS_17", MANDATORY, RDS, _rds_private),
    Rule("rds-backup-retention", "Backups >= 7 days (prod >= 14)", "FSBP RDS.11, checkov CKV_AWS_133", MANDATORY, RDS, _rds_backups),
    Rule("rds-prod-resilience", "Prod databases Multi-AZ with deletion protection", "FSBP RDS.5, RDS.8", MANDATORY, RDS, _rds_prod),
    Rule("rds-tls-forced", "Parameter group forces TLS", "RDS user guide: requiring SSL/TLS with rds.force_ssl", MANDATORY,
         RDS_PARAMETERS, _rds_tls),
    Rule("rds-no-timescaledb-preload", "RDS cannot preload timescaledb", "ADR 0005", MANDATORY, RDS_PARAMETERS, _rds_timescale),
    Rule("msk-tls-only", "Kafka TLS only, client-broker and in-cluster", "FSBP MSK.1, checkov CKV_AWS_81", MANDATORY, MSK, _msk_tls),
    Rule("msk-cmk-at-rest", "Kafka storage encrypted with a CMK", "checkov CKV_AWS_81", MANDATORY, MSK, _msk_cmk),
    Rule("msk-authenticated-clients", "Kafka client authentication on, unauthenticated off", "MSK developer guide: client authentication (IAM, SASL/SCRAM, mTLS)",
         MANDATORY, MSK, _msk_auth),
    Rule("msk-topic-durability", "Each topic sets its own replication; prod: 3 replicas, min.insync 2",
         "MSK best practices: replication factor and min.insync.replicas per topic", MANDATORY, (TOPIC,),
         _topic_durability),
    Rule("msk-broker-logging", "Kafka broker logs delivered", "checkov CKV_AWS_80", MANDATORY, MSK, _msk_logs),
    Rule("elasticache-encryption", "Cache encrypted at rest and in transit (required)", "FSBP ElastiCache.4, .5, checkov CKV_AWS_29/30",
         MANDATORY, CACHE, _cache_encryption),
    Rule("elasticache-auth", "Cache requires AUTH", "FSBP ElastiCache.6, checkov CKV_AWS_31", MANDATORY, CACHE, _cache_auth),
    Rule("elasticache-prod-failover", "Prod cache fails over across zones", "FSBP ElastiCache.3", MANDATORY, CACHE, _cache_prod),
    Rule("timescaledb-backups", "In-cluster database: WAL archived, daily base backups, a retention policy",
         "FSBP RDS.11 (the RDS equivalent), CloudNativePG backup docs", MANDATORY, stack_check=_pg_backups),
    Rule("timescaledb-encrypted-volumes", "In-cluster database volumes on a CMK-encrypted storage class",
         "FSBP EC2.3, EC2.7", MANDATORY, stack_check=_pg_encrypted),
    Rule("timescaledb-tls-only", "In-cluster database refuses connections without TLS",
         "CIS PostgreSQL Benchmark 6.7 (SSL for all connections)", MANDATORY, PG_CLUSTER, _pg_tls),
    Rule("timescaledb-prod-resilience", "Prod: 3+ instances, one per zone, synchronous commit",
         "FSBP RDS.5 (the RDS equivalent: Multi-AZ)", MANDATORY, PG_CLUSTER, _pg_prod),
    Rule("s3-public-access-blocked", "All four public-access blocks on every bucket", "FSBP S3.8, checkov CKV_AWS_53-56",
         MANDATORY, stack_check=_s3_public_access),
    Rule("s3-sse-kms", "SSE-KMS with bucket keys (SSE-S3 only for access-log targets)", "FSBP S3.17, checkov CKV_AWS_145",
         MANDATORY, stack_check=_s3_sse_kms),
    Rule("s3-versioning", "Versioning on every bucket", "FSBP S3.14, checkov CKV_AWS_21", MANDATORY, stack_check=_s3_versioning),
    Rule("s3-tls-only", "Bucket policy denies requests without TLS", "FSBP S3.5", MANDATORY, stack_check=_s3_tls_only),
    Rule("s3-ownership-enforced", "ACLs disabled (BucketOwnerEnforced)", "FSBP S3.12", MANDATORY, stack_check=_s3_ownership),
    Rule("cloudfront-https-only", "Viewers use HTTPS", "FSBP CloudFront.3, checkov CKV_AWS_34", MANDATORY, DISTRIBUTION, _cf_https),
    Rule("cloudfront-oac", "S3 origins behind Origin Access Control", "FSBP CloudFront.13", MANDATORY, DISTRIBUTION, _cf_oac),
    Rule("cloudfront-modern-tls", "TLS 1.2+ with a custom certificate", "checkov CKV_AWS_174", MANDATORY,
         DISTRIBUTION, _cf_tls),
    Rule("cloudfront-logging", "Access logging on", "FSBP CloudFront.5, checkov CKV_AWS_86", MANDATORY, stack_check=_cf_logging),
    Rule("waf-on-public-entry-points", "WAF web ACLs in front of CloudFront and the internet-facing ALB",
         "FSBP CloudFront.6, ELB.16 (WAF association); checkov CKV_AWS_68", MANDATORY,
         stack_check=_waf_public_entry_points),
    Rule("alb-hardened", "ALB drops invalid headers and logs access; deletion protection in prod",
         "FSBP ELB.4, ELB.5, ELB.6; checkov CKV_AWS_131, CKV_AWS_91, CKV_AWS_150", MANDATORY, (LOAD_BALANCER,),
         _alb_hardened),
    Rule("alb-listeners-https", "An internet-facing ALB serves HTTPS (TLS 1.3 policy) and only redirects HTTP",
         "FSBP ELB.1, checkov CKV_AWS_2, CKV_AWS_103", MANDATORY, stack_check=_alb_listeners_https),
    Rule("alarms-notify", "Every alarm notifies the alert topic (or feeds a composite that does)",
         "FSBP CloudWatch.15 (alarms have actions); checkov CKV_AWS_319", MANDATORY, stack_check=_alarms_notify),
    Rule("slo-alarms-in-prod", "Prod watches each target group's error budget with burn-rate alarms",
         "SRE workbook, alerting on SLOs (multiwindow, multi-burn-rate); issue 16", MANDATORY,
         stack_check=_slo_alarms),
    Rule("outside-check", "A started canary checks the health paths and its alarm pages, also when it goes silent",
         "CloudWatch user guide, Synthetics canaries (SuccessPercent); issue 16", MANDATORY,
         stack_check=_outside_check),
    Rule("cluster-telemetry", "Each cluster runs the CloudWatch observability add-on into stack-made log groups",
         "EKS user guide, amazon-cloudwatch-observability add-on; helm-charts 6.4.0 values.yaml; issue 16", MANDATORY,
         stack_check=_cluster_telemetry),
    Rule("kms-rotation", "Key rotation on", "FSBP KMS.4, checkov CKV_AWS_7", MANDATORY, KMS_KEY, _kms_rotation),
    Rule("kms-deletion-guard", "Only the deploy role may delete or disable a key, nobody in prod",
         "FSBP KMS.3 (keys not scheduled for deletion unintentionally)", MANDATORY,
         ("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy"), _kms_deletion_guard),
    Rule("no-world-ingress", "No 0.0.0.0/0 ingress except 80/443", "FSBP EC2.18, EC2.19", MANDATORY, INGRESS_RULE + SECURITY_GROUP,
         _world_open),
    Rule("iam-no-wildcard-actions", "No Allow statement with a * action", "checkov CKV_AWS_63 (and service-wide actions)", MANDATORY,
         ROLE_POLICY, _no_wildcard_actions),
    Rule("s3-endpoint-writes-own-account", "S3 gateway endpoint: reads anywhere, writes to this account's buckets",
         "VPC user guide, endpoint policies (aws:ResourceAccount); data-exfiltration guard", MANDATORY,
         (VPC_ENDPOINT,), _s3_endpoint_scoped),
    Rule("iam-wildcard-resource-reviewed", 'Resource "*" only for reads and reviewed writes that take no ARN',
         "checkov CKV_AWS_355, CKV_AWS_290; cloudsplaining resource exposure", MANDATORY, ROLE_POLICY,
         _wildcard_resource_reviewed),
    Rule("iam-passrole-scoped", "iam:PassRole only on named roles, to named services",
         "IAM user guide, iam:PassedToService; cloudsplaining PassRole privilege escalation", MANDATORY,
         ROLE_POLICY, _passrole_scoped),
    Rule("log-groups-encrypted-retained", "Log groups encrypted with a CMK and retained for a set time",
         "checkov CKV_AWS_158 (KMS), CKV_AWS_66 (retention)", MANDATORY, LOG_GROUP, _log_group_encrypted_retained),
    Rule("vpc-flow-logs", "Every VPC has a flow log", "FSBP EC2.6, checkov CKV2_AWS_11", MANDATORY,
         stack_check=_vpc_flow_logs),
    Rule("codebuild-webhook-workflow-filter", "Runner webhooks take jobs of named workflows only",
         "CodeBuild user guide, GitHub webhook events (WORKFLOW_NAME); review finding S4", MANDATORY,
         ("aws:codebuild/webhook:Webhook",), _webhook_filtered),
    Rule("sns-encrypted", "SNS topics encrypted with KMS", "FSBP SNS.1, checkov CKV_AWS_26", MANDATORY,
         ("aws:sns/topic:Topic",), _sns_encrypted),
    Rule("secrets-rotation-path", "Every secret has a rotation: Secrets Manager's or a documented procedure",
         "FSBP SecretsManager.1, checkov CKV2_AWS_57", MANDATORY, stack_check=_secrets_rotation_path),
    Rule("ecr-immutable-scanned", "ECR tags immutable and images scanned on push", "FSBP ECR.1, ECR.2; checkov CKV_AWS_51",
         MANDATORY, ("aws:ecr/repository:Repository",), _ecr_immutable_scanned),
    Rule("irsa-exact-trust", "IRSA trust bound to one service account and the sts audience",
         "EKS best practices: scope IAM role trust to a service account", MANDATORY, ROLE, _irsa_trust),
    Rule("k8s-restricted-workloads", "Workloads the release installs run restricted, read-only, bounded",
         "Pod Security Standards: restricted; CIS EKS 4.2, 4.5.1; checkov CKV_K8S_20, 22, 28, 37", MANDATORY,
         WORKLOADS, _restricted_workload),
    Rule("k8s-network-policies-scoped", "NetworkPolicy rules name peers and ports; internet only on 443, never the VPC",
         "CIS EKS 4.3.2 (network policies); EKS best practices: network security", MANDATORY,
         stack_check=_network_policies_scoped),
    Rule("required-tags", "project, environment, owner and cost-centre tags", "AWS tagging best practices (cost allocation)",
         MANDATORY, TAGGABLE, _tags),
    Rule("prod-protection", "Stateful resources protected in prod, with their own deletion guards",
         "FSBP RDS.8, EKS best practices (deletion protection)", MANDATORY, stack_check=_protected),
    Rule("cost-single-nat-outside-prod", "One NAT gateway is enough outside prod", "cost hint", ADVISORY, stack_check=_cost_nat),
    Rule("cost-log-retention-outside-prod", "Short log retention outside prod", "cost hint", ADVISORY, LOG_GROUP, _cost_log_retention),
)
RULES_BY_NAME = {r.name: r for r in RULES}


def evaluate(resources: Sequence[Resource], config: Config, rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every violation of `rules` among `resources`, as the pack would report them."""
    violations: list[Violation] = []
    for rule in rules:
        if rule.stack_check is not None:
            for urn, message in rule.stack_check(resources, config):
                violations.append(Violation(rule.name, urn, message, rule.enforcement))
            continue
        for resource in resources:
            if resource.type in rule.types:
                for message in rule.check(resource, config):
                    violations.append(Violation(rule.name, resource.urn, message, rule.enforcement))
    return violations


# --- Secret hygiene (offline plan: every input and output) -------------------------------------------

_CREDENTIAL_PATTERNS = (
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key ID
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"[a-z][a-z0-9+.-]*://[^:/@\s]+:[^@/\s]{3,}@"),  # URL with a password
)
_SECRET_KEY_NAMES = re.compile(r"(^|[_-])(password|passwd|secret|token|apikey|api_key|privatekey)s?$", re.I)
_SECRETISH_KEY = re.compile(r"password|passwd|token|secretstring|secret_string|privatekey|apikey", re.I)


def credential_findings(value: Any, path: str = "") -> list[str]:
    """Paths of values that look like a credential and are not marked secret."""
    findings: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and item not in SECRET_MARKERS and item and (
                    _SECRETISH_KEY.search(str(key)) or _SECRET_KEY_NAMES.search(str(key))) \
                    and not _names_not_holds(str(key), item):
                findings.append(child)
            findings.extend(credential_findings(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            findings.extend(credential_findings(item, f"{path}[{index}]"))
    elif isinstance(value, str) and value not in SECRET_MARKERS and any(p.search(value) for p in _CREDENTIAL_PATTERNS):
        findings.append(path)
    return findings


def _names_not_holds(key: str, value: str) -> bool:
    """Keys that name a secret without holding it: ARNs, ids, strategies, flags."""
    lowered = key.lower()
    return (value.startswith("arn:") or lowered.endswith(("arn", "id", "ids", "strategy", "version", "type", "name"))
            or len(value) < 8 or re.fullmatch(r"[a-z]+([-_][a-z]+)*", value) is not None)


# --- The pulumi-policy adapter ------------------------------------------------------------------------

def _enforcement(level: str):
    from pulumi_policy import EnforcementLevel

    return EnforcementLevel.MANDATORY if level == MANDATORY else EnforcementLevel.ADVISORY


def _config_of(args) -> Config:
    values = args.get_config() or {}
    return Config(environment=values.get("environment", "prod"),
                  supported_kubernetes_versions=tuple(values.get("supportedKubernetesVersions",
                                                                 SUPPORTED_KUBERNETES_VERSIONS)))


def _unwrap(value: Any) -> Any:
    """The engine hands secret values to packs wrapped; rules see the marker instead."""
    from pulumi_policy import Secret

    if isinstance(value, Secret):
        return SECRET_MARKERS[0]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _resource_of(policy_resource) -> Resource:
    return Resource(type=policy_resource.resource_type, name=policy_resource.name, urn=policy_resource.urn,
                    props=_unwrap(dict(policy_resource.props)), protect=bool(policy_resource.opts.protect),
                    dependencies=[d.urn for d in (getattr(policy_resource, "dependencies", None) or [])])


CONFIG_SCHEMA_PROPERTIES = {
    "environment": {"type": "string", "enum": ["dev", "prod"], "default": "prod"},
    "supportedKubernetesVersions": {"type": "array", "items": {"type": "string"},
                                    "default": list(SUPPORTED_KUBERNETES_VERSIONS)},
}


def to_pulumi_policies() -> list:
    """The rules as pulumi-policy objects, for policies/__main__.py."""
    from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy

    schema = PolicyConfigSchema(properties=CONFIG_SCHEMA_PROPERTIES)
    policies = []
    for rule in RULES:
        description = f"{rule.description} ({rule.control})"
        if rule.stack_check is not None:
            def validate_stack(args, report, rule=rule):
                resources = [_resource_of(r) for r in args.resources]
                for violation in evaluate(resources, _config_of(args), [rule]):
                    report(violation.message, violation.urn)
            policies.append(StackValidationPolicy(name=rule.name, description=description, validate=validate_stack,
                                                  enforcement_level=_enforcement(rule.enforcement), config_schema=schema))
        else:
            def validate_resource(args, report, rule=rule):
                if args.resource_type not in rule.types:
                    return
                resource = Resource(type=args.resource_type, name=args.name, urn=args.urn,
                                    props=_unwrap(dict(args.props)), protect=bool(args.opts.protect))
                for message in rule.check(resource, _config_of(args)):
                    report(message)
            policies.append(ResourceValidationPolicy(name=rule.name, description=description,
                                                     validate=validate_resource,
                                                     enforcement_level=_enforcement(rule.enforcement),
                                                     config_schema=schema))
    return policies
