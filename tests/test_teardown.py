"""A teardown that completes: the application first, then a wait for what its controllers made,
then the rest. The driver's boto3 calls run against moto's in-process AWS API emulator, its
Pulumi calls against the fake CLI (tests/fake_pulumi)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops import pulumi_stack, teardown
from tests.conftest import PROJECT_DIR

CLUSTER = "ecomind-infra-dev"
REGION = "us-east-1"
FAKE_DIR = PROJECT_DIR / "tests" / "fake_pulumi"


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def network(session):
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]
               ["SubnetId"] for i, z in enumerate("ab")]
    return vpc, subnets


def tags(cluster: str, key: str = teardown.LOAD_BALANCER_TAG) -> list[dict]:
    return [{"Key": key, "Value": cluster}]


def controller_made(session, cluster: str = CLUSTER) -> dict[str, str]:
    """What the load balancer controller makes for an Ingress, tagged as it tags them."""
    vpc, subnets = network(session)
    ec2, elbv2 = session.client("ec2"), session.client("elbv2")
    group = ec2.create_security_group(GroupName=f"k8s-{cluster}", Description="lbc", VpcId=vpc,
                                      TagSpecifications=[{"ResourceType": "security-group",
                                                          "Tags": tags(cluster)}])["GroupId"]
    short = cluster.rsplit("-", 1)[1]
    balancer = elbv2.create_load_balancer(Name=f"k8s-lb-{short}", Subnets=subnets, SecurityGroups=[group],
                                          Tags=tags(cluster))["LoadBalancers"][0]["LoadBalancerArn"]
    target_group = elbv2.create_target_group(Name=f"k8s-tg-{short}", Protocol="HTTP", Port=80, VpcId=vpc,
                                             TargetType="ip", Tags=tags(cluster))["TargetGroups"][0]["TargetGroupArn"]
    return {"balancer": balancer, "target_group": target_group, "group": group}


def test_leftovers_are_found_by_the_clusters_tags_and_only_its_own(aws):
    ours, theirs = controller_made(aws), controller_made(aws, "ecomind-infra-prod")
    volume = aws.client("ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=10, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": teardown.volume_tag(CLUSTER), "Value": "owned"}]}])["VolumeId"]
    left = teardown.leftovers(aws, CLUSTER)
    assert left == {"load_balancers": [ours["balancer"]], "target_groups": [ours["target_group"]],
                    "security_groups": [ours["group"]], "volumes": [volume]}
    assert theirs["balancer"] not in left["load_balancers"]


def test_waiting_ends_when_the_controllers_have_cleaned_up(aws):
    made = controller_made(aws)
    polls = []

    def controller_deletes(_seconds):
        polls.append(1)
        elbv2 = aws.client("elbv2")
        elbv2.delete_load_balancer(LoadBalancerArn=made["balancer"])
        elbv2.delete_target_group(TargetGroupArn=made["target_group"])
        aws.client("ec2").delete_security_group(GroupId=made["group"])

    left = teardown.wait_until_gone(aws, CLUSTER, keep_volumes=False, sleep=controller_deletes, report=lambda _: None)
    assert left == {}
    assert len(polls) == 1


def test_waiting_gives_up_with_what_is_left_and_prod_keeps_its_volumes(aws):
    aws.client("ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=10, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": teardown.volume_tag(CLUSTER), "Value": "owned"}]}])
    left = teardown.wait_until_gone(aws, CLUSTER, keep_volumes=False, timeout_seconds=30, poll_seconds=15,
                                    sleep=lambda _: None, report=lambda _: None)
    assert list(left) == ["volumes"]
    assert teardown.wait_until_gone(aws, CLUSTER, keep_volumes=True, sleep=lambda _: None,
                                    report=lambda _: None) == {}, "Retain volumes are not waited for"


def test_only_this_clusters_detached_cni_interfaces_are_deleted(aws):
    _, subnets = network(aws)
    ec2 = aws.client("ec2")

    def interface(cluster):
        return ec2.create_network_interface(SubnetId=subnets[0], TagSpecifications=[
            {"ResourceType": "network-interface", "Tags": tags(cluster, teardown.CNI_TAG)}])["NetworkInterface"][
            "NetworkInterfaceId"]

    ours, theirs = interface(CLUSTER), interface("ecomind-infra-prod")
    assert teardown.delete_detached_interfaces(aws, CLUSTER) == [ours]
    remaining = {i["NetworkInterfaceId"] for i in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    assert ours not in remaining and theirs in remaining


def drive(tmp_path, monkeypatch, session, *args, scenario="ok", sleep=lambda _: None, connect=None):
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", os.pathsep.join([str(FAKE_DIR), str(os.path.dirname(sys.executable)),
                                                os.environ["PATH"]]))
    for key, value in {"FAKE_PULUMI_LOG": str(log), "FAKE_PULUMI_SCENARIO": scenario,
                       "ECOMIND_TEARDOWN_WAIT_SECONDS": "30"}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "state").mkdir()
    env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}"}
    code = pulumi_stack.main([*args, "--summary-file", str(tmp_path / "summary.md")], env=env,
                             output=lambda _: None, sleep=sleep,
                             session_factory=lambda region: connect() if connect else session)
    calls = [json.loads(line)["args"] for line in log.read_text().splitlines()]
    return code, [[a for a in c if a != "--non-interactive"] for c in calls]


def destroys(calls):
    return [c for c in calls if c and c[0] == "destroy" and "--preview-only" not in c]


def test_destroy_removes_the_application_waits_for_its_load_balancer_then_destroys_the_rest(tmp_path, monkeypatch,
                                                                                          aws, capsys):
    made = controller_made(aws)

    def controller_deletes(_seconds):
        aws.client("elbv2").delete_load_balancer(LoadBalancerArn=made["balancer"])
        aws.client("elbv2").delete_target_group(TargetGroupArn=made["target_group"])
        aws.client("ec2").delete_security_group(GroupId=made["group"])

    code, calls = drive(tmp_path, monkeypatch, aws, "destroy", "--stack", "dev", sleep=controller_deletes)
    assert code == 0
    # The engine's preview of the whole destroy comes before anything is deleted.
    every = [c for c in calls if c and c[0] == "destroy"]
    assert "--preview-only" in every[0] and len(every) == 3
    assert "destroy of stack 'dev' deletes 191 resource(s)" in capsys.readouterr().err
    summary = (tmp_path / "summary.md").read_text()
    assert "What this destroy deletes (191 resources)" in summary
    assert "- `database-postgres` (aws:rds/instance:Instance)" in summary
    first, rest = destroys(calls)
    targets = [first[i + 1] for i, a in enumerate(first) if a == "--target"]
    assert [t.rsplit("::", 1)[1] for t in targets] == ["ecomind-release", "ecomind-reloader"]
    assert "--target-dependents" in first, "what depends on a release goes with it"
    assert "--target" not in rest
    assert teardown.leftovers(aws, CLUSTER)["load_balancers"] == []


def test_destroy_stops_before_the_vpc_when_a_controller_left_something(tmp_path, monkeypatch, aws):
    controller_made(aws)
    code, calls = drive(tmp_path, monkeypatch, aws, "destroy", "--stack", "dev")
    assert code == pulumi_stack.EXIT_FAILED
    assert len(destroys(calls)) == 1, "only the application went; the cluster and VPC stay"


def test_a_destroy_that_fails_on_cni_interfaces_deletes_them_and_retries_once(tmp_path, monkeypatch, aws):
    _, subnets = network(aws)
    aws.client("ec2").create_network_interface(SubnetId=subnets[0], TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": tags(CLUSTER, teardown.CNI_TAG)}])
    code, calls = drive(tmp_path, monkeypatch, aws, "destroy", "--stack", "dev", scenario="destroy-fails-once")
    assert code == 0
    assert len(destroys(calls)) == 3  # the application, the failed full destroy, the retry
    assert aws.client("ec2").describe_network_interfaces()["NetworkInterfaces"] == []


def test_the_in_cluster_databases_volumes_carry_the_tag_the_teardown_looks_for():
    from tests.conftest import planned

    plan = planned("prod", ("databaseEngine=timescaledb",))
    storage = plan.one("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage.inputs["parameters"]["tagSpecification_1"] == f"{teardown.volume_tag('ecomind-infra-prod')}=owned"
    assert storage.inputs["reclaimPolicy"] == "Retain", "prod keeps its volumes: the teardown does not wait for them"


def test_a_fault_outside_the_cli_still_ends_in_one_line_and_a_summary(tmp_path, monkeypatch, capsys):
    def unreachable():
        raise RuntimeError("no route to ec2.us-east-1.amazonaws.com")

    code, calls = drive(tmp_path, monkeypatch, None, "destroy", "--stack", "dev", connect=unreachable)
    assert code == pulumi_stack.EXIT_FAILED
    assert len(destroys(calls)) == 1, "the application went; nothing else was tried"
    err = capsys.readouterr().err
    assert "stopped: RuntimeError: no route to ec2.us-east-1.amazonaws.com" in err and "Traceback" not in err
    summary = (tmp_path / "summary.md").read_text()
    assert "failed: RuntimeError" in summary and "Traceback (most recent call last)" in summary


def test_a_destroy_that_meets_a_lock_twice_then_cni_interfaces_still_runs_its_last_attempt(tmp_path, monkeypatch,
                                                                                            aws):
    """Two lock retries and the interface clean-up's retry are counted apart: the fourth attempt
    runs and succeeds (the loop used to end after three, reporting success without it)."""
    _, subnets = network(aws)
    aws.client("ec2").create_network_interface(SubnetId=subnets[0], TagSpecifications=[
        {"ResourceType": "network-interface", "Tags": tags(CLUSTER, teardown.CNI_TAG)}])
    code, calls = drive(tmp_path, monkeypatch, aws, "destroy", "--stack", "dev", scenario="destroy-locked-then-fails")
    assert code == 0
    assert len(destroys(calls)) == 5  # the application, two locked, the DependencyViolation, the one that ran


def test_the_provider_pin_is_one_whose_vpc_delete_documents_the_guardduty_cleanup():
    """GuardDuty runtime monitoring makes a VPC endpoint and a security group in every VPC with a
    cluster, outside the state (review M5); the teardown relies on the provider deleting them
    (terraform-provider-aws #46953). This guards the pin against a provider that does not say so;
    the cleanup itself runs only against AWS."""
    import pulumi_aws

    vpc = (Path(pulumi_aws.__file__).parent / "ec2" / "vpc.py").read_text()
    subnet = (Path(pulumi_aws.__file__).parent / "ec2" / "subnet.py").read_text()
    assert "removes these GuardDuty-managed VPC endpoints and security groups" in vpc
    assert "dissociates the subnet from these GuardDuty-managed VPC endpoints" in subnet
