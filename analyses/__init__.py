"""Analyses of a plan: each judges what the offline harness planned and returns its section.

An analysis is one module with `SECTION` (its key in `build/plan/<stack>.json`) and one entry
point, `analyse(plan) -> dict`, that reads a `model.Plan` and nothing of the harness. A section
may carry `failures` (one line each; any fails `make plan` with exit 3) and `summary` (the lines
`make plan` prints; not written to the JSON). Adding an analysis is one new module and one
entry in `ANALYSES`. `report` renders the finished document as Markdown.
"""

from __future__ import annotations

from typing import Any

from analyses import (
    aws_semantics,
    capacity,
    cost,
    deployment,
    guardrails,
    names,
    packing,
    pins,
    region_loss,
    rollout,
    schedule,
    zone_loss,
)
from analyses.model import Plan

ANALYSES = (cost, capacity, packing, schedule, guardrails, zone_loss, region_loss, rollout, deployment, aws_semantics,
            pins, names)


def run(plan: Plan, sections: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """Every analysis's section of `plan` (or only those named in `sections`), in registry order."""
    return {analysis.SECTION: analysis.analyse(plan) for analysis in ANALYSES
            if sections is None or analysis.SECTION in sections}
