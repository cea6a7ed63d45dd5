"""Record what a Pulumi program would register, from the registration requests themselves.

`run(program, ...)` executes `program` under the SDK's mock engine with a monitor that keeps
every RegisterResource request: type, name, parent, dependencies, protect and the serialized
inputs exactly as the engine would receive them (wire names). The mock monitor spells a
resource's URN with only the parent's last type, while the real engine chains every
ancestor's type; `Plan` rewrites every URN to the engine's spelling and refuses to write one
that names no planned resource.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from analyses.model import STACK_TYPE, Plan, PlannedResource

SECRET = "[secret]"
UNKNOWN = "[unknown]"


class PlanError(Exception):
    """The recorded plan is inconsistent (a URN names no planned resource)."""


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping each registration request as it arrives."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[PlannedResource] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        inputs = json_format.MessageToDict(request.object) if request.type != STACK_TYPE else {}
        # The SDK's mock monitor deserializes inputs before handing them to the mocks, and a
        # resource reference then rehydrates that resource through an invoke on another
        # thread's event loop, which races. The mocks only need the reference's URN.
        if _has_resource_reference(inputs):
            flattened = resource_pb2.RegisterResourceRequest()
            flattened.CopyFrom(request)
            flattened.object.Clear()
            flattened.object.update(_references_as_urns(inputs))
            request = flattened
        response = super().RegisterResource(request)
        _mark_secret_outputs(response, request.additionalSecretOutputs)
        self.registrations.append(PlannedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            dependencies=list(request.dependencies),
            protect=bool(request.protect),
            inputs=inputs,
            # A provider reference is "<urn>::<id>".
            provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
            # A provider reference is "<urn>::<id>"; the SDK spells a top-level provider's URN with the
            # root stack in its type chain, which the engine's URNs leave out.
            version=(request.version or None) if request.type.startswith("pulumi:providers:") else None,
            providers={package: reference.rsplit("::", 1)[0].replace("pulumi:pulumi:Stack$", "")
                       for package, reference in request.providers.items()},
            arn=_plain_arn(response),
            id=response.id or None,
            property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                                   if deps.urns},
            # Alias URNs, or specs (the mock monitor supports aliasSpecs, so the SDK sends specs):
            # resolved to URNs once every parent is known (_canonicalise).
            aliases=[*request.aliasURNs, *(a.urn or _spec_key(a.spec) for a in request.aliases)],
            replace_on_changes=sorted(request.replaceOnChanges),
            delete_before_replace=bool(request.deleteBeforeReplace),
        ))
        return response


def _spec_key(spec) -> str:
    """An alias spec, kept as a string until _canonicalise resolves it."""
    return "spec:" + json.dumps({"name": spec.name, "type": spec.type, "stack": spec.stack, "project": spec.project,
                                 "parent": spec.parentUrn, "no_parent": spec.noParent})


def _plain_arn(response) -> str | None:
    arn = response.object.fields.get("arn")
    return arn.string_value if arn is not None and arn.WhichOneof("kind") == "string_value" else None


def _mark_secret_outputs(response, names) -> None:
    """What the engine does for `additional_secret_outputs` (pulumi-random's `result`, for
    one): those outputs reach the program as secrets."""
    for name in names:
        if name in response.object.fields:
            value = json_format.MessageToDict(response.object)[name]
            response.object[name] = {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def _has_resource_reference(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(rpc._special_sig_key) == rpc._special_resource_sig or any(
            _has_resource_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_resource_reference(v) for v in value)
    return False


def _references_as_urns(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_resource_sig:
            return value["urn"]
        return {k: _references_as_urns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_references_as_urns(v) for v in value]
    return value


def _sorted(value: Any) -> Any:
    """Map keys in a fixed order: protobuf Structs do not keep one, and plans must diff."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _wire_value(value: Any, resolve_urn: Callable[[str], str]) -> Any:
    """Serialized property values as readable JSON: secrets masked, references by URN."""
    if isinstance(value, dict):
        signature = value.get(rpc._special_sig_key)
        if signature == rpc._special_secret_sig:
            return SECRET
        if signature == rpc._special_resource_sig:
            return {"resourceRef": resolve_urn(value["urn"])}
        if signature is not None:
            return {k: _wire_value(v, resolve_urn) for k, v in value.items() if k != rpc._special_sig_key}
        return {k: _wire_value(v, resolve_urn) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_value(v, resolve_urn) for v in value]
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Struct carries every number as a double
    return value


def _canonicalise(registrations: list[PlannedResource], project: str, stack: str) -> list[PlannedResource]:
    by_monitor_urn = {r.urn: r for r in registrations}
    by_type_and_name: dict[tuple[str, str], list[PlannedResource]] = {}
    for r in registrations:
        by_type_and_name.setdefault((r.type, r.name), []).append(r)

    def registration_for(urn: str) -> PlannedResource:
        if urn in by_monitor_urn:
            return by_monitor_urn[urn]
        # Another spelling of a known resource: same last type and name, different type chain.
        try:
            _, _, qualified_type, name = urn.split("::", 3)
        except ValueError:
            raise PlanError(f"not a URN: {urn}") from None
        candidates = by_type_and_name.get((qualified_type.split("$")[-1], name), [])
        if len(candidates) != 1:
            raise PlanError(f"URN {urn} names {len(candidates)} planned resources, not one")
        return candidates[0]

    chains: dict[int, str] = {}

    def type_chain(r: PlannedResource) -> str:
        if id(r) not in chains:
            parent = registration_for(r.parent) if r.parent else None
            chains[id(r)] = r.type if parent is None or parent.type == STACK_TYPE else f"{type_chain(parent)}${r.type}"
        return chains[id(r)]

    def canonical(urn: str) -> str:
        r = registration_for(urn)
        return f"urn:pulumi:{stack}::{project}::{type_chain(r)}::{r.name}"

    def alias_urn(r: PlannedResource, alias: str) -> str:
        """An alias as the engine resolves it (sdk/go/common/resource/alias.go): what the spec
        leaves out is the resource's own name, type, stack, project and parent."""
        if not alias.startswith("spec:"):
            return alias
        spec = json.loads(alias.removeprefix("spec:"))
        parent = None if spec["no_parent"] else (spec["parent"] or r.parent)
        chain = spec["type"] or r.type
        if parent:
            parent_chain = canonical(parent).split("::")[2] if _known(parent) else parent.split("::")[2]
            if not parent_chain.endswith(STACK_TYPE):
                chain = f"{parent_chain}${chain}"
        return f"urn:pulumi:{spec['stack'] or stack}::{spec['project'] or project}::{chain}::{spec['name'] or r.name}"

    inherited: dict[int, list[str]] = {}

    def all_aliases(r: PlannedResource) -> list[str]:
        """Its own aliases, and its URN under each of its parent's: the engine gives a child the
        aliases its parent's imply (pkg/resource/deploy/step_generator.go inheritedChildAlias)."""
        if id(r) not in inherited:
            own = {alias_urn(r, a) for a in r.aliases}
            parent = registration_for(r.parent) if r.parent and _known(r.parent) else None
            if parent is not None and parent.type != STACK_TYPE:
                for parent_alias in all_aliases(parent):
                    chain, parent_alias_name = parent_alias.rsplit("::", 1)
                    for typ, name in [(r.type, r.name), *((a.split("::")[2].split("$")[-1], a.rsplit("::", 1)[1])
                                                          for a in sorted(own))]:
                        # A child named after its parent ("<parent>-nodes") follows the parent's old name.
                        if name.startswith(parent.name):
                            name = parent_alias_name + name[len(parent.name):]
                        own.add(f"{chain}${typ}::{name}")
            inherited[id(r)] = sorted(own)
        return inherited[id(r)]

    def _known(urn: str) -> bool:
        try:
            registration_for(urn)
        except PlanError:
            return False
        return True

    planned = [dataclasses.replace(
        r,
        urn=canonical(r.urn),
        parent=canonical(r.parent) if r.parent else None,
        dependencies=sorted({canonical(d) for d in r.dependencies}),
        provider=canonical(r.provider) if r.provider else None,
        property_dependencies={key: sorted({canonical(u) for u in urns})
                               for key, urns in sorted(r.property_dependencies.items())},
        inputs=_sorted(_wire_value(r.inputs, canonical)),
        aliases=all_aliases(r),
    ) for r in registrations]
    urns = [p.urn for p in planned]
    if len(set(urns)) != len(urns):
        raise PlanError("two planned resources share a URN")
    # Registration order depends on thread scheduling; URN order makes two plans diffable.
    return sorted(planned, key=lambda p: p.urn)


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    if await output.is_secret():
        return SECRET
    if not await output.is_known():
        return UNKNOWN
    return await output.future()


def run(program: Callable[[], None], *, project: str, stack: str, config: dict[str, str],
        secret_keys: list[str], mocks: pulumi.runtime.Mocks, preview: bool = False) -> Plan:
    """Run `program` as `pulumi up` would run it, against `mocks` instead of a cloud."""
    monitor = RecordingMonitor(mocks)
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    _sync_await(run_pulumi_func(program))

    root = runtime_settings.get_root_resource()
    exported = getattr(root, "outputs", {}) or {}

    async def resolve_all() -> dict[str, Any]:
        return {name: await _resolve(value) for name, value in exported.items()}

    outputs = _sorted(_sync_await(resolve_all()))
    return Plan(project=project, stack=stack, resources=_canonicalise(monitor.registrations, project, stack),
                outputs=outputs)
