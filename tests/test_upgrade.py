"""An upgrade moves the control plane, every add-on, the node groups and the autoscaler together,
one minor at a time and in order: planned at 1.35 and at 1.36, compared."""

from __future__ import annotations

import pytest

import settings
from tests.conftest import minimal_config, planned

ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "eks:index:ManagedNodeGroup"
CLUSTER = "eks:index:Cluster"
AUTOSCALER = "services-cluster-autoscaler"


def flight(version: str) -> dict[str, str]:
    """What runs at `version`: control plane, each add-on, each node group, the autoscaler."""
    plan = planned("prod", (f"kubernetesVersion={version}",))
    moved = {"control plane": plan.one(CLUSTER).inputs["version"]}
    cluster = plan.one(CLUSTER).inputs
    moved["kube-proxy (in the cluster)"] = cluster["kubeProxyAddonOptions"]["version"]
    moved["vpc-cni (in the cluster)"] = plan.one("eks:index:VpcCniAddon").inputs["addonVersion"]
    for addon in plan.of_type(ADDON):
        moved[addon.inputs["addonName"]] = addon.inputs["addonVersion"]
    for group in plan.of_type(NODE_GROUP):
        moved[f"nodes {group.name}"] = f"{group.inputs['version']} ({group.inputs['releaseVersion']})"
    moved["cluster-autoscaler"] = plan.one("kubernetes:helm.sh/v3:Release", AUTOSCALER).inputs["values"]["image"]["tag"]
    return moved


@pytest.mark.parametrize("version", sorted(settings.ADDON_VERSIONS))
def test_everything_runs_the_pinned_build_of_the_clusters_version(version):
    moved = flight(version)
    builds = settings.ADDON_VERSIONS[version]
    assert moved["control plane"] == version
    assert moved["kube-proxy (in the cluster)"] == builds["kube-proxy"]
    assert moved["vpc-cni (in the cluster)"] == builds["vpc-cni"]
    for addon in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert moved[addon] == builds[addon]
    # kubelet and kube-proxy never run ahead of the control plane.
    assert builds["kube-proxy"].startswith(f"v{version}.")
    for key, value in moved.items():
        if key.startswith("nodes "):
            assert value == f"{version} ({settings.AMI_RELEASE_VERSIONS[version]})", key
    assert moved["cluster-autoscaler"] == settings.CLUSTER_AUTOSCALER_IMAGE_TAGS[version]
    assert moved["cluster-autoscaler"].startswith(f"v{version}.")


def test_from_1_35_to_1_36_everything_moves_and_nothing_is_left_behind():
    before, after = flight("1.35"), flight("1.36")
    assert before.keys() == after.keys()
    # The VPC CNI, EBS CSI and CloudWatch observability builds support both minors, so they stay;
    # everything else moves.
    stays = {key for key in before if before[key] == after[key]}
    assert stays <= {"vpc-cni (in the cluster)", "aws-ebs-csi-driver", "amazon-cloudwatch-observability"}, stays


def test_the_engine_upgrades_the_control_plane_before_the_nodes_and_the_addons_that_run_on_them():
    plan = planned("prod")
    cluster = plan.one(CLUSTER)
    for group in plan.of_type(NODE_GROUP):
        assert cluster.urn in plan.upstream_of(group), group.name
    for addon in plan.of_type(ADDON):
        upstream = plan.upstream_of(addon)
        assert cluster.urn in upstream, addon.name
        if addon.inputs["addonName"] in ("coredns", "metrics-server"):
            assert all(g.urn in upstream for g in plan.of_type(NODE_GROUP)), addon.name


def test_every_version_the_settings_accept_has_its_whole_flight_pinned():
    accepted = []
    for version in settings.EKS_STANDARD_SUPPORT_ENDS:
        try:
            settings.load(minimal_config("prod", kubernetesVersion=version), stack="prod", region="us-east-1")
        except settings.ConfigError:
            continue
        accepted.append(version)
    assert accepted, "some version must be accepted today"
    for version in accepted:
        assert version in settings.ADDON_VERSIONS and version in settings.AMI_RELEASE_VERSIONS, version
        assert version in settings.CLUSTER_AUTOSCALER_IMAGE_TAGS, version
