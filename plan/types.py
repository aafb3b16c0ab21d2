"""Short, readable names of Pulumi resource types, and references to resources in a plan."""

from __future__ import annotations

import re
from dataclasses import dataclass

_REFERENCE = re.compile(
    r"^\(known after apply: (?P<name>[^ ]+?)\.(?P<path>[A-Za-z0-9_\[\].]+)"
    r"(?: \[(?P<type>[^\]]+)\])?\)$"
)


def short_type(type_: str) -> str:
    """``aws:ecs/service:Service`` -> ``ecs.Service``; other types -> their last part."""
    package, _, rest = type_.partition(":")
    module, _, kind = rest.rpartition(":")
    if package == "aws":
        return f"{module.split('/')[0]}.{kind}"
    if package == "docker":
        return f"docker.{kind}"
    return kind or type_


@dataclass(frozen=True)
class Reference:
    """A value the plan shows as unknown: which resource's which attribute it will be."""

    name: str
    path: str


def reference(value: object) -> Reference | None:
    """The resource attribute a placeholder stands for, or None for any other value."""
    if not isinstance(value, str):
        return None
    match = _REFERENCE.match(value)
    return Reference(match["name"], match["path"]) if match else None
