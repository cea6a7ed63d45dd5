"""EcoMind's application secrets in Secrets Manager, generated here and never written anywhere else."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.args import (
    SECRET_PREFIX,
    SECRET_PREFIX_RULE,
    check_account_id,
    check_name,
    check_tags,
    refuse,
)
from components.encryption import EncryptionKey, EncryptionKeyArgs
from components.region_copies import CopyRegion

# 64 characters from [A-Za-z0-9]: about 381 bits, above HS256's 256-bit key size and safe in
# any environment variable or URL without escaping.
GENERATED_SECRET_LENGTH = 64
# Days a deleted secret can still be restored (Secrets Manager allows 7 to 30).
RECOVERY_WINDOW_DAYS = {True: 30, False: 7}
# The generated signing keys, by secret name under the prefix.
SIGNING_KEYS = ("jwt-secret", "gateway-hmac-secret")
# How each kind of generated secret rotates: the `rotation` tag every secret carries (the pack's
# secrets-rotation-path rule), each a procedure docs/DEPLOYMENT.md gives.
ROTATION_PROCEDURES = ("dual-key", "rotate-then-set", "manual")
SIGNING_KEY_COMMANDS = {"jwt-secret": "jwt", "gateway-hmac-secret": "gateway-hmac"}


def rotation_tag(procedure: str, how: str) -> str:
    """The `rotation` tag value: the procedure, then the command or runbook that runs it."""
    if procedure not in ROTATION_PROCEDURES:
        raise ValueError(f"unknown rotation procedure {procedure!r}: expected one of {ROTATION_PROCEDURES}")
    return f"{procedure}: {how}"


@dataclasses.dataclass(frozen=True)
class SecretReplicas:
    """Another stack's signing keys as replicated into this region (a recovery stack uses them, so
    that what the lost region signed still verifies). A replica keeps its primary's name (Secrets
    Manager user guide, "Replicate an AWS Secrets Manager secret to other AWS Regions"), and is
    read-only until promoted (StopReplicationToReplica, docs/DISASTER_RECOVERY.md)."""

    prefix: str
    """The source stack's secret prefix (ecomind/prod/)."""
    region: str
    """This stack's region, where the replicas are."""
    account_id: str
    key_arn: str
    """The source's dr-copies key in this region, which encrypts the replicas."""

    def __post_init__(self) -> None:
        check_name(self, "prefix", SECRET_PREFIX, SECRET_PREFIX_RULE)
        check_account_id(self)

    def reader_arn(self, purpose: str) -> str:
        """An IAM resource for exactly that secret: its name and any six-character suffix, the form
        IAM policies use for a secret whose full ARN is not known (Secrets Manager user guide,
        "Permissions policy examples")."""
        return f"arn:aws:secretsmanager:{self.region}:{self.account_id}:secret:{self.prefix}{purpose}-??????"


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
    key_generations: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Per signing key (SIGNING_KEYS), its generation (settings jwtKeyGeneration,
    gatewayHmacKeyGeneration); 1 when absent. Raising one by one rotates that key."""
    copies: CopyRegion | None = None
    """Replicate every secret to this region under its key (setting drRegion); None: no replicas."""
    replicas_of: SecretReplicas | None = None
    """A recovery stack: read the signing keys from the source stack's replicas here instead of
    generating new ones (which would sign every user out and refuse every signed request)."""

    def __post_init__(self) -> None:
        check_name(self, "prefix", SECRET_PREFIX, SECRET_PREFIX_RULE)
        if self.replicas_of and self.replicas_of.prefix == self.prefix:
            refuse(self, "replicas_of", "expected another stack's prefix: a stack does not recover from itself")
        check_account_id(self)
        check_tags(self)
        for key, generation in self.key_generations.items():
            if key not in SIGNING_KEYS or not isinstance(generation, int) or isinstance(generation, bool) \
                    or generation < 1:
                refuse(self, "key_generations", f"expected generations of {', '.join(SIGNING_KEYS)}, "
                       "each a whole number from 1")


class ApplicationSecrets(pulumi.ComponentResource):
    """The secrets key, plus the generated secrets the services read through External Secrets."""

    key_arn: pulumi.Output[str]
    """CMK that encrypts every EcoMind secret (application, cache, database credentials)."""
    jwt_secret_arn: pulumi.Output[str]
    """JWT signing secret of the api (JWT_SECRET)."""
    gateway_hmac_secret_arn: pulumi.Output[str]
    """Request signing secret of the gateway (GATEWAY_HMAC_SECRET)."""
    replica_key_arns: list[str]
    """Keys beyond `key_arn` that readers of these secrets decrypt with: the source's replica key in
    a recovery stack, else none."""
    refs: dict[str, pulumi.Output[str]]
    """Per signing key (SIGNING_KEYS), what External Secrets names it by: its ARN, or a replica's
    name (GetSecretValue's SecretId takes either). The `*_arn` attributes are IAM resources."""

    def __init__(self, name: str, args: ApplicationSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ecomind:security:ApplicationSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = EncryptionKey(f"{name}-key", EncryptionKeyArgs(
            description=f"Encrypts the secrets under {args.prefix}", account_id=args.account_id,
            tags=args.tags, protect=args.protect), opts=child)
        self.key_arn = key.key_arn
        replicas = args.replicas_of
        self.replica_key_arns = [replicas.key_arn] if replicas else []
        if replicas:
            self.refs = {purpose: pulumi.Output.from_input(f"{replicas.prefix}{purpose}") for purpose in SIGNING_KEYS}
            self.jwt_secret_arn, self.gateway_hmac_secret_arn = (
                pulumi.Output.from_input(replicas.reader_arn(purpose)) for purpose in SIGNING_KEYS)
        else:
            self.jwt_secret_arn = self.signing_key(name, "jwt-secret", "JWT signing keys of the api", args)
            self.gateway_hmac_secret_arn = self.signing_key(name, "gateway-hmac-secret",
                                                            "Request signing keys of the gateway", args)
            self.refs = {"jwt-secret": self.jwt_secret_arn, "gateway-hmac-secret": self.gateway_hmac_secret_arn}
        self.register_outputs({"key_arn": self.key_arn, "jwt_secret_arn": self.jwt_secret_arn,
                               "gateway_hmac_secret_arn": self.gateway_hmac_secret_arn})

    def signing_key(self, name: str, purpose: str, description: str, args: ApplicationSecretsArgs
                    ) -> pulumi.Output[str]:
        """The secret {"current", "previous", "generation"}: services sign with current and accept
        both, so raising the generation rotates the key without rejecting what the previous one
        signed. Two slots hold the latest odd and the latest even generation; a new generation
        replaces only its own slot (pulumi-random replaces a value when its keepers change), so the
        other slot is the previous key."""
        generation = args.key_generations.get(purpose, 1)
        slots = {parity: random.RandomPassword(
            f"{name}-{purpose}-{parity}", length=GENERATED_SECRET_LENGTH, special=False,
            keepers={"generation": str(latest)}, opts=pulumi.ResourceOptions(parent=self))
            for parity, latest in latest_generations(generation).items()}
        current, previous = ("odd", "even") if generation % 2 else ("even", "odd")
        value = pulumi.Output.json_dumps({"current": slots[current].result, "previous": slots[previous].result,
                                          "generation": generation})
        return store_secret(f"{name}-{purpose}", f"{args.prefix}{purpose}", description, value,
                            key_arn=self.key_arn, tags=args.tags, protect=args.protect, parent=self, copies=args.copies,
                            rotation=rotation_tag("dual-key",
                                                  f"make rotate-secret SECRET={SIGNING_KEY_COMMANDS[purpose]}"))


def latest_generations(generation: int) -> dict[str, int]:
    """The latest odd and even generations up to `generation` (0: none yet)."""
    other = generation - 1
    return {"odd": generation, "even": other} if generation % 2 else {"odd": other, "even": generation}


def store_secret(name: str, secret_name: str, description: str, value: pulumi.Input[str], *,
                 key_arn: pulumi.Input[str], tags: Mapping[str, str], protect: bool,
                 parent: pulumi.Resource, rotation: str, copies: CopyRegion | None = None) -> pulumi.Output[str]:
    """A Secrets Manager secret under the given CMK holding `value`; returns its ARN. `rotation`
    (`rotation_tag`) says how it rotates, as its `rotation` tag. With `copies`, Secrets Manager
    keeps a replica in that region under its key, updated with every new version (Secrets Manager
    user guide, "Replicate secrets across Regions")."""
    secret = aws.secretsmanager.Secret(
        name, name=secret_name, description=description, kms_key_id=key_arn,
        replicas=[aws.secretsmanager.SecretReplicaArgs(region=copies.region, kms_key_id=copies.key_arn)]
        if copies else None,
        recovery_window_in_days=RECOVERY_WINDOW_DAYS[protect],
        tags={**tags, "Name": secret_name, "rotation": rotation},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect))
    aws.secretsmanager.SecretVersion(
        name, secret_id=secret.id, secret_string=pulumi.Output.secret(value),
        opts=pulumi.ResourceOptions(parent=parent))
    return secret.arn
