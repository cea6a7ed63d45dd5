"""What AWS itself refuses or silently ignores, checked over the plan's policies and payloads.

The mock engine accepts any principal, any condition and any payload. AWS does not: a key policy
naming a role that does not exist yet is MalformedPolicyDocumentException, a role the deploy role
may not pass is AccessDenied, a trust conditioned on a source the service never presents denies
every AssumeRole, a Scheduler payload in the wrong casing is a ValidationException at run time.
Each rule names its source and fails `make plan` with one line per violation.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from analyses import rulebook, service_principals
from analyses.model import Plan, PlannedResource
from analyses.policy_statements import listed, statements
from analyses.rulebook import Rule

SECTION = "aws_semantics"

ROLE = "aws:iam/role:Role"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
EKS_CLUSTER = "eks:index:Cluster"
SCHEDULE = "aws:scheduler/schedule:Schedule"
KEY_TYPES = ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey", "aws:kms/keyPolicy:KeyPolicy")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")
_ACCOUNT_ROOT = re.compile(r"(arn:aws[a-z-]*:iam::)?\d{12}(:root)?")
_EKS_OIDC = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/\w+")


# --- Principals exist -------------------------------------------------------------------------

def _produced_upstream(plan: Plan, resource: PlannedResource) -> dict[str, PlannedResource]:
    """ARNs of what `resource` waits for: a principal among them exists when its policy is sent."""
    by_urn = {r.urn: r for r in plan.resources}
    return {by_urn[u].arn: by_urn[u] for u in plan.upstream_of(resource) if by_urn[u].arn}


def _principals_exist(plan: Plan):
    prerequisites = set(plan.settings.get("prerequisite_principals", {}))
    everything = {r.arn: r for r in plan.resources if r.arn}
    for statement in statements(plan):
        named = [("AWS", p) for p in statement.principals("AWS")] + [
            ("Federated", p) for p in statement.principals("Federated")]
        if not named:
            continue
        upstream = _produced_upstream(plan, statement.resource)
        for kind, principal in named:
            if principal == "*" or _ACCOUNT_ROOT.fullmatch(principal) or principal in upstream:
                continue
            if kind == "Federated" and _EKS_OIDC.fullmatch(principal) and any(
                    plan.by_urn(u).type == EKS_CLUSTER and plan.by_urn(u).inputs.get("createOidcProvider")
                    for u in plan.upstream_of(statement.resource)):
                continue  # pulumi-eks creates the provider inside the cluster (cluster.ts createOidcProvider)
            if principal in prerequisites:
                continue
            where = f"{statement.field} {statement.sid}"
            if principal in everything:
                yield statement.resource.urn, (f"{where} names {principal}, created in this plan by "
                                               f"{everything[principal].name} but not before it (no dependency)")
            elif "/aws-service-role/" in principal:
                yield statement.resource.urn, (f"{where} names the service-linked role {principal}, which exists "
                                               "only once something creates it: create it explicitly first "
                                               "(aws.iam.ServiceLinkedRole) or grant by aws:PrincipalArn")
            else:
                yield statement.resource.urn, f"{where} names {principal}, which no plan creates or declares"


# --- PassRole coverage ----------------------------------------------------------------------

# Which service receives a role passed in each input (the iam:PassedToService it is checked
# against). A role ARN in an input missing here fails the plan until its row is added.
PASSED_ROLES: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("eks:index:Cluster", "serviceRole"): (("eks.amazonaws.com",), "EKS user guide, \"Amazon EKS cluster IAM role\""),
    ("eks:index:ManagedNodeGroup", "nodeRoleArn"): (
        ("eks.amazonaws.com",), "EKS user guide, \"Amazon EKS node IAM role\" (CreateNodegroup passes nodeRole)"),
    ("eks:index:ManagedNodeGroup", "nodeRole"): (("eks.amazonaws.com",), "as nodeRoleArn"),
    ("aws:eks/addon:Addon", "serviceAccountRoleArn"): (("eks.amazonaws.com",), "EKS API reference, CreateAddon"),
    ("eks:index:VpcCniAddon", "serviceAccountRoleArn"): (("eks.amazonaws.com",), "as aws:eks/addon:Addon"),
    ("aws:codebuild/project:Project", "serviceRole"): (
        ("codebuild.amazonaws.com",), "CodeBuild user guide, \"Allow a user to pass a role to CodeBuild\""),
    ("aws:ec2/flowLog:FlowLog", "iamRoleArn"): (
        ("vpc-flow-logs.amazonaws.com",), "VPC user guide, \"IAM role for publishing flow logs\" (iam:PassRole)"),
    ("aws:ec2/flowLog:FlowLog", "deliverCrossAccountRole"): (("vpc-flow-logs.amazonaws.com",), "as iamRoleArn"),
    ("aws:rds/instance:Instance", "monitoringRoleArn"): (
        ("monitoring.rds.amazonaws.com", "rds.amazonaws.com"),
        "RDS user guide, \"Setting up and enabling Enhanced Monitoring\"; which name CreateDBInstance checks is "
        "not documented: both are granted (bootstrap/delivery.py)"),
    ("aws:synthetics/canary:Canary", "executionRoleArn"): (
        ("synthetics.amazonaws.com", "lambda.amazonaws.com"),
        "CloudWatch user guide, \"Required roles and permissions for canaries\" (iam:PassRole); the name "
        "CreateCanary checks is not documented: both are granted"),
    ("aws:scheduler/schedule:Schedule", "target.roleArn"): (
        ("scheduler.amazonaws.com",), "EventBridge Scheduler user guide, \"Set up the execution role\" (iam:PassRole)"),
    ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "role"): (
        ("s3.amazonaws.com",), "S3 user guide, \"Setting up permissions for live replication\": iam:PassRole of the "
        "replication role to s3.amazonaws.com"),
    ("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", "customRoleArn"): (
        ("ecr.amazonaws.com",), "ECR user guide, \"Repository creation templates\" (IAM role for the template)"),
}


def _role_inputs(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every string in `value`, a map's keys as path segments (an access entry's
    map key becomes `*`, so that one row serves every entry)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            segment = "*" if path.endswith("accessEntries") else key
            yield from _role_inputs(item, f"{path}.{segment}" if path else segment)
    elif isinstance(value, list):
        for item in value:
            yield from _role_inputs(item, path)


def _matches(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether a statement applies to `action` on `resource` under `context`, as IAM evaluates Action,
    NotAction, Resource, NotResource and the string and ARN operators (a key missing from the context
    fails its condition unless the operator ends in IfExists). IAM user guide, "Policy evaluation
    logic" and "Condition operators". What this cannot read is resolved against the grant: an Allow
    is taken not to apply, a Deny to apply, so an unreadable statement never makes a role look able."""
    deny = statement.get("Effect") == "Deny"

    def any_match(patterns: Any, value: str, fold: bool = False) -> bool:
        return any(fnmatch.fnmatchcase(value.lower() if fold else value, p.lower() if fold else p)
                   for p in listed(patterns))

    if "NotAction" in statement:
        if any_match(statement["NotAction"], action, fold=True):
            return False
    elif not any_match(statement.get("Action"), action, fold=True):
        return False
    if "NotResource" in statement:
        if any_match(statement["NotResource"], resource):
            return False
    elif not any_match(statement.get("Resource"), resource):
        return False
    for operator, block in (statement.get("Condition") or {}).items():
        base, if_exists = operator.removesuffix("IfExists"), operator.endswith("IfExists")
        if base not in ("StringEquals", "ArnEquals", "StringLike", "ArnLike"):
            if deny:
                continue  # an operator this cannot read: the Deny is taken to apply
            return False
        for key, values in block.items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return False
            if base == "StringEquals" and actual not in listed(values):
                return False
            if base in ("StringLike", "ArnLike", "ArnEquals") and not any_match(values, actual):
                return False
    return True


def _granted(documents: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    """An Allow applies and no Deny does (an explicit deny wins)."""
    found = [s for d in documents for s in listed(d.get("Statement")) if _matches(s, action, resource, context)]
    return any(s.get("Effect") == "Allow" for s in found) and not any(s.get("Effect") == "Deny" for s in found)


# Inputs that name a role without handing it to the service (no iam:PassRole): an access entry's
# principal (EKS user guide, "Create access entries": the principal is granted access, not passed).
NAMED_NOT_PASSED = {("eks:index:Cluster", "accessEntries.*.principalArn")}


def _passed_roles(plan: Plan) -> Iterator[tuple[PlannedResource, str, str]]:
    """(resource, input path, role ARN) of every role ARN or role reference in an AWS resource's
    inputs. IAM's own resources attach or name roles, and a Kubernetes object's role ARN is IRSA's
    annotation, which the pod assumes itself: neither passes a role. Every other place a role
    stands must be in PASSED_ROLES or NAMED_NOT_PASSED."""
    roles = {r.urn: r.arn for r in plan.of_type(ROLE)}
    for resource in plan.resources:
        if not resource.type.startswith(("aws:", "eks:")) or resource.type.startswith("aws:iam/"):
            continue
        for path, value in _role_inputs(resource.inputs):
            path = path.removesuffix(".resourceRef")  # a resource reference, flattened to its URN
            arn = roles.get(value) or (value if _ROLE_ARN.fullmatch(value) else None)
            if arn and "/aws-service-role/" not in arn and not any(
                    resource.type == typ and fnmatch.fnmatchcase(path, pattern) for typ, pattern in NAMED_NOT_PASSED):
                yield resource, path, arn


def _passrole_coverage(plan: Plan):
    delivery = plan.settings.get("delivery")
    if plan.settings.get("environment") == "bootstrap":
        return  # run by an administrator ("run once, by an administrator": bootstrap/__main__.py)
    passed = list(_passed_roles(plan))
    if passed and not delivery:
        yield None, (f"the bootstrap's plan creates no deploy role for stack '{plan.stack}': add the stack to "
                     "its stacks (bootstrap/Pulumi.<account>.yaml), whose deploy role passes the stack's roles")
        return
    for resource, path, arn in passed:
        row = PASSED_ROLES.get((resource.type, path))
        if row is None:
            yield resource.urn, (f"{path} passes {arn} to a service this rule does not know: add "
                                 f"({resource.type!r}, {path!r}) to PASSED_ROLES with the service and its source")
            continue
        services, _ = row
        # Where the service checked is not documented, every candidate must be granted.
        for service in services:
            granted = _granted(delivery["deploy_role_policies"], "iam:PassRole", arn, {"iam:passedtoservice": service})
            if not granted:
                yield resource.urn, (f"{path}: the deploy role {delivery['deploy_role_arn']} may not pass {arn} "
                                     f"to {service} (bootstrap/delivery.py PASSED_TO_SERVICES)")


# --- Conditions a service really sends -------------------------------------------------------

_SOURCE_KEYS = ("aws:sourcearn", "aws:sourceaccount")


def _service_conditions(plan: Plan):
    for statement in statements(plan):
        for service in statement.principals("Service"):
            row = service_principals.row(service, key_policy=statement.resource.type in KEY_TYPES)
            if row is None:
                yield statement.resource.urn, (f"{statement.sid} trusts {service}, which has no row in "
                                               "analyses/service_principals.py: add what it presents, with the source")
                continue
            for operator, key, values in statement.conditions():
                if operator.startswith(("StringNot", "ArnNot")) or operator == "Null":
                    continue  # a key the service does not send satisfies a negated condition
                if key == "aws:sourceaccount" and not row.source_account:
                    yield statement.resource.urn, (f"{statement.sid}: {service} sends no aws:SourceAccount "
                                                   f"({row.source})")
                elif key == "aws:sourcearn":
                    wrong = [v for v in values if not row.arn_matches(v)]
                    # ArnEquals takes wildcards like ArnLike; StringEquals compares them literally
                    # (IAM user guide, "Condition operators": ARN and string operators).
                    exact = operator.removesuffix("IfExists") == "StringEquals"
                    if wrong:
                        yield statement.resource.urn, (f"{statement.sid}: {service} never presents aws:SourceArn "
                                                       f"{wrong[0]} ({row.source})")
                    elif exact and any("*" in v or "?" in v for v in values):
                        yield statement.resource.urn, (f"{statement.sid}: {operator} compares aws:SourceArn with "
                                                       "a pattern literally: use ArnLike or ArnEquals")


# --- Request shapes of indirect calls --------------------------------------------------------

# Scheduler's universal target calls `aws-sdk:<service>:<apiAction>` with the Input as the request
# object of the AWS SDKs: members in PascalCase with acronyms as words (ClusterName, ScalingConfig,
# DbInstanceIdentifier), whatever the API's own casing. Step Functions' AWS SDK integrations say
# so ("Parameters ... are expressed in PascalCase, even if the native service API is in
# camelCase", Step Functions developer guide, "AWS SDK service integrations"); the Scheduler user
# guide ("Using universal targets") does not, but real runs record CreateSchedule refusing the
# camelCase body ("missing the following field(s): ClusterName, NodegroupName") and taking
# DbInstanceIdentifier, not RDS's DBInstanceIdentifier. Which members an operation has is read from
# botocore's service model; botocore's member NAMES (clusterName, DBInstanceIdentifier) are not
# what Scheduler accepts, so each is compared in the SDK request casing (`request_member`).
_SDK_TARGET = re.compile(r"arn:aws:scheduler:::aws-sdk:(?P<service>[a-z0-9-]+):(?P<action>[a-zA-Z0-9]+)")


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def request_member(name: str) -> str:
    """A model member as the SDK request objects spell it (the AWS SDK for Java v2's member names,
    which Step Functions' and Scheduler's AWS SDK integrations take): the first letter raised, and a
    leading acronym lowered after its first letter (DBInstanceIdentifier -> DbInstanceIdentifier,
    clusterName -> ClusterName); an acronym further in is kept (EnableIAMDatabaseAuthentication)."""
    leading = re.match(r"[A-Z]{2,}(?=[A-Z][a-z]|\d|$)", name)
    if leading:
        name = leading[0][0] + leading[0][1:].lower() + name[leading.end():]
    return name[:1].upper() + name[1:]


def _shape_errors(shape, value: Any, path: str) -> Iterator[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path or 'input'}: expected an object ({shape.name})"
            return
        members = {request_member(m): (m, s) for m, s in shape.members.items()}
        for key, item in value.items():
            if key not in members:
                near = [p for p in members if p.lower() == key.lower()]
                hint = f" (Scheduler takes {near[0]})" if near else ""
                yield f"{path + '.' if path else ''}{key}: not a member of {shape.name}{hint}"
            else:
                yield from _shape_errors(members[key][1], item, f"{path + '.' if path else ''}{key}")
        for required in shape.required_members:
            if request_member(required) not in value:
                yield f"{path + '.' if path else ''}{request_member(required)}: required by {shape.name}, missing"
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path}: expected a list"
        else:
            for item in value:
                yield from _shape_errors(shape.member, item, f"{path}[]")
    elif kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        yield f"{path}: expected an integer"
    elif kind == "string" and not isinstance(value, str):
        yield f"{path}: expected a string"
    elif kind == "boolean" and not isinstance(value, bool):
        yield f"{path}: expected true or false"


def _request_shapes(plan: Plan):
    for schedule in plan.of_type(SCHEDULE):
        target = schedule.inputs.get("target") or {}
        match = _SDK_TARGET.fullmatch(str(target.get("arn", "")))
        if not match:
            continue
        operation = pascal(match["action"])
        try:
            model = _service_model(match["service"])
            shape = model.operation_model(operation).input_shape
        except Exception:  # botocore's UnknownServiceError / OperationNotFoundError
            yield schedule.urn, f"aws-sdk:{match['service']}:{match['action']} is no operation botocore's model knows"
            continue
        payload = json.loads(target.get("input") or "{}")
        for error in _shape_errors(shape, payload, ""):
            yield schedule.urn, f"{match['service']}:{match['action']} input {error}"


# Arguments the provider sends unchecked, against the constraints the API's model gives them (botocore's
# service model: pattern, length, enum). A value the API refuses fails the real `up` only.
ARGUMENT_CONSTRAINTS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", "prefix"):
        ("ecr", "CreateRepositoryCreationTemplate", "prefix"),
    ("aws:ecr/repository:Repository", "name"): ("ecr", "CreateRepository", "repositoryName"),
    ("aws:scheduler/schedule:Schedule", "name"): ("scheduler", "CreateSchedule", "Name"),
    ("aws:scheduler/schedule:Schedule", "groupName"): ("scheduler", "CreateSchedule", "GroupName"),
    ("aws:scheduler/scheduleGroup:ScheduleGroup", "name"): ("scheduler", "CreateScheduleGroup", "Name"),
    ("aws:synthetics/canary:Canary", "name"): ("synthetics", "CreateCanary", "Name"),
    ("aws:msk/cluster:Cluster", "clusterName"): ("kafka", "CreateClusterV2", "ClusterName"),
}


def _constraint_errors(value: str, shape) -> list[str]:
    meta = shape.metadata
    errors = []
    if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
        errors.append(f"does not match the API's pattern {meta['pattern']}")
    if len(value) < meta.get("min", 0) or len(value) > meta.get("max", len(value)):
        errors.append(f"is {len(value)} characters; the API takes {meta.get('min', 0)} to {meta.get('max')}")
    if shape.enum and value not in shape.enum:
        errors.append(f"is none of {', '.join(shape.enum)}")
    return errors


def _argument_constraints(plan: Plan):
    for resource in plan.resources:
        for (typ, field), (service, operation, member) in ARGUMENT_CONSTRAINTS.items():
            value = resource.inputs.get(field) if resource.type == typ else None
            if not isinstance(value, str):
                continue
            shape = _service_model(service).operation_model(operation).input_shape.members[member]
            for error in _constraint_errors(value, shape):
                yield resource.urn, f"{field} {value!r} {error} ({service} {operation} {member})"


# Top-level keys each EKS add-on build's configuration schema is known to take: the add-on's schema
# (`aws eks describe-addon-configuration`), not its Helm chart's values, decides; a key it does not
# take fails CreateAddon. No public copy of the schema of these builds was found, so each key is
# backed by add-on configurations recorded as applied (console defaults, describe-addon-configuration
# excerpts in public configurations); confirm with describe-addon-configuration before a first up.
ADDON_CONFIGURATION_KEYS: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("amazon-cloudwatch-observability", "v6.4.0-eksbuild.1"): (
        frozenset({"containerLogs", "dcgmExporter", "neuronMonitor", "applicationSignals", "agent", "manager",
                   "tolerations", "admissionWebhooks", "containerInsights"}),
        "recorded add-on configurations of v4.4.0-eksbuild.1 (console default: agent, containerLogs, "
        "dcgmExporter, neuronMonitor, manager, tolerations, admissionWebhooks) and v6.3.0-eksbuild.1 "
        "(applicationSignals, containerInsights); the v6.4.0-eksbuild.1 schema itself was not read"),
}


def _addon_configuration(plan: Plan):
    for addon in plan.of_type("aws:eks/addon:Addon"):
        sent = addon.inputs.get("configurationValues")
        if not sent:
            continue
        name, version = addon.inputs.get("addonName"), addon.inputs.get("addonVersion")
        known = ADDON_CONFIGURATION_KEYS.get((name, version))
        if known is None:
            yield addon.urn, (f"{name} {version} is sent a configuration, but no schema keys are recorded for that "
                              "build: add them to ADDON_CONFIGURATION_KEYS from describe-addon-configuration")
            continue
        for key in sorted(set(json.loads(sent)) - known[0]):
            yield addon.urn, f"{name} {version}: {key!r} is not a key its configuration is known to take ({known[1]})"


# pulumi-eks's components are Node programs that bundle their own @pulumi/aws (7.25.0 at pulumi-eks
# v4.3.x, nodejs/eks/package.json; the v4.4.0 pin not read): a child with no provider from its
# component runs on a default provider of that version, a second aws plugin the CLI downloads at
# run time, configured only from stack config (pulumi/pulumi pkg/resource/deploy/providers
# provider.go DefaultName). pulumi-eks's Cluster also makes its own Kubernetes provider from its
# kubeconfig (cluster.ts), at its bundled @pulumi/kubernetes: that second kubernetes plugin no
# option removes (docs/adr/0022).
MULTI_LANGUAGE_PACKAGES = {"eks": "aws"}


def _component_providers(plan: Plan):
    explicit = {r.urn for r in plan.resources if r.type == "pulumi:providers:aws"}
    for resource in plan.resources:
        package = resource.type.split(":", 1)[0]
        needed = MULTI_LANGUAGE_PACKAGES.get(package)
        if needed and resource.providers.get(needed) not in explicit:
            yield resource.urn, (f"{resource.type} {resource.name} gives its {needed} children no provider of this "
                                 f"program: they run on a default provider of the {needed} version {package} "
                                 "bundles, a second plugin downloaded at run time (pass providers={"
                                 f"'{needed}': ...}})")


def sdk_plugin_version(package: str) -> str | None:
    """The plugin version the installed SDK of `package` asks its default provider for
    (pulumi_<package>/pulumi-plugin.json)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(f"pulumi_{package.replace('-', '_')}")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "pulumi-plugin.json"
    return json.loads(plugin.read_text()).get("version") if plugin.exists() else None


def _one_version_per_provider(plan: Plan):
    versions: dict[str, dict[str, str]] = {}
    for resource in plan.resources:
        if resource.type.startswith("pulumi:providers:") and resource.version:
            versions.setdefault(resource.type.split(":")[2], {})[resource.version] = resource.urn
        elif resource.custom and resource.provider is None and not resource.type.startswith("pulumi:"):
            package = resource.type.split(":", 1)[0]
            version = sdk_plugin_version(package)
            if version:
                versions.setdefault(package, {}).setdefault(version, resource.urn)
    for package, found in sorted(versions.items()):
        if len(found) > 1:
            yield None, (f"{package} runs at {len(found)} plugin versions ({', '.join(sorted(found))}): each is a "
                         f"plugin the CLI downloads, configured apart; one provider version per package")


RULES = (
    Rule("principals-exist", "Every principal a policy names exists before the policy is sent.",
         "KMS developer guide, \"Key policies\" (MalformedPolicyDocumentException for a principal that does not "
         "exist); IAM user guide, \"Invalid principal in policy\"; terraform-aws-modules/terraform-aws-eks#3013",
         _principals_exist),
    Rule("passrole-coverage", "The deploy role may pass every role the stack hands to a service.",
         "IAM user guide, \"Granting a user permissions to pass a role to an AWS service\" (iam:PassedToService)",
         _passrole_coverage),
    Rule("service-conditions", "Trust and resource-policy conditions name what the service really sends.",
         "analyses/service_principals.py, one source per service", _service_conditions),
    Rule("request-shapes", "Scheduler universal-target payloads are the operation's request, in PascalCase.",
         "EventBridge Scheduler user guide, \"Using universal targets\"; botocore service models for the members",
         _request_shapes),
    Rule("argument-constraints", "Arguments the provider does not check meet the API's own constraints.",
         "botocore service models (pattern, length, enum of each member); e.g. ECR API reference, "
         "CreateRepositoryCreationTemplate prefix", _argument_constraints),
    Rule("component-providers", "pulumi-eks's components run their AWS children on this program's provider.",
         "pulumi/pulumi-eks nodejs/eks/package.json (bundled @pulumi/aws) and cluster.ts (children inherit the "
         "component's providers); pulumi/pulumi pkg/resource/deploy/providers/provider.go", _component_providers),
    Rule("one-version-per-provider", "Each provider package the plan shows runs at one plugin version: explicit "
         "providers and default ones (what a multi-language component makes inside is not in the plan; "
         "component-providers covers its AWS children).",
         "pulumi/pulumi pkg/resource/deploy/providers/provider.go (a default provider per version)",
         _one_version_per_provider),
    Rule("addon-configuration", "An EKS add-on is sent only the configuration keys its build takes.",
         "EKS user guide, \"Determine fields you can customize for Amazon EKS add-ons\" "
         "(describe-addon-configuration: the add-on's schema, not the chart's values)", _addon_configuration),
)


def violations(plan: Plan) -> list[dict[str, Any]]:
    return rulebook.violations(RULES, plan)


def analyse(plan: Plan) -> dict[str, Any]:
    """The `aws_semantics` section: every rule's violations, each a failure of the plan."""
    return rulebook.section(RULES, plan, prefix="aws", title="AWS semantics")
