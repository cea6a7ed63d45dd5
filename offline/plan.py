"""`make plan`: what a stack would build, without the Pulumi CLI or AWS credentials.

    python -m offline.plan --stack dev [--config-file PATH] [--set KEY=VALUE ...] [--out DIR]
    python -m offline.plan --all [--set KEY=VALUE ...] [--out DIR]

Prints a tree of the planned resources with counts by type, the guardrails (policy pack,
secret hygiene, and what survives losing a zone) and writes `build/plan/<stack>.json`.
Every analysis in `analyses.ANALYSES` adds its section (cost, schedule, policy, az_loss,
deployment, physical_names), and `build/plan/<stack>.md` is a report for pull requests.
`--all` plans every `Pulumi.<stack>.yaml` and fails when two stacks set the same physical name.
Exit codes: 2 for a configuration error (one line), 3 when any analysis reports a failure (a
mandatory guardrail, a deployment-semantics rule, a lost zone in prod, an unpriced resource, the
budget exceeded) or two stacks share a physical name.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import re
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXIT_CONFIG_ERROR = 2
EXIT_GUARDRAIL = 3


def plan_stack(stack: str, stack_file: Path | None = None, overrides: Sequence[str] = (), preview: bool = False,
               render: bool = False):
    """Run `__main__.py` for `stack` under mocks: the recorded plan, with the `settings` section
    the analyses read, and the stack's config; `render`: with the local chart's manifests too."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    import settings
    from offline import engine, stack_config
    from offline.mocks import ACCOUNT_ID, PlatformMocks

    config = stack_config.load(PROJECT_DIR, stack, stack_file, overrides)
    region = config.values.get("aws:region", "us-east-1")
    typed = settings.load(config.values, stack=stack, region=region)
    plan = engine.run(lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
                      project=config.project, stack=stack, config=config.values,
                      secret_keys=config.secret_keys, preview=preview,
                      mocks=PlatformMocks(region, config_account(config.values) or ACCOUNT_ID))
    plan = dataclasses.replace(plan, settings={**analysis_settings(typed), **delivery_settings(stack, config.values)})
    if render:
        from offline import render as rendering

        plan = dataclasses.replace(plan, manifests=rendering.render(plan))
    return plan, config


BOOTSTRAP_DIR = PROJECT_DIR / "bootstrap"
# One bootstrap stack per AWS account (bootstrap/Pulumi.<stack>.yaml, docs/adr/0024); plans of the
# bootstrap are labelled bootstrap-<stack>.
BOOTSTRAP_PREFIX = "bootstrap-"
# The bootstrap has no zones, add-ons or Kubernetes objects, and its names are the account's (one
# bootstrap per account, never per stack): what it is judged by.
BOOTSTRAP_ANALYSES = ("cost", "aws_semantics")
PLATFORM_PROJECT = "ecomind-infra"


def bootstrap_stacks() -> list[str]:
    """Every account's bootstrap stack: one per bootstrap/Pulumi.<stack>.yaml."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in BOOTSTRAP_DIR.glob("Pulumi.*.yaml"))


def config_account(values: dict) -> str | None:
    """The account a stack's AWS provider accepts (aws:allowedAccountIds), None when it names none."""
    accounts = values.get("aws:allowedAccountIds")
    accounts = yaml.safe_load(accounts) if isinstance(accounts, str) else accounts
    return str(accounts[0]) if accounts else None


def _bootstrap_file(stack: str) -> dict:
    return (yaml.safe_load((BOOTSTRAP_DIR / f"Pulumi.{stack}.yaml").read_text()).get("config") or {})


def bootstrap_stack_for(account: str | None) -> str:
    """The bootstrap stack of `account`: the one whose aws:allowedAccountIds names it."""
    for stack in bootstrap_stacks():
        if account in [str(a) for a in _bootstrap_file(stack).get("aws:allowedAccountIds") or []]:
            return stack
    raise LookupError(f"no bootstrap/Pulumi.<stack>.yaml names account {account} in aws:allowedAccountIds: "
                      "every account a stack deploys into has its own bootstrap stack (docs/adr/0024)")


def plan_bootstrap(overrides: Sequence[str] = (), stack_file: Path | None = None, stack: str = "prod"):
    """Run `bootstrap/__main__.py` as bootstrap stack `stack` (one per account) under mocks, as its
    administrator would run it."""
    from offline import engine, stack_config
    from offline.mocks import ACCOUNT_ID, PlatformMocks

    config = stack_config.load(BOOTSTRAP_DIR, stack, stack_file, overrides)
    region = config.values.get("aws:region", "us-east-1")
    if str(BOOTSTRAP_DIR) not in sys.path:
        sys.path.insert(0, str(BOOTSTRAP_DIR))
    plan = engine.run(lambda: runpy.run_path(str(BOOTSTRAP_DIR / "__main__.py"), run_name="__main__"),
                      project=config.project, stack=stack, config=config.values,
                      secret_keys=config.secret_keys,
                      mocks=PlatformMocks(region, config_account(config.values) or ACCOUNT_ID))
    # Priced as an account's baseline: no budget of its own (the stacks' budgets exclude it).
    return dataclasses.replace(plan, settings={"environment": "bootstrap", "monthly_budget_usd": None,
                                               "usage": {"nat_gb": 0, "log_gb": 0, "storage_gb": 0, "cdn_gb": 0},
                                               "region": region,
                                               "prerequisite_principals": declared_role_arns(config.values)})


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")


def declared_role_arns(values: dict) -> list[str]:
    """Role ARNs a stack file declares (settings naming roles other projects or people made): what a
    policy may name without the plan creating it (analyses/aws_semantics.py, principals-exist)."""
    found = []
    for value in values.values():
        for item in (yaml.safe_load(value) if isinstance(value, str) and value.startswith("[") else value,):
            for text in item if isinstance(item, list) else [item]:
                if isinstance(text, str) and _ROLE_ARN.fullmatch(text):
                    found.append(text)
    return sorted(set(found))


@functools.cache
def _bootstrap_plan(stack: str):
    return plan_bootstrap(stack=stack)


def delivery_settings(stack: str, values: dict) -> dict:
    """What the bootstrap of the stack's account grants it, for the rules that read both plans: the
    deploy role's inline policies (which roles it may pass, to which services) and every role the
    bootstrap creates (principals the stack's policies may name)."""
    bootstrap = _bootstrap_plan(bootstrap_stack_for(config_account(values)))
    roles = {r.urn: r for r in bootstrap.of_type("aws:iam/role:Role")}
    deploy = next((r for r in roles.values() if r.inputs.get("name") == f"{PLATFORM_PROJECT}-{stack}-deploy"), None)
    policies = [json.loads(p.inputs["policy"]) for p in bootstrap.of_type("aws:iam/rolePolicy:RolePolicy")
                if deploy is not None and deploy.urn in p.property_dependencies.get("role", [])]
    created = {r.arn for r in roles.values() if r.arn}
    return {"delivery": {"deploy_role_arn": deploy.arn, "deploy_role_policies": policies} if deploy else None,
            "prerequisite_principals": sorted(created | set(declared_role_arns(values)))}


def bootstrap_dr_region(account: str | None) -> str | None:
    """Where the bootstrap of `account` copies the state and replicates the secrets provider (its
    drRegion, bootstrap/__main__.py): what a stack's region-loss recovery starts from."""
    value = _bootstrap_file(bootstrap_stack_for(account)).get("ecomind-bootstrap:drRegion", "us-west-2")
    return None if value == "none" else value


def analysis_settings(s) -> dict:
    """What of a stack's settings its analyses may read (the plan's `settings` section)."""
    usage = s.cost
    return {
        "environment": s.environment,
        "region": s.region,
        "monthly_budget_usd": usage.monthly_budget_usd,
        "usage": {"nat_gb": usage.nat_gb, "log_gb": usage.log_gb, "storage_gb": usage.storage_gb,
                  "cdn_gb": usage.cdn_gb, "database_gb": usage.database_gb},
        "load": dataclasses.asdict(s.load),
        "state_copy_region": bootstrap_dr_region(s.account_id),
        "recovery": {"source_stack": s.recovery.source_stack, "point_in_time": s.recovery.point_in_time,
                     "reports_bucket": s.recovery.reports_bucket, "secret_prefix": s.recovery.secret_prefix,
                     "repository_prefix": s.recovery.repository_prefix} if s.recovery else None,
        "cluster_access": {"creator_role_arn": s.cluster.creator_role_arn,
                           "deploy_role_arn": s.cluster.ci_deploy_role_arn,
                           "preview_role_arn": s.cluster.ci_preview_role_arn},
    }


def render_tree(plan) -> list[str]:
    lines = []

    def walk(urn: str | None, depth: int) -> None:
        children = sorted((r for r in plan.resources if r.parent == urn), key=lambda r: (r.custom, r.type, r.name))
        for resource in children:
            marker = "+" if resource.custom else "*"
            protect = "  [protect]" if resource.protect else ""
            lines.append(f"{'    ' * depth}{marker} {resource.type}  {resource.name}{protect}")
            walk(resource.urn, depth + 1)

    walk(None, 0)
    return lines


def stack_files() -> list[str]:
    """Every stack of the project: one per `Pulumi.<stack>.yaml` beside `Pulumi.yaml`."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def plan_one(stack: str, stack_file: Path | None, overrides: Sequence[str], out: Path,
             project: str = "platform") -> tuple[int, dict]:
    """Plan, analyse, print and write one stack: (exit code, its physical-names section)."""
    import pulumi

    import analyses
    import settings
    from analyses import report
    from offline.render import RenderError
    from offline.stack_config import StackConfigError

    try:
        if project == "bootstrap":
            plan, opt_outs = plan_bootstrap(overrides, stack_file, stack), []
        else:
            plan, config = plan_stack(stack, stack_file, overrides, render=True)
            opt_outs = settings.describe_opt_outs(config.values)
    except (pulumi.RunError, StackConfigError, RenderError) as error:
        # ConfigError (a setting), ArgsError (a component's argument) and StepError are
        # RunErrors: one line, as a real `pulumi up` prints them, never a traceback.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR, {}

    print(f"Plan of stack '{plan.stack}' (project {plan.project}), offline: mocked cloud, no credentials used\n")
    print("\n".join(render_tree(plan)))
    custom = [r for r in plan.resources if r.custom]
    print(f"\nResources: {len(custom)} to create (+ {len(plan.resources) - len(custom)} components)")
    for typ, count in sorted(collections.Counter(r.type for r in plan.resources).items()):
        print(f"  {count:4d}  {typ}")
    if opt_outs:
        print("\nSettings this stack changes from the production-grade defaults in Pulumi.yaml:")
        print("\n".join(f"  - {line}" for line in opt_outs))

    sections = analyses.run(plan, BOOTSTRAP_ANALYSES if project == "bootstrap" else None)
    for section in sections.values():
        print()
        print("\n".join(section.pop("summary", [])))

    out.mkdir(parents=True, exist_ok=True)
    label = f"{BOOTSTRAP_PREFIX}{plan.stack}" if project == "bootstrap" else plan.stack
    path = out / f"{label}.json"
    document = {**plan.as_json(), **sections}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    markdown = out / f"{label}.md"
    markdown.write_text(report.render(document))
    print()
    for written in (path, markdown):
        print(f"Wrote {written.relative_to(PROJECT_DIR) if written.is_relative_to(PROJECT_DIR) else written}")
    failures = [line for section in sections.values() for line in section.get("failures", [])]
    if failures:
        print("\n".join(f"error: {line}" for line in failures), file=sys.stderr)
        return EXIT_GUARDRAIL, sections.get("physical_names", {})
    return 0, sections.get("physical_names", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--project", choices=("platform", "bootstrap"), default="platform",
                        help="bootstrap: an account's bootstrap project (bootstrap/, --stack dev or prod)")
    parser.add_argument("--all", action="store_true",
                        help="plan every Pulumi.<stack>.yaml and check that no two stacks share a physical name")
    parser.add_argument("--config-file", type=Path, help="stack settings file (default Pulumi.<stack>.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting applied over the stack file, as `pulumi config set` would (repeatable)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "build" / "plan")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    if not args.all:
        return plan_one(args.stack, args.config_file, args.set, args.out, args.project)[0]

    from analyses import names

    codes, sections = [], {}
    for stack in (bootstrap_stacks() if args.project == "bootstrap" else stack_files()):
        code, sections[stack] = plan_one(stack, None, args.set, args.out, args.project)
        codes.append(code)
        print()
    if args.project == "bootstrap":  # one account each: a name shared between them is no collision
        return max(codes, default=0)
    if EXIT_CONFIG_ERROR in codes:
        return EXIT_CONFIG_ERROR
    collisions = names.collisions_between(sections)
    print(f"Stacks planned: {', '.join(sections)}; physical names shared between stacks: {len(collisions)}")
    if collisions:
        print("\n".join(f"error: {line}" for line in collisions), file=sys.stderr)
        return EXIT_GUARDRAIL
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
