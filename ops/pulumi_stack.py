"""Drive a stack through Pulumi's Automation API, the way CI runs it.

    python -m ops.pulumi_stack preview --stack dev
    python -m ops.pulumi_stack up --stack prod [--allow-replace <name> ...]
    python -m ops.pulumi_stack refresh --stack dev [--clear-pending-creates]
    python -m ops.pulumi_stack drift --stack prod         # exit 2 when the stack drifted
    python -m ops.pulumi_stack destroy --stack dev
    python -m ops.pulumi_stack destroy --stack prod --allow-prod-destroy --confirm prod
    python -m ops.pulumi_stack rollback --stack prod      # the previous application release

`up` refuses a kubernetesVersion that skips a minor past the deployed one (the stack's
`kubernetesVersion` output) or goes back: EKS upgrades one minor at a time and never downgrades.
`destroy` removes the application releases first, waits until what the controllers made for them
(load balancers, target groups, security groups, volumes; ops/teardown.py) is gone, then destroys
the rest, deleting the VPC CNI's detached interfaces and retrying once if that fails.
`rollback` finds, in the stack's update history (the config the engine recorded for each
update), the newest succeeded update whose appImageTag differs from the stack file's, sets that
tag and runs `up`: the chart's previous images, the current platform.

Before any operation the driver reads the stack's lock objects and the checkpoint's pending
operations; an `up` previews first and stops on a replaced or deleted stateful resource unless
it is named with --allow-replace; a signal is passed to the CLI once, as a graceful cancel
(ops/cli.py). Exit codes: 0 succeeded, 2 drift, 3 failed, 4 locked (or a check an update
overlapped), 5 refused, 6 environment, 7 pending operations, 8 cancelled; each ending writes a
summary with the repair steps (docs/DEPLOYMENT.md, "When a run stops").

Environment: PULUMI_BACKEND_URL (for example s3://<state bucket>, the bootstrap's output stateUrl).
The secrets provider is the stack file's own (`secretsprovider:`, as the CLI reads it); the
program's and the policy pack's virtualenvs are `make install`'s, made from the hashed locks before
any credential is taken: the driver asks the CLI for provider plugins only (docs/adr/0022).
The engine's output streams as it goes; a Markdown summary goes to $GITHUB_STEP_SUMMARY (when
set) and to --summary-file, for a pull-request comment.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pulumi import automation as auto
from pulumi.automation import errors
from semver import VersionInfo

from offline import stack_config
from ops import state_backend
from ops.cli import MINIMUM_CLI_VERSION, Cancellation, CancelledError, GuardedCommand

PROJECT_DIR = Path(__file__).resolve().parent.parent

EXIT_OK = 0
EXIT_DRIFT = 2
EXIT_FAILED = 3
EXIT_LOCKED = 4
EXIT_REFUSED = 5
EXIT_ENVIRONMENT = 6
EXIT_PENDING = 7
EXIT_CANCELLED = 8
# The deploy jobs' timeout-minutes (.github/workflows/deploy.yml; analyses/schedule.py ci_job_minutes
# derives the least it may be): no job holds a lock longer, so an older lock's holder is gone.
DEPLOY_JOB_MINUTES = 120
# Stacks whose destroy needs --allow-prod-destroy and --confirm: every stack whose file says
# environment prod (prod and its recovery stack prod-dr), not a list of names to keep in step.
PROTECTED_ENVIRONMENT = "prod"
LOCK_RETRIES = 3
# A preview or drift check waits longer for a live lock (an update in progress): 20 looks, 30 s
# apart, cover the rest of most updates without holding a merge-queue check past its hour.
READ_ONLY_LOCK_LOOKS = 20
DRIFT_MARKER = "no changes were expected"
PROJECT = "ecomind-infra"
IMAGE_TAG_KEY = f"{PROJECT}:appImageTag"
ENVIRONMENT_KEY = f"{PROJECT}:environment"
VERSION_KEY = f"{PROJECT}:kubernetesVersion"


def stack_setting(stack_name: str, key: str) -> str:
    """A setting as the stack file (over Pulumi.yaml's defaults) gives it."""
    from offline import stack_config

    return stack_config.load(PROJECT_DIR, stack_name).values[key]


def normalise_stack(name: str) -> str:
    """The stack's own name from any form the CLI accepts (prod, organization/prod,
    organization/ecomind-infra/prod): every guard compares this, never the raw argument, or
    `--stack organization/prod` would pass the prod-destroy guard as another stack. Raises
    ValueError for another project's stack or a stack without a file here."""
    parts = name.split("/")
    if len(parts) > 3 or not all(parts) or (len(parts) == 3 and parts[1] != PROJECT):
        raise ValueError(f"--stack {name!r} is not a stack of {PROJECT}: expected <stack>, <org>/<stack> or "
                         f"<org>/{PROJECT}/<stack>")
    short = parts[-1]
    if not (PROJECT_DIR / f"Pulumi.{short}.yaml").is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))
        raise ValueError(f"--stack {name!r}: there is no Pulumi.{short}.yaml; the stacks are " + ", ".join(known))
    return short


def is_protected(stack_name: str) -> bool:
    return stack_setting(stack_name, ENVIRONMENT_KEY) == PROTECTED_ENVIRONMENT


def _minor(version: str) -> int:
    major, minor = version.split(".")[:2]
    if major != "1":
        raise ValueError(version)
    return int(minor)


def upgrade_refusal(deployed: str | None, desired: str) -> str | None:
    """Why an up from `deployed` to `desired` must not run (None: it may)."""
    if not deployed:
        return None
    step = _minor(desired) - _minor(deployed)
    if step > 1:
        return (f"kubernetesVersion {desired} skips a minor: the stack runs {deployed}; upgrade to "
                f"1.{_minor(deployed) + 1} first (EKS upgrades the control plane one minor at a time)")
    if step < 0:
        return f"kubernetesVersion {desired} is older than the {deployed} the stack runs: EKS cannot downgrade"
    return None


def previous_release(history: list, current: str) -> str | None:
    """The newest succeeded update's image tag that is not `current` (history is newest first)."""
    for update in history:
        if update.kind != "update" or update.result != "succeeded":
            continue
        recorded = (update.config or {}).get(IMAGE_TAG_KEY)
        if recorded is not None and recorded.value and recorded.value != current:
            return recorded.value
    return None


def teardown_wait_seconds() -> float:
    """How long a destroy waits for the controllers to delete what they made."""
    return float(os.environ.get("ECOMIND_TEARDOWN_WAIT_SECONDS", "900"))


def lock_wait_seconds() -> float:
    """Pause between attempts when another update holds the stack's lock."""
    return float(os.environ.get("ECOMIND_LOCK_RETRY_SECONDS", "30"))


class SetupError(Exception):
    """Selecting the stack or installing what the program needs failed: the machine or its
    credentials, not the change (the environment exit code)."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


# The commands that may create the stack in the backend: only a first deploy (and its preview) needs
# one. A refresh, drift check, destroy or rollback against a backend without the stack (a wrong
# PULUMI_BACKEND_URL) stops instead of creating an empty stack there.
CREATING_COMMANDS = ("up", "preview")


# The virtualenvs the CLI runs the program and the policy pack in (Pulumi.yaml's and
# policies/PulumiPolicy.yaml's `virtualenv`), which `make install` creates from the hashed locks.
# The CLI creates neither for a local policy pack (pulumi/pulumi pkg/engine/update.go loads it,
# pkg/resource/plugin/plugin.go runs <pack>/<virtualenv>/bin/python), and its own `pulumi install`
# would upgrade pip, setuptools and wheel unpinned (sdk/python/toolchain/pip.go).
VIRTUALENVS = (PROJECT_DIR / ".venv", PROJECT_DIR / "policies" / ".venv")


def check_virtualenvs() -> None:
    missing = [str(v.relative_to(PROJECT_DIR)) for v in VIRTUALENVS if not (v / "bin" / "python").exists()]
    if missing:
        raise SetupError(f"no virtualenv {', '.join(missing)}: run `make install` first, before taking AWS "
                         "credentials (from the hashed locks; the CLI installs nothing for the policy pack)")


def stack_secrets_provider(name: str) -> stack_config.SecretsProvider:
    """The stack file's secrets provider: what the CLI uses for an existing stack (it never reads an
    environment variable for it) and what `stack init` is given for a new one."""
    try:
        return stack_config.secrets_provider(PROJECT_DIR / f"Pulumi.{name}.yaml")
    except stack_config.StackConfigError as error:
        raise SetupError(str(error), error) from None


def uncommitted_data_key(name: str, provider: stack_config.SecretsProvider, deployment: Mapping | None) -> str | None:
    """Why an existing stack cannot run from this checkout: its state records the data key `stack init`
    made (deployment.secrets_providers.state.encryptedkey) while the stack file's `encryptedkey:` is
    still empty, so the CLI would make a new one each run (kms:Encrypt, which the preview roles lack)
    and write it to a checkout nobody commits (pulumi/pulumi pkg/secrets/cloud/manager.go)."""
    recorded = ((deployment or {}).get("secrets_providers") or {}).get("state", {}).get("encryptedkey")
    if provider.encrypted_key or not recorded:
        return None
    return (f"Pulumi.{name}.yaml's encryptedkey is empty but the stack's state has its data key: commit "
            f"`encryptedkey: {recorded}` to the stack file (docs/DEPLOYMENT.md, \"Create a stack\")")


def stack_for(name: str, env: Mapping[str, str], cancellation: Cancellation, create: bool = True):
    check_virtualenvs()
    provider = stack_secrets_provider(name)
    workspace = auto.LocalWorkspace(
        work_dir=str(PROJECT_DIR),
        # Used by `pulumi stack init` only (Automation API create_stack); an existing stack's
        # provider is the stack file's secretsprovider, which the CLI reads itself.
        secrets_provider=provider.url,
        env_vars={"PULUMI_BACKEND_URL": env["PULUMI_BACKEND_URL"]},
        pulumi_command=_command(cancellation),
    )
    try:
        stack = (auto.Stack.create_or_select if create else auto.Stack.select)(name, workspace)
    except errors.StackNotFoundError as error:
        raise SetupError(f"there is no stack '{name}' in {env['PULUMI_BACKEND_URL']}: check PULUMI_BACKEND_URL "
                         "(the bootstrap's state bucket); only `up` and `preview` create a stack", error) from None
    except errors.CommandError as error:
        raise SetupError(f"selecting stack '{name}' in {env['PULUMI_BACKEND_URL']} failed: "
                         f"{_last_error_line(error)}", error) from None
    try:
        # The provider plugins the program declares; no language dependencies (`--no-dependencies`):
        # the virtualenvs are make install's, from the hashed locks.
        workspace.install(no_dependencies=True)
    except errors.CommandError as error:
        raise SetupError(f"`pulumi install` failed: {_last_error_line(error)}", error) from None
    return stack


def _command(cancellation: Cancellation) -> GuardedCommand:
    try:
        return GuardedCommand(cancellation, version=VersionInfo.parse(MINIMUM_CLI_VERSION))
    except (OSError, errors.CommandError, auto.InvalidVersionError) as error:
        raise SetupError(f"the Pulumi CLI could not be run: {error}", error) from None


def policy_pack_options(stack_name: str) -> dict[str, list[str]]:
    """The guardrails make plan applies offline, applied by the engine to the real preview and
    up too: the CrossGuard pack in policies/ with its environment's config (policies/<environment>.json,
    so that prod-dr is held to prod's rules)."""
    environment = stack_setting(stack_name, ENVIRONMENT_KEY)
    config = PROJECT_DIR / "policies" / f"{environment}.json"
    if not config.exists():
        raise SetupError(f"no policy pack config {config.relative_to(PROJECT_DIR)} for stack {stack_name!r} "
                         f"(environment {environment})")
    return {"policy_packs": [str(PROJECT_DIR / "policies")], "policy_pack_configs": [str(config)]}


def write_summary(text: str, summary_file: Path, env: Mapping[str, str]) -> None:
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(text)
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(text)


def aws_session(region: str):
    import boto3

    return boto3.Session(region_name=region)


def clear_the_way(stack, stack_name: str, output: Callable[[str], None], session_factory: Callable,
                  sleep: Callable[[float], None]) -> str | None:
    """Steps 1 and 2 of a destroy (ops/teardown.py): the application releases, then the wait for
    what their controllers made. Returns why the rest must not be destroyed yet, or None."""
    from ops import teardown

    urns = teardown.application_release_urns(stack.export_stack().deployment or {})
    if urns:
        stack.destroy(on_output=output, target=urns, target_dependents=True)
    region = stack_setting(stack_name, "aws:region")
    cluster = f"{PROJECT}-{stack_name}"
    left = teardown.wait_until_gone(session_factory(region), cluster, keep_volumes=is_protected(stack_name),
                                    timeout_seconds=teardown_wait_seconds(), sleep=sleep,
                                    report=lambda line: print(line, file=sys.stderr))
    if left:
        return ("the controllers did not delete everything they made for " + cluster + ": "
                + ", ".join(f"{kind} {' '.join(ids)}" for kind, ids in left.items()))
    return None


# Operations whose preview marks a resource as going away; on a stateful type they lose data.
LOSING_OPS = ("replace", "create-replacement", "delete-replaced", "delete")
# Stateful resources a real preview shows inside a component the offline plan sees as one: the
# control plane pulumi-eks's Cluster creates (nodejs/eks/cluster.ts; policies/ecomind_rules.py).
LIVE_STATEFUL = ("aws:eks/cluster:Cluster",)


class Events:
    """What the engine reported resource by resource (the Automation API's engine events): the
    summary names resources, not only counts."""

    def __init__(self, refresh: bool = False) -> None:
        self.refresh = refresh
        self.planned: dict[str, tuple[str, str]] = {}  # urn -> (op, type), from resourcePreEvent
        self.done: dict[str, tuple[str, str]] = {}  # urn -> (op, type), from resOutputsEvent
        self.drifted: dict[str, tuple[str, list[str]]] = {}  # urn -> (type, changed properties)
        self.failed: dict[str, str] = {}  # urn -> type, from resOpFailedEvent
        self.errors: dict[str, str] = {}  # urn -> the engine's error diagnostic
        self.warnings: list[str] = []
        self.summary: dict[str, int] = {}  # the engine's counts, sent even when the command then fails

    def __call__(self, event) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            self.planned[meta.urn] = (meta.op.value, meta.type)
        elif event.res_outputs_event is not None:
            meta = event.res_outputs_event.metadata
            if self.refresh and meta.op.value in ("update", "delete", "refresh"):
                # A refresh step is reported with its result, update or delete (pkg/engine/update.go:
                # RefreshStep.ResultOp), carrying the changed keys (RefreshStep.Diffs).
                changed = list(meta.diffs or []) or sorted(meta.detailed_diff or {})
                if meta.op.value == "delete" or meta.new is None:
                    self.drifted[meta.urn] = (meta.type, ["(deleted outside Pulumi)"])
                elif changed or meta.op.value == "update":
                    self.drifted[meta.urn] = (meta.type, changed or ["(outputs differ)"])
            elif meta.op.value != "same":
                self.done[meta.urn] = (meta.op.value, meta.type)
        elif event.summary_event is not None:
            self.summary = {op: count for op, count in (event.summary_event.resource_changes or {}).items()
                            if op != "same" and count}
        elif event.res_op_failed_event is not None:
            meta = event.res_op_failed_event.metadata
            self.failed[meta.urn] = meta.type
        elif event.diagnostic_event is not None:
            diagnostic = event.diagnostic_event
            if diagnostic.severity == "error":
                self.errors[diagnostic.urn or ""] = _plain(diagnostic.message)
            elif diagnostic.severity == "warning":
                self.warnings.append(_plain(diagnostic.message))

    def losing_state(self) -> list[tuple[str, str, str]]:
        """(op, type, urn) of every stateful resource the plan replaces or deletes."""
        from policies.ecomind_rules import STATEFUL

        return sorted((op, kind, urn) for urn, (op, kind) in self.planned.items()
                      if op in LOSING_OPS and (kind in STATEFUL or kind in LIVE_STATEFUL))


def _plain(text: str) -> str:
    """A diagnostic without the CLI's colour tags (<{%fg 1%}>, <{%reset%}>)."""
    return re.sub(r"<\{%[^%]*%\}>", "", text or "").strip()


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


@dataclasses.dataclass
class Report:
    """What every exit of the driver writes: the outcome, the counts, the resources behind them,
    the CLI's last words and what to do next."""

    command: str
    stack: str
    outcome: str = "succeeded"
    code: int = EXIT_OK
    changes: dict[str, int] = dataclasses.field(default_factory=dict)
    sections: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)
    error_tail: list[str] = dataclasses.field(default_factory=list)
    recovery: list[str] = dataclasses.field(default_factory=list)

    def set(self, outcome: str, code: int) -> Report:
        self.outcome, self.code = outcome, code
        return self

    def section(self, title: str, lines: list[str]) -> None:
        for existing, body in self.sections:
            if existing == title:
                body.extend(lines)
                return
        if lines:
            self.sections.append((title, list(lines)))

    def tail_of(self, error: BaseException, lines: int = 20) -> None:
        self.error_tail = [_plain(line) for line in _cli_tail(error).splitlines() if line.strip()][-lines:]

    def markdown(self, plan_file: Path) -> str:
        lines = [f"### `{self.command}` of stack `{self.stack}`: {self.outcome}", "", f"Exit code {self.code}.", ""]
        if self.changes:
            lines += ["| change | resources |", "|---|---:|"]
            lines += [f"| {kind} | {count} |" for kind, count in sorted(self.changes.items())]
        else:
            lines.append("No resource changes reported.")
        for title, body in self.sections:
            lines += ["", f"**{title}**", "", *(f"- {line}" for line in body)]
        if self.error_tail:
            lines += ["", "**The CLI's last lines**", "", "```", *self.error_tail, "```"]
        if self.recovery:
            lines += ["", "**What to do**", "", *(f"{i}. {step}" for i, step in enumerate(self.recovery, 1))]
        if plan_file.is_file():
            plan = json.loads(plan_file.read_text())
            if "cost" in plan:
                lines += ["", f"Offline estimate: **${plan['cost']['total_monthly_usd']:,.2f} a month**."]
            if "policy" in plan:
                violations = plan["policy"]["violations"]
                lines += [f"Policy pack: {plan['policy']['rules']} rules, {len(violations)} violations."]
                lines += [f"- `{v['policy']}`: {v['message']}" for v in violations]
        return "\n".join(lines) + "\n"


class StopError(Exception):
    """Ends the run with the report as it stands (its outcome and code already set)."""


def _cli_tail(error: BaseException) -> str:
    result = getattr(error, "result", None)
    return "\n".join(filter(None, [result.stdout, result.stderr])) if result else str(error)


def _last_error_line(error: BaseException) -> str:
    lines = [_plain(line) for line in _cli_tail(error).splitlines() if "error" in line.lower()]
    return lines[-1] if lines else type(error).__name__


EXPIRED_CREDENTIALS = ("ExpiredToken", "RequestExpired", "security token included in the request is expired")


def stale_lock_seconds() -> float:
    """A lock older than this outlived every job that could hold it: the deploy jobs'
    timeout-minutes (a test keeps the workflow and this equal)."""
    return float(os.environ.get("ECOMIND_STALE_LOCK_MINUTES", DEPLOY_JOB_MINUTES)) * 60


class Driver:
    """One run of the driver against one stack."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str], report: Report,
                 output: Callable[[str], None], sleep: Callable[[float], None], session_factory: Callable,
                 cancellation: Cancellation):
        self.args, self.env, self.report = args, env, report
        self.output, self.sleep, self.session_factory = output, sleep, session_factory
        self.cancellation = cancellation
        self.stack = None
        # The history's times are whole seconds: a minute's allowance for the clock of whoever wrote it.
        self.started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)

    # --- the backend, before and after ---------------------------------------------------------
    def _s3(self):
        region = self.env.get("AWS_REGION") or self.env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return self.session_factory(region).client("s3")

    def locks(self) -> list[state_backend.Lock]:
        return state_backend.read_locks(self.env["PULUMI_BACKEND_URL"], self.args.stack, self._s3)

    def pending(self) -> list[state_backend.PendingOperation]:
        return state_backend.pending_operations(self.stack.export_stack().deployment)

    def describe_locks(self, locks, title: str) -> None:
        """Each lock's holder and age, and why it is stale when it is."""
        now = state_backend.now_utc()
        self.report.section(title, [
            lock.describe(now) + (f"; stale: {why}" if (why := state_backend.stale_reason(
                lock, now, stale_lock_seconds())) else "") for lock in locks])

    def describe_pending(self, pending, title: str) -> None:
        self.report.section(title, [f"`{op.name}` ({op.type}): interrupted while {op.kind}; `{op.urn}`"
                                    for op in pending])

    def wait_for_locks(self) -> None:
        """Before any operation: a live lock is waited for, a stale one is reported and left."""
        looks = READ_ONLY_LOCK_LOOKS if self.args.command in ("preview", "drift") else LOCK_RETRIES
        for attempt in range(1, looks + 1):
            locks = self.locks()
            if not locks:
                return
            now = state_backend.now_utc()
            if any(state_backend.stale_reason(lock, now, stale_lock_seconds()) for lock in locks):
                self.describe_locks(locks, "Lock objects of the stack")
                self.report.recovery = state_backend.recovery_steps(self.args.stack, locks, self._pending_or_none())
                self.report.set("locked by a stale lock: its holder is gone; nothing ran and the lock is left as it "
                                "is", EXIT_LOCKED)
                raise StopError
            holder = locks[0].describe(now)
            if attempt == looks:
                self.describe_locks(locks, "Lock objects of the stack")
                self.report.recovery = ["Wait for the holder's update to end, then run again; if it was killed, "
                                        "this run reports the lock as stale once the holder's job can no longer "
                                        "be running.", *state_backend.recovery_steps(self.args.stack, locks, [])[:2]]
                self.report.set(f"locked by another update ({looks} looks at the lock objects)", EXIT_LOCKED)
                raise StopError
            print(f"stack '{self.args.stack}' is locked by {holder}; waiting ({attempt}/{looks})",
                  file=sys.stderr)
            self.sleep(lock_wait_seconds())

    def _pending_or_none(self) -> list[state_backend.PendingOperation]:
        try:
            return self.pending()
        except Exception:
            return []

    def check_pending(self, command: str) -> None:
        deployment = self.stack.export_stack().deployment
        why = uncommitted_data_key(self.args.stack, stack_secrets_provider(self.args.stack), deployment)
        if why:
            print(f"error: {why}", file=sys.stderr)
            self.report.set(f"environment: {why}", EXIT_ENVIRONMENT)
            raise StopError
        pending = state_backend.pending_operations(deployment)
        if not pending:
            return
        creates = [op for op in pending if op.kind == "creating"]
        if command in ("preview", "drift"):
            self.describe_pending(pending, "Pending operations in the checkpoint (an `up` will not run until they "
                                           "are resolved)")
            return
        if command == "refresh" and (self.args.clear_pending_creates or not creates):
            self.describe_pending(pending, "Pending operations this refresh clears")
            return
        self.describe_pending(pending, "Pending operations in the checkpoint")
        self.report.recovery = state_backend.recovery_steps(self.args.stack, [], pending)
        why = ("an interrupted update left operations pending: their resources may or may not exist, and an `up` "
               "would create duplicates" if command != "refresh" else
               "a non-interactive refresh leaves pending creates in the state (pkg/cmd/pulumi/operations/refresh.go): "
               "pass --clear-pending-creates once you know they do not exist, or import them")
        self.report.set(f"refused: {why}; nothing ran", EXIT_PENDING)
        raise StopError

    def after_failure(self) -> None:
        """What a failed or cancelled operation left: the update's recorded changes, the lock, the
        pending operations. Each is read separately, so one unreadable part does not hide the rest."""
        if self.args.command in ("up", "refresh", "destroy", "rollback"):
            try:
                [latest] = self.stack.history(page_size=1, show_secrets=False)[:1] or [None]
                # Only this run's update: a failure before the engine starts records none, and the
                # newest entry is then an earlier run's.
                started = latest.start_time if latest is None or latest.start_time.tzinfo else (
                    latest.start_time.replace(tzinfo=datetime.UTC))  # the SDK parses history times as naive UTC
                if latest is not None and latest.result != "succeeded" and started >= self.started:
                    # The DIY backend records a failed update with its changes (pkg/backend/diy/backend.go apply).
                    changes = {k: v for k, v in (latest.resource_changes or {}).items() if k != "same" and v}
                    self.report.changes = changes or self.report.changes
            except Exception as error:
                self.report.section("Not read", [f"the stack's history: {_last_error_line(error)}"])
        left_locks, left_pending = [], []
        try:
            left_locks = self.locks()
        except Exception as error:
            self.report.section("Not read", [f"the lock objects: {error}; assume the lock is still held"])
        try:
            left_pending = self.pending()
        except Exception as error:
            self.report.section("Not read", [f"the checkpoint: {_last_error_line(error)}"])
        self.describe_locks(left_locks, "Lock left behind")
        self.describe_pending(left_pending, "Pending operations left in the checkpoint")
        self.report.recovery = state_backend.recovery_steps(self.args.stack, left_locks, left_pending)
        if left_pending and self.report.code == EXIT_FAILED:
            self.report.code = EXIT_PENDING

    # --- the operations --------------------------------------------------------------------------
    def run_operation(self, command: str, events: Events) -> dict[str, int]:
        stack = self.stack
        if command == "preview":
            result = stack.preview(on_output=self.output, on_event=events, **policy_pack_options(stack.name))
            return dict(result.change_summary)
        if command == "up":
            result = stack.up(on_output=self.output, on_event=events, **policy_pack_options(stack.name))
            return dict(result.summary.resource_changes or {})
        if command == "refresh":
            result = stack.refresh(on_output=self.output, on_event=events,
                                   clear_pending_creates=self.args.clear_pending_creates or None)
            return dict(result.summary.resource_changes or {})
        if command == "drift":
            result = stack.preview_refresh(on_output=self.output, on_event=events, expect_no_changes=True)
            return dict(result.change_summary or {})
        if command == "destroy":
            result = stack.destroy(on_output=self.output, on_event=events)
            return dict(result.summary.resource_changes or {})
        raise ValueError(command)

    def gate_stateful_changes(self) -> None:
        """The preview of an `up`: a stateful resource it replaces or deletes stops the deploy
        unless named in --allow-replace (prod's are protected as well; dev's are not)."""
        events = Events()
        try:
            self.stack.preview(on_output=self.output, on_event=events, **policy_pack_options(self.stack.name))
        except errors.CommandError as error:
            if self.cancellation.requested:
                self.cancelled(error)
            else:
                self.failed("up", error, events)
            raise StopError from None
        losing = events.losing_state()
        allowed = set(self.args.allow_replace or ())
        blocked = [(op, kind, urn) for op, kind, urn in losing if urn not in allowed and _name(urn) not in allowed]
        acknowledged = [(op, kind, urn) for op, kind, urn in losing if (op, kind, urn) not in blocked]
        self.report.section("Stateful resources replaced or deleted, acknowledged with --allow-replace",
                            [f"{op} `{_name(urn)}` ({kind})" for op, kind, urn in acknowledged])
        if blocked:
            self.report.section("Stateful resources this deploy would replace or delete (their data goes with them)",
                                [f"{op} `{_name(urn)}` ({kind}): `{urn}`" for op, kind, urn in blocked])
            names = " ".join(f"--allow-replace {_name(urn)}" for _, _, urn in blocked)
            self.report.recovery = [
                "Check that losing each resource's data is intended (a snapshot or a copy exists, or it is empty).",
                f"Then deploy with `{names}` (the deploy workflow's allow-replace input, run from the Actions tab)."]
            self.report.set("refused: the preview replaces or deletes stateful resources; nothing ran", EXIT_REFUSED)
            raise StopError

    def operate(self, command: str) -> None:
        events = Events(refresh=command in ("refresh", "drift"))
        interfaces_cleared = False
        attempt = 0
        while True:
            attempt += 1
            try:
                self.report.changes = self.run_operation(command, events)
                self.describe_success(command, events)
                return
            except errors.ConcurrentUpdateError as error:
                holders = state_backend.locks_from_text(_cli_tail(error))
                if attempt == LOCK_RETRIES:
                    self.describe_locks(holders, "Lock holders the CLI named")
                    self.report.recovery = state_backend.recovery_steps(self.args.stack, holders, [])
                    self.report.tail_of(error)
                    self.report.set(f"stack locked by another update ({LOCK_RETRIES} attempts)", EXIT_LOCKED)
                    return
                holder = holders[0].describe(state_backend.now_utc()) if holders else "another update"
                print(f"stack '{self.args.stack}' is locked by {holder}; retrying ({attempt}/{LOCK_RETRIES})",
                      file=sys.stderr)
                self.sleep(lock_wait_seconds())
            except errors.CommandError as error:
                if self.cancellation.requested:
                    self.cancelled(error)
                    return
                if command == "destroy" and not interfaces_cleared and self.clear_interfaces():
                    interfaces_cleared = True
                    attempt -= 1  # a retry after clearing interfaces is not one of the lock's attempts
                    continue
                self.failed(command, error, events)
                return

    def clear_interfaces(self) -> bool:
        from ops import teardown

        region = stack_setting(self.args.stack, "aws:region")
        deleted = teardown.delete_detached_interfaces(self.session_factory(region), f"{PROJECT}-{self.args.stack}")
        if deleted:
            print(f"destroy failed; deleted {len(deleted)} detached VPC CNI interface(s) and retrying",
                  file=sys.stderr)
        return bool(deleted)

    def describe_success(self, command: str, events: Events) -> None:
        going = sorted((op, kind, urn) for urn, (op, kind) in (events.planned if command == "preview"
                                                              else events.done).items() if op in LOSING_OPS)
        self.report.section("Replaced or deleted", [f"{op} `{_name(urn)}` ({kind})" for op, kind, urn in going])
        pending = state_backend.pending_from_text("\n".join([*events.errors.values(), *events.warnings]))
        if pending:
            self.describe_pending(pending, "Pending operations the CLI warned about")

    def failed(self, command: str, error: errors.CommandError, events: Events) -> None:
        text = _cli_tail(error)
        self.report.tail_of(error)
        self.report.changes = events.summary or self.report.changes
        if self.args.command == "drift" and DRIFT_MARKER in text:
            self.report.section("Drifted resources and the properties that differ",
                                [f"`{_name(urn)}` ({kind}): {', '.join(props)}"
                                 for urn, (kind, props) in sorted(events.drifted.items())])
            self.report.set("drifted: the cloud no longer matches the stack's state", EXIT_DRIFT)
            return
        pending = state_backend.pending_from_text(text)
        self.report.section("Created, updated or deleted before the failure",
                            [f"{op} `{_name(urn)}` ({kind})" for urn, (op, kind) in sorted(events.done.items())])
        self.report.section("Failed", [f"`{_name(urn)}` ({kind}): {events.errors.get(urn, 'see the CLI output')}"
                                       for urn, kind in sorted(events.failed.items())])
        if pending:
            self.describe_pending(pending, "Pending operations the CLI reported")
            self.report.set(f"failed: the stack has pending operations; {command} did not run", EXIT_PENDING)
        elif any(marker in text for marker in EXPIRED_CREDENTIALS):
            self.report.set("failed: the AWS credentials expired mid-update", EXIT_FAILED)
        else:
            self.report.set(f"failed: {_last_error_line(error).removeprefix('error: ')}", EXIT_FAILED)
        print(f"error: {self.args.command} of '{self.args.stack}' failed", file=sys.stderr)
        self.after_failure()
        if pending:
            self.report.recovery = state_backend.recovery_steps(self.args.stack, [], pending)

    def cancelled(self, error: BaseException | None) -> None:
        if error is not None:
            self.report.tail_of(error)
        forwarded = signal.Signals(self.cancellation.forwarded).name if self.cancellation.forwarded else "nothing"
        self.report.set(f"cancelled by {self.cancellation.signal_name} (forwarded to the CLI: {forwarded})",
                        EXIT_CANCELLED)
        code = getattr(getattr(error, "result", None), "code", 0)
        if code < 0:
            # The CLI cancels gracefully only while an operation runs (cancellation_scope.go); before
            # it, or while it saves the state and unlocks, the signal ends it at once.
            self.report.section("The CLI was ended by the signal", [
                f"it exited by {signal.Signals(-code).name}, outside the phase it cancels gracefully in: the "
                "lock and pending operations may remain (below)"])
        if self.stack is not None:
            self.after_failure()
        if not self.report.recovery:
            self.report.recovery = ["Nothing is left to repair: run the command again when it should run."]

    def after_check(self, command: str) -> None:
        """A preview or drift check takes no lock (the DIY backend's Preview; Refresh with
        PreviewOnly): an update that began meanwhile makes its answer unreliable."""
        if command not in ("preview", "drift") or self.report.code not in (EXIT_OK, EXIT_DRIFT):
            return
        started = self.locks()
        if started:
            self.describe_locks(started, "An update took the lock during the check")
            self.report.set("inconclusive: an update started during the check; run it again when it ends",
                            EXIT_LOCKED)

    # --- one run ----------------------------------------------------------------------------------
    def run(self) -> None:
        args, report = self.args, self.report
        if args.command == "destroy" and is_protected(args.stack) and not (
                args.allow_prod_destroy and args.confirm == args.stack):
            print(f"error: refusing to destroy stack '{args.stack}': pass --allow-prod-destroy and "
                  f"--confirm {args.stack}", file=sys.stderr)
            report.set(f"refused: stack {args.stack} is protected (environment prod)", EXIT_REFUSED)
            raise StopError
        missing = [name for name in ("PULUMI_BACKEND_URL",) if not self.env.get(name)]
        if missing:
            print(f"error: set {', '.join(missing)} (the bootstrap stack's output stateUrl)", file=sys.stderr)
            report.set(f"environment: {', '.join(missing)} not set", EXIT_ENVIRONMENT)
            raise StopError
        self.stack = stack_for(args.stack, self.env, self.cancellation, create=args.command in CREATING_COMMANDS)
        command = args.command
        self.wait_for_locks()
        self.check_pending(command)
        if command in ("up", "rollback"):
            deployed = self.stack.outputs().get("kubernetesVersion")
            refusal = upgrade_refusal(deployed.value if deployed else None, stack_setting(args.stack, VERSION_KEY))
            if refusal:
                print(f"error: {refusal}", file=sys.stderr)
                report.set(f"refused: {refusal}", EXIT_REFUSED)
                raise StopError
        if command == "rollback":
            current = stack_setting(args.stack, IMAGE_TAG_KEY)
            self.previous = previous_release(self.stack.history(show_secrets=False), current)
            if self.previous is None:
                print(f"error: stack '{args.stack}' records no earlier succeeded release than {current} to roll "
                      "back to", file=sys.stderr)
                report.set("refused: no earlier succeeded release", EXIT_REFUSED)
                raise StopError
            print(f"rolling stack '{args.stack}' back from appImageTag {current} to {self.previous}", file=sys.stderr)
            self.stack.set_config(IMAGE_TAG_KEY, auto.ConfigValue(value=self.previous))
            command = "up"
        if command == "up":
            self.gate_stateful_changes()
        if command == "destroy":
            # What goes, shown before anything does (the engine's own preview of the destroy).
            planned = Events()
            doomed = dict(self.stack.preview_destroy(on_output=self.output, on_event=planned).change_summary or {})
            print(f"destroy of stack '{args.stack}' deletes {doomed.get('delete', 0)} resource(s) (preview above)",
                  file=sys.stderr)
            self.report.section(f"What this destroy deletes ({doomed.get('delete', 0)} resources)", [
                f"`{_name(urn)}` ({kind})" for urn, (op, kind) in sorted(planned.planned.items()) if op == "delete"])
            blocked = clear_the_way(self.stack, args.stack, self.output, self.session_factory, self.sleep)
            if blocked:
                print(f"error: {blocked}; nothing else was destroyed", file=sys.stderr)
                report.set(f"failed: {blocked}; nothing else was destroyed", EXIT_FAILED)
                raise StopError
        self.operate(command)
        self.after_check(command)
        if command == "refresh" and report.code == EXIT_OK:
            # The CLI reports success and keeps what it did not clear: say so, not "succeeded".
            left = self.pending()
            if left:
                self.describe_pending(left, "Pending operations the refresh left in the checkpoint")
                report.recovery = state_backend.recovery_steps(args.stack, [], left)
                report.set("refreshed, but operations are still pending", EXIT_PENDING)
        if args.command == "rollback" and report.code == EXIT_OK:
            print(f"rolled back: set ecomind-infra:appImageTag to {self.previous} in Pulumi.{args.stack}.yaml and "
                  "merge it, or the next deploy rolls forward again", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # argparse's own exit code is 2, which is this driver's "drifted": a usage error is a refusal.
        self.exit(EXIT_REFUSED, f"error: {message} (python -m ops.pulumi_stack --help)\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["preview", "up", "refresh", "drift", "destroy", "rollback"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--summary-file", type=Path)
    parser.add_argument("--allow-prod-destroy", action="store_true")
    parser.add_argument("--confirm", help="the stack's name again, required to destroy a protected stack")
    parser.add_argument("--allow-replace", action="append", metavar="NAME",
                        help="a stateful resource (logical name or URN) the up may replace or delete; repeatable")
    parser.add_argument("--clear-pending-creates", action="store_true",
                        help="refresh: drop pending creates from the state (after checking they do not exist)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None,
         output: Callable[[str], None] = lambda line: print(line, flush=True),
         sleep: Callable[[float], None] = time.sleep, session_factory: Callable = aws_session,
         cancellation: Cancellation | None = None) -> int:
    env = dict(os.environ if env is None else env)
    args = parse_args(argv)
    raw = args.stack
    try:
        args.stack = normalise_stack(args.stack)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        refusal = Report(args.command, raw).set(f"refused: {error}", EXIT_REFUSED)
        write_summary(refusal.markdown(Path("/nonexistent")), args.summary_file or PROJECT_DIR / "build" /
                      f"summary-{re.sub(r'[^A-Za-z0-9_.-]', '_', raw)}-{args.command}.md", env)
        return EXIT_REFUSED
    report = Report(args.command, args.stack)
    cancellation = cancellation or Cancellation()

    def waiting(seconds: float) -> None:
        """Every wait of the driver (for a lock, for the controllers' cleanup) ends at a signal."""
        cancellation.check()
        if sleep is time.sleep:
            # In short steps: a handler that does not raise lets a long sleep resume to its end.
            end = time.monotonic() + seconds
            while not cancellation.requested and (left := end - time.monotonic()) > 0:
                time.sleep(min(0.2, left))
        else:
            sleep(seconds)
        cancellation.check()

    driver = Driver(args, env, report, output, waiting, session_factory, cancellation)
    try:
        driver.run()
    except StopError:
        pass
    except CancelledError:
        driver.cancelled(None)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        report.tail_of(error.cause or error)
        report.set(f"environment: {error}", EXIT_ENVIRONMENT)
    except state_backend.BackendError as error:
        print(f"error: {error}", file=sys.stderr)
        report.set(f"environment: {error}", EXIT_ENVIRONMENT)
    except errors.CommandError as error:
        # A CLI call outside the operation itself (outputs, history, export, config): one line, and its tail.
        if driver.cancellation.requested:
            driver.cancelled(error)
        else:
            print(f"error: {args.command} of '{args.stack}' stopped: {_last_error_line(error)}", file=sys.stderr)
            report.tail_of(error)
            report.set(f"failed: {_last_error_line(error)}", EXIT_FAILED)
    except Exception as error:  # a fault of the driver itself, or of AWS outside the CLI: still a summary
        import traceback

        print(f"error: {args.command} of '{args.stack}' stopped: {type(error).__name__}: {error} "
              "(the traceback is in the summary)", file=sys.stderr)
        report.error_tail = traceback.format_exc().splitlines()[-20:]
        report.set(f"failed: {type(error).__name__}: {error}", EXIT_FAILED)
    if raw != args.stack:
        report.section("Stack", [f"--stack {raw} is stack `{args.stack}` of {PROJECT}"])
    summary_file = args.summary_file or PROJECT_DIR / "build" / f"summary-{args.stack}-{args.command}.md"
    write_summary(report.markdown(PROJECT_DIR / "build" / "plan" / f"{args.stack}.json"), summary_file, env)
    if report.code not in (EXIT_REFUSED, EXIT_ENVIRONMENT):  # those said why in their one line
        print(f"{args.command} of stack '{args.stack}': {report.outcome} (exit {report.code})", file=sys.stderr)
    return report.code


if __name__ == "__main__":
    handler = Cancellation()
    handler.install()
    sys.exit(main(cancellation=handler))
