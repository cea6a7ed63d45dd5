"""Every package `make` installs is pinned with PyPI's hashes, and nothing installs without them.

requirements.lock (the project's tree) and policies/requirements.txt (the policy pack's, which
Pulumi installs when a real preview loads the pack, with AWS credentials in the environment) are
written by tools/lock_hashes.py; this checks them offline against the pins and the installed tree.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata

from tests.conftest import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "tools"))
import lock_hashes


def test_both_locks_cover_every_pin_with_hashes():
    result = subprocess.run([sys.executable, str(PROJECT_DIR / "tools" / "lock_hashes.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_installed_tree_is_exactly_the_locked_one():
    locked = lock_hashes.parse((PROJECT_DIR / "requirements.lock").read_text())
    installed = {lock_hashes.normalise(d.metadata["Name"]): d.version for d in metadata.distributions()}
    installed.pop("pip", None)  # the virtualenv's own installer, not a dependency
    assert installed == {name: version for name, (version, _) in locked.items()}
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout


def test_every_locked_hash_is_a_sha256_and_the_pack_file_turns_hash_checking_on():
    for path in (PROJECT_DIR / "requirements.lock", PROJECT_DIR / "policies" / "requirements.txt"):
        locked = lock_hashes.parse(path.read_text())
        assert locked and all(hashes for _, hashes in locked.values()), path
    pack = lock_hashes.parse((PROJECT_DIR / "policies" / "requirements.txt").read_text())
    assert {"pulumi", "pulumi-policy", "protobuf", "grpcio", "setuptools"} <= set(pack)


def test_make_installs_only_with_hashes_and_no_workflow_installs_on_its_own():
    makefile = (PROJECT_DIR / "Makefile").read_text()
    installs = re.findall(r"\$\(BIN\)/pip install[^\n]*", makefile)
    assert installs and all("--require-hashes" in line and "requirements.lock" in line for line in installs)
    for workflow in (PROJECT_DIR / ".github" / "workflows").glob("*.yml"):
        assert "pip install" not in workflow.read_text(), workflow.name
