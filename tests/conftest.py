"""Shared fixtures: the real program planned for each stack, and components built alone."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from offline import engine  # noqa: E402
from offline.mocks import PlatformMocks  # noqa: E402
from offline.plan import plan_stack  # noqa: E402

STACKS = ("dev", "prod")
# A well-formed CodeConnections ARN for settings the tests build by hand.
# Each stack's AWS account, as its stack file names it: dev in one, prod and prod-dr in another
# (docs/adr/0024).
ACCOUNTS = {"dev": "111122223333", "prod": "444455556666", "prod-dr": "444455556666"}


def account(stack: str) -> str:
    return ACCOUNTS[stack]


CONNECTION_ARN = "arn:aws:codeconnections:us-east-1:111122223333:connection/0b9e6c1f-4d2a-4b7e-9f3c-5a8d7e6f1a2b"
DEPLOY_ROLE_ARN = "arn:aws:iam::111122223333:role/ecomind-infra-dev-deploy"
PREVIEW_ROLE_ARN = "arn:aws:iam::111122223333:role/ecomind-infra-dev-preview"
# The settings without a default, as a stack file that sets nothing else would give them.
REQUIRED_SETTINGS = {"awsAccountId": "111122223333", "appImageTag": "2026.11.20-3f2a1bc",
                     "githubConnectionArn": CONNECTION_ARN,
                     "clusterCreatorRoleArn": DEPLOY_ROLE_ARN, "ciDeployRoleArn": DEPLOY_ROLE_ARN,
                     "ciPreviewRoleArn": PREVIEW_ROLE_ARN}


def minimal_config(environment: str = "dev", **settings: str) -> dict[str, str]:
    """Namespaced config with `environment`, every required setting and `settings` over them."""
    return {"aws:allowedAccountIds": '["111122223333"]',
            **{f"ecomind-infra:{key}": value
               for key, value in {"environment": environment, **REQUIRED_SETTINGS, **settings}.items()}}


@functools.cache
def planned(stack: str, overrides: tuple[str, ...] = ()) -> engine.Plan:
    """The stack's plan, once per run; `overrides` are settings over its file (`--set`).

    Under pytest-xdist the workers of one run share the plans through files, so that no stack
    is planned twice: the first worker to ask plans it, the others wait on its lock and read it."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return plan_stack(stack, None, overrides, render=True)[0]
    directory = Path(tempfile.gettempdir()) / f"ecomind-plans-{run}"
    directory.mkdir(exist_ok=True)
    key = hashlib.sha256(repr((stack, overrides)).encode()).hexdigest()[:16]
    with open(directory / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = directory / f"{key}.pickle"
        if cached.exists():
            return pickle.loads(cached.read_bytes())
        plan = plan_stack(stack, None, overrides, render=True)[0]
        cached.write_bytes(pickle.dumps(plan))
        return plan


@functools.cache
def stack_settings(stack: str):
    """The stack's typed settings, from its own file."""
    import settings
    from offline import stack_config

    values = stack_config.load(PROJECT_DIR, stack).values
    return settings.load(values, stack=stack, region=values.get("aws:region"))


@pytest.fixture(scope="session")
def dev_plan() -> engine.Plan:
    return planned("dev")


@pytest.fixture(scope="session")
def prod_plan() -> engine.Plan:
    return planned("prod")


@pytest.fixture(scope="session", params=STACKS)
def stack_plan(request) -> engine.Plan:
    """Each stack's plan in turn, for properties that hold in every environment."""
    return planned(request.param)


def run_component(program: Callable[[], Any], config: dict[str, str] | None = None) -> engine.Plan:
    """Build resources outside __main__.py (a component alone, with only its args)."""
    return engine.run(program, project="ecomind-infra", stack="unit", config=config or {},
                      secret_keys=[], mocks=PlatformMocks("us-east-1"))


NODE_MODULES = Path(os.environ.get("ECOMIND_NODE_MODULES", PROJECT_DIR / ".venv-tools" / "node_modules"))


def validate_operator_objects(documents: list[dict]) -> list[dict]:
    """tools/validate_crds.mjs over `documents`: one {kind, name, errors} per object."""
    if not (NODE_MODULES / "@kubernetes-models" / "cloudnative-pg").is_dir():
        pytest.fail(f"the operator schemas are not installed in {NODE_MODULES}: run `make test`")
    result = subprocess.run(["node", str(PROJECT_DIR / "tools" / "validate_crds.mjs")], input=json.dumps(documents),
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def policy(resource: engine.PlannedResource, field: str) -> dict[str, Any]:
    """A policy document input (sent to AWS as a JSON string), parsed."""
    return json.loads(resource.inputs[field])


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _summary_counts() -> dict[str, dict[str, int]]:
    from tests import test_guardrails_plan, test_policy_rules

    return {"policy": dict(test_policy_rules.COUNTS), "fuzz": dict(test_guardrails_plan.OUTCOMES)}


def pytest_sessionfinish(session):
    """A pytest-xdist worker hands its counts to the controller, which prints the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["ecomind_counts"] = json.dumps(_summary_counts())


COLLECTED_COUNTS: list[dict[str, dict[str, int]]] = []


class _WorkerCounts:
    """xdist's hook, registered only when xdist runs (pytest refuses unknown hooks otherwise)."""

    @staticmethod
    def pytest_testnodedown(node, error):
        counts = getattr(node, "workeroutput", {}).get("ecomind_counts")
        if counts:
            COLLECTED_COUNTS.append(json.loads(counts))


def pytest_configure(config):
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_WorkerCounts())


def pytest_terminal_summary(terminalreporter):
    """The numbers the guardrails issue asks every run to print (summed over xdist workers)."""
    runs = COLLECTED_COUNTS or [_summary_counts()]
    counts = {key: sum(r["policy"].get(key, 0) for r in runs) for key in runs[0]["policy"]}
    counts["rules"] = max(r["policy"]["rules"] for r in runs)  # every worker knows the whole pack
    fuzz = {key: sum(r["fuzz"].get(key, 0) for r in runs) for key in runs[0]["fuzz"]}
    if counts["mutations"]:
        terminalreporter.write_line(
            f"policy pack: {counts['rules']} rules (+ secret hygiene); {counts['fixture_pairs']} pass/fail fixture "
            f"pairs; {counts['mutations_caught']} of {counts['mutations']} plan mutations caught")
    if sum(fuzz.values()):
        terminalreporter.write_line(f"config fuzzing: {fuzz['plan']} mutated configs planned cleanly, "
                                    f"{fuzz['config_error']} ended in one config error line, "
                                    f"{fuzz.get('judged', 0)} judged over budget or load, 0 tracebacks")
