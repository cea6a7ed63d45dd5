"""Reading Pulumi.yaml and stack files the way the Pulumi CLI does."""

from __future__ import annotations

import pytest

from offline import stack_config
from tests.conftest import PROJECT_DIR, minimal_config


def test_project_defaults_then_stack_values_as_wire_strings():
    config = stack_config.load(PROJECT_DIR, "dev")
    assert config.project == "ecomind-infra"
    assert config.values["aws:region"] == "us-east-1"  # project-level value
    assert config.values["ecomind-infra:owner"] == "platform-engineering"  # project default
    assert config.values["ecomind-infra:natGateways"] == "single"  # stack value wins
    assert config.values["ecomind-infra:systemNodeMinSize"] == "1"
    assert config.values["ecomind-infra:workloadNodeInstanceTypes"] == '["t4g.large", "m7g.large", "m6g.large"]'


def test_secure_values_become_marked_placeholders(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    lines = "".join(f"  {key}: {value}\n" for key, value in minimal_config().items())
    stack_file.write_text(f"config:\n{lines}  ecomind-infra:token:\n    secure: v1:AAAABBBB\n")
    config = stack_config.load(PROJECT_DIR, "dev", stack_file)
    assert config.secret_keys == ["ecomind-infra:token"]
    assert "v1:AAAABBBB" not in config.values["ecomind-infra:token"]


def test_a_declared_key_without_default_must_be_set(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config: {}\n")
    with pytest.raises(stack_config.StackConfigError, match="missing configuration value 'environment'"):
        stack_config.load(PROJECT_DIR, "dev", stack_file)


def test_malformed_yaml_is_reported_not_raised(tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config: [unclosed\n")
    with pytest.raises(stack_config.StackConfigError, match="not valid YAML"):
        stack_config.load(PROJECT_DIR, "dev", stack_file)
