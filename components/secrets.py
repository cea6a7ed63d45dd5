"""EcoMind's application secrets in Secrets Manager, generated here and never written anywhere else."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.args import SECRET_PREFIX, SECRET_PREFIX_RULE, check_account_id, check_name, check_tags
from components.encryption import EncryptionKey, EncryptionKeyArgs

# 64 characters from [A-Za-z0-9]: about 381 bits, above HS256's 256-bit key size and safe in
# any environment variable or URL without escaping.
GENERATED_SECRET_LENGTH = 64
# Days a deleted secret can still be restored (Secrets Manager allows 7 to 30).
RECOVERY_WINDOW_DAYS = {True: 30, False: 7}


@dataclasses.dataclass(frozen=True)
class ApplicationSecretsArgs:
    prefix: str
    """Secret names start with this path (for example ecomind/prod/)."""
    account_id: pulumi.Input[str]
    """AWS account the secrets key's policy is scoped to."""
    tags: Mapping[str, str]
    """Stack tags, applied to the key and every secret (with Name)."""
    protect: bool = False
    """Prod: `protect` on the key and secrets and a 30-day recovery window for a deleted secret; the
    default (dev) leaves them deletable, with the shortest window Secrets Manager allows (7 days)."""

    def __post_init__(self) -> None:
        check_name(self, "prefix", SECRET_PREFIX, SECRET_PREFIX_RULE)
        check_account_id(self)
        check_tags(self)


class ApplicationSecrets(pulumi.ComponentResource):
    """The secrets key, plus the generated secrets the services read through External Secrets."""

    key_arn: pulumi.Output[str]
    """CMK that encrypts every EcoMind secret (application, cache, database credentials)."""
    jwt_secret_arn: pulumi.Output[str]
    """JWT signing secret of the api (JWT_SECRET)."""
    gateway_hmac_secret_arn: pulumi.Output[str]
    """Request signing secret of the gateway (GATEWAY_HMAC_SECRET)."""

    def __init__(self, name: str, args: ApplicationSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:security:ApplicationSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = EncryptionKey(f"{name}-key", EncryptionKeyArgs(
            description=f"Encrypts the secrets under {args.prefix}", account_id=args.account_id,
            tags=args.tags, protect=args.protect), opts=child)
        self.key_arn = key.key_arn
        self.jwt_secret_arn = self.generated(name, "jwt-secret", "JWT signing key of the api", args)
        self.gateway_hmac_secret_arn = self.generated(name, "gateway-hmac-secret",
                                                      "Request signing key of the gateway", args)
        self.register_outputs({"key_arn": self.key_arn, "jwt_secret_arn": self.jwt_secret_arn,
                               "gateway_hmac_secret_arn": self.gateway_hmac_secret_arn})

    def generated(self, name: str, purpose: str, description: str, args: ApplicationSecretsArgs
                  ) -> pulumi.Output[str]:
        value = random.RandomPassword(f"{name}-{purpose}", length=GENERATED_SECRET_LENGTH, special=False,
                                      opts=pulumi.ResourceOptions(parent=self))
        return store_secret(f"{name}-{purpose}", f"{args.prefix}{purpose}", description, value.result,
                            key_arn=self.key_arn, tags=args.tags, protect=args.protect, parent=self)


def store_secret(name: str, secret_name: str, description: str, value: pulumi.Input[str], *,
                 key_arn: pulumi.Input[str], tags: Mapping[str, str], protect: bool,
                 parent: pulumi.Resource) -> pulumi.Output[str]:
    """A Secrets Manager secret under the given CMK holding `value`; returns its ARN."""
    secret = aws.secretsmanager.Secret(
        name, name=secret_name, description=description, kms_key_id=key_arn,
        recovery_window_in_days=RECOVERY_WINDOW_DAYS[protect], tags={**tags, "Name": secret_name},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect))
    aws.secretsmanager.SecretVersion(
        name, secret_id=secret.id, secret_string=pulumi.Output.secret(value),
        opts=pulumi.ResourceOptions(parent=parent))
    return secret.arn
