"""Checks one AWS API request against botocore's service model of its operation.

botocore (shipped with boto3) carries AWS's own request shapes: for each member its type and,
where AWS publishes them, ``min``/``max`` (length of a string or list, value of a number),
``pattern``, ``enum`` and the structure's ``required`` members. ``check_request`` walks a request
(API member names, as the provider sends them) down the operation's input shape and reports
every value outside them. Values the program cannot know (ids and ARNs other resources get from
AWS) are ``COMPUTED``: they satisfy ``required`` and are not checked.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import botocore
import botocore.session

try:  # botocore patterns use \p{L} and friends, which only the regex module knows.
    import regex as _re
except ImportError:  # pragma: no cover - regex comes with the dev lock (cfn-lint)
    import re as _re  # type: ignore[no-redef]


class _Computed:
    def __repr__(self) -> str:
        return "(known after apply)"


COMPUTED: Any = _Computed()
"""A value another resource gets from AWS: present, not checked."""


@dataclass(frozen=True)
class Finding:
    """One value of a request outside a rule."""

    path: str
    """Operation and member path, like ``CreateTargetGroup.HealthCheckPath``."""
    value: Any
    rule: str
    source: str
    sensitive: bool = False


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> Any:
    return _session().get_service_model(service)


def operation_model(service: str, operation: str) -> Any:
    return service_model(service).operation_model(operation)


@functools.cache
def _compiled(pattern: str) -> Any:
    try:
        return _re.compile(pattern, _re.DOTALL)
    except _re.error:  # pragma: no cover - every pattern of the covered operations compiles
        return None


def _source(service: str, shape: Any) -> str:
    return f"botocore {botocore.__version__} {service} model, shape {shape.name}"


def check_request(service: str, operation: str, request: dict[str, Any]) -> list[Finding]:
    """Every value of ``request`` that the operation's input shape refuses."""
    op = operation_model(service, operation)
    found: list[Finding] = []
    _walk(service, op.input_shape, request, operation, found)
    return found


def _walk(service: str, shape: Any, value: Any, path: str, out: list[Finding]) -> None:
    if value is COMPUTED or value is None:
        return
    meta = shape.metadata
    sensitive = bool(meta.get("sensitive"))

    def bad(rule: str) -> None:
        out.append(Finding(path, value, rule, _source(service, shape), sensitive))

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            bad(f"must be an object ({shape.name})")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(
                    Finding(
                        f"{path}.{name}",
                        None,
                        f"required member of {shape.name} is missing",
                        _source(service, shape),
                    )
                )
        for name, member_value in value.items():
            if name not in shape.members:
                out.append(
                    Finding(
                        f"{path}.{name}",
                        member_value,
                        f"not a member of {shape.name}: AWS (or the provider's decoding) drops "
                        f"or refuses it",
                        _source(service, shape),
                    )
                )
                continue
            _walk(service, shape.members[name], member_value, f"{path}.{name}", out)
    elif kind == "list":
        if not isinstance(value, list):
            bad(f"must be a list ({shape.name})")
            return
        _bounds(len(value), meta, "items", bad)
        for i, item in enumerate(value):
            _walk(service, shape.member, item, f"{path}[{i}]", out)
    elif kind == "map":
        if not isinstance(value, dict):
            bad(f"must be a map ({shape.name})")
            return
        _bounds(len(value), meta, "entries", bad)
        for k, v in value.items():
            _walk(service, shape.key, k, f"{path}{{key {k!r}}}", out)
            _walk(service, shape.value, v, f"{path}[{k!r}]", out)
    elif kind == "string":
        if not isinstance(value, str):
            bad(f"must be a string ({shape.name})")
            return
        _bounds(len(value), meta, "characters", bad)
        if shape.enum and value not in shape.enum:
            bad(f"must be one of {', '.join(shape.enum)}")
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            bad(f"must match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            bad(f"must be a whole number ({shape.name})")
            return
        if isinstance(value, float) and not value.is_integer():
            bad(f"must be a whole number ({shape.name})")
            return
        _bounds(value, meta, "", bad)
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            bad(f"must be a number ({shape.name})")
            return
        _bounds(value, meta, "", bad)
    elif kind == "boolean" and not isinstance(value, bool):
        bad(f"must be true or false ({shape.name})")


def _bounds(measure: float, meta: dict[str, Any], unit: str, bad: Any) -> None:
    low, high = meta.get("min"), meta.get("max")
    shown = f"{measure:g} {unit}".strip()
    if low is not None and measure < low:
        bad(f"is {shown}, below the minimum {low}")
    if high is not None and measure > high:
        bad(f"is {shown}, above the maximum {high}")


def constraints(service: str, operation: str) -> Iterator[tuple[str, str]]:
    """Every (shape, constraint) botocore states in the operation's input: what is checked."""
    seen: set[str] = set()
    todo = [operation_model(service, operation).input_shape]
    while todo:
        shape = todo.pop()
        if shape is None or shape.name in seen:
            continue
        seen.add(shape.name)
        meta = shape.metadata
        for key in ("min", "max", "pattern"):
            if key in meta:
                yield shape.name, key
        if getattr(shape, "enum", None):
            yield shape.name, "enum"
        if shape.type_name == "structure":
            for name in shape.required_members:
                yield shape.name, f"required {name}"
            todo.extend(shape.members.values())
        elif shape.type_name == "list":
            todo.append(shape.member)
        elif shape.type_name == "map":
            todo.extend([shape.key, shape.value])
