"""What `make plan` enforces: the policy and az_loss sections, protection in prod, secret
hygiene, and config fuzzing that ends in a clean plan or one config error line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import settings
from analyses import guardrails, zone_loss
from analyses.model import Plan
from policies import ecomind_rules as rules
from tests.conftest import PROJECT_DIR

GOOD_PROD = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()


def run_plan(tmp_path, stack, text=None):
    command = [sys.executable, "-m", "offline.plan", "--stack", stack, "--out", str(tmp_path / "out")]
    if text is not None:
        (tmp_path / "stack.yaml").write_text(text)
        command += ["--config-file", str(tmp_path / "stack.yaml")]
    return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)


def run_plan_in_process(tmp_path, stack, text):
    """`run_plan` without a new interpreter: the same CLI entry point, its exit code and its
    printed streams. An exception escaping it (what would be a traceback) fails the test."""
    import contextlib
    import io

    from offline import plan

    (tmp_path / "stack.yaml").write_text(text)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = plan.main(["--stack", stack, "--out", str(tmp_path / "out"),
                          "--config-file", str(tmp_path / "stack.yaml")])
    return subprocess.CompletedProcess(args=["offline.plan"], returncode=code, stdout=out.getvalue(),
                                       stderr=err.getvalue())


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-dr"])
def test_plan_json_carries_policy_and_az_loss_sections_with_zero_violations(tmp_path, stack):
    result = run_plan(tmp_path, stack)
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "out" / f"{stack}.json").read_text())
    assert document["policy"]["violations"] == []
    assert document["policy"]["rules"] == len(rules.RULES) + 1
    assert [t["tier"] for t in document["az_loss"]["tiers"]] == ["NAT", "nodes", "database", "kafka", "cache",
                                                                  "application"]
    assert document["az_loss"]["enforced"] is stack.startswith("prod")
    assert "Losing one availability zone" in result.stdout


def test_every_prod_tier_survives_losing_a_zone(prod_plan):
    tiers = zone_loss.az_loss(prod_plan)
    assert all(t.survives for t in tiers), [t for t in tiers if not t.survives]


def test_dev_reports_the_tiers_it_would_lose(dev_plan):
    lost = {t.tier for t in zone_loss.az_loss(dev_plan) if not t.survives}
    assert {"NAT", "database", "cache", "application"} <= lost


def with_input(plan: Plan, typ: str, change, **fields) -> Plan:
    import copy
    import dataclasses
    resources = []
    for r in plan.resources:
        if r.type == typ:
            inputs = copy.deepcopy(r.inputs)
            change(inputs)
            r = dataclasses.replace(r, inputs=inputs, **fields)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


def test_a_single_az_prod_database_fails_the_az_loss_check(prod_plan):
    broken = with_input(prod_plan, "aws:rds/instance:Instance", lambda i: i.update(multiAz=False))
    failures = zone_loss.analyse(broken)["failures"]
    assert failures == ["az-loss: database stops serving when a zone is lost: single-AZ instance: lost with its zone"]


def test_removing_protect_from_the_prod_database_fails_the_plan(prod_plan):
    broken = with_input(prod_plan, "aws:rds/instance:Instance", lambda i: None, protect=False)
    failures = guardrails.analyse(broken)["failures"]
    assert any(line.startswith("prod-protection:") and "database-postgres" in line for line in failures)


def test_prod_marks_every_stateful_resource_protect(prod_plan, dev_plan):
    stateful = [r for r in prod_plan.resources if r.type in rules.STATEFUL]
    assert len(stateful) >= 20
    assert all(r.protect for r in stateful), [r.name for r in stateful if not r.protect]
    assert not any(r.protect for r in dev_plan.resources)


def test_plaintext_credentials_are_found_wherever_they_are(prod_plan):
    leaky = with_input(prod_plan, "aws:secretsmanager/secretVersion:SecretVersion",
                       lambda i: i.update(secretString="correct-horse-battery-9"))
    found = guardrails.secret_hygiene(leaky)
    assert found and all(v.policy == "secret-hygiene" and "secretString" in v.message for v in found)
    import dataclasses
    url = dataclasses.replace(prod_plan, outputs={**prod_plan.outputs, "dsn": "postgresql://app:s3cr3t-pw@db:5432/x"})
    messages = [v.message for v in guardrails.secret_hygiene(url)]
    assert messages == ["outputs.dsn looks like a credential and is not secret"]
    assert guardrails.secret_hygiene(prod_plan) == []


def test_credential_heuristics_spare_names_of_secrets():
    assert rules.credential_findings({"jwtSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
                                      "authTokenUpdateStrategy": "ROTATE", "httpTokens": "required",
                                      "authToken": "[secret]"}) == []
    assert rules.credential_findings({"password": "Tr0ub4dor&3x"}) == ["password"]
    assert rules.credential_findings({"x": "AKIAABCDEFGHIJKLMNOP"}) == ["x"]


# --- Config fuzzing ------------------------------------------------------------------------------------

DEV_CONFIG = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
KEYS = sorted(DEV_CONFIG) + [f"{settings.PROJECT}:{s.key}" for s in settings.SETTINGS]
JUNK = st.one_of(st.text(max_size=12), st.integers(-5, 100_000), st.booleans(), st.none(),
                 st.lists(st.text(max_size=8), max_size=3), st.sampled_from(["10.0.0.0/33", "0.0.0.0/0", "latest",
                                                                              "1.29", "PriceClass_All", "perAz"]))
MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(KEYS), JUNK),
    st.tuples(st.just("drop"), st.sampled_from(sorted(DEV_CONFIG)), st.none()),
    st.tuples(st.just("unknown"), st.text(alphabet="abcdefghXYZ", min_size=1, max_size=10), JUNK),
)
OUTCOMES = {"config_error": 0, "plan": 0, "judged": 0}


# The outcome check below reads what the fuzz test counted: both run on one xdist worker.
@pytest.mark.xdist_group("config-fuzzing")
@hypothesis_settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_configs_end_in_a_clean_plan_or_one_config_error(tmp_path_factory, mutations):
    config = dict(DEV_CONFIG)
    for kind, key, value in mutations:
        if kind == "drop":
            config.pop(key, None)
        elif kind == "unknown":
            config[f"{settings.PROJECT}:{key}"] = value
        else:
            config[key] = value
    text = yaml.safe_dump({"config": config})
    tmp = tmp_path_factory.mktemp("fuzz")
    result = run_plan_in_process(tmp, "dev", text)
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        OUTCOMES["config_error"] += 1
    elif result.returncode == 3:
        # The plan ran and an analysis judged it: a budget exceeded, a tier below its load.
        lines = result.stderr.strip().splitlines()
        assert lines and all(line.startswith(("error: cost:", "error: capacity:")) for line in lines), result.stderr
        OUTCOMES["judged"] += 1
    else:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr
        document = json.loads((tmp / "out" / "dev.json").read_text())
        assert [v for v in document["policy"]["violations"] if v["enforcement"] == "mandatory"] == []
        OUTCOMES["plan"] += 1


@pytest.mark.xdist_group("config-fuzzing")
def test_fuzzing_reached_both_outcomes():
    """Runs after the fuzz test in file order: a fuzzer that only ever hit one branch proves little."""
    assert OUTCOMES["config_error"] > 0 and OUTCOMES["plan"] > 0, OUTCOMES
