"""The IRSA helper, built alone: trust bound to exactly one service account."""

from __future__ import annotations

import pulumi

from components import policy_documents as docs
from components.irsa import OidcProvider, irsa_role_for
from tests.conftest import policy, run_component, statements

PROVIDER_ARN = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC123"


def build(**kwargs):
    def program():
        irsa_role_for("reports", OidcProvider(arn=PROVIDER_ARN, issuer=kwargs.pop("issuer", ISSUER)),
                      "ecomind", "api", tags={"project": "ecomind-infra"}, **kwargs)
    return run_component(program)


def test_trust_names_one_service_account_and_the_sts_audience_exactly():
    plan = build()
    [statement] = statements(policy(plan.one("aws:iam/role:Role"), "assumeRolePolicy"))
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:ecomind:api",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }},
    }


def test_an_issuer_given_as_a_url_still_yields_host_condition_keys():
    plan = build(issuer=f"https://{ISSUER}")
    [statement] = statements(policy(plan.one("aws:iam/role:Role"), "assumeRolePolicy"))
    assert set(statement["Condition"]["StringEquals"]) == {f"{ISSUER}:sub", f"{ISSUER}:aud"}


def test_role_carries_exactly_the_policies_it_is_given():
    bucket_policy = docs.document({"Effect": "Allow", "Action": ["s3:GetObject"],
                                   "Resource": "arn:aws:s3:::ecomind-reports/exports/*"})
    plan = build(managed_policy_arns=[docs.managed_policy_arn("AmazonEKS_CNI_Policy")],
                 inline_policies={"reports": pulumi.Output.from_input(bucket_policy)})
    [attachment] = plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    [inline] = plan.of_type("aws:iam/rolePolicy:RolePolicy")
    assert policy(inline, "policy") == bucket_policy
    role = plan.one("aws:iam/role:Role")
    assert role.urn in inline.dependencies and role.urn in attachment.dependencies


def test_children_are_named_after_the_component_and_parented_to_it():
    plan = build(inline_policies={"reports": docs.document()})
    component = plan.one("ecomind:iam:ServiceAccountRole", "reports")
    children = plan.children_of(component.urn)
    assert {c.name for c in children} == {"reports-role", "reports-reports"}
    assert component.urn == "urn:pulumi:unit::ecomind-infra::ecomind:iam:ServiceAccountRole::reports"
    assert children[0].urn.startswith(
        "urn:pulumi:unit::ecomind-infra::ecomind:iam:ServiceAccountRole$aws:iam/role")


def test_cluster_irsa_roles_are_each_bound_to_their_own_service_account(stack_plan):
    expected = {"cluster-vpc-cni-role": "system:serviceaccount:kube-system:aws-node",
                "cluster-ebs-csi-role": "system:serviceaccount:kube-system:ebs-csi-controller-sa"}
    for name, subject in expected.items():
        [statement] = statements(policy(stack_plan.one("aws:iam/role:Role", name), "assumeRolePolicy"))
        condition = statement["Condition"]["StringEquals"]
        assert [v for k, v in condition.items() if k.endswith(":sub")] == [subject]
        assert [v for k, v in condition.items() if k.endswith(":aud")] == ["sts.amazonaws.com"]
        assert statement["Principal"]["Federated"] == stack_plan.outputs["oidcProviderArn"]
