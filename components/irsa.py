"""IAM roles for Kubernetes service accounts (IRSA)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs


@dataclasses.dataclass(frozen=True)
class OidcProvider:
    """The cluster's IAM OIDC identity provider, as IRSA trust policies need it."""

    arn: pulumi.Input[str]
    issuer: pulumi.Input[str]
    """Issuer URL without `https://` (the prefix of the `sub`/`aud` condition keys)."""


@dataclasses.dataclass(frozen=True)
class ServiceAccountRoleArgs:
    oidc: OidcProvider
    namespace: str
    service_account: str
    tags: Mapping[str, str]
    managed_policy_arns: Sequence[str] = ()
    """AWS-managed policies, for services whose upstream publishes one (VPC CNI, EBS CSI)."""
    inline_policies: Mapping[str, pulumi.Input[docs.Document]] = dataclasses.field(default_factory=dict)
    """Policies written for this role alone, by name."""


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
        role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA for {args.namespace}/{args.service_account}",
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
