"""What every settings group shares: the ``_Group`` base (camelCase keys, unknown ones
refused, the CLI's coerced text turned back), ``SettingsError``, and how a message names a
setting and the ``pulumi config set --path`` command that fixes it.

No resource is created here.
"""

from __future__ import annotations

import json
import re
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from components.settings.facts import _DNS_NAME, PROJECT


class SettingsError(pulumi.RunError):
    """Bad stack settings. Pulumi prints a RunError's message without a Python traceback."""

    def __init__(self, problems: list[str], hints: list[str] | None = None):
        self.problems = problems
        self.hints = hints or []
        super().__init__(settings_report(self.problems, self.hints))


def settings_report(problems: list[str], hints: list[str] = ()) -> str:  # type: ignore[assignment]
    """One report of every problem, then the hints (advice that is no problem of its own, like
    the one command that converts every flat key): counted apart, so the count is the number
    of things to fix."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    text = f"The stack settings have {len(problems)} {noun}; nothing was created:\n{lines}"
    return text + "".join(f"\nHint: {h}" for h in hints)


class _Group(BaseModel):
    """A concept's settings: camelCase keys like Pulumi's own, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: Any) -> Any:
        # Pulumi.yaml must give every declared key a default (the CLI demands a value for a key
        # without one), so "" stands for "not set" in optional string settings.
        field = cls.model_fields[info.field_name]
        if value == "" and field.default is None:
            return None
        # Inside an object the CLI turns "16" into 16 and "true" into true (object.go, coerce),
        # for declared defaults and for `pulumi config set --path` alike. Only digits without a
        # leading zero and true/false are turned, so the text comes back exactly.
        if _wants_text(field.annotation):
            return _cli_text(value)
        if _is_list(field.annotation) and isinstance(value, list):
            return [_cli_text(item) for item in value]
        return value


def _dns_name(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.strip().rstrip(".").lower()
    if not _DNS_NAME.match(name):
        raise ValueError(
            "is not a valid DNS name (letters, digits, hyphens, dots; like api.example.com)"
        )
    return name


def _key(*parts: str) -> str:
    return f"{PROJECT}:" + ".".join(parts)


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list or annotation is list


def _wants_text(annotation: Any) -> bool:
    """A string setting: ``str``, ``str | None`` or a ``Literal`` of strings."""
    if annotation is str:
        return True
    if get_origin(annotation) is Literal:
        return all(isinstance(a, str) for a in get_args(annotation))
    if get_origin(annotation) in (Union, UnionType):
        inner = _optional_inner(annotation)
        return inner is not None and _wants_text(inner)
    return False


def _cli_text(value: Any) -> Any:
    """The text the CLI coerced into a number or boolean; anything else unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _member_path(group: str, member: str) -> str:
    """How ``pulumi config set --path`` names a member: ``service.memory``, or
    ``service["odd.name"]`` for a name that is not a plain word."""
    if re.fullmatch(r"[A-Za-z0-9_]+", member):
        return f"{group}.{member}"
    return f'{group}["{member}"]'


# What a POSIX shell passes on as it is; anything else (`[0]`, `["a.b"]`, spaces) is quoted.
_SHELL_PLAIN = re.compile(r"[A-Za-z0-9_.:/=@%+,-]+")


def _shell_word(text: str) -> str:
    """``text`` as one shell word, so a command in a message works when pasted:
    ``'service.environment[0]'``, ``'service["odd.name"]'``."""
    if _SHELL_PLAIN.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def _set_command(path: str, value: Any) -> str:
    """The commands that set ``path`` (a property path) to ``value``, ready to paste: a list
    one index at a time, as the CLI sets lists (``'service.environment[0]' A=1``, then
    ``[1]``...); an empty list by removing the member, which leaves the default (none)."""
    if isinstance(value, list):
        if not value:
            return f"`pulumi config rm --path {_shell_word(path)}`"
        return ", then ".join(
            f"`pulumi config set --path {_shell_word(f'{path}[{i}]')} {_shell_word(_shown(v))}`"
            for i, v in enumerate(value)
        )
    return f"`pulumi config set --path {_shell_word(path)} {_shell_word(_shown(value))}`"


# A concrete, valid value for each setting whose default cannot be offered in a fix (unset, or
# an empty list; for a list, one entry): a message's command sets it, so the command works as
# pasted and shows the form. A setting without one is fixed by removing it (its default).
EXAMPLES: dict[str, str] = {
    "https.domain": "api.example.com",
    "https.hostedZone": "example.com",
    "https.hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "https.extraNames": "www.example.com",
    "https.certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/"
    "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "network.vpcId": "vpc-0123456789abcdef0",
    "network.publicSubnetIds": "subnet-0123456789abcdef0",
    "network.privateSubnetIds": "subnet-0123456789abcdef1",
    "network.zoneNames": "us-east-1a",
    "image.uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1",
    "service.environment": "LOG_LEVEL=info",
    "service.secrets": "API_KEY=arn:aws:secretsmanager:us-east-1:123456789012:secret:api-key-AbCdEf",
    "service.taskPolicyArns": "arn:aws:iam::123456789012:policy/app-task",
    "database.host": "db.example.com",
    "database.secretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-db-AbCdEf",
    "alarms.email": "ops@example.com",
    "protection.allowReplacing": "database",
}


def _optional_inner(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else None


def _ranges(values: tuple[int, ...]) -> str:
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"


def _parent(name: str | None) -> str:
    return (name or "example.com").split(".", 1)[-1]


def inside_zone(name: str, zone: str) -> bool:
    """Whether a DNS name is the zone's apex or a name under it."""
    return name == zone or name.endswith("." + zone)
