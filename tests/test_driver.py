"""The Automation API driver against a fake `pulumi` first on PATH: exact commands, flags and
exit codes for every subcommand, including the failure paths."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.driving import NI, SECRETS, backend_of, commands, drive

SETUP = [["version"], [NI, "stack", "select", "--stack", "dev"], [NI, "install", "--no-dependencies"]]
# Before any operation: the checkpoint, for operations an interrupted update left pending.
CHECKPOINT = [NI, "stack", "export", "--show-secrets", "--stack", "dev"]
# The guardrails of make plan, applied by the engine to every real preview and up.
PACK = ["--policy-pack", str(PROJECT_DIR / "policies"),
        "--policy-pack-config", str(PROJECT_DIR / "policies" / "dev.json")]


def test_preview_selects_the_stack_installs_plugins_and_previews(tmp_path):
    result, calls = drive(tmp_path, "preview", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    preview = [NI, "preview", *PACK, "--exec-kind", "auto.local", "--event-log", "<event-log>", "--stack", "dev"]
    assert commands(calls) == [*SETUP, CHECKPOINT, preview]
    assert all(call["cwd"] == str(PROJECT_DIR) and call["backend"] == backend_of(tmp_path) for call in calls[1:])
    assert "Preview of stack dev" in result.stdout  # the engine's output streams through
    summary = (tmp_path / "summary.md").read_text()
    assert "| create | 3 |" in summary and "`preview` of stack `dev`: succeeded" in summary
    assert (tmp_path / "step-summary.md").read_text() == summary


OUTPUTS = [[NI, "stack", "output", "--json", "--stack", "dev"],
           [NI, "stack", "output", "--json", "--show-secrets", "--stack", "dev"]]


def test_up_previews_for_the_stateful_gate_then_updates_and_reads_outputs_and_history(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert commands(calls)[3:] == [
        CHECKPOINT,
        *OUTPUTS,  # the deployed Kubernetes version, before anything changes
        # The preview whose replaces and deletes of stateful resources stop the deploy.
        [NI, "preview", *PACK, "--exec-kind", "auto.local", "--event-log", "<event-log>", "--stack", "dev"],
        [NI, "up", "--yes", "--skip-preview", *PACK, "--exec-kind", "auto.local", "--event-log", "<event-log>",
         "--stack", "dev"],
        [NI, "stack", "output", "--json", "--stack", "dev"],
        [NI, "stack", "output", "--json", "--show-secrets", "--stack", "dev"],
        [NI, "stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1", "--stack", "dev"],
    ]
    assert "| update | 1 |" in (tmp_path / "summary.md").read_text()


def test_a_missing_stack_is_created_with_the_kms_secrets_provider(tmp_path):
    result, calls = drive(tmp_path, "preview", "--stack", "dev", scenario="no-stack")
    assert result.returncode == 0, result.stderr
    assert commands(calls)[1:3] == [[NI, "stack", "select", "--stack", "dev"],
                                    [NI, "stack", "init", "dev", "--secrets-provider", SECRETS]]


def test_refresh(tmp_path):
    result, calls = drive(tmp_path, "refresh", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert commands(calls)[3] == CHECKPOINT
    assert commands(calls)[4][:4] == [NI, "refresh", "--skip-preview", "--yes"]


def test_drift_check_is_read_only_and_exits_0_without_drift(tmp_path):
    result, calls = drive(tmp_path, "drift", "--stack", "prod")
    assert result.returncode == 0, result.stderr
    refresh = commands(calls)[4]
    assert refresh[:3] == [NI, "refresh", "--preview-only"] and "--expect-no-changes" in refresh
    assert "--yes" not in refresh


def test_drift_exits_2_when_the_stack_drifted(tmp_path):
    result, _ = drive(tmp_path, "drift", "--stack", "prod", scenario="drift")
    assert result.returncode == 2
    assert "drifted" in (tmp_path / "summary.md").read_text()


def test_a_locked_stack_is_retried_then_succeeds(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario="locked-once")
    assert result.returncode == 0, result.stderr
    assert [c[1] for c in commands(calls)[1:]].count("up") == 2
    assert "retrying (1/3)" in result.stderr


def test_a_stack_locked_through_every_retry_exits_4(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario="locked")
    assert result.returncode == 4
    assert [c[1] for c in commands(calls)[1:]].count("up") == 3


def test_a_failed_update_exits_3(tmp_path):
    result, _ = drive(tmp_path, "up", "--stack", "dev", scenario="fail")
    assert result.returncode == 3 and "up of 'dev' failed" in result.stderr
    assert "failed" in (tmp_path / "summary.md").read_text()


def test_destroy_of_prod_is_refused_without_both_flags(tmp_path):
    for extra in ([], ["--allow-prod-destroy"], ["--allow-prod-destroy", "--confirm", "dev"]):
        result, calls = drive(tmp_path, "destroy", "--stack", "prod", *extra)
        assert result.returncode == 5 and "refusing to destroy" in result.stderr
        assert calls == []  # the CLI is never touched


def test_without_a_backend_it_stops_before_calling_pulumi(tmp_path):
    result, calls = drive(tmp_path, "preview", "--stack", "dev", backend=False)
    assert result.returncode == 6 and "PULUMI_BACKEND_URL" in result.stderr and calls == []


def test_summary_includes_the_offline_plan_cost_and_policy(tmp_path):
    subprocess.run([sys.executable, "-m", "offline.plan", "--stack", "dev"], cwd=PROJECT_DIR, check=True,
                   capture_output=True, timeout=300)
    drive(tmp_path, "preview", "--stack", "dev")
    summary = (tmp_path / "summary.md").read_text()
    plan = json.loads((PROJECT_DIR / "build" / "plan" / "dev.json").read_text())
    assert f"${plan['cost']['total_monthly_usd']:,.2f} a month" in summary
    assert f"Policy pack: {plan['policy']['rules']} rules, 0 violations." in summary


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "drift"])
def test_every_subcommand_reaches_the_cli_through_the_project_directory(tmp_path, command):
    result, calls = drive(tmp_path, command, "--stack", "dev")
    assert result.returncode == 0, result.stderr
    assert commands(calls)[:3] == SETUP


@pytest.mark.parametrize(("deployed", "words"), [("1.34", "skips a minor: the stack runs 1.34; upgrade to 1.35 first"),
                                                 ("1.37", "cannot downgrade")])
def test_an_up_that_skips_a_minor_or_goes_back_is_refused_in_one_line_before_it_starts(tmp_path, deployed, words):
    result, calls = drive(tmp_path, "up", "--stack", "dev", deployed=deployed)
    assert result.returncode == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: kubernetesVersion 1.36") and words in lines[0]
    assert not any(c["args"][1:2] == ["up"] for c in calls), "nothing ran"


def test_one_minor_at_a_time_is_allowed(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", deployed="1.35")
    assert result.returncode == 0, result.stderr
    assert any(c["args"][1:2] == ["up"] for c in calls)


def test_rollback_sets_the_previous_succeeded_release_and_runs_up(tmp_path):
    result, calls = drive(tmp_path, "rollback", "--stack", "dev", scenario="history")
    assert result.returncode == 0, result.stderr
    shown = commands(calls)[4:]
    assert shown[:2] == OUTPUTS
    assert shown[2] == [NI, "stack", "history", "--json", "--stack", "dev"]
    # The failed 2026.11.21 update is skipped: the last one that succeeded before the current tag.
    # The Automation API passes --non-interactive after the arguments of `config set`.
    assert shown[3] == ["config", "set", "ecomind-infra:appImageTag", "--plaintext", "--stack", "dev",
                        NI, "--", "2026.11.18-1a2b3c4"]
    assert shown[4][1] == "preview" and shown[5][:3] == [NI, "up", "--yes"] and PACK[1] in shown[5]
    assert "set ecomind-infra:appImageTag to 2026.11.18-1a2b3c4 in Pulumi.dev.yaml" in result.stderr


def test_rollback_with_no_earlier_release_changes_nothing(tmp_path):
    result, calls = drive(tmp_path, "rollback", "--stack", "dev")
    assert result.returncode == 5 and "records no earlier succeeded release" in result.stderr
    assert not any(c["args"][1:2] in (["up"], ["config"]) for c in calls)


@pytest.mark.parametrize("name", ["organization/prod", "organization/ecomind-infra/prod", "prod-dr",
                                  "organization/prod-dr"])
def test_every_spelling_of_a_prod_environment_stack_meets_the_destroy_guard(tmp_path, name):
    """The guard compares the stack's own name and its file's environment: a qualified name or
    the recovery stack (environment prod) is protected like prod, before pulumi is called."""
    result, calls = drive(tmp_path, "destroy", "--stack", name)
    assert result.returncode == 5 and "refusing to destroy stack" in result.stderr, result.stderr
    assert calls == []


@pytest.mark.parametrize("name,words", [("other-project/x/prod", "is not a stack of ecomind-infra"),
                                        ("staging", "there is no Pulumi.staging.yaml"),
                                        ("a/b/c/d", "is not a stack of ecomind-infra")])
def test_a_stack_name_that_names_no_stack_here_is_refused_in_one_line(tmp_path, name, words):
    result, calls = drive(tmp_path, "preview", "--stack", name)
    assert result.returncode == 5 and words in result.stderr and "Traceback" not in result.stderr
    assert calls == []


def test_the_recovery_stack_runs_with_prods_policy_config(tmp_path):
    result, calls = drive(tmp_path, "preview", "--stack", "prod-dr")
    assert result.returncode == 0, result.stderr
    [preview] = [c for c in commands(calls) if "preview" in c]
    assert preview[preview.index("--policy-pack-config") + 1] == str(PROJECT_DIR / "policies" / "prod.json")
