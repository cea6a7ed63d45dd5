"""The plan holds every input the program sets, and the harness and analyses stay apart."""

from __future__ import annotations

import ast
import shutil

import pytest

from analyses import aws_semantics
from offline import fidelity
from offline.plan import plan_one, plan_stack, stack_files
from tests.conftest import PROJECT_DIR, planned

VARIANTS = [("dev", ()), ("prod", ()), ("prod", ("databaseEngine=timescaledb",))]


@pytest.mark.parametrize("stack,overrides", VARIANTS, ids=["dev", "prod", "prod-timescaledb"])
def test_no_input_or_edge_the_program_sets_is_missing_from_the_plan(stack, overrides):
    """A preview keeps an input whose value is unknown; the plan must hold it as a value."""
    preview, _ = plan_stack(stack, None, overrides, preview=True)
    assert fidelity.lost(planned(stack, overrides), preview) == []


def test_the_inputs_the_mocks_used_to_drop_are_in_the_plan(stack_plan):
    database = stack_plan.one("aws:rds/instance:Instance")
    groups = {r.urn: r for r in stack_plan.of_type("aws:rds/parameterGroup:ParameterGroup")
              + stack_plan.of_type("aws:rds/subnetGroup:SubnetGroup")}
    assert set(groups) <= set(database.dependencies) and len(groups) == 2
    assert database.inputs["parameterGroupName"].startswith("database-params-")
    assert database.inputs["dbSubnetGroupName"] == database.inputs["dbSubnetGroupName"].lower()
    assert stack_plan.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs["subnetGroupName"]


def test_a_dropped_input_is_reported():
    import dataclasses

    plan = planned("dev")
    database = plan.one("aws:rds/instance:Instance")
    inputs = {k: v for k, v in database.inputs.items() if k != "parameterGroupName"}
    lossy = dataclasses.replace(plan, resources=[dataclasses.replace(r, inputs=inputs) if r is database else r
                                                 for r in plan.resources])
    assert fidelity.lost(lossy, plan) == [f"{database.urn}: input .parameterGroupName is missing"]


def test_autonamed_resources_differ_between_stacks():
    dev, prod = planned("dev"), planned("prod")
    name = {p.stack: p.one("aws:rds/instance:Instance").inputs["parameterGroupName"] for p in (dev, prod)}
    assert name["dev"] != name["prod"]


def test_analyses_never_import_the_harness():
    for module in (PROJECT_DIR / "analyses").glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in imported if m == "offline" or m.startswith("offline.")}, module.name


def test_every_analysis_has_one_entry_point_and_a_section():
    import analyses

    sections = [a.SECTION for a in analyses.ANALYSES]
    assert len(set(sections)) == len(sections)
    assert {"cost", "capacity", "packing", "schedule", "policy", "az_loss", "region_loss", "rollout", "deployment",
            "aws_semantics", "pins", "physical_names"} == set(sections)
    document = analyses.run(planned("dev"))
    assert list(document) == sections and all(isinstance(s.get("failures", []), list) for s in document.values())


def test_make_plans_covers_every_stack_file():
    assert stack_files() == ["dev", "prod", "prod-dr"]


def test_a_copied_stack_with_its_own_cidr_shares_no_name_with_the_others(tmp_path, capsys):
    from analyses import names

    copy = tmp_path / "Pulumi.qa.yaml"
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", copy)
    copy.write_text(copy.read_text().replace("10.10.0.0/18", "10.30.0.0/18"))
    sections = {}
    for stack, stack_file in (("dev", None), ("prod", None), ("qa", copy)):
        code, sections[stack] = plan_one(stack, stack_file, (), tmp_path / "plan")
        assert code == (0 if stack != "qa" else 3)
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
        # A stack the bootstrap does not know has no deploy role to pass its roles: that, and only that.
        assert errors == ([] if stack != "qa" else [
            "error: aws/passrole-coverage: the bootstrap's plan creates no deploy role for stack 'qa': add the stack "
            "to its stacks (bootstrap/Pulumi.<account>.yaml), whose deploy role passes the stack's roles (stack) "
            f"[source: {aws_semantics.RULES[1].source}]"])
    assert len(sections["qa"]["explicit"]) >= 40
    assert names.collisions_between(sections) == []


def test_two_stacks_with_the_same_explicit_name_fail_make_plans(monkeypatch, capsys, tmp_path):
    """The naming fix reverted for KMS aliases: `make plans` names both stacks and the alias."""
    import components.encryption
    from offline import plan

    monkeypatch.setattr(components.encryption, "stack_scoped", lambda name: f"ecomind-{name}")
    assert plan.main(["--all", "--out", str(tmp_path)]) == plan.EXIT_GUARDRAIL
    errors = capsys.readouterr().err.splitlines()
    # Each stack's own plan already fails: the name does not carry the stack.
    assert any(line.startswith("error: physical-names: aws:kms/alias:Alias 'alias/ecomind-cache-storage'")
               for line in errors)
    errors = [line for line in errors if line.startswith("error: physical name 'alias/ecomind-cache-storage'")]
    # Aliases are unique per account and region: prod-dr's, in us-west-2, would not meet dev's in
    # us-east-1, but the check keys names by account alone and names it too (stricter, never looser).
    assert errors == [f"error: physical name 'alias/ecomind-cache-storage' (aws:kms/alias:Alias) is set by stack 'dev' "
                      "(urn:pulumi:dev::ecomind-infra::ecomind:data:Cache$ecomind:security:EncryptionKey$aws:kms/alias:"
                      f"Alias::cache-storage-alias) and by stack '{other}' (urn:pulumi:{other}::ecomind-infra::ecomind:"
                      "data:Cache$ecomind:security:EncryptionKey$aws:kms/alias:Alias::cache-storage-alias): the second "
                      "`pulumi up` fails with AlreadyExists; build it with components.naming.stack_scoped"
                      for other in ("prod", "prod-dr")]
