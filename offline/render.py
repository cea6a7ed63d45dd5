"""Render the plan's local chart releases with the real helm binary, as the Helm release would.

`render(plan)` runs `helm template` for every planned `kubernetes:helm.sh/v3:Release` whose
chart is a directory of this repository, with the release's own values and value files and
the cluster's Kubernetes version, and returns the manifests by release resource name. The
analyses then judge what the release would install (`analyses/rollout.py`), not only its
values. helm comes from `make tools` (tools/fetch_helm.py); ECOMIND_HELM names another.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from analyses.model import Plan

PROJECT_DIR = Path(__file__).resolve().parent.parent
RELEASE = "kubernetes:helm.sh/v3:Release"
CLUSTER = "eks:index:Cluster"


class RenderError(Exception):
    """helm is missing or refused the chart with these values."""


def helm_path() -> Path:
    return Path(os.environ.get("ECOMIND_HELM", PROJECT_DIR / ".venv" / "bin" / "helm"))


def render(plan: Plan, helm: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    helm = helm or helm_path()
    releases = [r for r in plan.of_type(RELEASE) if (PROJECT_DIR / str(r.inputs.get("chart", ""))).is_dir()]
    if not releases:
        return {}
    if not helm.exists():
        raise RenderError(f"{helm} is missing: `make tools` installs helm (tools/fetch_helm.py)")
    [cluster] = plan.of_type(CLUSTER) or [None]
    version = cluster.inputs["version"] if cluster else None
    manifests = {}
    for release in releases:
        with tempfile.TemporaryDirectory() as tmp:
            values = Path(tmp) / "values.yaml"
            values.write_text(yaml.safe_dump(release.inputs.get("values", {})))
            command = [str(helm), "template", release.inputs.get("name", release.name),
                       str(PROJECT_DIR / release.inputs["chart"]),
                       "--namespace", release.inputs.get("namespace", "default")]
            if version:
                command += ["--kube-version", version]
            for value_file in release.inputs.get("valueYamlFiles", []):
                command += ["-f", str(PROJECT_DIR / value_file["path"])]
            command += ["-f", str(values)]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RenderError(f"helm template of {release.name} failed: {result.stderr.strip()[-1000:]}")
        manifests[release.name] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return manifests
