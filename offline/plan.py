"""`make plan`: what a stack would build, without the Pulumi CLI or AWS credentials.

    python -m offline.plan --stack dev [--config-file PATH] [--set KEY=VALUE ...] [--out DIR]

Prints a tree of the planned resources with counts by type, the guardrails (policy pack,
secret hygiene, and what survives losing a zone) and writes `build/plan/<stack>.json`.
It also prices the plan (`cost`), computes the critical path of `pulumi up` (`schedule`) and
writes `build/plan/<stack>.md`, a report for pull requests.
Exit codes: 2 for a configuration error (one line), 3 when a mandatory guardrail fails or
the estimate exceeds the stack's budget or a billable resource is unpriced.
"""

from __future__ import annotations

import argparse
import collections
import json
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
EXIT_CONFIG_ERROR = 2
EXIT_GUARDRAIL = 3


def plan_stack(stack: str, stack_file: Path | None = None, overrides: Sequence[str] = ()):
    """Run `__main__.py` for `stack` under mocks and return the recorded plan."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    from offline import engine, stack_config
    from offline.mocks import PlatformMocks

    config = stack_config.load(PROJECT_DIR, stack, stack_file, overrides)
    region = config.values.get("aws:region", "us-east-1")
    return engine.run(lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
                      project=config.project, stack=stack, config=config.values,
                      secret_keys=config.secret_keys, mocks=PlatformMocks(region)), config


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--config-file", type=Path, help="stack settings file (default Pulumi.<stack>.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting applied over the stack file, as `pulumi config set` would (repeatable)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "build" / "plan")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(PROJECT_DIR))
    import settings
    from offline.stack_config import StackConfigError

    try:
        plan, config = plan_stack(args.stack, args.config_file, args.set)
    except (settings.ConfigError, StackConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR

    print(f"Plan of stack '{plan.stack}' (project {plan.project}), offline: mocked cloud, no credentials used\n")
    print("\n".join(render_tree(plan)))
    custom = [r for r in plan.resources if r.custom]
    print(f"\nResources: {len(custom)} to create (+ {len(plan.resources) - len(custom)} components)")
    for typ, count in sorted(collections.Counter(r.type for r in plan.resources).items()):
        print(f"  {count:4d}  {typ}")
    opt_outs = settings.describe_opt_outs(config.values)
    if opt_outs:
        print("\nSettings this stack changes from the production-grade defaults in Pulumi.yaml:")
        print("\n".join(f"  - {line}" for line in opt_outs))

    from offline import cost, guardrails, report, schedule

    stack_settings = settings.load(config.values, stack=plan.stack, region=config.values.get("aws:region"))
    environment = stack_settings.environment
    usage = stack_settings.cost
    estimate = cost.estimate(plan, cost.Usage.of(usage))
    timing = schedule.schedule(plan)
    print(f"\nMonthly cost estimate (us-east-1 on-demand, pricing/prices.csv; "
          f"budget {usage.monthly_budget_usd:,} USD):")
    print("\n".join(cost.format_table(estimate)))
    print("  largest lines:")
    print("\n".join(cost.top_lines(estimate)))
    print("\nDeployment time (critical path through the dependency graph):")
    print("\n".join(schedule.format_path(timing)))
    policy = guardrails.policy_report(plan, environment)
    zone_loss = guardrails.az_loss_section(plan, enforced=environment == "prod")
    advisory = [v for v in policy["violations"] if v["enforcement"] != "mandatory"]
    print(f"\nGuardrails: {policy['rules']} rules, {len(policy['violations']) - len(advisory)} mandatory "
          f"violations, {len(advisory)} advisory")
    for violation in advisory:
        print(f"  advisory {violation['policy']}: {violation['message']}")
    print(f"\nLosing one availability zone ({'enforced' if zone_loss['enforced'] else 'reported only'} "
          f"in {environment}):")
    print("\n".join(guardrails.format_table(zone_loss["tiers"])))

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{plan.stack}.json"
    document = {**plan.as_json(), "policy": policy, "az_loss": zone_loss, "cost": estimate, "schedule": timing}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    markdown = args.out / f"{plan.stack}.md"
    markdown.write_text(report.render(document))
    print()
    for written in (path, markdown):
        print(f"Wrote {written.relative_to(PROJECT_DIR) if written.is_relative_to(PROJECT_DIR) else written}")
    failures = guardrails.mandatory_failures(policy, zone_loss)
    failures += [f"cost: no price for {u['type']} ({u['urn']})" for u in estimate["unpriced"]]
    if estimate["total_monthly_usd"] > usage.monthly_budget_usd:
        failures.append(f"cost: the estimate ({estimate['total_monthly_usd']:,.2f} USD a month) exceeds "
                        f"monthlyBudgetUsd ({usage.monthly_budget_usd:,})")
    if failures:
        print("\n".join(f"error: {line}" for line in failures), file=sys.stderr)
        return EXIT_GUARDRAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
