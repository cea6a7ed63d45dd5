"""The EKS cluster: control plane, managed node groups on AL2023, add-ons and their IRSA roles."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components import policy_documents as docs
from components.args import (
    check_account_id,
    check_ids,
    check_log_retention,
    check_name,
    check_region,
    check_tags,
    refuse,
)
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.irsa import OidcProvider, irsa_role_for
from components.naming import node_group_name, stack_role
from settings import KUBERNETES_SERVICE_CIDR, ClusterSettings, NodeGroupSettings

# All five control-plane log types (EKS "Control plane logging"); audit and authenticator are
# the ones an incident review needs, the others are cheap at this cluster's size.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

# gp3 root volume per node. AL2023 images need about 4 GiB; the rest holds container images
# and emptyDir volumes. 50 GiB stays within gp3's baseline 3000 IOPS / 125 MiB/s at no extra cost.
NODE_ROOT_VOLUME_GIB = 50
# Root device of the EKS-optimised AL2023 AMIs.
NODE_ROOT_DEVICE = "/dev/xvda"
# Pods must not borrow the node's identity: a hop limit of 1 keeps IMDSv2 responses from
# crossing into pod network namespaces, so pods use IRSA or nothing (EKS best practices,
# "Restrict access to the instance profile").
IMDS_HOP_LIMIT = 1

AMI_TYPES = {"x86_64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
ACCESS_POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
# EKS CreateCluster, name constraints.
CLUSTER_NAME = re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}")
# Add-ons this component installs at the version the settings pin.
CLUSTER_ADDONS = ("kube-proxy", "vpc-cni", "coredns", "aws-ebs-csi-driver")


@dataclasses.dataclass(frozen=True)
class ClusterArgs:
    settings: ClusterSettings
    """The stack's cluster settings: name, Kubernetes and add-on versions, access entries, node groups."""
    region: str
    """Region of the stack, for the CloudWatch Logs grant on the control-plane log key."""
    account_id: pulumi.Input[str]
    """AWS account the key policies are scoped to."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster (`Network.vpc_id`)."""
    public_subnet_ids: Sequence[pulumi.Input[str]]
    """Internet-facing load balancers only; no node is placed here."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """Nodes of every group, one subnet per zone."""
    tags: Mapping[str, str]
    """Stack tags, applied (with the cluster's kubernetes.io/cluster/<name> tag) to the cluster, keys,
    log group, node role, launch templates, node groups and add-ons."""
    protect: bool = False
    """Prod: `protect` and EKS deletion protection on the cluster, `protect` on its three keys; the
    default (dev) leaves them deletable."""

    aws_provider: aws.Provider | None = None
    """The program's AWS provider, handed to pulumi-eks's components so that their children (the EKS
    cluster, node groups, add-ons, roles) run on the provider plugin this program pins and its
    configuration, not on a default provider of the @pulumi/aws version pulumi-eks bundles (a second
    plugin, downloaded at run time). None: pulumi-eks's own default provider."""

    def __post_init__(self) -> None:
        s = self.settings
        check_name(self, "settings.name", CLUSTER_NAME,
                   "expected 1 to 100 letters, digits, hyphens or underscores, starting with a letter or digit "
                   "(EKS CreateCluster)")
        check_log_retention(self, "settings.log_retention_days")
        missing = [addon for addon in CLUSTER_ADDONS if addon not in s.addon_versions]
        if missing:
            refuse(self, "settings.addon_versions", "expected a version for each of " + ", ".join(CLUSTER_ADDONS)
                   + " (missing " + ", ".join(missing) + ")")
        # CoreDNS and the EBS CSI driver become ACTIVE only once some node runs their pods.
        if not s.node_groups:
            refuse(self, "settings.node_groups", "expected at least one node group")
        for index, group in enumerate(s.node_groups):
            if group.architecture not in AMI_TYPES:
                refuse(self, f"settings.node_groups[{index}].architecture", "expected one of " + ", ".join(AMI_TYPES)
                       + " (an AL2023 AMI type exists for each)", value=group.architecture)
        check_region(self)
        check_account_id(self)
        check_ids(self, "public_subnet_ids")
        # EKS wants subnets in at least two zones (EKS user guide, "Subnet requirements and
        # considerations"); a zonal node group takes the subnet at its zone index.
        check_ids(self, "private_subnet_ids", minimum=2, what="one subnet per zone, at least 2")
        for group in s.node_groups:
            if group.zone_index is not None and not 0 <= group.zone_index < len(self.private_subnet_ids):
                refuse(self, "private_subnet_ids", f"expected a subnet for zone index {group.zone_index} of node "
                       f"group {group.name!r} (one subnet per zone, in zone order)")
        check_tags(self)


class Cluster(pulumi.ComponentResource):
    """EKS with a private API endpoint, envelope-encrypted secrets, access entries and IRSA."""

    cluster_name: pulumi.Output[str]
    """Name of the EKS cluster (resolves once the cluster exists)."""
    kubeconfig_json: pulumi.Output[str]
    """Kubeconfig for the cluster, authenticating with `aws eks get-token`."""
    oidc: OidcProvider
    """The cluster's OIDC provider, for `irsa_role_for`."""
    cluster_security_group_id: pulumi.Output[str]
    """Security group EKS attaches to the control plane and to every managed node."""
    node_role_arn: pulumi.Output[str]
    """IAM role of the managed nodes."""
    volume_key_arn: pulumi.Output[str]
    """CMK that encrypts node root volumes and EBS volumes made by the CSI driver."""
    addon_role_arns: dict[str, pulumi.Output[str]]
    """IRSA role per add-on that has one (vpc-cni, aws-ebs-csi-driver)."""
    workloads_ready: list[pulumi.Resource]
    """The node groups, CoreDNS and the EBS CSI driver: whatever schedules pods, resolves names or
    claims volumes waits for these."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:platform:Cluster", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = {**args.tags, f"kubernetes.io/cluster/{s.name}": "owned"}

        def tagged(resource_name: str) -> dict[str, str]:
            return {**tags, "Name": resource_name}

        def key(purpose: str, description: str, statements: Sequence[pulumi.Input] = ()) -> EncryptionKey:
            return EncryptionKey(f"{name}-{purpose}", EncryptionKeyArgs(
                description=description, account_id=args.account_id, tags=args.tags,
                service_statements=statements, protect=args.protect), opts=child)

        # EKS writes control-plane logs to this exact group; creating it first sets retention
        # and encryption, which the group EKS would create itself has neither of.
        log_group_name = f"/aws/eks/{s.name}/cluster"
        logs_key = key("control-plane-logs", f"Encrypts the EKS control-plane logs of {s.name}",
                       [docs.cloudwatch_logs_key_statement(args.region, args.account_id, [log_group_name])])
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs", name=log_group_name, retention_in_days=s.log_retention_days,
            kms_key_id=logs_key.key_arn, tags=tagged(f"{name}-control-plane-logs"), opts=child)
        secrets_key = key("secrets", f"Envelope-encrypts Kubernetes secrets in {s.name}")
        volumes_key = key("volumes", f"Encrypts node and persistent EBS volumes of {s.name}",
                          [docs.autoscaling_volume_key_statements(args.account_id)])

        # The creator (s.creator_role_arn) is absent on purpose: EKS made its admin entry when
        # the cluster was created, and a second entry for it would fail with 409.
        access_entries = {
            access.key: eks.AccessEntryArgs(
                principal_arn=access.principal_arn,
                access_policies={access.policy: eks.AccessPolicyAssociationArgs(
                    policy_arn=f"{ACCESS_POLICY_ARN_PREFIX}{access.policy}",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                )},
            )
            for access in s.access_entries
        }
        versions = s.addon_versions
        # Given no service role, pulumi-eks creates one (cluster.ts, ServiceRole with
        # AmazonEKSClusterPolicy) at the root IAM path, where the stack's deploy role may create
        # no role (bootstrap/foundation.py): the same role, under the stack's path and boundary.
        control_plane_role = aws.iam.Role(
            f"{name}-control-plane", description=f"EKS control plane of {s.name}", **stack_role(args.account_id),
            assume_role_policy=json.dumps(docs.eks_cluster_trust_policy()),
            tags=tagged(f"{name}-control-plane"), opts=child)
        control_plane_policy = aws.iam.RolePolicyAttachment(
            f"{name}-control-plane-AmazonEKSClusterPolicy", role=control_plane_role.name,
            policy_arn=docs.managed_policy_arn("AmazonEKSClusterPolicy"), opts=child)
        # pulumi-eks's components are multi-language: a provider reaches their children only through
        # `providers` (pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts: children inherit the
        # component's providers; sdk/python resource.py moves a provider of another package there).
        eks_providers = pulumi.ResourceOptions(
            providers={"aws": args.aws_provider} if args.aws_provider else None)
        cluster = eks.Cluster(
            f"{name}-eks",
            name=s.name,
            service_role=control_plane_role,
            version=s.kubernetes_version,
            # Without this EKS moves a cluster past its standard support into paid extended
            # support ($0.60 instead of $0.10 an hour, EKS pricing) instead of forcing an upgrade.
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            vpc_id=args.vpc_id,
            public_subnet_ids=list(args.public_subnet_ids),
            private_subnet_ids=list(args.private_subnet_ids),
            # Fixed so that the chart's network policies can keep pods' 443 egress off every Service
            # (settings.KUBERNETES_SERVICE_CIDR; only settable at creation).
            kubernetes_service_ip_address_range=KUBERNETES_SERVICE_CIDR,
            endpoint_private_access=True,
            endpoint_public_access=bool(s.public_access_cidrs),
            public_access_cidrs=list(s.public_access_cidrs) or None,
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            encryption_config_key_arn=secrets_key.key_arn,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            create_oidc_provider=True,
            skip_default_node_group=True,
            # Managed nodes use the security group EKS creates for the cluster; pulumi-eks's
            # extra groups would only serve its self-managed default node group.
            skip_default_security_groups=True,
            deletion_protection=args.protect,
            # The VPC CNI gets an IRSA role, which needs this cluster's OIDC provider; the
            # Cluster's own vpc-cni add-on is created before that provider exists, so the same
            # pulumi-eks add-on is built below instead, once the role is there.
            use_default_vpc_cni=True,
            # CoreDNS is a Deployment: inside the Cluster it would be created before any node
            # exists and never become ACTIVE, so the Cluster (and the node groups waiting on it)
            # would never complete (pulumi-eks nodejs/eks/cluster/cluster.ts creates the add-on
            # whenever `enabled` is true; pulumi/pulumi-eks#1525, #1819). It is built below,
            # after the node groups. EKS's self-managed bootstrap copy serves until then.
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            # kube-proxy is a DaemonSet, which EKS reports ACTIVE with no node to run on.
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(
                enabled=True, version=versions["kube-proxy"],
                resolve_conflicts_on_create=eks.ResolveConflictsOnCreate.OVERWRITE,
                resolve_conflicts_on_update=eks.ResolveConflictsOnUpdate.OVERWRITE),
            tags=tags,
            cluster_tags=tagged(s.name),
            opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions.merge(
                eks_providers, pulumi.ResourceOptions(depends_on=[log_group, control_plane_policy]))),
        )
        # A string that resolves only once the cluster exists, so dependants wait for it.
        self.cluster_name = cluster.kubeconfig_json.apply(lambda _: s.name)
        self.oidc = OidcProvider(arn=cluster.oidc_provider_arn, issuer=cluster.oidc_issuer)

        cni_role = irsa_role_for(
            f"{name}-vpc-cni", self.oidc, "kube-system", "aws-node", tags=args.tags,
            managed_policy_arns=[docs.managed_policy_arn("AmazonEKS_CNI_Policy")], opts=child)
        vpc_cni = eks.VpcCniAddon(
            f"{name}-vpc-cni",
            cluster_name=self.cluster_name,
            cluster_version=s.kubernetes_version,
            addon_version=versions["vpc-cni"],
            service_account_role_arn=cni_role.role_arn,
            # NetworkPolicy objects are only enforced when the CNI's policy agent is on.
            enable_network_policy=True,
            resolve_conflicts_on_create=eks.ResolveConflictsOnCreate.OVERWRITE,
            resolve_conflicts_on_update=eks.ResolveConflictsOnUpdate.OVERWRITE,
            tags=[tags],
            opts=pulumi.ResourceOptions.merge(child, eks_providers),
        )

        node_role = aws.iam.Role(
            f"{name}-nodes", description=f"Managed nodes of {s.name}", **stack_role(args.account_id),
            assume_role_policy=pulumi.Output.json_dumps(docs.ec2_trust_policy()),
            tags=tagged(f"{name}-nodes"), opts=child)
        # The CNI policy is deliberately absent: aws-node gets it through IRSA above.
        # SSM replaces SSH for break-glass access to a node.
        for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly",
                       "AmazonSSMManagedInstanceCore"):
            aws.iam.RolePolicyAttachment(f"{name}-nodes-{policy}", role=node_role.name,
                                         policy_arn=docs.managed_policy_arn(policy), opts=child)

        node_groups = [
            self._node_group(name, group, cluster, node_role, volumes_key, args, tagged,
                             pulumi.ResourceOptions.merge(eks_providers,
                                                          pulumi.ResourceOptions(parent=self, depends_on=[vpc_cni])))
            for group in s.node_groups
        ]

        # Pod-scheduling add-ons exist only once there are nodes to run their pods.
        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=self.cluster_name,
            addon_name="coredns",
            addon_version=versions["coredns"],
            # Takes over the self-managed CoreDNS that EKS bootstrapped with the cluster.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tagged(f"{name}-coredns"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )

        ebs_role = irsa_role_for(
            f"{name}-ebs-csi", self.oidc, "kube-system", "ebs-csi-controller-sa", tags=args.tags,
            managed_policy_arns=[docs.managed_policy_arn("service-role/AmazonEBSCSIDriverPolicy")],
            inline_policies={"volume-key": docs.ebs_volume_key_policy(volumes_key.key_arn)}, opts=child)
        # EKS reports the add-on active only once its controller runs, which needs nodes.
        ebs_csi = aws.eks.Addon(
            f"{name}-aws-ebs-csi-driver",
            cluster_name=self.cluster_name,
            addon_name="aws-ebs-csi-driver",
            addon_version=versions["aws-ebs-csi-driver"],
            service_account_role_arn=ebs_role.role_arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tagged(f"{name}-aws-ebs-csi-driver"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_groups),
        )

        # The EBS CSI driver is done before anything else runs on the cluster: claims need it, and
        # so every add-on is either done before the load balancer controller's fail-closed Service
        # webhook exists or waits for it to serve (analyses/deployment.py, after-load-balancer-webhooks).
        self.workloads_ready = [*node_groups, coredns, ebs_csi]
        self.kubeconfig_json = pulumi.Output.secret(cluster.kubeconfig_json)
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.node_role_arn = node_role.arn
        self.volume_key_arn = volumes_key.key_arn
        self.addon_role_arns = {"vpc-cni": cni_role.role_arn, "aws-ebs-csi-driver": ebs_role.role_arn}
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "kubeconfig_json": self.kubeconfig_json,
            "oidc_provider_arn": self.oidc.arn,
            "cluster_security_group_id": self.cluster_security_group_id,
            "node_role_arn": self.node_role_arn,
        })

    @staticmethod
    def _node_group(name: str, group: NodeGroupSettings, cluster: eks.Cluster, node_role: aws.iam.Role,
                    volumes_key: EncryptionKey, args: ClusterArgs, tagged, opts: pulumi.ResourceOptions
                    ) -> eks.ManagedNodeGroup:
        group_name = f"{name}-{group.name}"
        instance_tags = tagged(group_name)
        template = aws.ec2.LaunchTemplate(
            f"{group_name}-lt",
            description=f"Nodes of the {group.name} group: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required",
                http_put_response_hop_limit=IMDS_HOP_LIMIT, instance_metadata_tags="disabled"),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=NODE_ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=NODE_ROOT_VOLUME_GIB, volume_type="gp3", encrypted="true",
                    kms_key_id=volumes_key.key_arn, delete_on_termination="true"),
            )],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=instance_tags,
            opts=pulumi.ResourceOptions(parent=opts.parent),
        )
        return eks.ManagedNodeGroup(
            group_name,
            cluster=cluster,
            # Named, so that what acts on a group by name (office hours, components/office_hours.py)
            # can; unique per stack like every explicit name (components/naming.py).
            node_group_name=node_group_name(group.name),
            node_role_arn=node_role.arn,
            # A zonal group (the database nodes) lives in its zone's subnet only.
            subnet_ids=list(args.private_subnet_ids) if group.zone_index is None
            else [args.private_subnet_ids[group.zone_index]],
            ami_type=AMI_TYPES[group.architecture],
            # With a launch template pulumi-eks leaves both unset (nodegroup.ts), and nodes would
            # never follow a control-plane upgrade nor take an AMI patch.
            version=args.settings.kubernetes_version,
            release_version=args.settings.ami_release_version,
            instance_types=list(group.instance_types),
            capacity_type=group.capacity_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=group.min_size, desired_size=group.desired_size, max_size=group.max_size),
            # The node autoscaler owns the desired size once the group exists.
            ignore_scaling_changes=True,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)),
            labels=dict(group.labels),
            taints=[aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value or None, effect=t.effect)
                    for t in group.taints],
            tags=instance_tags,
            opts=opts,
        )
