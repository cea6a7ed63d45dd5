"""Explicit physical names differ between stacks that share an AWS account (review finding A2)."""

from __future__ import annotations

import pytest

from analyses.names import SCOPED, collisions, explicit_names
from tests.conftest import planned

# Every variant of every stack file: the engine choice adds resources with names of their own.
VARIANTS = {"dev": ("dev", ()), "prod": ("prod", ()),
            "dev-timescaledb": ("dev", ("databaseEngine=timescaledb",)),
            "prod-timescaledb": ("prod", ("databaseEngine=timescaledb",))}


@pytest.mark.parametrize("engine", ["", "-timescaledb"])
def test_dev_and_prod_set_no_physical_name_in_common(engine):
    plans = {stack: planned(*VARIANTS[f"{stack}{engine}"]).resources for stack in ("dev", "prod")}
    # The check sees the names it is meant to: KMS aliases, log groups, CloudFront policies, ...
    assert len(explicit_names(plans["dev"])) >= 40
    assert collisions({stack: explicit_names(resources) for stack, resources in plans.items()}) == []


def test_every_explicit_name_carries_the_stack(stack_plan):
    for (typ, name), urn in explicit_names(stack_plan.resources).items():
        assert stack_plan.stack in name, f"{typ} {name!r} ({urn}) does not name its stack"


def test_kms_aliases_are_stack_scoped(stack_plan):
    aliases = [a.inputs["name"] for a in stack_plan.of_type("aws:kms/alias:Alias")]
    assert len(aliases) >= 10
    assert all(a.startswith(f"alias/ecomind-infra-{stack_plan.stack}-") for a in aliases)


def test_a_shared_name_is_reported_with_both_stacks_and_resources():
    def alias(stack: str) -> dict:
        return {"type": "aws:kms/alias:Alias", "custom": True, "inputs": {"name": "alias/cache-storage"},
                "urn": f"urn:pulumi:{stack}::ecomind-infra::aws:kms/alias:Alias::cache-storage-alias"}

    [line] = collisions({stack: explicit_names([alias(stack)]) for stack in ("dev", "prod")})
    assert "'alias/cache-storage'" in line and "'dev'" in line and "'prod'" in line
    assert "urn:pulumi:dev::" in line and "urn:pulumi:prod::" in line


def test_names_scoped_inside_another_resource_are_not_collisions():
    policy = {"type": "aws:iam/rolePolicy:RolePolicy", "custom": True, "inputs": {"name": "kafka"}, "urn": "u"}
    assert "aws:iam/rolePolicy:RolePolicy" in SCOPED
    assert collisions({stack: explicit_names([policy]) for stack in ("dev", "prod")}) == []
