"""IAM roles for Kubernetes service accounts (IRSA)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import DNS_LABEL, DNS_SUBDOMAIN, check_name, check_tags, is_list, refuse
from components.naming import stack_role

# IAM ARN of a managed policy, AWS's or the account's own; the attachment is named after its last part.
MANAGED_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+")
# IAM PutRolePolicy, PolicyName pattern.
POLICY_NAME = re.compile(r"[\w+=,.@-]{1,128}")


@dataclasses.dataclass(frozen=True)
class OidcProvider:
    """The cluster's IAM OIDC identity provider, as IRSA trust policies need it."""

    arn: pulumi.Input[str]
    issuer: pulumi.Input[str]
    """Issuer URL without `https://` (the prefix of the `sub`/`aud` condition keys)."""


@dataclasses.dataclass(frozen=True)
class ServiceAccountRoleArgs:
    oidc: OidcProvider
    """The cluster's OIDC provider (`Cluster.oidc`), the one federated principal the role trusts."""
    namespace: str
    """Kubernetes namespace of the service account, pinned in the trust policy's `sub` condition."""
    service_account: str
    """Name of the service account that alone may assume the role."""
    tags: Mapping[str, str]
    """Stack tags, applied to the role (with Name and the namespace and service account)."""
    managed_policy_arns: Sequence[str] = ()
    """AWS-managed policies, for services whose upstream publishes one (VPC CNI, EBS CSI)."""
    inline_policies: Mapping[str, pulumi.Input[docs.Document]] = dataclasses.field(default_factory=dict)
    """Policies written for this role alone, by name."""

    def __post_init__(self) -> None:
        if not isinstance(self.oidc, OidcProvider):
            refuse(self, "oidc", "expected an OidcProvider (Cluster.oidc)")
        # A wrong name still builds, as a role no pod can ever assume.
        check_name(self, "namespace", DNS_LABEL, "expected a Kubernetes namespace name (an RFC 1123 label)")
        check_name(self, "service_account", DNS_SUBDOMAIN,
                   "expected a Kubernetes service account name (an RFC 1123 subdomain)")
        check_tags(self)
        if not is_list(self.managed_policy_arns) or not all(
                isinstance(arn, str) and MANAGED_POLICY_ARN.fullmatch(arn) for arn in self.managed_policy_arns):
            refuse(self, "managed_policy_arns", "expected IAM policy ARNs such as "
                   "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
        for policy_name in self.inline_policies:
            if not isinstance(policy_name, str) or not POLICY_NAME.fullmatch(policy_name):
                refuse(self, "inline_policies", "expected policy names of 1 to 128 letters, digits or +=,.@_- "
                       "(IAM PutRolePolicy)", value=policy_name)


class ServiceAccountRole(pulumi.ComponentResource):
    """A role that exactly one service account in one namespace can assume, with the
    policies it is given and nothing else."""

    role_arn: pulumi.Output[str]
    """ARN to put in the service account's `eks.amazonaws.com/role-arn` annotation."""
    role_name: pulumi.Output[str]
    """Name of the IAM role."""

    def __init__(self, name: str, args: ServiceAccountRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:iam:ServiceAccountRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The role lives in the account of the OIDC provider it trusts.
        account = pulumi.Output.from_input(args.oidc.arn).apply(lambda arn: arn.split(":")[4])
        role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA for {args.namespace}/{args.service_account}",
            **stack_role(account),
            assume_role_policy=pulumi.Output.json_dumps(docs.irsa_trust_policy(
                args.oidc.arn, args.oidc.issuer, args.namespace, args.service_account)),
            max_session_duration=3600,
            tags={**args.tags, "Name": name, "kubernetes-namespace": args.namespace,
                  "kubernetes-service-account": args.service_account},
            opts=child,
        )
        for policy_arn in args.managed_policy_arns:
            aws.iam.RolePolicyAttachment(f"{name}-{policy_arn.rsplit('/', 1)[-1]}", role=role.name,
                                         policy_arn=policy_arn, opts=child)
        for policy_name, policy in args.inline_policies.items():
            aws.iam.RolePolicy(f"{name}-{policy_name}", role=role.id, name=policy_name,
                               policy=pulumi.Output.json_dumps(policy), opts=child)
        self.role_arn = role.arn
        self.role_name = role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})


def irsa_role_for(name: str, oidc: OidcProvider, namespace: str, service_account: str, *,
                  tags: Mapping[str, str], managed_policy_arns: Sequence[str] = (),
                  inline_policies: Mapping[str, pulumi.Input[docs.Document]] | None = None,
                  opts: pulumi.ResourceOptions | None = None) -> ServiceAccountRole:
    """The role for `namespace/service_account`; the one way this project grants AWS access to pods."""
    return ServiceAccountRole(name, ServiceAccountRoleArgs(
        oidc=oidc, namespace=namespace, service_account=service_account, tags=tags,
        managed_policy_arns=tuple(managed_policy_arns), inline_policies=dict(inline_policies or {}),
    ), opts)
