"""The runbooks cover what the delivery issue asks of them, and point at things that exist."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_DIR

DEPLOYMENT = (PROJECT_DIR / "docs" / "DEPLOYMENT.md").read_text()
RECOVERY = (PROJECT_DIR / "docs" / "DISASTER_RECOVERY.md").read_text()


@pytest.mark.parametrize("topic", ["Bootstrap each account", "pulumi stack import", "--secrets-provider \"awskms://",
                                   "First `pulumi up`",
                                   "Upgrade Kubernetes", "Rotate node groups", "Rotate the generated secrets",
                                   "Scale."])
def test_deployment_runbook_covers(topic):
    assert topic in DEPLOYMENT


@pytest.mark.parametrize("topic", ["RTO under 4 hours", "RPO", "point-in-time restore", "A lost availability zone",
                                   "A lost region", "A bad release", "atomic", "What was tested where"])
def test_recovery_runbook_covers(topic):
    assert topic in RECOVERY


def test_runbooks_name_files_and_commands_that_exist():
    for path in re.findall(r"`((?:docs|policies|bootstrap|ops|charts)/[\w./-]+)`", DEPLOYMENT + RECOVERY):
        assert (PROJECT_DIR / path.split(" ")[0]).exists(), path
    assert "python -m ops.pulumi_stack destroy --stack dev" in DEPLOYMENT
    assert (PROJECT_DIR / "ops" / "pulumi_stack.py").is_file()
