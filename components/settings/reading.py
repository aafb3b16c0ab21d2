"""Reading config into the model: each group's object sorted into members, unknown keys and
flat dotted keys refused with a fix, every value validated, then the rules; all problems
reported at once, before a resource is registered.

No resource is created here.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from components.naming import stack_name_problems
from components.settings.base import (
    SettingsError,
    _Group,
    _is_list,
    _key,
    _member_path,
    _optional_inner,
    _set_command,
    _shell_word,
    _shown,
)
from components.settings.facts import APP_SECRETS_NAMESPACE
from components.settings.model import GROUPS, Settings
from components.settings.rules import _app_secret_problems, _combination_problems


def _parse_raw(
    raw: Mapping[str, Any],
    stack_file: str = "Pulumi.<stack>.yaml",
) -> tuple[dict[str, Any], list[str]]:
    """Sort raw config into groups: each group's object (as JSON text, as the CLI hands it over,
    or already parsed), ``production``; refuse unknown keys and members, and flat dotted keys."""
    data: dict[str, Any] = {}
    problems: list[str] = []
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
            problems.append(
                f"{_key(name)} = {_shown(value)}: a flat key, which Pulumi never reads as the "
                f"setting {name}: Pulumi.yaml declares {name} as the member {field} of the "
                f"object {_key(group)}, so this value would be ignored. Fix: `pulumi config rm "
                f"{name}`, then {_set_command(name, value)}."
            )
            continue
        problems.append(_unknown(name, "pulumi config rm"))
    if flat:
        problems.append(
            f"Settings are structured config objects now (one per group, like {_key('service')}"
            f" with members cpu and memory). Fix all flat keys at once: `python -m "
            f"plan.convert_stack {stack_file}` rewrites the stack file in that form, keeping "
            f"its comments."
        )
    return data, problems


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
            f"set each one with `pulumi config set --path {group}.{first} <value>`."
        ]
    aliases = _aliases(model)
    members: dict[str, Any] = {}
    problems: list[str] = []
    for member, inner in value.items():
        member = str(member)
        if member not in aliases:
            problems.append(_unknown(_member_path(group, member), "pulumi config rm --path"))
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
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None, (
                f"{_key(name)} = {value}: must be a list; fix: write it as a YAML list in "
                f"the stack file or {_set_command(name, [])}"
            )
    if not isinstance(value, list):
        return None, f"{_key(name)} = {_shown(value)}: must be a list of strings"
    return value, None


def _unknown(name: str, remove: str) -> str:
    known = [f"{g}.{a}" for g, m in GROUPS.items() for a in _aliases(m)] + ["production"]
    known += list(GROUPS) if "." not in name and "[" not in name else []
    close = [
        k for k in known if k.lower() == name.lower() or k.split(".")[-1] == name.split(".")[-1]
    ] + difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    hint = f" Did you mean {_key(close[0])}?" if close else ""
    return (
        f"{_key(name)}: is not a setting of this project.{hint} "
        f"Fix: `{remove} {_shell_word(name)}`; docs/settings.md lists every setting."
    )


def _field_problems(error: ValidationError, secret_keys: set[str]) -> list[str]:
    problems = []
    for item in error.errors():
        loc = [str(p) for p in item["loc"] if not isinstance(p, int)][:2]
        key = ".".join(loc)
        value = "[secret]" if loc[0] in secret_keys else _shown(item.get("input"))
        message = item["msg"].removeprefix("Value error, ")
        index = next((p for p in item["loc"] if isinstance(p, int)), None)
        if index is not None:  # one entry of a list
            fix = f"`pulumi config set --path {_shell_word(f'{key}[{index}]')} <value>`"
        else:
            fix = _set_command(key, [] if isinstance(item.get("input"), list) else None)
        problems.append(f"{_key(*loc)} = {value}: {message}. Fix: {fix}.")
    return problems


def parse_settings(
    raw: Mapping[str, Any],
    secret_keys: set[str] = frozenset(),
    app_secrets: Mapping[str, bool] | None = None,
    stack_file: str = "Pulumi.<stack>.yaml",
) -> Settings:
    """Validate raw settings: keys without the project's namespace (``service``,
    ``production``), values as the CLI hands them over (a group's object as JSON text) or
    already parsed.

    ``app_secrets`` maps each name under ``app-secrets:`` to whether Pulumi holds it as a secret;
    the values themselves never come here. Raises SettingsError listing every problem found;
    values of ``secret_keys`` are never shown. ``stack_file`` names the file in messages.
    """
    data, problems = _parse_raw({k: v for k, v in raw.items() if k not in secret_keys}, stack_file)
    # Project settings reach resource inputs as plain values: a secret among them would lose
    # its secrecy on the way, so secrets belong under app-secrets: only.
    problems += [
        f"{_key(k)} = [secret]: holds a value set with --secret (`secure:` in {stack_file}), "
        f"but project settings are not secret and would reach the task definition in plain "
        f"text. Fix: `pulumi config rm {_shell_word(k)}` (or only the member marked `secure:`, "
        f"like `pulumi config rm --path {k}.<member>`) and set the value with "
        f"`pulumi config set --secret {APP_SECRETS_NAMESPACE}:NAME ...`."
        for k in sorted(secret_keys)
        if k in raw
    ]
    app_secrets = app_secrets or {}
    problems += _app_secret_problems(app_secrets)
    data["app_secret_names"] = tuple(sorted(app_secrets))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(problems + _field_problems(exc, set(secret_keys))) from None
    problems += _combination_problems(settings)
    if problems:
        raise SettingsError(problems)
    return settings


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
        raise SettingsError(names + error.problems) from None
    if names:
        raise SettingsError(names)
    return settings


def app_secret_values(settings: Settings) -> dict[str, pulumi.Output[str]]:
    """Each app secret's value as a Pulumi secret, by name; only after ``load_settings``."""
    config = pulumi.Config(APP_SECRETS_NAMESPACE)
    # require_secret marks the value secret however it was stored; load_settings has already
    # refused a plain-text one.
    return {name: config.require_secret(name) for name in settings.app_secret_names}
