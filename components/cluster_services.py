"""What the EcoMind chart needs from the cluster: pods bound to the stack's target groups, secrets
sync, metrics and node autoscaling. Each controller runs with its own IRSA role."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import policy_documents as docs
from components.args import (
    DNS_LABEL,
    check_arn,
    check_arns,
    check_name,
    check_region,
    check_tags,
    is_list,
    is_plain,
    refuse,
)
from components.cluster import CLUSTER_NAME
from components.irsa import OidcProvider, irsa_role_for
from components.load_balancer import BACKENDS

# Chart versions, pinned, each to the newest release seen in its repository's published chart
# index (gh-pages index.yaml) and chart sources; the renovate.json custom managers move them.
# renovate: datasource=helm depName=aws-load-balancer-controller registryUrl=https://aws.github.io/eks-charts
# seen: aws/eks-charts index.yaml and stable/aws-load-balancer-controller/Chart.yaml at 5239609 (2026-08-03).
LOAD_BALANCER_CONTROLLER = {"chart": "aws-load-balancer-controller", "version": "3.5.0",
                            "repo": "https://aws.github.io/eks-charts"}
# renovate: datasource=helm depName=external-secrets registryUrl=https://charts.external-secrets.io
# seen: external-secrets/external-secrets tag helm-chart-2.9.0 (cc5bfbc, 2026-08-08), newest in its index.
EXTERNAL_SECRETS = {"chart": "external-secrets", "version": "2.9.0", "repo": "https://charts.external-secrets.io"}
# renovate: datasource=helm depName=cluster-autoscaler registryUrl=https://kubernetes.github.io/autoscaler
# seen: kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0 (5a0b98e, 2026-07-21).
CLUSTER_AUTOSCALER = {"chart": "cluster-autoscaler", "version": "9.59.0",
                      "repo": "https://kubernetes.github.io/autoscaler"}
# renovate: datasource=helm depName=reloader registryUrl=https://stakater.github.io/stakater-charts
# seen: stakater/Reloader tag chart-v2.2.16, chart app v1.4.21 (snapshot 2026-08-10); its chart index not read.
RELOADER = {"chart": "reloader", "version": "2.2.16", "repo": "https://stakater.github.io/stakater-charts"}

SECRET_STORE_NAME = "aws-secrets-manager"
# Controllers run on the system node group, which prod taints for add-ons only.
# The controllers' charts request nothing by default (`resources: {}` in aws-load-balancer-controller
# 3.5.0, external-secrets 2.9.0 for all three parts, cluster-autoscaler 9.59.0 values.yaml), which
# makes their pods BestEffort: the first evicted under memory pressure, and invisible to the
# scheduler's packing. Requests sized for one controller at this cluster's scale, memory limits
# with room (analyses/capacity.py counts the requests).
CONTROLLER_RESOURCES = {
    "aws-load-balancer-controller": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "external-secrets": {"requests": {"cpu": "20m", "memory": "96Mi"}, "limits": {"memory": "384Mi"}},
    "external-secrets-webhook": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
    "external-secrets-cert-controller": {"requests": {"cpu": "10m", "memory": "64Mi"},
                                         "limits": {"memory": "256Mi"}},
    "cluster-autoscaler": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
}
SYSTEM_PLACEMENT = {
    "nodeSelector": {"ecomind.io/node-group": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}],
}
HELM_TIMEOUT_SECONDS = 600
# An image tag as the OCI distribution spec allows it.
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+")
TARGET_GROUP_ARN = re.compile(r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[\w-]+/[0-9a-f]+")


def chart_release(resource_name: str, release_name: str, spec: Mapping[str, str], namespace: str,
                  values: pulumi.Input[Mapping], on_cluster: pulumi.ResourceOptions,
                  depends_on: Sequence[pulumi.Resource] = (), create_namespace: bool = False) -> k8s.helm.v3.Release:
    """A pinned chart from its repository, rolled back whole if it does not become ready."""
    return k8s.helm.v3.Release(
        resource_name, name=release_name, chart=spec["chart"], version=spec["version"],
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=spec["repo"]), namespace=namespace,
        create_namespace=create_namespace or None, values=values, atomic=True, cleanup_on_fail=True,
        timeout=HELM_TIMEOUT_SECONDS,
        opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=list(depends_on))))


@dataclasses.dataclass(frozen=True)
class ClusterServicesArgs:
    cluster_name: pulumi.Input[str]
    """Cluster name that resolves once the cluster exists (`Cluster.cluster_name`), for the metrics-server add-on."""
    cluster_name_literal: str
    """The same name as a plain string, for policy conditions and chart values."""
    kubernetes_version: str
    """Kubernetes version of the cluster (setting kubernetesVersion); not read here, since the pins it
    selects arrive resolved as addon_versions and autoscaler_image_tag."""
    addon_versions: Mapping[str, str]
    """EKS add-on builds for that version (`settings.ADDON_VERSIONS`); this component reads metrics-server."""
    autoscaler_image_tag: str
    """Cluster Autoscaler image tag matching the Kubernetes minor (`settings.CLUSTER_AUTOSCALER_IMAGE_TAGS`)."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of the cluster (`Cluster.kubeconfig_json`), for the Kubernetes provider."""
    oidc: OidcProvider
    """The cluster's OIDC provider (`Cluster.oidc`), trusted by each controller's IRSA role."""
    region: str
    """Region of the stack, for the controllers' values and the Secrets Manager decrypt condition."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster (`Network.vpc_id`), for the load balancer controller."""
    target_group_arns: Sequence[pulumi.Input[str]]
    """The stack's target groups (`ApplicationLoadBalancer.target_group_arns`): the only ones the
    load balancer controller may register pods in."""
    secret_arns: Sequence[pulumi.Input[str]]
    """Every secret External Secrets may read, and nothing else."""
    secret_namespaces: Sequence[str]
    """The only namespaces whose ExternalSecrets may use the ClusterSecretStore (the EcoMind
    release's, and the in-cluster database's with that engine)."""
    secrets_key_arn: pulumi.Input[str]
    """CMK of those secrets (`ApplicationSecrets.key_arn`); External Secrets decrypts through Secrets Manager only."""
    tags: Mapping[str, str]
    """Stack tags, applied to the metrics-server add-on and the controllers' IRSA roles."""
    workloads_ready: Sequence[pulumi.Resource]
    """Node groups and CoreDNS: nothing is installed on the cluster before they exist."""
    replica_key_arns: Sequence[str] = ()
    """A recovery stack: the key of the source stack's secret replicas it reads; default none."""

    def __post_init__(self) -> None:
        if is_plain(self.cluster_name) and not self.cluster_name:
            refuse(self, "cluster_name", "expected the cluster's name (or an Output resolving to it)")
        check_name(self, "cluster_name_literal", CLUSTER_NAME,
                   "expected the EKS cluster name: 1 to 100 letters, digits, hyphens or underscores")
        if "metrics-server" not in self.addon_versions:
            refuse(self, "addon_versions", "expected a metrics-server version (the EKS add-on this component installs)")
        check_name(self, "autoscaler_image_tag", IMAGE_TAG,
                   "expected an image tag: letters, digits, '_', '.', '-', at most 128 characters")
        if is_plain(self.kubeconfig) and not self.kubeconfig:
            refuse(self, "kubeconfig", "expected a kubeconfig (or an Output resolving to one)")
        if not isinstance(self.oidc, OidcProvider):
            refuse(self, "oidc", "expected an OidcProvider (Cluster.oidc)")
        check_region(self)
        # IAM refuses a statement whose Resource list is empty.
        check_arns(self, "secret_arns", SECRET_ARN, "Secrets Manager", "every secret the application reads, at least 1")
        check_arn(self, "secrets_key_arn", "kms", "arn:aws:kms:us-east-1:111122223333:key/<id>")
        if not is_list(self.replica_key_arns) or not all(
                re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/\S+", str(a)) for a in self.replica_key_arns):
            refuse(self, "replica_key_arns", "expected a list of KMS key ARNs (empty outside a recovery stack)")
        check_arns(self, "target_group_arns", TARGET_GROUP_ARN, "target group", "the stack's target groups, at least 1")
        check_tags(self)
        # The provider waits for these, so that no chart races the nodes it needs.
        if not is_list(self.secret_namespaces) or not self.secret_namespaces or not all(
                isinstance(n, str) and DNS_LABEL.fullmatch(n) for n in self.secret_namespaces):
            refuse(self, "secret_namespaces", "expected one or more Kubernetes namespace names")
        if not is_list(self.workloads_ready) or not self.workloads_ready:
            refuse(self, "workloads_ready", "expected the node groups and CoreDNS (Cluster.workloads_ready), "
                   "at least 1")


class ClusterServices(pulumi.ComponentResource):
    """AWS Load Balancer Controller (TargetGroupBinding only), External Secrets (+ ClusterSecretStore),
    metrics-server and Cluster Autoscaler."""

    provider: k8s.Provider
    """Kubernetes provider for the cluster; the EcoMind release uses it too."""
    secret_store_name: str
    """ClusterSecretStore the chart's ExternalSecrets reference."""
    ready: list[pulumi.Resource]
    """What the EcoMind release must wait for (CRDs, webhooks, the secret store)."""
    webhooks_ready: list[pulumi.Resource]
    """What any other chart must wait for: the load balancer controller, whose fail-closed
    webhooks admit every Service (docs/adr/0012)."""
    autoscaler_ready: list[pulumi.Resource]
    """What a chart whose pods may need a node Cluster Autoscaler adds waits for (the release is
    in `ready`; the plan's packing counts those pods on added nodes)."""

    def __init__(self, name: str, args: ClusterServicesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:platform:ClusterServices", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Every Kubernetes object goes through this provider, so making it wait for the nodes
        # and CoreDNS makes every chart wait: a release installed before there is a node to run
        # its pods races node-group creation against its Helm timeout.
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=args.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.workloads_ready)))
        on_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)

        def role(service: str, namespace: str, account: str, policy: pulumi.Input[docs.Document]):
            return irsa_role_for(f"{name}-{service}", args.oidc, namespace, account, tags=args.tags,
                                 inline_policies={service: policy}, opts=child).role_arn

        def release(service: str, spec: Mapping[str, str], namespace: str, values: Mapping,
                    depends_on: Sequence[pulumi.Resource] = ()) -> k8s.helm.v3.Release:
            return chart_release(f"{name}-{service}", service, spec, namespace, values, on_cluster, depends_on)

        def after_load_balancers(service: str, spec: Mapping[str, str], namespace: str, values: Mapping,
                                 depends_on: Sequence[pulumi.Resource] = ()) -> k8s.helm.v3.Release:
            return release(service, spec, namespace, values, [load_balancers, *depends_on])

        # The controller's chart registers a mutating webhook on every Service CREATE in every
        # namespace, failurePolicy Fail (aws/eks-charts stable/aws-load-balancer-controller
        # templates/webhook.yaml, mservice.elbv2.k8s.aws; values enableServiceMutatorWebhook and
        # serviceMutatorWebhookConfig.failurePolicy at 3.5.0), and validating ones on Ingress and
        # TargetGroupBinding. Until its pods serve, every chart that creates a Service fails
        # (kubernetes-sigs/aws-load-balancer-controller#4140), so every other release on the
        # cluster is installed after this one (`after_load_balancers`, and `ready` for the EcoMind
        # release and the database's charts). The webhook stays on, so that a LoadBalancer
        # Service is the controller's (which may not build one) rather than the legacy in-tree CLB.
        #
        # The stack owns its ALB (components/load_balancer.py); the controller only binds pods to
        # its target groups. What it would build for an Ingress is switched off: no IngressClass,
        # no WAF or Shield add-ons, no shared backend security group (values.yaml at 3.5.0), and
        # its role allows no create (policy_documents.target_group_binding_policy).
        lb_account = "aws-load-balancer-controller"
        load_balancers = release("aws-load-balancer-controller", LOAD_BALANCER_CONTROLLER, "kube-system", {
            "clusterName": args.cluster_name_literal, "region": args.region, "vpcId": args.vpc_id,
            "replicaCount": 2, "podDisruptionBudget": {"maxUnavailable": 1},
            # One replica a zone, so that losing a zone leaves one to register targets and answer
            # the pod webhook (the chart only prefers other nodes: configureDefaultAffinity).
            "topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                "nodeTaintsPolicy": "Honor", "matchLabelKeys": ["pod-template-hash"],
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}}}],
            # The pod webhook (mpod.elbv2.k8s.aws) fails closed, and only for the pods behind the
            # ALB: a pod it cannot give its readiness gate is refused, not admitted without one
            # (chart default Ignore since 1.12.0; the controller's docs recommend Fail with an
            # objectSelector). The migration Job and the worker stay creatable while it is down.
            "podMutatorWebhookConfig": {"failurePolicy": "Fail"},
            # Reuse the webhook's certificate on upgrade: the chart otherwise makes a new CA each
            # time (templates/_helpers.tpl webhookCerts), and until the running pods reload their
            # certificate the API server's calls fail and every pod behind the ALB is refused
            # (aws-load-balancer-controller#4605).
            "keepTLSSecret": True,
            "objectSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": sorted(BACKENDS)}]},
            "resources": CONTROLLER_RESOURCES["aws-load-balancer-controller"],
            "createIngressClassResource": False, "enableShield": False, "enableWaf": False, "enableWafv2": False,
            "enableBackendSecurityGroup": False,
            "serviceAccount": {"create": True, "name": lb_account, "annotations": {
                "eks.amazonaws.com/role-arn": role("load-balancer-controller", "kube-system", lb_account,
                                                   docs.target_group_binding_policy(args.target_group_arns))}},
            **SYSTEM_PLACEMENT,
        })

        # metrics-server, for the HPAs: the EKS add-on, so AWS keeps it matched to the cluster. It
        # creates the metrics-server Service, which the controller's webhook must admit first (an
        # add-on beside the controller fails CREATE_FAILED: aws-samples PRs recording the race).
        metrics = aws.eks.Addon(
            f"{name}-metrics-server", cluster_name=args.cluster_name, addon_name="metrics-server",
            addon_version=args.addon_versions["metrics-server"], resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE", tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.workloads_ready, load_balancers]))

        eso_namespace = k8s.core.v1.Namespace(f"{name}-external-secrets", metadata={"name": "external-secrets"},
                                              opts=on_cluster)
        eso_account = "external-secrets"
        # Two replicas of each part with leader election, and budgets that allow one down: the
        # chart's PDBs are minAvailable 1 by default, which with its default single replica lets
        # no drain finish (external-secrets chart values.yaml and templates/*poddisruptionbudget.yaml
        # at helm-chart-2.9.0: maxUnavailable wins when set).
        drain_safe = {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}}
        keys = [args.secrets_key_arn, *args.replica_key_arns]
        reader = docs.secret_reader_policy(args.secret_arns, keys, args.region)
        external_secrets = after_load_balancers("external-secrets", EXTERNAL_SECRETS, "external-secrets", {
            "installCRDs": True, "leaderElect": True, **drain_safe,
            "resources": CONTROLLER_RESOURCES["external-secrets"],
            "serviceAccount": {"create": True, "name": eso_account, "annotations": {
                "eks.amazonaws.com/role-arn": role("external-secrets", "external-secrets", eso_account, reader)}},
            **SYSTEM_PLACEMENT,
            "webhook": {**SYSTEM_PLACEMENT, **drain_safe,
                        "resources": CONTROLLER_RESOURCES["external-secrets-webhook"]},
            "certController": {**SYSTEM_PLACEMENT, **drain_safe,
                               "resources": CONTROLLER_RESOURCES["external-secrets-cert-controller"]},
        }, depends_on=[eso_namespace])
        # No `auth` block: the store uses the controller's own IRSA role, which reads only the
        # EcoMind secrets.
        self.secret_store_name = SECRET_STORE_NAME
        store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
            metadata={"name": SECRET_STORE_NAME},
            # A ClusterSecretStore serves every namespace unless its conditions name some
            # (external-secrets apis/externalsecrets/v1 ClusterSecretStoreCondition, helm-chart-2.9.0):
            # any workload able to create an ExternalSecret could otherwise read EcoMind's secrets.
            spec={"provider": {"aws": {"service": "SecretsManager", "region": args.region}},
                  "conditions": [{"namespaces": list(args.secret_namespaces)}]},
            opts=pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[external_secrets])))

        autoscaler_account = "cluster-autoscaler"
        autoscaler = after_load_balancers("cluster-autoscaler", CLUSTER_AUTOSCALER, "kube-system", {
            "cloudProvider": "aws", "awsRegion": args.region,
            "autoDiscovery": {"clusterName": args.cluster_name_literal},
            "image": {"tag": args.autoscaler_image_tag},
            "resources": CONTROLLER_RESOURCES["cluster-autoscaler"],
            "rbac": {"serviceAccount": {"create": True, "name": autoscaler_account, "annotations": {
                "eks.amazonaws.com/role-arn": role("cluster-autoscaler", "kube-system", autoscaler_account,
                                                   docs.cluster_autoscaler_policy(args.cluster_name_literal))}}},
            # skip-nodes-with-local-storage off: the EKS add-ons' controllers (metrics-server's
            # tmp-dir, the EBS CSI controller's socket-dir) are emptyDir pods no configuration key
            # this stack has verified can annotate, and they may run on workload nodes, which then
            # never scale down (utils/drain/drain.go at cluster-autoscaler-1.36.1). Every local
            # volume in the stack is scratch; the chart still names its own (deployment rule
            # scale-down-with-local-storage), and budgets still bound each eviction.
            "extraArgs": {"balance-similar-node-groups": True, "skip-nodes-with-system-pods": False,
                          "skip-nodes-with-local-storage": False, "expander": "least-waste"},
            **SYSTEM_PLACEMENT,
        })

        # The autoscaler too: what comes after may need a node it adds (analyses/packing.py).
        self.ready = [load_balancers, external_secrets, store, metrics, autoscaler]
        self.autoscaler_ready = [autoscaler]
        self.webhooks_ready = [load_balancers]
        self.register_outputs({"secret_store_name": self.secret_store_name})
