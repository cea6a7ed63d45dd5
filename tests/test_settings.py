"""Typed stack settings: defaults, layout and every validation rule (settings.load)."""

from __future__ import annotations

import datetime
import ipaddress
import json

import pytest

import settings
from offline import stack_config
from tests.conftest import CONNECTION_ARN, DEPLOY_ROLE_ARN, PREVIEW_ROLE_ARN, PROJECT_DIR, account, minimal_config

TODAY = datetime.date(2026, 11, 25)
CONNECTION = CONNECTION_ARN
NS = settings.PROJECT


def raw(environment: str = "dev", **overrides) -> dict[str, str]:
    """Config as the engine passes it: namespaced keys, string values, lists as JSON."""
    values = minimal_config(environment)
    for key, value in overrides.items():
        values[f"{NS}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return values


def load(values: dict[str, str], region: str | None = "us-east-1", today: datetime.date = TODAY):
    return settings.load(values, stack="test", region=region, today=today)


def error_of(values: dict[str, str], **kwargs) -> str:
    with pytest.raises(settings.ConfigError) as caught:
        load(values, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, "config errors are one line"
    return message


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_files_load(stack):
    config = stack_config.load(PROJECT_DIR, stack)
    loaded = settings.load(config.values, stack=stack, region=config.values["aws:region"], today=TODAY)
    assert loaded.environment == stack
    assert loaded.region == "us-east-1"


def test_defaults_are_production_grade():
    s = load(raw("prod"))
    assert len(s.network.availability_zone_ids) == 3
    assert s.network.nat_gateway_per_az
    assert s.cluster.public_access_cidrs == ()  # public endpoint off unless CIDRs are listed
    assert s.network.log_retention_days == 365
    spread = [g for g in s.cluster.node_groups if g.zone_index is None]
    zonal = [g for g in s.cluster.node_groups if g.zone_index is not None]
    assert spread and all(group.min_size >= 3 for group in spread)
    # The workload nodes: one group per zone, so that the autoscaler can add a node in the zone a pod needs.
    assert [(g.name, g.zone_index, g.min_size) for g in zonal] == [
        (f"workload-{zone}", index, 1) for index, zone in enumerate(s.network.availability_zone_ids)]
    assert s.protect_stateful


def test_dev_is_not_protected():
    assert not load(raw("dev")).protect_stateful


def test_settings_are_immutable():
    s = load(raw())
    with pytest.raises(AttributeError):
        s.environment = "prod"  # type: ignore[misc]


def test_subnets_are_disjoint_inside_the_vpc_and_one_per_tier_per_zone():
    for overrides in ({}, {"vpcCidr": "10.10.0.0/18", "privateSubnetPrefixLength": 21},
                      {"availabilityZoneCount": 5}):
        s = load(raw("dev", **overrides))
        vpc = ipaddress.IPv4Network(s.network.vpc_cidr)
        layout = s.network.subnets
        zones = len(s.network.availability_zone_ids)
        blocks = [ipaddress.IPv4Network(b) for b in layout.public + layout.private + layout.data]
        assert len(layout.public) == len(layout.private) == len(layout.data) == zones
        assert all(block.subnet_of(vpc) for block in blocks)
        assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1:])


def test_node_groups_are_typed_with_labels_and_taints():
    s = load(raw("dev", workloadNodeLabels=["team=ecomind"], workloadNodeTaints=["dedicated=ecomind:NoExecute"]))
    workload = next(g for g in s.cluster.node_groups if g.name.startswith("workload"))
    assert workload.labels == {"ecomind.io/node-group": "workload", "team": "ecomind"}
    assert workload.taints == (settings.Taint("dedicated", "ecomind", "NO_EXECUTE"),)
    system = next(g for g in s.cluster.node_groups if g.name == "system")
    assert system.taints == (settings.Taint("CriticalAddonsOnly", "true", "NO_SCHEDULE"),)
    assert system.architecture == "arm64"  # t4g.medium: Graviton


def test_graviton_types_select_the_arm_architecture():
    s = load(raw("dev", workloadNodeInstanceTypes=["m7g.large", "t4g.large"]))
    assert next(g for g in s.cluster.node_groups if g.name.startswith("workload")).architecture == "arm64"


# --- Errors: one line, naming the key, the value and what is allowed -------------------------

def test_unknown_key_is_an_error_with_a_suggestion():
    message = error_of({**raw(), f"{NS}:vpcCdir": "10.0.0.0/16"})
    assert f"'{NS}:vpcCdir'" in message and "did you mean 'vpcCidr'" in message


def test_other_namespaces_are_not_ours_to_judge():
    load({**raw(), "aws:profile": "ecomind"})


def test_missing_environment_is_an_error():
    assert f"'{NS}:environment'" in error_of({f"{NS}:appImageTag": "v1", f"{NS}:githubConnectionArn": CONNECTION})


@pytest.mark.parametrize("tag", ["latest", "", "has space", "-leading-dash"])
def test_image_tag_must_be_an_immutable_release_tag(tag):
    message = error_of(raw(appImageTag=tag))
    assert "appImageTag" in message


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0/16", "ten", "10.0.0.0"])
def test_malformed_vpc_cidr(bad):
    message = error_of(raw(vpcCidr=bad))
    assert "vpcCidr" in message and repr(bad) in message and "CIDR" in message


def test_vpc_cidr_with_host_bits_names_the_block_meant():
    assert "10.0.0.0/16" in error_of(raw(vpcCidr="10.0.5.0/16"))


def test_public_vpc_range_is_refused():
    assert "RFC 1918" in error_of(raw(vpcCidr="8.8.0.0/16"))
    assert "overlaps the clusters' Kubernetes service range 172.20.0.0/16" in error_of(raw(vpcCidr="172.20.0.0/18"))


@pytest.mark.parametrize("vpc,private", [
    ("10.0.0.0/20", 19),  # one private subnet alone is larger than the VPC
    ("10.0.0.0/20", 21),  # each fits, but 3 x /21 + 6 x /24 = 7,680 addresses > 4,096
])
def test_vpc_too_small_for_the_subnets_asked_for(vpc, private):
    message = error_of(raw(vpcCidr=vpc, privateSubnetPrefixLength=private))
    assert "vpcCidr" in message and "too small" in message and "3 zones" in message


def test_a_vpc_exactly_as_large_as_its_subnets_fits():
    # 2 zones x (/21 + /24 + /24) = 2 x 2,560 = 5,120 addresses: fits a /19 (8,192), not a /20.
    assert load(raw(vpcCidr="10.0.0.0/19", privateSubnetPrefixLength=21, availabilityZoneCount=2))
    assert "too small" in error_of(raw(vpcCidr="10.0.0.0/20", privateSubnetPrefixLength=21, availabilityZoneCount=2))


@pytest.mark.parametrize("count", [1, 6, 0])
def test_zone_count_outside_two_to_region_count(count):
    message = error_of(raw(availabilityZoneCount=count))
    assert "availabilityZoneCount" in message and "between 2 and 5" in message


def test_zone_count_upper_bound_follows_the_region():
    assert "between 2 and 3" in error_of(raw(availabilityZoneCount=4), region="eu-west-1")
    # a us-west-2 stack keeps its copies elsewhere: the default drRegion is its own region
    assert len(load(raw(availabilityZoneCount=4, drRegion="us-east-2"),
                    region="us-west-2").network.availability_zone_ids) == 4
    assert "'ecomind-infra:drRegion' = 'us-west-2'" in error_of(raw(availabilityZoneCount=4), region="us-west-2")


def test_unsupported_region():
    assert "'aws:region'" in error_of(raw(), region="ap-south-9")


def test_node_group_min_above_max():
    message = error_of(raw(systemNodeMinSize=4, systemNodeDesiredSize=4, systemNodeMaxSize=3))
    assert "systemNodeMinSize" in message and "systemNodeMaxSize (3)" in message


@pytest.mark.parametrize("desired", [0, 5])
def test_node_group_desired_outside_min_max(desired):
    message = error_of(raw(workloadNodeMinSize=1, workloadNodeDesiredSize=desired, workloadNodeMaxSize=4))
    assert "workloadNodeDesiredSize" in message
    assert "between workloadNodeMinSize (1) and workloadNodeMaxSize (4)" in message


@pytest.mark.parametrize("version", ["1.33", "1.29", "2.0", "latest"])
def test_kubernetes_version_outside_standard_support(version):
    message = error_of(raw(kubernetesVersion=version))
    assert "kubernetesVersion" in message and "standard support" in message and "1.36" in message


def test_kubernetes_version_leaves_support_on_its_end_date():
    assert load(raw(kubernetesVersion="1.35"), today=datetime.date(2027, 3, 27))
    message = error_of(raw(kubernetesVersion="1.35"), today=datetime.date(2027, 3, 28))
    assert "'1.35'" in message


def test_world_open_api_endpoint_is_refused_in_prod_only():
    assert load(raw("dev", clusterPublicAccessCidrs=["0.0.0.0/0"]))
    message = error_of(raw("prod", clusterPublicAccessCidrs=["0.0.0.0/0"]))
    assert "clusterPublicAccessCidrs" in message and "0.0.0.0/0" in message


def test_prod_refuses_a_single_nat_gateway():
    assert "natGateways" in error_of(raw("prod", natGateways="single"))


def test_prod_needs_a_node_per_zone_in_every_group():
    message = error_of(raw("prod", workloadNodeGroupPerZone=False, workloadNodeMinSize=2, workloadNodeDesiredSize=2))
    assert "workloadNodeMinSize" in message and "(3)" in message
    # Per zone, the sizes are split and rounded up: 2 over 3 zones is a node in each.
    per_zone = load(raw("prod", workloadNodeMinSize=2, workloadNodeDesiredSize=2)).cluster.node_groups
    assert [g.min_size for g in per_zone if g.name.startswith("workload")] == [1, 1, 1]


@pytest.mark.parametrize("key,value,expect", [
    ("availabilityZoneCount", "three", "whole number"),
    ("natGateways", "two", "perAz, single"),
    ("environment", "staging", "dev, prod"),
    ("logRetentionDays", 45, "CloudWatch retention"),
    ("clusterAdminRoleArns", ["arn:aws:iam::123:user/bob"], "IAM role ARN"),
    ("clusterPublicAccessCidrs", ["203.0.113.0/33"], "CIDR"),
    ("systemNodeInstanceTypes", ["m5.banana"], "allowed values"),
    ("systemNodeInstanceTypes", [], "at least one"),
    ("workloadNodeInstanceTypes", ["m7g.large", "m7i.large"], "CPU architecture"),
    ("workloadNodeCapacityType", "RESERVED", "ON_DEMAND, SPOT"),
    ("workloadNodeTaints", ["dedicated=ecomind"], "key=value:Effect"),
    ("workloadNodeLabels", ["no-equals-sign"], "key=value"),
    ("privateSubnetPrefixLength", 28, "between 16 and 27"),
    ("clusterAdminRoleArns", "arn:aws:iam::111122223333:role/x", "list"),
])
def test_bad_values_name_key_value_and_what_is_allowed(key, value, expect):
    environment = value if key == "environment" else "dev"
    values = raw(environment) if key == "environment" else raw(**{key: value})
    message = error_of(values)
    assert f"'{NS}:{key}'" in message and expect in message


def test_opt_outs_list_every_setting_a_stack_moves_from_its_default():
    lines = settings.describe_opt_outs(raw("dev", natGateways="single"))
    assert lines == ['natGateways = "single" (default "perAz")']
    assert settings.describe_opt_outs(raw("prod")) == []


ADMIN = "arn:aws:iam::111122223333:role/ecomind-platform-admin"


def test_the_cluster_creator_listed_as_an_admin_is_refused_before_eks_answers_409():
    message = error_of(raw(clusterAdminRoleArns=[ADMIN, DEPLOY_ROLE_ARN]))
    assert "clusterAdminRoleArns" in message and DEPLOY_ROLE_ARN in message
    assert "409" in message and "clusterCreatorRoleArn" in message


def test_a_deploy_role_that_is_not_the_creator_gets_its_own_admin_entry():
    s = load(raw(clusterCreatorRoleArn=ADMIN))
    entries = {a.key: (a.principal_arn, a.policy) for a in s.cluster.access_entries}
    assert entries["ci-deploy"] == (DEPLOY_ROLE_ARN, "AmazonEKSClusterAdminPolicy")
    assert entries["ci-preview"] == (PREVIEW_ROLE_ARN, "AmazonEKSAdminViewPolicy")
    assert ADMIN not in {arn for arn, _ in entries.values()}


def test_the_preview_role_may_not_be_a_deploying_role():
    message = error_of(raw(ciPreviewRoleArn=DEPLOY_ROLE_ARN))
    assert "ciPreviewRoleArn" in message and "read-only" in message


def test_ci_role_settings_must_be_role_arns():
    message = error_of(raw(ciDeployRoleArn="ecomind-infra-deploy"))
    assert "'ecomind-infra:ciDeployRoleArn'" in message and "IAM role ARN" in message


def test_zone_count_error_names_the_zone_ids_on_offer():
    message = error_of(raw(availabilityZoneCount=6))
    assert "availabilityZoneCount" in message and "use1-az6" in message and "use1-az3" not in message


def test_the_aws_provider_must_be_held_to_the_stacks_account():
    values = raw()
    values["aws:allowedAccountIds"] = '["444455556666"]'
    message = error_of(values)
    assert "aws:allowedAccountIds" in message and "111122223333" in message and "\n" not in message
    values.pop("aws:allowedAccountIds")
    assert "aws:allowedAccountIds" in error_of(values)


def test_role_arns_of_another_account_are_refused():
    other = "arn:aws:iam::444455556666:role/ecomind-infra-dev-preview"
    message = error_of(raw(ciPreviewRoleArn=other))
    assert "ciPreviewRoleArn" in message and "awsAccountId (111122223333)" in message


def test_the_account_must_be_twelve_digits():
    assert "12-digit" in error_of(raw(awsAccountId="1111"))


def test_the_program_builds_policies_for_the_configured_account(stack_plan):
    import json

    document = json.loads(stack_plan.one("aws:kms/key:Key", "secrets-key-key").inputs["policy"])
    principals = {s["Principal"].get("AWS") for s in document["Statement"] if isinstance(s.get("Principal"), dict)}
    assert f"arn:aws:iam::{account(stack_plan.stack)}:root" in principals
