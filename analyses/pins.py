"""Every version the plan pins, and where it was seen.

A pin nobody has seen published fails the first `up` (an add-on build EKS does not offer, a chart
version missing from its index). So each version the plan sends (Kubernetes, add-on builds, the
AMI release, charts, images, engine versions) must have a recorded sighting here: a primary one
(the publisher's own index, tag, changelog or documentation table), a recorded run (a public
record of a deployment that used it), or an honest guess. A pin with no row fails the plan; the
ones not confirmed by a primary source are listed on every `make plan`, so that nobody mistakes
them for checked ones. `describe-addon-versions` in the deploying account is the check to run
before a first `up` for every row below that is not primary.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from analyses.model import Plan

SECTION = "pins"

PRIMARY, TAG, RUN, GUESS = "primary", "source tag", "recorded run", "guess"
"""primary: the publisher's own list (index, table, changelog); source tag: the release's tag in its
source repository, the published index not read; recorded run: a public record of a deployment;
guess: seen nowhere authoritative. Every kind but primary is listed on each plan."""


@dataclasses.dataclass(frozen=True)
class Sighting:
    kind: str
    """PRIMARY, RUN or GUESS."""
    where: str


_EKS_VERSIONS = "EKS user guide, \"Understand the Kubernetes version lifecycle on EKS\""
_EKS_ADDONS = "EKS user guide version tables (managing-coredns, managing-kube-proxy), read 2026-12"
_RUN = ("public records of deployments that ran it (describe-addon-versions output, add-on inventories), "
        "2026-08 to 2026-10")

SIGHTINGS: dict[tuple[str, str], Sighting] = {
    ("kubernetes", "1.36"): Sighting(PRIMARY, _EKS_VERSIONS),
    ("kubernetes", "1.35"): Sighting(PRIMARY, _EKS_VERSIONS),
    ("addon:coredns", "v1.14.3-eksbuild.3"): Sighting(PRIMARY, _EKS_ADDONS + ": the 1.36 and 1.35 rows"),
    ("addon:coredns", "v1.13.2-eksbuild.31"): Sighting(RUN, _RUN + ": the 1.35 default on 2026-10-02"),
    ("addon:kube-proxy", "v1.36.0-eksbuild.14"): Sighting(PRIMARY, _EKS_ADDONS + ": the 1.36 row"),
    ("addon:kube-proxy", "v1.35.3-eksbuild.29"): Sighting(RUN, _RUN + ": newer than the docs' 1.35 row (.13)"),
    ("addon:vpc-cni", "v1.22.4-eksbuild.3"): Sighting(
        RUN, _RUN + "; upstream tag v1.22.4 (aws/amazon-vpc-cni-k8s) and aws/eks-charts 27a920d"),
    ("addon:aws-ebs-csi-driver", "v1.66.0-eksbuild.1"): Sighting(RUN, _RUN + " on 1.35 and 1.36"),
    ("addon:metrics-server", "v0.9.0-eksbuild.11"): Sighting(RUN, _RUN + ": compatible with 1.36"),
    ("addon:metrics-server", "v0.8.1-eksbuild.10"): Sighting(RUN, _RUN + ": the 1.35 default"),
    ("addon:amazon-cloudwatch-observability", "v6.4.0-eksbuild.1"): Sighting(
        RUN, _RUN + ": the 1.36 default in one account on 2026-08-08; chart 6.4.0 is tag "
        "amazon-cloudwatch-observability-6.4.0 of aws-observability/helm-charts (f4ad2e3). The add-on's "
        "configuration schema for this build was not read (components/telemetry.py)"),
    ("ami-release", "1.36.2-20260714"): Sighting(PRIMARY, "awslabs/amazon-eks-ami CHANGELOG.md, AMI Release v20260714"),
    ("ami-release", "1.35.6-20260714"): Sighting(PRIMARY, "awslabs/amazon-eks-ami CHANGELOG.md, AMI Release v20260714"),
    ("chart:aws-load-balancer-controller", "3.5.0"): Sighting(
        PRIMARY, "aws/eks-charts gh-pages index.yaml and stable/aws-load-balancer-controller/Chart.yaml at 5239609"),
    ("chart:external-secrets", "2.9.0"): Sighting(PRIMARY, "external-secrets tag helm-chart-2.9.0; its index.yaml"),
    ("chart:cluster-autoscaler", "9.59.0"): Sighting(
        PRIMARY, "kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0; gh-pages index.yaml"),
    ("chart:reloader", "2.2.16"): Sighting(TAG, "stakater/Reloader tag chart-v2.2.16 (its chart index not read)"),
    ("chart:cert-manager", "v1.21.1"): Sighting(TAG, "cert-manager/cert-manager tag v1.21.1 (charts.jetstack.io "
                                                     "index not read)"),
    ("runtime:synthetics", "syn-nodejs-puppeteer-15.0"): Sighting(
        RUN, "the CloudWatch user guide's runtime list (\"Runtime versions using Node.js and Puppeteer\", stored copy "
        "read 2026-12-01), not `aws synthetics describe-runtime-versions` (components/synthetics.py)"),
    ("chart:cloudnative-pg", "0.29.0"): Sighting(PRIMARY, "cloudnative-pg/charts tag cloudnative-pg-v0.29.0"),
    ("chart:plugin-barman-cloud", "0.7.0"): Sighting(
        PRIMARY, "cloudnative-pg/charts tag plugin-barman-cloud-v0.7.0; gh-pages index"),
    ("image:cluster-autoscaler", "v1.36.1"): Sighting(
        PRIMARY, "kubernetes/autoscaler tag cluster-autoscaler-1.36.1 (the registry.k8s.io image not listed)"),
    ("image:cluster-autoscaler", "v1.35.0"): Sighting(
        PRIMARY, "kubernetes/autoscaler tag cluster-autoscaler-1.35.0; chart 9.59.0's default image"),
    ("image:timescaledb", "timescale/timescaledb-ha:pg17.11-ts2.30.1"): Sighting(
        GUESS, "seen only in public deployment manifests, not in the registry's tag list (settings.TIMESCALEDB_IMAGE)"),
    ("image:codebuild", "aws/codebuild/amazonlinux-x86_64-standard:5.0"): Sighting(
        PRIMARY, "CodeBuild user guide, \"Docker images provided by CodeBuild\""),
    ("engine:postgres", "17"): Sighting(PRIMARY, "RDS user guide, \"Supported PostgreSQL versions\" (major 17)"),
    ("engine:kafka", "3.9.x"): Sighting(PRIMARY, "MSK developer guide, \"Supported Apache Kafka versions\""),
    ("engine:valkey", "8.2"): Sighting(PRIMARY, "ElastiCache user guide, \"Supported engine versions\""),
}


def pinned(plan: Plan) -> Iterator[tuple[str, str, str]]:
    """(what, version, resource URN) of every version the plan pins."""
    for r in plan.resources:
        i, t = r.inputs, r.type
        if t == "eks:index:Cluster":
            yield "kubernetes", i.get("version"), r.urn
            proxy = i.get("kubeProxyAddonOptions") or {}
            if proxy.get("version"):
                yield "addon:kube-proxy", proxy["version"], r.urn
        elif t == "eks:index:VpcCniAddon":
            yield "addon:vpc-cni", i.get("addonVersion"), r.urn
        elif t == "aws:eks/addon:Addon":
            yield f"addon:{i.get('addonName')}", i.get("addonVersion"), r.urn
        elif t in ("eks:index:ManagedNodeGroup", "aws:eks/nodeGroup:NodeGroup") and i.get("releaseVersion"):
            yield "ami-release", i["releaseVersion"], r.urn
        elif t == "aws:synthetics/canary:Canary":
            yield "runtime:synthetics", i.get("runtimeVersion"), r.urn
        elif t == "kubernetes:helm.sh/v3:Release" and ((i.get("repositoryOpts") or {}).get("repo")
                                                       or str(i.get("chart", "")).startswith("oci://")):
            yield f"chart:{i.get('chart')}", i.get("version"), r.urn
            tag = (i.get("values") or {}).get("image", {}).get("tag") if isinstance(
                (i.get("values") or {}).get("image"), dict) else None
            if tag:
                yield f"image:{i.get('chart')}", tag, r.urn
        elif t == "kubernetes:postgresql.cnpg.io/v1:ImageCatalog":
            for image in (i.get("spec") or {}).get("images", []):
                yield "image:timescaledb", image.get("image"), r.urn
        elif t == "aws:codebuild/project:Project":
            yield "image:codebuild", (i.get("environment") or {}).get("image"), r.urn
        elif t == "aws:rds/instance:Instance" and i.get("engineVersion"):
            yield f"engine:{i.get('engine')}", i["engineVersion"], r.urn
        elif t == "aws:msk/cluster:Cluster":
            yield "engine:kafka", i.get("kafkaVersion"), r.urn
        elif t == "aws:elasticache/replicationGroup:ReplicationGroup":
            yield f"engine:{i.get('engine')}", i.get("engineVersion"), r.urn


def analyse(plan: Plan) -> dict[str, Any]:
    """The `pins` section: each pin with its sighting; a pin without one fails the plan."""
    pins, failures = {}, []
    for what, version, urn in pinned(plan):
        sighting = SIGHTINGS.get((what, str(version)))
        if sighting is None:
            failures.append(f"pins/recorded-sighting: {what} {version} has no recorded sighting ({urn}): add where it "
                            "was published (analyses/pins.py SIGHTINGS), or mark it a guess [source: analyses/pins.py]")
            continue
        pins[f"{what} {version}"] = dataclasses.asdict(sighting)
    unconfirmed = {pin: s for pin, s in pins.items() if s["kind"] != PRIMARY}
    summary = [f"Pinned versions: {len(pins)} sighted, {len(unconfirmed)} not confirmed by their publisher "
               "(check with describe-addon-versions / the registry before a first up):",
               *(f"  {s['kind']:<12}  {pin}" for pin, s in sorted(unconfirmed.items()))]
    return {"pins": json.loads(json.dumps(pins)), "failures": failures, "summary": summary}
