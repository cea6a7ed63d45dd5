"""`make checkov STACK=prod`: checkov's AWS catalogue over a stack's offline plan.

    python -m offline.checkov_scan --stack prod [--set KEY=VALUE ...] [--checkov PATH]
    python -m offline.checkov_scan --project bootstrap

Plans the stack under mocks, converts the plan to Terraform plan JSON (`offline.terraform_plan`),
runs `checkov --framework terraform_plan` on it offline and prints, per Terraform type, the
resources and the checks that passed, failed and were waived. A failed check passes only when
`policies/checkov-waivers.yaml` lists it, for that resource and stack, with its reason.
Exit codes: 2 for a configuration error, 3 for a failed check without a waiver.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import fnmatch
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
WAIVERS_FILE = PROJECT_DIR / "policies" / "checkov-waivers.yaml"
DEFAULT_CHECKOV = PROJECT_DIR / ".venv-tools" / "bin" / "checkov"
OUT_DIR = PROJECT_DIR / "build" / "checkov"


@dataclasses.dataclass(frozen=True)
class Result:
    plan: str
    environment: str
    """The plan's environment (dev, prod, bootstrap): what a waiver's `environments` name."""
    check: str
    name: str
    address: str
    passed: bool

    @property
    def type(self) -> str:
        return self.address.split(".", 1)[0]


def load_waivers(path: Path = WAIVERS_FILE) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text()) or []


def waiver_for(result: Result, waivers: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for waiver in waivers:
        if waiver["check"] != result.check or result.environment not in waiver["environments"]:
            continue
        if any(fnmatch.fnmatchcase(result.address, pattern) for pattern in waiver["resources"]):
            return waiver
    return None


def run_checkov(plans: Mapping[str, Any], checkov: Path = DEFAULT_CHECKOV, out: Path = OUT_DIR) -> list[Result]:
    """Every check checkov ran on each plan (label -> model.Plan), in one offline run."""
    from offline import terraform_plan

    if not checkov.exists():
        raise FileNotFoundError(f"{checkov} is missing: `make tools` installs checkov")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for label, plan in plans.items():
        document, _ = terraform_plan.convert(plan)
        path = out / f"{label}.tfplan.json"
        path.write_text(json.dumps(document, indent=1) + "\n")
        files[str(path)] = (label, plan.settings.get("environment", plan.stack))
    # --skip-download and BC_SKIP_MAPPING keep checkov off the network (its guideline download).
    command = [str(checkov), "--framework", "terraform_plan", "--skip-download", "--compact", "-o", "json"]
    for path in files:
        command += ["-f", path]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600,
                               env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"})
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov wrote no report (exit {completed.returncode}): "
                           f"{completed.stderr[-2000:]}") from None
    reports = report if isinstance(report, list) else [report]
    results = []
    for one in reports:
        if one.get("summary", {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse a plan: {one['results'].get('parsing_errors')}")
        for key, passed in (("passed_checks", True), ("failed_checks", False)):
            for check in one["results"][key]:
                label, environment = files[str(Path(check["file_abs_path"]))]
                results.append(Result(label, environment, check["check_id"], check["check_name"], check["resource"],
                                      passed))
    return results


def tally(results: Sequence[Result], waivers: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Per plan, per Terraform type: resources checked, checks passed, failed, waived."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    resources: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for r in results:
        row = table.setdefault(r.plan, {}).setdefault(r.type, {"resources": 0, "passed": 0, "failed": 0, "waived": 0})
        resources[(r.plan, r.type)].add(r.address)
        row["resources"] = len(resources[(r.plan, r.type)])
        if r.passed:
            row["passed"] += 1
        elif waiver_for(r, waivers):
            row["waived"] += 1
        else:
            row["failed"] += 1
    return table


def unwaived(results: Sequence[Result], waivers: Sequence[Mapping[str, Any]]) -> list[Result]:
    return [r for r in results if not r.passed and waiver_for(r, waivers) is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--project", choices=("platform", "bootstrap"), default="platform")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--checkov", type=Path, default=Path(os.environ.get("ECOMIND_CHECKOV", DEFAULT_CHECKOV)))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    import pulumi

    from offline import plan as offline_plan
    from offline.stack_config import StackConfigError

    try:
        if args.project == "bootstrap":
            label, plan = "bootstrap", offline_plan.plan_bootstrap(args.set, stack=args.stack)
        else:
            label, (plan, _) = args.stack, offline_plan.plan_stack(args.stack, overrides=args.set)
    except (pulumi.RunError, StackConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return offline_plan.EXIT_CONFIG_ERROR
    waivers = load_waivers()
    results = run_checkov({label: plan}, args.checkov)
    table = tally(results, waivers)[label]
    print(f"checkov (terraform_plan) over the offline plan of {label}: {OUT_DIR.relative_to(PROJECT_DIR)}/"
          f"{label}.tfplan.json\n")
    print(f"  {'Terraform type':48} {'resources':>9} {'passed':>7} {'failed':>7} {'waived':>7}")
    for typ, row in sorted(table.items()):
        label_type = f"{typ} (provider)" if "_" not in typ else typ
        print(f"  {label_type:48} {row['resources']:9d} {row['passed']:7d} {row['failed']:7d} {row['waived']:7d}")
    totals = {k: sum(row[k] for row in table.values()) for k in ("passed", "failed", "waived")}
    print(f"\nChecks: {sum(totals.values())} ran, {totals['passed']} passed, {totals['failed']} failed, "
          f"{totals['waived']} waived ({WAIVERS_FILE.relative_to(PROJECT_DIR)})")
    failures = unwaived(results, waivers)
    for r in failures:
        print(f"error: {r.check} failed on {r.address}: {r.name}", file=sys.stderr)
    return offline_plan.EXIT_GUARDRAIL if failures else 0


if __name__ == "__main__":
    sys.exit(main())
