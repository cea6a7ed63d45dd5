"""The EcoMind release: the local chart, installed by the same stack that built its platform."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.args import is_list, refuse
from components.cluster_services import RELOADER, SYSTEM_PLACEMENT, chart_release
from components.load_balancer import BACKENDS, KEEP_ALIVE_SECONDS
from settings import ENVIRONMENTS

CHART_DIR = "charts/ecomind"
NAMESPACE = "ecomind"
RELEASE_NAME = "ecomind"
# One Deployment per service of ../shared/ecomind-app.md, named <release>-<service> by the chart
# (templates/_helpers.tpl, ecomind.name).
SERVICES = ("gateway", "api", "worker", "ui")
DEPLOYMENTS = tuple(f"{RELEASE_NAME}-{service}" for service in SERVICES)
# Migrations, image pulls and rollouts of four services; the team's target for a Helm
# deployment is under 5 minutes, so 10 leaves room before the release is rolled back.
RELEASE_TIMEOUT_SECONDS = 600
READINESS_GATE_LABEL = "elbv2.k8s.aws/pod-readiness-gate-inject"
# How a pod leaves the ALB (make plan's rollout table judges the pair): the stack's target groups
# drain a deregistered target for DEREGISTRATION_DELAY_SECONDS (components/load_balancer.py); the
# pod sleeps 40 s in preStop (the drain plus the deregistration's propagation) and then has 10 s
# for in-flight work (the chart's `rollout` values), in waves of half the replicas so that prod's
# 12 at most roll in 2 waves, well inside RELEASE_TIMEOUT_SECONDS.
DEREGISTRATION_DELAY_SECONDS = 30
ROLLOUT = {"preStopSleepSeconds": 40, "appDrainSeconds": 10, "maxSurge": "50%"}


RELOADER_NAMESPACE = "reloader"
# What the load balancer controller's TargetGroupBinding webhook refuses to change in place.
BINDING_IMMUTABLE_FIELDS = ("targetGroupARN", "targetType", "vpcID")


def reloader_values(namespace: str) -> dict[str, Any]:
    """Reloader restarts a Deployment when a Secret its `secret.reloader.stakater.com/reload`
    annotation names changes: External Secrets rewrites those Secrets when Secrets Manager's value
    changes, and the services read theirs once, at start (chart values.yaml at 2.2.16)."""
    return {"reloader": {
        # Scoped mode: Roles in the release namespace and in `namespaces` only, no ClusterRole
        # (templates/role.yaml; the release namespace keeps its leases, _helpers.tpl).
        "watchGlobally": False, "namespaces": [namespace],
        "ignoreConfigMaps": True,
        # A pod-template annotation, not an env var, marks the restart.
        "reloadStrategy": "annotations",
        # Two replicas with leader election, and a budget that lets a drain take one.
        "enableHA": True, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "readOnlyRootFileSystem": True,
        "deployment": {
            "replicas": 2,
            "nodeSelector": SYSTEM_PLACEMENT["nodeSelector"], "tolerations": SYSTEM_PLACEMENT["tolerations"],
            "containerSecurityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        },
    }}


@dataclasses.dataclass(frozen=True)
class ChartInputs:
    """Everything the chart needs from the platform, as plain values."""

    image_tag: str
    repositories: Mapping[str, str]
    region: str
    database_host: str
    database_port: int
    database_name: str
    kafka_bootstrap_brokers: str
    cache_host: str
    cache_port: int
    reports_bucket: str
    secret_store_name: str
    database_secret_arn: str
    cache_secret_arn: str
    jwt_secret_arn: str
    gateway_hmac_secret_arn: str
    role_arns: Mapping[str, str]
    load_balancer_cidrs: Sequence[str]
    """The ALB's subnets (the public ones, internal or not: components/load_balancer.py), which
    hold no pod: the only sources the services' NetworkPolicies admit on their HTTP ports."""
    data_cidrs: Sequence[str]
    vpc_cidr: str
    service_cidr: str
    """The cluster's Kubernetes service range (settings.KUBERNETES_SERVICE_CIDR): kept out of the pods'
    egress to AWS's APIs, with the VPC's range."""
    host: str | None
    """The host EcoMind answers on over HTTPS (app.<domain>); None without a domain."""
    database_iam_user: str | None = None
    """The services' database role when they log in with IAM authentication (RDS); None when
    they use the database secret's credentials."""


def chart_values(i: ChartInputs) -> dict[str, Any]:
    """The chart's values for a stack: endpoints, ARNs and names only, never a secret value."""
    return {
        "image": {"tag": i.image_tag, "repositories": dict(i.repositories)},
        "aws": {"region": i.region},
        "database": {"host": i.database_host, "port": i.database_port, "name": i.database_name,
                     "iamAuthUser": i.database_iam_user or ""},
        "kafka": {"bootstrapBrokers": i.kafka_bootstrap_brokers},
        "cache": {"host": i.cache_host, "port": i.cache_port},
        "storage": {"reportsBucket": i.reports_bucket},
        "secrets": {
            "storeName": i.secret_store_name,
            "databaseSecretArn": i.database_secret_arn,
            "cacheSecretArn": i.cache_secret_arn,
            "jwtSecretArn": i.jwt_secret_arn,
            "gatewayHmacSecretArn": i.gateway_hmac_secret_arn,
        },
        "serviceAccounts": {service: {"roleArn": arn} for service, arn in i.role_arns.items()},
        # The ALB's nodes are where the pods' HTTP traffic comes from (targets are pod IPs).
        "network": {"loadBalancerCidrs": list(i.load_balancer_cidrs),
                    "dataCidrs": list(i.data_cidrs), "vpcCidr": i.vpc_cidr, "serviceCidr": i.service_cidr},
        "ui": {"apiUrl": f"https://{i.host}" if i.host else ""},
        "rollout": dict(ROLLOUT),
        "http": {"keepAliveSeconds": KEEP_ALIVE_SECONDS},
    }


@dataclasses.dataclass(frozen=True)
class EcomindReleaseArgs:
    environment: str
    """dev or prod (setting environment): selects the chart's values-<environment>.yaml."""
    values: pulumi.Input[dict[str, Any]]
    """The stack's chart values (`chart_values`), laid over that file."""
    provider: k8s.Provider
    """Kubernetes provider of the cluster (`ClusterServices.provider`)."""
    depends_on: Sequence[pulumi.Resource]
    """Cluster services whose CRDs and webhooks the chart uses (External Secrets, the load
    balancer controller) and the secret store."""
    target_group_arns: Mapping[str, pulumi.Input[str]]
    """The stack's target group per HTTP service (`ApplicationLoadBalancer.target_group_arns`),
    which the bindings bind the services' pods to."""
    vpc_id: pulumi.Input[str]
    """The VPC of the target groups (`Network.vpc_id`)."""

    def __post_init__(self) -> None:
        if not isinstance(self.target_group_arns, Mapping) or set(self.target_group_arns) != set(BACKENDS):
            refuse(self, "target_group_arns", "expected one target group ARN for each of " + ", ".join(BACKENDS))
        if self.environment not in ENVIRONMENTS:
            refuse(self, "environment", "expected one of " + ", ".join(ENVIRONMENTS)
                   + f" (the chart has a {CHART_DIR}/values-<environment>.yaml for each)")
        if not isinstance(self.provider, k8s.Provider):
            refuse(self, "provider", "expected the cluster's Kubernetes provider (ClusterServices.provider)")
        # Installed before its CRDs and webhooks, the chart fails; the list is what it waits for.
        if not is_list(self.depends_on) or not self.depends_on:
            refuse(self, "depends_on", "expected the cluster services the chart needs (ClusterServices.ready), "
                   "at least 1")


class EcomindRelease(pulumi.ComponentResource):
    """A restricted namespace and a real Helm release (hooks run, `helm history` works)."""

    release_status: pulumi.Output[Any]
    """Helm's status of the release (revision, status)."""

    def __init__(self, name: str, args: EcomindReleaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:app:EcomindRelease", name, None, opts)
        on_cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        namespace = k8s.core.v1.Namespace(f"{name}-namespace", metadata={
            "name": NAMESPACE,
            # The API server refuses any pod that does not meet the "restricted" standard.
            "labels": {**{f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")},
                       # The load balancer controller's pod webhook (mpod.elbv2.k8s.aws, namespaceSelector
                       # on this label at chart 3.5.0) adds readiness gates: a new pod is ready only
                       # once its ALB target is healthy, so a rollout never leaves only draining targets.
                       READINESS_GATE_LABEL: "enabled"},
        }, opts=on_cluster)
        # Beside the EcoMind release, not before it (a secret that changes in the minutes of a
        # first install is the only one it could miss); its Role in this namespace needs the
        # namespace first.
        # In a namespace of its own: scoped mode gives Reloader Roles in its release namespace too
        # (templates/role.yaml at 2.2.16), and in kube-system that would let it read every Secret there.
        chart_release(f"{name}-reloader", "reloader", RELOADER, RELOADER_NAMESPACE, reloader_values(NAMESPACE),
                      on_cluster, depends_on=[namespace, *args.depends_on], create_namespace=True)
        # The bindings exist before the release's pods: the controller's pod webhook gives a pod a
        # readiness gate only for a binding (and its Service) that exists when the pod is created
        # (aws-load-balancer-controller v3.5.0 pkg/inject/pod_readiness/pod_readiness_gate.go), and
        # Helm creates custom kinds after Deployments (kind_sorter.go: unknown kinds last), so in
        # the chart they would come too late on a first install (aws-load-balancer-controller#1718).
        # A binding whose Service does not exist yet is reconciled once it does (the controller
        # watches Services). The webhook reads Services from its cache: a pod created before the
        # controller has seen its Service still gets no gate (ADR 0023). Outside the release, a
        # rollback leaves them, which is what they are: as stable as the target groups they name.
        bindings = [k8s.apiextensions.CustomResource(
            f"{name}-{service}-binding", api_version="elbv2.k8s.aws/v1beta1", kind="TargetGroupBinding",
            metadata={"name": f"{RELEASE_NAME}-{service}", "namespace": NAMESPACE,
                      "labels": {"app.kubernetes.io/name": "ecomind", "app.kubernetes.io/component": service}},
            # Pod IPs, as the target group's type; no `networking`, so the controller manages no
            # security group rule (the stack's own rules admit the ALB).
            spec={"serviceRef": {"name": f"{RELEASE_NAME}-{service}", "port": backend.port},
                  "targetGroupARN": args.target_group_arns[service], "targetType": "ip", "vpcID": args.vpc_id},
            # The controller refuses any change to these (targetgroupbinding_validator.go at v3.5.0,
            # checkImmutableFields), and a target group whose port, protocol or VPC changes is a new
            # one with a new ARN (ModifyTargetGroup takes only health-check fields): the binding is
            # deleted, its targets deregistered, and made anew.
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[namespace, *args.depends_on], delete_before_replace=True,
                replace_on_changes=[f"spec.{field}" for field in BINDING_IMMUTABLE_FIELDS])))
            for service, backend in BACKENDS.items()]
        environment_values = Path(CHART_DIR) / f"values-{args.environment}.yaml"
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART_DIR,
            namespace=namespace.metadata["name"],
            value_yaml_files=[pulumi.FileAsset(str(environment_values))],
            values=args.values,
            atomic=True,
            cleanup_on_fail=True,
            wait_for_jobs=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(
                depends_on=[*args.depends_on, *bindings])),
        )
        self.release_status = release.status
        self.register_outputs({"release_status": self.release_status})
