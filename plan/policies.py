"""The policy pack run in-process, the way ``pulumi preview --policy-pack policy`` runs it.

The engine talks to a pack over gRPC: it asks for the pack's policies (``GetAnalyzerInfo``),
hands it the reconciled config (``Configure``), then sends each resource's inputs
(``Analyze``) and finally every resource's outputs with their dependencies (``AnalyzeStack``).
This module makes the same calls on the policy SDK's own servicer (``pulumi_policy.policy.
_PolicyAnalyzerServicer``, what ``PolicyPack`` serves), without a server: the policies see
protobuf numbers (floats), read-only unknown-checking proxies and the enforcement levels the
engine would give them. ``engine_view`` is the same conversion for a test that calls one
policy's ``validate`` directly.

The policy config (``policy/config.<stack>.json``, passed as ``--policy-pack-config``) is read
as the CLI reads it: pulumi/pulumi ``pkg/resource/analyzer/config.go``, ``parsePolicyPackConfig``
(a policy's value is an enforcement level or an object whose ``enforcementLevel`` is taken out),
then ``ReconcilePolicyPackConfig`` (schema defaults, then ``all``, then each policy's own).

A library module: nothing runs at import time; ``pulumi_policy`` and the pack are imported
only when a pack runs (``python -m plan --no-policy`` never loads them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plan.errors import PlanError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from plan.render import Rendered, Resource

PACK_DIR = "policy"
PACK_PACKAGE = "guardrails"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_FIX = " Fix: "


@dataclass(frozen=True)
class Finding:
    """One violation as the engine reports it, with the resource it names."""

    policy: str
    level: str
    """"mandatory" or "advisory" (a remediate policy that still fails counts as mandatory)."""
    resource: str
    """The resource's logical name; "(stack)" for a stack policy that names none."""
    type: str
    urn: str
    message: str
    """The policy's own message, without its description and without the fix."""
    fix: str
    description: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Report:
    """What the pack said about one stack."""

    pack: str
    config: str
    """Where the policy config came from (a path relative to the project), or "(none)"."""
    policies: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "mandatory"]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.level != "mandatory"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "config": self.config,
            "policies": self.policies,
            "mandatory": [f.as_dict() for f in self.mandatory],
            "advisory": [f.as_dict() for f in self.advisory],
        }


def engine_view(properties: Mapping[str, Any]) -> Any:
    """Properties as a policy receives them: through protobuf (numbers become floats) and the
    SDK's unknown-checking proxies (Mapping and Sequence, not dict and list)."""
    from google.protobuf import json_format
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    return unknown_checking_proxy(
        deserialize_properties(json_format.MessageToDict(_struct(properties)))
    )


def parse_config(text: str, source: str) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """A policy config file as policy name -> (enforcement level or None, properties).

    Port of ``parsePolicyPackConfig`` (pulumi/pulumi ``pkg/resource/analyzer/config.go``);
    ``PlanError`` where the CLI would refuse the file.
    """
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source}: is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PlanError(f"{source}: must be a JSON object of policy names")
    document.pop("environments", None)  # ESC environments: nothing to resolve offline
    parsed: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            level, properties = _level(value, name, source), {}
        elif isinstance(value, dict):
            properties = dict(value)
            level = None
            if "enforcementLevel" in properties:
                level = _level(properties.pop("enforcementLevel"), name, source)
        else:
            raise PlanError(
                f"{source}: {name!r}: {value!r} is not a valid value; must be a string or object"
            )
        if level is not None or properties:
            parsed[name] = (level, properties)
    return parsed


def _level(value: Any, name: str, source: str) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        raise PlanError(
            f"{source}: {name!r}: {value!r} is not a valid enforcement level ({', '.join(LEVELS)})"
        )
    return value


def evaluate(
    policies: Sequence[Any],
    pack: str,
    resources: Sequence[Resource],
    inputs: Mapping[str, Mapping[str, Any]],
    outputs: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, tuple[str | None, Mapping[str, Any]]] | None = None,
) -> list[Finding]:
    """Every violation of ``policies`` for these resources, as the engine would get them.

    ``inputs`` and ``outputs`` are each resource's properties by URN: resource policies see
    the inputs (``Analyze``), stack policies the outputs (``AnalyzeStack``).
    """
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(pack, "0.0.1", list(policies), EnforcementLevel.ADVISORY)
    servicer.Configure(_reconciled(servicer, config or {}), None)
    by_urn = {r.urn: r for r in resources}
    diagnostics = []
    for r in resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=r.type, properties=_struct(inputs[r.urn]), urn=r.urn, name=r.name
        )
        diagnostics += [(d, r) for d in servicer.Analyze(request, None).diagnostics]
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=_struct(outputs[r.urn]),
                urn=r.urn,
                name=r.name,
                parent=r.parent,
                dependencies=r.dependencies,
                propertyDependencies={
                    k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                    for k, v in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )
    diagnostics += [(d, by_urn.get(d.urn)) for d in servicer.AnalyzeStack(stack, None).diagnostics]
    return [_finding(d, r) for d, r in diagnostics]


def _reconciled(servicer: Any, config: Mapping[str, tuple[str | None, Mapping[str, Any]]]) -> Any:
    """The Configure request the CLI sends: ``ReconcilePolicyPackConfig`` of config.go."""
    from pulumi.runtime.proto import analyzer_pb2

    info = servicer.GetAnalyzerInfo(None, None)
    levels = {
        p.name: analyzer_pb2.EnforcementLevel.Name(p.enforcementLevel).lower()
        for p in info.policies
    }
    properties: dict[str, dict[str, Any]] = {
        p.name: {
            k: v["default"]
            for k, v in _plain(p.configSchema.properties).items()
            if isinstance(v, dict) and "default" in v
        }
        for p in info.policies
    }
    all_level = config.get("all", (None, {}))[0]
    if all_level is not None:
        levels = dict.fromkeys(levels, all_level)
    for name, (level, given) in config.items():
        if level is not None:
            levels[name] = level
        properties.setdefault(name, {}).update(given)
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, level in levels.items():
        entry = request.policyConfig[name]
        entry.enforcementLevel = analyzer_pb2.EnforcementLevel.Value(level.upper())
        entry.properties.update(json.loads(json.dumps(properties.get(name) or {})))
    return request


def _plain(struct: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def _struct(properties: Mapping[str, Any]) -> Any:
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(properties, default=str)))
    return struct


def _finding(diagnostic: Any, resource: Resource | None) -> Finding:
    from pulumi.runtime.proto import analyzer_pb2

    text = diagnostic.message
    # The SDK reports "description\nmessage"; the description is shown once, apart.
    if text.startswith(diagnostic.description):
        text = text[len(diagnostic.description) :].lstrip("\n")
    message, _, fix = text.partition(_FIX)
    level = analyzer_pb2.EnforcementLevel.Name(diagnostic.enforcementLevel).lower()
    return Finding(
        policy=diagnostic.policyName,
        level="mandatory" if level in ("mandatory", "remediate") else "advisory",
        resource=resource.name if resource is not None else "(stack)",
        type=resource.type if resource is not None else "",
        urn=diagnostic.urn,
        message=message.strip(),
        fix=fix.strip(),
        description=diagnostic.description,
    )


@contextmanager
def importable(directory: Path) -> Iterator[None]:
    """``directory`` on ``sys.path`` for the duration (unless it is there already): the engine
    runs a pack with its own directory there, and the program imports its own packages
    (``components``) from its project directory."""
    path = str(directory)
    added = path not in sys.path
    if added:
        sys.path.insert(0, path)
    try:
        yield
    finally:
        if added:
            sys.path.remove(path)


def run_pack(
    root: Path, stack: str, rendered: Rendered, clean: Callable[[str], str] = str
) -> Report | None:
    """The project's pack (``root/policy``) on a rendered stack; None if it has no pack.

    Call it right after rendering, while the runtime still holds the stack's config and name:
    the pack reads the ``production`` setting from there, as it does from the engine.
    ``clean`` masks secrets and labels made-up values in the messages.
    """
    pack_dir = root / PACK_DIR
    if not (pack_dir / PACK_PACKAGE / "__init__.py").is_file():
        return None
    try:
        import pulumi_policy  # noqa: F401
    except ImportError:
        raise PlanError(
            "the guardrails need pulumi-policy: `pip install -r policy/requirements.txt`, or "
            "plan with --no-policy"
        ) from None
    config_path = pack_dir / f"config.{stack}.json"
    config: dict[str, tuple[str | None, dict[str, Any]]] = {}
    shown = "(none)"
    if config_path.is_file():
        shown = config_path.relative_to(root).as_posix()
        config = parse_config(config_path.read_text(), shown)
    with importable(pack_dir):
        package = _import_pack()
    resources = rendered.resources
    inputs = {r.urn: r.inputs for r in resources}
    outputs = {r.urn: rendered.outputs_of(r) for r in resources}
    findings = evaluate(package.POLICIES, package.PACK_NAME, resources, inputs, outputs, config)
    cleaned = [
        Finding(**{**f.as_dict(), "message": clean(f.message), "fix": clean(f.fix)})
        for f in findings
    ]
    return Report(package.PACK_NAME, shown, len(package.POLICIES), cleaned)


def _import_pack() -> Any:
    import importlib

    module = sys.modules.get(PACK_PACKAGE)
    if module is None:
        module = importlib.import_module(PACK_PACKAGE)
    return module


def format_text(report: Mapping[str, Any]) -> list[str]:
    """The guardrails section of the text plan, from a plan's ``guardrails``."""
    lines = [
        f"Guardrails ({report['pack']}, {report['policies']} policies, config "
        f"{report['config']}): {_verdict(report)}"
    ]
    for title, key in (("Refused (mandatory)", "mandatory"), ("Advisory", "advisory")):
        if report[key]:
            lines.append(f"  {title}:")
            for f in report[key]:
                lines.append(f"    ! {f['policy']} on {f['resource']}: {f['message']}")
                if f["fix"]:
                    lines.append(f"      fix: {f['fix']}")
    return lines


def format_markdown(report: Mapping[str, Any]) -> str:
    """The guardrails section of a pull request comment."""
    parts = [
        f"**Guardrails** ({report['pack']}, {report['policies']} policies, config "
        f"`{report['config']}`): {_verdict(report)}",
        "",
    ]
    for title, key in (("Refused (mandatory)", "mandatory"), ("Advisory", "advisory")):
        if report[key]:
            parts += [f"{title}:", "", "| policy | resource | problem | fix |", "|---|---|---|---|"]
            parts += [
                f"| `{f['policy']}` | `{f['resource']}` | {_cell(f['message'])} | "
                f"{_cell(f['fix'])} |"
                for f in report[key]
            ]
            parts.append("")
    return "\n".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(report: Mapping[str, Any]) -> str:
    mandatory, advisory = len(report["mandatory"]), len(report["advisory"])
    if not mandatory and not advisory:
        return "all pass."
    parts = []
    if mandatory:
        parts.append(f"{mandatory} mandatory {'violation' if mandatory == 1 else 'violations'}")
    if advisory:
        parts.append(f"{advisory} {'advisory' if advisory == 1 else 'advisories'}")
    refused = ": `pulumi preview` with the pack would refuse this stack." if mandatory else "."
    return ", ".join(parts) + refused


def refused(plan: Mapping[str, Any]) -> list[str]:
    """ "policy on resource" of each mandatory violation in a plan; [] if none or not run."""
    report = plan.get("guardrails")
    if not report:
        return []
    return [f"{f['policy']} on {f['resource']}" for f in report["mandatory"]]
