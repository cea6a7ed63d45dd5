"""Stack configuration as the Pulumi CLI would hand it to the program.

Project-level defaults and values from `Pulumi.yaml`, then `Pulumi.<stack>.yaml` on top.
Values reach the program as strings (lists and maps as JSON), as the engine passes them.
`secure:` values cannot be decrypted offline: they become placeholders marked secret.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(Exception):
    """The project or stack file is malformed, in the way the CLI would refuse it."""


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
    for key, value in (_read_yaml(stack_file).get("config") or {}).items():
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
