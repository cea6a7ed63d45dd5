"""`make plan` end to end: the CLI on real stack files, and every config error as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

GOOD_DEV = (PROJECT_DIR / "Pulumi.dev.yaml").read_text()
GOOD_PROD = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()


def plan(tmp_path: Path, stack: str, stack_text: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "offline.plan", "--stack", stack, "--out", str(tmp_path / "plan")]
    if stack_text is not None:
        stack_file = tmp_path / f"Pulumi.{stack}.yaml"
        stack_file.write_text(stack_text)
        command += ["--config-file", str(stack_file)]
    return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)


def test_plan_prints_a_tree_with_counts_and_writes_the_json(tmp_path):
    result = plan(tmp_path, "dev")
    assert result.returncode == 0, result.stderr
    assert "* ecomind:platform:Network  network" in result.stdout
    assert "6  aws:ec2/subnet:Subnet" in result.stdout  # dev: two zones, three tiers
    written = json.loads((tmp_path / "plan" / "dev.json").read_text())
    assert written["stack"] == "dev" and written["project"] == "ecomind-infra"


def test_the_bootstrap_has_an_offline_plan_of_its_own_with_its_baseline_priced(tmp_path):
    result = subprocess.run([sys.executable, "-m", "offline.plan", "--project", "bootstrap", "--stack", "prod",
                             "--out", str(tmp_path / "plan")], cwd=PROJECT_DIR, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Plan of stack 'prod' (project ecomind-bootstrap)" in result.stdout
    written = json.loads((tmp_path / "plan" / "bootstrap-prod.json").read_text())
    assert written["cost"]["unpriced"] == [] and set(written) >= {"resources", "cost"}
    priced = {line["resource"] for line in written["cost"]["lines"]}
    assert {"ecomind-baseline-guardduty", "ecomind-baseline-guardduty-runtime",
            "ecomind-baseline-aws-foundational-security-best-practices", "ecomind-baseline-trail"} <= priced
    assert all(line["source"] for line in written["cost"]["lines"])


# Each bad configuration from the foundation issue, as a user would write it in a stack file.
BAD_CONFIGS = {
    "unknown key": (GOOD_DEV + "  ecomind-infra:natGateway: single\n", "ecomind-infra:natGateway"),
    "malformed CIDR": (GOOD_DEV.replace("10.10.0.0/18", "10.10.0.0/99"), "ecomind-infra:vpcCidr"),
    "VPC too small": (GOOD_DEV.replace("10.10.0.0/18", "10.10.0.0/22"), "ecomind-infra:vpcCidr"),
    "one AZ": (GOOD_DEV + "  ecomind-infra:availabilityZoneCount: 1\n", "ecomind-infra:availabilityZoneCount"),
    "min above max": (GOOD_DEV.replace("systemNodeMinSize: 1", "systemNodeMinSize: 5"),
                      "ecomind-infra:systemNodeMinSize"),
    "desired outside": (GOOD_DEV.replace("systemNodeDesiredSize: 2", "systemNodeDesiredSize: 7"),
                        "ecomind-infra:systemNodeDesiredSize"),
    "unsupported Kubernetes": (GOOD_DEV + '  ecomind-infra:kubernetesVersion: "1.31"\n',
                               "ecomind-infra:kubernetesVersion"),
    "world-open API in prod": (GOOD_PROD + "  ecomind-infra:clusterPublicAccessCidrs: [0.0.0.0/0]\n",
                               "ecomind-infra:clusterPublicAccessCidrs"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_bad_config_ends_the_plan_with_one_line_naming_the_key(tmp_path, case):
    text, key = BAD_CONFIGS[case]
    stack = "prod" if "prod" in case else "dev"
    result = plan(tmp_path, stack, text)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], result.stderr
    assert not (tmp_path / "plan").exists(), "nothing may be planned from a bad config"


def test_missing_stack_file_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "offline.plan", "--stack", "nosuch",
                             "--out", str(tmp_path)], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_a_component_argument_error_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    """ArgsError (a RunError) is reported like a setting error: no traceback."""
    from components.args import ArgsError
    from offline import plan

    def refuse(*args, **kwargs):
        raise ArgsError("invalid ClusterArgs.private_subnet_ids = []: expected one subnet per zone, at least 2")
    monkeypatch.setattr(plan, "plan_stack", refuse)
    assert plan.main(["--stack", "dev", "--out", str(tmp_path)]) == plan.EXIT_CONFIG_ERROR
    assert capsys.readouterr().err == (
        "error: invalid ClusterArgs.private_subnet_ids = []: expected one subnet per zone, at least 2\n")
