"""Drive a stack through Pulumi's Automation API, the way CI runs it.

    python -m ops.pulumi_stack preview --stack dev
    python -m ops.pulumi_stack up --stack prod
    python -m ops.pulumi_stack refresh --stack dev
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

Environment: PULUMI_BACKEND_URL (for example s3://<state bucket>) and PULUMI_SECRETS_PROVIDER
(for example awskms://alias/ecomind-pulumi-secrets), both from the bootstrap stack's outputs.
The engine's output streams as it goes; a Markdown summary goes to $GITHUB_STEP_SUMMARY (when
set) and to --summary-file, for a pull-request comment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent

EXIT_OK = 0
EXIT_DRIFT = 2
EXIT_FAILED = 3
EXIT_LOCKED = 4
EXIT_REFUSED = 5
EXIT_ENVIRONMENT = 6
# Stacks whose destroy needs --allow-prod-destroy and --confirm: every stack whose file says
# environment prod (prod and its recovery stack prod-dr), not a list of names to keep in step.
PROTECTED_ENVIRONMENT = "prod"
LOCK_RETRIES = 3
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


def stack_for(name: str, env: Mapping[str, str]):
    from pulumi import automation as auto

    workspace = auto.LocalWorkspace(
        work_dir=str(PROJECT_DIR),
        secrets_provider=env["PULUMI_SECRETS_PROVIDER"],
        env_vars={"PULUMI_BACKEND_URL": env["PULUMI_BACKEND_URL"]},
    )
    stack = auto.Stack.create_or_select(name, workspace)
    # Installs the language dependencies and the provider plugins the program declares.
    workspace.install()
    return stack


def policy_pack_options(stack_name: str) -> dict[str, list[str]]:
    """The guardrails make plan applies offline, applied by the engine to the real preview and
    up too: the CrossGuard pack in policies/ with its environment's config (policies/<environment>.json,
    so that prod-dr is held to prod's rules)."""
    environment = stack_setting(stack_name, ENVIRONMENT_KEY)
    config = PROJECT_DIR / "policies" / f"{environment}.json"
    if not config.exists():
        raise SystemExit(f"error: no policy pack config {config.relative_to(PROJECT_DIR)} for stack {stack_name!r} "
                         f"(environment {environment})")
    return {"policy_packs": [str(PROJECT_DIR / "policies")], "policy_pack_configs": [str(config)]}


def run_operation(command: str, stack, output: Callable[[str], None]) -> dict[str, Any]:
    """One Automation API call; returns what the summary reports."""
    if command == "preview":
        result = stack.preview(on_output=output, **policy_pack_options(stack.name))
        return {"changes": dict(result.change_summary)}
    if command == "up":
        result = stack.up(on_output=output, **policy_pack_options(stack.name))
        return {"changes": dict(result.summary.resource_changes or {})}
    if command == "refresh":
        result = stack.refresh(on_output=output)
        return {"changes": dict(result.summary.resource_changes or {})}
    if command == "drift":
        result = stack.refresh(on_output=output, preview_only=True, expect_no_changes=True)
        return {"changes": dict(getattr(result, "change_summary", None) or {})}
    if command == "destroy":
        result = stack.destroy(on_output=output)
        return {"changes": dict(result.summary.resource_changes or {})}
    raise ValueError(command)


def summary_markdown(command: str, stack_name: str, outcome: str, changes: Mapping[str, int],
                     plan_file: Path) -> str:
    lines = [f"### `{command}` of stack `{stack_name}`: {outcome}", ""]
    if changes:
        lines += ["| change | resources |", "|---|---:|"]
        lines += [f"| {kind} | {count} |" for kind, count in sorted(changes.items())]
    else:
        lines.append("No resource changes reported.")
    if plan_file.is_file():
        plan = json.loads(plan_file.read_text())
        if "cost" in plan:
            lines += ["", f"Offline estimate: **${plan['cost']['total_monthly_usd']:,.2f} a month**."]
        if "policy" in plan:
            violations = plan["policy"]["violations"]
            lines += [f"Policy pack: {plan['policy']['rules']} rules, {len(violations)} violations."]
            lines += [f"- `{v['policy']}`: {v['message']}" for v in violations]
    return "\n".join(lines) + "\n"


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


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None,
         output: Callable[[str], None] = lambda line: print(line, flush=True),
         sleep: Callable[[float], None] = time.sleep, session_factory: Callable = aws_session) -> int:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["preview", "up", "refresh", "drift", "destroy", "rollback"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--summary-file", type=Path)
    parser.add_argument("--allow-prod-destroy", action="store_true")
    parser.add_argument("--confirm", help="the stack's name again, required to destroy a protected stack")
    args = parser.parse_args(argv)
    try:
        args.stack = normalise_stack(args.stack)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    summary_file = args.summary_file or PROJECT_DIR / "build" / f"summary-{args.stack}-{args.command}.md"

    if args.command == "destroy" and is_protected(args.stack) and not (
            args.allow_prod_destroy and args.confirm == args.stack):
        print(f"error: refusing to destroy stack '{args.stack}': pass --allow-prod-destroy and "
              f"--confirm {args.stack}", file=sys.stderr)
        return EXIT_REFUSED
    missing = [name for name in ("PULUMI_BACKEND_URL", "PULUMI_SECRETS_PROVIDER") if not env.get(name)]
    if missing:
        print(f"error: set {', '.join(missing)} (the bootstrap stack's outputs)", file=sys.stderr)
        return EXIT_ENVIRONMENT

    from pulumi import automation as auto
    from pulumi.automation import errors

    stack = stack_for(args.stack, env)
    command = args.command
    if command in ("up", "rollback"):
        deployed = stack.outputs().get("kubernetesVersion")
        refusal = upgrade_refusal(deployed.value if deployed else None, stack_setting(args.stack, VERSION_KEY))
        if refusal:
            print(f"error: {refusal}", file=sys.stderr)
            return EXIT_REFUSED
    if command == "rollback":
        current = stack_setting(args.stack, IMAGE_TAG_KEY)
        previous = previous_release(stack.history(show_secrets=False), current)
        if previous is None:
            print(f"error: stack '{args.stack}' records no earlier succeeded release than {current} to roll back to",
                  file=sys.stderr)
            return EXIT_REFUSED
        print(f"rolling stack '{args.stack}' back from appImageTag {current} to {previous}", file=sys.stderr)
        stack.set_config(IMAGE_TAG_KEY, auto.ConfigValue(value=previous))
        command = "up"
    outcome, code, changes = "succeeded", EXIT_OK, {}
    if command == "destroy":
        # What goes, shown before anything does (the engine's own preview of the destroy).
        doomed = dict(stack.preview_destroy(on_output=output).change_summary or {})
        print(f"destroy of stack '{args.stack}' deletes {doomed.get('delete', 0)} resource(s) (preview above)",
              file=sys.stderr)
        blocked = clear_the_way(stack, args.stack, output, session_factory, sleep)
        if blocked:
            print(f"error: {blocked}; nothing else was destroyed", file=sys.stderr)
            return EXIT_FAILED
    interfaces_cleared = False
    for attempt in range(1, LOCK_RETRIES + 1):
        try:
            changes = run_operation(command, stack, output)["changes"]
            break
        except errors.ConcurrentUpdateError:
            if attempt == LOCK_RETRIES:
                outcome, code = f"stack locked by another update ({LOCK_RETRIES} attempts)", EXIT_LOCKED
                break
            print(f"stack '{args.stack}' is locked by another update; retrying ({attempt}/{LOCK_RETRIES})",
                  file=sys.stderr)
            sleep(lock_wait_seconds())
        except errors.CommandError as error:
            if command == "destroy" and not interfaces_cleared:
                from ops import teardown

                interfaces_cleared = True
                region = stack_setting(args.stack, "aws:region")
                deleted = teardown.delete_detached_interfaces(session_factory(region), f"{PROJECT}-{args.stack}")
                if deleted:
                    print(f"destroy failed; deleted {len(deleted)} detached VPC CNI interface(s) and retrying",
                          file=sys.stderr)
                    continue
            if args.command == "drift" and DRIFT_MARKER in str(error):
                outcome, code = "drifted: the cloud no longer matches the stack's state", EXIT_DRIFT
            else:
                outcome, code = "failed", EXIT_FAILED
                print(f"error: {args.command} of '{args.stack}' failed", file=sys.stderr)
            break
    write_summary(summary_markdown(args.command, args.stack, outcome, changes,
                                   PROJECT_DIR / "build" / "plan" / f"{args.stack}.json"), summary_file, env)
    if args.command == "rollback" and code == EXIT_OK:
        print(f"rolled back: set ecomind-infra:appImageTag to {previous} in Pulumi.{args.stack}.yaml and merge it, "
              "or the next deploy rolls forward again", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
