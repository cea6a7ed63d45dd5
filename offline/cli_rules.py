"""The checks the real Pulumi CLI makes on this repository's files, ported as a rule book.

Not a second CLI: each function checks one file against the rules the CLI applies when it loads
it, and names the source it was read from (pulumi/pulumi at 1b59498, 2026-08-21, v3.259+14;
the workflows pin 3.272.0, so a rule changed since then is a rule to re-read). Each returns the
problems it finds, one line each; tests/test_cli_rules.py runs them over every project, stack
and policy-pack file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

SOURCE = "pulumi/pulumi@1b59498"
# sdk/go/common/workspace/project.json: a config declaration's keys, and its types.
DECLARATION_KEYS = {"type", "items", "description", "secret", "default", "value"}
CONFIG_TYPES = {"string", "integer", "boolean", "array", "object"}
# sdk/python/cmd/pulumi-language-python/main.go parseOptions: the Python runtime's options.
PYTHON_OPTIONS = {"virtualenv", "toolchain", "typechecker"}
PYTHON_TOOLCHAINS = {"pip", "poetry", "uv"}
PYTHON_TYPECHECKERS = {"mypy", "pyright"}
# sdk/go/common/workspace/project.go PolicyPackProject (and PluginProject's requiredPulumiVersion).
POLICY_PACK_KEYS = {"runtime", "version", "main", "description", "author", "website", "license",
                    "requiredPulumiVersion"}
# sdk/go/common/resource/config/key.go ParseKey: <namespace>:<name>, or the legacy
# <namespace>:config:<name>.
CONFIG_KEY = re.compile(r"[^:\s]+:(config:)?[^:\s]+")


class Yaml12Loader(yaml.SafeLoader):
    """YAML as the CLI's Go decoder (YAML 1.2) reads it: only true and false are booleans, so a
    stack value `yes` is the string "yes", which a boolean setting refuses."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))


def _load(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=Yaml12Loader) or {}
# The first CLI that takes each config type in Pulumi.yaml: `object` entered the schema in
# v3.186.0 (#20129) and value checking in v3.187.0 (#20132); the others are older than 3.100.
TYPE_SINCE = {"object": (3, 187, 0)}


def _runtime_problems(runtime: Any) -> Iterator[str]:
    """project.json `runtime`: a name, or {name, options} and nothing else; parseOptions."""
    if isinstance(runtime, str):
        return
    if not isinstance(runtime, dict) or "name" not in runtime or set(runtime) - {"name", "options"}:
        yield f"runtime: expected a name or {{name, options}} ({SOURCE} sdk/go/common/workspace/project.json)"
        return
    options = runtime.get("options") or {}
    if runtime["name"] == "python":
        for key in sorted(set(options) - PYTHON_OPTIONS):
            yield f"runtime.options.{key}: not an option of the Python runtime, ignored by the CLI ({SOURCE} main.go)"
        if "toolchain" in options and options["toolchain"] not in PYTHON_TOOLCHAINS:
            yield f"runtime.options.toolchain = {options['toolchain']!r}: unsupported toolchain option ({SOURCE})"
        if "typechecker" in options and options["typechecker"] not in PYTHON_TYPECHECKERS:
            yield f"runtime.options.typechecker = {options['typechecker']!r}: unsupported typechecker ({SOURCE})"


def value_problem(kind: str, value: Any, items: Mapping[str, Any] | None = None, *, stack_value: bool = True
                  ) -> str | None:
    """Whether `value` is one of `kind` as ValidateConfigValue takes it (sdk/go/common/workspace/
    project.go): a string setting takes any scalar; integers also as whole floats or signed digit
    strings (Atoi), booleans also as "true"/"false"; a stack value's array also as JSON text (a
    project default's is a list); each item is checked, arrays of arrays included."""
    if kind == "string":
        return None if isinstance(value, (str, int, float, bool)) else "expected a string"
    if kind == "integer":
        whole = isinstance(value, float) and value.is_integer()
        ok = (isinstance(value, int) and not isinstance(value, bool)) or whole or (
            isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value))
        return None if ok else "expected an integer"
    if kind == "boolean":
        return None if isinstance(value, bool) or value in ("true", "false") else "expected true or false"
    if kind == "array":
        if isinstance(value, str) and stack_value:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                return "expected an array"
        if not isinstance(value, list):
            return "expected an array"
        inner = items or {}
        return next((f"item {i}: {p}" for i, v in enumerate(value) if inner.get("type") and (
            p := value_problem(inner["type"], v, inner.get("items"), stack_value=stack_value))), None)
    if kind == "object":
        return None if isinstance(value, dict) else "expected an object"
    return f"unknown type {kind!r}"


def project_problems(path: Path, cli_version: tuple[int, int, int]) -> list[str]:
    """Pulumi.yaml against project.json and Project.Validate (sdk/go/common/workspace/project.go)."""
    data = _load(path)
    problems = []
    if not isinstance(data.get("name"), str) or not data["name"]:
        problems.append(f"name: a non-empty string is required ({SOURCE} project.go ValidateProject)")
    problems += list(_runtime_problems(data.get("runtime")))
    project = data.get("name", "")
    for key, spec in (data.get("config") or {}).items():
        where = f"config.{key}"
        namespaced = ":" not in key or key.split(":", 1)[0] == project
        if not isinstance(spec, dict):
            continue  # a plain value
        if set(spec) - DECLARATION_KEYS:
            problems.append(f"{where}: keys {sorted(set(spec) - DECLARATION_KEYS)} are not allowed (project.json)")
        if not namespaced and ("type" in spec or "default" in spec or "value" not in spec):
            problems.append(f"{where}: another namespace's key takes a value only, no type or default "
                            f"({SOURCE} project.go Project.Validate)")
        kind = spec.get("type")
        if kind is not None and kind not in CONFIG_TYPES:
            problems.append(f"{where}: type {kind!r} is none of {sorted(CONFIG_TYPES)} (project.json)")
        if "description" in spec and not isinstance(spec["description"], str):
            problems.append(f"{where}: description must be a string (project.json)")
        if "secret" in spec and not isinstance(spec["secret"], bool):
            problems.append(f"{where}: secret must be true or false (project.json)")
        if kind in TYPE_SINCE and cli_version < TYPE_SINCE[kind]:
            problems.append(f"{where}: type {kind} needs CLI {'.'.join(map(str, TYPE_SINCE[kind]))} or later")
        if kind == "array" and "items" not in spec:
            problems.append(f"{where}: an array declares its items (Project.Validate)")
        if "default" in spec and "value" in spec:
            problems.append(f"{where}: default and value together (Project.Validate)")
        problem = value_problem(kind, spec["default"], spec.get("items"), stack_value=False) if (
            kind in CONFIG_TYPES and "default" in spec) else None
        if problem:
            problems.append(f"{where}: default {spec['default']!r}: {problem} (ValidateConfigValue)")
    return problems


def stack_problems(stack_file: Path, project_file: Path) -> list[str]:
    """Pulumi.<stack>.yaml's config against ParseKey and the project's typed declarations
    (pkg/workspace/config.go validateStackConfigValues)."""
    project = _load(project_file)
    name = project.get("name", "")
    declared = {(k if ":" in k else f"{name}:{k}"): v for k, v in (project.get("config") or {}).items()
                if isinstance(v, dict) and "type" in v}
    problems = []
    for key, value in (_load(stack_file).get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if not CONFIG_KEY.fullmatch(full):
            problems.append(f"{key}: not a <namespace>:<name> key ({SOURCE} sdk/go/common/resource/config/key.go)")
            continue
        if value is None:
            problems.append(f"{key}: no value (the CLI warns and passes nothing; checkForEmptyConfig)")
            continue
        spec = declared.get(full)
        secure = isinstance(value, dict) and set(value) == {"secure"}
        if spec is None:
            continue
        if spec.get("secret") and not secure:
            problems.append(f"{key}: declared secret, so the stack file holds it as secure: "
                            "(validateStackConfigValues)")
        elif not secure and (p := value_problem(spec["type"], value, spec.get("items"))):
            problems.append(f"{key} = {value!r}: {p} (declared {spec['type']}; validateStackConfigValues)")
    return problems


def policy_pack_problems(path: Path) -> list[str]:
    """PulumiPolicy.yaml as LoadPolicyPack reads it: runtime required, and only the pack's keys (the
    CLI ignores any other, silently)."""
    data = _load(path)
    problems = [] if data.get("runtime") else [f"runtime: required ({SOURCE} project.go PolicyPackProject.Validate)"]
    problems += [f"{key}: not a policy pack key (ignored by the CLI)" for key in sorted(set(data) - POLICY_PACK_KEYS)]
    return problems + (list(_runtime_problems(data["runtime"])) if data.get("runtime") else [])
