"""Physical names that stay unique when several stacks share one AWS account and region.

Pulumi autonames a resource from its logical name plus a random suffix, so those never
collide. A name this program sets explicitly (a KMS alias, a log group, a CloudFront policy)
is the resource's identity in the account instead: dev and prod with the same literal name
make the second stack's `pulumi up` fail with AlreadyExists. Every explicit name is built
here, from the project and stack the engine runs, which is also what the program's URNs
carry.
"""

from __future__ import annotations

import pulumi


def stack_prefix() -> str:
    """`<project>-<stack>`, for example `ecomind-infra-dev`: the same for every name of a stack."""
    return f"{pulumi.get_project()}-{pulumi.get_stack()}"


def stack_scoped(name: str) -> str:
    """`name` qualified by project and stack: `ecomind-infra-dev-cdn-assets`."""
    return f"{stack_prefix()}-{name}"


def iam_path() -> str:
    """`/<project>/<stack>/`: the path of every IAM role the stack creates. The stack's deploy role
    may create and change roles under this path only (bootstrap/foundation.py)."""
    return f"/{pulumi.get_project()}/{pulumi.get_stack()}/"


def permissions_boundary_arn(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The permissions boundary the bootstrap creates for this stack; the deploy role may create a
    role only with it attached (its iam:PermissionsBoundary condition)."""
    return pulumi.Output.from_input(account_id).apply(
        lambda account: f"arn:aws:iam::{account}:policy{iam_path()}{stack_prefix()}-boundary")


def stack_role(account_id: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Arguments every `aws.iam.Role` of the stack takes: its path and its permissions boundary."""
    return {"path": iam_path(), "permissions_boundary": permissions_boundary_arn(account_id)}


def deploy_role_arn(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """The stack's CI deploy role, as the bootstrap names it (bootstrap/delivery.py)."""
    return pulumi.Output.from_input(account_id).apply(
        lambda account: f"arn:aws:iam::{account}:role/{stack_prefix()}-deploy")


def node_group_name(group: str) -> str:
    """An EKS managed node group's name: `<project>-<stack>-<group>` (EKS allows 63 characters)."""
    return stack_scoped(group)
