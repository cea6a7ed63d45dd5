"""The bootstrap project (bootstrap/), built under mocks: state bucket, keys, OIDC, each stack's
CI roles and the repository's side of their trust."""

from __future__ import annotations

import fnmatch
import json
import re
import sys

import pytest

from tests.conftest import PROJECT_DIR, account, planned, run_component

sys.path.insert(0, str(PROJECT_DIR / "bootstrap"))

import delivery
from foundation import Foundation, FoundationArgs

REPO = "ecomind/ecomind-infra"
OPERATOR = "arn:aws:iam::111122223333:role/ecomind-platform-admin"
PROVIDER = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def plan():
    return run_component(lambda: Foundation("ecomind", FoundationArgs(
        account_id="111122223333", repository=REPO, state_bucket_name="ecomind-state", noncurrent_state_days=90,
        first_deploy_role_arns=[OPERATOR], reviewer_team_ids={"prod": [1234567]},
        security_alert_email="security@example.com")))


def document(plan, typ, name, field="policy"):
    return json.loads(plan.one(typ, name).inputs[field])


def trust(plan, role):
    return document(plan, "aws:iam/role:Role", role, "assumeRolePolicy")["Statement"]


# --- A job's identity against the trust policies, as STS would judge it ------------------------------

def assumable(statements: list[dict], subject: str) -> bool:
    """Whether a GitHub token with `subject` (and audience sts.amazonaws.com) may assume the role."""
    for statement in statements:
        if statement["Action"] != "sts:AssumeRoleWithWebIdentity" or statement["Effect"] != "Allow":
            continue
        conditions = statement["Condition"]
        equals, like = conditions.get("StringEquals", {}), conditions.get("StringLike", {})
        if equals.get(f"{delivery.GITHUB_OIDC_HOST}:aud") != delivery.STS_AUDIENCE:
            continue
        exact = equals.get(f"{delivery.GITHUB_OIDC_HOST}:sub")
        patterns = like.get(f"{delivery.GITHUB_OIDC_HOST}:sub")
        if exact is not None and subject in (exact if isinstance(exact, list) else [exact]):
            return True
        if patterns is not None and any(fnmatch.fnmatchcase(subject, p) for p in (
                patterns if isinstance(patterns, list) else [patterns])):
            return True
    return False


def subject_of(workflow: str, job: dict, event: str) -> str:
    """The `sub` GitHub gives `job` of `workflow` on `event` under the repository's template."""
    ref = {"push": "refs/heads/main", "schedule": "refs/heads/main", "workflow_dispatch": "refs/heads/main",
           "pull_request": "refs/pull/42/merge", "merge_group": "refs/heads/gh-readonly-queue/main/pr-42-abc"}[event]
    environment = job.get("environment")
    context = f"environment:{environment}" if environment else ("pull_request" if event == "pull_request"
                                                                 else f"ref:{ref}")
    return f"repo:{REPO}:{context}:job_workflow_ref:{REPO}/.github/workflows/{workflow}@{ref}"


def workflow_jobs():
    import yaml

    for path in sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        events = list(workflow[True] if True in workflow else workflow["on"])
        for name, job in workflow["jobs"].items():
            for stack in (job.get("strategy", {}).get("matrix", {}).get("stack") or [None]):
                resolved = dict(job)
                if isinstance(job.get("environment"), str) and stack:
                    resolved["environment"] = job["environment"].replace("${{ matrix.stack }}", stack)
                yield path.name, name, resolved, events


def roles_obtainable(plan, workflow, job, events) -> set[str]:
    roles = {r.name: r for r in plan.of_type("aws:iam/role:Role")}
    if "id-token" not in json.dumps(job.get("permissions", {})):
        return set()
    return {name for name, role in roles.items() for event in events
            if assumable(json.loads(role.inputs["assumeRolePolicy"])["Statement"], subject_of(workflow, job, event))}


def test_each_workflow_job_obtains_exactly_the_role_it_needs(plan):
    expected = {
        ("deploy.yml", "up-dev"): {"ecomind-dev-deploy"},
        ("deploy.yml", "up-prod"): {"ecomind-prod-deploy"},
        ("drift.yml", "drift"): {"ecomind-dev-preview", "ecomind-prod-preview"},
        ("pull-request.yml", "preview"): {"ecomind-dev-preview"},
    }
    found = {}
    for workflow, name, job, events in workflow_jobs():
        obtained = roles_obtainable(plan, workflow, job, events)
        if obtained:
            found[(workflow, name)] = found.get((workflow, name), set()) | obtained
    assert found == expected


@pytest.mark.parametrize("environment", ["dev", "prod", "dev-preview", "prod-preview"])
def test_a_pull_request_job_gets_no_role_whatever_environment_it_names(plan, environment):
    """A pull request can edit its copy of any workflow: its ref is refs/pull/N/merge."""
    for workflow in ("pull-request.yml", "deploy.yml", "drift.yml"):
        job = {"environment": environment, "permissions": {"id-token": "write"}}
        assert roles_obtainable(plan, workflow, job, ["pull_request"]) == set(), workflow


def test_switching_the_deploy_job_to_another_environment_gets_that_environment_nothing(plan):
    job = {"environment": "prod", "permissions": {"id-token": "write"}}
    # The dev job of another workflow (drift.yml on main) renamed to prod: not the deploy workflow.
    assert roles_obtainable(plan, "drift.yml", job, ["push"]) == set()
    # The prod preview environment in the merge queue: prod is never previewed from pull-request code.
    job = {"environment": "prod-preview", "permissions": {"id-token": "write"}}
    assert roles_obtainable(plan, "pull-request.yml", job, ["merge_group"]) == set()


def test_trusts_pin_the_subject_exactly_except_the_merge_queue_pattern(plan):
    for role in plan.of_type("aws:iam/role:Role"):
        if role.name in ("ecomind-state-replication", "ecomind-images-copy-template",
                         "ecomind-baseline-key-destruction-forwarding"):  # services' roles
            continue
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            if statement["Action"] == "sts:AssumeRole":
                assert statement["Principal"] == {"AWS": [OPERATOR]} and role.name.endswith("-deploy")
                continue
            assert statement["Condition"]["StringEquals"][f"{delivery.GITHUB_OIDC_HOST}:aud"] == "sts.amazonaws.com"
            for pattern in statement["Condition"].get("StringLike", {}).values():
                assert pattern == [delivery.github_subject(REPO, "dev-preview", "pull-request.yml",
                                                           delivery.MERGE_QUEUE_REFS)], role.name


def test_the_prod_preview_is_never_run_from_pull_request_code():
    with pytest.raises(Exception, match="never runs pull-request code"):
        delivery.StackDeliveryArgs(stack="prod", account_id="1", region="us-east-1", repository=REPO,
                                   provider_arn=PROVIDER, state_bucket_arn="arn:aws:s3:::b", key_arns=[],
                                   merge_queue_previews=True)


# --- What the deploy role may do ----------------------------------------------------------------------

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deploy_iam_writes_stay_on_the_stacks_path_with_its_boundary(plan, stack):
    policy = document(plan, "aws:iam/rolePolicy:RolePolicy", f"ecomind-{stack}-deploy-iam")
    path_roles = f"arn:aws:iam::111122223333:role/ecomind-infra/{stack}/*"
    boundary = f"arn:aws:iam::111122223333:policy/ecomind-infra/{stack}/ecomind-infra-{stack}-boundary"
    for statement in policy["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources, statement["Sid"]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a in ("*", "iam:*") or a.endswith(":*") for a in actions)
        writes = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"}
        if statement["Effect"] == "Allow" and set(actions) & writes:
            assert resources == [path_roles]
            assert statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == boundary
        if "iam:PassRole" in actions:
            assert resources == [path_roles]
            assert set(statement["Condition"]["StringEquals"]["iam:PassedToService"]) == set(
                delivery.PASSED_TO_SERVICES)
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert "iam:DeleteRolePermissionsBoundary" in deny["Action"] and boundary in deny["Resource"]


def test_the_boundary_allows_no_iam_write_but_service_linked_roles(plan):
    boundary = document(plan, "aws:iam/policy:Policy", "ecomind-dev-boundary")
    allowed = [s for s in boundary["Statement"] if s["Effect"] == "Allow"]
    services = next(s for s in allowed if "NotAction" in s)
    assert "iam:*" in services["NotAction"]
    iam = [a for s in allowed if "Action" in s for a in (s["Action"] if isinstance(s["Action"], list)
                                                            else [s["Action"]])]
    assert set(iam) == {"iam:Get*", "iam:List*", "iam:CreateServiceLinkedRole"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_role_a_stack_creates_is_on_its_path_with_its_boundary(stack):
    for variant in ((), ("databaseEngine=timescaledb",)):
        for role in planned(stack, variant).of_type("aws:iam/role:Role"):
            assert role.inputs["path"] == delivery.stack_path(stack), role.name
            assert role.inputs["permissionsBoundary"] == (
                f"arn:aws:iam::{account(stack)}:policy{delivery.stack_path(stack)}{delivery.boundary_name(stack)}")


def test_the_stack_attaches_only_managed_policies_its_deploy_role_may_attach(stack_plan):
    attached = {a.inputs["policyArn"].removeprefix("arn:aws:iam::aws:policy/")
                for a in stack_plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == set(delivery.STACK_MANAGED_POLICIES)


def test_pulumi_eks_builds_no_role_of_its_own(stack_plan):
    """Without a service role pulumi-eks makes one at the root path (cluster.ts), which the
    deploy role may not create."""
    assert "serviceRole" in stack_plan.one("eks:index:Cluster").inputs


def test_no_ci_role_has_administrator_access(plan):
    attached = {a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws:iam::aws:policy/AdministratorAccess" not in attached
    assert "arn:aws:iam::aws:policy/IAMFullAccess" not in attached


# --- State -----------------------------------------------------------------------------------------------

def test_state_bucket_is_private_versioned_encrypted_tls_only_and_protected(plan):
    bucket = plan.one("aws:s3/bucket:Bucket", "ecomind-state")
    assert bucket.protect and bucket.inputs["bucket"] == "ecomind-state" and bucket.inputs["forceDestroy"] is False
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "ecomind-state").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning", "ecomind-state")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                          "ecomind-state")
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"]
    [lifecycle] = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                           "ecomind-state").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    assert lifecycle["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_aws_config_records_everything_so_that_security_hub_controls_evaluate(plan):
    recorder = plan.one("aws:cfg/recorder:Recorder").inputs
    assert recorder["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    role = plan.one("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.inputs["awsServiceName"] == "config.amazonaws.com" and recorder["roleArn"] == role.arn
    channel = plan.one("aws:cfg/deliveryChannel:DeliveryChannel")
    bucket = plan.one("aws:s3/bucket:Bucket", "ecomind-baseline-trail")
    assert channel.inputs["s3BucketName"] == bucket.id and channel.inputs["s3KeyPrefix"] == "config"
    assert channel.inputs["s3KmsKeyArn"].startswith("arn:aws:kms:")
    status = plan.one("aws:cfg/recorderStatus:RecorderStatus")
    assert status.inputs["isEnabled"] is True and channel.urn in status.dependencies, "a recorder needs its channel"
    hub = plan.one("aws:securityhub/account:Account")
    assert status.urn in hub.dependencies
    policy = document(plan, "aws:s3/bucketPolicy:BucketPolicy", "ecomind-baseline-trail")
    [write] = [s for s in policy["Statement"] if s.get("Sid") == "ConfigWritesThisAccountsSnapshots"]
    assert write["Resource"].endswith("/config/AWSLogs/111122223333/Config/*")
    assert write["Condition"]["StringEquals"]["aws:SourceAccount"] == "111122223333"
    key = document(plan, "aws:kms/key:Key", "ecomind-baseline-trail")
    [grant] = [s for s in key["Statement"] if s["Sid"] == "ConfigEncryptsThisAccountsSnapshots"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}


def test_state_versions_are_locked_in_governance_mode_so_no_ci_role_destroys_them(plan):
    assert plan.one("aws:s3/bucket:Bucket", "ecomind-state").inputs["objectLockEnabled"] is True
    lock = plan.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "ecomind-state")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 30}
    versioning = plan.one("aws:s3/bucketVersioning:BucketVersioning", "ecomind-state")
    assert versioning.urn in lock.dependencies, "Object Lock needs versioning first"
    # No CI role may bypass governance retention: the deploy roles' state access names no such action.
    for r in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        assert "s3:BypassGovernanceRetention" not in r.inputs["policy"], r.name


def test_each_stacks_ci_roles_reach_only_its_own_state(plan):
    policy = document(plan, "aws:s3/bucketPolicy:BucketPolicy", "ecomind-state")
    tls = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for stack in ("dev", "prod"):
        [deny] = [s for s in policy["Statement"] if s["Sid"] == f"OnlyItsOwnState{stack.title()}"]
        assert deny["Effect"] == "Deny" and deny["Principal"]["AWS"] == [
            f"arn:aws:iam::111122223333:role/ecomind-infra-{stack}-deploy",
            f"arn:aws:iam::111122223333:role/ecomind-infra-{stack}-preview"]
        assert deny["NotResource"] == delivery.state_objects(plan.one("aws:s3/bucket:Bucket", "ecomind-state").arn,
                                                             stack)
        other = "prod" if stack == "dev" else "dev"
        assert not any(f"/{other}" in r for r in deny["NotResource"])
        # C1: a versioned read (GetObject?versionId) is s3:GetObjectVersion, which both managed
        # policies grant; it is denied outside the stack's objects like a plain read.
        assert {"s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion"} <= set(deny["Action"])
    # M2s: no CI role erases a version, bypasses governance retention or loosens the bucket.
    [history] = [s for s in policy["Statement"] if s["Sid"] == "NoCiRoleErasesStateHistory"]
    assert history["Effect"] == "Deny" and {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
                                            "s3:PutBucketVersioning", "s3:PutBucketPolicy"} <= set(history["Action"])
    assert sorted(history["Principal"]["AWS"]) == sorted(
        f"arn:aws:iam::111122223333:role/ecomind-infra-{stack}-{kind}"
        for stack in ("dev", "prod") for kind in ("deploy", "preview"))
    preview = document(plan, "aws:iam/rolePolicy:RolePolicy", "ecomind-dev-preview-state")
    actions = {a for s in preview["Statement"] for a in s["Action"]}
    assert not actions & {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_deploy_role_writes_the_lock_object_where_the_cli_puts_it_and_the_preview_role_reads_it(plan, stack):
    """The CLI locks the stack at .pulumi/locks/organization/<project>/<stack>/<id>.json (the path the
    driver reads, ops/state_backend.py): a deploy role that cannot put it fails its first `up`."""
    from ops import state_backend

    bucket = plan.one("aws:s3/bucket:Bucket", "ecomind-state").arn
    lock = f"{bucket}/{state_backend.lock_prefix(stack)}5e2f9a10.json"
    checkpoint = f"{bucket}/.pulumi/stacks/ecomind-infra/{stack}.json"
    for purpose, actions in (("deploy", {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}),
                             ("preview", {"s3:GetObject"})):
        policy = document(plan, "aws:iam/rolePolicy:RolePolicy", f"ecomind-{stack}-{purpose}-state")
        [objects] = [st for st in policy["Statement"] if st["Sid"] == "TheStacksStateObjects"]
        assert set(objects["Action"]) == actions
        for path in (lock, checkpoint):
            assert any(fnmatch.fnmatchcase(path, pattern) for pattern in objects["Resource"]), (purpose, path)
    other = f"{bucket}/{state_backend.lock_prefix('prod' if stack == 'dev' else 'dev')}5e2f9a10.json"
    assert not any(fnmatch.fnmatchcase(other, p) for p in delivery.state_objects(bucket, stack))


def test_secrets_provider_key_rotates_and_is_protected(plan):
    keys = plan.of_type("aws:kms/key:Key")
    # state, secrets, the multi-Region secrets key, the state copy's, the image copies', the trail's
    # and the alerts topic's
    assert len(keys) == 7 and all(k.protect and k.inputs["enableKeyRotation"] for k in keys)
    aliases = {a.inputs["name"] for a in plan.of_type("aws:kms/alias:Alias")}
    assert aliases == {"alias/ecomind-pulumi-state", "alias/ecomind-pulumi-secrets",
                       "alias/ecomind-pulumi-secrets-mr"}


def test_a_region_loss_leaves_the_state_readable_and_the_config_decryptable(plan):
    """The state replicated to drRegion with Object Lock, the secrets provider a multi-Region key
    with its replica and alias there, and the registry replicated (one configuration an account)."""
    primary = plan.one("aws:kms/key:Key", "ecomind-secrets-mr")
    assert primary.inputs["multiRegion"] is True and primary.protect
    replica = plan.one("aws:kms/replicaKey:ReplicaKey", "ecomind-secrets-mr-us-west-2")
    assert replica.inputs["primaryKeyArn"] == primary.arn and replica.inputs["region"] == "us-west-2"
    alias = plan.one("aws:kms/alias:Alias", "ecomind-secrets-mr-us-west-2").inputs
    assert alias["region"] == "us-west-2" and alias["name"] == "alias/ecomind-pulumi-secrets-mr"
    copy = plan.one("aws:s3/bucket:Bucket", "ecomind-state-copy")
    assert copy.inputs["region"] == "us-west-2" and copy.inputs["objectLockEnabled"] is True and copy.protect
    [config] = plan.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    [rule] = config.inputs["rules"]
    assert rule["destination"]["bucket"] == copy.arn
    document = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "ecomind-state-replication").inputs["policy"])
    actions = {a for s in document["Statement"] for a in (s["Action"] if isinstance(s["Action"], list)
                                                           else [s["Action"]])}
    assert {"s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:ReplicateObject"} <= actions
    assert all(s["Resource"] != "*" for s in document["Statement"])
    [images] = plan.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    [image_rule] = images.inputs["replicationConfiguration"]["rules"]
    assert image_rule["destinations"][0]["region"] == "us-west-2"
    assert image_rule["repositoryFilters"] == [{"filter": "ecomind-", "filterType": "PREFIX_MATCH"}]
    # The replicas' repositories: immutable tags, a key in drRegion (not the AES256 default).
    # One template per stack namespace: a prefix is `ecomind-prod`, serving `ecomind-prod/<service>`.
    for stack in ("dev", "prod"):
        template = plan.one("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
                            f"ecomind-images-copy-{stack}").inputs
        assert (template["prefix"], template["appliedFors"], template["region"]) == (
            f"ecomind-{stack}", ["REPLICATION"], "us-west-2")
        assert template["imageTagMutability"] == "IMMUTABLE"
        assert template["encryptionConfigurations"] == [
            {"encryptionType": "KMS", "kmsKey": plan.one("aws:kms/key:Key", "ecomind-images-copy").arn}]
        assert template["customRoleArn"] == plan.one("aws:iam/role:Role", "ecomind-images-copy-template").arn


# --- The repository's side ----------------------------------------------------------------------------

def test_the_repository_puts_workflow_and_ref_into_the_subject(plan):
    template = plan.one("github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
                        "ActionsRepositoryOidcSubjectClaimCustomizationTemplate").inputs
    assert template == {"repository": "ecomind-infra", "useDefault": False,
                        "includeClaimKeys": ["repo", "context", "job_workflow_ref"]}


def test_environments_admit_only_main_and_prod_waits_for_its_reviewers(plan):
    environments = {e.inputs["environment"]: e.inputs for e in plan.of_type(
        "github:index/repositoryEnvironment:RepositoryEnvironment")}
    assert set(environments) == {"dev", "prod", "dev-preview", "prod-preview"}
    for inputs in environments.values():
        assert inputs["deploymentBranchPolicy"] == {"customBranchPolicies": True, "protectedBranches": False}
        assert inputs["canAdminsBypass"] is False
    assert environments["prod"]["reviewers"] == [{"teams": [1234567]}] and environments["prod"]["preventSelfReview"]
    branches = {}
    kind = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
    for policy in plan.of_type(kind):
        environment = policy.name.removeprefix("ecomind-repository-").rsplit("-branch-", 1)[0]
        branches.setdefault(environment, set()).add(policy.inputs["branchPattern"])
    assert branches == {"dev": {"main"}, "prod": {"main"}, "prod-preview": {"main"},
                        "dev-preview": {"main", "gh-readonly-queue/main/*"}}


def test_each_environment_names_its_own_role(plan):
    secrets = {v.inputs["environment"]: v.inputs for v in plan.of_type(
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")}
    assert set(secrets) == {"dev", "prod", "dev-preview", "prod-preview"}
    assert all(v["secretName"] == "AWS_ROLE_ARN" for v in secrets.values())


def test_codeowners_guard_the_delivery_path():
    owners = (PROJECT_DIR / ".github" / "CODEOWNERS").read_text().splitlines()
    rules = {line.split()[0] for line in owners if line.strip() and not line.startswith("#")}
    assert {"/.github/", "/bootstrap/"} <= rules


def test_bootstrap_project_file_declares_its_settings():
    import yaml
    project = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    # Every setting the program reads is declared, with its default and description.
    program = (PROJECT_DIR / "bootstrap" / "__main__.py").read_text()
    read = set(re.findall(r'config\.(?:get|require)\w*\("(\w+)"\)', program))
    assert {"githubRepository", "stateBucketName", "stacks", "recoveryStacks", "drRegion"} <= read
    assert read <= set(project["config"]), read - set(project["config"])


# --- The account baseline -------------------------------------------------------------------------------

def test_one_multi_region_validated_encrypted_trail_into_a_locked_bucket(plan):
    trail = plan.one("aws:cloudtrail/trail:Trail").inputs
    assert trail["isMultiRegionTrail"] and trail["includeGlobalServiceEvents"] and trail["enableLogFileValidation"]
    assert trail["kmsKeyId"].startswith("arn:aws:kms:") and trail["s3BucketName"] == "ecomind-state-trail"
    bucket = plan.one("aws:s3/bucket:Bucket", "ecomind-baseline-trail")
    assert bucket.protect and bucket.inputs["objectLockEnabled"] is True
    lock = plan.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
                    "ecomind-baseline-trail").inputs
    assert lock["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    [expiry] = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                        "ecomind-baseline-trail").inputs["rules"]
    assert expiry["expiration"]["days"] == 365, "records leave when their lock ends, not before"
    policy = document(plan, "aws:s3/bucketPolicy:BucketPolicy", "ecomind-baseline-trail")
    writes = [s for s in policy["Statement"] if s.get("Action") == "s3:PutObject"
              and s["Principal"] == {"Service": "cloudtrail.amazonaws.com"}]
    assert writes and all(s["Condition"]["StringEquals"]["aws:SourceArn"].endswith(":trail/ecomind-account-trail")
                          for s in writes)
    key = document(plan, "aws:kms/key:Key", "ecomind-baseline-trail")
    [encrypt] = [s for s in key["Statement"] if s["Sid"] == "CloudTrailEncryptsThisTrail"]
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"].endswith(":trail/ecomind-account-trail")


def test_guardduty_watches_eks_and_security_hub_runs_fsbp_and_cis(plan):
    assert plan.one("aws:guardduty/detector:Detector").inputs["enable"] is True
    features = {f.inputs["name"]: f.inputs for f in plan.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert set(features) == {"EKS_AUDIT_LOGS", "RUNTIME_MONITORING"}
    assert all(f["status"] == "ENABLED" for f in features.values())
    assert features["RUNTIME_MONITORING"]["additionalConfigurations"] == [
        {"name": "EKS_ADDON_MANAGEMENT", "status": "ENABLED"}]
    standards = {s.inputs["standardsArn"] for s in plan.of_type(
        "aws:securityhub/standardsSubscription:StandardsSubscription")}
    assert standards == {"arn:aws:securityhub:us-east-1::standards/aws-foundational-security-best-practices/v/1.0.0",
                         "arn:aws:securityhub:us-east-1::standards/cis-aws-foundations-benchmark/v/3.0.0"}
    assert plan.one("aws:accessanalyzer/analyzer:Analyzer").inputs["type"] == "ACCOUNT"


def test_account_wide_defaults_block_public_buckets_and_encrypt_ebs(plan):
    block = plan.one("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert plan.one("aws:ebs/encryptionByDefault:EncryptionByDefault").inputs["enabled"] is True


def test_a_key_destroyed_in_the_second_region_raises_the_same_alert(plan):
    """m1: EventBridge sees a KMS call only in its own region; the DR region's keys are watched there
    and their events forwarded to the home bus, where the alert rule matches them."""
    home = plan.one("aws:cloudwatch/eventRule:EventRule", "ecomind-baseline-key-destruction")
    away = plan.one("aws:cloudwatch/eventRule:EventRule", "ecomind-baseline-key-destruction-us-west-2")
    assert away.inputs["region"] == "us-west-2" and "region" not in home.inputs
    assert away.inputs["eventPattern"] == home.inputs["eventPattern"]
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget", "ecomind-baseline-key-destruction-us-west-2").inputs
    assert target["region"] == "us-west-2" and target["rule"] == away.inputs["name"] == home.inputs["name"]
    assert target["arn"] == "arn:aws:events:us-east-1:111122223333:event-bus/default"
    role = plan.one("aws:iam/role:Role", "ecomind-baseline-key-destruction-forwarding")
    assert target["roleArn"] == role.arn
    assert trust(plan, "ecomind-baseline-key-destruction-forwarding") == [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}]
    [put] = document(plan, "aws:iam/rolePolicy:RolePolicy", "ecomind-baseline-key-destruction-forwarding")["Statement"]
    assert (put["Action"], put["Resource"]) == ("events:PutEvents", target["arn"])
    keys_there = [k for k in plan.of_type("aws:kms/key:Key") if k.inputs.get("region") == "us-west-2"]
    assert keys_there, "the second region holds keys: what this watches"


def test_anyone_scheduling_a_key_deletion_disabling_a_key_or_replacing_its_policy_raises_an_alert(plan):
    rule = plan.one("aws:cloudwatch/eventRule:EventRule", "ecomind-baseline-key-destruction")
    assert json.loads(rule.inputs["eventPattern"]) == {
        "source": ["aws.kms"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["kms.amazonaws.com"],
                   "eventName": ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"]}}
    topic = plan.one("aws:sns/topic:Topic", "ecomind-baseline-alerts")
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    target = plan.one("aws:cloudwatch/eventTarget:EventTarget", "ecomind-baseline-key-destruction").inputs
    assert target["arn"] == topic.arn
    [publish] = document(plan, "aws:sns/topicPolicy:TopicPolicy", "ecomind-baseline-alerts")["Statement"]
    assert publish["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.arn}}
    email = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (email["protocol"], email["endpoint"]) == ("email", "security@example.com")


# --- A recovery stack (prod-dr) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def recovery_plan():
    return run_component(lambda: Foundation("ecomind", FoundationArgs(
        account_id="111122223333", repository=REPO, state_bucket_name="ecomind-state", noncurrent_state_days=90,
        first_deploy_role_arns=[OPERATOR], reviewer_team_ids={"prod": [1234567], "prod-dr": [1234567]},
        recovery_stacks=["prod-dr"])))


def test_a_recovery_stacks_roles_live_in_the_second_region_and_its_state_copy(recovery_plan):
    """Nothing the recovery runs on may be in the lost region: its roles reach its cluster's OIDC
    provider in drRegion, and its state in the state's copy under the copy's key and the secrets
    provider's replica there."""
    plan = recovery_plan
    iam = document(plan, "aws:iam/rolePolicy:RolePolicy", "ecomind-prod-dr-deploy-iam")
    [oidc] = [s for s in iam["Statement"] if s["Sid"] == "ClusterOidcProviders"]
    assert oidc["Resource"] == "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/*"
    copy = plan.one("aws:s3/bucket:Bucket", "ecomind-state-copy")
    keys = {plan.one("aws:kms/key:Key", "ecomind-state-copy").arn,
            plan.one("aws:kms/replicaKey:ReplicaKey", "ecomind-secrets-mr-us-west-2").arn}
    for purpose in ("deploy", "preview"):
        state = document(plan, "aws:iam/rolePolicy:RolePolicy", f"ecomind-prod-dr-{purpose}-state")
        by_sid = {s["Sid"]: s for s in state["Statement"]}
        assert by_sid["ListState"]["Resource"] == copy.arn
        assert by_sid["TheStacksStateObjects"]["Resource"] == delivery.state_objects(copy.arn, "prod-dr")
        assert set(by_sid["StateAndSecretsKeys"]["Resource"]) == keys
    # prod's roles keep the source bucket; the others' stay where they were.
    prod = document(plan, "aws:iam/rolePolicy:RolePolicy", "ecomind-prod-deploy-state")
    assert {s["Sid"]: s for s in prod["Statement"]}["ListState"]["Resource"] == plan.one(
        "aws:s3/bucket:Bucket", "ecomind-state").arn


@pytest.mark.parametrize("bucket", ["ecomind-state", "ecomind-state-copy"])
def test_both_state_buckets_keep_each_stacks_roles_to_its_own_objects(recovery_plan, bucket):
    """The copy holds every stack's replicated state and the recovery stack's own: the same denials
    as the source's, or prod-dr's PowerUserAccess would read prod's state there."""
    policy = document(recovery_plan, "aws:s3/bucketPolicy:BucketPolicy", bucket)
    arn = recovery_plan.one("aws:s3/bucket:Bucket", bucket).arn
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for stack, sid in (("dev", "OnlyItsOwnStateDev"), ("prod", "OnlyItsOwnStateProd"),
                       ("prod-dr", "OnlyItsOwnStateProdDr")):
        assert by_sid[sid]["NotResource"] == delivery.state_objects(arn, stack)
        assert by_sid[sid]["Principal"]["AWS"] == [f"arn:aws:iam::111122223333:role/ecomind-infra-{stack}-deploy",
                                                   f"arn:aws:iam::111122223333:role/ecomind-infra-{stack}-preview"]
    if bucket == "ecomind-state-copy":
        assert recovery_plan.one("aws:s3/bucketPolicy:BucketPolicy", bucket).inputs["region"] == "us-west-2"


def test_a_recovery_stack_gets_its_environments_and_waits_for_reviewers(recovery_plan):
    environments = {e.inputs["environment"]: e.inputs for e in recovery_plan.of_type(
        "github:index/repositoryEnvironment:RepositoryEnvironment")}
    assert {"prod-dr", "prod-dr-preview"} <= set(environments)
    assert environments["prod-dr"]["reviewers"] == [{"teams": [1234567]}]


@pytest.mark.parametrize("changes,message", [
    ({"dr_region": None}, "needs dr_region"),
    ({"stacks": ["dev", "prod", "prod-dr"]}, "not one of stacks"),
])
def test_a_recovery_stack_without_a_copy_region_or_twice_is_refused(changes, message):
    with pytest.raises(Exception, match=message):
        run_component(lambda: Foundation("ecomind", FoundationArgs(**{
            "account_id": "111122223333", "repository": REPO, "state_bucket_name": "ecomind-state",
            "noncurrent_state_days": 90, "recovery_stacks": ["prod-dr"], **changes})))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_deploy_role_stops_blinds_or_rewrites_the_accounts_guards(plan, stack):
    """M1s: PowerUserAccess reaches the trail, GuardDuty, Config, Security Hub, the alert and the
    bootstrap keys' policies; the deploy role's Deny takes each back."""
    policy = document(plan, "aws:iam/rolePolicy:RolePolicy", f"ecomind-{stack}-deploy-guards")
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert all(s["Effect"] == "Deny" for s in policy["Statement"])
    assert {"cloudtrail:StopLogging", "guardduty:DeleteDetector", "guardduty:CreateFilter",
            "config:StopConfigurationRecorder", "securityhub:DisableSecurityHub"} <= set(
        by_sid["TheAccountsGuardsStayOn"]["Action"])
    rule = plan.one("aws:cloudwatch/eventRule:EventRule", "ecomind-baseline-key-destruction")
    topic = plan.one("aws:sns/topic:Topic", "ecomind-baseline-alerts")
    assert by_sid["TheSecurityAlertStaysOn"]["Resource"] == [
        f"arn:aws:events:*:111122223333:rule/{rule.inputs['name']}",
        f"arn:aws:sns:*:111122223333:{topic.inputs['name']}"]
    keys = {plan.one("aws:kms/key:Key", k).arn for k in ("ecomind-state", "ecomind-secrets", "ecomind-secrets-mr",
                                                          "ecomind-baseline-trail", "ecomind-baseline-alerts")}
    assert keys <= set(by_sid["TheBootstrapKeysKeepTheirPolicies"]["Resource"])
    trail_bucket = plan.one("aws:cloudtrail/trail:Trail").inputs["s3BucketName"]
    assert any(trail_bucket in arn for arn in by_sid["TheTrailsBucketStaysLocked"]["Resource"])
    assert "s3:DeleteBucketPolicy" in by_sid["TheTrailsBucketStaysLocked"]["Action"]
    assert "PutKeyPolicy" in json.loads(rule.inputs["eventPattern"])["detail"]["eventName"]


# --- One bootstrap per account (docs/adr/0024) ------------------------------------------------------

def bootstrap_files() -> dict[str, dict]:
    import yaml

    return {path.name.split(".")[1]: yaml.safe_load(path.read_text())["config"]
            for path in sorted((PROJECT_DIR / "bootstrap").glob("Pulumi.*.yaml")) if path.name != "Pulumi.yaml"}


def test_each_account_has_its_own_bootstrap_holding_exactly_the_stacks_that_deploy_into_it():
    import yaml

    files = bootstrap_files()
    assert set(files) == {"dev", "prod"}
    held = {}
    for config in files.values():
        [account_id] = config["aws:allowedAccountIds"]
        for stack in [*config["ecomind-bootstrap:stacks"], *config.get("ecomind-bootstrap:recoveryStacks", [])]:
            assert stack not in held, f"{stack} is in two bootstraps"
            held[stack] = account_id
        assert config["ecomind-bootstrap:stateBucketName"].endswith(account_id)
    for path in sorted(PROJECT_DIR.glob("Pulumi.*.yaml")):
        stack = path.name.split(".")[1]
        stack_file = yaml.safe_load(path.read_text())["config"]
        assert stack_file["aws:allowedAccountIds"] == [held[stack]] == [stack_file["ecomind-infra:awsAccountId"]]
    assert held["dev"] != held["prod"] == held["prod-dr"]


def test_no_merge_queue_preview_in_prods_account_and_one_bootstrap_owns_the_subject_template():
    """A merge-queue preview runs pull-request code: its role exists only in dev's account. The
    subject template is one setting of the repository, so exactly one bootstrap sets it."""
    files = bootstrap_files()
    assert not files["prod"].get("ecomind-bootstrap:mergeQueuePreviewStacks")
    assert files["dev"]["ecomind-bootstrap:mergeQueuePreviewStacks"] == ["dev"]
    assert [n for n, c in files.items() if c.get("ecomind-bootstrap:manageSubjectTemplate")] == ["prod"]


def test_each_environment_gets_its_own_accounts_state_backend():
    """Each environment's PULUMI_BACKEND_URL (a secret, so the plan shows where it comes from, not
    its value) is this account's state bucket, or its copy for a recovery stack."""
    from offline.plan import plan_bootstrap

    for account_stack in ("dev", "prod"):
        plan = plan_bootstrap(stack=account_stack)
        buckets = {r.urn: r.name for r in plan.of_type("aws:s3/bucket:Bucket")}
        backends = {s.inputs["environment"]: {buckets[u] for u in s.property_dependencies.get("plaintextValue", [])
                                              if u in buckets}
                    for s in plan.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
                    if s.inputs["secretName"] == "PULUMI_BACKEND_URL"}
        templates = plan.of_type("github:index/actionsRepositoryOidcSubjectClaimCustomizationTemplate:"
                                 "ActionsRepositoryOidcSubjectClaimCustomizationTemplate")
        assert len(templates) == (account_stack == "prod")
        state, copy = {"ecomind-state"}, {"ecomind-state-copy"}
        assert backends == ({"dev": state, "dev-preview": state} if account_stack == "dev" else
                            {"prod": state, "prod-preview": state, "prod-dr": copy, "prod-dr-preview": copy})
