"""Stack configuration as the Pulumi CLI would hand it to the program.

Project-level defaults and values from `Pulumi.yaml`, then `Pulumi.<stack>.yaml` on top.
Values reach the program as strings (lists and maps as JSON), as the engine passes them.
`secure:` values cannot be decrypted offline: they become placeholders marked secret.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(Exception):
    """The project or stack file is malformed, in the way the CLI would refuse it."""


# What a stack file may hold at its top level (pulumi/pulumi sdk/go/common/workspace/project.go,
# ProjectStack at 1b59498): the CLI reads these and ignores anything else, silently. Of them this
# project refuses `encryptionsalt` (the passphrase provider) and `environment` (Pulumi ESC, which
# the s3 backend does not serve: pkg/cmd/pulumi/config/io.go errBackendNoEnvironments).
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "config")
REFUSED_STACK_FILE_KEYS = {
    "environment": "Pulumi ESC environments need Pulumi Cloud; the s3 backend refuses them: set values in config",
    "encryptionsalt": "that is the passphrase secrets provider; the stacks use the bootstrap's KMS key",
}
SECRETS_PROVIDER_URL = re.compile(r"awskms://(alias/[\w/-]+|[0-9a-f-]{36}|arn:aws[\w-]*:kms:[\w-]+:\d{12}:\S+)"
                                  r"\?region=[a-z]{2}(-[a-z]+)+-\d")


@dataclasses.dataclass(frozen=True)
class SecretsProvider:
    url: str
    """`secretsprovider:`, an awskms:// URL with its region."""
    encrypted_key: str
    """`encryptedkey:`, the data key as KMS encrypted it at `stack init`; empty before."""


def secrets_provider(stack_file: Path) -> SecretsProvider:
    """The stack file's secrets provider, refused in one line when the CLI would fall back to the
    passphrase provider (no `secretsprovider:`) or could not use it (pkg/cmd/pulumi/stack/secrets.go;
    pkg/secrets/cloud/manager.go: a non-empty encryptedkey must be the base64 of a KMS ciphertext)."""
    data = _read_yaml(stack_file)
    url, key = data.get("secretsprovider"), data.get("encryptedkey")
    if not isinstance(url, str) or not SECRETS_PROVIDER_URL.fullmatch(url):
        raise StackConfigError(f"{stack_file.name}: secretsprovider = {url!r}: expected the bootstrap's awskms:// "
                               "URL with ?region= (without it the CLI uses a passphrase and stops: 'passphrase must "
                               "be set')")
    if not isinstance(key, str):
        raise StackConfigError(f"{stack_file.name}: encryptedkey = {key!r}: expected the line `pulumi stack init "
                               "--secrets-provider` writes (or \"\" before the stack's first init)")
    if key:
        try:
            decoded = base64.b64decode(key, validate=True)
        except ValueError:
            decoded = b""
        if len(decoded) < 32:
            raise StackConfigError(f"{stack_file.name}: encryptedkey is not the base64 of a KMS ciphertext; put back "
                                   "the line `pulumi stack init` wrote, or \"\" to make a new data key")
    return SecretsProvider(url=url, encrypted_key=key)


@dataclasses.dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    secret_keys: list[str]
    declarations: dict[str, dict[str, Any]]
    """Project-level typed declarations from Pulumi.yaml, by full key."""


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _wire(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise StackConfigError(f"{path}: no such file") from None
    except yaml.YAMLError as error:
        raise StackConfigError(f"{path}: not valid YAML ({error.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise StackConfigError(f"{path}: expected a mapping at the top level")
    return data


def project_declarations(project_file: Path) -> tuple[str, dict[str, dict[str, Any]], dict[str, Any]]:
    """(project name, typed declarations by full key, project-level values by full key)."""
    project_data = _read_yaml(project_file)
    project = project_data.get("name")
    if not isinstance(project, str):
        raise StackConfigError(f"{project_file}: missing the project name")
    declarations: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for key, spec in (project_data.get("config") or {}).items():
        full_key = _full_key(project, key)
        if isinstance(spec, dict) and "type" in spec:
            declarations[full_key] = spec
            if "default" in spec:
                values[full_key] = spec["default"]
        elif isinstance(spec, dict) and "value" in spec:
            values[full_key] = spec["value"]
        else:
            values[full_key] = spec
    return project, declarations, values


def load(project_dir: Path, stack: str, stack_file: Path | None = None,
         overrides: Sequence[str] = ()) -> StackConfig:
    """The stack's config as the engine would pass it; `overrides` are `key=value` lines applied
    last, as `pulumi config set key value` would (lists as JSON)."""
    project, declarations, values = project_declarations(project_dir / "Pulumi.yaml")
    stack_file = stack_file or project_dir / f"Pulumi.{stack}.yaml"
    secret_keys: list[str] = []
    data = _read_yaml(stack_file)
    for key in data:
        if key in REFUSED_STACK_FILE_KEYS:
            raise StackConfigError(f"{stack_file.name}: '{key}' is refused: {REFUSED_STACK_FILE_KEYS[key]}")
        if key not in STACK_FILE_KEYS:
            raise StackConfigError(f"{stack_file.name}: '{key}' is not a stack file key (the CLI would ignore it); "
                                   f"expected {', '.join(STACK_FILE_KEYS)}")
    for key, value in (data.get("config") or {}).items():
        full_key = _full_key(project, key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = f"offline-placeholder-for-{full_key}"
            secret_keys.append(full_key)
        values[full_key] = value
    for line in overrides:
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise StackConfigError(f"--set {line!r}: expected key=value, such as databaseEngine=timescaledb")
        values[_full_key(project, key.strip())] = value
    for full_key in declarations:
        if full_key not in values:
            # The CLI's own wording for a declared key with no default and no stack value.
            raise StackConfigError(f"Stack '{stack}' is missing configuration value '{full_key.split(':', 1)[1]}'")
    return StackConfig(project=project, stack=stack, values={k: _wire(v) for k, v in values.items()},
                       secret_keys=secret_keys, declarations=declarations)
