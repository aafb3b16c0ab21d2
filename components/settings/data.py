"""The data side: ``migration`` (the release phase) and ``database`` (managed, external or
off) settings groups.

No resource is created here.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, field_validator

from components.settings.base import _dns_name, _Group
from components.settings.facts import (
    _DB_INSTANCE_CLASS,
    _DB_NAME,
    _FULL_SECRETSMANAGER_ARN,
    POSTGRES_MAJORS,
    POSTGRES_MIN_STORAGE_GIB,
    RDS_MAX_STORAGE_GIB,
)


class MigrationSettings(_Group):
    enabled: bool = Field(
        True, description="Run the migration task once before each rollout (the release phase)."
    )
    command: list[str] = Field(
        default_factory=lambda: ["python", "-m", "api.migrate"],
        description="Command the migration task runs in the new image.",
    )
    timeout: int = Field(
        900, ge=30, le=7200,
        description="Seconds the migration may take before it is stopped and the rollout fails.",
    )  # fmt: skip
    lock_timeout: int = Field(
        2, ge=1, le=60,
        description="Seconds a migration statement waits for a table lock before it gives up and "
        "retries later (up to 10 attempts, with backoff): while it waits, every app query on "
        "that table queues behind it, so keep it well below database.statementTimeout.",
    )  # fmt: skip
    nonce: str = Field("", description="Change to any new value to force a migration run.")

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        if not value or not all(part.strip() for part in value):
            raise ValueError(
                "must be a non-empty list of arguments, like [python, -m, api.migrate]"
            )
        return value


class DatabaseSettings(_Group):
    mode: Literal["off", "managed", "external"] = Field(
        "managed",
        description="PostgreSQL for the app: managed (the stack creates RDS PostgreSQL; the "
        "shipped app stores its notes there), external (an existing database: host, port, name, "
        "secretArn), or off (no database).",
    )
    engine_version: str = Field(
        "16",
        description=f"Managed: PostgreSQL major version, one of {', '.join(POSTGRES_MAJORS)}; "
        "RDS applies minor versions itself.",
    )
    instance_class: str = Field(
        "db.t4g.micro",
        description="Managed: RDS instance class; db.t4g.micro is the smallest (Graviton, burstable).",
    )
    allocated_storage: int = Field(
        20,
        description=f"Managed: initial gp3 storage in GiB (PostgreSQL needs {POSTGRES_MIN_STORAGE_GIB} or more).",
    )
    max_allocated_storage: int = Field(
        100,
        description="Managed: GiB storage autoscaling may grow to (10 % above allocatedStorage or more); "
        "0 turns autoscaling off.",
    )
    backup_retention_days: int = Field(
        7, ge=0, le=35,
        description="Managed: days of automated backups and point-in-time recovery (0-35); "
        "0 (no backups) is refused for production.",
    )  # fmt: skip
    name: str = Field("app", description="Name of the database the app uses.")
    host: str | None = Field(None, description="External: host name of the database server.")
    port: int = Field(5432, ge=1, le=65535, description="External: port of the database server.")
    secret_arn: str | None = Field(
        None,
        description="External: full ARN of a Secrets Manager secret with JSON keys username and "
        "password.",
    )
    statement_timeout: int = Field(
        5, ge=2, le=3600,
        description="Seconds an app query may run before PostgreSQL cancels it; 5: the shipped "
        "app's queries take milliseconds, and a stuck one would hold a pool connection long "
        "after its client (or the 5 s health check) gave up; below loadBalancer.idleTimeout.",
    )  # fmt: skip
    app_role: bool = Field(
        True,
        description="The release phase creates the database role app_rw (read and write rows, no "
        "DDL) with a generated password kept in a Secrets Manager secret of the stack, and the "
        "app connects as it; false, or migration.enabled false: the app connects with the "
        "database secret's user. With mode external, that user needs CREATEROLE.",
    )

    @field_validator("engine_version", mode="before")
    @classmethod
    def _engine_version(cls, value: Any) -> str:
        value = str(value).strip()
        if value not in POSTGRES_MAJORS:
            raise ValueError(
                f"is not a PostgreSQL major version RDS supports in standard support; use one of "
                f"{', '.join(POSTGRES_MAJORS)} (a major only: RDS picks and upgrades the minor)"
            )
        return value

    @field_validator("instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        if not _DB_INSTANCE_CLASS.match(value):
            raise ValueError("is not an RDS instance class (like db.t4g.micro or db.m7g.large)")
        return value

    @field_validator("allocated_storage")
    @classmethod
    def _storage(cls, value: int) -> int:
        if not POSTGRES_MIN_STORAGE_GIB <= value <= RDS_MAX_STORAGE_GIB:
            raise ValueError(
                f"must be {POSTGRES_MIN_STORAGE_GIB} to {RDS_MAX_STORAGE_GIB} GiB: RDS for "
                f"PostgreSQL allocates at least {POSTGRES_MIN_STORAGE_GIB} GiB of gp3 storage"
            )
        return value

    @field_validator("max_allocated_storage")
    @classmethod
    def _max_storage(cls, value: int) -> int:
        if value != 0 and not POSTGRES_MIN_STORAGE_GIB <= value <= RDS_MAX_STORAGE_GIB:
            raise ValueError(
                f"must be 0 (no storage autoscaling) or {POSTGRES_MIN_STORAGE_GIB} to "
                f"{RDS_MAX_STORAGE_GIB} GiB"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DB_NAME.match(value):
            raise ValueError(
                "is not a PostgreSQL database name: a letter, then up to 62 letters, digits or "
                "underscores"
            )
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.strip().rstrip(".").lower()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return _dns_name(host)
        return host

    @field_validator("secret_arn")
    @classmethod
    def _secret_arn(cls, value: str | None) -> str | None:
        if value is not None and not _FULL_SECRETSMANAGER_ARN.match(value):
            raise ValueError(
                "is not the full ARN of a Secrets Manager secret "
                "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, with the 6 characters "
                "after the name; `aws secretsmanager describe-secret --secret-id NAME --query ARN` "
                "prints it)"
            )
        return value

    @property
    def enabled(self) -> bool:
        return self.mode != "off"
