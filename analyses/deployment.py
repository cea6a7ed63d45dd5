"""What a real deployment waits for and refuses, checked over the plan's graph.

The mock engine creates every resource at once and answers every call, so a plan can be
complete and still fail its first real `pulumi up`: an add-on that waits for nodes that wait
for it, a chart installed before the webhook that must admit its objects, a role a workload
assumes before it exists. Each rule here encodes one such behaviour of AWS, EKS, Helm or a
controller, names its upstream source, and fails `make plan` with one line per violation.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import settings
from analyses import rulebook
from analyses.model import Plan, PlannedResource
from analyses.rulebook import Rule

SECTION = "deployment"

EKS_CLUSTER = "eks:index:Cluster"
NODE_GROUP_TYPES = ("eks:index:ManagedNodeGroup", "eks:index:NodeGroup", "eks:index:NodeGroupV2",
                    "aws:eks/nodeGroup:NodeGroup")
ADDON = "aws:eks/addon:Addon"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ROLE = "aws:iam/role:Role"
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"

# EKS add-ons that run a Deployment (not only a DaemonSet): they report ACTIVE only once their
# pods run, which needs a node (EKS user guide, "Amazon EKS add-ons": each add-on's workload).
POD_SCHEDULING_ADDONS = frozenset({"coredns", "aws-ebs-csi-driver", "aws-efs-csi-driver", "metrics-server",
                                   "snapshot-controller", "amazon-cloudwatch-observability", "adot",
                                   "aws-mountpoint-s3-csi-driver", "aws-guardduty-agent"})
# Every EKS add-on is either done before the load balancer controller's chart registers its
# fail-closed Service webhook (CREATE, every namespace: aws/eks-charts webhook.yaml at 3.5.0) or
# waits for the controller to serve: one mechanism, no list of which add-ons make Services to keep in
# sync (aws-samples deployments record CREATE_FAILED for an add-on created beside it).
# API groups whose kinds Kubernetes serves itself; any other group needs a CRD first.
BUILT_IN_GROUPS = frozenset({"core", "apps", "batch", "policy", "autoscaling", "networking.k8s.io",
                             "storage.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
                             "admissionregistration.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
                             "discovery.k8s.io", "helm.sh"})
# The chart that installs each custom API group's CRDs (each chart's crds/ or templates).
CRD_CHARTS = {
    "external-secrets.io": "external-secrets",
    "postgresql.cnpg.io": "cloudnative-pg",
    "barmancloud.cnpg.io": "plugin-barman-cloud",
    "cert-manager.io": "cert-manager",
    "elbv2.k8s.aws": "aws-load-balancer-controller",
}
ACCESS_POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
# The same facts the settings decide by (settings.py, with their sources).
DEPLOY_ACCESS_POLICY = settings.ADMIN_ACCESS_POLICY
PREVIEW_ACCESS_POLICY = settings.READ_ONLY_ACCESS_POLICY
EKS_UNSUPPORTED_ZONE_IDS = settings.EKS_UNSUPPORTED_ZONE_IDS
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/")


def _upstream_types(plan: Plan, resource: PlannedResource) -> set[str]:
    by_urn = {r.urn: r for r in plan.resources}
    return {by_urn[urn].type for urn in plan.upstream_of(resource)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _pod_addons_after_nodes(plan: Plan):
    for cluster in plan.of_type(EKS_CLUSTER):
        coredns = cluster.inputs.get("corednsAddonOptions", {})
        no_nodes = cluster.inputs.get("skipDefaultNodeGroup") and not cluster.inputs.get("fargate")
        if no_nodes and (coredns.get("enabled") or coredns.get("configurationValues")):
            yield cluster.urn, "CoreDNS is enabled inside the Cluster, which has no node group of its own"
    for addon in plan.of_type(ADDON):
        if addon.inputs.get("addonName") in POD_SCHEDULING_ADDONS and not (
                _upstream_types(plan, addon) & set(NODE_GROUP_TYPES)):
            yield addon.urn, f"add-on {addon.inputs['addonName']} runs pods but waits for no node group"


def _kubernetes_after_nodes(plan: Plan):
    for provider in plan.of_type(K8S_PROVIDER):
        upstream = _upstream_types(plan, provider)
        if not upstream & set(NODE_GROUP_TYPES):
            yield provider.urn, "the Kubernetes provider waits for no node group: charts race node creation"
        elif not any(plan.by_urn(u).inputs.get("addonName") == "coredns" for u in plan.upstream_of(provider)
                     if plan.by_urn(u).type == ADDON):
            yield provider.urn, "the Kubernetes provider does not wait for CoreDNS: pods start without DNS"


def _group_of(resource_type: str) -> str | None:
    if not resource_type.startswith("kubernetes:"):
        return None
    group = resource_type.split(":")[1].split("/")[0]
    return None if group in BUILT_IN_GROUPS else group


def _custom_resources_after_their_crds(plan: Plan):
    for resource in plan.resources:
        group = _group_of(resource.type)
        if group is None:
            continue
        chart = CRD_CHARTS.get(group)
        if chart is None:
            yield resource.urn, f"no chart is known to install the CRDs of {group} (add it to CRD_CHARTS)"
            continue
        upstream = plan.upstream_of(resource)
        if not any(r.inputs.get("chart") == chart for r in plan.of_type(RELEASE) if r.urn in upstream):
            yield resource.urn, f"{resource.type.split(':')[-1]} of {group} does not wait for the {chart} release"


def _after_fail_closed_webhooks(plan: Plan):
    controllers = [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == LOAD_BALANCER_CONTROLLER_CHART]
    for controller in controllers:
        before_controller = plan.upstream_of(controller)
        for resource in plan.resources:
            creates_services = resource.type in (RELEASE, "kubernetes:core/v1:Service",
                                                 "kubernetes:networking.k8s.io/v1:Ingress")
            if creates_services and resource.urn != controller.urn and controller.urn not in plan.upstream_of(
                    resource):
                yield resource.urn, "installed without waiting for the load balancer controller's webhooks"
            # An add-on done before the controller's chart registers the webhook is safe too.
            elif (resource.type in (ADDON, "eks:index:VpcCniAddon") and resource.urn not in before_controller
                  and controller.urn not in plan.upstream_of(resource)):
                yield resource.urn, (f"the {resource.inputs.get('addonName', 'vpc-cni')} add-on is created beside "
                                     "the load balancer controller, whose webhook refuses its Services until it serves")


def _logging_after_bucket_policy(plan: Plan):
    policies = {r.inputs.get("bucket"): r for r in plan.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    for balancer in plan.of_type("aws:lb/loadBalancer:LoadBalancer"):
        logs = balancer.inputs.get("accessLogs") or {}
        if not logs.get("enabled"):
            continue
        policy = policies.get(logs.get("bucket"))
        if policy is None:
            yield balancer.urn, f"logs to {logs.get('bucket')}, which has no bucket policy letting ELB write"
        elif policy.urn not in plan.upstream_of(balancer):
            yield balancer.urn, f"enables access logs before {policy.name} lets ELB write to {logs.get('bucket')}"


SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "Job", "ReplicaSet")


def local_volumes(pod_spec: dict[str, Any]) -> set[str]:
    """Volumes Cluster Autoscaler calls local storage: hostPath, and emptyDir not in memory
    (cluster-autoscaler-1.36.1 utils/drain/drain.go isLocalVolume; FAQ: medium Memory is not)."""
    return {v["name"] for v in pod_spec.get("volumes", [])
            if "hostPath" in v or ("emptyDir" in v and (v["emptyDir"] or {}).get("medium") != "Memory")}


def _scale_down_with_local_storage(plan: Plan):
    """Every local volume of every pod the charts render is named in the annotation Cluster
    Autoscaler reads (split on ',' exactly as it does, no trimming), or the pod is safe to evict. With
    the autoscaler's skip-nodes-with-local-storage on, an unnamed one keeps its node forever; with
    it off (this stack, for the add-ons' pods no configuration can annotate), the annotation is the
    chart's statement that the volume is scratch the autoscaler may drop. A hostPath never is."""
    autoscalers = [r for r in plan.of_type(RELEASE) if r.inputs.get("chart") == "cluster-autoscaler"]
    if not autoscalers:
        return
    skipping = any(str((r.inputs.get("values") or {}).get("extraArgs", {}).get("skip-nodes-with-local-storage",
                                                                              True)).lower() != "false"
                   for r in autoscalers)
    for release, documents in sorted(plan.manifests.items()):
        urn = next((r.urn for r in plan.of_type(RELEASE) if r.name == release), None)
        for document in documents:
            if document.get("kind") not in POD_TEMPLATE_KINDS:
                continue
            template = document["spec"].get("jobTemplate", {}).get("spec", document["spec"])["template"]
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            where = f"{document['kind']} {document['metadata']['name']}"
            host = sorted(v["name"] for v in template["spec"].get("volumes", []) if "hostPath" in v)
            if host:
                yield urn, f"{where}: hostPath {', '.join(host)} is node state no autoscaler may drop"
            if annotations.get(SAFE_TO_EVICT) == "true":
                continue
            named = set(annotations.get(SAFE_TO_EVICT_LOCAL_VOLUMES, "").split(","))
            unnamed = local_volumes(template["spec"]) - named
            if unnamed:
                effect = ("so no node it runs on is ever scaled down" if skipping else
                          "yet the autoscaler (skip-nodes-with-local-storage false) drops it as scratch")
                volumes = ", ".join(sorted(unnamed))
                yield urn, f"{where}: emptyDir {volumes} not in {SAFE_TO_EVICT_LOCAL_VOLUMES}, {effect}"


def _network_policies(plan: Plan) -> Iterator[tuple[str | None, dict]]:
    """(URN of what creates it, NetworkPolicy) for every policy the stack deploys, charts included."""
    for release, documents in sorted(plan.manifests.items()):
        urn = next((r.urn for r in plan.of_type(RELEASE) if r.name == release), None)
        yield from ((urn, d) for d in documents if d.get("kind") == "NetworkPolicy")
    for resource in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        yield resource.urn, resource.inputs


def _ingress_admits_no_pod_range(plan: Plan):
    """With the VPC CNI every pod takes an address of its node's subnet, so an ipBlock that covers
    a node subnet admits every pod of the cluster, whatever the policy's selectors say."""
    cidrs = {s.id: s.inputs.get("cidrBlock") for s in plan.of_type("aws:ec2/subnet:Subnet")}
    pod_ranges = {ipaddress.ip_network(cidrs[i]) for g in plan.of_type("eks:index:ManagedNodeGroup")
                  for i in g.inputs.get("subnetIds") or [] if cidrs.get(i)}
    for urn, policy in _network_policies(plan):
        for rule in policy.get("spec", {}).get("ingress") or []:
            for source in rule.get("from") or []:
                block = (source.get("ipBlock") or {}).get("cidr")
                overlap = sorted(str(r) for r in pod_ranges if block and ipaddress.ip_network(block).overlaps(r))
                if overlap:
                    yield urn, (f"NetworkPolicy {policy['metadata']['name']} admits {block}, which holds the pods "
                                f"of node subnet(s) {', '.join(overlap)}: any pod of the cluster gets in")


# How each HTTP server of ../shared/ecomind-app.md is told its keep-alive, as the variable its own
# runtime reads and the factor to seconds. The gateway (Go net/http) reads none: with neither
# IdleTimeout nor ReadTimeout set it never closes an idle connection (net/http Server.IdleTimeout
# docs), and the README's application contract asks it to keep it so or above the ALB's.
ALB_IDLE_TIMEOUT_DEFAULT = 60  # ELB: idle_timeout.timeout_seconds when unset
KEEP_ALIVE_VARIABLES: dict[str, tuple[str, float] | None] = {
    "api": ("UVICORN_TIMEOUT_KEEP_ALIVE", 1),       # uvicorn CLI, click auto_envvar_prefix UVICORN (0.35.0)
    "ui": ("KEEP_ALIVE_TIMEOUT", 1 / 1000),         # Next.js standalone server.js, milliseconds
    "gateway": None,                                # the application contract (README)
}


def _keep_alive_outlasts_the_alb(plan: Plan):
    """A server that closes an idle connection before the ALB does turns the ALB's next request on
    it into a 502: every service behind the ALB keeps them open longer than its idle timeout."""
    balancers = plan.of_type("aws:lb/loadBalancer:LoadBalancer")
    if not balancers:
        return
    idle = max(int(b.inputs.get("idleTimeout", ALB_IDLE_TIMEOUT_DEFAULT)) for b in balancers)
    bound = {b.inputs["spec"]["serviceRef"]["name"] for b in plan.of_type(
        "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding")}
    for release, documents in sorted(plan.manifests.items()):
        urn = next((r.urn for r in plan.of_type(RELEASE) if r.name == release), None)
        bound |= {d["spec"]["serviceRef"]["name"] for d in documents if d.get("kind") == "TargetGroupBinding"}
        selectors = [d["spec"].get("selector") for d in documents
                     if d.get("kind") == "Service" and d["metadata"]["name"] in bound]
        for document in documents:
            if document.get("kind") != "Deployment" or document["spec"]["selector"]["matchLabels"] not in selectors:
                continue
            component = document["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component")
            name = document["metadata"]["name"]
            if component not in KEEP_ALIVE_VARIABLES:
                yield urn, f"Deployment {name} is behind the ALB and no keep-alive setting is known for its server"
                continue
            if KEEP_ALIVE_VARIABLES[component] is None:
                continue
            variable, to_seconds = KEEP_ALIVE_VARIABLES[component]
            env = {e["name"]: e.get("value") for c in document["spec"]["template"]["spec"]["containers"]
                   for e in c.get("env", [])}
            value = env.get(variable)
            seconds = float(value) * to_seconds if value and str(value).isdigit() else None
            if seconds is None or seconds <= idle:
                yield urn, (f"Deployment {name}: {variable} is {value or 'unset'}, so its server closes idle "
                            f"connections {'at its default' if seconds is None else f'after {seconds:g} s'}, "
                            f"before the ALB's {idle} s idle timeout: the ALB's next request on one gets a 502")


# Fields a custom resource's controller refuses to change in place, so that a change must replace it
# (the Kubernetes provider knows only built-in kinds' immutable fields; for a custom kind it sends
# an update, which the admission webhook refuses and the `up` stops at).
IMMUTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    # aws-load-balancer-controller v3.5.0 webhooks/elbv2/targetgroupbinding_validator.go checkImmutableFields
    "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding": ("spec.targetGroupARN", "spec.targetType", "spec.vpcID"),
}


def _immutable_fields_replace(plan: Plan):
    for kind, fields in IMMUTABLE_FIELDS.items():
        for resource in plan.of_type(kind):
            missing = [f for f in fields if f not in resource.replace_on_changes]
            if missing:
                yield resource.urn, (f"{', '.join(missing)} cannot change in place, yet a change would be sent as "
                                     "an update (set replace_on_changes)")


def _irsa_roles_before_workloads(plan: Plan):
    roles = {r.arn: r for r in plan.of_type(ROLE) if r.arn}
    for resource in plan.resources:
        if not resource.type.startswith("kubernetes:"):
            continue
        upstream = plan.upstream_of(resource)
        for value in sorted({s for s in _strings(resource.inputs) if _ROLE_ARN.match(s)}):
            role = roles.get(value)
            if role is None:
                yield resource.urn, f"names IAM role {value}, which this stack does not create"
            elif role.urn not in upstream:
                yield resource.urn, f"names IAM role {role.name} but does not wait for it"
            elif "oidc-provider/" not in role.inputs.get("assumeRolePolicy", ""):
                yield resource.urn, f"names IAM role {role.name}, which trusts no OIDC provider (not IRSA)"


def _ci_roles_reach_the_cluster(plan: Plan):
    access = plan.settings.get("cluster_access")
    for cluster in plan.of_type(EKS_CLUSTER):
        if not access:
            yield cluster.urn, "the plan names no CI roles (settings.cluster_access)"
            return
        entries = {e.get("principalArn"): {p.get("policyArn", "").removeprefix(ACCESS_POLICY_PREFIX)
                                           for p in e.get("accessPolicies", {}).values()}
                   for e in cluster.inputs.get("accessEntries", {}).values()}
        creator = access["creator_role_arn"]
        if creator in entries:
            yield cluster.urn, f"an access entry names the cluster creator {creator}: EKS answers 409"
        if access["deploy_role_arn"] != creator and DEPLOY_ACCESS_POLICY not in entries.get(
                access["deploy_role_arn"], set()):
            yield cluster.urn, f"the deploy role {access['deploy_role_arn']} has no {DEPLOY_ACCESS_POLICY} entry"
        if PREVIEW_ACCESS_POLICY not in entries.get(access["preview_role_arn"], set()):
            yield cluster.urn, (f"the preview role {access['preview_role_arn']} has no {PREVIEW_ACCESS_POLICY} entry: "
                                "drift checks cannot read Helm's release secrets")


def _node_groups_follow_the_cluster(plan: Plan):
    versions = {c.inputs.get("version") for c in plan.of_type(EKS_CLUSTER)}
    for group in plan.of_type("eks:index:ManagedNodeGroup"):
        if "launchTemplate" not in group.inputs:
            continue
        version, release = group.inputs.get("version"), group.inputs.get("releaseVersion", "")
        if version not in versions:
            yield group.urn, f"version {version!r} is not the cluster's {sorted(versions)}"
        elif not release.startswith(f"{version}."):
            yield group.urn, f"releaseVersion {release!r} is not an AMI release of Kubernetes {version}"


def _subnets_by_zone_id(plan: Plan):
    for subnet in plan.of_type("aws:ec2/subnet:Subnet"):
        zone = subnet.inputs.get("availabilityZoneId")
        if zone is None:
            yield subnet.urn, "placed by zone name, which maps to a different physical zone in each account"
        elif zone in EKS_UNSUPPORTED_ZONE_IDS:
            yield subnet.urn, f"placed in {zone}, where EKS refuses control-plane subnets"


def _policy_documents(plan: Plan) -> Iterator[tuple[PlannedResource, dict]]:
    for resource in plan.of_type("aws:iam/rolePolicy:RolePolicy") + plan.of_type("aws:iam/policy:Policy"):
        try:
            yield resource, json.loads(resource.inputs.get("policy", "{}"))
        except json.JSONDecodeError:
            continue


def _granted(statements: list[dict], action: str) -> list[str]:
    """Resources `statements` allow `action` on."""
    def listed(value: Any) -> list:
        return value if isinstance(value, list) else [value]
    return [r for s in statements if s.get("Effect") == "Allow" and action in listed(s.get("Action"))
            for r in listed(s.get("Resource"))]


def _idempotent_producers(plan: Plan):
    for resource, document in _policy_documents(plan):
        statements = document.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        clusters = set(_granted(statements, "kafka-cluster:WriteDataIdempotently"))
        for topic in _granted(statements, "kafka-cluster:WriteData"):
            cluster = re.sub(r":topic/([^/]+)/([^/]+)/.*$", r":cluster/\1/\2", topic)
            if cluster not in clusters:
                yield resource.urn, f"may write to {topic.rsplit('/', 1)[-1]} but not idempotently on {cluster}"


def chart_budgets(values: dict, path: str = "values") -> Iterator[tuple[str, int, dict]]:
    """(where, replicas, budget) for each chart values section that enables a PodDisruptionBudget."""
    budget = values.get("podDisruptionBudget")
    if isinstance(budget, dict) and budget and budget.get("enabled", True):
        yield path, values.get("replicaCount", 1), budget
    for key, value in values.items():
        if isinstance(value, dict) and key != "podDisruptionBudget":
            yield from chart_budgets(value, f"{path}.{key}")


def _drains_can_finish(plan: Plan):
    for release, documents in sorted(plan.manifests.items()):
        for document in documents:
            if document.get("kind") == "PodDisruptionBudget" and document["spec"].get(
                    "unhealthyPodEvictionPolicy") != "AlwaysAllow":
                yield (next((r.urn for r in plan.of_type(RELEASE) if r.name == release), None),
                       f"PodDisruptionBudget {document['metadata']['name']}: an unready pod blocks every drain "
                       "(set unhealthyPodEvictionPolicy: AlwaysAllow)")
    for release in plan.of_type(RELEASE):
        for path, replicas, budget in chart_budgets(release.inputs.get("values", {})):
            if "maxUnavailable" in budget:
                if budget["maxUnavailable"] in (0, "0", "0%"):
                    yield release.urn, f"{path}: maxUnavailable 0 allows no eviction"
            elif budget.get("minAvailable", 1) >= replicas:
                yield release.urn, f"{path}: minAvailable {budget.get('minAvailable', 1)} of {replicas} replica(s)"
    for cluster in plan.of_type("kubernetes:postgresql.cnpg.io/v1:Cluster"):
        spec = cluster.inputs.get("spec", {})
        if spec.get("instances", 1) < 2 and spec.get("enablePDB", True):
            yield cluster.urn, "one instance with enablePDB: its node can never be drained"


RULES = (
    Rule("pod-addons-after-nodes", "An EKS add-on that runs pods is created after a node group exists.",
         "pulumi-eks nodejs/eks/cluster/cluster.ts (CoreDNS add-on inside the Cluster); pulumi/pulumi-eks#1525, #1819",
         _pod_addons_after_nodes),
    Rule("kubernetes-after-nodes", "Every Kubernetes object waits for the node groups and CoreDNS.",
         "Helm install --wait/--atomic fails at its timeout when pods cannot schedule (helm.sh docs, helm install)",
         _kubernetes_after_nodes),
    Rule("custom-resources-after-crds", "A custom resource waits for the release that installs its CRD.",
         "Helm docs, Custom Resource Definitions: the API server rejects a kind with no CRD (no matches for kind)",
         _custom_resources_after_their_crds),
    Rule("after-load-balancer-webhooks", "Releases, Services, Ingresses and add-ons that create Services wait for "
         "the load balancer controller.",
         "aws/eks-charts stable/aws-load-balancer-controller/templates/webhook.yaml (mservice.elbv2.k8s.aws, "
         "failurePolicy Fail); kubernetes-sigs/aws-load-balancer-controller#4140", _after_fail_closed_webhooks),
    Rule("logging-after-bucket-policy", "A load balancer enables access logs only once its bucket's policy exists.",
         "ELB user guide, \"Enable access logs for your Application Load Balancer\": enabling them writes a test "
         "object and fails with Access Denied until the bucket policy allows it", _logging_after_bucket_policy),
    Rule("scale-down-with-local-storage", "Pods with emptyDir volumes name them as safe to evict, or the "
         "autoscaler does not skip nodes with local storage.",
         "kubernetes/autoscaler cluster-autoscaler-1.36.1 utils/drain/drain.go and config/flags/flags.go "
         "(skip-nodes-with-local-storage, default true)", _scale_down_with_local_storage),
    Rule("ingress-admits-no-pod-range", "No NetworkPolicy admits by an address range that holds the cluster's "
         "pods.", "EKS user guide, \"Assign IPs to Pods with the Amazon VPC CNI\" (pods take addresses of their node's "
         "subnet); Kubernetes docs, Network Policies (ipBlock)", _ingress_admits_no_pod_range),
    Rule("keep-alive-outlasts-the-alb", "Every server behind the ALB keeps idle connections open longer than the "
         "ALB's idle timeout.", "ELB user guide, \"Edit attributes for your Application Load Balancer\" (connection "
         "idle timeout: an application closing first gets HTTP 502); uvicorn 0.35.0 main.py; Next.js standalone "
         "server.js (KEEP_ALIVE_TIMEOUT)", _keep_alive_outlasts_the_alb),
    Rule("immutable-fields-replace", "A custom resource is replaced, not updated, when a field its controller "
         "holds immutable changes.", "aws-load-balancer-controller v3.5.0 targetgroupbinding_validator.go "
         "(checkImmutableFields); ELB API reference, ModifyTargetGroup (health-check fields only)",
         _immutable_fields_replace),
    Rule("irsa-role-before-workload", "A workload's IRSA role exists, trusts an OIDC provider, and comes first.",
         "EKS user guide, IAM roles for service accounts: the pod identity webhook injects the role at pod start",
         _irsa_roles_before_workloads),
    Rule("ci-roles-reach-the-cluster", "The deploy role is cluster admin, the preview role reads everything.",
         "pulumi-eks cluster.ts (bootstrapClusterCreatorAdminPermissions); pulumi/pulumi-eks#2373; EKS user guide, "
         "Review access policy permissions", _ci_roles_reach_the_cluster),
    Rule("node-groups-follow-the-cluster", "Managed node groups carry the cluster's version and an AMI release.",
         "pulumi-eks nodejs/eks/nodes/nodegroup.ts (no version with a launch template)",
         _node_groups_follow_the_cluster),
    Rule("subnets-by-zone-id", "Subnets are placed by zone ID, outside the zones EKS refuses.",
         "EKS user guide, network-reqs (UnsupportedAvailabilityZoneException); AWS RAM guide, AZ IDs",
         _subnets_by_zone_id),
    Rule("idempotent-producers", "A principal that may produce to a topic may produce idempotently.",
         "MSK developer guide, IAM access control: WriteDataIdempotently on the cluster; KIP-679",
         _idempotent_producers),
    Rule("drains-can-finish", "No disruption budget forbids every eviction.",
         "Kubernetes docs, Specifying a Disruption Budget (Unhealthy Pod Eviction Policy); CloudNativePG "
         "docs/src/kubernetes_upgrade.md",
         _drains_can_finish),
)


def violations(plan: Plan) -> list[dict[str, Any]]:
    return rulebook.violations(RULES, plan)


def analyse(plan: Plan) -> dict[str, Any]:
    """The `deployment` section: every rule's violations, each a failure of the plan."""
    return rulebook.section(RULES, plan, prefix="deployment", title="Deployment semantics")
