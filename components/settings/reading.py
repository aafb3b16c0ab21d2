"""Reading config into the model: each group's object sorted into members, unknown keys and
flat dotted keys refused with a fix, every value validated, then the rules; all problems
reported at once, before a resource is registered.

No resource is created here.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from components.naming import stack_name_problems
from components.settings.base import (
    EXAMPLES,
    SettingsError,
    _cli_text,
    _Group,
    _is_list,
    _key,
    _member_path,
    _optional_inner,
    _set_command,
    _shell_word,
    _shown,
)
from components.settings.facts import APP_SECRETS_NAMESPACE, FARGATE_SIZES, LOG_RETENTION_DAYS
from components.settings.model import GROUPS, Settings
from components.settings.rules import _app_secret_problems, _combination_problems


def _parse_raw(
    raw: Mapping[str, Any],
    stack_file: str = "Pulumi.<stack>.yaml",
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Sort raw config into groups: each group's object (as JSON text, as the CLI hands it over,
    or already parsed), ``production``; refuse unknown keys and members, and flat dotted keys.
    Returns the data, the problems and the hints (advice that is not a problem of its own)."""
    data: dict[str, Any] = {}
    problems: list[str] = []
    hints: list[str] = []
    flat = False
    for name, value in sorted(raw.items()):
        if name == "production":
            data[name] = value
            continue
        if name in GROUPS:
            members, group_problems = _parse_group(name, value)
            problems += group_problems
            data[name] = members
            continue
        group, dot, field = name.partition(".")
        if dot and group in GROUPS and field in _aliases(GROUPS[group]):
            flat = True
            annotation = GROUPS[group].model_fields[_aliases(GROUPS[group])[field]].annotation
            if _is_list(annotation) and isinstance(value, str):
                with contextlib.suppress(json.JSONDecodeError):
                    value = json.loads(value)
            fix = _set_command(name, value)
            problems.append(
                f"{_key(name)} = {_shown(value)}: a flat key, which Pulumi never reads as the "
                f"setting {name}: Pulumi.yaml declares {name} as the member {field} of the "
                f"object {_key(group)}, so this value would be ignored. Fix: `pulumi config rm "
                f"{name}`" + ("." if fix.startswith("`pulumi config rm") else f", then {fix}.")
            )
            continue
        members = _object_of(value)
        problems.append(
            _unknown(name, "pulumi config rm", value)
            if members is None
            else _unknown_group(name, members, raw)
        )
    if flat:
        hints.append(
            f"Settings are structured config objects now (one per group, like {_key('service')}"
            f" with members cpu and memory). Fix all flat keys at once: `.venv/bin/python -m "
            f"plan.convert_stack {stack_file}` rewrites the stack file in that form, keeping "
            f"its comments."
        )
    return data, problems, hints


def _parse_group(group: str, value: Any) -> tuple[dict[str, Any], list[str]]:
    """A group's members from its object; unknown members refused, lists parsed."""
    model = GROUPS[group]
    first = next(iter(_aliases(model)))
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not isinstance(value, Mapping):
        return {}, [
            f"{_key(group)} = {_shown(value)}: must be an object of settings (like "
            f"{group}: {{{first}: ...}} in the stack file). Fix: `pulumi config rm {group}`, then "
            f"set each one as a member, like {_member_fix(group, first)}."
        ]
    aliases = _aliases(model)
    members: dict[str, Any] = {}
    problems: list[str] = []
    for member, inner in value.items():
        member = str(member)
        if member not in aliases:
            problems.append(_unknown(_member_path(group, member), "pulumi config rm --path", inner))
            continue
        annotation = model.model_fields[aliases[member]].annotation
        if _is_list(annotation) or _is_list(_optional_inner(annotation)):
            inner, problem = _parse_list(_member_path(group, member), inner)
            if problem:
                problems.append(problem)
                continue
        members[member] = inner
    return members, problems


def _aliases(model: type[_Group]) -> dict[str, str]:
    return {f.alias or n: n for n, f in model.model_fields.items()}


def _parse_list(name: str, value: Any) -> tuple[Any, str | None]:
    remove = f"`pulumi config rm --path {_shell_word(name)}`"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            # A command given as one string is its words; anything else one entry.
            entries = _words(value) if name == "migration.command" else [value]
            return None, (
                f"{_key(name)} = {value}: must be a list; fix: write it as a YAML list in "
                f"the stack file, or {remove}, then {_set_command(name, entries)}"
            )
    if not isinstance(value, list):
        return None, (
            f"{_key(name)} = {_shown(value)}: must be a list of strings. Fix: {remove}, then "
            f"{_set_command(name, [_shown(value)])}"
        )
    return value, None


def _words(command: str) -> list[str]:
    """A command line's words as a shell reads them; on whitespace where its quotes do not
    pair (the fix still shows every word, and the user sees the stray quote in it)."""
    try:
        return shlex.split(command)
    except ValueError:  # "No closing quotation", "No escaped character"
        return command.split()


_NO_VALUE = object()


def _unknown(name: str, remove: str, value: Any = _NO_VALUE) -> str:
    """An unknown key or member; where it is close to a setting, the fix moves its value there
    (`rm` alone would lose it)."""
    known = [f"{g}.{a}" for g, m in GROUPS.items() for a in _aliases(m)] + ["production"]
    known += list(GROUPS) if "." not in name and "[" not in name else []
    close = [
        k for k in known if k.lower() == name.lower() or k.split(".")[-1] == name.split(".")[-1]
    ] + difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    hint = f" Did you mean {_key(close[0])}?" if close else ""
    fix = f"`{remove} {_shell_word(name)}`"
    if close and "." in close[0] and value is not _NO_VALUE and not isinstance(value, Mapping):
        if isinstance(value, str) and close[0].split(".")[-1] in _LIST_MEMBERS:
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        moves = _set_commands(close[0], value)
        fix += f", then {', '.join(moves)} (if you meant {close[0]}: moves the value there)"
    return (
        f"{_key(name)}: is not a setting of this project.{hint} "
        f"Fix: {fix}; docs/settings.md lists every setting."
    )


# Members that hold lists (the CLI hands a flat key's list over as JSON text).
_LIST_MEMBERS = {
    alias
    for model in GROUPS.values()
    for alias, name in _aliases(model).items()
    if _is_list(model.model_fields[name].annotation)
}


def _object_of(value: Any) -> Mapping[str, Any] | None:
    """An unknown key's value as an object (the CLI hands objects over as JSON text), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) and value else None


def _unknown_group(name: str, members: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """A misspelled group (``servce: {cpu: 512}``): the fix moves every value into the group
    meant, member by member, before removing the misspelled one; `pulumi config rm servce`
    alone would delete them all."""
    close = [g for g in GROUPS if g.lower() == name.lower()] + difflib.get_close_matches(
        name, list(GROUPS), n=1, cutoff=0.6
    )
    if not close:
        return _unknown(name, "pulumi config rm")
    group = close[0]
    present = _object_of(raw.get(group)) or {}
    model = GROUPS[group]
    aliases = _aliases(model)

    def declared_default(member: str) -> Any:
        field = model.model_fields[aliases[member]]
        return _cli_text(field.get_default(call_default_factory=True))

    # The CLI fills the group's object with the declared defaults: only a value that differs
    # from its default was set by someone, and the move would replace it.
    both = [
        f"{_member_path(group, str(m))} = {_shown(present[m])}"
        for m, v in members.items()
        if m in present
        and _cli_text(present[m]) != _cli_text(v)
        and (m not in aliases or _cli_text(present[m]) != declared_default(m))
    ]
    replaces = f" The move replaces what {group} already holds: {', '.join(both)}." if both else ""
    moves = [
        command
        for member, value in members.items()
        for command in _set_commands(_member_path(group, str(member)), value)
    ]
    return (
        f"{_key(name)}: is not a setting of this project. Did you mean {_key(group)}? "
        + (f"Its {len(members)} values" if len(members) > 1 else "Its value")
        + f" would be ignored. Fix: move {'each' if len(members) > 1 else 'it'} into {group}: "
        f"{', '.join(moves)}, then `pulumi config rm {_shell_word(name)}`; "
        f"docs/settings.md lists every setting.{replaces}"
    )


def _set_commands(path: str, value: Any) -> list[str]:
    """``pulumi config set --path`` commands that recreate ``value`` at ``path``, down to each
    scalar (a list index by index, an object member by member), so nothing is lost."""
    if isinstance(value, Mapping) and value:
        return [c for k, v in value.items() for c in _set_commands(_member_path(path, str(k)), v)]
    if isinstance(value, list) and value:
        return [c for i, v in enumerate(value) for c in _set_commands(f"{path}[{i}]", v)]
    return [_set_command(path, value)]


def _member_fix(group: str, member: str, *, suggested: Any = None, index: int | None = None) -> str:
    """The complete command that fixes ``group.member``: set ``suggested`` (a valid value worked
    out from the error), else the member's default, else its example from ``EXAMPLES``; a
    member without one is removed, which leaves its default."""
    path = _member_path(group, member)
    remove = f"`pulumi config rm --path {_shell_word(path)}`"
    if suggested is not None:
        return _set_command(path, suggested)
    model = GROUPS[group]
    default = model.model_fields[_aliases(model)[member]].get_default(call_default_factory=True)
    example = EXAMPLES.get(f"{group}.{member}")
    if index is not None:  # one entry of a list
        if example is None:
            return f"`pulumi config rm --path {_shell_word(f'{path}[{index}]')}`"
        return f"{_set_command(f'{path}[{index}]', example)} (an entry of that form)"
    if isinstance(default, list):
        if default or example is None:
            return f"{remove} (back to the default)"
        return f"{_set_command(f'{path}[0]', example)} (an entry of that form), or {remove}"
    if default is None or default == "":
        if example is None:
            return f"{remove} (unset)"
        return f"{_set_command(path, example)} (a value of that form), or {remove} (unset)"
    return f"{_set_command(path, _cli_text(default))} (the default)"


def _suggestion(group: str, member: str, item: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
    """A valid value close to the refused one, where the error says what would be: the bound
    it crossed, the nearest Fargate size or CloudWatch period; None where it does not."""
    ctx = item.get("ctx") or {}
    for bound, step in (("ge", 0), ("le", 0), ("gt", 1), ("lt", -1)):
        if isinstance(ctx.get(bound), int):
            return ctx[bound] + step
    value = item.get("input")
    with contextlib.suppress(TypeError, ValueError):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if (group, member) == ("service", "cpu"):
        return min(FARGATE_SIZES, key=lambda c: (abs(c - value), c))
    if (group, member) == ("service", "memory"):
        cpu = _cli_text_int((data.get("service") or {}).get("cpu"))
        offered = FARGATE_SIZES.get(cpu) or tuple(m for s in FARGATE_SIZES.values() for m in s)
        return min(offered, key=lambda m: (m < value, abs(m - value)))
    if (group, member) == ("service", "logRetentionDays"):
        return min(LOG_RETENTION_DAYS, key=lambda d: (d < value, abs(d - value)))
    return None


def _cli_text_int(value: Any) -> int | None:
    with contextlib.suppress(TypeError, ValueError):
        return int(value)
    return None


def _field_problems(
    error: ValidationError, data: Mapping[str, Any], secret_keys: set[str]
) -> tuple[list[str], set[str]]:
    """Each refused value with its fix, and the settings refused (``service.memory``)."""
    problems = []
    refused: set[str] = set()
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not isinstance(p, int)][:2]
        key = ".".join(loc)
        refused.add(key)
        value = "[secret]" if loc[0] in secret_keys else _shown(item.get("input"))
        message = item["msg"].removeprefix("Value error, ")
        index = next((p for p in item["loc"] if isinstance(p, int)), None)
        if len(loc) < 2 or loc[0] not in GROUPS:  # production
            fix = f"`pulumi config set --path {loc[0]} false` (or true)"
        elif loc[0] in secret_keys:
            fix = _member_fix(loc[0], loc[1], index=index)
        elif index is None and isinstance(item.get("input"), list):
            fix = _list_fix(loc[0], loc[1], item["input"])
        else:
            fix = _member_fix(
                loc[0], loc[1], suggested=_suggestion(loc[0], loc[1], item, data), index=index
            )
        problems.append(f"{_key(*loc)} = {value}: {message}. Fix: {fix}.")
    return problems, refused


def _list_fix(group: str, member: str, entries: list[Any]) -> str:
    """A list refused as a whole: remove the entries refused on their own (or, if none is,
    the later repeats), from the last so the indexes hold; the entries kept stay as they are.
    Where the setting has an example, say the form to add an entry again in."""
    model = GROUPS[group]
    path = _member_path(group, member)
    bad = []
    for index, entry in enumerate(entries):
        try:
            model.model_validate({member: [entry]})
        except ValidationError:
            bad.append(index)
    repeats = [i for i, e in enumerate(entries) if e in entries[:i]]
    if not bad and not repeats:
        return _member_fix(group, member)
    removals = ", then ".join(
        f"`pulumi config rm --path {_shell_word(f'{path}[{i}]')}`" for i in reversed(bad or repeats)
    )
    example = EXAMPLES.get(f"{group}.{member}")
    if example is None or not bad:
        return removals
    again = _set_command(f"{path}[{len(entries) - len(bad)}]", example)
    return f"{removals}; add one again in the valid form, like {again}"


def _names_any(problem: str, settings: set[str]) -> bool:
    """Whether a rule's problem names one of ``settings`` (like ``service.memory``)."""
    return any(re.search(rf"(?<![\w.]){re.escape(s)}(?![\w])", problem) for s in settings)


def _without(data: Mapping[str, Any], refused: set[str]) -> dict[str, Any]:
    """``data`` with each refused setting left out, so its default stands in for it."""
    kept = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    for key in refused:
        group, _, member = key.partition(".")
        if not member:
            kept.pop(group, None)
        elif isinstance(kept.get(group), dict):
            kept[group].pop(member, None)
    return kept


def parse_settings(
    raw: Mapping[str, Any],
    secret_keys: set[str] = frozenset(),
    app_secrets: Mapping[str, bool] | None = None,
    stack_file: str = "Pulumi.<stack>.yaml",
) -> Settings:
    """Validate raw settings: keys without the project's namespace (``service``,
    ``production``), values as the CLI hands them over (a group's object as JSON text) or
    already parsed.

    ``app_secrets`` maps each name under ``app-secrets:`` (where app secret values were set
    before they moved to Secrets Manager) to whether Pulumi holds it as a secret: each is
    refused with the commands that move it; the values themselves never come here. Raises
    SettingsError listing every problem found; values of ``secret_keys`` are never shown. ``stack_file`` names the file in messages.
    """
    data, problems, hints = _parse_raw(
        {k: v for k, v in raw.items() if k not in secret_keys}, stack_file
    )
    stack = _stack_name(stack_file)
    # Project settings reach resource inputs as plain values: a secret among them would lose
    # its secrecy on the way, so secret values belong in Secrets Manager (service.appSecrets).
    problems += [
        f"{_key(k)} = [secret]: holds a value set with --secret (`secure:` in {stack_file}), "
        f"but project settings are not secret and would reach the task definition in plain "
        f"text. Fix: `pulumi config rm {_shell_word(k)}` (or only the member marked `secure:`, "
        f"like `pulumi config rm --path {k}.<member>`), list the variable's name in "
        f"service.appSecrets and set its value with "
        f"`.venv/bin/python -m ops {stack} secrets set NAME`."
        for k in sorted(secret_keys)
        if k in raw
    ]
    app_secrets = app_secrets or {}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        field_problems, refused = _field_problems(exc, data, set(secret_keys))
        problems += _app_secret_problems(app_secrets, None, stack)
        problems += field_problems
        # The rules still run, on every other value: each refused setting's default stands in,
        # and a rule that names a refused setting is not judged on that stand-in.
        try:
            stand_in = Settings.model_validate(_without(data, refused))
        except ValidationError:
            stand_in = None
        if stand_in is not None:
            problems += [p for p in _combination_problems(stand_in) if not _names_any(p, refused)]
        raise SettingsError(problems, hints) from None
    problems += _app_secret_problems(app_secrets, settings.service.app_secrets, stack)
    problems += _combination_problems(settings)
    if problems:
        raise SettingsError(problems, hints)
    return settings


def _stack_name(stack_file: str) -> str:
    """``Pulumi.dev.yaml`` -> ``dev``, for the ``python -m ops STACK`` commands in messages."""
    name = stack_file.removeprefix("Pulumi.").removesuffix(".yaml")
    return "STACK" if not name or name.startswith("<") or name == stack_file else name


def _config_keys() -> dict[str, Any]:
    from pulumi.runtime import config as runtime_config

    # The SDK has no public call that lists config keys, and a typo must not pass unnoticed.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load_settings() -> Settings:
    """Read and validate this stack's settings (and the names of its app secrets) from config."""
    from pulumi.runtime import config as runtime_config

    merged = _config_keys()
    prefix = f"{pulumi.get_project()}:"
    raw = {k.removeprefix(prefix): v for k, v in merged.items() if k.startswith(prefix)}
    secret = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    app_prefix = f"{APP_SECRETS_NAMESPACE}:"
    app_secrets = {
        k.removeprefix(app_prefix): runtime_config.is_config_secret(k)
        for k in merged
        if k.startswith(app_prefix)
    }
    # A stack name no AWS name of the program can be made from stops here too (components.naming).
    names = stack_name_problems(pulumi.get_project(), pulumi.get_stack())
    try:
        settings = parse_settings(raw, secret, app_secrets, f"Pulumi.{pulumi.get_stack()}.yaml")
    except SettingsError as error:
        raise SettingsError(names + error.problems, error.hints) from None
    if names:
        raise SettingsError(names)
    return settings
