"""Rewrite stack files from flat dotted settings to structured config objects, in place.

``python -m plan.convert_stack Pulumi.dev.yaml [Pulumi.prod.yaml ...]`` turns every flat key
of the project (``fastapi-fargate:service.memory: 512``, what ``pulumi config set
service.memory 512`` writes without ``--path``) into a member of its group's object::

    fastapi-fargate:service:
      memory: 512

which is what ``pulumi config set --path service.memory 512`` writes, and what the Pulumi CLI
merges with ``Pulumi.yaml``'s declarations (``plan/engine_config.py``). The rewrite works on the
lines of the file, so comments stay: a comment above a flat key moves with it into the object,
and the object takes the place of its group's first key. Values are kept as written. Before it
writes anything it parses the result and checks that it holds exactly the same settings, only
grouped; a layout it cannot rewrite that way (flow-style YAML) is left untouched with a
message saying so.

A half-converted file (``pulumi config set --path`` already made the group's object, older
flat keys remain beside it) is merged: each flat key becomes a member at the end of the
object, a flat key repeating the object's value for the same member is dropped, and only a
real conflict (two different values for one setting) is refused, naming both. Creates no
resources.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plan.engine_config import ConfigError, load_project, load_yaml

EXIT_BAD_INPUT = 2
# A block-style entry: `key: value` or `key:` followed by an indented block; keys here never
# hold spaces, and the first `: ` (or a final `:`) ends the key.
_ENTRY = re.compile(r"^(?P<indent> *)(?P<key>[^\s#'\"{}\[\]][^\s]*?):(?:\s+(?P<rest>.*))?$")
_FLAT_NAME = re.compile(r"^(?P<group>[A-Za-z0-9_-]+)\.(?P<member>[A-Za-z0-9_-]+)$")


_BY_HAND = (
    "the file's layout is not one this command can rewrite line by line (is the config block "
    "in flow style?); convert by hand: for each flat key, `pulumi config rm KEY` and `pulumi "
    "config set --path KEY VALUE`."
)
# Where .venv/bin/python -m plan.convert_stack is documented (README's virtualenv).
COMMAND = ".venv/bin/python -m plan.convert_stack"


class ConvertError(Exception):
    """The file cannot be rewritten safely; the message says why and what to do instead."""


@dataclass
class _Entry:
    lead: list[str] = field(default_factory=list)  # comments and blank lines above it
    head: str = ""
    key: str = ""
    rest: str = ""
    body: list[str] = field(default_factory=list)  # more-indented lines below it


def convert_text(text: str, project: str) -> tuple[str, int]:
    """The stack file ``text`` with its flat keys grouped; and how many keys moved."""
    try:
        parsed = (load_yaml(text) or {}).get("config") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        raise ConvertError(
            f"is not a stack file (a YAML mapping with a `config` block): {exc}"
        ) from None
    if not any(_flat(str(key), project) for key in parsed):
        return text, 0
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^config:\s*(#.*)?$", line)), None)
    if start is None:
        raise ConvertError(_BY_HAND)
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].strip() and not lines[i].startswith((" ", "#"))
        ),
        len(lines),
    )
    block = lines[start + 1 : end]
    entries, tail, indent = _entries(block)

    groups: dict[str, list[tuple[str, _Entry]]] = {}
    for entry in entries:
        flat = _flat(entry.key, project)
        if flat:
            groups.setdefault(flat[0], []).append((flat[1], entry))
    if not groups:
        return text, 0
    # A half-converted file: the group's object is there already, flat keys beside it.
    objects = {
        group: entry for entry in entries if (group := _flat_group(entry.key, project)) in groups
    }
    present = {group: _object_value(parsed, entry.key) for group, entry in objects.items()}
    _refuse_conflicts(groups, present, parsed, project)
    # A flat key that repeats the object's value adds nothing: it goes.
    groups = {
        group: [(m, e) for m, e in members if m not in present.get(group, {})]
        for group, members in groups.items()
    }

    out: list[str] = []
    emitted: set[str] = set()
    pad = " " * indent
    for entry in entries:
        flat = _flat(entry.key, project)
        group_object = _flat_group(entry.key, project)
        if group_object in objects:
            # The flat members go at the end of the object, indented as its own members.
            inner = _member_indent(entry, indent)
            out += [*entry.lead, entry.head, *entry.body]
            out += _members(groups[group_object], " " * inner, inner - indent)
            continue
        if not flat:
            out += [*entry.lead, entry.head, *entry.body]
            continue
        if flat[0] in objects:
            continue
        group = flat[0]
        if group in emitted:
            continue
        emitted.add(group)
        first = groups[group][0][1]
        # Blank lines above the group's first key stay above the object.
        blanks = [line for line in first.lead if not line.strip()]
        out += [*blanks, f"{pad}{project}:{group}:"]
        out += _members(groups[group], pad + "  ", 2)
    new_lines = lines[: start + 1] + out + tail + lines[end:]
    new_text = "\n".join(new_lines) + ("\n" if text.endswith("\n") else "")
    _check_same_settings(text, new_text, project)
    flat_keys = sum(1 for key in parsed if _flat(str(key), project))
    return new_text, flat_keys


def _members(members: list[tuple[str, _Entry]], pad: str, shift: int) -> list[str]:
    """Flat entries as members of an object: ``pad`` before each name, their comments and
    continuation lines moved right by ``shift``."""
    out: list[str] = []
    more = " " * shift
    for member, entry in members:
        lead = [line for line in entry.lead if line.strip()]
        out += [more + line for line in lead]
        rest = f" {entry.rest}" if entry.rest else ""
        out.append(f"{pad}{member}:{rest}")
        out += [more + line if line.strip() else line for line in entry.body]
    return out


def _member_indent(entry: _Entry, indent: int) -> int:
    """How far the members of an object entry are indented; flow style cannot take more."""
    if entry.rest and not entry.rest.startswith("#"):
        raise ConvertError(
            f"`{entry.key}` is written in flow style ({entry.rest.strip()}), so flat keys cannot "
            f"be added to it line by line; {_BY_HAND.split('; ', 1)[1]}"
        )
    return next(
        (
            len(line) - len(line.lstrip())
            for line in entry.body
            if line.strip() and not _comment(line)
        ),
        indent + 2,
    )


def _object_value(parsed: dict[Any, Any], key: str) -> dict[str, Any]:
    value = parsed.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) == {"secure"}:
        raise ConvertError(
            f"`{key}` is not an object of settings, so flat keys cannot be moved into it; "
            f"{_BY_HAND.split('; ', 1)[1]}"
        )
    return {str(k): v for k, v in value.items()}


def _refuse_conflicts(
    groups: dict[str, list[tuple[str, _Entry]]],
    present: dict[str, dict[str, Any]],
    parsed: dict[Any, Any],
    project: str,
) -> None:
    """Refuse a setting given twice with two different values, naming both; the same value
    twice is no conflict (the CLI reads "512" and 512 alike inside an object)."""
    flat_values = {
        (group, member): value
        for key, value in parsed.items()
        if (flat := _flat(str(key), project))
        for group, member in [flat]
    }
    conflicts = [
        f"{project}:{group}.{member} = {_text(flat_values[group, member])} (a flat key) and "
        f"member {member} = {_text(present[group][member])} of {project}:{group}; keep the "
        f"object's value with `pulumi config rm {group}.{member}` (the flat key), or the flat "
        f"key's with `pulumi config rm --path {group}.{member}` (the member)"
        for group, members in groups.items()
        for member, _ in members
        if member in present.get(group, {})
        and _text(flat_values[group, member]) != _text(present[group][member])
    ]
    if conflicts:
        raise ConvertError(
            "a setting is given twice with different values: "
            + "; ".join(conflicts)
            + ". Then run this command again."
        )


def _text(value: Any) -> str:
    """A value as the CLI compares it inside an object: scalars as their text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _entries(block: list[str]) -> tuple[list[_Entry], list[str], int]:
    """The entries of a ``config:`` block, the comment lines after the last one, the indent."""
    indent = next(
        (len(line) - len(line.lstrip()) for line in block if line.strip() and not _comment(line)),
        2,
    )
    entries: list[_Entry] = []
    pending: list[str] = []
    for line in block:
        stripped_indent = len(line) - len(line.lstrip())
        if not line.strip() or (_comment(line) and (not entries or stripped_indent <= indent)):
            pending.append(line)
            continue
        # A list's items may sit at their key's own indent (PyYAML writes them so).
        indentless_item = stripped_indent == indent and line.lstrip().startswith("- ")
        if (stripped_indent > indent or indentless_item) and entries:
            entries[-1].body += [*pending, line]
            pending = []
            continue
        match = _ENTRY.match(line)
        if stripped_indent != indent or not match:
            raise ConvertError(f"cannot read this line of the config block: {line.strip()!r}")
        entries.append(_Entry(pending, line, match["key"], match["rest"] or ""))
        pending = []
    return entries, pending, indent


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _name(key: str, project: str) -> str | None:
    """The name of a project key (``fastapi-fargate:x`` or bare ``x``); None for others."""
    if ":" not in key:
        return key
    namespace, _, name = key.partition(":")
    return name if namespace == project and ":" not in name else None


def _flat(key: str, project: str) -> tuple[str, str] | None:
    name = _name(key, project)
    match = _FLAT_NAME.match(name) if name else None
    return (match["group"], match["member"]) if match else None


def _flat_group(key: str, project: str) -> str | None:
    name = _name(key, project)
    return name if name and "." not in name else None


def _check_same_settings(old: str, new: str, project: str) -> None:
    """Refuse unless ``new`` holds exactly ``old``'s settings, flat keys moved into objects."""
    try:
        before = (load_yaml(old) or {}).get("config") or {}
        after = (load_yaml(new) or {}).get("config") or {}
    except yaml.YAMLError as exc:
        raise ConvertError(
            f"the rewrite would not be valid YAML ({exc}); convert by hand"
        ) from None
    expected: dict[str, Any] = {}
    objects = {g: str(k) for k in before if (g := _flat_group(str(k), project))}
    for key, value in before.items():
        if not _flat(str(key), project):
            expected[str(key)] = dict(value) if isinstance(value, dict) else value
    for key, value in before.items():
        flat = _flat(str(key), project)
        if flat:
            members = expected.setdefault(objects.get(flat[0], f"{project}:{flat[0]}"), {})
            members.setdefault(flat[1], value)  # a repeat keeps the object's own value
    if after != expected:
        raise ConvertError(_BY_HAND)


def convert_file(path: Path, project: str | None = None) -> int:
    """Rewrite ``path`` in place; how many flat keys moved (0: nothing to do, file untouched)."""
    if project is None:
        try:
            project = load_project(path.resolve().parent / "Pulumi.yaml").name
        except ConfigError as exc:
            raise ConvertError(f"no project next to it ({exc}); pass --project NAME") from None
    text = path.read_text()
    new_text, moved = convert_text(text, project)
    if moved:
        path.write_text(new_text)
    return moved


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog=COMMAND,
        description="Rewrite stack files from flat dotted settings (service.memory) to "
        "structured config objects (service: {memory: ...}), in place, keeping comments.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="Pulumi.STACK.yaml")
    p.add_argument("--project", help="the project's name (default: from Pulumi.yaml beside it)")
    args = p.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            moved = convert_file(path, args.project)
        except (ConvertError, OSError) as exc:
            print(f"{path}: not converted: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        if moved:
            print(f"{path}: {moved} flat keys moved into their groups' objects")
        else:
            print(f"{path}: no flat keys; nothing to do")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
