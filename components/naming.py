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
