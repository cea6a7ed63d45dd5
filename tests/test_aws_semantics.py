"""The rules that judge what AWS itself refuses: each holds on every stack's plan and the bootstrap's,
and each fails, naming the rule, the resource and the source, when one fixed instance is reverted."""

from __future__ import annotations

import dataclasses
import json

import pytest

from analyses import aws_semantics
from analyses.model import Plan, PlannedResource
from offline.plan import plan_bootstrap
from tests.conftest import planned, stack_settings

ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def bootstrap_plan() -> Plan:
    return plan_bootstrap()


def rules_broken(plan: Plan) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for violation in aws_semantics.violations(plan):
        found.setdefault(violation["rule"], []).append(violation["message"])
    return found


def with_input(plan: Plan, name: str, field: str, value) -> Plan:
    """`plan` with one resource's input replaced (what reverting a fix would send)."""
    resources = [dataclasses.replace(r, inputs={**r.inputs, field: value}) if r.name == name and field in r.inputs
                 else r for r in plan.resources]
    assert resources != plan.resources, f"no resource {name}"
    return dataclasses.replace(plan, resources=resources)


def document(plan: Plan, name: str, field: str) -> dict:
    return json.loads(next(r for r in plan.resources if r.name == name and field in r.inputs).inputs[field])


def test_every_stack_and_the_bootstrap_pass_every_rule(stack_plan, bootstrap_plan):
    assert aws_semantics.violations(stack_plan) == []
    assert aws_semantics.violations(bootstrap_plan) == []
    assert aws_semantics.violations(planned("prod-dr")) == []


def test_a_failure_is_one_line_naming_rule_resource_and_source(dev_plan):
    policy = document(dev_plan, "cluster-volumes-key", "policy")
    policy["Statement"][-1]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/"
                                                   "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}
    section = aws_semantics.analyse(with_input(dev_plan, "cluster-volumes-key", "policy", json.dumps(policy)))
    [line] = section["failures"]
    assert line.startswith("aws/principals-exist: ") and "cluster-volumes-key" in line and "[source: KMS" in line
    assert "\n" not in line


# --- principals-exist -------------------------------------------------------------------------

def test_a_key_policy_naming_a_service_linked_role_nobody_created_fails(dev_plan):
    """B1: AWSServiceRoleForAutoScaling exists only after the account's first Auto Scaling group."""
    policy = document(dev_plan, "cluster-volumes-key", "policy")
    for statement in policy["Statement"]:
        if statement.get("Sid", "").startswith("AutoScaling"):
            statement["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/"
                                             "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}
    broken = rules_broken(with_input(dev_plan, "cluster-volumes-key", "policy", json.dumps(policy)))
    assert len(broken["principals-exist"]) == 2
    assert all("service-linked role" in m for m in broken["principals-exist"])


def test_the_ecr_replication_role_is_named_by_no_key(bootstrap_plan):
    """B2: the images-copy key names no ECR service-linked role; the template's own role creates the
    repositories and the key's grants (H3)."""
    policy = json.dumps(document(bootstrap_plan, "ecomind-images-copy", "policy"))
    assert "aws-service-role" not in policy
    template = next(r for r in bootstrap_plan.resources if r.type.endswith("RepositoryCreationTemplate"))
    role = next(r for r in bootstrap_plan.of_type("aws:iam/role:Role") if r.name == "ecomind-images-copy-template")
    assert template.inputs["customRoleArn"] == role.arn
    grants = document(bootstrap_plan, "ecomind-images-copy-template", "policy")["Statement"]
    key = next(r for r in bootstrap_plan.resources if r.name == "ecomind-images-copy" and r.type == "aws:kms/key:Key")
    assert {"kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"} <= {
        a for s in grants if s["Resource"] == key.arn for a in s["Action"]}
    reverted = json.loads(policy)
    reverted["Statement"].append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Principal": {
        "AWS": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/replication.ecr.amazonaws.com/"
               "AWSServiceRoleForECRReplication"}})
    broken = rules_broken(with_input(bootstrap_plan, "ecomind-images-copy", "policy", json.dumps(reverted)))
    assert "principals-exist" in broken


def test_a_state_bucket_policy_names_ci_roles_only_after_they_exist(bootstrap_plan):
    """Deny statements built from role names, not the roles' ARNs, were sent before the roles existed."""
    policy = next(r for r in bootstrap_plan.of_type("aws:s3/bucketPolicy:BucketPolicy") if r.name == "ecomind-state")
    deploy = next(r for r in bootstrap_plan.of_type("aws:iam/role:Role")
                  if r.inputs.get("name") == "ecomind-infra-prod-deploy")
    assert deploy.urn in bootstrap_plan.upstream_of(policy)
    cut = dataclasses.replace(policy, dependencies=[u for u in policy.dependencies if "StackDelivery" not in u],
                              property_dependencies={})
    plan = dataclasses.replace(bootstrap_plan, resources=[cut if r is policy else r for r in bootstrap_plan.resources])
    assert any("but not before it" in m for m in rules_broken(plan)["principals-exist"])


def test_a_principal_no_plan_creates_or_declares_fails(dev_plan):
    policy = document(dev_plan, "cluster-secrets-key", "policy")
    policy["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/somebody"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    broken = rules_broken(with_input(dev_plan, "cluster-secrets-key", "policy", json.dumps(policy)))
    assert broken["principals-exist"] == [f"policy (no Sid) names arn:aws:iam::{ACCOUNT}:role/somebody, "
                                          "which no plan creates or declares"]


# --- passrole-coverage ------------------------------------------------------------------------

def test_the_deploy_role_may_pass_every_role_the_stack_hands_over(prod_plan):
    passed = {(r.type, path) for r, path, _ in aws_semantics._passed_roles(prod_plan)}
    assert ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "role") in passed
    assert ("eks:index:Cluster", "serviceRole") in passed
    assert passed <= set(aws_semantics.PASSED_ROLES)


def test_without_s3_among_the_passed_services_every_bucket_copy_fails(prod_plan):
    """B3: S3 replication takes its role through iam:PassRole to s3.amazonaws.com."""
    delivery = json.loads(json.dumps(prod_plan.settings["delivery"]))
    for policy in delivery["deploy_role_policies"]:
        for statement in policy["Statement"]:
            if statement.get("Sid") == "PassTheStacksRolesToItsServices":
                services = statement["Condition"]["StringEquals"]["iam:PassedToService"]
                services.remove("s3.amazonaws.com")
    broken = rules_broken(dataclasses.replace(prod_plan, settings={**prod_plan.settings, "delivery": delivery}))
    assert broken["passrole-coverage"] and all("to s3.amazonaws.com" in m for m in broken["passrole-coverage"])
    assert any("storage-reports-replication" in m for m in broken["passrole-coverage"])


@pytest.mark.parametrize(("typ", "field"), [
    ("aws:sfn/stateMachine:StateMachine", "roleArn"),
    # An input that is not named like a role still needs a row.
    ("aws:ec2/instance:Instance", "iamInstanceProfile")])
def test_a_role_input_the_rule_does_not_know_fails_until_its_row_is_added(dev_plan, typ, field):
    role = next(r for r in dev_plan.of_type("aws:iam/role:Role"))
    extra = PlannedResource(urn=f"urn:pulumi:dev::ecomind-infra::{typ}::x", type=typ, name="x", custom=True,
                            parent=None, dependencies=[], protect=False, inputs={field: role.arn})
    broken = rules_broken(dataclasses.replace(dev_plan, resources=[*dev_plan.resources, extra]))
    assert f"add ({typ!r}, {field!r}) to PASSED_ROLES" in broken["passrole-coverage"][0]


# --- service-conditions -----------------------------------------------------------------------

def test_a_scheduler_trust_on_schedules_instead_of_the_group_fails(dev_plan):
    """H1: Scheduler presents the schedule group's ARN as aws:SourceArn."""
    trust = document(dev_plan, "office-hours-role", "assumeRolePolicy")
    trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] = (
        f"arn:aws:scheduler:us-east-1:{ACCOUNT}:schedule/ecomind-infra-dev-office-hours/*")
    broken = rules_broken(with_input(dev_plan, "office-hours-role", "assumeRolePolicy", json.dumps(trust)))
    assert "never presents aws:SourceArn" in broken["service-conditions"][0]


def test_the_canary_trust_is_lambdas_documented_one(dev_plan):
    """H2: Lambda documents no source keys for its execution role: a condition would deny every run."""
    trust = document(dev_plan, "canary-role", "assumeRolePolicy")
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]
    trust["Statement"][0]["Condition"] = {"ArnLike": {
        "aws:SourceArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:cwsyn-ecomind-dev-up-*"}}
    broken = rules_broken(with_input(dev_plan, "canary-role", "assumeRolePolicy", json.dumps(trust)))
    assert "lambda.amazonaws.com never presents aws:SourceArn" in broken["service-conditions"][0]


def test_eventbridge_gets_no_source_condition_in_a_key_policy(bootstrap_plan):
    policy = document(bootstrap_plan, "ecomind-baseline-alerts", "policy")
    [grant] = [s for s in policy["Statement"] if s.get("Sid") == "EventBridgePublishes"]
    assert "Condition" not in grant
    grant["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    plan = with_input(bootstrap_plan, "ecomind-baseline-alerts", "policy", json.dumps(policy))
    broken = [v for v in aws_semantics.violations(plan) if v["rule"] == "service-conditions"]
    assert len(broken) == 1 and "events.amazonaws.com sends no aws:SourceAccount" in broken[0]["message"]
    assert broken[0]["urn"].endswith("aws:kms/key:Key::ecomind-baseline-alerts")


def test_a_service_without_a_row_fails_until_someone_adds_one(dev_plan):
    trust = document(dev_plan, "office-hours-role", "assumeRolePolicy")
    trust["Statement"][0]["Principal"] = {"Service": "states.amazonaws.com"}
    broken = rules_broken(with_input(dev_plan, "office-hours-role", "assumeRolePolicy", json.dumps(trust)))
    assert "states.amazonaws.com, which has no row in analyses/service_principals.py" in broken["service-conditions"][0]


# --- request-shapes ---------------------------------------------------------------------------

def schedule_with(plan: Plan, name: str, payload: dict) -> Plan:
    schedule = next(r for r in plan.of_type(aws_semantics.SCHEDULE) if r.name == name)
    return with_input(plan, name, "target", {**schedule.inputs["target"], "input": json.dumps(payload)})


def test_scheduler_payloads_are_the_sdk_request_in_its_casing(dev_plan):
    """B4: botocore's camelCase members are refused by CreateSchedule."""
    inputs = {r.name: json.loads(r.inputs["target"]["input"]) for r in dev_plan.of_type(aws_semantics.SCHEDULE)}
    assert inputs["office-hours-workload-stop"] == {
        "ClusterName": "ecomind-infra-dev", "NodegroupName": "ecomind-infra-dev-workload",
        "ScalingConfig": {"MinSize": 0, "DesiredSize": 0, "MaxSize": inputs["office-hours-workload-stop"][
            "ScalingConfig"]["MaxSize"]}}
    assert inputs["office-hours-database-stop"] == {"DbInstanceIdentifier": "ecomind-infra-dev"}
    camel = schedule_with(dev_plan, "office-hours-workload-stop", {
        "clusterName": "ecomind-infra-dev", "nodegroupName": "ecomind-infra-dev-workload",
        "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": 3}})
    messages = rules_broken(camel)["request-shapes"]
    assert "eks:updateNodegroupConfig input clusterName: not a member of UpdateNodegroupConfigRequest " \
           "(Scheduler takes ClusterName)" in messages
    assert any("ClusterName: required by UpdateNodegroupConfigRequest, missing" in m for m in messages)
    botocore_rds = schedule_with(dev_plan, "office-hours-database-stop", {"DBInstanceIdentifier": "ecomind-infra-dev"})
    assert "(Scheduler takes DbInstanceIdentifier)" in rules_broken(botocore_rds)["request-shapes"][0]
    wrong_type = schedule_with(dev_plan, "office-hours-canary-stop", {"Name": 7})
    assert rules_broken(wrong_type)["request-shapes"] == ["synthetics:stopCanary input Name: expected a string"]


@pytest.mark.parametrize(("member", "expected"), [
    ("DBInstanceIdentifier", "DbInstanceIdentifier"), ("clusterName", "ClusterName"), ("AlarmNames", "AlarmNames"),
    ("KMSKeyId", "KmsKeyId"), ("minSize", "MinSize"), ("Name", "Name"),
    ("EnableIAMDatabaseAuthentication", "EnableIAMDatabaseAuthentication")])
def test_members_are_spelled_as_the_sdk_request_objects_spell_them(member, expected):
    assert aws_semantics.request_member(member) == expected


# --- argument-constraints ---------------------------------------------------------------------

def test_replicated_repositories_get_a_template_per_stack_namespace(bootstrap_plan):
    """ECR's prefix is a namespace (`ecomind-prod` serves `ecomind-prod/<service>`) and its pattern
    refuses a trailing '-': `ecomind-` failed the real create and would have matched no repository."""
    templates = [r for r in bootstrap_plan.resources if r.type.endswith("RepositoryCreationTemplate")]
    assert sorted(t.inputs["prefix"] for t in templates) == ["ecomind-prod"]  # one per stack of this account
    broken = rules_broken(with_input(bootstrap_plan, templates[0].name, "prefix", "ecomind-"))
    [message] = broken["argument-constraints"]
    assert message.startswith("prefix 'ecomind-' does not match the API's pattern")


def test_a_schedule_name_over_the_apis_length_fails(dev_plan):
    schedule = next(iter(dev_plan.of_type(aws_semantics.SCHEDULE)))
    broken = rules_broken(with_input(dev_plan, schedule.name, "name", "x" * 65))
    assert "is 65 characters; the API takes 1 to 64" in broken["argument-constraints"][0]


# --- what the rules must not let through ------------------------------------------------------

def test_an_explicit_deny_on_passrole_wins_over_the_allow(prod_plan):
    delivery = json.loads(json.dumps(prod_plan.settings["delivery"]))
    delivery["deploy_role_policies"].append({"Statement": [{"Effect": "Deny", "Action": "iam:PassRole",
                                                            "Resource": "*"}]})
    broken = rules_broken(dataclasses.replace(prod_plan, settings={**prod_plan.settings, "delivery": delivery}))
    passed = {arn for _, _, arn in aws_semantics._passed_roles(prod_plan)}
    assert passed and {arn for arn in passed if any(arn in m for m in broken["passrole-coverage"])} == passed


def test_a_condition_on_a_key_the_request_lacks_grants_nothing_unless_ifexists():
    statement = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                 "Condition": {"StringLike": {"iam:AssociatedResourceArn": "arn:aws:eks:*"}}}
    assert not aws_semantics._granted([{"Statement": [statement]}], "iam:PassRole", "arn:x", {})
    statement["Condition"] = {"StringLikeIfExists": {"iam:AssociatedResourceArn": "arn:aws:eks:*"}}
    assert aws_semantics._granted([{"Statement": [statement]}], "iam:PassRole", "arn:x", {})
    statement["Condition"] = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    assert not aws_semantics._granted([{"Statement": [statement]}], "iam:PassRole", "arn:x", {})


def test_a_string_match_on_a_source_arn_pattern_fails_and_an_arn_match_does_not(dev_plan):
    """StringEquals compares a wildcard literally; ArnEquals and ArnLike both take wildcards."""
    trust = document(dev_plan, "office-hours-role", "assumeRolePolicy")
    condition = trust["Statement"][0]["Condition"]
    pattern = condition.pop("ArnLike")["aws:SourceArn"][:-3] + "*"
    condition["StringEquals"] = {**condition["StringEquals"], "aws:SourceArn": pattern}
    broken = rules_broken(with_input(dev_plan, "office-hours-role", "assumeRolePolicy", json.dumps(trust)))
    assert broken["service-conditions"] == ["(no Sid): StringEquals compares aws:SourceArn with a pattern literally: "
                                            "use ArnLike or ArnEquals"]
    del condition["StringEquals"]["aws:SourceArn"]
    condition["ArnEquals"] = {"aws:SourceArn": pattern}
    fine = with_input(dev_plan, "office-hours-role", "assumeRolePolicy", json.dumps(trust))
    assert "service-conditions" not in rules_broken(fine)


def test_a_deny_this_cannot_read_is_taken_to_apply():
    allow = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}
    for deny in ({"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                  "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
                 {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"},
                 {"Effect": "Deny", "Action": "iam:*", "NotResource": "arn:aws:iam::1:role/other"}):
        assert not aws_semantics._granted([{"Statement": [allow, deny]}], "iam:PassRole", "arn:x", {}), deny
    assert aws_semantics._granted([{"Statement": [allow]}], "iam:PassRole", "arn:x", {})


def test_the_replication_roles_carry_s3s_documented_trust(prod_plan, bootstrap_plan):
    """No AWS page says S3 sends source keys when it assumes the replication role (review F2)."""
    documented = [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    roles = [r for r in prod_plan.of_type("aws:iam/role:Role") if r.name.endswith("-replication")]
    assert roles and all(json.loads(r.inputs["assumeRolePolicy"])["Statement"] == documented for r in roles)
    assert document(bootstrap_plan, "ecomind-state-replication", "assumeRolePolicy")["Statement"] == documented


# --- addon-configuration ----------------------------------------------------------------------

def test_the_observability_add_on_is_sent_only_keys_its_build_is_known_to_take(dev_plan):
    """M4: the add-on's schema decides, not its chart's values (`hostNetwork` is a chart value the
    add-on does not offer); a build with no recorded keys fails until someone records them."""
    addon = next(r for r in dev_plan.of_type("aws:eks/addon:Addon")
                 if r.inputs["addonName"] == "amazon-cloudwatch-observability")
    sent = json.loads(addon.inputs["configurationValues"])
    assert set(sent) <= aws_semantics.ADDON_CONFIGURATION_KEYS[(addon.inputs["addonName"],
                                                                addon.inputs["addonVersion"])][0]
    chart_only = with_input(dev_plan, addon.name, "configurationValues", json.dumps({**sent, "hostNetwork": True}))
    [message] = rules_broken(chart_only)["addon-configuration"]
    assert "'hostNetwork' is not a key its configuration is known to take" in message
    other_build = with_input(dev_plan, addon.name, "addonVersion", "v6.5.0-eksbuild.1")
    assert "no schema keys are recorded for that build" in rules_broken(other_build)["addon-configuration"][0]


# --- component-providers ----------------------------------------------------------------------

def test_pulumi_eks_components_run_their_aws_children_on_the_programs_provider(stack_plan):
    """Review P3: without it, pulumi-eks's children run on a default provider of the @pulumi/aws it
    bundles, a second plugin downloaded at run time."""
    [provider] = stack_plan.of_type("pulumi:providers:aws")
    config = stack_settings(stack_plan.stack)
    assert provider.inputs["region"] == config.region
    assert json.loads(provider.inputs["allowedAccountIds"]) == [config.account_id]
    components = [r for r in stack_plan.resources if r.type.startswith("eks:index:")]
    assert {r.type for r in components} == {"eks:index:Cluster", "eks:index:ManagedNodeGroup", "eks:index:VpcCniAddon"}
    assert all(r.providers == {"aws": provider.urn} for r in components)
    cluster = next(r for r in components if r.type == "eks:index:Cluster")
    without = dataclasses.replace(stack_plan, resources=[dataclasses.replace(r, providers={}) if r is cluster else r
                                                         for r in stack_plan.resources])
    [message] = rules_broken(without)["component-providers"]
    assert message.startswith("eks:index:Cluster cluster-eks gives its aws children no provider of this program")


def test_two_versions_of_one_provider_fail_the_plan(dev_plan):
    """Review P3's class: an explicit provider at another version than the SDK's default one."""
    [provider] = dev_plan.of_type("pulumi:providers:aws")
    assert provider.version == aws_semantics.sdk_plugin_version("aws") == "7.51.1"
    older = dataclasses.replace(dev_plan, resources=[dataclasses.replace(r, version="7.25.0") if r is provider else r
                                                     for r in dev_plan.resources])
    [message] = rules_broken(older)["one-version-per-provider"]
    assert message.startswith("aws runs at 2 plugin versions (7.25.0, 7.51.1)")
