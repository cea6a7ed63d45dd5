"""A customer-managed KMS key with rotation, an alias and an explicit key policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.args import check_account_id, check_tags, refuse
from components.naming import deploy_role_arn, stack_scoped

# Longest waiting period KMS allows before a scheduled deletion completes (KMS
# ScheduleKeyDeletion API: 7 to 30 days): the most time to notice and cancel a mistake.
KEY_DELETION_WINDOW_DAYS = 30
# KMS CreateKey, Description length limit.
KMS_DESCRIPTION_MAX_CHARS = 8192


@dataclasses.dataclass(frozen=True)
class EncryptionKeyArgs:
    description: str
    """The key's KMS description: what it encrypts, for whoever audits the account's keys."""
    account_id: pulumi.Input[str]
    """AWS account whose root principal administers the key (the key policy's account statement)."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key (with Name)."""
    service_statements: Sequence[pulumi.Input[docs.Document | list[docs.Document]]] = ()
    """Key-policy statements for the services that use the key (CloudWatch Logs, Auto Scaling...);
    the default grants only the account statement."""
    protect: bool = False
    """Pulumi `protect` on the key (on in prod); unprotected, a deleted key stays recoverable for the
    KMS deletion window (KEY_DELETION_WINDOW_DAYS)."""
    deferred_policy: bool = False
    """The owner calls `attach_policy` once the resources its grants name exist (the key is
    created with AWS's default policy, which is the account statement alone)."""
    region: str | None = None
    """A region other than the stack's to create the key in (a CloudFront-scope WAF's logs live in
    us-east-1); None: the stack's."""

    def __post_init__(self) -> None:
        if not isinstance(self.description, str) or len(self.description) > KMS_DESCRIPTION_MAX_CHARS:
            refuse(self, "description", f"expected a string of at most {KMS_DESCRIPTION_MAX_CHARS} characters")
        check_account_id(self)
        check_tags(self)
        if self.deferred_policy and self.service_statements:
            refuse(self, "service_statements", "expected none with deferred_policy: pass them to attach_policy "
                   "instead, or they are never attached")


class EncryptionKey(pulumi.ComponentResource):
    """One CMK for one purpose, so that revoking or auditing a use is a single key."""

    key_arn: pulumi.Output[str]
    """ARN of the key."""
    alias_name: pulumi.Output[str]
    """The key's alias (`alias/<project>-<stack>-<name>`: aliases are unique per account and region)."""

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:security:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._name, self._account_id, self._protect, self._region = name, args.account_id, args.protect, args.region
        policy = None if args.deferred_policy else self._policy(args.service_statements)
        key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=policy,
            tags={**args.tags, "Name": name},
            region=args.region,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)),
        )
        alias = aws.kms.Alias(f"{name}-alias", name=f"alias/{stack_scoped(name)}", target_key_id=key.key_id,
                              region=args.region, opts=child)
        self._key_id = key.key_id
        self.key_arn = key.arn
        self.alias_name = alias.name
        self.register_outputs({"key_arn": self.key_arn, "alias_name": self.alias_name})

    def _policy(self, statements: Sequence[pulumi.Input[docs.Document | list[docs.Document]]]) -> pulumi.Output[str]:
        # Only the stack's deploy role may delete or disable a key it can destroy with the
        # stack (`pulumi destroy` of dev); a protected (prod) key, nobody.
        destroyers = [] if self._protect else [deploy_role_arn(self._account_id)]
        return pulumi.Output.json_dumps(docs.key_policy(self._account_id, statements, destroyers))

    def attach_policy(self, statements: Sequence[pulumi.Input[docs.Document | list[docs.Document]]]) -> None:
        """The key's full policy, for a key made with `deferred_policy`."""
        aws.kms.KeyPolicy(f"{self._name}-policy", key_id=self._key_id, policy=self._policy(statements),
                          region=self._region, opts=pulumi.ResourceOptions(parent=self))
