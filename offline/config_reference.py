"""The configuration reference, rendered from `settings.SETTINGS`.

    python -m offline.config_reference            # print the README table
    python -m offline.config_reference --write    # rewrite Pulumi.yaml's config block and README.md's table

`Pulumi.yaml`'s declarations and README.md's table are both checked against the registry by
tests/test_config_reference.py, so neither can drift from the code.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"


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


def readme_with_table(readme: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{markdown_table()}\n{END}", readme)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    if argv == ["--write"]:
        project_file = PROJECT_DIR / "Pulumi.yaml"
        project_file.write_text(project_file_with_declarations(project_file.read_text()))
        readme = PROJECT_DIR / "README.md"
        readme.write_text(readme_with_table(readme.read_text()))
    else:
        print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
