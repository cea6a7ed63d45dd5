"""One account per environment (docs/adr/0024), judged from the plans of everything in prod's
account: prod's bootstrap, prod and prod-dr.

Who can read prod's state, decrypt its state and secrets-provider keys, or reach it at all is
derived from the plans' own documents: every trust and resource policy, and every role's managed
and inline policies. The AWS managed policies have no text offline; what each grants on S3
objects and KMS decryption is written below from their published documents.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re

import pytest

from components.load_balancer import LOG_DELIVERY_ACCOUNTS
from offline.plan import plan_bootstrap
from tests.conftest import account, planned, statements
from tests.conftest import as_list as listed

PROD = account("prod")
BUCKET = "aws:s3/bucket:Bucket"
ROLE = "aws:iam/role:Role"
# What each AWS managed policy the plans attach grants on every S3 object and on kms:Decrypt of any
# key (IAM user guide, "AWS managed policies for job functions": ReadOnlyAccess has s3:Get* and
# kms:Describe*/Get*/List*, no kms:Decrypt; PowerUserAccess has every action outside IAM and
# Organizations). Any other managed policy the plans attach grants neither (the EKS, ECR and CNI
# policies name no S3 object read or KMS decryption on "*"); a new one fails the test until added.
MANAGED = {"ReadOnlyAccess": {"s3_read": True, "kms_decrypt": False},
           "PowerUserAccess": {"s3_read": True, "kms_decrypt": True}}
NEITHER = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy",
           "AmazonEKSClusterPolicy", "AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy",
           "AmazonEC2ContainerRegistryPullOnly", "AmazonEKSVPCResourceController", "AmazonRDSEnhancedMonitoringRole",
           "AmazonEBSCSIDriverPolicy")
_ACCOUNT = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


@functools.cache
def prod_account_plans() -> dict:
    return {"bootstrap-prod": plan_bootstrap(stack="prod"), "prod": planned("prod"), "prod-dr": planned("prod-dr")}


def policies(plan, resource) -> list[dict]:
    """The identity policies of `resource` (a role): its inline ones, as the plan has them."""
    return [json.loads(p.inputs["policy"]) for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")
            if resource.urn in p.property_dependencies.get("role", [])]


def managed(plan, role) -> list[str]:
    attached = [a.inputs["policyArn"] for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if role.urn in a.property_dependencies.get("role", [])]
    return [arn.rsplit("/", 1)[-1] for arn in [*attached, *(role.inputs.get("managedPolicyArns") or [])]]


def allows(documents: list[dict], action: str, resource: str) -> bool:
    for document in documents:
        for s in statements(document):
            if s.get("Effect") == "Allow" and any(fnmatch.fnmatchcase(action, a) for a in listed(s.get("Action", []))) \
                    and any(fnmatch.fnmatchcase(resource, r) for r in listed(s.get("Resource", []))):
                return True
    return False


def denied_by_bucket(bucket_policy: dict, role_arn: str, action: str, obj: str) -> bool:
    for s in statements(bucket_policy):
        principal = s.get("Principal")
        # "*" is the TLS-only statement, whose condition a CI role's HTTPS call never meets.
        if s.get("Effect") != "Deny" or not isinstance(principal, dict) or role_arn not in listed(
                principal.get("AWS", [])):
            continue
        if action not in listed(s["Action"]):
            continue
        if "NotResource" in s and not any(fnmatch.fnmatchcase(obj, r) for r in listed(s["NotResource"])):
            return True
        if "Resource" in s and any(fnmatch.fnmatchcase(obj, r) for r in listed(s["Resource"])):
            return True
    return False


def readers(action_s3: str = "s3:GetObjectVersion") -> tuple[set[str], set[str]]:
    """(roles that may read prod's checkpoint object in some version, roles that may decrypt with
    the state and secrets-provider keys), over every role of prod's account."""
    bootstrap = prod_account_plans()["bootstrap-prod"]
    bucket = bootstrap.one(BUCKET, "ecomind-state")
    policy = json.loads(bootstrap.one("aws:s3/bucketPolicy:BucketPolicy", "ecomind-state").inputs["policy"])
    checkpoint = f"{bucket.arn}/.pulumi/stacks/ecomind-infra/prod.json"
    # The state key, and both secrets-provider keys (the multi-Region one is what the stack files name).
    keys = [bootstrap.one("aws:kms/key:Key", k).arn for k in ("ecomind-state", "ecomind-secrets", "ecomind-secrets-mr")]
    read, decrypt = set(), set()
    for plan in prod_account_plans().values():
        for role in plan.of_type(ROLE):
            names = managed(plan, role)
            unknown = set(names) - set(MANAGED) - set(NEITHER)
            assert not unknown, f"{role.name} attaches {unknown}: say what it grants in MANAGED or NEITHER"
            inline = policies(plan, role)
            label = role.inputs.get("name") or role.name
            if (any(MANAGED.get(n, {}).get("s3_read") for n in names) or allows(inline, action_s3, checkpoint)) \
                    and not denied_by_bucket(policy, role.arn, action_s3, checkpoint):
                read.add(label)
            if any(MANAGED.get(n, {}).get("kms_decrypt") for n in names) or any(
                    allows(inline, "kms:Decrypt", key) for key in keys):
                decrypt.add(label)
    return read, decrypt


def test_only_prods_own_deploy_and_drift_roles_read_prods_checkpoint():
    """In any version; the state's replication role reads versions for replication only
    (s3:GetObjectVersionForReplication), and the break-glass administrator is outside the plans."""
    read, _ = readers()
    assert read == {"ecomind-infra-prod-deploy", "ecomind-infra-prod-preview"}


def test_a_plain_read_is_held_to_the_same_roles_as_a_versioned_one():
    assert readers("s3:GetObject")[0] == readers("s3:GetObjectVersion")[0]


def test_only_prods_own_ci_roles_decrypt_with_its_state_and_secrets_keys():
    """prod's preview (drift) role decrypts through its inline state policy, since the CLI needs
    the stack's data key on every preview; prod-dr's deploy role through PowerUserAccess in the
    same account (its own keys are the copies'); the state's replication role, which only S3 may
    assume, to copy the state to drRegion. Nothing of dev's account is in this account."""
    _, decrypt = readers()
    assert decrypt == {"ecomind-infra-prod-deploy", "ecomind-infra-prod-preview", "ecomind-infra-prod-dr-deploy",
                       "ecomind-state-replication"}
    bootstrap = prod_account_plans()["bootstrap-prod"]
    trust = json.loads(bootstrap.one(ROLE, "ecomind-state-replication").inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in statements(trust)] == [{"Service": "s3.amazonaws.com"}]


def test_only_prods_deploy_roles_and_the_secret_store_read_its_secrets():
    """secretsmanager:GetSecretValue on prod's secrets: PowerUserAccess has it, ReadOnlyAccess does
    not (AWS managed policy texts); of the stack's own roles only External Secrets' reads them,
    each by ARN."""
    prod = prod_account_plans()["prod"]
    secrets = [s.arn for s in prod.of_type("aws:secretsmanager/secret:Secret")]
    assert secrets
    found = set()
    for plan in prod_account_plans().values():
        for role in plan.of_type(ROLE):
            names = managed(plan, role)
            if "PowerUserAccess" in names or any(allows(policies(plan, role), "secretsmanager:GetSecretValue", arn)
                                                 for arn in secrets):
                found.add(role.inputs.get("name") or role.name)
    assert found == {"ecomind-infra-prod-deploy", "ecomind-infra-prod-dr-deploy", "services-external-secrets-role"}


@pytest.mark.parametrize("label", ["bootstrap-prod", "prod", "prod-dr"])
def test_no_policy_in_prods_account_names_another_accounts_principal(label):
    """Trust and resource policies name principals of prod's account only (or AWS services): no
    dev role, nobody's root. A cross-account principal is how isolation leaks back."""
    plan = prod_account_plans()[label]
    fields = {"aws:iam/role:Role": "assumeRolePolicy", "aws:s3/bucketPolicy:BucketPolicy": "policy",
              "aws:kms/key:Key": "policy", "aws:sns/topicPolicy:TopicPolicy": "policy",
              "aws:secretsmanager/secretPolicy:SecretPolicy": "policy", "aws:ecr/repositoryPolicy:RepositoryPolicy":
              "policy"}
    others = []
    for resource in plan.resources:
        field = fields.get(resource.type)
        if not field or not isinstance(resource.inputs.get(field), str):
            continue
        for s in statements(json.loads(resource.inputs[field])):
            principal = s.get("Principal")
            arns = listed(principal.get("AWS", [])) if isinstance(principal, dict) else []
            # Elastic Load Balancing's own account per region writes the ALB's access logs (the
            # only cross-account principal, AWS's: components/load_balancer.py LOG_DELIVERY_ACCOUNTS).
            others += [(resource.name, a) for a in arns if (m := _ACCOUNT.match(a))
                       and m.group(1) not in {PROD, *LOG_DELIVERY_ACCOUNTS.values()}]
    assert others == []


def test_prods_github_trusts_answer_only_its_environments_never_a_pull_request_or_the_merge_queue():
    subjects = []
    for plan in prod_account_plans().values():
        for role in plan.of_type(ROLE):
            for s in statements(json.loads(role.inputs["assumeRolePolicy"])):
                if s.get("Action") == "sts:AssumeRoleWithWebIdentity":
                    for test in ("StringEquals", "StringLike"):
                        subjects += listed((s["Condition"].get(test) or {}).get(
                            "token.actions.githubusercontent.com:sub", []))
    assert subjects, "prod's account trusts GitHub's OIDC for its CI roles"
    for subject in subjects:
        assert "gh-readonly-queue" not in subject and ":pull_request" not in subject, subject
        assert re.search(r":environment:prod(-dr)?(-preview)?:", subject), subject
