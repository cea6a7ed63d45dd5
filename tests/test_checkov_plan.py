"""checkov's AWS catalogue (framework terraform_plan) over every offline plan, via the converter
in offline/terraform_plan.py: both stacks, prod with TimescaleDB, the bootstrap, and the known-bad
fixtures of tests/checkov_known_bad.py, in one offline checkov run.

A failed check passes only with a waiver in policies/checkov-waivers.yaml; a known-bad fixture
must be flagged with every check it names; every Terraform type checkov checks in a plan has a
fixture, and every converted type it does not check is in terraform_plan.UNCHECKED_TYPES.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from analyses.model import Plan, PlannedResource
from offline import checkov_scan, terraform_plan
from offline import plan as offline_plan
from tests.checkov_known_bad import FIXTURES
from tests.conftest import PROJECT_DIR, planned

pytestmark = pytest.mark.xdist_group("checkov-plan")
CHECKOV = Path(os.environ.get("ECOMIND_CHECKOV", PROJECT_DIR / ".venv-tools" / "bin" / "checkov"))
PROVIDER_TYPE = "aws"  # checkov's provider block (CKV_AWS_41), not a resource


def known_bad_plan() -> Plan:
    return Plan("fixtures", "known-bad", [
        PlannedResource(f"urn:pulumi:known-bad::fixtures::{typ}::{name}", typ, name, True, None, [], False, inputs)
        for typ, name, inputs, _ in FIXTURES], {}, {"environment": "known-bad"})


def fixture_address(typ: str, name: str) -> str:
    _, addresses = terraform_plan.convert(known_bad_plan())
    return next(a for a, urn in addresses.items() if urn.endswith(f"::{typ}::{name}"))


@functools.cache
def plans() -> dict[str, Plan]:
    return {"dev": planned("dev"), "prod": planned("prod"),
            "prod-timescaledb": planned("prod", ("databaseEngine=timescaledb",)),
            "bootstrap": offline_plan.plan_bootstrap()}


@functools.cache
def results() -> tuple[checkov_scan.Result, ...]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make test` (it installs checkov)")
    return tuple(checkov_scan.run_checkov({**plans(), "known-bad": known_bad_plan()}, CHECKOV,
                                          PROJECT_DIR / "build" / "checkov-tests"))


def of_plans() -> list[checkov_scan.Result]:
    return [r for r in results() if r.plan != "known-bad"]


def test_every_plan_is_checked_by_checkov():
    ran = {plan: sum(1 for r in of_plans() if r.plan == plan) for plan in plans()}
    assert all(count >= 100 for count in ran.values()), ran


def test_no_check_fails_without_a_waiver():
    failures = [(r.plan, r.check, r.address) for r in checkov_scan.unwaived(of_plans(), checkov_scan.load_waivers())]
    assert failures == []


def test_every_waiver_gives_its_reason_and_waives_a_failure():
    waivers = checkov_scan.load_waivers()
    failed = [r for r in of_plans() if not r.passed]
    for waiver in waivers:
        assert len(waiver["reason"]) > 60, waiver["check"]
        assert set(waiver["environments"]) <= {"dev", "prod", "bootstrap"}, waiver
        assert any(checkov_scan.waiver_for(r, [waiver]) for r in failed), f"unused waiver {waiver}"


def test_a_failure_nobody_waived_fails_the_scan():
    bad = [r for r in results() if r.plan == "known-bad" and not r.passed]
    assert bad and checkov_scan.unwaived(bad, checkov_scan.load_waivers()) == bad


def test_each_known_bad_fixture_is_flagged_with_the_checks_it_names():
    failed = {(r.address, r.check) for r in results() if r.plan == "known-bad" and not r.passed}
    missed = [(typ, name, check) for typ, name, _, checks in FIXTURES for check in checks
              if (fixture_address(typ, name), check) not in failed]
    assert missed == []


def test_every_type_checkov_checks_has_a_known_bad_fixture():
    checked = {r.type for r in of_plans()} - {PROVIDER_TYPE}
    fixtures = {terraform_plan.TYPES[typ] for typ, *_ in FIXTURES}
    assert checked - fixtures == set()


def test_the_types_checkov_does_not_check_are_the_reviewed_ones():
    converted = {r["type"] for plan in plans().values()
                 for r in terraform_plan.convert(plan)[0]["planned_values"]["root_module"]["resources"]}
    checked = {r.type for r in of_plans()}
    assert converted - checked == terraform_plan.UNCHECKED_TYPES


def test_references_connect_a_bucket_to_its_public_access_block_and_encryption():
    # Graph checks pass on the stacks' buckets only because the converter turns the engine's
    # property dependencies into Terraform references; the bare fixture bucket fails them.
    passed = {(r.plan, r.address, r.check) for r in of_plans() if r.passed}
    for check in ("CKV2_AWS_6", "CKV_AWS_21", "CKV_AWS_145"):
        assert ("prod", "aws_s3_bucket.cdn_assets", check) in passed


def test_the_eks_cluster_pulumi_eks_builds_is_checked():
    passed = {(r.plan, r.address, r.check) for r in of_plans() if r.passed}
    for check in ("CKV_AWS_37", "CKV_AWS_38", "CKV_AWS_58"):
        assert ("prod", "aws_eks_cluster.cluster_eks", check) in passed


def test_a_type_the_converter_does_not_know_is_refused():
    odd = Plan("p", "s", [PlannedResource("urn:pulumi:s::p::aws:foo/bar:Bar::x", "aws:foo/bar:Bar", "x", True, None,
                                          [], False, {})], {})
    with pytest.raises(terraform_plan.ConversionError, match="aws:foo/bar:Bar"):
        terraform_plan.convert(odd)


def test_a_map_that_is_not_declared_is_refused_rather_than_taken_for_a_block():
    odd = Plan("p", "s", [PlannedResource("urn:pulumi:s::p::aws:sns/topic:Topic::x", "aws:sns/topic:Topic", "x",
                                          True, None, [], False, {"labels2": {"team/a": "b"}})], {})
    with pytest.raises(terraform_plan.ConversionError, match="MAP_ATTRIBUTES"):
        terraform_plan.convert(odd)


@pytest.mark.parametrize(("pulumi", "terraform"), [
    ("rules", "rule"), ("ordered_cache_behaviors", "ordered_cache_behavior"), ("metric_queries", "metric_query"),
    ("inline_policies", "inline_policy"), ("aliases", "alias"), ("tag_specifications", "tag_specifications"),
    ("ingress", "ingress")])
def test_plural_block_names_become_terraform_names(pulumi, terraform):
    assert terraform_plan.singular(pulumi) == terraform
