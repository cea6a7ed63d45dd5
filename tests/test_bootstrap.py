"""The bootstrap project (bootstrap/), built under mocks: state bucket, keys, OIDC and CI roles."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import PROJECT_DIR, run_component

sys.path.insert(0, str(PROJECT_DIR / "bootstrap"))

from foundation import Foundation, FoundationArgs

REPO = "ecomind/ecomind-infra"


@pytest.fixture(scope="module")
def plan():
    return run_component(lambda: Foundation("ecomind", FoundationArgs(
        account_id="111122223333", repository=REPO, state_bucket_name="ecomind-state", noncurrent_state_days=90,
        first_deploy_role_arns=[OPERATOR])))


OPERATOR = "arn:aws:iam::111122223333:role/ecomind-platform-admin"


def trust(plan, name):
    """The role's GitHub OIDC statement."""
    [statement] = [s for s in json.loads(plan.one("aws:iam/role:Role", name).inputs["assumeRolePolicy"])["Statement"]
                   if s["Action"] == "sts:AssumeRoleWithWebIdentity"]
    return statement


def test_state_bucket_is_private_versioned_encrypted_tls_only_and_protected(plan):
    bucket = plan.one("aws:s3/bucket:Bucket")
    assert bucket.protect and bucket.inputs["bucket"] == "ecomind-state" and bucket.inputs["forceDestroy"] is False
    block = plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert plan.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    encryption = plan.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"]
    [lifecycle] = plan.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    [deny] = json.loads(plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_secrets_provider_key_rotates_and_is_protected(plan):
    keys = plan.of_type("aws:kms/key:Key")
    assert len(keys) == 2 and all(k.protect and k.inputs["enableKeyRotation"] for k in keys)
    aliases = {a.inputs["name"] for a in plan.of_type("aws:kms/alias:Alias")}
    assert aliases == {"alias/ecomind-pulumi-state", "alias/ecomind-pulumi-secrets"}


def test_github_oidc_provider(plan):
    provider = plan.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert provider["url"] == "https://token.actions.githubusercontent.com"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]


def test_preview_role_trusts_only_pull_requests_of_the_repository_and_reads(plan):
    statement = trust(plan, "ecomind-preview")
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPO}:pull_request"}}
    attached = [a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.name.startswith("ecomind-preview")]
    assert attached == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    state = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "ecomind-preview-state").inputs["policy"])
    actions = {a for s in state["Statement"] for a in s["Action"]}
    assert not actions & {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt"}


def test_deploy_role_trusts_only_the_dev_and_prod_environments_exactly(plan):
    statement = trust(plan, "ecomind-deploy")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [f"repo:{REPO}:environment:dev", f"repo:{REPO}:environment:prod"]}}
    assert "StringLike" not in json.dumps(statement)


def test_only_the_named_operators_may_assume_the_deploy_role_for_a_first_deployment(plan):
    """The first `up` of a stack runs as the deploy role, so that the role is the cluster's
    creator and keeps its admin entry (docs/adr/0011); nobody may assume the preview role."""
    deploy = json.loads(plan.one("aws:iam/role:Role", "ecomind-deploy").inputs["assumeRolePolicy"])["Statement"]
    operators = [s for s in deploy if s["Action"] == "sts:AssumeRole"]
    assert operators == [{"Sid": "FirstDeploymentOperators", "Effect": "Allow", "Principal": {"AWS": [OPERATOR]},
                          "Action": "sts:AssumeRole"}]
    preview = json.loads(plan.one("aws:iam/role:Role", "ecomind-preview").inputs["assumeRolePolicy"])["Statement"]
    assert [s["Action"] for s in preview] == ["sts:AssumeRoleWithWebIdentity"]


def test_ci_roles_have_the_names_the_stack_files_grant_cluster_access(plan):
    from tests.conftest import DEPLOY_ROLE_ARN, PREVIEW_ROLE_ARN, stack_settings

    names = {plan.one("aws:iam/role:Role", f"ecomind-{role}").inputs["name"] for role in ("deploy", "preview")}
    assert names == {"ecomind-infra-deploy", "ecomind-infra-preview"}
    for stack in ("dev", "prod"):
        cluster = stack_settings(stack).cluster
        assert cluster.creator_role_arn == DEPLOY_ROLE_ARN
        assert {a.principal_arn for a in cluster.access_entries if a.key == "ci-preview"} == {PREVIEW_ROLE_ARN}


def test_deploy_role_has_no_administrator_access(plan):
    attached = [a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" not in attached
    iam = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "ecomind-deploy-iam").inputs["policy"])
    assert all(not a.endswith(":*") and a != "*" for s in iam["Statement"] for a in s["Action"])


def test_bootstrap_project_file_declares_its_settings():
    import yaml
    project = yaml.safe_load((PROJECT_DIR / "bootstrap" / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert {"githubRepository", "stateBucketName"} <= set(project["config"])
