"""The Cluster component: control plane, node groups, add-ons, as both stacks plan them."""

from __future__ import annotations

import datetime
import json

import settings
from components.cluster import CONTROL_PLANE_LOG_TYPES, IMDS_HOP_LIMIT
from offline.mocks import resource_id_for
from tests.conftest import (
    account,
    as_list,
    minimal_config,
    policy,
    stack_settings,
    statements,
)

EKS = "eks:index:Cluster"
NODE_GROUP = "eks:index:ManagedNodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def eks(plan):
    return plan.one(EKS)


def test_kubernetes_version_is_pinned_and_in_standard_support(stack_plan):
    version = eks(stack_plan).inputs["version"]
    assert settings.EKS_STANDARD_SUPPORT_ENDS[version] >= datetime.date(2026, 11, 25)
    assert eks(stack_plan).inputs["upgradePolicy"] == {"supportType": "STANDARD"}


def test_access_is_by_access_entries_for_admins_and_both_ci_roles(stack_plan):
    """The creator's admin comes from EKS itself (pulumi-eks cluster.ts sets
    bootstrapClusterCreatorAdminPermissions); every other principal needs an entry, CI's
    roles included (pulumi/pulumi-eks#2373), or its first Kubernetes call is refused."""
    inputs = eks(stack_plan).inputs
    assert inputs["authenticationMode"] == "API"
    policies = {entry["principalArn"]: entry["accessPolicies"] for entry in inputs["accessEntries"].values()}
    prefix = "arn:aws:eks::aws:cluster-access-policy/"
    admin = {"AmazonEKSClusterAdminPolicy": {"policyArn": f"{prefix}AmazonEKSClusterAdminPolicy",
                                             "accessScope": {"type": "cluster"}}}
    cluster = stack_settings(stack_plan.stack).cluster
    preview = f"arn:aws:iam::{account(stack_plan.stack)}:role/ecomind-infra-{stack_plan.stack}-preview"
    assert cluster.ci_preview_role_arn == preview
    assert policies == {
        f"arn:aws:iam::{account(stack_plan.stack)}:role/ecomind-platform-admin": admin,
        preview: {"AmazonEKSAdminViewPolicy": {"policyArn": f"{prefix}AmazonEKSAdminViewPolicy",
                                               "accessScope": {"type": "cluster"}}},
    }
    # The stack's deploy role created the cluster, so it holds admin without an entry of its own.
    assert cluster.creator_role_arn == cluster.ci_deploy_role_arn == preview.replace("-preview", "-deploy")
    assert cluster.creator_role_arn not in policies


def test_private_endpoint_on_and_public_endpoint_only_in_dev_and_limited_to_its_cidrs(stack_plan):
    inputs = eks(stack_plan).inputs
    assert inputs["endpointPrivateAccess"] is True
    if stack_plan.stack == "dev":
        assert inputs["endpointPublicAccess"] is True and inputs["publicAccessCidrs"] == ["203.0.113.0/24"]
    else:
        assert inputs["endpointPublicAccess"] is False and not inputs.get("publicAccessCidrs")


def test_public_endpoint_is_off_when_no_cidr_is_configured():
    from components.cluster import Cluster, ClusterArgs
    from tests.conftest import run_component

    values = minimal_config("prod")
    stack = settings.load(values, stack="unit", region="us-east-1", today=datetime.date(2026, 11, 25))
    plan = run_component(lambda: Cluster("cluster", ClusterArgs(
        settings=stack.cluster, region="us-east-1", account_id="111122223333", vpc_id="vpc-1",
        public_subnet_ids=["subnet-p"], private_subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
        tags=stack.tags, protect=True)))
    inputs = plan.one(EKS).inputs
    assert inputs["endpointPublicAccess"] is False and "publicAccessCidrs" not in inputs
    assert inputs["endpointPrivateAccess"] is True
    groups = {g.name: g.inputs["subnetIds"] for g in plan.of_type(NODE_GROUP)}
    assert groups.pop("cluster-system") == ["subnet-a", "subnet-b", "subnet-c"]
    assert groups == {f"cluster-workload-{zone}": [subnet] for zone, subnet in zip(
        stack.network.availability_zone_ids, ["subnet-a", "subnet-b", "subnet-c"], strict=True)}


def test_all_five_control_plane_logs_into_an_encrypted_group_with_retention(stack_plan):
    assert eks(stack_plan).inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert set(CONTROL_PLANE_LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    group = stack_plan.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/ecomind-infra-{stack_plan.stack}/cluster"
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert group.urn in eks(stack_plan).dependencies


def test_secrets_are_envelope_encrypted_with_a_rotating_cmk(stack_plan):
    key = stack_plan.one(KEY, "cluster-secrets-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.urn in eks(stack_plan).dependencies
    assert eks(stack_plan).inputs["encryptionConfigKeyArn"].startswith("arn:aws:kms:us-east-1:")


def test_the_cluster_keeps_one_key_per_purpose(stack_plan):
    keys = {k.name for k in stack_plan.of_type(KEY) if k.name.startswith("cluster-")}
    assert keys == {"cluster-secrets-key", "cluster-volumes-key", "cluster-control-plane-logs-key"}


def test_logs_keys_serve_cloudwatch_only_for_their_own_log_groups(stack_plan):
    key = stack_plan.one(KEY, "cluster-control-plane-logs-key")
    logs = [s for s in statements(policy(key, "policy")) if s.get("Principal", {}).get("Service")]
    assert logs and logs[0]["Principal"]["Service"] == "logs.us-east-1.amazonaws.com"
    assert logs[0]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [
        f"arn:aws:logs:us-east-1:{account(stack_plan.stack)}:log-group:/aws/eks/ecomind-infra-{stack_plan.stack}/cluster"]


def test_oidc_provider_created_and_default_node_group_skipped(stack_plan):
    inputs = eks(stack_plan).inputs
    assert inputs["createOidcProvider"] is True
    assert inputs["skipDefaultNodeGroup"] is True


def test_addons_are_pinned_and_only_daemon_sets_are_built_inside_the_cluster(stack_plan):
    """kube-proxy (a DaemonSet) may be created with the control plane; CoreDNS (a Deployment)
    may not: pulumi-eks cluster.ts creates it whenever `enabled` is true, before any node."""
    inputs = eks(stack_plan).inputs
    versions = settings.ADDON_VERSIONS[inputs["version"]]
    assert inputs["corednsAddonOptions"]["enabled"] is False
    assert inputs["kubeProxyAddonOptions"]["enabled"] is True
    assert inputs["kubeProxyAddonOptions"]["version"] == versions["kube-proxy"]
    # The Cluster must not build its own vpc-cni add-on: the one below replaces it.
    assert inputs["useDefaultVpcCni"] is True
    cni = stack_plan.one("eks:index:VpcCniAddon")
    assert cni.inputs["addonVersion"] == versions["vpc-cni"]
    assert cni.inputs["clusterName"] == f"ecomind-infra-{stack_plan.stack}"
    assert cni.inputs["enableNetworkPolicy"] is True
    assert eks(stack_plan).urn in cni.dependencies
    for addon in stack_plan.of_type("aws:eks/addon:Addon"):
        assert addon.inputs["addonVersion"] == versions[addon.inputs["addonName"]], addon.name


def addons_created(plan) -> list[str]:
    """Every EKS add-on the plan creates, counting those pulumi-eks builds inside its Cluster
    (cluster.ts: kube-proxy unless disabled, CoreDNS when enabled, vpc-cni unless
    useDefaultVpcCni) and its VpcCniAddon."""
    inputs = eks(plan).inputs
    inside = [name for name, built in (
        ("coredns", inputs.get("corednsAddonOptions", {}).get("enabled", not inputs["skipDefaultNodeGroup"])),
        ("kube-proxy", inputs.get("kubeProxyAddonOptions", {}).get("enabled", True)),
        ("vpc-cni", not inputs.get("useDefaultVpcCni", False))) if built]
    return sorted(inside + ["vpc-cni" for _ in plan.of_type("eks:index:VpcCniAddon")]
                  + [a.inputs["addonName"] for a in plan.of_type("aws:eks/addon:Addon")])


def test_every_addon_is_created_exactly_once(stack_plan):
    assert addons_created(stack_plan) == ["amazon-cloudwatch-observability", "aws-ebs-csi-driver", "coredns",
                                          "kube-proxy", "metrics-server", "vpc-cni"]


def test_addons_that_schedule_pods_wait_for_every_node_group(stack_plan):
    """A Deployment add-on created before any node stays DEGRADED until EKS's 20-minute
    create timeout (pulumi/pulumi-eks#1525, #1819)."""
    groups = {g.urn for g in stack_plan.of_type("eks:index:ManagedNodeGroup")}
    assert len(groups) >= 2
    for addon in stack_plan.of_type("aws:eks/addon:Addon"):
        assert groups <= set(addon.dependencies), f"{addon.inputs['addonName']} does not wait for the node groups"


def test_kubernetes_objects_wait_for_nodes_and_coredns(stack_plan):
    """The provider every chart and object uses depends on the node groups and CoreDNS, so no
    release races node-group creation against its Helm timeout."""
    provider = stack_plan.one("pulumi:providers:kubernetes")
    coredns = stack_plan.one("aws:eks/addon:Addon", "cluster-coredns")
    assert coredns.urn in provider.dependencies
    assert {g.urn for g in stack_plan.of_type("eks:index:ManagedNodeGroup")} <= set(provider.dependencies)


def test_ebs_csi_addon_is_pinned_uses_irsa_and_waits_for_nodes(stack_plan):
    addon = stack_plan.one("aws:eks/addon:Addon", "cluster-aws-ebs-csi-driver")
    versions = settings.ADDON_VERSIONS[eks(stack_plan).inputs["version"]]
    assert addon.inputs["addonVersion"] == versions["aws-ebs-csi-driver"]
    role = stack_plan.one(ROLE, "cluster-ebs-csi-role")
    assert role.urn in addon.dependencies
    assert f":role/ecomind-infra/{stack_plan.stack}/cluster-ebs-csi-role" in addon.inputs["serviceAccountRoleArn"]
    assert all(g.urn in addon.dependencies for g in stack_plan.of_type(NODE_GROUP))


def test_vpc_cni_runs_on_its_irsa_role_and_nodes_wait_for_it(stack_plan):
    cni = stack_plan.one("eks:index:VpcCniAddon")
    role = stack_plan.one(ROLE, "cluster-vpc-cni-role")
    assert role.urn in cni.dependencies
    assert f":role/ecomind-infra/{stack_plan.stack}/cluster-vpc-cni-role" in cni.inputs["serviceAccountRoleArn"]
    trust = statements(policy(role, "assumeRolePolicy"))[0]
    subjects = [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:kube-system:aws-node"]
    attached = [a.inputs["policyArn"] for a in stack_plan.of_type(ATTACHMENT) if a.name.startswith("cluster-vpc-cni")]
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]
    assert all(cni.urn in g.dependencies for g in stack_plan.of_type(NODE_GROUP))


def test_node_role_has_no_cni_policy_and_nothing_beyond_node_needs(stack_plan):
    attached = sorted(a.inputs["policyArn"].rsplit("/", 1)[-1] for a in stack_plan.of_type(ATTACHMENT)
                      if a.name.startswith("cluster-nodes-"))
    assert attached == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy",
                        "AmazonSSMManagedInstanceCore"]


def test_ebs_csi_role_may_use_only_the_volume_key(stack_plan):
    inline = stack_plan.one("aws:iam/rolePolicy:RolePolicy", "cluster-ebs-csi-volume-key")
    key_arns = {s["Resource"] for s in statements(policy(inline, "policy"))}
    assert len(key_arns) == 1 and key_arns.pop().startswith(f"arn:aws:kms:us-east-1:{account(stack_plan.stack)}:key/")
    volumes_key = stack_plan.one(KEY, "cluster-volumes-key")
    assert volumes_key.urn in inline.dependencies


def test_node_groups_run_al2023_in_the_private_subnets_of_every_zone(stack_plan):
    private_ids = sorted(resource_id_for("aws:ec2/subnet:Subnet", s.name)
                         for s in stack_plan.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == "private")
    groups = stack_plan.of_type(NODE_GROUP)
    names = sorted(g.name for g in groups)
    if stack_plan.stack == "prod":  # the workload nodes: one group per zone (workloadNodeGroupPerZone)
        zones = stack_plan.outputs["availabilityZoneIds"]
        assert names == ["cluster-system", *(f"cluster-workload-{z}" for z in zones)]
    else:
        assert names == ["cluster-system", "cluster-workload"]
    subnets = []
    for group in groups:
        # Graviton everywhere the images allow (arm64 in every group of both stacks).
        assert group.inputs["amiType"] == "AL2023_ARM_64_STANDARD"
        if group.name.startswith("cluster-workload-"):
            subnets += group.inputs["subnetIds"]
        else:
            assert sorted(group.inputs["subnetIds"]) == private_ids
            assert len(private_ids) == len(stack_plan.outputs["availabilityZoneIds"])
        assert group.inputs["cluster"] == {"resourceRef": eks(stack_plan).urn}
        assert "diskSize" not in group.inputs  # the launch template owns the root volume
    assert sorted(subnets) in ([], private_ids), "one zonal group per private subnet"


def test_node_group_sizes_and_capacity_follow_the_stack(dev_plan, prod_plan):
    def sizes(plan, name):
        group = plan.one(NODE_GROUP, name)
        return group.inputs["capacityType"], group.inputs["scalingConfig"]
    assert sizes(dev_plan, "cluster-workload") == ("SPOT", {"minSize": 1, "desiredSize": 1, "maxSize": 4})
    for zone in prod_plan.outputs["availabilityZoneIds"]:  # 3, 3 and 9 split over three zones
        assert sizes(prod_plan, f"cluster-workload-{zone}") == ("ON_DEMAND", {"minSize": 1, "desiredSize": 1,
                                                                              "maxSize": 3})
    assert sizes(prod_plan, "cluster-system") == ("ON_DEMAND", {"minSize": 3, "desiredSize": 3, "maxSize": 6})
    assert prod_plan.one(NODE_GROUP, "cluster-system").inputs["taints"] == [
        {"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
    assert dev_plan.one(NODE_GROUP, "cluster-workload").inputs["labels"] == {
        "ecomind.io/node-group": "workload", "ecomind.io/capacity": "spot"}


def test_launch_templates_require_imdsv2_with_hop_limit_one_and_encrypt_gp3_roots(stack_plan):
    templates = stack_plan.of_type(LAUNCH_TEMPLATE)
    assert len(templates) == len(stack_plan.of_type(NODE_GROUP))
    volumes_key = stack_plan.one(KEY, "cluster-volumes-key")
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == IMDS_HOP_LIMIT == 1
        [root] = template.inputs["blockDeviceMappings"]
        assert root["deviceName"] == "/dev/xvda"
        assert root["ebs"]["volumeType"] == "gp3" and root["ebs"]["encrypted"] == "true"
        assert root["ebs"]["kmsKeyId"].startswith("arn:aws:kms:")
        assert volumes_key.urn in template.dependencies
        group = stack_plan.one(NODE_GROUP, template.name.removesuffix("-lt"))
        assert template.urn in group.dependencies
        assert group.inputs["launchTemplate"]["id"] == resource_id_for(LAUNCH_TEMPLATE, template.name)


def test_volume_key_lets_auto_scaling_encrypt_node_volumes_without_naming_its_role(stack_plan):
    """The Auto Scaling service-linked role may not exist when the key is created (B1): it is matched
    by aws:PrincipalArn in this account, never named as a principal KMS would validate."""
    key = stack_plan.one(KEY, "cluster-volumes-key")
    granted = [s for s in statements(policy(key, "policy")) if s["Sid"].startswith("AutoScaling")]
    role = (f"arn:aws:iam::{account(stack_plan.stack)}:role/aws-service-role/autoscaling.amazonaws.com/"
            "AWSServiceRoleForAutoScaling")
    assert len(granted) == 2
    for statement in granted:
        assert statement["Principal"] == {"AWS": "*"}
        assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": role}
        assert statement["Condition"]["StringEquals"] == {"aws:PrincipalAccount": account(stack_plan.stack)}
    grant = next(s for s in granted if s["Action"] == "kms:CreateGrant")
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert "AWSServiceRoleForAutoScaling" not in json.dumps([s["Principal"] for s in statements(policy(key, "policy"))])


def test_prod_protects_the_cluster_and_its_keys(prod_plan, dev_plan):
    assert eks(prod_plan).protect and eks(prod_plan).inputs["deletionProtection"] is True
    assert all(k.protect for k in prod_plan.of_type(KEY))
    assert not eks(dev_plan).protect and eks(dev_plan).inputs["deletionProtection"] is False
    assert not any(k.protect for k in dev_plan.of_type(KEY))


def test_no_platform_iam_statement_grants_a_wildcard(stack_plan):
    """Roles this project scopes itself. The cluster services' upstream policies need `*` for
    reads and creates (tests/test_release.py checks them statement by statement), and so do the
    VPC networking actions and namespace-bound metric writes of the CI runners, the observability
    agent and the canary (tests/test_ci_runners.py, tests/test_telemetry.py)."""
    documents = [policy(r, "policy") for r in stack_plan.of_type("aws:iam/rolePolicy:RolePolicy")
                 if not r.name.startswith(("services-", "ci-", "telemetry-", "canary-"))]
    assert len(documents) >= 6
    for document in documents:
        for statement in statements(document):
            assert not any(action == "*" or action.endswith(":*") for action in as_list(statement["Action"]))
            assert "*" not in as_list(statement["Resource"])


def test_node_groups_follow_the_cluster_version_on_a_pinned_ami_release(stack_plan):
    """With a launch template pulumi-eks sends no version (nodegroup.ts, createManagedNodeGroup):
    nodes would stay on their first Kubernetes version and AMI."""
    version = eks(stack_plan).inputs["version"]
    groups = stack_plan.of_type("eks:index:ManagedNodeGroup")
    assert groups
    for group in groups:
        assert group.inputs["version"] == version, group.name
        assert group.inputs["releaseVersion"] == settings.AMI_RELEASE_VERSIONS[version], group.name


def test_every_supported_version_has_an_ami_release_of_that_version():
    assert set(settings.AMI_RELEASE_VERSIONS) == set(settings.ADDON_VERSIONS)
    for version, release in settings.AMI_RELEASE_VERSIONS.items():
        assert release.startswith(f"{version}.") and len(release.split("-")[1]) == 8, release
