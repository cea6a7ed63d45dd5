"""`make diff`: what a change does to each stack, before anyone runs it, offline.

    python -m offline.diff [--base REF] [--stack dev|bootstrap ...] [--acknowledgements FILE]
    python -m offline.diff --base-plans DIR --head-plans DIR [--acknowledgements FILE]

Plans every stack (and the bootstrap project) at the base (a temporary git worktree of REF, default the merge base with
main; its own .venv only when its requirements.lock differs) and at the working tree, then
compares the two plans of each stack: the resources created, deleted and updated (each update
with its changed input paths, old -> new; secrets stay `[secret]` on both sides), grouped by
component; the monthly cost per component and in total; the guardrail violations added or
removed; the zone-loss, rollout, capacity and deployment verdicts that change; the two critical
paths before and after. The danger list comes first: replacements and deletes of stateful
resources (offline/replacements.py says which property changes replace which type, and where
the provider says so) and deletes of protected ones. Writes `build/plan/<stack>.diff.json` and
`build/plan/diff.md` (the pull request's comment).

Exit codes: 0, or 3 when the danger list holds an item the acknowledgements do not name: a
line `Acknowledged-Replacement: <name> [<name> ...]` in the pull request's description (the
file given with --acknowledgements), each name a resource's logical name, or <stack>/<name> for
one stack only. 2 for a base or plan that cannot be built (one line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXIT_BUILD = 2
BOOTSTRAP = "bootstrap"  # the single bootstrap of commits before one per account (docs/adr/0024)
BOOTSTRAP_PREFIX = "bootstrap-"  # an account's bootstrap stack (bootstrap/Pulumi.<stack>.yaml), compared like a stack
EXIT_DANGER = 3
SECRET = "[secret]"
ACKNOWLEDGEMENT = re.compile(r"^[ \t]*Acknowledged-Replacement:[ \t]*(\S.*?)[ \t]*$", re.I | re.M)


class DiffError(Exception):
    """The base or a side's plans could not be built."""


# --- comparing two plans ---------------------------------------------------------------------------

def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Input values by path (a.b[0].c); an empty map or list is a value of its own, and a key set
    to null is no key (Pulumi sends neither). A string that holds a JSON document (an IAM policy,
    a task definition) is taken apart the same way."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            return flatten(parsed, prefix)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is not None:
                out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out if out or not prefix else {prefix: {}}
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


_ABSENT = object()


def changed_inputs(old: Mapping, new: Mapping) -> list[dict[str, Any]]:
    """Each changed path, old and new (a side left out: not there); a value that is secret on either side is
    `[secret]` on both (the plans mask secrets, so a secret's own change does not show at all)."""
    before, after = flatten(old), flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path, _ABSENT), after.get(path, _ABSENT)
        if a != b:
            secret = SECRET in (a, b)
            change = {"path": path}
            for side, value in (("old", a), ("new", b)):
                if value is not _ABSENT:
                    change[side] = SECRET if secret else value
            changes.append(change)
    return changes


def component_of(urn: str, by_urn: Mapping[str, Mapping]) -> str:
    """The top-level component a resource belongs to (the stack's own resources: "stack")."""
    resource = by_urn[urn]
    while resource.get("parent") and by_urn.get(resource["parent"], {}).get("type") not in (None,
                                                                                          "pulumi:pulumi:Stack"):
        resource = by_urn[resource["parent"]]
    return resource["name"] if resource.get("parent") else "stack"


def _verdicts(plan: Mapping) -> dict[str, str]:
    """Every verdict the analyses give, keyed by what it is about."""
    out = {}
    for tier in plan.get("az_loss", {}).get("tiers", []):
        out[f"zone loss: {tier['tier']}"] = "survives" if tier["survives"] else f"lost ({tier['reason']})"
    for service in plan.get("rollout", {}).get("services", []):
        for check in ("rollout", "drain", "zone_loss"):
            verdict = service.get(check) or {}
            if verdict:
                out[f"{check.replace('_', ' ')}: {service['service']}"] = (
                    "safe" if verdict["safe"] else f"unsafe ({verdict['reason']})")
    for row in plan.get("capacity", {}).get("rows", []):
        headroom = row.get("headroom")
        verdict = "short" if headroom is not None and headroom < row.get("needed", 1) else "enough"
        out[f"capacity: {row['tier']}"] = ("no headroom figure" if headroom is None else
                                           f"{verdict} (headroom {headroom})")
    for violation in plan.get("deployment", {}).get("violations", []):
        rule = violation.get("rule") or violation.get("policy") or "?"
        where = violation.get("resource") or violation.get("urn") or "the stack"
        out[f"deployment rule {rule} on {where}: {violation.get('message', '')}"] = "violated"
    migration = plan.get("rollout", {}).get("migration") or {}
    if migration:
        out["rollout: database migration"] = "safe" if migration["safe"] else f"unsafe ({migration['reason']})"
    loss = plan.get("region_loss") or {}
    if loss.get("rto_minutes") is not None:
        out["region loss: RTO"] = f"{loss['rto_minutes']} min (target {loss.get('rto_target_minutes')})"
    for store in loss.get("blocked_by") or []:
        out[f"region loss: blocked by {store if isinstance(store, str) else json.dumps(store, sort_keys=True)}"] = (
            "blocks the recovery")
    for name, section in plan.items():
        for failure in (section.get("failures") or []) if isinstance(section, Mapping) else []:
            out[f"{name} failure: {failure}"] = "fails the plan"
    return out


def _violations(plan: Mapping) -> set[tuple[str, str]]:
    return {(v["policy"], f"{v.get('urn') or 'the stack'}: {v['message']}")
            for v in plan.get("policy", {}).get("violations", [])}


def _cost_lines(plan: Mapping) -> dict[tuple[str, str], float]:
    return {(line["resource"], line["dimension"]): line["monthly_usd"] for line in plan["cost"]["lines"]}


def diff_plans(base: Mapping, head: Mapping) -> dict[str, Any]:
    from offline import replacements

    old = {r["urn"]: r for r in base["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    # A resource whose old URN is among its aliases was renamed: the engine matches it to the old
    # state and updates it in place (Pulumi docs, Resource options: aliases).
    renamed = {alias: urn for urn in set(new) - set(old) for alias in new[urn].get("aliases") or []
               if alias in old and alias not in new}
    created = [_brief(new[u], component_of(u, new)) for u in sorted(set(new) - set(old) - set(renamed.values()))]
    deleted = [_brief(old[u], component_of(u, old)) for u in sorted(set(old) - set(new) - set(renamed))]
    updated = []
    pairs = [(urn, urn) for urn in sorted(set(old) & set(new))] + sorted(renamed.items())
    for before, urn in pairs:
        changes = changed_inputs(old[before]["inputs"], new[urn]["inputs"])
        if old[before].get("protect") != new[urn].get("protect"):
            changes.append({"path": "(protect)", "old": old[before].get("protect"), "new": new[urn].get("protect")})
        if before != urn:
            changes.insert(0, {"path": "(urn, through aliases=)", "old": before, "new": urn})
        if changes:
            updated.append({**_brief(new[urn], component_of(urn, new)), "changes": changes})
    rendered = {name: _objects_changed(base.get("manifests", {}).get(name), head.get("manifests", {}).get(name))
                for name in sorted(set(base.get("manifests", {})) | set(head.get("manifests", {})))}

    components = sorted(set(base["cost"]["components"]) | set(head["cost"]["components"]))
    cost = {"base": base["cost"]["total_monthly_usd"], "head": head["cost"]["total_monthly_usd"],
            "components": {c: round(head["cost"]["components"].get(c, 0.0) - base["cost"]["components"].get(c, 0.0), 2)
                           for c in components}}
    cost["delta"] = round(cost["head"] - cost["base"], 2)
    cost["components"] = {c: d for c, d in cost["components"].items() if d}
    before_lines, after_lines = _cost_lines(base), _cost_lines(head)
    cost["lines"] = sorted(({"resource": r, "dimension": d, "delta": round(after_lines.get((r, d), 0) -
                                                                            before_lines.get((r, d), 0), 2)}
                            for r, d in set(before_lines) | set(after_lines)
                            if round(after_lines.get((r, d), 0) - before_lines.get((r, d), 0), 2)),
                           key=lambda line: (-abs(line["delta"]), line["resource"], line["dimension"]))
    verdicts_before, verdicts_after = _verdicts(base), _verdicts(head)
    verdicts = [{"about": k, "old": verdicts_before.get(k), "new": verdicts_after.get(k)}
                for k in sorted(set(verdicts_before) | set(verdicts_after))
                if verdicts_before.get(k) != verdicts_after.get(k)]
    paths = {name: {"old": base.get("schedule", {}).get(name, {}).get("minutes"),
                    "new": head.get("schedule", {}).get(name, {}).get("minutes")}
             for name in ("from_scratch", "application_change")}
    return {
        "stack": head["stack"],
        "danger": replacements.danger(old, new, updated, deleted),
        "created": created, "deleted": deleted, "updated": updated,
        "renamed": [{"old": a, "new": b} for a, b in sorted(renamed.items())],
        "rendered": {k: v for k, v in rendered.items() if v},
        "cost": cost,
        "policy": {"added": sorted(_violations(head) - _violations(base)),
                   "removed": sorted(_violations(base) - _violations(head))},
        "verdicts": verdicts, "critical_paths": paths,
    }


def _objects_changed(before, after) -> int:
    """Rendered objects added, removed or changed, matched by apiVersion, kind, namespace and name
    (not by position: one object more would otherwise shift every one after it)."""
    def keyed(objects):
        return {(o.get("apiVersion"), o.get("kind"), (o.get("metadata") or {}).get("namespace"),
                 (o.get("metadata") or {}).get("name")): o for o in objects or []}
    a, b = keyed(before), keyed(after)
    return sum(1 for key in set(a) | set(b) if a.get(key) != b.get(key))


def _brief(resource: Mapping, component: str) -> dict[str, Any]:
    return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"], "component": component,
            "protect": bool(resource.get("protect"))}


def is_empty(diff: Mapping) -> bool:
    return (not any(diff[k] for k in ("created", "deleted", "updated", "renamed", "rendered", "verdicts"))
            and not diff["cost"]["delta"] and not diff["policy"]["added"] and not diff["policy"]["removed"]
            and all(p["old"] == p["new"] for p in diff["critical_paths"].values()))


# --- acknowledgements ----------------------------------------------------------------------------------

def acknowledgements(text: str) -> set[str]:
    """The names on `Acknowledged-Replacement:` lines; a name ends at a space or comma, and the
    sentence's own punctuation (a trailing period) is not part of it."""
    return {name.strip(".;:") for line in ACKNOWLEDGEMENT.findall(text or "")
            for name in re.split(r"[ \t,]+", line) if name.strip(".;:")}


def unacknowledged(diffs: Mapping[str, Mapping], acknowledged: Iterable[str]) -> list[tuple[str, Mapping]]:
    names = set(acknowledged)
    return [(stack, item) for stack, diff in diffs.items() for item in diff["danger"]
            if item["name"] not in names and f"{stack}/{item['name']}" not in names]


# --- Markdown ----------------------------------------------------------------------------------------

def _value(change: Mapping, side: str) -> str:
    if side not in change:
        return "(none)"
    value = change[side]
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"`{text if len(text) <= 200 else text[:197] + '...'}`"


def _usd(value: float) -> str:
    return f"{'+' if value > 0 else '-' if value < 0 else ''}${abs(value):,.2f}"


def markdown(diffs: Mapping[str, Mapping], acknowledged: Iterable[str] = (), base: str = "base") -> str:
    acknowledged = set(acknowledged)
    out = [f"## What this change does, stack by stack (offline plans: `{base}` → this branch)", ""]
    pending = unacknowledged(diffs, acknowledged)
    danger = [(stack, item) for stack, diff in diffs.items() for item in diff["danger"]]
    if danger:
        out += ["**⚠ Danger: stateful resources replaced or deleted, or changed irreversibly**", ""]
        for stack, item in danger:
            state = ("acknowledged" if (stack, item) not in pending else
                     f"**not acknowledged**: add `Acknowledged-Replacement: {item['name']}` to the description")
            out.append(f"- **{stack}: {item['action']} `{item['name']}` ({item['type']})**: {item['why']}. "
                       f"Source: {item['source']}. {state}")
        out.append("")
    for stack, diff in diffs.items():
        cost = diff["cost"]
        mostly = max(cost["components"].items(), key=lambda kv: abs(kv[1]), default=None)
        line = f"{_usd(cost['delta'])} a month" + (f", mostly {mostly[0]} ({_usd(mostly[1])})" if mostly else "")
        out += [f"### `{stack}`: {line}; new total ${cost['head']:,.2f}", ""]
        if is_empty(diff):
            out += ["No change.", ""]
            continue
        counts = f"{len(diff['created'])} to create, {len(diff['deleted'])} to delete, {len(diff['updated'])} to update"
        out += [counts + ".", ""]
        by_component: dict[str, list[str]] = {}
        for verb, items in (("create", diff["created"]), ("delete", diff["deleted"])):
            for item in items:
                by_component.setdefault(item["component"], []).append(f"- {verb} `{item['name']}` ({item['type']})")
        for item in diff["updated"]:
            lines = by_component.setdefault(item["component"], [])
            lines.append(f"- update `{item['name']}` ({item['type']})")
            lines += [f"  - `{c['path']}`: {_value(c, 'old')} → {_value(c, 'new')}" for c in item["changes"][:12]]
            if len(item["changes"]) > 12:
                lines.append(f"  - … {len(item['changes']) - 12} more (build/plan/{stack}.diff.json)")
        for component in sorted(by_component):
            out += [f"**{component}**", "", *by_component[component], ""]
        if diff["rendered"]:
            out += ["Rendered chart objects that change: " + ", ".join(
                f"{name} {count}" for name, count in diff["rendered"].items()) + ".", ""]
        if cost["lines"]:
            out += ["| cost line | change a month |", "|---|---:|"]
            out += [f"| {c['resource']}: {c['dimension']} | {_usd(c['delta'])} |" for c in cost["lines"][:8]]
            out.append("")
        for title, key in (("Guardrail violations added", "added"), ("Guardrail violations removed", "removed")):
            if diff["policy"][key]:
                out += [f"{title}:", "", *(f"- `{p}`: {what}" for p, what in diff["policy"][key]), ""]
        if diff["verdicts"]:
            out += ["| verdict | before | after |", "|---|---|---|"]
            out += [f"| {v['about']} | {v['old'] or '(none)'} | {v['new'] or '(none)'} |" for v in diff["verdicts"]]
            out.append("")
        paths = diff["critical_paths"]
        if any(p["old"] != p["new"] for p in paths.values()):
            out += ["Critical paths: " + "; ".join(f"{name.replace('_', ' ')} {p['old']} → {p['new']} min"
                                                  for name, p in paths.items()) + ".", ""]
    return "\n".join(out).rstrip() + "\n"


# --- building the two sides ------------------------------------------------------------------------------

def _git(*args: str, cwd: Path = PROJECT_DIR) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def default_base() -> str:
    for ref in ("origin/main", "main"):
        try:
            return _git("merge-base", "HEAD", ref)
        except DiffError:
            continue
    raise DiffError("no merge base with origin/main or main: pass BASE=<git ref>")


def plan_side(source: Path, out: Path, python: str, stacks: Sequence[str]) -> None:
    """Offline plans of `stacks` of the project at `source`, JSON into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    # The base plans in another directory: a relative helm path (make's .venv/bin/helm) is made absolute here.
    helm = Path(os.environ.get("ECOMIND_HELM") or Path(sys.executable).parent / "helm").absolute()
    env = {**os.environ, "ECOMIND_HELM": str(helm)}
    for stack in stacks:
        if stack.startswith(BOOTSTRAP_PREFIX):  # an account's bootstrap stack
            if not (source / "bootstrap" / f"Pulumi.{stack.removeprefix(BOOTSTRAP_PREFIX)}.yaml").is_file():
                continue
            which = ["--project", "bootstrap", "--stack", stack.removeprefix(BOOTSTRAP_PREFIX)]
        elif stack == BOOTSTRAP:  # a commit from before one bootstrap per account
            if not (source / "bootstrap" / "Pulumi.main.yaml").is_file():
                continue
            which = ["--project", "bootstrap"]
        elif (source / f"Pulumi.{stack}.yaml").is_file():
            which = ["--stack", stack]
        else:
            continue  # a stack the side does not have: all created, or all deleted
        result = subprocess.run([python, "-m", "offline.plan", *which, "--out", str(out)], cwd=source,
                                env=env, capture_output=True, text=True)
        if result.returncode not in (0, 3) or not (out / f"{stack}.json").is_file():
            tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DiffError(f"planning stack {stack} at {source}: {tail}")


def base_python(worktree: Path) -> str:
    """This interpreter when the base pins the same packages; else the base's own .venv."""
    lock = worktree / "requirements.lock"
    if lock.is_file() and lock.read_bytes() == (PROJECT_DIR / "requirements.lock").read_bytes():
        return sys.executable
    result = subprocess.run(["make", "-C", str(worktree), ".venv/bin/.installed"], capture_output=True, text=True)
    if result.returncode != 0:
        raise DiffError(f"installing the base's packages: {result.stderr.strip().splitlines()[-1:]}")
    return str(worktree / ".venv" / "bin" / "python")


def base_plans_dir(work: Path, sha: str) -> Path:
    return work / f"base-{sha[:12]}"


def stacks_at(sha: str) -> list[str]:
    """The stacks a commit has (its Pulumi.<stack>.yaml files) and its bootstrap, if it has one."""
    names = [name[len("Pulumi."):-len(".yaml")] for name in _git("ls-tree", "--name-only", sha).splitlines()
             if name.startswith("Pulumi.") and name.endswith(".yaml") and name != "Pulumi.yaml"]
    bootstraps = [name[len("Pulumi."):-len(".yaml")] for name in _git("ls-tree", "--name-only", sha,
                                                                       "bootstrap/").splitlines()
                  for name in [name.rsplit("/", 1)[-1]]
                  if name.startswith("Pulumi.") and name.endswith(".yaml") and name != "Pulumi.yaml"]
    return sorted(names) + sorted(BOOTSTRAP if b == "main" else BOOTSTRAP_PREFIX + b for b in bootstraps)


def build(base: str, stacks: Sequence[str] | None, work: Path) -> tuple[Path, Path, str, list[str]]:
    """Both sides' plans, of the stacks given or of every stack either side has. A commit's plans
    depend on nothing but the commit (the plans are deterministic), so the base's are kept under
    its SHA and planned once."""
    sha = _git("rev-parse", "--verify", f"{base}^{{commit}}")
    from offline.plan import stack_files

    base_stacks = list(stacks) if stacks else stacks_at(sha)
    from offline.plan import bootstrap_stacks

    head_stacks = list(stacks) if stacks else [*stack_files(), *(BOOTSTRAP_PREFIX + s for s in bootstrap_stacks())]
    base_dir = base_plans_dir(work, sha)
    missing = [s for s in base_stacks if not (base_dir / f"{s}.json").is_file()]
    if missing:
        worktree = work / "base-source"
        if worktree.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=PROJECT_DIR,
                           capture_output=True)
            shutil.rmtree(worktree, ignore_errors=True)
        _git("worktree", "add", "--detach", str(worktree), sha)
        try:
            plan_side(worktree, base_dir, base_python(worktree), missing)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=PROJECT_DIR,
                           capture_output=True)
    head_dir = work / "head"
    shutil.rmtree(head_dir, ignore_errors=True)
    plan_side(PROJECT_DIR, head_dir, sys.executable, head_stacks)
    union = sorted(set(base_stacks) | set(head_stacks), key=lambda s: (s.startswith(BOOTSTRAP), s))
    return base_dir, head_dir, sha[:12], union


def empty_plan(stack: str) -> dict[str, Any]:
    return {"stack": stack, "resources": [], "cost": {"total_monthly_usd": 0.0, "components": {}, "lines": []}}


def diff_dirs(base_dir: Path, head_dir: Path, stacks: Sequence[str]) -> dict[str, dict]:
    diffs = {}
    for stack in stacks:
        paths = [d / f"{stack}.json" for d in (base_dir, head_dir)]
        if not any(p.is_file() for p in paths):
            continue
        base, head = (json.loads(p.read_text()) if p.is_file() else empty_plan(stack) for p in paths)
        diffs[stack] = diff_plans(base, head)
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="git ref to compare with (default: the merge base with main)")
    parser.add_argument("--stack", action="append", help="a stack to compare (repeatable; default: every stack)")
    parser.add_argument("--base-plans", type=Path, help="plans already built at the base (skips building)")
    parser.add_argument("--head-plans", type=Path, help="plans already built at the head")
    parser.add_argument("--acknowledgements", type=Path, help="text holding Acknowledged-Replacement: lines")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "build" / "plan")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    if args.acknowledgements and not args.acknowledgements.is_file():
        print(f"error: --acknowledgements {args.acknowledgements}: no such file", file=sys.stderr)
        return EXIT_BUILD
    try:
        if args.base_plans and args.head_plans:
            stacks = args.stack or sorted({p.stem for d in (args.base_plans, args.head_plans) for p in d.glob("*.json")
                                           if not p.name.endswith(".diff.json")} - {"pull-request"},
                                          key=lambda s: (s.startswith(BOOTSTRAP), s))
            base_dir, head_dir, label = args.base_plans, args.head_plans, "base"
        else:
            base_dir, head_dir, label, stacks = build(args.base or default_base(), args.stack,
                                                      PROJECT_DIR / "build" / "diff")
    except DiffError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BUILD
    diffs = diff_dirs(base_dir, head_dir, stacks)
    acknowledged = acknowledgements(args.acknowledgements.read_text()) if args.acknowledgements else set()
    args.out.mkdir(parents=True, exist_ok=True)
    for stack, diff in diffs.items():
        (args.out / f"{stack}.diff.json").write_text(json.dumps(diff, indent=2) + "\n")
    text = markdown(diffs, acknowledged, label)
    (args.out / "diff.md").write_text(text)
    print(text)
    pending = unacknowledged(diffs, acknowledged)
    if pending:
        for stack, item in pending:
            print(f"error: {stack}: {item['action']} {item['name']} ({item['type']}) is not acknowledged: add "
                  f"'Acknowledged-Replacement: {item['name']}' to the pull request's description", file=sys.stderr)
        return EXIT_DANGER
    return 0


if __name__ == "__main__":
    sys.exit(main())
