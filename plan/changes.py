"""The shape of a diff between two plans: which resources and properties changed, and what
the AWS provider will do with each changed resource.

Its own module so that ``plan.diff`` (which computes and prints a diff) and ``plan.motion``
(what a diff sets in motion) both read it without importing each other. No resource is
created here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plan.provider_rules import Prediction

_ABSENT: Any = object()
"""A property that does not exist on one side of the diff."""


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
    predictions: dict[str, Prediction] = field(default_factory=dict)
    """What the AWS provider does with each resource, by key (``plan.provider_rules``)."""

    def not_on_aws(self) -> list[Prediction]:
        """Changed resources whose change (or part of it) the provider will not carry out."""
        changed = {r.key for r in self.resources}
        return [p for k, p in self.predictions.items() if k in changed and (p.silent or p.refused)]

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
            "not_on_aws": [p.as_dict() for p in self.not_on_aws()],
        }
