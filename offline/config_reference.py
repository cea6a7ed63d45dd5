"""The configuration and stack-output references, rendered from their registries.

    python -m offline.config_reference            # print the README tables
    python -m offline.config_reference --write    # rewrite Pulumi.yaml's config block and README.md's tables

Settings come from `settings.SETTINGS`; stack outputs from the `export(name, description, value)`
calls in `__main__.py`, read from its source (running it is not needed to document it).
`Pulumi.yaml`'s declarations and README.md's tables are checked against both registries by
tests/test_config_reference.py, so none can drift from the code.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"
OUTPUTS_BEGIN, OUTPUTS_END = "<!-- stack-outputs:begin -->", "<!-- stack-outputs:end -->"


def declaration(setting) -> dict:
    """The Pulumi.yaml declaration a setting must have."""
    spec = {"type": setting.type, "description": setting.description}
    if setting.items:
        spec["items"] = {"type": setting.items}
    if not setting.required:
        spec["default"] = setting.default
    return spec


def project_file_with_declarations(project_file: str) -> str:
    """Pulumi.yaml with its `config:` block (always last in the file) rendered from the registry."""
    import settings

    head, marker, _ = project_file.partition("\nconfig:\n")
    if not marker:
        raise SystemExit("Pulumi.yaml has no top-level config: block")
    config = {"aws:region": {"value": "us-east-1"}}
    config.update({s.key: declaration(s) for s in settings.SETTINGS})
    body = yaml.safe_dump({"config": config}, sort_keys=False, width=100, default_flow_style=False)
    return f"{head}\n{body}"


def markdown_table() -> str:
    import settings

    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for s in settings.SETTINGS:
        kind = f"array of {s.items}" if s.items else s.type
        default = "required" if s.required else f"`{json.dumps(s.default)}`"
        rows.append(f"| `{s.key}` | {kind} | {default} | {s.description} |")
    return "\n".join(rows)


def declared_outputs(program: Path = PROJECT_DIR / "__main__.py") -> list[tuple[str, str]]:
    """(name, description) of every `export(...)` call in the program, in source order."""
    calls = [node for node in ast.walk(ast.parse(program.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "export"]
    found = []
    for call in sorted(calls, key=lambda c: c.lineno):
        name, description = call.args[:2]
        if not (isinstance(name, ast.Constant) and isinstance(description, ast.Constant)):
            raise SystemExit(f"__main__.py:{call.lineno}: export() takes a literal name and description")
        found.append((name.value, description.value))
    return found


def outputs_table() -> str:
    rows = ["| output | what it is |", "|---|---|"]
    rows += [f"| `{name}` | {description} |" for name, description in declared_outputs()]
    return "\n".join(rows)


def _replace_block(readme: str, begin: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {begin} ... {end} block")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", readme)


def readme_with_table(readme: str) -> str:
    """README.md with both generated tables brought up to date."""
    readme = _replace_block(readme, BEGIN, END, markdown_table())
    return _replace_block(readme, OUTPUTS_BEGIN, OUTPUTS_END, outputs_table())


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    if argv == ["--write"]:
        project_file = PROJECT_DIR / "Pulumi.yaml"
        project_file.write_text(project_file_with_declarations(project_file.read_text()))
        readme = PROJECT_DIR / "README.md"
        readme.write_text(readme_with_table(readme.read_text()))
    else:
        print(markdown_table())
        print()
        print(outputs_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
