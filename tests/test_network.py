"""The Network component, as both stacks plan it."""

from __future__ import annotations

import ipaddress
import json

from offline.mocks import resource_id_for
from tests.conftest import account, as_list, policy, stack_settings, statements

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"


def subnets(plan, tier):
    return [r for r in plan.of_type(SUBNET) if r.inputs["tags"]["tier"] == tier]


def id_of(plan, resource):
    """The mocked id a resource's dependants receive."""
    return resource_id_for(resource.type, resource.name)


def zones(plan) -> int:
    return len(stack_settings(plan.stack).network.availability_zone_ids)


def test_three_subnets_a_zone_in_the_stacks_zones(stack_plan):
    """One public, private and data subnet a zone: prod's three zones, dev's two (it needs no
    zone-loss survival, and MSK's brokers follow the zones)."""
    all_subnets = stack_plan.of_type(SUBNET)
    assert zones(stack_plan) == (3 if stack_plan.stack == "prod" else 2)
    assert len(all_subnets) == 3 * zones(stack_plan)
    assert len({s.inputs["availabilityZoneId"] for s in all_subnets}) == zones(stack_plan)
    for tier in ("public", "private", "data"):
        assert len({s.inputs["availabilityZoneId"] for s in subnets(stack_plan, tier)}) == zones(stack_plan)


def test_subnets_are_placed_by_zone_id_outside_the_zones_eks_refuses(stack_plan):
    """Zone names map to different physical zones per account, so a name can land a subnet in
    use1-az3, where CreateCluster fails with UnsupportedAvailabilityZoneException (EKS
    network requirements)."""
    import settings

    for subnet in stack_plan.of_type(SUBNET):
        assert "availabilityZone" not in subnet.inputs, subnet.name
        assert subnet.inputs["availabilityZoneId"] in settings.REGION_AVAILABILITY_ZONE_IDS["us-east-1"]
        assert subnet.inputs["availabilityZoneId"] not in settings.EKS_UNSUPPORTED_ZONE_IDS


def test_no_region_offers_a_zone_eks_refuses():
    import settings

    for region, zones in settings.REGION_AVAILABILITY_ZONE_IDS.items():
        assert not set(zones) & settings.EKS_UNSUPPORTED_ZONE_IDS, region


def test_no_subnet_hands_out_public_ips(stack_plan):
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in stack_plan.of_type(SUBNET))


def test_subnet_blocks_are_disjoint_and_inside_the_vpc(stack_plan):
    vpc = ipaddress.IPv4Network(stack_plan.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"])
    blocks = [ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in stack_plan.of_type(SUBNET)]
    assert all(b.subnet_of(vpc) for b in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])


def test_load_balancer_subnet_tags(stack_plan):
    cluster_tag = "kubernetes.io/cluster/ecomind-infra-" + stack_plan.stack
    assert all(s.inputs["tags"]["kubernetes.io/role/elb"] == "1" for s in subnets(stack_plan, "public"))
    assert all(s.inputs["tags"]["kubernetes.io/role/internal-elb"] == "1" for s in subnets(stack_plan, "private"))
    assert all(cluster_tag in s.inputs["tags"] for s in subnets(stack_plan, "public") + subnets(stack_plan, "private"))
    assert not any("kubernetes.io/role/elb" in s.inputs["tags"] or "kubernetes.io/role/internal-elb" in s.inputs["tags"]
                   for s in subnets(stack_plan, "data"))


def test_dev_shares_one_nat_gateway(dev_plan):
    assert len(dev_plan.of_type(NAT)) == 1
    private_defaults = [r for r in dev_plan.of_type(ROUTE) if r.name.startswith("network-private-default-")]
    assert len(private_defaults) == zones(dev_plan)
    assert len({r.inputs["natGatewayId"] for r in private_defaults}) == 1


def test_prod_has_a_nat_gateway_per_zone_and_routes_each_zone_to_its_own(prod_plan):
    nats = prod_plan.of_type(NAT)
    assert len(nats) == 3
    nat_zone = {}
    for nat in nats:
        public = next(s for s in subnets(prod_plan, "public") if id_of(prod_plan, s) == nat.inputs["subnetId"])
        nat_zone[id_of(prod_plan, nat)] = public.inputs["availabilityZoneId"]
    assert sorted(nat_zone.values()) == ["use1-az1", "use1-az2", "use1-az4"]
    for zone in nat_zone.values():
        route = prod_plan.one(ROUTE, f"network-private-default-{zone}")
        assert nat_zone[route.inputs["natGatewayId"]] == zone


def test_nat_gateways_sit_in_public_subnets(stack_plan):
    public_ids = {id_of(stack_plan, s) for s in subnets(stack_plan, "public")}
    assert all(n.inputs["subnetId"] in public_ids for n in stack_plan.of_type(NAT))


def test_data_subnets_have_no_route_to_the_internet(stack_plan):
    data_rt = stack_plan.one(ROUTE_TABLE, "network-data-rt")
    data_rt_id = id_of(stack_plan, data_rt)
    assert not [r for r in stack_plan.of_type(ROUTE) if r.inputs["routeTableId"] == data_rt_id]
    data_ids = {id_of(stack_plan, s) for s in subnets(stack_plan, "data")}
    associations = [a for a in stack_plan.of_type(ASSOCIATION) if a.inputs["subnetId"] in data_ids]
    assert len(associations) == zones(stack_plan) and all(a.inputs["routeTableId"] == data_rt_id for a in associations)


def test_only_the_public_route_table_reaches_the_internet_gateway(stack_plan):
    via_igw = [r for r in stack_plan.of_type(ROUTE) if "gatewayId" in r.inputs]
    assert [r.name for r in via_igw] == ["network-public-default"]


def test_default_security_group_has_no_rules(stack_plan):
    default_sg = stack_plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg.inputs["ingress"] == [] and default_sg.inputs["egress"] == []


def test_flow_logs_capture_all_traffic_into_an_encrypted_log_group_with_retention(stack_plan):
    flow_log = stack_plan.one("aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    group = stack_plan.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert group.urn in flow_log.dependencies
    assert group.inputs["retentionInDays"] == (30 if stack_plan.stack == "dev" else 365)
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    key = stack_plan.one("aws:kms/key:Key", "network-flow-logs-key")
    assert key.urn in group.dependencies and key.inputs["enableKeyRotation"] is True


def test_flow_log_role_writes_only_to_its_log_group(stack_plan):
    role_policy = stack_plan.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs")
    for statement in statements(policy(role_policy, "policy")):
        group = f":log-group:/ecomind/ecomind-infra-{stack_plan.stack}/network/vpc-flow-logs"
        assert all(group in arn for arn in as_list(statement["Resource"]))
        assert "*" not in as_list(statement["Action"])
    trust = statements(policy(stack_plan.one("aws:iam/role:Role", "network-flow-logs"), "assumeRolePolicy"))
    assert trust[0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == account(stack_plan.stack)


def test_s3_gateway_endpoint_serves_private_and_data_route_tables(stack_plan):
    endpoint = stack_plan.one("aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3")
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    expected = {id_of(stack_plan, rt) for rt in stack_plan.of_type(ROUTE_TABLE) if "public" not in rt.name}
    # the private route table of each zone, and the data tier's one
    assert set(endpoint.inputs["routeTableIds"]) == expected and len(expected) == zones(stack_plan) + 1


def test_flow_log_delivery_role_trusts_only_this_accounts_flow_logs(stack_plan):
    [trust] = statements(policy(stack_plan.one("aws:iam/role:Role", "network-flow-logs"), "assumeRolePolicy"))
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:ec2:us-east-1:{account(stack_plan.stack)}:vpc-flow-log/*"}


def test_the_s3_endpoint_lets_pods_read_anywhere_but_write_only_to_this_accounts_buckets(stack_plan):
    endpoint = stack_plan.one("aws:ec2/vpcEndpoint:VpcEndpoint")
    policy = json.loads(endpoint.inputs["policy"])
    reads, own = policy["Statement"]
    # Image layers come from buckets of ECR, registry.k8s.io and Docker Hub in this region: reads stay open.
    assert reads["Resource"] == "*" and "Condition" not in reads
    assert all(a.startswith(("s3:Get", "s3:List")) for a in reads["Action"])
    assert own["Action"] == "s3:*"
    assert own["Condition"] == {"StringEquals": {"aws:ResourceAccount": account(stack_plan.stack)}}
    assert len(policy["Statement"]) == 2, "no other statement widens it"
