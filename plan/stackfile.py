"""Read a project's ``Pulumi.yaml`` and a stack's ``Pulumi.<stack>.yaml`` as the CLI would hand them over.

A stack file is read as the Pulumi CLI reads it, and checked the way the CLI checks it before
``pulumi preview``: ``plan.engine_config`` merges ``Pulumi.yaml``'s declared defaults into the
stack's config (a setting like ``service.memory`` is the member ``memory`` of the object
``fastapi-fargate:service``) and refuses values of the wrong type with the CLI's own message.
The renderer runs the same merge again when it hands the config to the program.

Values the stack file holds encrypted (``secure: v1:...``, written by ``pulumi config set
--secret``) cannot be decrypted without the stack's secrets provider, so the plan treats those
keys as secrets with a placeholder value and says so.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plan.engine_config import (
    ConfigError,
    ProgramConfig,
    RefusedValue,
    load_project,
    load_yaml,
    program_config,
    property_path_str,
    refused_values,
    value_from_yaml,
)
from plan.errors import PlanError
from plan.render import OFFLINE_DECRYPTER

REGION_KEY = "aws:region"
# The keys of a stack file: pulumi/pulumi sdk/go/common/workspace/project.go, ProjectStack. The
# CLI ignores any other key, so a misspelled `config:` would silently drop every setting.
STACK_FILE_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment")
_STACK_FILE_NAME = re.compile(r"^Pulumi\.(?P<stack>[^/]+)\.ya?ml$")


@dataclass(frozen=True)
class StackFile:
    """A stack's config, ready for the renderer: the stack file's ``config:`` block as YAML
    holds it (full keys; a group of settings is one object), plus the region the plan uses."""

    project: str
    stack: str
    path: Path
    config: dict[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    """Keys whose values Pulumi holds as secrets; their values are never shown."""
    refused: tuple[str, ...] = ()
    """Values the CLI's type check refuses, each a problem with its fix: the plan still runs
    the program (as ``--skip-config-validation`` would) so that its own checks are reported
    in the same report; ``pulumi preview`` would stop at the first of these."""

    @property
    def encrypted_keys(self) -> frozenset[str]:
        """The secret keys whose values the stack file holds encrypted (``secure:``); the
        program gets ``plan.render.ENCRYPTED_PLACEHOLDER`` for them. From a stack file that is every secret
        key; a plain value handed over as a secret (as tests do) is not encrypted."""
        return frozenset(
            k
            for k in self.secret_keys
            if k not in self.config or value_from_yaml(self.config[k]).secure
        )

    @property
    def region(self) -> str:
        return str(self.config[REGION_KEY])

    def settings(self) -> dict[str, Any]:
        """What the stack file sets, one entry per setting: the members of an object as property
        paths (``fastapi-fargate:service.memory``, as ``pulumi config set --path`` names them),
        anything else under its key; a secret key whole, never opened."""
        shown: dict[str, Any] = {}

        def walk(key: str, value: Any) -> None:
            if isinstance(value, dict) and value and key not in self.secret_keys:
                if set(value) == {"secure"}:
                    shown[key] = value
                    return
                for member, inner in value.items():
                    # ".memory", or '["a.b"]' for a member name that needs quoting.
                    walk(key + property_path_str(["", str(member)]), inner)
            else:
                shown[key] = value

        for key, value in self.config.items():
            walk(key, value)
        return shown


def project_name(root: Path) -> str:
    """The ``name`` of the project in ``root/Pulumi.yaml``, read and checked as the CLI does
    (``plan.engine_config.load_project``, which keeps it for the merge)."""
    path = root / "Pulumi.yaml"
    if not path.is_file():
        raise PlanError(f"{path}: no such file; is {root} a Pulumi project?")
    try:
        return load_project(path).name
    except ConfigError as exc:
        raise PlanError(str(exc)) from None


def stack_names(root: Path) -> list[str]:
    """The stacks that have a stack file in ``root``."""
    found = (_STACK_FILE_NAME.match(p.name) for p in root.glob("Pulumi.*.y*ml"))
    return sorted(m["stack"] for m in found if m)


def stack_from_path(path: Path) -> str:
    """The stack a file is for: ``Pulumi.dev.yaml`` is ``dev``; any other name, its stem."""
    match = _STACK_FILE_NAME.match(path.name)
    return match["stack"] if match else path.stem


def load_stack(root: Path, stack: str | None, path: Path | None = None) -> StackFile:
    """Read the stack's config from ``path`` (default: ``root/Pulumi.<stack>.yaml``).

    Raises ``PlanError`` for a missing or unreadable file and for a stack without a region.
    """
    if stack is None and path is None:
        raise PlanError(
            "name a stack (like `.venv/bin/python -m plan dev`) or give --stack-file PATH"
        )
    project = project_name(root)
    if path is None:
        path = root / f"Pulumi.{stack}.yaml"
        if not path.is_file():
            known = ", ".join(stack_names(root)) or "none"
            raise PlanError(
                f"no stack {stack!r}: {path.name} does not exist in {root}. Stacks here: {known}."
            )
    elif not path.is_file():
        raise PlanError(f"--stack-file {path}: no such file")
    stack = stack or stack_from_path(path)

    document = _read_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PlanError(f"{path}: is not a stack file (a YAML mapping with a `config` block)")
    if document.get("environment"):
        raise PlanError(
            f"{path}: imports a Pulumi ESC environment (`environment:`), which the offline "
            "plan cannot open; plan a copy without it, or use `pulumi preview`."
        )
    _check_keys(document, path)
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise PlanError(f"{path}: `config` must be a mapping of keys to values")

    # The CLI reads a key without a namespace as one of the project's own.
    config = {(str(k) if ":" in str(k) else f"{project}:{k}"): v for k, v in raw.items()}

    if REGION_KEY not in config:
        # Like the AWS provider: the environment's region when the stack sets none.
        env_region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not env_region:
            raise PlanError(
                f"{path}: sets no {REGION_KEY}, and neither AWS_REGION nor AWS_DEFAULT_REGION "
                f"is set. Fix: `pulumi config set {REGION_KEY} us-east-1` (or your region)."
            )
        config[REGION_KEY] = env_region
    # What `pulumi preview` checks before anything runs; the renderer merges the same way.
    engine, refused = check_config(root, stack, config, path)
    return StackFile(
        project=project,
        stack=stack,
        path=path,
        config=config,
        secret_keys=engine.secret_keys,
        refused=refused,
    )


def check_config(
    root: Path, stack: str, config: dict[str, Any], path: Path
) -> tuple[ProgramConfig, tuple[str, ...]]:
    """The CLI's merge and checks of ``config`` (``plan.engine_config.program_config``), and
    the values its type check refuses, each a problem in the CLI's words with its fix (see
    ``StackFile.refused``). Any other refusal is a ``PlanError`` in the CLI's own words, naming
    the stack file."""
    project = load_project(root / "Pulumi.yaml")
    try:
        return program_config(project, stack, config, decrypter=OFFLINE_DECRYPTER), ()
    except ConfigError as exc:
        error = exc
    try:
        refused = refused_values(project, stack, config, decrypter=OFFLINE_DECRYPTER)
        engine = program_config(project, stack, config, decrypter=OFFLINE_DECRYPTER, validate=False)
    except ConfigError:
        refused = []
    if not refused:  # a missing key, a bad path: nothing the program could add to
        raise PlanError(
            f"{error} (the Pulumi CLI's check of {path.name} against Pulumi.yaml)"
        ) from None
    return engine, tuple(_refused_problem(project.name, r) for r in refused)


def _refused_problem(project: str, refused: RefusedValue) -> str:
    """A value the CLI refuses, as a problem of the settings report: the setting, the value,
    the CLI's words and a complete fix (the declared default, or removing the value)."""
    key = refused.key
    shown = "[secret]" if refused.text is None else refused.text
    default = refused.declaration.default if refused.declaration.has_default else None
    if isinstance(default, bool):
        default = "true" if default else "false"
    if isinstance(default, (int, str)) and default != "":
        fix = f"`pulumi config set --path {shlex.quote(key)} {shlex.quote(str(default))}` (the default)"
    else:
        fix = f"`pulumi config rm --path {shlex.quote(key)}` (back to the default)"
    return (
        f"{project}:{key} = {shown}: the Pulumi CLI refuses it before the program runs "
        f"({refused.error}). Fix: {fix}."
    )


def _check_keys(document: dict[Any, Any], path: Path) -> None:
    for key in document:
        if key not in STACK_FILE_KEYS:
            close = difflib.get_close_matches(str(key), STACK_FILE_KEYS, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise PlanError(
                f"{path}: `{key}` is not a key of a stack file (those are "
                f"{', '.join(STACK_FILE_KEYS)}); Pulumi would ignore it and everything under "
                f"it.{hint}"
            )


def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"{path}: cannot be read as YAML: {exc}") from None
