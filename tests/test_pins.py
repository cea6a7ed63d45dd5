"""analyses/pins.py: every version a plan pins has a recorded sighting, and the unconfirmed ones
are listed on every plan."""

from __future__ import annotations

import dataclasses

import settings
from analyses import pins
from components import cluster_services, synthetics, timescale
from tests.conftest import planned


def test_every_pin_of_every_plan_has_a_sighting(stack_plan):
    assert pins.analyse(stack_plan)["failures"] == []
    assert pins.analyse(planned("dev", ("databaseEngine=timescaledb",)))["failures"] == []


def test_every_pin_the_settings_can_choose_has_a_sighting():
    """The Kubernetes versions a stack may pick select other pins than the plans show today."""
    chosen = [("kubernetes", version) for version in settings.ADDON_VERSIONS]
    chosen += [(f"addon:{name}", build)
               for builds in settings.ADDON_VERSIONS.values() for name, build in builds.items()]
    chosen += [("ami-release", release) for release in settings.AMI_RELEASE_VERSIONS.values()]
    chosen += [("image:cluster-autoscaler", tag) for tag in settings.CLUSTER_AUTOSCALER_IMAGE_TAGS.values()]
    chosen += [(f"chart:{spec['chart']}", spec["version"]) for spec in (
        cluster_services.LOAD_BALANCER_CONTROLLER, cluster_services.EXTERNAL_SECRETS,
        cluster_services.CLUSTER_AUTOSCALER, cluster_services.RELOADER, timescale.OPERATOR, timescale.BACKUP_PLUGIN,
        timescale.CERT_MANAGER)]
    chosen += [("runtime:synthetics", synthetics.RUNTIME_VERSION), ("image:timescaledb", settings.TIMESCALEDB_IMAGE),
               ("engine:postgres", settings.POSTGRES_MAJOR_VERSION), ("engine:kafka", settings.KAFKA_VERSION),
               ("engine:valkey", settings.VALKEY_VERSION)]
    assert [pin for pin in chosen if pin not in pins.SIGHTINGS] == []


def test_a_chart_from_an_oci_registry_is_a_pin_too(dev_plan):
    release = next(r for r in dev_plan.of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "reloader")
    oci = dataclasses.replace(dev_plan, resources=[
        dataclasses.replace(r, inputs={**{k: v for k, v in r.inputs.items() if k != "repositoryOpts"},
                                       "chart": "oci://ghcr.io/stakater/charts/reloader"}) if r is release else r
        for r in dev_plan.resources])
    [failure] = pins.analyse(oci)["failures"]
    assert "chart:oci://ghcr.io/stakater/charts/reloader 2.2.16 has no recorded sighting" in failure


def test_a_pin_bumped_without_its_sighting_fails_the_plan_in_one_line(dev_plan):
    addon = next(r for r in dev_plan.of_type("aws:eks/addon:Addon") if r.inputs["addonName"] == "coredns")
    bumped = dataclasses.replace(dev_plan, resources=[
        dataclasses.replace(r, inputs={**r.inputs, "addonVersion": "v1.14.9-eksbuild.1"}) if r is addon else r
        for r in dev_plan.resources])
    [failure] = pins.analyse(bumped)["failures"]
    assert failure.startswith("pins/recorded-sighting: addon:coredns v1.14.9-eksbuild.1 has no recorded sighting")
    assert addon.urn in failure and "[source: analyses/pins.py]" in failure


def test_every_pin_not_confirmed_by_its_publisher_is_listed(dev_plan):
    section = pins.analyse(planned("dev", ("databaseEngine=timescaledb",)))
    listed = "\n".join(section["summary"])
    assert "guess         image:timescaledb timescale/timescaledb-ha:pg17.11-ts2.30.1" in listed
    assert "recorded run  addon:vpc-cni v1.22.4-eksbuild.3" in listed
    assert "source tag    chart:cert-manager v1.21.1" in listed  # its index was not read (review m3)
    assert "recorded run  runtime:synthetics syn-nodejs-puppeteer-15.0" in listed
    assert "addon:coredns" not in listed  # in the EKS user guide's table
    assert all(pin in listed for pin, s in section["pins"].items() if s["kind"] != pins.PRIMARY)
