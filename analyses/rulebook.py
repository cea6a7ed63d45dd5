"""What the rule-based analyses share: a rule (an id, what it holds, the upstream source it
encodes, and a check over the plan), and the section a set of rules makes, one failure line a
violation naming the rule, the resource and the source."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from analyses.model import Plan


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    description: str
    source: str
    check: Callable[[Plan], Iterator[tuple[str | None, str]]]


def violations(rules: Sequence[Rule], plan: Plan) -> list[dict[str, Any]]:
    return [{"rule": rule.id, "urn": urn, "message": message, "source": rule.source}
            for rule in rules for urn, message in rule.check(plan)]


def section(rules: Sequence[Rule], plan: Plan, *, prefix: str, title: str) -> dict[str, Any]:
    """Every rule's violations, each a failure of the plan (`<prefix>/<rule>: ...`)."""
    found = violations(rules, plan)
    failures = [f"{prefix}/{v['rule']}: {v['message']} ({v['urn'] or 'stack'}) [source: {v['source']}]"
                for v in found]
    return {"rules": [{"id": r.id, "description": r.description, "source": r.source} for r in rules],
            "violations": found, "failures": failures,
            "summary": [f"{title}: {len(rules)} rules, {len(found)} violations"]}
