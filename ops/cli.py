"""The Pulumi CLI as the driver runs it: in a session of its own, cancelled gracefully, once.

The CLI handles SIGINT and SIGTERM alike: the first cancels (the engine starts nothing new,
waits for the operations in flight, saves the checkpoint and releases the lock), a second
terminates at once and leaves those operations pending and the lock behind (pulumi/pulumi
pkg/backend/cancellation_scope.go). So the CLI runs in its own session, out of reach of a
terminal's Ctrl-C or a runner's signal to the step's process group; the driver forwards the
first signal it receives to the CLI alone, drains the CLI's output until it exits, and
forwards nothing more. A signal between two CLI calls stops the driver before the next one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping

from pulumi.automation import PulumiCommand
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ENGINE_COMMANDS = {"preview", "up", "refresh", "destroy", "import"}


# The oldest CLI this repository runs on: the bootstrap's object-typed settings (reviewerTeamIds)
# need v3.187.0 (pulumi/pulumi#20129 added the type to Pulumi.yaml in v3.186.0, #20132 checks its
# values from v3.187.0); what the driver uses is older (`pulumi install --no-dependencies` from
# v3.113.0, `refresh --preview-only` without a lock from v3.105.0). policies/PulumiPolicy.yaml's
# requiredPulumiVersion makes the CLI itself refuse an older one for the pack. The workflows pin a CLI at least this
# (tests/test_cli_rules.py), and the driver refuses an older one before it runs anything.
MINIMUM_CLI_VERSION = "3.187.0"


class CancelledError(Exception):
    """A signal asked the driver to stop before it started another CLI call."""


class Cancellation:
    """The signals the driver received and the one it forwarded."""

    def __init__(self, report: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)):
        self.received: list[int] = []
        self.forwarded: int | None = None
        self.process: subprocess.Popen | None = None
        self._report = report

    @property
    def requested(self) -> bool:
        return bool(self.received)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame) -> None:
        self.received.append(signum)
        name = signal.Signals(signum).name
        process = self.process
        if self.forwarded is not None:
            self._report(f"{name} received again: not forwarded. The CLI is already cancelling; a second signal "
                         "would make it terminate at once and leave its operations pending and the stack locked")
            return
        if process is None or process.poll() is not None:
            self._report(f"{name} received: stopping before the next Pulumi operation")
            return
        self.forward_to_running()

    def forward_to_running(self) -> None:
        process = self.process
        if process is None or process.poll() is not None or self.forwarded is not None:
            return
        # SIGHUP (a closed terminal) is not one the CLI cancels on; it gets the graceful SIGINT.
        forward = signal.SIGTERM if self.received[0] == signal.SIGTERM else signal.SIGINT
        self.forwarded = forward
        process.send_signal(forward)
        self._report(f"{signal.Signals(self.received[0]).name} received: forwarded {signal.Signals(forward).name} "
                     f"once to the Pulumi CLI (pid {process.pid}), which finishes the operations in flight, saves "
                     "the state and releases the lock; waiting for it to exit")

    def check(self) -> None:
        if self.requested:
            raise CancelledError(self.signal_name)


class GuardedCommand(PulumiCommand):
    """PulumiCommand whose CLI runs in its own session and is known to the cancellation."""

    def __init__(self, cancellation: Cancellation, **kwargs):
        super().__init__(**kwargs)
        self.cancellation = cancellation

    def run(self, args: list[str], cwd: str, additional_env: Mapping[str, str], on_output=None,
            on_error=None) -> CommandResult:
        engine = bool(ENGINE_COMMANDS.intersection(args[:2]))
        if engine:
            # Nothing new starts after a signal; reading the state left (export, history) still may.
            self.cancellation.check()
        end = args.index("--") if "--" in args else len(args)
        if "--non-interactive" not in args[:end]:
            args = ["--non-interactive", *args]
        env = {**os.environ, **additional_env, "PULUMI_AUTOMATION_API": "true"}
        chunks: dict[str, list[str]] = {"out": [], "err": []}

        def pump(stream, callback, into):
            # Every line is read to the end, whatever a callback does: a reader that stopped would
            # leave the CLI blocked on a full pipe.
            for line in iter(stream.readline, ""):
                line = line.rstrip()
                if callback:
                    with contextlib.suppress(Exception):  # the line is still kept for the summary
                        callback(line)
                into.append(line)
            stream.close()

        with subprocess.Popen([self.command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                              env=env, encoding="utf-8", errors="replace", start_new_session=True) as process:
            self.cancellation.process = process if engine else None
            if engine and self.cancellation.requested and self.cancellation.forwarded is None:
                # The signal came while the CLI was starting: it is forwarded now, not lost.
                self.cancellation.forward_to_running()
            readers = [threading.Thread(target=pump, args=(process.stdout, on_output, chunks["out"])),
                       threading.Thread(target=pump, args=(process.stderr, on_error, chunks["err"]))]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
            process.wait()
        self.cancellation.process = None
        result = CommandResult(stdout="\n".join(chunks["out"]), stderr="\n".join(chunks["err"]),
                               code=process.returncode)
        if result.code != 0:
            error = create_command_error(result)
            error.result = result  # the driver's summary quotes its tail
            raise error
        return result
