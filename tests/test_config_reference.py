"""Pulumi.yaml and README.md say exactly what settings.py declares."""

from __future__ import annotations

import yaml

import settings
from offline import config_reference, stack_config
from tests.conftest import PROJECT_DIR


def test_pulumi_yaml_declares_every_setting_as_the_registry_does():
    _, declarations, values = stack_config.project_declarations(PROJECT_DIR / "Pulumi.yaml")
    expected = {f"{settings.PROJECT}:{s.key}": config_reference.declaration(s) for s in settings.SETTINGS}
    assert declarations == expected
    assert values["aws:region"] == "us-east-1"


def test_pulumi_yaml_is_exactly_what_the_generator_writes():
    text = (PROJECT_DIR / "Pulumi.yaml").read_text()
    assert config_reference.project_file_with_declarations(text) == text


def test_pulumi_yaml_runtime_is_python_with_pip_and_a_venv():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == settings.PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_pulumi_yaml_types_are_ones_the_cli_accepts():
    for s in settings.SETTINGS:
        assert s.type in ("string", "integer", "boolean", "array")
        assert (s.type == "array") == (s.items is not None)


def test_readme_reference_is_current():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert config_reference.readme_with_table(readme) == readme
    assert all(f"`{s.key}`" in readme for s in settings.SETTINGS)


def test_readme_opens_with_the_two_commands():
    head = (PROJECT_DIR / "README.md").read_text().split("## ")[0]
    assert "make plan" in head and "make test" in head


def test_stack_files_set_only_known_settings():
    for stack in ("dev", "prod"):
        config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key in config:
            namespace, _, name = key.partition(":")
            assert namespace != settings.PROJECT or name in settings.SETTINGS_BY_KEY, key


def test_readme_stack_outputs_are_every_export_of_the_program(stack_plan):
    """The table is generated from the export() calls; every output a plan has is among them."""
    declared = dict(config_reference.declared_outputs())
    assert set(stack_plan.outputs) <= set(declared)
    readme = (PROJECT_DIR / "README.md").read_text()
    assert all(f"| `{name}` | {description} |" in readme for name, description in declared.items())


def test_every_output_is_declared_through_export():
    source = (PROJECT_DIR / "__main__.py").read_text()
    assert source.count("pulumi.export(") == 1, "declare outputs with export(name, description, value)"
