"""The stack's settings: one typed, validated model read from Pulumi config.

Settings are grouped by concept, and each group is ONE structured config object in the
project's namespace (``fastapi-fargate:service: {cpu: 256, memory: 512}``), set member by member
with ``pulumi config set --path service.memory 1024``; ``production`` stays a top-level key.
``Pulumi.yaml`` declares every member as a property path (``service.memory``, with its type,
default and description): before every ``preview``/``up`` the Pulumi CLI merges those defaults
into the stack's objects and checks the types (``pkg/workspace/config.go`` ``mergeConfig``;
``plan/engine_config.py`` is a tested port). So the program always receives every group object,
filled with the declared defaults; a declared default like ``"16"`` arrives as the number 16
(the CLI coerces strings inside objects), which a string setting accepts.

The CLI passes undeclared keys through without a word, so ``load_settings`` checks everything
again in Python: unknown keys and unknown members of a group (with a "did you mean" hint), a
flat dotted key (``fastapi-fargate:service.memory``, what ``pulumi config set service.memory``
writes without ``--path``, which the CLI never merges into the object), each value, and the
rules that span settings. It reports every problem at once, each naming the setting, the bad
value and the ``pulumi config set --path`` command that fixes it, before the program registers a
single resource.

App secrets are names only (``service.appSecrets``): their values live in Secrets Manager,
set with ``python -m ops STACK secrets set NAME``, and never pass through config, the model,
state or an error message. A value still set the old way, under ``app-secrets:NAME``, is
refused with the commands that move it.

No resource is created here.

The package is split by concept: ``facts`` (what AWS fixes), ``base`` (the group base class and
message helpers), one module per set of groups (``edge``, ``service``, ``data``, ``safety``),
``model`` (``Settings`` and ``GROUPS``), ``rules`` (checks that span settings) and ``reading``
(config into the model). Import from ``components.settings``; the names below are its API.
"""

from components.settings.base import SettingsError, inside_zone
from components.settings.data import DatabaseSettings, MigrationSettings
from components.settings.edge import HttpsSettings, LoadBalancerSettings, NetworkSettings
from components.settings.facts import (
    APP_SECRETS_NAMESPACE,
    DATABASE_ENV_NAMES,
    FARGATE_SIZES,
    GENERATED_APP_SECRETS,
    LOG_RETENTION_DAYS,
    POSTGRES_MAJORS,
    POSTGRES_MIN_STORAGE_GIB,
    PROJECT,
    RDS_MAX_STORAGE_GIB,
    STACK_ENV_NAMES,
    TASK_MEMORY_OVERHEAD_MIB,
    TLS12_PLUS_POLICIES,
)
from components.settings.model import GROUPS, Settings
from components.settings.reading import load_settings, parse_settings
from components.settings.rules import reserved_env_names
from components.settings.safety import PROTECTED_PARTS, AlarmsSettings, ProtectionSettings
from components.settings.service import ImageSettings, ScalingSettings, ServiceSettings

__all__ = [
    "APP_SECRETS_NAMESPACE",
    "DATABASE_ENV_NAMES",
    "FARGATE_SIZES",
    "GENERATED_APP_SECRETS",
    "GROUPS",
    "LOG_RETENTION_DAYS",
    "POSTGRES_MAJORS",
    "POSTGRES_MIN_STORAGE_GIB",
    "PROJECT",
    "PROTECTED_PARTS",
    "RDS_MAX_STORAGE_GIB",
    "STACK_ENV_NAMES",
    "TASK_MEMORY_OVERHEAD_MIB",
    "TLS12_PLUS_POLICIES",
    "AlarmsSettings",
    "DatabaseSettings",
    "HttpsSettings",
    "ImageSettings",
    "LoadBalancerSettings",
    "MigrationSettings",
    "NetworkSettings",
    "ProtectionSettings",
    "ScalingSettings",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "inside_zone",
    "load_settings",
    "parse_settings",
    "reserved_env_names",
]
