"""The offline plan's JSON: its shape, URN integrity, secrets masked, and the recorder itself."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from offline import engine
from tests.conftest import run_component

RESOURCE_KEYS = ["urn", "type", "name", "custom", "parent", "dependencies", "protect", "inputs", "provider", "arn",
                 "id", "property_dependencies", "version", "providers", "aliases",
                 "replace_on_changes", "delete_before_replace"]


def test_shape(stack_plan):
    document = json.loads(json.dumps(stack_plan.as_json()))
    assert list(document) == ["project", "stack", "resources", "outputs", "settings", "manifests"]
    assert {d["kind"] for d in document["manifests"]["ecomind-release"]} >= {"Deployment", "Service", "Job"}
    assert set(document["settings"]) == {"environment", "region", "monthly_budget_usd", "usage", "load",
                                         "state_copy_region", "cluster_access", "recovery", "delivery",
                                         "prerequisite_principals"}
    assert document["project"] == "ecomind-infra" and document["stack"] == stack_plan.stack
    for resource in document["resources"]:
        assert list(resource) == RESOURCE_KEYS
        assert isinstance(resource["custom"], bool) and isinstance(resource["protect"], bool)
        assert resource["parent"] is None or resource["parent"].startswith("urn:pulumi:")


def test_every_urn_the_plan_writes_names_a_planned_resource(stack_plan):
    urns = {r.urn for r in stack_plan.resources}
    assert len(urns) == len(stack_plan.resources)
    for resource in stack_plan.resources:
        assert resource.parent is None or resource.parent in urns
        assert set(resource.dependencies) <= urns
        assert set(resource.providers.values()) <= urns
        for key, sources in resource.property_dependencies.items():
            assert set(sources) <= set(resource.dependencies) and key in resource.inputs, (resource.urn, key)
        assert resource.provider is None or resource.provider in urns

    def references(value):
        if isinstance(value, dict):
            if "resourceRef" in value:
                yield value["resourceRef"]
            for v in value.values():
                yield from references(v)
        elif isinstance(value, list):
            for v in value:
                yield from references(v)
    assert all(ref in urns for r in stack_plan.resources for ref in references(r.inputs))


def test_urns_chain_every_ancestor_type_like_the_engine(stack_plan):
    key = stack_plan.one("aws:kms/key:Key", "cluster-secrets-key")
    assert key.urn == (f"urn:pulumi:{stack_plan.stack}::ecomind-infra::ecomind:platform:Cluster"
                       "$ecomind:security:EncryptionKey$aws:kms/key:Key::cluster-secrets-key")
    parent = stack_plan.by_urn(key.parent)
    assert parent.type == "ecomind:security:EncryptionKey"
    stack = [r for r in stack_plan.resources if r.parent is None]
    assert [r.type for r in stack] == ["pulumi:pulumi:Stack"]


def test_stack_outputs_for_later_components(stack_plan):
    outputs = stack_plan.outputs
    for name in ("vpcId", "privateSubnetIds", "dataSubnetIds", "clusterName", "oidcProviderArn",
                 "oidcIssuer", "clusterSecurityGroupId", "nodeRoleArn", "addonRoleArns"):
        assert outputs[name] not in (None, "", [], engine.UNKNOWN), name
    assert len(outputs["dataSubnetIds"]) == len(outputs["availabilityZoneIds"])
    assert outputs["kubeconfig"] == engine.SECRET


def test_no_plaintext_secret_reaches_the_plan(tmp_path):
    def program():
        aws.ssm.Parameter("p", type="SecureString", value=pulumi.Output.secret("hunter2-value"))
        pulumi.export("token", pulumi.Output.secret("hunter2-value"))
    plan = run_component(program)
    text = json.dumps(plan.as_json())
    assert "hunter2-value" not in text
    assert plan.one("aws:ssm/parameter:Parameter").inputs["value"] == engine.SECRET
    assert plan.outputs["token"] == engine.SECRET


def test_outputs_the_provider_declares_secret_stay_secret():
    """The engine, not the SDK, applies additionalSecretOutputs; the harness must too."""
    import pulumi_random as random

    def program():
        password = random.RandomPassword("p", length=32)
        pulumi.export("password", password.result)
    plan = run_component(program)
    assert plan.outputs["password"] == engine.SECRET


def test_protect_and_dependencies_come_from_the_request():
    def program():
        first = aws.s3.Bucket("first")
        aws.s3.Bucket("second", opts=pulumi.ResourceOptions(protect=True, depends_on=[first]))
    plan = run_component(program)
    first, second = plan.one("aws:s3/bucket:Bucket", "first"), plan.one("aws:s3/bucket:Bucket", "second")
    assert second.protect and not first.protect
    assert second.dependencies == [first.urn]


def registration(urn, typ, name, parent=None, dependencies=()):
    return engine.PlannedResource(urn=urn, type=typ, name=name, custom=True, parent=parent,
                                  dependencies=list(dependencies), protect=False, inputs={})


def test_another_spelling_of_a_planned_urn_is_normalised():
    stack = registration("urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", "pulumi:pulumi:Stack", "p-s")
    comp = registration("urn:pulumi:s::p::pulumi:pulumi:Stack$x:y:Comp::c", "x:y:Comp", "c", parent=stack.urn)
    child = registration("urn:pulumi:s::p::x:y:Comp$a:b:Res::r", "a:b:Res", "r", parent=comp.urn)
    # The same child as a dependency, spelled with the full chain the mock monitor never returns.
    user = registration("urn:pulumi:s::p::a:b:Other::o", "a:b:Other", "o", parent=stack.urn,
                        dependencies=["urn:pulumi:s::p::pulumi:pulumi:Stack$x:y:Comp$a:b:Res::r"])
    planned = {p.name: p for p in engine._canonicalise([stack, comp, child, user], "p", "s")}
    assert planned["r"].urn == "urn:pulumi:s::p::x:y:Comp$a:b:Res::r"
    assert planned["o"].dependencies == [planned["r"].urn]
    assert planned["c"].parent == planned["p-s"].urn


def test_a_urn_that_names_nothing_planned_fails_the_plan():
    stack = registration("urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", "pulumi:pulumi:Stack", "p-s")
    user = registration("urn:pulumi:s::p::a:b:Other::o", "a:b:Other", "o", parent=stack.urn,
                        dependencies=["urn:pulumi:s::p::a:b:Missing::m"])
    with pytest.raises(engine.PlanError, match="names 0 planned resources"):
        engine._canonicalise([stack, user], "p", "s")


def test_an_invoke_the_mocks_cannot_answer_fails_instead_of_inventing_data():
    def program():
        aws.ec2.get_ami_output(most_recent=True, owners=["amazon"])
    with pytest.raises(Exception, match="no answer for invoke aws:ec2/getAmi"):
        run_component(program)


def test_two_plans_from_separate_processes_are_byte_identical(tmp_path):
    import subprocess
    import sys

    from tests.conftest import PROJECT_DIR
    written = []
    for run, seed in enumerate(("1", "2")):
        out = tmp_path / str(run)
        subprocess.run([sys.executable, "-m", "offline.plan", "--stack", "dev", "--out", str(out)], check=True,
                       cwd=PROJECT_DIR, capture_output=True, env={**__import__("os").environ, "PYTHONHASHSEED": seed})
        written.append((out / "dev.json").read_bytes())
    assert written[0] == written[1]


def test_aliases_are_recorded_as_the_urns_the_engine_would_match():
    """A rename with `aliases=` must read as a rename in the plan diff: the engine resolves an
    alias spec against the resource's own type and parent, and gives a component's children the
    URNs its aliases imply, renaming a child named after the component
    (pulumi/pulumi pkg/resource/deploy/step_generator.go inheritedChildAlias)."""
    def program():
        class Box(pulumi.ComponentResource):
            def __init__(self, name, opts=None):
                super().__init__("ecomind:test:Box", name, None, opts)
                aws.s3.Bucket(f"{name}-data", opts=pulumi.ResourceOptions(parent=self))
                aws.s3.Bucket("kept", opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name="older")]))

        Box("new", opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old")]))

    plan = run_component(program)
    by_name = {r.name: r for r in plan.resources}
    unit = "urn:pulumi:unit::ecomind-infra::ecomind:test:Box"
    assert by_name["new"].aliases == [f"{unit}::old"]
    # (pulumi-aws adds its own type alias, Bucket was BucketV2, to every bucket: also recorded.)
    assert f"{unit}$aws:s3/bucket:Bucket::old-data" in by_name["new-data"].aliases
    assert f"{unit}$aws:s3/bucketV2:BucketV2::new-data" in by_name["new-data"].aliases
    assert {f"{unit}$aws:s3/bucket:Bucket::older", f"{unit}$aws:s3/bucket:Bucket::kept"} <= set(
        by_name["kept"].aliases)
