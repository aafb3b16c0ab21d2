"""The plan as a document: every resource of a rendering, ordered, masked and JSON-ready.

``build_plan`` renders a stack (``plan.render``, answered by ``plan.placeholders.PlanMocks``)
and turns the recording into plain data that ``--json`` prints and every other output reads:

* each resource with its type, logical name, parent, top-level component, what it waits for
  (``depends_on``, explicit) and what it uses (inputs from other resources), its inputs and
  options;
* values AWS computes shown as labels, never as the mocks' made-up values;
* secrets masked: inputs the program marks secret, and every value of a secret config key
  wherever it appears;
* JSON documents inside inputs (policies, container definitions) parsed, so a diff names the
  property inside them that changed; paths of the project directory made relative, so the
  plan of a git worktree compares with the plan of the checkout;
* components in the order they wait for each other, resources inside them by type and name,
  so the same program always gives the same document.
"""

from __future__ import annotations

import heapq
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi

from plan.engine_config import ConfigError
from plan.errors import PlanError, settings_report
from plan.placeholders import Placeholders, PlanMocks
from plan.policies import importable
from plan.regions import check_region
from plan.render import ROOT, Rendered, Resource, render
from plan.stackfile import StackFile

FORMAT = "offline-plan/1"
SECRET = "(secret)"
STACK_PARENT = None
# Inputs the SDK adds for its own use (a dynamic resource's pickled provider).
_INTERNAL_PREFIX = "__"
# Values this short are not masked by text search: too likely to match something harmless.
_MIN_MASKED_LENGTH = 4

Plan = dict[str, Any]


def _settings_report(stack: StackFile, problems: list[str], hints: list[str]) -> str:
    """One report: the values the CLI's type check refuses (``StackFile.refused``) and the
    program's own problems with every other setting, each once."""
    refused_keys = [p.split(" = ", 1)[0] for p in stack.refused]
    own = [p for p in problems if not p.startswith(tuple(f"{k} " for k in refused_keys))]
    return settings_report(
        [*stack.refused, *own],
        [
            *hints,
            "`pulumi preview` stops at the first value its type check refuses; this report "
            "names every problem at once.",
        ],
    )


def resource_key(type_: str, name: str) -> str:
    """How the plan names a resource: unique per type and logical name, like Pulumi's URNs."""
    return f"{type_}::{name}"


def build_plan(
    stack: StackFile, root: Path = ROOT, *, policy: bool = True, judge: bool = True
) -> Plan:
    """Render ``root/__main__.py`` with the stack's config and return the plan document.

    With ``policy``, the project's policy pack (``root/policy``) runs on the rendering as
    ``pulumi preview --policy-pack policy`` would run it (``plan.policies``); its findings are
    the document's ``guardrails`` (None without a pack or with ``policy=False``).

    With ``judge`` (always, but for a ``--base`` revision), the requests are checked against
    AWS's rules (``plan.aws_contract``). A base revision is what runs already; the change is
    what is judged. And that check uses the name rules of the ``components`` it renders, which
    a revision older than them does not have.

    Raises ``PlanError`` when the program refuses the settings (a ``SettingsError``, or any
    ``pulumi.RunError``: the errors Pulumi prints without a traceback).
    """
    check_region(stack.region)
    namespace = f"{stack.project}:"
    settings = stack.settings()
    mocks = PlanMocks(
        region=stack.region,
        hosted_zone=_text(settings.get(f"{namespace}https.hostedZone")),
        domain=_text(settings.get(f"{namespace}https.domain")),
        vpc_id=_text(settings.get(f"{namespace}network.vpcId")),
    )
    with importable(root), _captured_warnings() as warnings:
        try:
            rendered = render(
                base=stack.config,
                stack=stack.stack,
                project=stack.project,
                mocks=mocks,
                secret_keys=sorted(stack.secret_keys),
                root=root,
                validate=not stack.refused,
            )
        except pulumi.RunError as exc:
            problems = getattr(exc, "problems", None)
            if not stack.refused or problems is None:
                raise PlanError(str(exc)) from None
            raise PlanError(
                _settings_report(stack, [*problems], [*getattr(exc, "hints", [])])
            ) from None
        except ConfigError as exc:  # the CLI's own refusal, before the program runs
            raise PlanError(str(exc)) from None
        if stack.refused:  # the program took every other value
            raise PlanError(_settings_report(stack, [], []))

    secrets = sorted(
        {
            str(stack.config[k])
            for k in stack.secret_keys
            if k not in stack.encrypted_keys and len(str(stack.config[k])) >= _MIN_MASKED_LENGTH
        },
        key=lambda v: (-len(v), v),
    )
    clean = _Cleaner(mocks.placeholders(), secrets, root)
    # What AWS itself would refuse stops the plan like a settings error does: pulumi up would
    # fail on that request, after a green preview (plan.aws_contract).
    # Another program (bootstrap/) may create types the layer has no requests for: noted below.
    unchecked: list[str] = []
    if judge:
        from plan import aws_contract

        violations = aws_contract.check(rendered, require_mapping=False)
        if violations:
            raise PlanError(aws_contract.format_violations(violations, clean.value))
        unchecked = aws_contract.unmapped_types(rendered)
    guardrails = None
    if policy and judge:
        from plan.policies import run_pack

        # Right after rendering: the runtime still holds this stack's config, as the engine
        # hands it to the pack.
        report = run_pack(root, stack.stack, rendered, lambda text: str(clean.value(text)))
        guardrails = report.as_dict() if report is not None else None
    notes = list(mocks.notes)
    if stack.encrypted_keys:
        notes.append(
            "Encrypted in the stack file, so not decrypted offline (shown as secrets): "
            + ", ".join(sorted(stack.encrypted_keys))
            + "."
        )
    if unchecked:
        notes.append(
            "Not checked against AWS's request rules (plan.aws_contract has no mapping): "
            + ", ".join(unchecked)
            + "."
        )
    notes.append(
        "Offline, the plan cannot know the live state (what exists already, drift) or anything "
        "AWS computes on create; `pulumi preview` with credentials shows the real changes."
    )
    return {
        "format": FORMAT,
        "project": stack.project,
        "stack": stack.stack,
        "region": stack.region,
        "config": {
            key: SECRET if key in stack.secret_keys else clean.value(value)
            for key, value in sorted(settings.items())
        },
        "notes": notes,
        "warnings": [clean.value(w) for w in warnings],
        "resources": _resources(rendered, clean),
        "outputs": {
            name: SECRET if name in rendered.secret_outputs else clean.value(value)
            for name, value in sorted(rendered.outputs.items())
        },
        "guardrails": guardrails,
    }


def check_plan(document: Any, source: str) -> Plan:
    """A plan read back from JSON, or ``PlanError`` naming ``source`` if it is not one."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PlanError(
            f"{source}: is not a plan saved with `.venv/bin/python -m plan STACK --json`"
        )
    return document


def resources_by_key(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r["key"]: r for r in plan["resources"]}


def top_level(plan: Plan) -> list[dict[str, Any]]:
    """The components (and lone resources) directly under the stack, in plan order."""
    return [r for r in plan["resources"] if r["parent"] is STACK_PARENT]


class _Cleaner:
    """Turns recorded values into plan values: labels, masks, parsed JSON, relative paths."""

    def __init__(self, placeholders: Placeholders, secrets: list[str], root: Path) -> None:
        self._placeholders = placeholders
        self._secrets = secrets
        self._root = str(root)

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            # The engine hands every number over as a float; 443.0 is the port 443.
            return int(value)
        if isinstance(value, str):
            return self._text(value)
        return value

    def _text(self, text: str) -> Any:
        text = self._placeholders.swap(text)
        for secret in self._secrets:
            text = text.replace(secret, SECRET)
        text = text.replace(self._root, ".")
        if text[:1] in "{[":
            try:
                parsed = json.loads(text)
            except ValueError:
                return text
            # Again on the parsed value: a secret may have been escaped inside the JSON text.
            return self.value(parsed)
        return text


def _resources(rendered: Rendered, clean: _Cleaner) -> list[dict[str, Any]]:
    keys = {r.urn: resource_key(r.type, r.name) for r in rendered.resources}
    parents = {r.urn: r.parent if r.parent in keys else None for r in rendered.resources}

    def top(urn: str) -> str:
        while parents[urn] is not None:
            urn = parents[urn]  # type: ignore[assignment]
        return urn

    entries: dict[str, dict[str, Any]] = {}
    for r in rendered.resources:
        implicit = {u for urns in r.property_dependencies.values() for u in urns}
        explicit = [u for u in r.dependencies if u not in implicit]
        entries[r.urn] = {
            "key": keys[r.urn],
            "type": r.type,
            "name": r.name,
            "parent": keys[parents[r.urn]] if parents[r.urn] else STACK_PARENT,
            "component": keys[top(r.urn)],
            "waits_for": sorted({keys[u] for u in explicit if u in keys}),
            "uses": sorted({keys[u] for u in implicit if u in keys}),
            "inputs": _inputs(r, clean),
            "secret_inputs": sorted(k for k in r.secret_inputs if not k.startswith("__")),
            "protect": r.protect,
            "ignore_changes": sorted(r.ignore_changes),
            "delete_before_replace": r.delete_before_replace,
        }
    return _ordered(list(entries.values()))


def _inputs(resource: Resource, clean: _Cleaner) -> dict[str, Any]:
    return {
        key: SECRET if key in resource.secret_inputs else clean.value(value)
        for key, value in sorted(resource.inputs.items())
        if not key.startswith(_INTERNAL_PREFIX)
    }


def _ordered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Components in the order they wait for each other; inside, by type and name."""
    by_key = {e["key"]: e for e in entries}
    children: dict[str | None, list[str]] = {}
    for e in entries:
        children.setdefault(e["parent"], []).append(e["key"])
    roots = [e["key"] for e in entries if e["parent"] is STACK_PARENT]

    # Component A comes before B when anything in B waits for or uses anything in A.
    before: dict[str, set[str]] = {k: set() for k in roots}
    for e in entries:
        for dep in e["waits_for"] + e["uses"]:
            first = by_key[dep]["component"]
            if first != e["component"]:
                before[e["component"]].add(first)
    order = _topological(roots, before)

    result: list[dict[str, Any]] = []

    def visit(key: str) -> None:
        result.append(by_key[key])
        for child in sorted(children.get(key, []), key=lambda k: (by_key[k]["type"], k)):
            visit(child)

    for key in order:
        visit(key)
    return result


def _topological(nodes: list[str], before: dict[str, set[str]]) -> list[str]:
    """Kahn's algorithm, smallest key first among the ready ones; a cycle is broken the same way."""
    waiting = {n: set(before[n]) & set(nodes) for n in nodes}
    ready = [n for n in nodes if not waiting[n]]
    heapq.heapify(ready)
    order: list[str] = []
    while len(order) < len(nodes):
        if not ready:
            heapq.heappush(ready, min(n for n in nodes if n not in order))
        node = heapq.heappop(ready)
        if node in order:
            continue
        order.append(node)
        for other, deps in waiting.items():
            if node in deps:
                deps.discard(node)
                if not deps and other not in order:
                    heapq.heappush(ready, other)
    return order


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """The program's ``pulumi.log.warn`` messages, which the mock engine logs to the root logger."""
    handler = _Collect()
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        root_logger.removeHandler(handler)
