"""Every component's args: each field documented, each value the component cannot build refused in
one line before anything is registered, and the in-cluster database's second step required."""

from __future__ import annotations

import ast
import dataclasses
import datetime
import functools
import types
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

import settings
from components.app_access import ApplicationAccessArgs
from components.args import ArgsError, StepError
from components.bucket import SecureBucketArgs, Transition
from components.cache import CacheArgs
from components.cdn import AssetsCdnArgs
from components.ci_runners import CiRunnersArgs
from components.cluster import ClusterArgs
from components.cluster_services import ClusterServicesArgs
from components.database import Database, DatabaseArgs
from components.encryption import EncryptionKeyArgs
from components.firewall import WebFirewallArgs
from components.irsa import OidcProvider, ServiceAccountRoleArgs
from components.load_balancer import ApplicationLoadBalancerArgs
from components.monitoring import MonitoringArgs
from components.network import NetworkArgs
from components.registry import RegistryArgs
from components.release import EcomindReleaseArgs
from components.secrets import ApplicationSecretsArgs
from components.service_levels import ServiceLevelsArgs
from components.storage import REPORT_TRANSITIONS, StorageArgs
from components.streaming import StreamingArgs
from components.synthetics import CanaryVpc, HealthCanaryArgs
from components.telemetry import ClusterTelemetryArgs
from components.timescale import TimescaleDatabase, TimescaleDatabaseArgs
from tests.conftest import CONNECTION_ARN, PROJECT_DIR, minimal_config, run_component, stack_settings

# --- Every field documented -------------------------------------------------------------------------


def _is_dataclass(node: ast.ClassDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (isinstance(target, ast.Attribute) and target.attr == "dataclass") or (
                isinstance(target, ast.Name) and target.id == "dataclass"):
            return True
    return False


def args_fields(source: str) -> dict[str, bool]:
    """`Class.field` -> whether a string statement follows it, for every field of every `*Args` dataclass."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name.endswith("Args") and _is_dataclass(node)):
            continue
        for index, statement in enumerate(node.body):
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                following = node.body[index + 1] if index + 1 < len(node.body) else None
                found[f"{node.name}.{statement.target.id}"] = (
                    isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str) and bool(following.value.value.strip()))
    return found


COMPONENT_SOURCES = sorted((PROJECT_DIR / "components").glob("*.py"))


def test_every_field_of_every_args_dataclass_has_a_docstring():
    fields = {f"{path.name}:{field}": documented for path in COMPONENT_SOURCES
              for field, documented in args_fields(path.read_text()).items()}
    assert len({field.split(".")[0] for field in fields}) >= 18 and len(fields) >= 147, sorted(fields)
    assert [field for field, documented in fields.items() if not documented] == []


def test_the_docstring_check_notices_a_missing_one():
    source = '''
import dataclasses

@dataclasses.dataclass(frozen=True)
class ExampleArgs:
    documented: int
    """Days."""
    bare: str
    last: bool = False
'''
    assert args_fields(source) == {"ExampleArgs.documented": True, "ExampleArgs.bare": False,
                                   "ExampleArgs.last": False}


# --- Refused in one line ----------------------------------------------------------------------------

ACCOUNT = "111122223333"
REGION = "us-east-1"
SUBNETS = ("subnet-a", "subnet-b", "subnet-c")
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecomind/unit/jwt-secret-AbCdEf"
KAFKA_ARN = "arn:aws:kafka:us-east-1:111122223333:cluster/ecomind-infra-unit/0b9e6c1f-4d2a-4b7e-9f3c-5a8d7e6f1a2b-1"
OIDC = OidcProvider(arn="arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123",
                    issuer="oidc.eks.us-east-1.amazonaws.com/id/ABC123")
TAGS = {"project": "ecomind-infra", "stack": "unit"}
NAME = "ecomind-infra-unit"
GLOBAL_ACL = "arn:aws:wafv2:us-east-1:111122223333:global/webacl/ecomind-infra-unit-cdn-firewall/0b9e6c1f"
REGIONAL_ACL = "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/ecomind-infra-unit-app-firewall/0b9e6c1f"
TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-api-1a2b3c4/85047eb6ccef4f06"


@functools.cache
def timescale_stack() -> settings.StackSettings:
    return settings.load(minimal_config("prod", databaseEngine="timescaledb"), stack="unit", region=REGION,
                         today=datetime.date(2026, 11, 25))


@pytest.fixture(scope="module")
def resources() -> types.SimpleNamespace:
    """A Kubernetes provider and a plain resource, for the fields that take resources."""
    made = types.SimpleNamespace()

    def program():
        made.provider = k8s.Provider("k8s", kubeconfig="{}")
        made.resource = aws.s3.Bucket("placeholder")
    run_component(program)
    return made


def valid(cls: type, r: types.SimpleNamespace) -> dict[str, Any]:
    """Arguments each component accepts, as __main__.py would pass them (plain values for Outputs)."""
    prod = stack_settings("prod")
    common = {"account_id": ACCOUNT, "tags": TAGS}
    data_plane = {"region": REGION, "vpc_id": "vpc-1", "data_subnet_ids": SUBNETS, "client_security_group_id": "sg-1"}
    return {
        ApplicationAccessArgs: lambda: dict(oidc=OIDC, kafka_cluster_arn=KAFKA_ARN, reports_bucket_arn="arn:aws:s3:::r",
                                            reports_key_arn=KEY_ARN, tags=TAGS),
        SecureBucketArgs: lambda: dict(purpose="reports", kms_key_arn=KEY_ARN, tags=TAGS,
                                       transitions=REPORT_TRANSITIONS, access_log_bucket="logs"),
        CacheArgs: lambda: dict(settings=prod.cache, replication_group_id=NAME, **data_plane, **common,
                                availability_zone_names=("us-east-1a", "us-east-1b", "us-east-1c"),
                                secrets_key_arn=KEY_ARN, secret_prefix="ecomind/unit/"),
        AssetsCdnArgs: lambda: dict(settings=prod.edge, access_log_bucket_name="logs",
                                    access_log_bucket_arn="arn:aws:s3:::logs", web_acl_arn=GLOBAL_ACL, **common),
        WebFirewallArgs: lambda: dict(scope="REGIONAL", region=REGION, log_retention_days=30, **common),
        CiRunnersArgs: lambda: dict(project_name=f"{NAME}-ci", repository="ecomind/ecomind-infra",
                                    connection_arn=CONNECTION_ARN, region=REGION, vpc_id="vpc-1",
                                    private_subnet_ids=SUBNETS, cluster_security_group_id="sg-1",
                                    workflow_names=["deploy", "drift"], log_retention_days=30, **common),
        ClusterArgs: lambda: dict(settings=timescale_stack().cluster, region=REGION, vpc_id="vpc-1",
                                  public_subnet_ids=SUBNETS, private_subnet_ids=SUBNETS, **common),
        ClusterServicesArgs: lambda: dict(
            cluster_name=NAME, cluster_name_literal=NAME, kubernetes_version=prod.cluster.kubernetes_version,
            addon_versions=prod.cluster.addon_versions, autoscaler_image_tag="v1.34.1", kubeconfig="{}", oidc=OIDC,
            region=REGION, vpc_id="vpc-1", target_group_arns=[TARGET_GROUP_ARN], secret_arns=[SECRET_ARN],
            secrets_key_arn=KEY_ARN, tags=TAGS, workloads_ready=[r.resource], secret_namespaces=["ecomind"]),
        ApplicationLoadBalancerArgs: lambda: dict(
            vpc_id="vpc-1", vpc_cidr="10.20.0.0/16", public_subnet_ids=SUBNETS,
            targets_security_group_id="sg-1", deregistration_delay_seconds=30, access_log_bucket="logs", region=REGION,
            host="app.ecomind.example.com", hosted_zone_id="Z0123456789EXAMPLEAB", web_acl_arn=REGIONAL_ACL,
            **common),
        DatabaseArgs: lambda: dict(settings=prod.database, identifier=NAME, secrets_key_arn=KEY_ARN, **data_plane,
                                   **common),
        EncryptionKeyArgs: lambda: dict(description="Encrypts the unit's things", **common),
        ServiceAccountRoleArgs: lambda: dict(oidc=OIDC, namespace="ecomind", service_account="ecomind-api", tags=TAGS,
                                             managed_policy_arns=("arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",),
                                             inline_policies={"reports": {}}),
        MonitoringArgs: lambda: dict(
            stack="unit", region=REGION, thresholds_usd=(500, 1000), alert_email="platform@example.com",
            database_identifier=NAME, database_allocated_gib=100, database_backups=None, kafka_cluster_name=NAME,
            kafka_brokers=3, cache_group_id=NAME, cache_nodes=3, nat_gateway_ids=["nat-1"], nat_gb_per_month=100,
            **common),
        NetworkArgs: lambda: dict(settings=prod.network, region=REGION, cluster_name=NAME, **common),
        RegistryArgs: lambda: dict(prefix="ecomind-unit", **common),
        EcomindReleaseArgs: lambda: dict(environment="dev", values={}, provider=r.provider, depends_on=[r.resource],
                                         target_group_arns={s: TARGET_GROUP_ARN for s in ("gateway", "api", "ui")},
                                         vpc_id="vpc-1"),
        ApplicationSecretsArgs: lambda: dict(prefix="ecomind/unit/", **common),
        StorageArgs: lambda: dict(log_retention_days=30, region=REGION, **common),
        ServiceLevelsArgs: lambda: dict(
            stack="unit", region=REGION, topic_arn="arn:aws:sns:us-east-1:111122223333:alerts",
            load_balancer_arn_suffix="app/web-alb/1", target_group_arn_suffixes={
                s: f"targetgroup/web-{s}/1" for s in ("gateway", "api", "ui")}, kafka_cluster_name=NAME,
            consumer_group="ecomind-worker", consumed_topic="events.raw", public_host="app.ecomind.example.com",
            other_alarm_names=["ecomind-unit-rds-cpu"], canary_name="ecomind-unit-health", cluster_name=NAME,
            deployments=["ecomind-api"], **common),
        HealthCanaryArgs: lambda: dict(
            canary_name="ecomind-unit-health", stack="unit", region=REGION, url="http://internal-web.elb.amazonaws.com",
            topic_arn="arn:aws:sns:us-east-1:111122223333:alerts", access_log_bucket="logs", log_retention_days=30,
            vpc=CanaryVpc(vpc_id="vpc-1", subnet_ids=SUBNETS, load_balancer_security_group_id="sg-2"), **common),
        ClusterTelemetryArgs: lambda: dict(
            stack="unit", cluster_name=NAME, cluster_name_literal=NAME, addon_version="v6.4.0-eksbuild.1", oidc=OIDC,
            region=REGION, log_retention_days=30, topic_arn="arn:aws:sns:us-east-1:111122223333:alerts",
            namespace="ecomind", workloads=["ecomind-api", "ecomind-worker"], node_capacity=6,
            workloads_ready=[r.resource], **common),
        StreamingArgs: lambda: dict(settings=prod.streaming, cluster_name=NAME, **data_plane, **common),
        TimescaleDatabaseArgs: lambda: dict(
            settings=timescale_stack().database.timescale, oidc=OIDC, cluster_security_group_id="sg-1",
            volume_key_arn=KEY_ARN, secrets_key_arn=KEY_ARN, secret_name="ecomind/unit/database-owner",
            access_log_bucket="logs", **common),
    }[cls]()


Override = Callable[[dict[str, Any]], dict[str, Any]]


def to(field: str, value: Any) -> Override:
    return lambda kwargs: {field: value}


def setting(**changes: Any) -> Override:
    return lambda kwargs: {"settings": dataclasses.replace(kwargs["settings"], **changes)}


def settings_with(change: Callable[[Any], dict[str, Any]]) -> Override:
    return lambda kwargs: {"settings": dataclasses.replace(kwargs["settings"], **change(kwargs["settings"]))}


def common(cls: type, *fields: str) -> list[tuple[type, str, Override]]:
    """The checks many args share: tag values are strings, an account ID has 12 digits, a region is named."""
    bad = {"tags": {"owner": 7}, "account_id": "1234", "region": ""}
    return [(cls, field, to(field, bad[field])) for field in fields]


def a_group_in_zone_5(s: settings.ClusterSettings) -> dict[str, Any]:
    return {"node_groups": (*s.node_groups, dataclasses.replace(s.node_groups[0], name="zonal", zone_index=5))}


def the_timescale_engine(s: settings.DatabaseSettings) -> dict[str, Any]:
    return {"engine": "timescaledb", "timescale": timescale_stack().database.timescale}


def one_public_cidr(s: settings.NetworkSettings) -> dict[str, Any]:
    return {"subnets": dataclasses.replace(s.subnets, public=s.subnets.public[:1])}


CASES: list[tuple[type, str, Override]] = [
    (ApplicationAccessArgs, "oidc", to("oidc", "arn:aws:iam::111122223333:oidc-provider/x")),
    (ApplicationAccessArgs, "kafka_cluster_arn", to("kafka_cluster_arn", "arn:aws:kafka:us-east-1:111122223333:x")),
    (ApplicationAccessArgs, "reports_bucket_arn", to("reports_bucket_arn", "reports")),
    (ApplicationAccessArgs, "reports_key_arn", to("reports_key_arn", "alias/reports")),
    *common(ApplicationAccessArgs, "tags"),

    (SecureBucketArgs, "purpose", to("purpose", None)),
    (SecureBucketArgs, "kms_key_arn", to("kms_key_arn", "")),
    (SecureBucketArgs, "transitions", to("transitions", (Transition(30, "COLD"),))),
    (SecureBucketArgs, "transitions", to("transitions", (Transition(-1, "GLACIER"),))),
    (SecureBucketArgs, "expire_after_days", to("expire_after_days", 0)),
    (SecureBucketArgs, "expire_after_days", to("expire_after_days", 90)),
    (SecureBucketArgs, "access_log_bucket", to("access_log_bucket", "")),
    (SecureBucketArgs, "policy_statements", lambda kwargs: {"deferred_policy": True, "policy_statements": []}),
    *common(SecureBucketArgs, "tags"),

    (CacheArgs, "settings.log_retention_days", setting(log_retention_days=2)),
    (CacheArgs, "settings.node_count", setting(node_count=0)),
    (CacheArgs, "replication_group_id", to("replication_group_id", "ecomind--cache")),
    (CacheArgs, "data_subnet_ids", to("data_subnet_ids", [])),
    (CacheArgs, "availability_zone_names", to("availability_zone_names", ["us-east-1a"])),
    (CacheArgs, "secret_prefix", to("secret_prefix", "ecomind/unit")),
    *common(CacheArgs, "tags", "account_id", "region"),

    (AssetsCdnArgs, "settings.price_class", setting(price_class="PriceClass_1")),
    (AssetsCdnArgs, "settings.hosted_zone_id", setting(hosted_zone_id=None)),
    (AssetsCdnArgs, "access_log_bucket_name", to("access_log_bucket_name", "")),
    (AssetsCdnArgs, "access_log_bucket_arn", to("access_log_bucket_arn", "logs")),
    (AssetsCdnArgs, "web_acl_arn", to("web_acl_arn", GLOBAL_ACL.replace("global/", "regional/"))),
    (WebFirewallArgs, "scope", to("scope", "EDGE")),
    (SecureBucketArgs, "object_lock_days", to("object_lock_days", 0)),
    (WebFirewallArgs, "log_retention_days", to("log_retention_days", 10)),  # not a CloudWatch Logs retention
    (ApplicationSecretsArgs, "key_generations", to("key_generations", {"jwt-secret": 0})),
    *common(WebFirewallArgs, "tags", "account_id", "region"),
    *common(AssetsCdnArgs, "tags", "account_id"),

    (CiRunnersArgs, "project_name", to("project_name", "-ci")),
    (CiRunnersArgs, "repository", to("repository", "ecomind-infra")),
    (CiRunnersArgs, "connection_arn", to("connection_arn", "arn:aws:iam::111122223333:role/github")),
    (CiRunnersArgs, "private_subnet_ids", to("private_subnet_ids", "subnet-a")),
    (CiRunnersArgs, "log_retention_days", to("log_retention_days", 10)),
    *common(CiRunnersArgs, "tags", "account_id", "region"),

    (ClusterArgs, "settings.name", setting(name="-cluster")),
    (ClusterArgs, "settings.log_retention_days", setting(log_retention_days=0)),
    (ClusterArgs, "settings.addon_versions", setting(addon_versions={"vpc-cni": "v1"})),
    (ClusterArgs, "settings.node_groups", setting(node_groups=())),
    (ClusterArgs, "settings.node_groups[0].architecture",
     settings_with(lambda s: {"node_groups": (dataclasses.replace(s.node_groups[0], architecture="riscv"),)})),
    (ClusterArgs, "public_subnet_ids", to("public_subnet_ids", [])),
    (ClusterArgs, "private_subnet_ids", to("private_subnet_ids", SUBNETS[:1])),
    (ClusterArgs, "private_subnet_ids", settings_with(a_group_in_zone_5)),
    *common(ClusterArgs, "tags", "account_id", "region"),

    (ClusterServicesArgs, "cluster_name", to("cluster_name", "")),
    (ClusterServicesArgs, "cluster_name_literal", to("cluster_name_literal", "")),
    (ClusterServicesArgs, "addon_versions", to("addon_versions", {"coredns": "v1"})),
    (ClusterServicesArgs, "autoscaler_image_tag", to("autoscaler_image_tag", "v1 34")),
    (ClusterServicesArgs, "kubeconfig", to("kubeconfig", "")),
    (ClusterServicesArgs, "oidc", to("oidc", None)),
    (ClusterServicesArgs, "secret_arns", to("secret_arns", [])),
    (ClusterServicesArgs, "secret_arns", to("secret_arns", ["ecomind/unit/jwt-secret"])),
    (ClusterServicesArgs, "secrets_key_arn", to("secrets_key_arn", "key")),
    (ClusterServicesArgs, "target_group_arns", to("target_group_arns", [])),
    (ClusterServicesArgs, "target_group_arns", to("target_group_arns", ["arn:aws:elasticloadbalancing:us-east-1:"
                                                                        "111122223333:loadbalancer/app/web/1"])),
    (ClusterServicesArgs, "workloads_ready", to("workloads_ready", [])),
    (ClusterServicesArgs, "secret_namespaces", to("secret_namespaces", [])),
    (ClusterServicesArgs, "secret_namespaces", to("secret_namespaces", ["Not A Namespace"])),
    *common(ClusterServicesArgs, "tags", "region"),

    (DatabaseArgs, "settings.engine", settings_with(the_timescale_engine)),
    (DatabaseArgs, "settings.log_retention_days", setting(log_retention_days=-7)),
    (DatabaseArgs, "identifier", to("identifier", "ecomind-")),
    (DatabaseArgs, "backup_window", to("backup_window", "3am-4am")),
    (DatabaseArgs, "maintenance_window", to("maintenance_window", "sunday 04:30")),
    (DatabaseArgs, "data_subnet_ids", to("data_subnet_ids", SUBNETS[:1])),
    (DatabaseArgs, "secrets_key_arn", to("secrets_key_arn", "arn:aws:s3:::not-a-key")),
    *common(DatabaseArgs, "tags", "account_id", "region"),

    (EncryptionKeyArgs, "description", to("description", "x" * 8193)),
    (EncryptionKeyArgs, "service_statements",
     lambda kwargs: {"deferred_policy": True, "service_statements": [{"Sid": "Grant"}]}),
    *common(EncryptionKeyArgs, "tags", "account_id"),

    (ServiceAccountRoleArgs, "oidc", to("oidc", {"arn": "x", "issuer": "y"})),
    (ServiceAccountRoleArgs, "namespace", to("namespace", "Ecomind")),
    (ServiceAccountRoleArgs, "service_account", to("service_account", "system:serviceaccount:ecomind:api")),
    (ServiceAccountRoleArgs, "managed_policy_arns", to("managed_policy_arns", ("AmazonEKS_CNI_Policy",))),
    (ServiceAccountRoleArgs, "inline_policies", to("inline_policies", {"reports and exports": {}})),
    *common(ServiceAccountRoleArgs, "tags"),

    (MonitoringArgs, "stack", to("stack", "")),
    (MonitoringArgs, "thresholds_usd", to("thresholds_usd", ())),
    (MonitoringArgs, "alert_email", to("alert_email", "platform-oncall")),
    (MonitoringArgs, "alert_email", to("alert_email", ["platform@example.com"])),
    (MonitoringArgs, "database_identifier", to("database_identifier", None)),
    (MonitoringArgs, "database_identifier", to("database_backups", ("bucket", {"wal": "w", "base": "b"}))),
    (MonitoringArgs, "database_identifier", to("database_identifier", "")),
    (MonitoringArgs, "database_allocated_gib", to("database_allocated_gib", 0)),
    (MonitoringArgs, "database_backups",
     lambda kwargs: {"database_identifier": None, "database_backups": ("bucket", {"wal": "w"})}),
    (MonitoringArgs, "kafka_cluster_name", to("kafka_cluster_name", "")),
    (MonitoringArgs, "kafka_brokers", to("kafka_brokers", 0)),
    (MonitoringArgs, "cache_group_id", to("cache_group_id", "")),
    (MonitoringArgs, "cache_nodes", to("cache_nodes", 0)),
    (MonitoringArgs, "nat_gateway_ids", to("nat_gateway_ids", [])),
    (MonitoringArgs, "nat_gb_per_month", to("nat_gb_per_month", -1)),
    *common(MonitoringArgs, "tags", "account_id"),

    (NetworkArgs, "settings.availability_zone_ids", setting(availability_zone_ids=())),
    (NetworkArgs, "settings.subnets.public", settings_with(one_public_cidr)),
    (NetworkArgs, "settings.log_retention_days", setting(log_retention_days=31)),
    (NetworkArgs, "cluster_name", to("cluster_name", "")),
    *common(NetworkArgs, "tags", "account_id", "region"),

    (RegistryArgs, "prefix", to("prefix", "EcoMind")),
    (RegistryArgs, "services", to("services", ())),
    (RegistryArgs, "services", to("services", ("api", "Worker"))),
    (RegistryArgs, "services", to("services", ("api", "api"))),
    *common(RegistryArgs, "tags", "account_id"),

    (EcomindReleaseArgs, "environment", to("environment", "staging")),
    (EcomindReleaseArgs, "provider", to("provider", None)),
    (EcomindReleaseArgs, "depends_on", to("depends_on", [])),
    (EcomindReleaseArgs, "target_group_arns", to("target_group_arns", {"api": TARGET_GROUP_ARN})),

    (ApplicationSecretsArgs, "prefix", to("prefix", "")),
    (ApplicationSecretsArgs, "prefix", to("prefix", "ecomind unit/")),
    *common(ApplicationSecretsArgs, "tags", "account_id"),

    (StorageArgs, "log_retention_days", to("log_retention_days", 0)),
    (StorageArgs, "region", to("region", "ap-southeast-5")),  # no ELB log-delivery account known here
    *common(StorageArgs, "tags", "account_id", "region"),

    (ServiceLevelsArgs, "topic_arn", to("topic_arn", "alerts")),
    (ServiceLevelsArgs, "target_group_arn_suffixes", to("target_group_arn_suffixes", {"api": "targetgroup/a/1"})),
    (ServiceLevelsArgs, "consumer_group", to("consumer_group", "")),
    (ServiceLevelsArgs, "public_host", to("public_host", "app")),
    (ServiceLevelsArgs, "region", to("region", "eu-west-1")),  # the health check's alarm needs the topic there
    (ServiceLevelsArgs, "other_alarm_names", to("other_alarm_names", "ecomind-unit-rds-cpu")),
    (ServiceLevelsArgs, "cluster_name", to("cluster_name", None)),  # deployments need their cluster
    (ServiceLevelsArgs, "deployments", to("deployments", "ecomind-api")),
    (ServiceLevelsArgs, "canary_name", to("canary_name", "")),

    (HealthCanaryArgs, "canary_name", to("canary_name", "ecomind-production-health")),  # 25 > 21
    (HealthCanaryArgs, "canary_name", to("canary_name", "Ecomind-Health")),
    (HealthCanaryArgs, "url", to("url", "http://internal-web.elb.amazonaws.com/health")),
    (HealthCanaryArgs, "log_retention_days", to("log_retention_days", 31)),
    (HealthCanaryArgs, "vpc", to("vpc", {"vpc_id": "vpc-1"})),
    (HealthCanaryArgs, "vpc.subnet_ids", lambda kwargs: {"vpc": dataclasses.replace(kwargs["vpc"], subnet_ids=[])}),
    *common(HealthCanaryArgs, "tags", "account_id"),

    (ClusterTelemetryArgs, "addon_version", to("addon_version", "6.4.0")),
    (ClusterTelemetryArgs, "workloads", to("workloads", [])),
    (ClusterTelemetryArgs, "node_capacity", to("node_capacity", 0)),
    (ClusterTelemetryArgs, "log_retention_days", to("log_retention_days", 45)),
    (ClusterTelemetryArgs, "namespace", to("namespace", "")),
    *common(ClusterTelemetryArgs, "tags", "account_id"),
    *common(ServiceLevelsArgs, "tags", "account_id", "region"),

    (ApplicationLoadBalancerArgs, "vpc_id", to("vpc_id", "")),
    (ApplicationLoadBalancerArgs, "vpc_cidr", to("vpc_cidr", "10.20.0.0")),
    (ApplicationLoadBalancerArgs, "public_subnet_ids", to("public_subnet_ids", SUBNETS[:1])),
    (ApplicationLoadBalancerArgs, "targets_security_group_id", to("targets_security_group_id", "cluster")),
    (ApplicationLoadBalancerArgs, "deregistration_delay_seconds", to("deregistration_delay_seconds", 3601)),
    (ApplicationLoadBalancerArgs, "deregistration_delay_seconds", to("deregistration_delay_seconds", "30")),
    (ApplicationLoadBalancerArgs, "access_log_bucket", to("access_log_bucket", "")),
    (ApplicationLoadBalancerArgs, "hosted_zone_id", to("hosted_zone_id", None)),
    (ApplicationLoadBalancerArgs, "host", lambda kwargs: {"host": None, "web_acl_arn": None}),
    (ApplicationLoadBalancerArgs, "host", to("host", "App.Ecomind.Example.com")),
    (ApplicationLoadBalancerArgs, "web_acl_arn", to("web_acl_arn", None)),
    (ApplicationLoadBalancerArgs, "ssl_policy", to("ssl_policy", "ELBSecurityPolicy-2016-08")),
    (ApplicationLoadBalancerArgs, "region", to("region", "ap-southeast-5")),
    *common(ApplicationLoadBalancerArgs, "tags", "account_id", "region"),

    (StreamingArgs, "settings.log_retention_days", setting(log_retention_days=4)),
    (StreamingArgs, "settings.replication_factor", setting(replication_factor=4)),
    (StreamingArgs, "settings.replication_factor", setting(min_insync_replicas=0)),
    (StreamingArgs, "cluster_name", to("cluster_name", "ecomind_kafka")),
    (StreamingArgs, "data_subnet_ids", to("data_subnet_ids", SUBNETS[:1])),
    (StreamingArgs, "data_subnet_ids", to("data_subnet_ids", SUBNETS[:2])),
    *common(StreamingArgs, "tags", "account_id", "region"),

    (TimescaleDatabaseArgs, "settings.cluster_name", setting(cluster_name="EcoMind_DB")),
    (TimescaleDatabaseArgs, "settings.instances", setting(instances=0)),
    (TimescaleDatabaseArgs, "settings.recover_from", settings_with(lambda s: {"recover_from": s.cluster_name})),
    (TimescaleDatabaseArgs, "oidc", to("oidc", None)),
    (TimescaleDatabaseArgs, "secret_name", to("secret_name", "ecomind/unit/database owner")),
    (TimescaleDatabaseArgs, "access_log_bucket", to("access_log_bucket", "")),
    *common(TimescaleDatabaseArgs, "tags", "account_id"),
]
ARGS_CLASSES = sorted({cls for cls, _, _ in CASES}, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", ARGS_CLASSES, ids=lambda cls: cls.__name__)
def test_what_the_stacks_pass_is_accepted(cls, resources):
    cls(**valid(cls, resources))


@pytest.mark.parametrize(("cls", "field", "override"), CASES,
                         ids=[f"{cls.__name__}.{field}" for cls, field, _ in CASES])
def test_a_value_the_component_cannot_build_is_refused_in_one_line(cls, field, override, resources):
    kwargs = valid(cls, resources)
    with pytest.raises(ArgsError) as refused:
        cls(**{**kwargs, **override(kwargs)})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"invalid {cls.__name__}.{field} = "), message
    assert isinstance(refused.value, pulumi.RunError)


def test_outputs_are_left_to_resolve():
    def program():
        unresolved = pulumi.Output.from_input("not-an-account-id")
        ClusterArgs(settings=stack_settings("dev").cluster, region=REGION, account_id=unresolved, vpc_id=unresolved,
                    public_subnet_ids=[unresolved], private_subnet_ids=[unresolved, unresolved], tags=TAGS)
        ApplicationAccessArgs(oidc=OIDC, kafka_cluster_arn=unresolved, reports_bucket_arn=unresolved,
                              reports_key_arn=unresolved, tags=TAGS)
    run_component(program)


def test_a_long_value_is_cut_and_stays_on_one_line():
    with pytest.raises(ArgsError) as refused:
        RegistryArgs(prefix="Ecomind\n" * 100, account_id=ACCOUNT, tags=TAGS)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 500 and "..." in message


# --- The in-cluster database's second step ----------------------------------------------------------

def test_timescale_ready_before_install_is_an_error_and_install_runs_once(resources):
    seen: dict[str, Any] = {}

    def program():
        database = TimescaleDatabase("database", TimescaleDatabaseArgs(**valid(TimescaleDatabaseArgs, resources)))
        with pytest.raises(StepError) as early:
            _ = database.ready
        seen["early"] = str(early.value)
        provider = k8s.Provider("k8s", kubeconfig="{}")
        database.install(provider, "aws-secrets-manager", depends_on=[])
        seen["ready"] = [resource._name for resource in database.ready]
        with pytest.raises(StepError) as twice:
            database.install(provider, "aws-secrets-manager", depends_on=[])
        seen["twice"] = str(twice.value)
    run_component(program)
    assert "\n" not in seen["early"] and "install()" in seen["early"] and "ready" in seen["early"]
    assert seen["ready"] == ["database-cluster"]
    assert "\n" not in seen["twice"] and "twice" in seen["twice"]


def test_both_engines_expose_the_endpoint_and_ready(resources):
    seen: dict[str, Any] = {}

    def program():
        database = Database("database", DatabaseArgs(**valid(DatabaseArgs, resources)))
        seen["ready"], seen["engine"] = database.ready, database.endpoint.engine
    run_component(program)
    assert seen == {"ready": [], "engine": "rds"}
    assert {"endpoint", "ready"} <= set(Database.__annotations__)
    assert "endpoint" in TimescaleDatabase.__annotations__ and isinstance(TimescaleDatabase.ready, property)
