"""The policy pack's rules over a plan, and secret hygiene over every input and output: the
same rules CrossGuard applies to a real preview (policies/ecomind_rules.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

from analyses.model import Plan
from policies import ecomind_rules as rules

SECTION = "policy"


def rendered_type(document: dict[str, Any]) -> str:
    """A Kubernetes object's type token as pulumi-kubernetes spells it (core/v1, apps/v1, ...)."""
    group, _, version = document["apiVersion"].rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{document['kind']}"


def as_rule_resources(plan: Plan) -> list[rules.Resource]:
    """The planned resources, and what each local chart release would install (rendered with
    helm): the pack's Kubernetes rules judge the release's objects too. A real preview sees the
    release as one resource, so those rules judge the objects offline only."""
    planned = [rules.Resource(type=r.type, name=r.name, urn=r.urn, props=r.inputs, protect=r.protect,
                              dependencies=tuple(r.dependencies))
               for r in plan.resources if r.type != "pulumi:pulumi:Stack"]
    rendered = [rules.Resource(type=rendered_type(d), name=d["metadata"]["name"],
                               urn=f"rendered:{release}:{d['kind']}/{d['metadata']['name']}", props=d, protect=False,
                               dependencies=())
                for release, documents in sorted(plan.manifests.items()) for d in documents]
    return planned + rendered


def secret_hygiene(plan: Plan) -> list[rules.Violation]:
    """Any input or output value that looks like a credential and is not marked secret."""
    found = [rules.Violation("secret-hygiene", r.urn, f"{path} looks like a credential and is not secret",
                             rules.MANDATORY)
             for r in plan.resources for path in rules.credential_findings(r.inputs, "inputs")]
    found += [rules.Violation("secret-hygiene", None, f"{path} looks like a credential and is not secret",
                              rules.MANDATORY)
              for path in rules.credential_findings(plan.outputs, "outputs")]
    return found


def policy_report(plan: Plan, environment: str) -> dict[str, Any]:
    violations = rules.evaluate(as_rule_resources(plan), rules.Config(environment=environment))
    violations += secret_hygiene(plan)
    return {"rules": len(rules.RULES) + 1,
            "violations": [dataclasses.asdict(v) for v in violations]}


def analyse(plan: Plan) -> dict[str, Any]:
    """The `policy` section; each mandatory violation fails the plan."""
    section = policy_report(plan, plan.settings["environment"])
    mandatory = [v for v in section["violations"] if v["enforcement"] == rules.MANDATORY]
    advisory = [v for v in section["violations"] if v["enforcement"] != rules.MANDATORY]
    summary = [f"Guardrails: {section['rules']} rules, {len(mandatory)} mandatory violations, {len(advisory)} advisory",
               *(f"  advisory {v['policy']}: {v['message']}" for v in advisory)]
    failures = [f"{v['policy']}: {v['message']} ({v['urn'] or 'stack'})" for v in mandatory]
    return {**section, "failures": failures, "summary": summary}
