"""Every project, stack and policy-pack file of the repository against the checks the real Pulumi
CLI makes when it loads them (offline/cli_rules.py, each rule with its pulumi/pulumi source), and
the CLI version the workflows pin against the oldest this repository runs on."""

from __future__ import annotations

import shutil

import pytest
import yaml

from offline import cli_rules
from ops.cli import MINIMUM_CLI_VERSION
from tests.conftest import PROJECT_DIR
from tests.test_workflows import jobs

MINIMUM = tuple(int(part) for part in MINIMUM_CLI_VERSION.split("."))
PROJECTS = {PROJECT_DIR / "Pulumi.yaml": sorted(PROJECT_DIR.glob("Pulumi.*.yaml")),
            PROJECT_DIR / "bootstrap" / "Pulumi.yaml": sorted((PROJECT_DIR / "bootstrap").glob("Pulumi.*.yaml"))}


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_each_project_file_passes_the_clis_project_checks_and_each_of_its_stacks_the_stack_checks(project):
    assert cli_rules.project_problems(project, MINIMUM) == []
    assert PROJECTS[project], "a project without a stack file"
    for stack in PROJECTS[project]:
        assert cli_rules.stack_problems(stack, project) == [], stack.name


def test_the_policy_pack_file_passes_the_clis_checks():
    assert cli_rules.policy_pack_problems(PROJECT_DIR / "policies" / "PulumiPolicy.yaml") == []


def test_the_bootstraps_object_settings_need_the_minimum_cli_and_the_workflows_pin_at_least_it():
    problems = cli_rules.project_problems(PROJECT_DIR / "bootstrap" / "Pulumi.yaml", (3, 186, 0))
    assert problems and all("needs CLI 3.187.0 or later" in p for p in problems)
    pins = {step["with"]["pulumi-version"] for _, _, job in jobs() for step in job.get("steps", [])
            if str(step.get("uses", "")).startswith("pulumi/actions@")}
    assert pins and all(tuple(int(x) for x in pin.split(".")) >= MINIMUM for pin in pins)


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda d: d["config"]["vpcCidr"].update(kind="x"), "config.vpcCidr: keys ['kind'] are not allowed"),
    (lambda d: d["config"]["availabilityZoneCount"].update(default="three"), "default 'three': expected an integer"),
    (lambda d: d["config"]["systemNodeInstanceTypes"].pop("items"), "an array declares its items"),
    (lambda d: d["config"].update({"aws:region": {"type": "string", "value": "us-east-1"}}),
     "another namespace's key takes a value only"),
    (lambda d: d["runtime"]["options"].update(toolchain="pipenv"), "unsupported toolchain option"),
    (lambda d: d["runtime"]["options"].update(venv=".venv"), "runtime.options.venv: not an option of the Python "
                                                               "runtime, ignored by the CLI"),
    (lambda d: d["runtime"]["options"].update(typechecker="pytype"), "unsupported typechecker"),
    (lambda d: d["config"]["owner"].update(description=5), "description must be a string"),
    (lambda d: d["config"]["systemNodeInstanceTypes"].update(default='["t4g.medium"]'), "expected an array"),
])
def test_a_project_file_the_cli_refuses_or_ignores_part_of_is_reported(tmp_path, edit, problem):
    data = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    edit(data)
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(data))
    assert any(problem in p for p in cli_rules.project_problems(path, MINIMUM)), cli_rules.project_problems(
        path, MINIMUM)


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("ecomind-infra:availabilityZoneCount", "three", "expected an integer (declared integer"),
    ("ecomind-infra:workloadNodeGroupPerZone", "maybe", "expected true or false"),
    ("ecomind-infra:workloadNodeGroupPerZone", "yes", "expected true or false"),
    ("ecomind-infra:clusterAdminRoleArns", [["nested"]], "item 0: expected a string"),
    ("ecomind-infra:owner", None, "no value"),
    ("a:b:c", "x", "not a <namespace>:<name> key"),
])
def test_a_stack_value_the_cli_refuses_or_warns_about_is_reported(tmp_path, key, value, problem):
    data = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    data["config"][key] = value
    stack = tmp_path / "Pulumi.dev.yaml"
    stack.write_text(yaml.safe_dump(data))
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    problems = cli_rules.stack_problems(stack, tmp_path / "Pulumi.yaml")
    assert any(problem in p for p in problems), problems


def test_a_policy_pack_file_with_keys_the_cli_ignores_or_without_a_runtime_is_refused(tmp_path):
    path = tmp_path / "PulumiPolicy.yaml"
    path.write_text("description: x\nenforcement: mandatory\n")
    assert cli_rules.policy_pack_problems(path) == [
        "runtime: required (pulumi/pulumi@1b59498 project.go PolicyPackProject.Validate)",
        "enforcement: not a policy pack key (ignored by the CLI)"]


def test_the_bootstrap_names_its_dependencies_as_the_hashed_lock_it_runs_with():
    """Its own dependency file (review P5), which is the program's lock: one virtualenv, ../.venv."""
    options = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert (PROJECT_DIR / "bootstrap" / options["virtualenv"]).resolve() == (PROJECT_DIR / ".venv").resolve()
    lines = [line for line in (PROJECT_DIR / "bootstrap" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-r ../requirements.lock"]
    lock = (PROJECT_DIR / "requirements.lock").read_text()
    imported = {"pulumi", "pulumi-aws", "pulumi-github"}
    assert all(f"\n{name}==" in lock for name in imported)


@pytest.mark.parametrize(("kind", "value"), [("string", 5), ("integer", "+5"), ("boolean", "true"),
                                             ("array", '["a"]')])
def test_what_the_cli_accepts_is_accepted(kind, value):
    assert cli_rules.value_problem(kind, value, {"type": "string"}) is None
    assert cli_rules.CONFIG_KEY.fullmatch("ecomind-infra:config:owner")


def test_the_pack_asks_for_the_minimum_cli_and_the_driver_refuses_an_older_one(tmp_path):
    import subprocess

    from ops import pulumi_stack
    from tests.driving import argv, environment

    pack = yaml.safe_load((PROJECT_DIR / "policies" / "PulumiPolicy.yaml").read_text())
    assert pack["requiredPulumiVersion"] == f">={MINIMUM_CLI_VERSION}"
    env = {**environment(tmp_path), "FAKE_PULUMI_VERSION": "v3.186.0"}
    env.pop("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", None)
    result = subprocess.run(argv(tmp_path, "preview", "--stack", "dev"), cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == pulumi_stack.EXIT_ENVIRONMENT, result.stderr
    assert "the Pulumi CLI could not be run" in result.stderr and "3.187.0" in result.stderr
