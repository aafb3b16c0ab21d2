"""What changed between two plans: settings, resources added, removed and changed, property by property.

Properties are compared as flat paths into the inputs (``containerDefinitions[0].cpu``); a list
of objects that all have a distinct ``name`` is addressed by name
(``environment[name=LOG_LEVEL].value``), so adding one variable changes one path instead of
shifting every later index. Lists of plain values compare as a whole. A resource's parent,
``depends_on`` and options count as properties too. Secrets compare as ``(secret)`` on both
sides: a changed secret value is not visible offline.

The result reads as text, as JSON, or as Markdown for a pull request comment (summary line,
table of changes, details per resource, the Mermaid chart with the touched groups marked, the
rollout time before and after, and the cost before and after).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plan import cost, motion, policies
from plan.cost import Estimate
from plan.document import Plan, resources_by_key
from plan.mermaid import flowchart
from plan.rollout import Rollout
from plan.rollout import format_markdown as rollout_markdown
from plan.rollout import headline as headline_of
from plan.types import short_type

_ABSENT = object()
_CELL_LIMIT = 160


@dataclass(frozen=True)
class PropertyChange:
    path: str
    before: Any = _ABSENT
    after: Any = _ABSENT

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.before is not _ABSENT:
            out["before"] = self.before
        if self.after is not _ABSENT:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class ResourceChange:
    key: str
    name: str
    type: str
    component: str
    change: str
    """"add", "remove" or "change"."""
    properties: list[PropertyChange] = field(default_factory=list)


@dataclass(frozen=True)
class PlanDiff:
    before: str
    after: str
    settings: list[PropertyChange]
    resources: list[ResourceChange]
    outputs: list[PropertyChange]

    def count(self, change: str) -> int:
        return sum(1 for r in self.resources if r.change == change)

    @property
    def empty(self) -> bool:
        return not (self.settings or self.resources or self.outputs)

    def summary(self) -> str:
        return (
            f"{self.count('add')} to add, {self.count('remove')} to remove, "
            f"{self.count('change')} to change"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "summary": {k: self.count(k) for k in ("add", "remove", "change")},
            "settings": [c.as_dict() for c in self.settings],
            "resources": [
                {
                    "key": r.key,
                    "name": r.name,
                    "type": r.type,
                    "change": r.change,
                    "properties": [p.as_dict() for p in r.properties],
                }
                for r in self.resources
            ],
            "outputs": [c.as_dict() for c in self.outputs],
        }


def diff_plans(before: Plan, after: Plan, before_label: str, after_label: str) -> PlanDiff:
    """Every difference between two plans, resources in the order of ``after`` then ``before``."""
    old, new = resources_by_key(before), resources_by_key(after)
    changes: list[ResourceChange] = []
    for key, r in new.items():
        if key not in old:
            changes.append(_resource(r, "add", _compare({}, _flat_resource(r))))
            continue
        properties = _compare(_flat_resource(old[key]), _flat_resource(r))
        if properties:
            changes.append(_resource(r, "change", properties))
    for key, r in old.items():
        if key not in new:
            changes.append(_resource(r, "remove", _compare(_flat_resource(r), {})))
    return PlanDiff(
        before=before_label,
        after=after_label,
        settings=_compare(before["config"], after["config"]),
        resources=changes,
        outputs=_compare(flatten(before["outputs"]), flatten(after["outputs"])),
    )


def touched_components(diff: PlanDiff, after: Plan) -> dict[str, str]:
    """Component key -> "added" or "changed", for the chart."""
    added = {r.key for r in diff.resources if r.change == "add"}
    marks: dict[str, str] = {}
    for r in diff.resources:
        if r.change == "remove":
            continue
        marks[r.component] = "added" if r.component in added else "changed"
    return {k: v for k, v in marks.items() if k in resources_by_key(after)}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Paths to leaves; see the module docstring for how lists are addressed."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out |= flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and value and not all(_scalar(v) for v in value):
        names = [v.get("name") if isinstance(v, Mapping) else None for v in value]
        by_name = all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
        out = {}
        for index, item in enumerate(value):
            if by_name:
                # The name is in the path already.
                rest = {k: v for k, v in item.items() if k != "name"}
                out |= flatten(rest, f"{prefix}[name={names[index]}]")
            else:
                out |= flatten(item, f"{prefix}[{index}]")
        return out
    return {prefix: value}


def headline(diff: PlanDiff) -> str:
    """One line: from what to what, and how many resources are added, removed or changed."""
    if diff.empty:
        return f"No changes from {diff.before} to {diff.after}."
    return f"Changes from {diff.before} to {diff.after}: {diff.summary()}."


def format_text(diff: PlanDiff) -> str:
    """The headline, then each changed setting, resource (with its properties) and output."""
    return headline(diff) + "\n" + format_details(diff)


def format_details(diff: PlanDiff) -> str:
    """What changed, one setting, resource and output after the other (after the headline)."""
    lines: list[str] = []
    if diff.settings:
        lines += ["", "Settings:", *(f"  {_line(c)}" for c in diff.settings)]
    if diff.resources:
        lines += ["", "Resources:"]
        for r in diff.resources:
            mark = {"add": "+", "remove": "-", "change": "~"}[r.change]
            lines.append(f"  {mark} {r.name} [{short_type(r.type)}]")
            if r.change == "change":
                lines += [f"      {_change(p)}" for p in r.properties]
    if diff.outputs:
        lines += ["", "Outputs:", *(f"  {_line(c)}" for c in diff.outputs)]
    return "\n".join(lines) + "\n" if lines else ""


def format_markdown(
    diff: PlanDiff,
    after: Plan,
    cost_after: Estimate | None = None,
    cost_before: Estimate | None = None,
    *,
    rollout_after: Sequence[Rollout] | None = None,
    rollout_before: Sequence[Rollout] = (),
) -> str:
    """The diff as a pull request comment; with ``rollout_after``, the rollout time too."""
    title = f"### Offline plan: {diff.before} -> {diff.after}"
    summary = f"**{diff.summary()}.**" if not diff.empty else "**No changes.**"
    if cost_after is not None and cost_before is not None:
        delta = cost_after.total - cost_before.total
        summary += (
            f" Estimated monthly cost: {cost_before.total:.2f} -> {cost_after.total:.2f} USD "
            f"({delta:+.2f})."
        )
    if cost_after is not None:
        summary += f" Priced at {cost_after.basis}."
    parts = [title, "", summary, ""]
    if rollout_after:
        parts += [" ".join(headline_of(r) for r in rollout_after), ""]
    # What the change sets in motion and what it replaces come first: they are what to review.
    moves = motion.format_markdown(motion.consequences(diff, after))
    if moves:
        parts.append(moves)
    if after.get("guardrails"):
        parts.append(policies.format_markdown(after["guardrails"]))
    # The rest is the evidence: folded, so the comment opens on the answer.
    parts += [
        "<details><summary>Resource by resource, the chart, the rollout steps and the cost"
        "</summary>",
        "",
    ]
    if diff.settings:
        parts += [
            "| setting | before | after |",
            "|---|---|---|",
            *(f"| `{c.path}` | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.settings),
            "",
        ]
    if diff.resources:
        parts += ["| | resource | type | properties |", "|---|---|---|---|"]
        for r in diff.resources:
            mark = {"add": "+ add", "remove": "- remove", "change": "~ change"}[r.change]
            props = ", ".join(f"`{p.path}`" for p in r.properties[:8])
            if len(r.properties) > 8:
                props += f" and {len(r.properties) - 8} more"
            if r.change != "change":
                props = _count(len(r.properties), "property", "properties")
            parts.append(f"| {mark} | `{r.name}` | `{short_type(r.type)}` | {props} |")
        parts.append("")
        for r in diff.resources:
            parts += [
                f"<details><summary>{r.change} <code>{r.name}</code> ({short_type(r.type)}): "
                f"{_count(len(r.properties), 'property', 'properties')}</summary>",
                "",
                "| property | before | after |",
                "|---|---|---|",
                *(f"| `{p.path}` | {_cell(p.before)} | {_cell(p.after)} |" for p in r.properties),
                "",
                "</details>",
                "",
            ]
    if diff.outputs:
        parts += [
            "| output | before | after |",
            "|---|---|---|",
            *(f"| `{c.path}` | {_cell(c.before)} | {_cell(c.after)} |" for c in diff.outputs),
            "",
        ]
    parts += [
        "```mermaid",
        flowchart(after, touched_components(diff, after)).rstrip("\n"),
        "```",
        "",
    ]
    if rollout_after is not None:
        parts.append(rollout_markdown(rollout_after, rollout_before))
    if cost_after is not None:
        parts += [
            "<details><summary>Estimated monthly cost</summary>",
            "",
            cost.format_markdown(cost_after, cost_before).rstrip("\n"),
            "",
            "</details>",
            "",
        ]
    parts += ["**Not known offline:**", *(f"- {n}" for n in after["notes"]), "", "</details>", ""]
    return "\n".join(parts)


def _resource(
    r: Mapping[str, Any], change: str, properties: list[PropertyChange]
) -> ResourceChange:
    return ResourceChange(r["key"], r["name"], r["type"], r["component"], change, properties)


def _flat_resource(r: Mapping[str, Any]) -> dict[str, Any]:
    flat = flatten(r["inputs"])
    options = {
        "(parent)": r["parent"],
        "(waits for)": r["waits_for"],
        "(protect)": r["protect"],
        "(ignore changes)": r["ignore_changes"],
        "(delete before replace)": r["delete_before_replace"],
    }
    # Options at their defaults (no parent, nothing to wait for, off) are left out.
    flat |= {k: v for k, v in options.items() if v}
    return {k: v for k, v in flat.items() if k}


def _compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[PropertyChange]:
    changes = []
    for path in sorted((set(before) | set(after)) - {""}):
        old, new = before.get(path, _ABSENT), after.get(path, _ABSENT)
        if old != new:
            changes.append(PropertyChange(path, old, new))
    return changes


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list)


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    return json.dumps(value, sort_keys=True)


def _change(p: PropertyChange) -> str:
    return f"{p.path}: {_shown(p.before)} -> {_shown(p.after)}"


def _line(c: PropertyChange) -> str:
    if c.before is _ABSENT:
        return f"+ {c.path}: {_shown(c.after)}"
    if c.after is _ABSENT:
        return f"- {c.path}: {_shown(c.before)}"
    return f"~ {_change(c)}"


def _cell(value: Any) -> str:
    text = _shown(value)
    if len(text) > _CELL_LIMIT:
        text = text[: _CELL_LIMIT - 3] + "..."
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"
