"""Running the driver (`python -m ops.pulumi_stack`) against the fake CLI (tests/fake_pulumi) and
a DIY backend in a directory: the calls it made, what it printed, what the backend holds."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_DIR

FAKE_DIR = PROJECT_DIR / "tests" / "fake_pulumi"
SECRETS = "awskms://alias/ecomind-pulumi-secrets-mr?region=us-east-1"  # Pulumi.dev.yaml secretsprovider
NI = "--non-interactive"  # the Automation API's first flag on every command it runs
BROKERS = "urn:pulumi:dev::ecomind-infra::ecomind:data:Streaming$aws:msk/cluster:Cluster::streaming-kafka"


def backend_of(tmp_path: Path) -> str:
    """A DIY backend in a directory: the layout of the S3 bucket's, read without AWS."""
    return f"file://{tmp_path / 'state'}"


def environment(tmp_path: Path, scenario: str = "ok", backend: bool = True, deployed: str | None = None) -> dict:
    # The fake runs on this interpreter (it speaks gRPC through the Pulumi SDK's protos).
    path = os.pathsep.join([str(FAKE_DIR), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "FAKE_PULUMI_LOG": str(tmp_path / "calls.jsonl"),
           "FAKE_PULUMI_SCENARIO": scenario,
           "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"), "ECOMIND_LOCK_RETRY_SECONDS": "0"}
    env.pop("PULUMI_BACKEND_URL", None)
    env.pop("FAKE_DEPLOYED_VERSION", None)
    if deployed:
        env["FAKE_DEPLOYED_VERSION"] = deployed  # the stack's kubernetesVersion output
    if backend:
        (tmp_path / "state").mkdir(exist_ok=True)
        env["PULUMI_BACKEND_URL"] = backend_of(tmp_path)
    return env


def argv(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ops.pulumi_stack", *args, "--summary-file", str(tmp_path / "summary.md")]


def drive(tmp_path: Path, *args: str, scenario: str = "ok", backend: bool = True, deployed: str | None = None):
    result = subprocess.run(argv(tmp_path, *args), cwd=PROJECT_DIR,
                            env=environment(tmp_path, scenario, backend, deployed),
                            capture_output=True, text=True, timeout=120)
    return result, logged(tmp_path)


def logged(tmp_path: Path) -> list[dict]:
    """The fake's record: a {"args", "cwd", "backend"} line per call, a {"signal"} line per signal."""
    log = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def cli_calls(tmp_path: Path) -> list[dict]:
    return [entry for entry in logged(tmp_path) if "args" in entry]


def commands(calls):
    """argv of each call, with the temporary event-log path replaced by a marker."""
    shown = []
    for call in calls:
        if "args" not in call:
            continue
        args = list(call["args"])
        if "--event-log" in args:
            args[args.index("--event-log") + 1] = "<event-log>"
        shown.append(args)
    return shown


def ran(calls, command: str) -> list[list[str]]:
    """The calls of one engine command (preview, up, refresh, destroy)."""
    return [c for c in commands(calls) if c[1:2] == [command] or c[:1] == [command]]


def summary(tmp_path: Path) -> str:
    return (tmp_path / "summary.md").read_text()


def lock_dir(tmp_path: Path, stack: str = "dev") -> Path:
    return tmp_path / "state" / ".pulumi" / "locks" / "organization" / "ecomind-infra" / stack


def hold_lock(tmp_path: Path, minutes_ago: float, host: str = "codebuild-prod-7", pid: int = 4242,
              stack: str = "dev") -> Path:
    """A lock object as the CLI writes one (pkg/backend/diy/lock.go lockContent)."""
    stamp = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    path = lock_dir(tmp_path, stack) / "5e2f9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "username": "runner", "hostname": host,
                                "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "417Z"}))
    return path


def leave_pending(tmp_path: Path, kind: str = "creating", urn: str = BROKERS, stack: str = "dev") -> None:
    """A checkpoint with an operation an interrupted update left pending (apitype OperationV2)."""
    path = tmp_path / "state" / ".pulumi" / "stacks" / "ecomind-infra" / f"{stack}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 3, "checkpoint": {"latest": {"pending_operations": [
        {"resource": {"urn": urn, "type": "aws:msk/cluster:Cluster"}, "type": kind}]}}}))
