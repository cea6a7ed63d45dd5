"""Every policy document a plan sends to AWS, and the principals and conditions of its statements.

A document is any input that parses as an IAM policy (a JSON object with `Statement`): trusts,
key policies, bucket, topic and endpoint policies, identity policies. Reading every input rather
than a list of types means a new resource type that carries a policy is judged without anyone
remembering to add it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from analyses.model import Plan, PlannedResource


@dataclasses.dataclass(frozen=True)
class Statement:
    resource: PlannedResource
    """The planned resource whose input holds the document."""
    field: str
    """The input (assumeRolePolicy, policy, ...)."""
    body: dict[str, Any]

    @property
    def sid(self) -> str:
        return self.body.get("Sid") or "(no Sid)"

    def principals(self, kind: str) -> list[str]:
        """The statement's principals of one kind (AWS, Service, Federated); "*" for `Principal: "*"`."""
        principal = self.body.get("Principal")
        if principal == "*":
            return ["*"] if kind == "AWS" else []
        return listed(principal.get(kind)) if isinstance(principal, dict) else []

    def conditions(self) -> Iterator[tuple[str, str, list[str]]]:
        """(operator, key in lower case, values): condition keys are case-insensitive (IAM user
        guide, "IAM JSON policy elements: Condition")."""
        for operator, block in (self.body.get("Condition") or {}).items():
            for key, values in block.items():
                yield operator, key.lower(), [str(v) for v in listed(values)]


def listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str) and '"Statement"' in value:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) and "Statement" in value else None


def statements(plan: Plan) -> Iterator[Statement]:
    for resource in plan.resources:
        for field, value in resource.inputs.items():
            document = _document(value)
            if document is not None:
                for body in listed(document["Statement"]):
                    yield Statement(resource, field, body)
