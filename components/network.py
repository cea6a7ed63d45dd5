"""The VPC: three subnet tiers per availability zone, NAT, flow logs and an S3 endpoint."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_log_retention, check_name, check_region, check_tags, refuse
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.naming import stack_prefix, stack_role
from settings import NetworkSettings

# Flow-log records are aggregated over this many seconds before delivery: 60 is the finest
# AWS offers (the default is 600) and makes incident timelines usable.
FLOW_LOG_AGGREGATION_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class NetworkArgs:
    settings: NetworkSettings
    """The stack's network settings: VPC CIDR, zone IDs, the subnet CIDRs per tier and zone, NAT mode,
    flow-log retention in days."""
    region: str
    """Region of the stack, for the S3 endpoint's service name and the flow-log key grant."""
    account_id: pulumi.Input[str]
    """AWS account the flow-log key and delivery role trust are scoped to."""
    cluster_name: str
    """Subnets are tagged for this EKS cluster's load balancers."""
    tags: Mapping[str, str]
    """Stack tags, applied (with Name) to every resource of the network that takes tags."""
    protect: bool = False
    """Pulumi `protect` on the flow-log key (on in prod); the default leaves it deletable."""

    def __post_init__(self) -> None:
        s = self.settings
        if not s.availability_zone_ids:
            refuse(self, "settings.availability_zone_ids", "expected at least one zone ID such as use1-az1")
        # Each tier's CIDRs are read by zone index.
        for tier in ("public", "private", "data"):
            if len(getattr(s.subnets, tier)) != len(s.availability_zone_ids):
                refuse(self, f"settings.subnets.{tier}", f"expected one CIDR per zone "
                       f"({len(s.availability_zone_ids)}: " + ", ".join(s.availability_zone_ids) + ")")
        check_log_retention(self, "settings.log_retention_days")
        check_region(self)
        check_account_id(self)
        check_name(self, "cluster_name", rule="expected the EKS cluster name the subnets are tagged for")
        check_tags(self)


class Network(pulumi.ComponentResource):
    """Public subnets for load balancers and NAT, private for nodes and pods, data for
    databases, brokers and caches (no route to the internet at all)."""

    vpc_id: pulumi.Output[str]
    """ID of the VPC."""
    vpc_cidr: str
    """IPv4 CIDR block of the VPC."""
    availability_zone_ids: tuple[str, ...]
    """Zone IDs the subnets are in, in the order of the subnet lists."""
    availability_zone_names: list[pulumi.Output[str]]
    """This account's names of those zones (what ElastiCache placement takes), as AWS resolves them."""
    public_subnet_ids: list[pulumi.Output[str]]
    """One public subnet per zone (internet-facing load balancers, NAT gateways)."""
    private_subnet_ids: list[pulumi.Output[str]]
    """One private subnet per zone (EKS nodes and pods), egress through NAT."""
    data_subnet_ids: list[pulumi.Output[str]]
    """One data subnet per zone (RDS, MSK, ElastiCache); no internet route."""
    nat_gateway_ids: list[pulumi.Output[str]]
    """NAT gateways: one per zone, or one shared."""
    flow_log_group_name: pulumi.Output[str]
    """CloudWatch log group that receives the VPC's flow logs."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:platform:Network", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        def tagged(resource_name: str, **extra: str) -> dict[str, str]:
            return {**args.tags, "Name": resource_name, **extra}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=s.vpc_cidr,
            enable_dns_hostnames=True,  # required for EKS private endpoints and VPC endpoints
            enable_dns_support=True,
            tags=tagged(f"{name}-vpc"),
            opts=child,
        )
        # AWS creates every VPC with a default security group that admits all traffic between
        # its members; taking ownership with no rules means nothing can silently rely on it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[],
            tags=tagged(f"{name}-default-deny"), opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tagged(f"{name}-igw"), opts=child)

        public_rt = aws.ec2.RouteTable(f"{name}-public-rt", vpc_id=vpc.id, tags=tagged(f"{name}-public"), opts=child)
        aws.ec2.Route(f"{name}-public-default", route_table_id=public_rt.id,
                      destination_cidr_block="0.0.0.0/0", gateway_id=igw.id, opts=child)
        # One data route table with only the implicit local route (and the S3 endpoint below):
        # databases, brokers and caches can reach nothing outside the VPC, and nothing reaches them.
        data_rt = aws.ec2.RouteTable(f"{name}-data-rt", vpc_id=vpc.id, tags=tagged(f"{name}-data"), opts=child)

        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        # Load balancer discovery tags (AWS Load Balancer Controller): internet-facing in public
        # subnets, internal in private ones; data subnets carry neither.
        tier_tags = {
            "public": {"kubernetes.io/role/elb": "1", **cluster_tag},
            "private": {"kubernetes.io/role/internal-elb": "1", **cluster_tag},
            "data": {},
        }

        def subnet(tier: str, index: int, zone: str) -> aws.ec2.Subnet:
            return aws.ec2.Subnet(
                f"{name}-{tier}-{zone}", vpc_id=vpc.id, cidr_block=getattr(s.subnets, tier)[index],
                # By ID: names map to different physical zones in each account.
                availability_zone_id=zone, map_public_ip_on_launch=False,
                tags=tagged(f"{name}-{tier}-{zone}", tier=tier, **tier_tags[tier]), opts=child)

        def associate(tier: str, zone: str, subnet_: aws.ec2.Subnet, route_table: aws.ec2.RouteTable) -> None:
            aws.ec2.RouteTableAssociation(f"{name}-{tier}-{zone}", subnet_id=subnet_.id,
                                          route_table_id=route_table.id, opts=child)

        public_subnets, private_route_tables = [], []
        self.public_subnet_ids, self.private_subnet_ids, self.data_subnet_ids = [], [], []
        self.availability_zone_names = []
        for index, zone in enumerate(s.availability_zone_ids):
            public, private, data = (subnet(tier, index, zone) for tier in ("public", "private", "data"))
            private_rt = aws.ec2.RouteTable(f"{name}-private-rt-{zone}", vpc_id=vpc.id,
                                            tags=tagged(f"{name}-private-{zone}"), opts=child)
            associate("public", zone, public, public_rt)
            associate("private", zone, private, private_rt)
            associate("data", zone, data, data_rt)
            public_subnets.append(public)
            private_route_tables.append(private_rt)
            self.public_subnet_ids.append(public.id)
            self.private_subnet_ids.append(private.id)
            self.data_subnet_ids.append(data.id)
            self.availability_zone_names.append(data.availability_zone)

        # Per-zone NAT keeps each zone's egress independent of the others; a single gateway
        # saves about $33 a month per zone (NAT hourly price, us-east-1) at the cost of that.
        nat_zones = s.availability_zone_ids if s.nat_gateway_per_az else s.availability_zone_ids[:1]
        self.nat_gateway_ids = []
        for index, zone in enumerate(nat_zones):
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tagged(f"{name}-nat-{zone}"),
                              opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]))
            nat = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.allocation_id,
                                     subnet_id=public_subnets[index].id, connectivity_type="public",
                                     tags=tagged(f"{name}-nat-{zone}"), opts=child)
            self.nat_gateway_ids.append(nat.id)
        for index, (zone, private_rt) in enumerate(zip(s.availability_zone_ids, private_route_tables, strict=True)):
            nat_id = self.nat_gateway_ids[index if s.nat_gateway_per_az else 0]
            aws.ec2.Route(f"{name}-private-default-{zone}", route_table_id=private_rt.id,
                          destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat_id, opts=child)

        # S3 traffic (image layers, reports, backups) stays on the AWS network and off the NAT bill.
        aws.ec2.VpcEndpoint(
            f"{name}-s3", vpc_id=vpc.id, service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_route_tables] + [data_rt.id],
            policy=docs.s3_endpoint_policy(args.account_id).apply(json.dumps),
            tags=tagged(f"{name}-s3"), opts=child,
        )

        flow_log_group_name = f"/ecomind/{stack_prefix()}/{name}/vpc-flow-logs"
        logs_key = EncryptionKey(f"{name}-flow-logs", EncryptionKeyArgs(
            description=f"Encrypts the VPC flow logs of {name}",
            account_id=args.account_id,
            tags=args.tags,
            service_statements=[docs.cloudwatch_logs_key_statement(args.region, args.account_id,
                                                                   [flow_log_group_name])],
            protect=args.protect,
        ), opts=child)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", name=flow_log_group_name, retention_in_days=s.log_retention_days,
            kms_key_id=logs_key.key_arn, tags=tagged(f"{name}-flow-logs"), opts=child,
        )
        delivery_role = aws.iam.Role(
            f"{name}-flow-logs", **stack_role(args.account_id), assume_role_policy=pulumi.Output.json_dumps(
                docs.service_trust_policy("vpc-flow-logs.amazonaws.com", args.account_id,
                                          f"arn:aws:ec2:{args.region}:{{account}}:vpc-flow-log/*")),
            description=f"VPC flow log delivery for {name}", tags=tagged(f"{name}-flow-logs"), opts=child,
        )
        aws.iam.RolePolicy(f"{name}-flow-logs", role=delivery_role.id,
                           policy=pulumi.Output.json_dumps(docs.log_delivery_policy(log_group.arn)), opts=child)
        aws.ec2.FlowLog(
            f"{name}-flow-logs", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn, iam_role_arn=delivery_role.arn,
            max_aggregation_interval=FLOW_LOG_AGGREGATION_SECONDS, tags=tagged(f"{name}-flow-logs"), opts=child,
        )

        self.vpc_id = vpc.id
        self.vpc_cidr = s.vpc_cidr
        self.availability_zone_ids = s.availability_zone_ids
        self.flow_log_group_name = log_group.name
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "public_subnet_ids": self.public_subnet_ids,
            "private_subnet_ids": self.private_subnet_ids,
            "data_subnet_ids": self.data_subnet_ids,
            "nat_gateway_ids": self.nat_gateway_ids,
            "flow_log_group_name": self.flow_log_group_name,
        })
