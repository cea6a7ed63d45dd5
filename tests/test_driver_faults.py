"""The driver against the faults real deployments meet, injected by the fake CLI
(tests/fake_pulumi/pulumi) and a DIY backend in a directory: locks (once, persistent, stale),
pending operations (the checkpoint's, and the CLI's old and new texts), a partial failure,
signals mid-update, install and credential failures, credentials expiring mid-update. Each
asserts the exit code, what the summary says, the CLI calls made and the state left."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from ops import pulumi_stack as driver
from tests.conftest import PROJECT_DIR
from tests.driving import argv, cli_calls, drive, environment, hold_lock, leave_pending, lock_dir, logged, ran, summary


def changed_nothing(calls) -> bool:
    return not any(ran(calls, command) for command in ("preview", "up", "refresh", "destroy"))


# --- locks --------------------------------------------------------------------------------------

def test_a_lock_the_cli_reports_once_is_retried_and_the_update_runs(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario="locked-once")
    assert result.returncode == driver.EXIT_OK, result.stderr
    assert len(ran(calls, "up")) == 2
    assert "locked by runner@codebuild-prod-7 (pid 4242)" in result.stderr and "retrying (1/3)" in result.stderr


def test_a_lock_the_cli_reports_every_time_names_its_holder_in_the_summary(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario="locked")
    assert result.returncode == driver.EXIT_LOCKED
    assert len(ran(calls, "up")) == 3
    text = summary(tmp_path)
    assert "stack locked by another update (3 attempts)" in text
    assert "runner@codebuild-prod-7 (pid 4242) since 2026-12-01T09:00:00Z" in text
    assert "`pulumi cancel --stack dev --yes`" in text and "currently locked by 1 lock(s)" in text


def test_a_live_lock_in_the_backend_is_waited_for_and_nothing_runs_while_it_stays(tmp_path):
    lock = hold_lock(tmp_path, minutes_ago=12)
    result, calls = drive(tmp_path, "up", "--stack", "dev")
    assert result.returncode == driver.EXIT_LOCKED
    assert changed_nothing(calls)
    assert result.stderr.count("is locked by runner@codebuild-prod-7 (pid 4242)") == 2, result.stderr
    text = summary(tmp_path)
    assert "locked by another update (3 looks at the lock objects)" in text and "12 min ago" in text
    assert lock.exists(), "a lock is never broken by the driver"


def test_a_preview_waits_for_an_update_too_rather_than_plan_against_a_stack_mid_update(tmp_path):
    hold_lock(tmp_path, minutes_ago=3)
    result, calls = drive(tmp_path, "preview", "--stack", "dev")
    assert result.returncode == driver.EXIT_LOCKED and not ran(calls, "preview")
    assert f"waiting ({driver.READ_ONLY_LOCK_LOOKS - 1}/{driver.READ_ONLY_LOCK_LOOKS})" in result.stderr


def test_a_stale_lock_is_reported_at_once_with_the_recovery_and_left_in_place(tmp_path):
    lock = hold_lock(tmp_path, minutes_ago=300)
    result, calls = drive(tmp_path, "up", "--stack", "dev")
    assert result.returncode == driver.EXIT_LOCKED
    assert changed_nothing(calls) and "waiting" not in result.stderr, "no wait for a holder that is gone"
    text = summary(tmp_path)
    assert "locked by a stale lock" in text
    assert "300 min old, older than the longest a deploy job runs (120 min)" in text
    assert text.index("Confirm that no update") < text.index("`pulumi cancel --stack dev --yes`")
    assert lock.exists()


def test_an_update_that_takes_the_lock_during_a_preview_makes_it_inconclusive(tmp_path):
    result, calls = drive(tmp_path, "preview", "--stack", "dev", scenario="update-starts")
    assert result.returncode == driver.EXIT_LOCKED
    assert len(ran(calls, "preview")) == 1
    assert "inconclusive: an update started during the check" in summary(tmp_path)


# --- pending operations ---------------------------------------------------------------------------

def test_an_up_over_pending_operations_stops_before_running_and_says_how_to_repair(tmp_path):
    leave_pending(tmp_path)
    result, calls = drive(tmp_path, "up", "--stack", "dev")
    assert result.returncode == driver.EXIT_PENDING
    assert changed_nothing(calls)
    text = summary(tmp_path)
    assert "`streaming-kafka` (aws:msk/cluster:Cluster): interrupted while creating" in text
    assert "--import-pending-creates <urn> --import-pending-creates <id>" in text and "--clear-pending-creates" in text


def test_a_refresh_does_not_report_success_while_leaving_a_pending_create(tmp_path):
    leave_pending(tmp_path)
    result, calls = drive(tmp_path, "refresh", "--stack", "dev")
    assert result.returncode == driver.EXIT_PENDING and not ran(calls, "refresh")
    assert "non-interactive refresh leaves pending creates" in summary(tmp_path)


def test_a_refresh_told_to_clear_pending_creates_passes_the_flag(tmp_path):
    leave_pending(tmp_path)
    result, calls = drive(tmp_path, "refresh", "--stack", "dev", "--clear-pending-creates")
    assert result.returncode == driver.EXIT_OK, result.stderr
    [refresh] = ran(calls, "refresh")
    assert "--clear-pending-creates" in refresh
    assert "Pending operations this refresh clears" in summary(tmp_path)
    assert cli_calls(tmp_path)[-1]["args"][1:3] == ["stack", "export"], "the checkpoint is read again after"
    checkpoint = (tmp_path / "state" / ".pulumi" / "stacks" / "ecomind-infra" / "dev.json").read_text()
    assert "pending_operations\": []" in checkpoint


def test_pending_updates_are_cleared_by_a_plain_refresh(tmp_path):
    leave_pending(tmp_path, kind="updating")
    result, calls = drive(tmp_path, "refresh", "--stack", "dev")
    assert result.returncode == driver.EXIT_OK, result.stderr
    assert "--clear-pending-creates" not in ran(calls, "refresh")[0]


def test_a_refresh_that_leaves_operations_pending_does_not_report_success(tmp_path):
    """CLIs before pulumi/pulumi#8435 (v3.28.0) refreshed without clearing pending operations: the
    driver reads the checkpoint again after a refresh and says what is still there."""
    leave_pending(tmp_path, kind="updating")
    result, calls = drive(tmp_path, "refresh", "--stack", "dev", scenario="refresh-keeps-pending")
    assert result.returncode == driver.EXIT_PENDING and len(ran(calls, "refresh")) == 1
    text = summary(tmp_path)
    assert "refreshed, but operations are still pending" in text and "interrupted while updating" in text


def test_the_pending_operations_error_of_older_clis_is_named_not_a_generic_failure(tmp_path):
    leave_pending(tmp_path)
    result, _ = drive(tmp_path, "preview", "--stack", "dev", scenario="pending-old")
    assert result.returncode == driver.EXIT_PENDING
    text = summary(tmp_path)
    assert "Pending operations the CLI reported" in text and "`streaming-kafka`" in text
    assert "the current deployment has 1 resource(s) with pending operations" in text  # the error tail


def test_a_preview_over_pending_operations_runs_and_its_summary_lists_them(tmp_path):
    leave_pending(tmp_path)
    result, _ = drive(tmp_path, "preview", "--stack", "dev", scenario="pending-new")
    assert result.returncode == driver.EXIT_OK, result.stderr
    text = summary(tmp_path)
    assert "Pending operations in the checkpoint (an `up` will not run until they are resolved)" in text
    assert "Pending operations the CLI warned about" in text


# --- what failed, and what changed before ---------------------------------------------------------

def test_a_partial_failure_lists_what_was_created_what_failed_and_why(tmp_path):
    result, _ = drive(tmp_path, "up", "--stack", "dev", scenario="partial")
    assert result.returncode == driver.EXIT_FAILED
    text = summary(tmp_path)
    assert "No resource changes reported" not in text
    assert "| create | 2 |" in text, "the failed update's changes, from the stack's history"
    assert "create `streaming-events-raw` (aws:msk/topic:Topic)" in text and "create `storage-reports`" in text
    assert "`database-postgres` (aws:rds/instance:Instance): creating RDS DB Instance" in text
    assert "Cannot find version 17.9 for postgres" in text and "<{%" not in text
    assert "error: update failed" in text
    assert cli_calls(tmp_path)[-1]["args"][1:3] == ["stack", "export"], "the state left is read last"


def test_the_drift_summary_lists_the_drifted_resources_and_properties(tmp_path):
    result, _ = drive(tmp_path, "drift", "--stack", "prod", scenario="drift")
    assert result.returncode == driver.EXIT_DRIFT
    text = summary(tmp_path)
    assert "`database-postgres` (aws:rds/instance:Instance): engineVersion, tags" in text
    assert "`streaming-events-raw` (aws:msk/topic:Topic): (deleted outside Pulumi)" in text
    assert "| update | 2 |" in text, "the engine's counts, though the check then exits non-zero"
    assert "storage-reports" not in text, "a resource that reads back the same did not drift"


# --- setup failures --------------------------------------------------------------------------------

@pytest.mark.parametrize(("scenario", "words"), [
    ("install-offline", ["`pulumi install` failed", "no such host"]),
    ("access-denied", ["selecting stack 'dev'", "AccessDenied"])])
def test_setup_failures_exit_with_the_environment_code_in_one_line_and_a_summary(tmp_path, scenario, words):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario=scenario)
    assert result.returncode == driver.EXIT_ENVIRONMENT
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and all(w in lines[0] for w in words)
    assert "environment:" in summary(tmp_path) and "The CLI's last lines" in summary(tmp_path)
    assert changed_nothing(calls)


def test_a_backend_the_driver_cannot_read_locks_from_is_an_environment_error(tmp_path):
    env = {**environment(tmp_path), "PULUMI_BACKEND_URL": "azblob://state"}
    result = subprocess.run(argv(tmp_path, "preview", "--stack", "dev"), cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == driver.EXIT_ENVIRONMENT and "Traceback" not in result.stderr
    assert "only s3:// (the bootstrap bucket) and file://" in result.stderr


def test_credentials_expiring_mid_update_report_the_lock_and_the_pending_create_left(tmp_path):
    result, _ = drive(tmp_path, "up", "--stack", "dev", scenario="expired")
    assert result.returncode == driver.EXIT_PENDING
    text = summary(tmp_path)
    assert "failed: the AWS credentials expired mid-update" in text
    assert "**Lock left behind**" in text and "**Pending operations left in the checkpoint**" in text
    assert "| create | 1 |" in text
    assert "`pulumi cancel --stack dev --yes`" in text and "--clear-pending-creates" in text
    assert list(lock_dir(tmp_path).glob("*.json")), "the fake could not delete its lock, as the CLI cannot"


# --- the stateful gate -------------------------------------------------------------------------------

def test_a_deploy_that_replaces_a_stateful_resource_stops_unless_acknowledged(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", scenario="replace-stateful")
    assert result.returncode == driver.EXIT_REFUSED
    assert len(ran(calls, "preview")) == 1 and not ran(calls, "up")
    text = summary(tmp_path)
    assert "replace `database-postgres` (aws:rds/instance:Instance)" in text
    assert "storage-reports" not in text, "an in-place update of a bucket loses nothing"
    assert "--allow-replace database-postgres" in text


def test_an_acknowledged_replacement_deploys_and_is_recorded(tmp_path):
    result, calls = drive(tmp_path, "up", "--stack", "dev", "--allow-replace", "database-postgres",
                          scenario="replace-stateful")
    assert result.returncode == driver.EXIT_OK, result.stderr
    assert len(ran(calls, "up")) == 1
    assert "acknowledged with --allow-replace" in summary(tmp_path)


# --- signals ----------------------------------------------------------------------------------------

def start_up_until(tmp_path, ready, scenario: str = "slow", own_group: bool = False,
                   env: dict | None = None) -> subprocess.Popen:
    """The driver's `up`, running in the background until `ready()` holds (it must still run then)."""
    process = subprocess.Popen(argv(tmp_path, "up", "--stack", "dev"), cwd=PROJECT_DIR,
                               env=env or environment(tmp_path, scenario), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=own_group)
    deadline = time.monotonic() + 60
    while not ready():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process


def start_slow_up(tmp_path, own_group: bool = False, scenario: str = "slow") -> subprocess.Popen:
    # The fake CLI holds the lock and its update runs (its signal handlers are in place: under load
    # a signal between the lock and the handlers ended the fake before it could record it).
    return start_up_until(tmp_path, lambda: list(lock_dir(tmp_path).glob("*.json"))
                          and (tmp_path / "state" / "updating").exists(), scenario, own_group)


def signals_the_cli_got(tmp_path) -> list[str]:
    return [entry["signal"] for entry in logged(tmp_path) if "signal" in entry]


@pytest.mark.parametrize(("sent", "forwarded"), [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM"),
                                                 (signal.SIGHUP, "SIGINT")])
def test_a_signal_is_forwarded_once_and_the_cli_is_drained_until_it_exits(tmp_path, sent, forwarded):
    process = start_slow_up(tmp_path)
    process.send_signal(sent)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == driver.EXIT_CANCELLED, stderr
    assert signals_the_cli_got(tmp_path) == [forwarded]
    assert "streaming-kafka created" in stdout, "the output is drained until the CLI exits"
    assert "Traceback" not in stderr
    text = summary(tmp_path)
    assert f"cancelled by {sent.name} (forwarded to the CLI: {forwarded})" in text
    assert "error: update canceled" in text and "| create | 1 |" in text, "what the cancelled update did"
    assert not list(lock_dir(tmp_path).glob("*.json")), "a graceful cancel releases the lock"


def test_a_second_signal_is_not_forwarded_so_the_cli_never_terminates_mid_operation(tmp_path):
    process = start_slow_up(tmp_path)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == driver.EXIT_CANCELLED
    assert signals_the_cli_got(tmp_path) == ["SIGINT"]
    assert "SIGTERM received again: not forwarded" in stderr


def test_a_signal_to_the_drivers_whole_group_reaches_the_cli_once(tmp_path):
    """A terminal's Ctrl-C (or a runner's signal) goes to the process group: the CLI runs in a
    session of its own, so it hears the driver's forwarded signal and nothing else."""
    process = start_slow_up(tmp_path, own_group=True)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == driver.EXIT_CANCELLED
    assert signals_the_cli_got(tmp_path) == ["SIGINT"]


def test_after_the_driver_is_killed_the_next_run_reports_the_dead_holder_and_the_pending_create(tmp_path):
    process = start_slow_up(tmp_path)
    process.kill()  # SIGKILL: nothing to forward; the CLI dies on its next write, as the Go CLI does
    process.communicate(timeout=60)
    checkpoint = tmp_path / "state" / ".pulumi" / "stacks" / "ecomind-infra" / "dev.json"
    deadline = time.monotonic() + 30
    while not checkpoint.exists():
        assert time.monotonic() < deadline, "the fake CLI did not die on its closed output"
        time.sleep(0.05)
    time.sleep(0.2)
    result, calls = drive(tmp_path, "up", "--stack", "dev")
    assert result.returncode == driver.EXIT_LOCKED
    assert len(ran(calls, "up")) == 1, "only the killed run's"
    text = summary(tmp_path)
    assert "on this host" in text and "is gone" in text
    assert "--clear-pending-creates" in text and "`pulumi cancel --stack dev --yes`" in text


# --- the pieces, without a CLI -------------------------------------------------------------------------

def test_a_signal_between_cli_calls_stops_the_next_engine_call_but_not_reading_the_state():
    from ops.cli import Cancellation, CancelledError, GuardedCommand

    said = []
    cancellation = Cancellation(report=said.append)
    cancellation._handle(signal.SIGTERM, None)
    assert said == ["SIGTERM received: stopping before the next Pulumi operation"]
    command = GuardedCommand.__new__(GuardedCommand)  # no `pulumi version` call
    command.cancellation, command.command = cancellation, "true"
    with pytest.raises(CancelledError):
        command.run(["up", "--yes"], cwd=".", additional_env={})
    assert command.run(["stack", "export"], cwd=".", additional_env={}).code == 0


@pytest.fixture
def state_bucket(monkeypatch):
    """An S3 client on moto's in-process S3, with the bucket `state`."""
    import boto3
    from moto import mock_aws

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="state")
        yield s3


def test_lock_objects_are_read_from_the_s3_backend_at_the_clis_path(state_bucket):
    from ops import state_backend

    s3 = state_bucket
    s3.put_object(Bucket="state", Key=".pulumi/locks/organization/ecomind-infra/prod/1.json",
                  Body=b'{"pid":7,"username":"runner","hostname":"cb-1","timestamp":"2026-12-01T09:00:00.5+01:00"}')
    s3.put_object(Bucket="state", Key=".pulumi/locks/organization/ecomind-infra/dev/2.json", Body=b"{}")
    [lock] = state_backend.read_locks("s3://state", "prod", lambda: s3)
    assert (lock.url, lock.pid, lock.timestamp.hour) == (
        "s3://state/.pulumi/locks/organization/ecomind-infra/prod/1.json", 7, 8)
    with pytest.raises(state_backend.BackendError, match="NoSuchBucket"):
        state_backend.read_locks("s3://missing", "prod", lambda: s3)


def test_both_pending_operation_texts_and_the_lock_lines_parse():
    from ops import state_backend

    old = ("error: the current deployment has 2 resource(s) with pending operations:\n"
           "  * urn:pulumi:dev::ecomind-infra::aws:msk/cluster:Cluster::msk, interrupted while creating\n"
           "  * urn:pulumi:dev::ecomind-infra::aws:s3/bucket:Bucket::b, interrupted while updating\n")
    new = ("warning: Attempting to deploy or update resources with 1 pending operations from previous deployment.\n"
           "  * urn:pulumi:dev::ecomind-infra::aws:msk/cluster:Cluster::msk, interrupted while creating\n")
    assert [(op.name, op.kind) for op in state_backend.pending_from_text(old)] == [("msk", "creating"),
                                                                                   ("b", "updating")]
    assert [op.type for op in state_backend.pending_from_text(new)] == ["aws:msk/cluster:Cluster"]
    text = ("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
            "delete the lock file with `pulumi cancel`.\n  s3://b/.pulumi/locks/organization/ecomind-infra/dev/x.json: "
            "created by runner@cb-2 (pid 31) at 2026-12-01T09:00:00+01:00")
    [lock] = state_backend.locks_from_text(text)
    assert (lock.username, lock.hostname, lock.pid, lock.timestamp.hour) == ("runner", "cb-2", 31, 8)


def test_the_runbook_explains_every_exit_code_the_driver_has():
    import re

    codes = {value for name, value in vars(driver).items() if name.startswith("EXIT_")}
    runbook = (PROJECT_DIR / "docs" / "DEPLOYMENT.md").read_text()
    table = runbook[runbook.index("**When a run stops.**"):runbook.index("Repairs, in the order")]
    assert {int(code) for code in re.findall(r"^\| (\d) \|", table, re.M)} == codes


def test_a_usage_error_is_a_refusal_not_the_drift_code(tmp_path):
    """argparse exits 2, which the drift workflow reads as "drifted" and files an issue for."""
    result, calls = drive(tmp_path, "deploy", "--stack", "dev")
    assert result.returncode == driver.EXIT_REFUSED and calls == []
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: argument command: invalid choice: 'deploy'")


def test_a_refused_stack_name_still_writes_a_summary(tmp_path):
    result, _ = drive(tmp_path, "preview", "--stack", "staging")
    assert result.returncode == driver.EXIT_REFUSED
    assert "`preview` of stack `staging`: refused: --stack 'staging': there is no Pulumi.staging.yaml" in summary(
        tmp_path)


def test_a_signal_while_the_driver_waits_for_a_lock_ends_the_wait_as_a_cancel(tmp_path):
    hold_lock(tmp_path, minutes_ago=1)
    env = {**environment(tmp_path), "ECOMIND_LOCK_RETRY_SECONDS": "30"}
    # Set-up done (`pulumi install`); the look at the lock is next.
    process = start_up_until(tmp_path, lambda: any("install" in c["args"] for c in cli_calls(tmp_path)),
                             env=env)
    time.sleep(1.0)  # into the 30 s wait after the first look
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == driver.EXIT_CANCELLED, stderr
    assert changed_nothing(logged(tmp_path)) and "cancelled by SIGTERM (forwarded to the CLI: nothing)" in summary(
        tmp_path)


# --- found in review ------------------------------------------------------------------------------------

def test_a_signal_during_the_gate_preview_is_a_cancel_not_a_failure(tmp_path):
    process = start_up_until(tmp_path, (tmp_path / "state" / "previewing").exists, "slow-preview")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == driver.EXIT_CANCELLED, stderr
    assert not ran(logged(tmp_path), "up"), "the update never starts"
    assert signals_the_cli_got(tmp_path) == ["SIGINT"]


def test_a_cli_the_signal_ends_outright_is_reported_with_the_lock_it_left(tmp_path):
    """Outside its cancellation scope (before it opens, or while the state is saved and the lock
    released) the CLI does not cancel: the signal ends it."""
    process = start_slow_up(tmp_path, scenario="slow-unscoped")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == driver.EXIT_CANCELLED
    text = summary(tmp_path)
    assert "it exited by SIGTERM, outside the phase it cancels gracefully in" in text
    assert "**Lock left behind**" in text and "`pulumi cancel --stack dev --yes`" in text


def test_only_up_and_preview_create_a_stack_the_backend_lacks(tmp_path):
    result, calls = drive(tmp_path, "refresh", "--stack", "dev", scenario="no-stack")
    assert result.returncode == driver.EXIT_ENVIRONMENT
    assert "there is no stack 'dev'" in result.stderr and "check PULUMI_BACKEND_URL" in result.stderr
    assert not any(c["args"][1:3] == ["stack", "init"] for c in calls) and changed_nothing(calls)


def test_a_failure_before_the_engine_starts_does_not_report_an_earlier_runs_changes(tmp_path):
    result, _ = drive(tmp_path, "up", "--stack", "dev", scenario="fail-before-engine")
    assert result.returncode == driver.EXIT_FAILED
    text = summary(tmp_path)
    assert "| create | 5 |" not in text and "No resource changes reported." in text
    assert "no resource plugin 'aws' found" in text


def test_the_live_gate_stops_a_replaced_eks_control_plane():
    """Offline the pulumi-eks Cluster is one component; a real preview replaces its aws.eks.Cluster."""
    from pulumi.automation.events import EngineEvent

    events = driver.Events()
    urn = "urn:pulumi:dev::ecomind-infra::ecomind:platform:Cluster$eks:index:Cluster$aws:eks/cluster:Cluster::c"
    events(EngineEvent.from_json({"sequence": 1, "timestamp": 1, "resourcePreEvent": {
        "metadata": {"op": "replace", "urn": urn, "type": "aws:eks/cluster:Cluster", "provider": ""}}}))
    assert events.losing_state() == [("replace", "aws:eks/cluster:Cluster", urn)]


def test_lock_objects_under_a_prefixed_s3_backend_and_one_gone_between_list_and_read(state_bucket, monkeypatch):
    from ops import state_backend

    s3 = state_bucket
    body = b'{"pid":7,"username":"runner","hostname":"cb-1","timestamp":"2026-12-01T09:00:00Z"}'
    for name in ("1.json", "2.json"):
        s3.put_object(Bucket="state", Key=f"team/.pulumi/locks/organization/ecomind-infra/dev/{name}", Body=body)
    real_get = s3.get_object

    def ended_meanwhile(**kwargs):
        if kwargs["Key"].endswith("2.json"):
            real_get(**{**kwargs, "Key": "no-such-key"})  # raises NoSuchKey, as the ended update's lock would
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", ended_meanwhile)
    [lock] = state_backend.read_locks("s3://state/team", "dev", lambda: s3)
    assert lock.url == "s3://state/team/.pulumi/locks/organization/ecomind-infra/dev/1.json"
