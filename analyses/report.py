"""build/plan/<stack>.md: the plan at a glance, for a pull-request comment."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any


def _component_graph(document: Mapping[str, Any]) -> list[str]:
    """Top-level components and which depend on which (through any of their resources)."""
    resources = document["resources"]
    by_urn = {r["urn"]: r for r in resources}

    def top(urn: str) -> str | None:
        resource = by_urn[urn]
        while resource["parent"] and by_urn[resource["parent"]]["type"] != "pulumi:pulumi:Stack":
            resource = by_urn[resource["parent"]]
        return resource["name"] if resource["type"] != "pulumi:pulumi:Stack" else None

    components = sorted({top(r["urn"]) for r in resources if r["parent"]} - {None})
    edges = set()
    for resource in resources:
        source = top(resource["urn"]) if resource["parent"] else None
        for dependency in resource["dependencies"]:
            target = top(dependency)
            if source and target and source != target:
                edges.add((target, source))
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"  {name.replace('-', '_')}[\"{name}\"]" for name in components]
    lines += [f"  {a.replace('-', '_')} --> {b.replace('-', '_')}" for a, b in sorted(edges)]
    lines.append("```")
    return lines


def render(document: Mapping[str, Any]) -> str:
    stack = document["stack"]
    counts = collections.Counter(r["type"] for r in document["resources"] if r["custom"])
    cost, schedule = document["cost"], document.get("schedule")
    timing = (f", **{schedule['from_scratch']['minutes']} minutes** from scratch, "
              f"**{schedule['application_change']['minutes']} minutes** for an application release"
              if schedule else "")
    out = [f"# Plan of `{document['project']}` stack `{stack}`", "",
           f"**{sum(counts.values())} resources**, estimated **${cost['total_monthly_usd']:,.2f} a month** "
           f"({cost['region']} on-demand){timing}.", ""]

    out += ["## Monthly cost by component", "", "| component | USD a month |", "|---|---:|"]
    out += [f"| {name} | {usd:,.2f} |" for name, usd in cost["components"].items()]
    out += [f"| **total** | **{cost['total_monthly_usd']:,.2f}** |", "", "Largest lines:", "",
            "| resource | dimension | quantity | unit price | USD a month |", "|---|---|---:|---:|---:|"]
    out += [f"| {line['resource']} | {line['dimension']} | {line['quantity']:,} {line['unit']} | "
            f"{line['unit_usd']} | {line['monthly_usd']:,.2f} |" for line in cost["lines"][:10]]
    out += ["", f"Unpriced billable resources: {len(cost['unpriced'])}. Prices and their sources: "
            "`pricing/prices.csv`.", ""]

    if schedule:
        out += ["## Deployment time", "", "| step | type | minutes |", "|---|---|---:|"]
        out += [f"| {step['resource']} | {step['type']} | {step['seconds'] / 60:.1f} |"
                for step in schedule["from_scratch"]["path"]]
        out += [f"| **critical path** | | **{schedule['from_scratch']['minutes']}** |", ""]

    if "policy" in document:
        policy = document["policy"]
        out += ["## Guardrails", "", f"{policy['rules']} rules, {len(policy['violations'])} violations.", ""]
        out += [f"- `{v['policy']}` ({v['enforcement']}): {v['message']}" for v in policy["violations"]]
    if "az_loss" in document:
        zone = document["az_loss"]
        out += ["", f"Losing one availability zone ({'enforced' if zone['enforced'] else 'reported only'}):", "",
                "| tier | survives | why |", "|---|---|---|"]
        out += [f"| {t['tier']} | {'yes' if t['survives'] else '**no**'} | {t['reason']} |" for t in zone["tiers"]]

    if document.get("capacity", {}).get("rows"):
        out += ["", "## Capacity at the busiest minute", "", "| tier | capacity | load | headroom | basis |",
                "|---|---:|---:|---:|---|"]
        out += [f"| {r['tier']} | {r['capacity']:,.2f} {r['unit']} | {r['load']:,.4g} | "
                f"{'**below**' if r['headroom'] is not None and r['headroom'] < 1 else r['headroom']} | {r['basis']} |"
                for r in document["capacity"]["rows"]]
    if document.get("region_loss", {}).get("stores"):
        loss = document["region_loss"]
        rto = (f"RTO {loss['rto_minutes']} min against {loss['rto_target_minutes']}" if loss["rto_minutes"] is not None
               else "RTO: none yet; blocked by " + ", ".join(loss["blocked_by"]))
        out += ["", f"Losing the region (estimates until a drill): {rto}.", "",
                "| store | copy | RPO | back in (min) |", "|---|---|---|---:|"]
        out += [f"| {s['store']} | {s['copy']} | {s['rpo']} | "
                f"{'-' if s['recovery_minutes'] is None else s['recovery_minutes']} |" for s in loss["stores"]]

    if document.get("rollout", {}).get("services"):
        section = document["rollout"]
        mode = "enforced" if section["enforced"] else "reported only"
        out += ["", f"Rollout safety of the services behind the ALB ({mode}):",
                "", "| service | rollout | drain | zone loss |", "|---|---|---|---|"]
        for row in section["services"]:
            cells = ["ok" if row[event]["safe"] else f"**drops**: {row[event]['reason']}"
                     for event in ("rollout", "drain", "zone_loss")]
            out.append(f"| {row['service']} | {' | '.join(cells)} |")
    out += ["", "## Resources by type", "", "| type | count |", "|---|---:|"]
    out += [f"| `{typ}` | {count} |" for typ, count in sorted(counts.items())]
    out += ["", "## Components", "", *_component_graph(document), ""]
    return "\n".join(out)
