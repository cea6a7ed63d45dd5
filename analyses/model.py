"""The plan as the offline harness writes it and every analysis reads it.

`Plan.from_json` reads a `build/plan/<stack>.json`; the harness (`offline.engine`) builds the
same objects directly. Nothing here knows how a plan was made.
"""

from __future__ import annotations

import dataclasses
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclasses.dataclass(frozen=True)
class PlannedResource:
    """One registration: the engine's URN, and the inputs as they would reach the engine."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str | None
    dependencies: list[str]
    protect: bool
    inputs: dict[str, Any]
    provider: str | None = None
    """URN of the explicit provider the resource is registered with (a Kubernetes provider, say):
    the engine creates that provider first, so it is an edge of the graph like a dependency."""
    arn: str | None = None
    """The ARN the (mocked) cloud answered for the resource, which its dependants receive: how an
    ARN in another resource's inputs is traced back to the resource it names."""
    id: str | None = None
    """The id the (mocked) cloud answered: with `arn`, what tells a reference from a value."""
    property_dependencies: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Per top-level input, the URNs its value came from (the engine's propertyDependencies):
    what `offline.terraform_plan` turns into Terraform references."""
    version: str | None = None
    """The plugin version a provider resource asks for (the SDK's, for a provider it makes)."""
    providers: dict[str, str] = dataclasses.field(default_factory=dict)
    """A component's providers by package (its `providers=` option, which a multi-language component
    such as pulumi-eks's hands to its children), as provider URNs."""
    aliases: list[str] = dataclasses.field(default_factory=list)
    """The URNs the resource was known by before (its `aliases=`, resolved as the engine resolves
    alias specs): a plan diff reads a deleted URN among them as a rename, not a delete."""
    replace_on_changes: list[str] = dataclasses.field(default_factory=list)
    """Input paths whose change makes the engine replace the resource (`replace_on_changes=`)."""
    delete_before_replace: bool = False

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def waits_for(self) -> list[str]:
        """Everything the engine finishes before this resource starts: dependencies and provider."""
        return [*self.dependencies, self.provider] if self.provider else list(self.dependencies)


@dataclasses.dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    """What the analyses need to know of the stack beyond its resources (environment, budget,
    usage, who reaches the cluster), written by the harness from the stack's settings."""
    manifests: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    """What each local chart release would install, by release resource name: the harness
    renders it with helm (`offline.render`), with the release's own values."""

    def of_type(self, typ: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> PlannedResource:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {typ} named {name!r}, found {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> PlannedResource:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, urn: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.parent == urn]

    def upstream_of(self, resource: PlannedResource) -> set[str]:
        """URNs `resource` waits for, directly or through what it waits for."""
        by_urn = {r.urn: r for r in self.resources}
        seen: set[str] = set()
        pending = list(resource.waits_for)
        while pending:
            urn = pending.pop()
            if urn not in seen:
                seen.add(urn)
                pending.extend(by_urn[urn].waits_for)
        return seen

    def as_json(self) -> dict[str, Any]:
        document = {"project": self.project, "stack": self.stack,
                    "resources": [r.as_json() for r in self.resources], "outputs": self.outputs}
        if self.settings:
            document["settings"] = self.settings
        if self.manifests:
            document["manifests"] = self.manifests
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Plan:
        fields = {f.name for f in dataclasses.fields(PlannedResource)}
        return cls(project=document["project"], stack=document["stack"], outputs=document["outputs"],
                   resources=[PlannedResource(**{k: v for k, v in r.items() if k in fields})
                              for r in document["resources"]],
                   settings=document.get("settings", {}), manifests=document.get("manifests", {}))
