"""What the mocks cost the plan: inputs and edges a preview would keep that the plan lost.

In update mode the SDK turns an output the mocks did not supply into None and drops the input
that reads it, with its dependency edge (pulumi/runtime/rpc.py, serialize_properties skips
None). In preview mode the same output is unknown, and the input is sent as unknown with its
edge. Planning both ways and comparing them shows every input the program sets that the plan
does not hold.
"""

from __future__ import annotations

from typing import Any

from analyses.model import Plan


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return set().union(*({f"{prefix}.{k}"} | _paths(v, f"{prefix}.{k}") for k, v in value.items())) \
            if value else set()
    if isinstance(value, list):
        return set().union(*(_paths(v, f"{prefix}[{i}]") for i, v in enumerate(value))) if value else set()
    return set()


def lost(update: Plan, preview: Plan) -> list[str]:
    """One line per resource, input path or edge the preview holds and the update plan lacks."""
    planned = {r.urn: r for r in update.resources}
    problems = []
    for resource in preview.resources:
        mine = planned.get(resource.urn)
        if mine is None:
            problems.append(f"{resource.urn}: not in the plan")
            continue
        problems += [f"{resource.urn}: input {path} is missing" for path in
                     sorted(_paths(resource.inputs) - _paths(mine.inputs))]
        problems += [f"{resource.urn}: edge to {edge} is missing" for edge in
                     sorted(set(resource.waits_for) - set(mine.waits_for))]
    return problems
