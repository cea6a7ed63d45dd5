"""EcoMind's platform on AWS, one stack per environment: read settings, build, export."""

import pulumi
import pulumi_aws as aws

import settings
from components.app_access import RAW_TOPIC, ApplicationAccess, ApplicationAccessArgs
from components.cache import Cache, CacheArgs
from components.cdn import AssetsCdn, AssetsCdnArgs
from components.ci_runners import CiRunners, CiRunnersArgs
from components.cluster import Cluster, ClusterArgs
from components.cluster_services import ClusterServices, ClusterServicesArgs
from components.database import Database, DatabaseArgs, DatabaseRestore
from components.firewall import WebFirewall, WebFirewallArgs
from components.load_balancer import ApplicationLoadBalancer, ApplicationLoadBalancerArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.office_hours import OfficeHoursArgs, OfficeHoursSchedule, ScheduledNodeGroup
from components.region_copies import copy_region
from components.registry import Registry, RegistryArgs, replicated_repository_urls
from components.release import (
    DEPLOYMENTS,
    DEREGISTRATION_DELAY_SECONDS,
    ChartInputs,
    EcomindRelease,
    EcomindReleaseArgs,
    chart_values,
)
from components.release import NAMESPACE as RELEASE_NAMESPACE
from components.secrets import ApplicationSecrets, ApplicationSecretsArgs, SecretReplicas
from components.service_levels import ROUTE53_METRICS_REGION, ServiceLevels, ServiceLevelsArgs
from components.storage import BucketInUse, Storage, StorageArgs
from components.streaming import CONSUMER_GROUP, Streaming, StreamingArgs
from components.synthetics import CanaryVpc, HealthCanary, HealthCanaryArgs
from components.telemetry import ClusterTelemetry, ClusterTelemetryArgs
from components.timescale import NAMESPACE as TIMESCALE_NAMESPACE
from components.timescale import TimescaleDatabase, TimescaleDatabaseArgs

stack = settings.load_from_runtime()
# From the stack file, not from the credentials: the AWS provider refuses any other account
# (aws:allowedAccountIds, which settings checks names exactly this one).
account_id = stack.account_id
name = stack.cluster.name  # ecomind-infra-<stack>: names every regional resource of this stack
protect = stack.protect_stateful
common = {"account_id": account_id, "tags": stack.tags, "protect": protect}

network = Network("network", NetworkArgs(
    settings=stack.network, region=stack.region, cluster_name=name, **common))
# The program's AWS provider, made explicit for pulumi-eks's components: configured as the stack's
# default provider is (aws:region, aws:allowedAccountIds), at the plugin version pulumi-aws pins here.
aws_provider = aws.Provider("aws", region=stack.region, allowed_account_ids=[account_id])
cluster = Cluster("cluster", ClusterArgs(
    settings=stack.cluster, region=stack.region, vpc_id=network.vpc_id, aws_provider=aws_provider,
    public_subnet_ids=network.public_subnet_ids, private_subnet_ids=network.private_subnet_ids, **common))

# Every data service admits exactly one source: the security group of the EKS nodes and pods.
data_plane = {"vpc_id": network.vpc_id, "data_subnet_ids": network.data_subnet_ids,
              "client_security_group_id": cluster.cluster_security_group_id, "region": stack.region}
# The region-loss copies' key in drRegion (prod); dev keeps none (docs/DISASTER_RECOVERY.md).
copies = copy_region(stack.dr_region, account_id=account_id, tags=stack.tags, protect=protect,
                     log_retention_days=stack.network.log_retention_days) if stack.dr_region \
    else None
# A recovery stack (recoverFromStack) builds on another stack's copies in this region: its backups,
# secret replicas, reports copy and replicated images (docs/DISASTER_RECOVERY.md, region loss).
recovery = stack.recovery
secret_prefix = f"ecomind/{stack.stack}/"
secrets = ApplicationSecrets("secrets", ApplicationSecretsArgs(prefix=secret_prefix, key_generations={
    "jwt-secret": stack.signing_keys.jwt_generation,
    "gateway-hmac-secret": stack.signing_keys.gateway_hmac_generation}, copies=copies,
    replicas_of=SecretReplicas(prefix=recovery.secret_prefix, region=stack.region, account_id=account_id,
                               key_arn=recovery.copies_key_arn) if recovery else None, **common))
storage = Storage("storage", StorageArgs(
    log_retention_days=stack.network.log_retention_days, region=stack.region, copies=copies,
    reports_in_use=BucketInUse(recovery.reports_bucket, recovery.copies_key_arn) if recovery else None, **common))
# One engine per stack (docs/adr/0005, 0010); both hand the release the same DatabaseEndpoint.
timescale = stack.database.timescale
if timescale:
    database = TimescaleDatabase("database", TimescaleDatabaseArgs(
        settings=timescale, oidc=cluster.oidc, cluster_security_group_id=cluster.cluster_security_group_id,
        volume_key_arn=cluster.volume_key_arn, secrets_key_arn=secrets.key_arn,
        secret_name=f"{secret_prefix}database-owner", access_log_bucket=storage.logs.bucket_name, copies=copies,
        region=stack.region,
        # Stopped at night (officeHours): the base backup runs in the working day, as RDS's does.
        **({"backup_hour_utc": int(stack.office_hours.backup_window[:2])} if stack.office_hours else {}),
        **common))
else:
    database = Database("database", DatabaseArgs(
        settings=stack.database, identifier=name, secrets_key_arn=secrets.key_arn, copies=copies,
        restore=DatabaseRestore(backup_arn=recovery.database_backup_arn, key_arn=recovery.copies_key_arn,
                                point_in_time=recovery.point_in_time) if recovery else None,
        # Stopped at night (officeHours): backups and maintenance happen in the working week.
        **({"backup_window": stack.office_hours.backup_window,
            "maintenance_window": stack.office_hours.maintenance_window} if stack.office_hours else {}),
        **data_plane, **common))
streaming = Streaming("streaming", StreamingArgs(
    settings=stack.streaming, cluster_name=name, **data_plane, **common))
cache = Cache("cache", CacheArgs(
    settings=stack.cache, replication_group_id=name, availability_zone_names=network.availability_zone_names,
    secrets_key_arn=secrets.key_arn, secret_prefix=secret_prefix, copies=copies, **data_plane, **common))
# A WAF web ACL in front of each public entry point: CloudFront (with the assets CDN), the ALB when
# it is internet-facing (with a domain and its certificate; without one the ALB is internal).
firewall = {"region": stack.region, "log_retention_days": stack.network.log_retention_days, **common}
cdn = None
if stack.edge.cdn:
    cdn_firewall = WebFirewall("cdn-firewall", WebFirewallArgs(scope="CLOUDFRONT", **firewall))
    cdn = AssetsCdn("cdn", AssetsCdnArgs(
        settings=stack.edge, access_log_bucket_name=storage.logs.bucket_name,
        access_log_bucket_arn=storage.logs.bucket_arn, web_acl_arn=cdn_firewall.web_acl_arn, **common))
# A recovery stack runs the source's released images, which ECR replication already copied here.
repository_urls = replicated_repository_urls(recovery.repository_prefix, account_id, stack.region) if recovery \
    else Registry("registry", RegistryArgs(prefix=f"ecomind-{stack.stack}", **common)).repository_urls
app_access = ApplicationAccess("app", ApplicationAccessArgs(
    oidc=cluster.oidc, kafka_cluster_arn=streaming.cluster_arn, reports_bucket_arn=storage.reports.bucket_arn,
    reports_key_arn=storage.reports_key_arn, database_connect_arn=database.endpoint.connect_arn, tags=stack.tags))

app_host = stack.edge.app_host
# A recovery stack's ALB answers for the source's app.<domain> too, ready for the DNS switch.
failover_host = stack.edge.primary_app_host if recovery and stack.edge.primary_app_host != app_host else None
app_firewall = WebFirewall("app-firewall", WebFirewallArgs(scope="REGIONAL", **firewall)) if app_host else None
# The stack's own ALB; the chart binds the services' pods to its target groups.
load_balancer = ApplicationLoadBalancer("web", ApplicationLoadBalancerArgs(
    vpc_id=network.vpc_id, vpc_cidr=stack.network.vpc_cidr, public_subnet_ids=network.public_subnet_ids,
    targets_security_group_id=cluster.cluster_security_group_id,
    deregistration_delay_seconds=DEREGISTRATION_DELAY_SECONDS, access_log_bucket=storage.logs.log_target_name,
    region=stack.region, host=app_host, hosted_zone_id=stack.edge.hosted_zone_id, failover_host=failover_host,
    web_acl_arn=app_firewall.web_acl_arn if app_firewall else None, **common))
services = ClusterServices("services", ClusterServicesArgs(
    cluster_name=cluster.cluster_name, cluster_name_literal=name, kubernetes_version=stack.cluster.kubernetes_version,
    addon_versions=stack.cluster.addon_versions,
    autoscaler_image_tag=settings.CLUSTER_AUTOSCALER_IMAGE_TAGS[stack.cluster.kubernetes_version],
    kubeconfig=cluster.kubeconfig_json, oidc=cluster.oidc, region=stack.region, vpc_id=network.vpc_id,
    target_group_arns=list(load_balancer.target_group_arns.values()),
    secret_arns=[database.endpoint.secret_arn, cache.auth_secret_arn, secrets.jwt_secret_arn,
                 secrets.gateway_hmac_secret_arn],
    secrets_key_arn=secrets.key_arn, tags=stack.tags, replica_key_arns=secrets.replica_key_arns,
    workloads_ready=cluster.workloads_ready,
    secret_namespaces=[RELEASE_NAMESPACE, *([TIMESCALE_NAMESPACE] if timescale else [])],
))

if isinstance(database, TimescaleDatabase):
    database.install(services.provider, services.secret_store_name, depends_on=services.ready,
                     charts_after=[*services.webhooks_ready, *services.autoscaler_ready])

values = pulumi.Output.all(
    repositories=repository_urls, database_host=database.endpoint.host,
    database_secret_arn=database.endpoint.secret_arn, brokers=streaming.bootstrap_brokers, cache_host=cache.host,
    cache_secret_arn=cache.auth_secret_arn, reports_bucket=storage.reports.bucket_name,
    jwt_secret_arn=secrets.refs["jwt-secret"], hmac_secret_arn=secrets.refs["gateway-hmac-secret"],
    role_arns=app_access.role_arns,
).apply(lambda o: chart_values(ChartInputs(
    image_tag=stack.app.image_tag, repositories=o["repositories"], region=stack.region,
    database_host=o["database_host"], database_port=database.endpoint.port,
    database_iam_user=database.endpoint.app_user, database_name=database.endpoint.database_name,
    kafka_bootstrap_brokers=o["brokers"],
    cache_host=o["cache_host"], cache_port=cache.port, reports_bucket=o["reports_bucket"],
    secret_store_name=services.secret_store_name, database_secret_arn=o["database_secret_arn"],
    cache_secret_arn=o["cache_secret_arn"], jwt_secret_arn=o["jwt_secret_arn"],
    gateway_hmac_secret_arn=o["hmac_secret_arn"], role_arns=o["role_arns"],
    load_balancer_cidrs=stack.network.subnets.public,
    data_cidrs=stack.network.subnets.data, vpc_cidr=stack.network.vpc_cidr,
    service_cidr=settings.KUBERNETES_SERVICE_CIDR, host=app_host,
)))
release = EcomindRelease("ecomind", EcomindReleaseArgs(
    environment=stack.environment, values=values, provider=services.provider,
    depends_on=[*services.ready, *database.ready], target_group_arns=load_balancer.target_group_arns,
    vpc_id=network.vpc_id))

monitoring = Monitoring("monitoring", MonitoringArgs(
    stack=stack.stack, account_id=account_id, region=stack.region, thresholds_usd=stack.cost.alert_thresholds_usd,
    alert_email=stack.cost.alert_email, database_identifier=None if timescale else name,
    database_backups=(database.backup_bucket_name, database.backup_metrics) if timescale else None,
    database_allocated_gib=stack.database.allocated_storage_gib, kafka_cluster_name=name,
    kafka_brokers=stack.streaming.broker_count, cache_group_id=name, cache_nodes=stack.cache.node_count,
    nat_gateway_ids=network.nat_gateway_ids, nat_gb_per_month=stack.cost.nat_gb, tags=stack.tags,
    # AWS Budgets' one endpoint is in us-east-1: a recovery stack elsewhere makes no budget.
    budget=recovery is None or stack.region == settings.GLOBAL_SERVICES_REGION,
    depends_on=[database, streaming, cache], protect=protect))

# Container Insights and container logs, and alarms on the pods and nodes they report.
telemetry = ClusterTelemetry("telemetry", ClusterTelemetryArgs(
    stack=stack.stack, cluster_name=cluster.cluster_name, cluster_name_literal=name,
    addon_version=stack.cluster.addon_versions["amazon-cloudwatch-observability"], oidc=cluster.oidc,
    region=stack.region, account_id=account_id, log_retention_days=stack.network.log_retention_days,
    topic_arn=monitoring.topic_arn, namespace=RELEASE_NAMESPACE, workloads=DEPLOYMENTS,
    node_capacity=sum(group.max_size for group in stack.cluster.node_groups), tags=stack.tags,
    # Its webhook and agent Services need the load balancer controller's Service webhook serving.
    workloads_ready=[*cluster.workloads_ready, *services.webhooks_ready], protect=protect))
# Every service's health path through the ALB (canaryIntervalMinutes): from AWS's network to the public
# name, or from the private subnets to the internal ALB.
canary = HealthCanary("canary", HealthCanaryArgs(
    canary_name=f"ecomind-{stack.stack}-up", stack=stack.stack, region=stack.region, account_id=account_id,
    url=load_balancer.url, topic_arn=monitoring.topic_arn, access_log_bucket=storage.logs.bucket_name,
    log_retention_days=stack.network.log_retention_days, tags=stack.tags, protect=protect,
    interval_minutes=stack.edge.canary_interval_minutes,
    vpc=None if app_host else CanaryVpc(vpc_id=network.vpc_id, subnet_ids=network.private_subnet_ids,
                                        load_balancer_security_group_id=load_balancer.security_group_id)))

# What users get, against the 99.9% target: error budget, latency, health, consumer lag (docs/ALARMS.md).
service_levels = ServiceLevels("slo", ServiceLevelsArgs(
    stack=stack.stack, region=stack.region, account_id=account_id, topic_arn=monitoring.topic_arn,
    load_balancer_arn_suffix=load_balancer.arn_suffix,
    target_group_arn_suffixes=load_balancer.target_group_arn_suffixes,
    kafka_cluster_name=name, consumer_group=CONSUMER_GROUP, consumed_topic=RAW_TOPIC,
    # Route 53 publishes health-check metrics in us-east-1 only: elsewhere the canary is the outside check.
    public_host=app_host if stack.region == ROUTE53_METRICS_REGION else None,
    other_alarm_names=[*canary.alarm_names, *telemetry.alarm_names, *monitoring.alarm_names],
    canary_name=canary.canary_name, cluster_name=name, deployments=DEPLOYMENTS, namespace=RELEASE_NAMESPACE,
    tags=stack.tags))

# dev only (officeHours): nodes, database and canary stop outside office hours, and the alarms that
# count silence as failure go quiet with them.
if stack.office_hours:
    OfficeHoursSchedule("office-hours", OfficeHoursArgs(
        hours=stack.office_hours, cluster_name=name, region=stack.region, account_id=account_id, tags=stack.tags,
        node_groups=[ScheduledNodeGroup(g.name, g.min_size, g.desired_size, g.max_size)
                     for g in stack.cluster.node_groups],
        database_identifier=None if timescale else name, canary_name=canary.canary_name,
        quiet_alarm_names=[*canary.alarm_names, *service_levels.breaching_alarm_names]),
        opts=pulumi.ResourceOptions(depends_on=[cluster, service_levels]))

runners = CiRunners("ci", CiRunnersArgs(
    project_name=f"{name}-ci", repository=stack.ci.repository, connection_arn=stack.ci.connection_arn,
    account_id=account_id, region=stack.region, vpc_id=network.vpc_id, private_subnet_ids=network.private_subnet_ids,
    cluster_security_group_id=cluster.cluster_security_group_id,
    # The workflows (their `name:`) whose jobs run on this stack's runners; dev's merge-queue
    # preview too, prod never a pull-request workflow (docs/adr/0013).
    workflow_names=["deploy", "drift", *(["pull-request"] if not stack.is_prod else [])],
    log_retention_days=stack.network.log_retention_days, tags=stack.tags, protect=protect))


def export(name: str, description: str, value) -> None:
    """A stack output. Every output is declared by one call here, with its description:
    README's "Stack outputs" table is generated from these calls (make reference)."""
    pulumi.export(name, value)


export("region", "AWS region of every regional resource of the stack.", stack.region)
export("vpcId", "ID of the VPC.", network.vpc_id)
export("availabilityZoneIds", "Zone IDs the subnets are in (use1-az1, ...), in subnet-list order.",
       list(network.availability_zone_ids))
export("publicSubnetIds", "Public subnets, one per zone: the ALB (internal or internet-facing) and NAT; no pods.",
       network.public_subnet_ids)
export("privateSubnetIds", "Private subnets, one per zone: nodes and pods, egress through NAT.",
       network.private_subnet_ids)
export("dataSubnetIds", "Data subnets, one per zone: RDS, MSK, ElastiCache; no route out.", network.data_subnet_ids)
export("clusterName", "Name of the EKS cluster.", cluster.cluster_name)
export("kubernetesVersion", "Kubernetes minor version of the control plane and every node group; the driver "
       "refuses an up that skips a minor past it.", stack.cluster.kubernetes_version)
export("kubeconfig", "Kubeconfig of the cluster (secret), authenticating with `aws eks get-token`.",
       cluster.kubeconfig_json)
export("oidcProviderArn", "ARN of the cluster's IAM OIDC provider, which IRSA roles trust.", cluster.oidc.arn)
export("oidcIssuer", "Issuer of the cluster's service-account tokens (host and path, no scheme).", cluster.oidc.issuer)
export("clusterSecurityGroupId", "Security group of the control plane and every node; the data tier admits it.",
       cluster.cluster_security_group_id)
export("nodeRoleArn", "IAM role of the managed nodes.", cluster.node_role_arn)
export("volumeKeyArn", "KMS key of node root volumes and of EBS volumes the CSI driver makes.", cluster.volume_key_arn)
export("addonRoleArns", "IRSA role per EKS add-on that has one (vpc-cni, aws-ebs-csi-driver).", cluster.addon_role_arns)
export("database", "`{engine, host, port, name, secretArn, securityGroupId}`, the same shape for either engine.", {
    "engine": database.endpoint.engine, "host": database.endpoint.host, "port": database.endpoint.port,
    "name": database.endpoint.database_name, "secretArn": database.endpoint.secret_arn,
    "securityGroupId": database.endpoint.security_group_id,
})
if isinstance(database, TimescaleDatabase):
    export("databaseBackupBucket", "timescaledb engine only: bucket of the WAL archive and base backups.",
           database.backup_bucket_name)
export("kafkaBootstrapBrokers", "`KAFKA_BROKERS`: the brokers' IAM-over-TLS endpoints (port 9098).",
       streaming.bootstrap_brokers)
export("kafkaClusterArn", "ARN of the MSK cluster (the IAM grants name its topics and group).", streaming.cluster_arn)
export("cache", "`{host, port, authSecretArn}` for `REDIS_ADDR` / `REDIS_URL` (TLS and AUTH).",
       {"host": cache.host, "port": cache.port, "authSecretArn": cache.auth_secret_arn})
export("reportsBucket", "Bucket of the api's reports and the worker's exports.", storage.reports.bucket_name)
if cdn:
    export("assetsBucket", "assetsCdn only: bucket the UI build uploads its static assets to.", cdn.assets.bucket_name)
export("accessLogBucket", "Bucket of S3 server access logs and CloudFront standard logs.", storage.logs.bucket_name)
export("assetsUrl", "URL the UI loads its assets from: the CDN's (its custom domain when one is set), or without "
       "assetsCdn the application's own URL.", cdn.public_url if cdn else load_balancer.url)
if cdn:
    export("cdnDomain", "assetsCdn only: CloudFront domain of the assets distribution (dxxxx.cloudfront.net).",
           cdn.distribution_domain)
export("ecrRepositories", "ECR repository URL per service (gateway, api, worker, ui); a recovery stack's are the "
       "source's replicas.", repository_urls)
export("secretArns", "Secrets Manager ARNs External Secrets reads: `jwt`, `gatewayHmac`, `database`, `cache`.",
       {"jwt": secrets.refs["jwt-secret"], "gatewayHmac": secrets.refs["gateway-hmac-secret"],
        "database": database.endpoint.secret_arn, "cache": cache.auth_secret_arn})
export("appRoleArns", "IRSA role per EcoMind service account (`ecomind/ecomind-gateway`, `-api`, `-worker`).",
       app_access.role_arns)
export("appUrl", "Where EcoMind answers: https://app.<domain>, or http://<the ALB's DNS name> inside the VPC "
       "without a domain.", load_balancer.url)
export("loadBalancer", "`{dnsName, arnSuffix, targetGroupArns}` of the stack's ALB (arnSuffix is its CloudWatch "
       "LoadBalancer dimension).", {"dnsName": load_balancer.dns_name, "arnSuffix": load_balancer.arn_suffix,
                                     "targetGroupArns": load_balancer.target_group_arns})
export("releaseStatus", "Status of the EcoMind Helm release after the last `up`.", release.release_status)
export("dashboard", "CloudWatch dashboard of the stack's service levels: error ratio, requests, p99 latency, "
       "consumer lag, the canary's steps, pods and nodes, every alarm (docs/ALARMS.md).",
       service_levels.dashboard_name)
export("canaryName", "CloudWatch Synthetics canary that checks each service's health path through the ALB every "
       "canaryIntervalMinutes (its runs and artifacts in the Synthetics console).", canary.canary_name)
export("alertTopicArn", "SNS topic (KMS-encrypted) that budget and CloudWatch alarms notify.", monitoring.topic_arn)
export("ciRunnerProject", "CodeBuild project whose runners take this stack's CI jobs inside its VPC.",
       runners.project_name)
if copies and not timescale:
    export("recoveryInputs", "What a recovery stack of this one sets (docs/DISASTER_RECOVERY.md, region loss): "
           "its settings recoverFromStack, recoveryDatabaseBackupArn, recoveryCopiesKeyArn, recoveryReportsBucket.", {
               "recoverFromStack": stack.stack, "recoveryDatabaseBackupArn": database.backups_copy_arn,
               "recoveryCopiesKeyArn": copies.key_arn, "recoveryReportsBucket": storage.reports_copy.bucket_name})
