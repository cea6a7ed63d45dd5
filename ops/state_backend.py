"""What the state backend says about a stack before anything runs: its lock objects and the
pending operations in its checkpoint, and the recovery each calls for.

The layout is Pulumi's DIY backend (the bootstrap stack's S3 bucket, or a file:// directory):
a running update writes `.pulumi/locks/organization/<project>/<stack>/<id>.json` holding
{"pid", "username", "hostname", "timestamp"} and deletes it when it ends (pulumi/pulumi
pkg/backend/diy/lock.go: lockContent, stackLockDir; backend.go: FullyQualifiedName is
organization/<project>/<stack> for project-scoped stacks). An update that dies without
ending leaves both the lock and, for the operations it had started, `pending_operations`
in the checkpoint (sdk/go/common/apitype/core.go: OperationV2, types creating, updating,
deleting, reading). Read at pulumi/pulumi 1b59498 (August 2026); the 3.272 CLI the
workflows pin is later and assumed to keep the layout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

PROJECT = "ecomind-infra"


class BackendError(Exception):
    """The backend could not be read: no credentials, access denied, no such bucket."""


def lock_prefix(stack: str) -> str:
    return f".pulumi/locks/organization/{PROJECT}/{stack}/"


@dataclasses.dataclass(frozen=True)
class Lock:
    """One lock object: who holds the stack, and since when."""

    url: str
    """Where the object is (the backend URL and its key), for `pulumi cancel` or a look."""
    username: str
    hostname: str
    """The holder's user and host: a CodeBuild runner's name for CI, a laptop's otherwise."""
    pid: int
    timestamp: dt.datetime
    """When the holder took the lock, in UTC."""

    def age_seconds(self, now: dt.datetime) -> float:
        return max(0.0, (now - self.timestamp).total_seconds())

    def describe(self, now: dt.datetime) -> str:
        minutes = self.age_seconds(now) / 60
        return (f"{self.username}@{self.hostname} (pid {self.pid}) since "
                f"{self.timestamp.strftime('%Y-%m-%dT%H:%M:%SZ')}, {minutes:.0f} min ago: {self.url}")


def _lock(url: str, content: bytes) -> Lock:
    try:
        data = json.loads(content)
        stamp = dt.datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError) as error:
        raise BackendError(f"lock object {url} is not a Pulumi lock ({error})") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return Lock(url, str(data.get("username", "?")), str(data.get("hostname", "?")), int(data.get("pid", 0)),
                stamp.astimezone(dt.UTC))


def read_locks(backend_url: str, stack: str, s3_client: Callable[[], object]) -> list[Lock]:
    """Every lock object of the stack, oldest first."""
    parsed = urlparse(backend_url)
    prefix = lock_prefix(stack)
    if parsed.scheme == "file":
        root = Path(parsed.path) / prefix
        found = [_lock(f"{backend_url.rstrip('/')}/{prefix}{p.name}", p.read_bytes())
                 for p in sorted(root.glob("*.json"))] if root.is_dir() else []
    elif parsed.scheme == "s3":
        # s3://bucket/some/path keeps the backend under that path (the DIY backend's prefixed bucket).
        found = _s3_locks(s3_client(), parsed.netloc, f"{parsed.path.strip('/')}/{prefix}".lstrip("/"))
    else:
        raise BackendError(f"PULUMI_BACKEND_URL {backend_url!r}: only s3:// (the bootstrap bucket) and file:// "
                           "backends are read for locks")
    return sorted(found, key=lambda lock: lock.timestamp)


def _s3_locks(client, bucket: str, prefix: str) -> list[Lock]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for item in page.get("Contents", []) if item["Key"].endswith(".json")]
        found = []
        for key in keys:
            try:
                body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    continue  # the update ended between the listing and the read: its lock is gone
                raise
            found.append(_lock(f"s3://{bucket}/{key}", body))
        return found
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "?")
        raise BackendError(f"reading the lock objects under s3://{bucket}/{prefix}: {code}") from None
    except BotoCoreError as error:
        raise BackendError(f"reading the lock objects under s3://{bucket}/{prefix}: {error}") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process that exited but was not yet reaped (an orphan of a killed parent) still answers.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stale_reason(lock: Lock, now: dt.datetime, longest_seconds: float, this_host: str | None = None,
                 alive: Callable[[int], bool] = _pid_alive) -> str | None:
    """Why the lock's holder cannot still be running (None: it may be). A lock older than the
    longest a deploy job may run (its timeout-minutes) outlived every job that could hold it; a
    lock of this host whose process is gone was left by a killed CLI."""
    host = this_host or socket.gethostname()
    if lock.hostname == host and lock.pid and not alive(lock.pid):
        return f"process {lock.pid} on this host ({host}) is gone"
    if lock.age_seconds(now) > longest_seconds:
        return (f"it is {lock.age_seconds(now) / 60:.0f} min old, older than the longest a deploy job runs "
                f"({longest_seconds / 60:.0f} min)")
    return None


# "  <url>: created by <user>@<host> (pid <n>) at <RFC 3339>", one line per lock (lock.go checkForLock).
_LOCK_LINE = re.compile(r"^\s*(\S+): created by (\S+)@(\S+) \(pid (\d+)\) at (\S+)\s*$", re.M)


def locks_from_text(text: str) -> list[Lock]:
    """The holders the CLI printed with its "currently locked" error."""
    found = []
    for url, user, host, pid, stamp in _LOCK_LINE.findall(text):
        try:
            when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            continue
        found.append(Lock(url, user, host, int(pid), when.astimezone(dt.UTC)))
    return found


@dataclasses.dataclass(frozen=True)
class PendingOperation:
    urn: str
    kind: str  # creating, updating, deleting, reading, importing

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def type(self) -> str:
        parts = self.urn.split("::")
        return parts[2].rsplit("$", 1)[-1] if len(parts) > 3 else "?"


def pending_operations(deployment: Mapping | None) -> list[PendingOperation]:
    """The checkpoint's pending operations (`pulumi stack export`, deployment.pending_operations)."""
    return [PendingOperation(op.get("resource", {}).get("urn", "?"), op.get("type", "?"))
            for op in (deployment or {}).get("pending_operations") or []]


# Both texts list "  * <urn>, interrupted while <op>": the error of CLIs before 3.29 ("the current
# deployment has N resource(s) with pending operations") and the warning of later ones that go ahead
# ("Attempting to deploy or update resources with N pending operations from previous deployment";
# pulumi/pulumi#9293, pkg/resource/deploy/deployment_executor.go).
_PENDING_LINE = re.compile(r"\*\s+(urn:pulumi:\S+?),\s+interrupted while (\w+)")


def pending_from_text(text: str) -> list[PendingOperation]:
    seen: dict[str, PendingOperation] = {}
    for urn, verb in _PENDING_LINE.findall(text):
        seen.setdefault(urn, PendingOperation(urn, verb))
    return list(seen.values())


def recovery_steps(stack: str, locks: Sequence[Lock], pending: Sequence[PendingOperation]) -> list[str]:
    """What an operator does, in order, about what the backend shows; the driver breaks no lock
    and drops no pending operation itself."""
    steps = []
    if locks:
        steps.append("Confirm that no update of the stack runs (the deploy workflow's runs, anyone's terminal): the "
                     "lock's holder is named above.")
        steps.append(f"Only then remove the lock: `pulumi cancel --stack {stack} --yes` (it deletes every lock "
                     "object of the stack; pkg/backend/diy/backend.go CancelCurrentUpdate).")
    creates = [op for op in pending if op.kind == "creating"]
    others = [op for op in pending if op.kind != "creating"]
    if creates:
        steps.append("For each pending create, look in the AWS console (or CLI) whether the resource exists.")
        steps.append(f"If it exists, adopt it: `pulumi refresh --stack {stack} --import-pending-creates <urn> "
                     "--import-pending-creates <id>` (the flag once for the URN and once for the ID AWS shows, per "
                     "resource: pkg/cmd/pulumi/operations/refresh.go pendingCreatesToImports).")
        steps.append(f"If it does not, drop it from the state: `python -m ops.pulumi_stack refresh --stack {stack} "
                     "--clear-pending-creates`.")
    if others:
        steps.append(f"Pending updates and deletes are cleared by a refresh, which reads each resource back: "
                     f"`python -m ops.pulumi_stack refresh --stack {stack}`.")
    if locks or pending:
        steps.append("Then run the deploy again.")
    return steps


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
