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

App secrets live in a second namespace, ``app-secrets:NAME``: any name is allowed there, and
``Settings`` holds only their names; ``app_secret_values`` hands out the values as Pulumi
secrets, so no model, repr or error message ever holds one.

No resource is created here.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.util
import ipaddress
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

PROJECT = "fastapi-fargate"

# Valid Fargate task sizes: CPU units -> allowed memory in MiB (AWS ECS developer guide,
# "Task CPU and memory").
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Memory a task needs besides its workers: the process manager that supervises them, the init
# process and the container runtime's share. Measured for the shipped app (see README).
TASK_MEMORY_OVERHEAD_MIB = 64

# ALB security policies that refuse TLS 1.0 and 1.1 (AWS "Security policies for your
# Application Load Balancer"). Anything else would let a client negotiate an obsolete protocol.
TLS12_PLUS_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
        "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
        "ELBSecurityPolicy-FS-1-2-Req-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    }
)

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

# RDS for PostgreSQL majors in RDS standard support (Amazon RDS for PostgreSQL release
# calendar). 13 left standard support in February 2026: RDS would bill Extended Support for it.
POSTGRES_MAJORS = ("14", "15", "16", "17")
# RDS for PostgreSQL's smallest gp3 volume, and gp3's largest (RDS "DB instance storage").
POSTGRES_MIN_STORAGE_GIB = 20
RDS_MAX_STORAGE_GIB = 65536

# Where app secrets are set: `pulumi config set --secret app-secrets:NAME value`.
APP_SECRETS_NAMESPACE = "app-secrets"

# Variables the stack sets in the container itself; settings may not set them again.
STACK_ENV_NAMES = frozenset(
    {
        "WEB_CONCURRENCY",
        "PORT",
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "KEEP_ALIVE_TIMEOUT",
        "HEALTH_CHECK_PATH",
        "MAX_BODY_BYTES",
        "FORWARDED_ALLOW_IPS",
    }
)
# The database wiring (components/database.py). DATABASE_URL is reserved too because the app
# prefers it to the DB_* variables (app/api/settings.py): set, it would bypass the database.
DATABASE_ENV_NAMES = frozenset(
    {
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASSWORD",
        "DB_SSLMODE",
        "DB_SECRET_ARN",
        "DB_SSLROOTCERT",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_LOCK_TIMEOUT_MS",
        "DB_APP_ROLE",
        "DB_APP_SECRET_ARN",
        "DATABASE_URL",
    }
)

_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/\S+$")


_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
# A regional availability zone: the region's name and one letter (us-east-1a, us-gov-west-1b).
_ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# The full ARN, with the 6 characters Secrets Manager appends to the name: IAM matches a
# policy's Resource against it, so a partial ARN would leave the tasks unable to read it.
_FULL_SECRETSMANAGER_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"
)
_DB_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


@functools.cache
def _iam_grants() -> Any:
    """The policy pack's IAM judgement (``policy/guardrails/iam_grants.py``, stdlib only), loaded
    by path: importing it as ``guardrails.iam_grants`` would run the pack's ``__init__``, which
    needs ``pulumi_policy``, a package the program does not install. One judgement for both."""
    path = Path(__file__).resolve().parent.parent / "policy" / "guardrails" / "iam_grants.py"
    spec = importlib.util.spec_from_file_location("fastapi_fargate_iam_grants", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SettingsError(pulumi.RunError):
    """Bad stack settings. Pulumi prints a RunError's message without a Python traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"The stack settings have {len(problems)} {noun}; nothing was created:\n{lines}"
        )


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


class HttpsSettings(_Group):
    domain: str | None = Field(
        None,
        description="Public name of the API, like api.example.com. Unset: HTTP only on the "
        "load balancer's own DNS name, for a first try (refused for production).",
    )
    hosted_zone: str | None = Field(
        None,
        description="Name of the Route 53 hosted zone that holds the domain, like example.com.",
    )
    hosted_zone_id: str | None = Field(
        None,
        description="Id of that hosted zone, instead of its name (for private/duplicate names).",
    )
    extra_names: list[str] = Field(
        default_factory=list,
        description="More names for the certificate and alias records, each inside the zone.",
    )
    certificate_arn: str | None = Field(
        None, description="An existing ACM certificate to use instead of creating one."
    )
    ssl_policy: str = Field(
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="ALB TLS policy; only policies without TLS 1.0/1.1 are accepted.",
    )
    hsts_max_age: int = Field(
        31536000, ge=0, le=63072000,
        description="Strict-Transport-Security max-age in seconds sent by the HTTPS listener; 0 turns HSTS off.",
    )  # fmt: skip

    _domain = field_validator("domain", "hosted_zone")(_dns_name)

    @field_validator("extra_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return [_dns_name(n) for n in names]  # type: ignore[misc]

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        if value is not None and not _ZONE_ID.match(value):
            raise ValueError("is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ)")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _cert(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/\S+$", value
        ):
            raise ValueError(
                "is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)"
            )
        return value

    @field_validator("ssl_policy")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value not in TLS12_PLUS_POLICIES:
            raise ValueError(
                "is not an ALB security policy that allows only TLS 1.2 and newer; use "
                "ELBSecurityPolicy-TLS13-1-2-2021-06 (TLS 1.2+1.3) or "
                "ELBSecurityPolicy-TLS13-1-3-2021-06 (TLS 1.3 only)"
            )
        return value

    @property
    def enabled(self) -> bool:
        return self.domain is not None

    @property
    def names(self) -> list[str]:
        """Every name the certificate covers and the alias records publish, domain first."""
        return [self.domain, *self.extra_names] if self.domain else []


class NetworkSettings(_Group):
    availability_zones: int = Field(
        2, ge=2, le=3, description="How many availability zones the new VPC spans (2 or 3)."
    )
    nat: Literal["none", "single", "per-az"] = Field(
        "single",
        description="Egress for tasks: none (tasks in public subnets with a public IP, cheapest), "
        "single NAT gateway, or per-az (one per zone, for production).",
    )
    cidr: str = Field("10.0.0.0/16", description="IPv4 range of the new VPC (/16 to /24).")
    vpc_id: str | None = Field(None, description="Use this existing VPC instead of creating one.")
    public_subnet_ids: list[str] = Field(
        default_factory=list,
        description="With vpcId: public subnets for the load balancer, in 2+ distinct zones.",
    )
    private_subnet_ids: list[str] = Field(
        default_factory=list,
        description="With vpcId: private subnets (with egress) for the tasks; not used with nat none.",
    )
    zone_names: list[str] = Field(
        default_factory=list,
        description="Pin the new VPC's zones by name (like us-east-1a), as many as "
        "availabilityZones. Unset: the region's first zones by name (regional ones only, whatever "
        "their state), so a zone's outage never moves an existing stack's subnets.",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"is not an IPv4 network like 10.0.0.0/16 ({exc})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError("must be a /16 to /24 network, so every zone gets two subnets")
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc(cls, value: str | None) -> str | None:
        if value is not None and not _VPC_ID.match(value):
            raise ValueError("is not a VPC id (like vpc-0123456789abcdef0)")
        return value

    @field_validator("public_subnet_ids", "private_subnet_ids")
    @classmethod
    def _subnets(cls, ids: list[str]) -> list[str]:
        bad = [i for i in ids if not _SUBNET_ID.match(i)]
        if bad:
            raise ValueError(f"{bad} are not subnet ids (like subnet-0123456789abcdef0)")
        if len(set(ids)) != len(ids):
            raise ValueError("names a subnet twice")
        return ids

    @field_validator("zone_names")
    @classmethod
    def _zone_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _ZONE_NAME.match(n)]
        if bad:
            raise ValueError(
                f"{bad} are not availability zone names of a region (like us-east-1a); Local "
                "Zones and Wavelength Zones (like us-east-1-bos-1a) offer no NAT gateway or "
                "load balancer"
            )
        if len(set(names)) != len(names):
            raise ValueError("names a zone twice")
        if len({n[:-1] for n in names}) > 1:
            raise ValueError("names zones of more than one region")
        # Name order, as the zones are chosen without this setting: pinning the zones a stack
        # already uses keeps each subnet's address block, so nothing is replaced.
        return sorted(names)

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class LoadBalancerSettings(_Group):
    idle_timeout: int = Field(
        60, ge=1, le=4000,
        description="Seconds the ALB keeps an idle connection; the app's keep-alive must be longer.",
    )  # fmt: skip
    deregistration_delay: int = Field(
        30, ge=0, le=3600,
        description="Seconds a stopping task keeps finishing requests; not shorter than the longest request.",
    )  # fmt: skip
    deletion_protection: bool = Field(
        False, description="Refuse to delete the ALB; always on for production stacks."
    )
    access_logs: bool = Field(
        False, description="Write ALB access logs to a new S3 bucket (costs storage)."
    )


class ImageSettings(_Group):
    uri: str | None = Field(
        None,
        description="Deploy this prebuilt image (registry/repo@sha256:... or :tag) instead of "
        "building app/ with Docker.",
    )
    platform: Literal["linux/amd64", "linux/arm64"] = Field(
        "linux/amd64",
        description="CPU architecture of the image and tasks; linux/arm64 (Graviton) costs about 20% less.",
    )
    keep_last: int = Field(
        10,
        ge=1,
        le=1000,
        description="How many images the ECR repository keeps; older ones expire.",
    )


class ServiceSettings(_Group):
    container_port: int = Field(8000, ge=1024, le=65535, description="Port the app listens on.")
    health_check_path: str = Field(
        "/healthz",
        description="Liveness path the load balancer and the container health check call.",
    )
    cpu: int = Field(256, description="Task CPU units (1024 = 1 vCPU); a valid Fargate size.")
    memory: int = Field(512, description="Task memory in MiB; must pair with cpu on Fargate.")
    desired_count: int = Field(
        2, ge=0, le=1000, description="Tasks to run; 2+ spreads them over availability zones."
    )
    workers: int = Field(
        0, ge=0, le=64,
        description="Server worker processes per task (WEB_CONCURRENCY); 0: one per vCPU, at least 1.",
    )  # fmt: skip
    memory_per_worker: int = Field(
        256, ge=32, le=65536,
        description="MiB each worker may use; workers x this + 64 MiB must fit in memory.",
    )  # fmt: skip
    health_check_grace_period: int = Field(
        60, ge=0, le=1800,
        description="Seconds ECS ignores load balancer health checks after a task starts.",
    )  # fmt: skip
    stop_timeout: int = Field(
        30, ge=15, le=120,
        description="Seconds between SIGTERM and SIGKILL; the app gets this minus 10 to shut down.",
    )  # fmt: skip
    log_retention_days: int = Field(30, description="Days CloudWatch keeps the app's logs.")
    container_insights: bool = Field(
        False, description="Turn on CloudWatch Container Insights for the cluster (extra cost)."
    )
    fargate_spot_percent: int = Field(
        0, ge=0, le=100,
        description="Share of tasks on FARGATE_SPOT (about 70% cheaper, can be interrupted).",
    )  # fmt: skip
    environment: list[str] = Field(
        default_factory=list,
        description="Plain environment variables, each NAME=value (no secrets).",
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="Secret variables, each NAME=ARN of a Secrets Manager secret or SSM parameter.",
    )
    task_policy_arns: list[str] = Field(
        default_factory=list,
        description="IAM policy ARNs the app's task role gets (none by default); dangerous AWS "
        "managed ones (AdministratorAccess, IAMFullAccess, any ...FullAccess) are refused.",
    )
    deployment_strategy: Literal["rolling", "blue-green"] = Field(
        "rolling",
        description="How a release replaces the tasks: rolling (new tasks join the target group "
        "beside the old ones; no second target group needed) or blue-green (ECS starts the new "
        "tasks in a second target group, moves all traffic at once, keeps the old tasks for "
        "bakeTime minutes and moves traffic back at once when a deployment alarm fires).",
    )
    bake_time: int = Field(
        5, ge=0, le=1440,
        description="Blue-green: minutes the old tasks stay ready to take traffic back after "
        "the switch; 5 covers the 3-minute error and latency alarms with a margin.",
    )  # fmt: skip
    exec: Literal["auto", "on", "off"] = Field(
        "auto",
        description="ECS Exec (`python -m ops STACK exec`): a shell in a running task. auto: on "
        "for development stacks, off for production (anyone with ecs:ExecuteCommand gets a "
        "shell next to the app's secrets); on/off force it.",
    )
    max_body_bytes: int = Field(
        1048576, ge=1024, le=104857600,
        description="Largest request body the app accepts (413 beyond, before it is buffered); "
        "1 MiB holds any note many times over, while the ALB caps no body and a worker holds a "
        "body in memory.",
    )  # fmt: skip

    @field_validator("health_check_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value) or len(value) > 1024:
            raise ValueError("must be a URL path starting with / (like /healthz)")
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        if value not in FARGATE_SIZES:
            raise ValueError(f"is not a Fargate CPU size; use one of {sorted(FARGATE_SIZES)}")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int) -> int:
        if not any(value in sizes for sizes in FARGATE_SIZES.values()):
            raise ValueError("is not a Fargate memory size (512, 1024, 2048, ... MiB)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"is not a CloudWatch retention period; use one of {list(LOG_RETENTION_DAYS)}"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, sep, _ = entry.partition("=")
            if not sep or not _ENV_NAME.match(name):
                raise ValueError(f"entry {entry.split('=')[0]!r} is not NAME=value")
        return entries

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, sep, arn = entry.partition("=")
            if not sep or not _ENV_NAME.match(name) or not _SECRET_ARN.match(arn):
                raise ValueError(
                    f"entry {entry!r} is not NAME=arn:aws:secretsmanager:... or NAME=arn:aws:ssm:..."
                )
        return entries

    @field_validator("exec", mode="before")
    @classmethod
    def _exec(cls, value: Any) -> Any:
        # `pulumi config set --path service.exec true` reads as on, false as off.
        if isinstance(value, bool | str):
            return {True: "on", False: "off", "true": "on", "false": "off"}.get(value, value)
        return value

    @field_validator("task_policy_arns")
    @classmethod
    def _policies(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not _POLICY_ARN.match(a)]
        if bad:
            raise ValueError(f"{bad} are not IAM policy ARNs (arn:aws:iam::ACCOUNT:policy/NAME)")
        # Judged like the policy pack judges attachments (iam-no-wildcard-actions), so a
        # dangerous AWS managed policy stops the run here, before anything is created.
        # Customer-managed documents live in the account, out of the program's sight.
        judge = _iam_grants().managed_policy_grants
        dangerous = [f"{a} ({judge(a)})" for a in arns if judge(a)]
        if dangerous:
            raise ValueError(
                f"{'; '.join(dangerous)}: too broad for the app's task role. Fix: a "
                "customer-managed policy listing the actions the app calls on its own resources"
            )
        return arns

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, self.cpu // 1024)

    @property
    def environment_variables(self) -> dict[str, str]:
        return dict(entry.split("=", 1) for entry in self.environment)

    @property
    def secret_arns(self) -> dict[str, str]:
        return dict(entry.split("=", 1) for entry in self.secrets)

    @property
    def graceful_shutdown_timeout(self) -> int:
        """What the app gets to finish requests after SIGTERM: well inside stopTimeout."""
        return self.stop_timeout - 10


class ScalingSettings(_Group):
    enabled: bool = Field(True, description="Scale the task count between minCount and maxCount.")
    min_count: int = Field(2, ge=1, le=1000, description="Fewest tasks autoscaling leaves running.")
    max_count: int = Field(4, ge=1, le=1000, description="Most tasks autoscaling starts.")
    cpu_target: int = Field(
        70, ge=50, le=90,
        description="Average CPU % to hold; 50-90 keeps headroom without paying for idle tasks.",
    )  # fmt: skip
    memory_target: int = Field(
        0, description="Average memory % to hold (50-90); 0: memory does not drive scaling."
    )
    requests_per_target: int = Field(
        0, ge=0, le=1000000,
        description="ALB requests per task per minute to hold; 0: requests do not drive scaling.",
    )  # fmt: skip

    @field_validator("memory_target")
    @classmethod
    def _memory_target(cls, value: int) -> int:
        if value != 0 and not 50 <= value <= 90:
            raise ValueError("must be 0 (off) or a percentage from 50 to 90")
        return value

    scale_out_cooldown: int = Field(
        60, ge=0, le=3600, description="Seconds after a scale-out before the next one."
    )
    scale_in_cooldown: int = Field(
        300, ge=0, le=3600, description="Seconds after a scale-in before the next one."
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
        description="Managed: GiB storage autoscaling may grow to (at least allocatedStorage); "
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


PROTECTED_PARTS = ("database", "secrets", "loadBalancer", "certificate", "dns")


class ProtectionSettings(_Group):
    allow_replacing: list[Literal["database", "secrets", "loadBalancer", "certificate", "dns"]] = (
        Field(
            default_factory=list,
            description="Production only: what the next update may replace on purpose (Pulumi's "
            "protect is lifted for it). By default none: a change that would replace the "
            "database (a new, empty one), its secrets, the load balancer, the certificate or "
            "the DNS records is refused. Set, run `pulumi up`, then unset. A full teardown is "
            "`pulumi destroy --ignore-protect`.",
        )
    )


class AlarmsSettings(_Group):
    enabled: bool = Field(
        True,
        description="CloudWatch alarms, an SNS topic for them and the deployment alarms that "
        "roll a release back; required on production stacks.",
    )
    email: str | None = Field(
        None,
        description="Send alarm notifications to this address (it must confirm the "
        "subscription); unset: only the SNS topic, exported as alarm_topic_arn.",
    )
    error_rate: int = Field(
        5, ge=1, le=100,
        description="Percent of requests answered with a 5xx (by the app or the ALB) that "
        "raises the error alarm and rolls a release back; 5 ignores a stray error but catches "
        "a broken release within minutes.",
    )  # fmt: skip
    min_requests: int = Field(
        10, ge=0, le=100000,
        description="Requests per minute below which the error rate is not judged, so 1 failed "
        "request out of 2 does not roll a release back.",
    )  # fmt: skip
    latency_p99: int = Field(
        2000, ge=10, le=120000,
        description="Milliseconds of target p99 response time that raise the latency alarm "
        "(and roll a release back); 2 s is far above a healthy API's p99 and well below the "
        "ALB's 60 s idle timeout.",
    )  # fmt: skip
    evaluation_minutes: int = Field(
        3, ge=1, le=60,
        description="Consecutive minutes the error and latency alarms must breach: 3 reacts "
        "within a deployment's bake time without firing on one bad minute.",
    )  # fmt: skip
    unhealthy_minutes: int = Field(
        5, ge=1, le=60,
        description="Minutes a target may stay unhealthy, or tasks below the desired count, "
        "before an alarm; 5 lets a replaced task start and pass its health checks.",
    )  # fmt: skip
    high_utilization: int = Field(
        90, ge=50, le=100,
        description="CPU and memory percent that raise the danger alarms: above 90 % requests "
        "slow down and memory runs out (the top of the 50-90 % band).",
    )  # fmt: skip
    low_utilization: int = Field(
        50, ge=1, le=90,
        description="CPU and memory percent below which the advisory waste alarms fire: "
        "tasks that idle under 50 % are larger, or more, than needed (the bottom of the band).",
    )  # fmt: skip
    waste_hours: int = Field(
        24, ge=1, le=168,
        description="Hours utilization must stay low before the waste alarms fire: a whole "
        "day, so a quiet night alone never suggests shrinking.",
    )  # fmt: skip
    database_cpu: int = Field(
        80, ge=10, le=100,
        description="Managed database: CPU percent that raises an alarm; above 80 % queries "
        "queue and a burstable class spends its credits.",
    )  # fmt: skip
    database_free_storage: int = Field(
        2, ge=1, le=65536,
        description="Managed database: GiB of free storage below which an alarm fires; 2 GiB "
        "leaves time to act before PostgreSQL stops writing (storage autoscaling grows at 10 %).",
    )  # fmt: skip
    database_connections: int = Field(
        80, ge=10, le=100,
        description="Managed database: percent of the instance class's default max_connections "
        "(RDS: DBInstanceClassMemory / 9531392) that raises an alarm before connections are "
        "refused.",
    )  # fmt: skip

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("is not an e-mail address (like ops@example.com)")
        return value


class Settings(_Group):
    """All settings of a stack, one group per deployment concept."""

    production: bool = Field(
        False,
        description="Mark a production stack: stricter checks and protective defaults.",
    )
    https: HttpsSettings = HttpsSettings()
    network: NetworkSettings = NetworkSettings()
    load_balancer: LoadBalancerSettings = LoadBalancerSettings()
    image: ImageSettings = ImageSettings()
    service: ServiceSettings = ServiceSettings()
    scaling: ScalingSettings = ScalingSettings()
    migration: MigrationSettings = MigrationSettings()
    database: DatabaseSettings = DatabaseSettings()
    protection: ProtectionSettings = ProtectionSettings()
    alarms: AlarmsSettings = AlarmsSettings()
    app_secret_names: tuple[str, ...] = ()
    """Names under ``app-secrets:`` (never their values: see ``app_secret_values``)."""

    @property
    def app_role(self) -> bool:
        """Whether the app connects as the role the release phase creates (database.appRole)."""
        return self.database.enabled and self.database.app_role and self.migration.enabled

    @property
    def deletion_protection(self) -> bool:
        return self.production or self.load_balancer.deletion_protection

    def protects(self, part: str) -> bool:
        """Whether Pulumi's ``protect`` keeps ``part`` (one of PROTECTED_PARTS): production
        data and entrances, unless ``protection.allowReplacing`` names it for this update."""
        assert part in PROTECTED_PARTS, part
        return self.production and part not in self.protection.allow_replacing

    @property
    def exec_enabled(self) -> bool:
        """ECS Exec: as service.exec says; auto is on outside production only."""
        if self.service.exec == "auto":
            return not self.production
        return self.service.exec == "on"


GROUPS: dict[str, type[_Group]] = {
    to_camel(name): field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Group)
}


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


def _set_command(path: str, value: Any = None) -> str:
    """The command that sets ``path`` (a property path), for a list one entry per index."""
    if isinstance(value, list):
        return f"`pulumi config set --path '{path}[0]' <value>`, one index per entry"
    shown = "<value>" if value is None else _shown(value)
    return f"`pulumi config set --path {path} {shown}`"


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


def _optional_inner(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else None


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
        f"Fix: `{remove} {name}`; the README lists every setting."
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
            fix = f"`pulumi config set --path '{key}[{index}]' <value>`"
        else:
            fix = _set_command(key, [] if isinstance(item.get("input"), list) else None)
        problems.append(f"{_key(*loc)} = {value}: {message}. Fix: {fix}.")
    return problems


def _combination_problems(s: Settings) -> list[str]:
    """Rules that need more than one setting; run once every single value is valid."""
    problems = []
    svc, https, net, scaling = s.service, s.https, s.network, s.scaling

    allowed = FARGATE_SIZES[svc.cpu]
    if svc.memory not in allowed:
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: Fargate does not offer {svc.memory} MiB "
            f"with service.cpu = {svc.cpu}. Fix: `pulumi config set --path service.memory <one "
            f"of {_ranges(allowed)}>`, or change service.cpu."
        )
    budget = svc.worker_count * svc.memory_per_worker + TASK_MEMORY_OVERHEAD_MIB
    if budget > svc.memory:
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: {svc.worker_count} workers x "
            f"{svc.memory_per_worker} MiB (service.memoryPerWorker) + {TASK_MEMORY_OVERHEAD_MIB} "
            f"MiB overhead = {budget} MiB do not fit. Fix: raise service.memory, or lower "
            f"service.workers or service.memoryPerWorker; every worker holds its own copy of the app."
        )
    if scaling.enabled:
        if scaling.min_count > scaling.max_count:
            problems.append(
                f"{_key('scaling.minCount')} = {scaling.min_count}: is above scaling.maxCount = "
                f"{scaling.max_count}. Fix: make minCount <= maxCount."
            )
        elif not scaling.min_count <= svc.desired_count <= scaling.max_count:
            problems.append(
                f"{_key('service.desiredCount')} = {svc.desired_count}: outside scaling.minCount.."
                f"scaling.maxCount = {scaling.min_count}..{scaling.max_count}. Fix: set "
                f"service.desiredCount within that range, or widen it."
            )
    if https.enabled:
        if https.hosted_zone is None and https.hosted_zone_id is None:
            problems.append(
                f"{_key('https.hostedZone')}: is required with https.domain = {https.domain}, for "
                f"the certificate's validation records and the alias record. Fix: `pulumi config "
                f"set --path https.hostedZone <zone name, like {_parent(https.domain)}>`."
            )
        if https.hosted_zone is not None:
            for field, name in [("domain", https.domain)] + [
                ("extraNames", n) for n in https.extra_names
            ]:
                if not inside_zone(name, https.hosted_zone):  # type: ignore[arg-type]
                    problems.append(
                        f"{_key('https.' + field)} = {name}: is not inside the hosted zone "
                        f"https.hostedZone = {https.hosted_zone}, so no record can be made for it. "
                        f"Fix: use a name ending in .{https.hosted_zone}, or the zone that holds it."
                    )
        if len(set(https.names)) != len(https.names):
            problems.append(
                f"{_key('https.extraNames')} = {_shown(https.extra_names)}: repeats a name. "
                f"Fix: list each name once, without the domain."
            )
    else:
        for field, value in [
            ("hostedZone", https.hosted_zone),
            ("hostedZoneId", https.hosted_zone_id),
            ("certificateArn", https.certificate_arn),
            ("extraNames", https.extra_names or None),
        ]:
            if value is not None:
                problems.append(
                    f"{_key('https.' + field)} = {_shown(value)}: needs https.domain. Fix: "
                    f"`pulumi config set --path https.domain <name>` or `pulumi config rm --path "
                    f"https.{field}`."
                )
        if s.production:
            problems.append(
                f"{_key('https.domain')}: is required on a production stack (production = true); "
                f"the HTTP-only mode is for a first try. Fix: `pulumi config set --path "
                f"https.domain <name>` and https.hostedZone."
            )

    if net.existing:
        if len(net.public_subnet_ids) < 2:
            if net.nat == "none" and net.private_subnet_ids:
                problems.append(
                    f"{_key('network.nat')} = none: with only private subnets the tasks have no "
                    f"route to pull their image and the load balancer has no public subnets. Fix: "
                    f"set network.publicSubnetIds, or network.nat to single/per-az."
                )
            problems.append(
                f"{_key('network.publicSubnetIds')} = {_shown(net.public_subnet_ids)}: an existing "
                f"VPC needs at least 2 public subnets in distinct availability zones for the load "
                f"balancer. Fix: `pulumi config set --path 'network.publicSubnetIds[0]' subnet-...`."
            )
        if net.nat != "none" and not net.private_subnet_ids:
            problems.append(
                f"{_key('network.privateSubnetIds')}: is required with network.vpcId and "
                f"network.nat = {net.nat}: tasks run in private subnets. Fix: list them, or set "
                f"network.nat to none to run tasks in the public subnets."
            )
        if net.zone_names:
            problems.append(
                f"{_key('network.zoneNames')} = {_shown(net.zone_names)}: an existing VPC's zones "
                f"are those of its subnets. Fix: `pulumi config rm --path network.zoneNames`."
            )
    else:
        if net.zone_names and len(net.zone_names) != net.availability_zones:
            problems.append(
                f"{_key('network.zoneNames')} = {_shown(net.zone_names)}: names "
                f"{len(net.zone_names)} zones, but network.availabilityZones = "
                f"{net.availability_zones}. Fix: `pulumi config set --path "
                f"network.availabilityZones {len(net.zone_names)}`, or name "
                f"{net.availability_zones} zones."
            )
        for field, value in [
            ("publicSubnetIds", net.public_subnet_ids),
            ("privateSubnetIds", net.private_subnet_ids),
        ]:
            if value:
                problems.append(
                    f"{_key('network.' + field)} = {_shown(value)}: needs network.vpcId (the "
                    f"subnets of an existing VPC). Fix: set network.vpcId, or remove network.{field}."
                )
    problems += _database_problems(s)
    problems += _alarm_problems(s)

    names = [*svc.environment_variables, *svc.secret_arns]
    reserved = reserved_env_names(s)
    for name in sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved)):
        problems.append(
            f"{_key('service.environment')}: {name} is set twice or is set by the stack itself "
            f"(reserved: {', '.join(sorted(reserved))}). Fix: remove it from service.environment "
            f"or service.secrets; the stack derives the reserved ones from other settings."
        )
    for name in s.app_secret_names:
        if name in reserved or name in names:
            problems.append(
                f"{APP_SECRETS_NAMESPACE}:{name}: the container already gets {name} from "
                f"{'the stack itself' if name in reserved else 'service.environment or service.secrets'}"
                f" (reserved: {', '.join(sorted(reserved))}). Fix: `pulumi config rm "
                f"{APP_SECRETS_NAMESPACE}:{name}` and set the value under another name."
            )
    return problems


def _alarm_problems(s: Settings) -> list[str]:
    problems = []
    alarms = s.alarms
    if s.production and not alarms.enabled:
        problems.append(
            f"{_key('alarms.enabled')} = false: a production stack needs its alarms, and its "
            f"releases the deployment alarms that roll back a release answering errors. Fix: "
            f"`pulumi config set --path alarms.enabled true`."
        )
    if alarms.low_utilization >= alarms.high_utilization:
        problems.append(
            f"{_key('alarms.lowUtilization')} = {alarms.low_utilization}: is not below "
            f"alarms.highUtilization = {alarms.high_utilization}, so the waste and danger alarms "
            f"would overlap. Fix: keep the band apart, like 50 and 90."
        )
    if s.service.deployment_strategy == "blue-green" and not alarms.enabled:
        problems.append(
            f"{_key('service.deploymentStrategy')} = blue-green: needs alarms.enabled, since its "
            f"traffic moves back to the old tasks only when a deployment alarm fires. Fix: "
            f"`pulumi config set --path alarms.enabled true` or use rolling."
        )
    return problems


def reserved_env_names(s: Settings) -> frozenset[str]:
    """Variables the stack puts in the container itself, so no setting may set them."""
    return STACK_ENV_NAMES | (DATABASE_ENV_NAMES if s.database.enabled else frozenset())


def _database_problems(s: Settings) -> list[str]:
    db, net = s.database, s.network
    problems = []
    if db.mode == "managed":
        if net.existing and len(net.private_subnet_ids) < 2:
            problems.append(
                f"{_key('network.privateSubnetIds')} = {_shown(net.private_subnet_ids)}: the managed "
                f"database (database.mode = managed) runs in private subnets, and RDS needs them in "
                f"at least 2 availability zones. Fix: list 2+ private subnets of network.vpcId, or "
                f"set database.mode to external or off."
            )
        if db.max_allocated_storage and db.max_allocated_storage < db.allocated_storage:
            problems.append(
                f"{_key('database.maxAllocatedStorage')} = {db.max_allocated_storage}: is below "
                f"database.allocatedStorage = {db.allocated_storage}, so storage could never grow. "
                f"Fix: set it to {db.allocated_storage} or more, or 0 to turn storage autoscaling off."
            )
        if s.production and db.backup_retention_days == 0:
            problems.append(
                f"{_key('database.backupRetentionDays')} = 0: a production database needs automated "
                f"backups (and point-in-time recovery). Fix: `pulumi config set "
                f"--path database.backupRetentionDays 7` (1 to 35)."
            )
    if db.enabled:
        if db.statement_timeout >= s.load_balancer.idle_timeout:
            problems.append(
                f"{_key('database.statementTimeout')} = {db.statement_timeout}: must be below "
                f"loadBalancer.idleTimeout = {s.load_balancer.idle_timeout}, or the load balancer "
                f"drops the request while its query still runs. Fix: `pulumi config set --path "
                f"database.statementTimeout {max(1, min(5, s.load_balancer.idle_timeout - 1))}`."
            )
        if s.migration.lock_timeout >= db.statement_timeout:
            problems.append(
                f"{_key('migration.lockTimeout')} = {s.migration.lock_timeout}: must be below "
                f"database.statementTimeout = {db.statement_timeout}: app queries queued behind a "
                f"migration waiting for its lock would be cancelled. Fix: `pulumi config set "
                f"--path migration.lockTimeout {max(1, db.statement_timeout // 2)}`."
            )
    if db.mode == "external":
        if db.host is None:
            problems.append(
                f"{_key('database.host')}: is required with database.mode = external. Fix: "
                f"`pulumi config set --path database.host <host name of the database>`."
            )
        if db.secret_arn is None:
            problems.append(
                f"{_key('database.secretArn')}: is required with database.mode = external: the "
                f"tasks read the user name and password from it, never from config. Fix: store "
                f'{{"username": ..., "password": ...}} in a Secrets Manager secret and `pulumi config '
                f"set --path database.secretArn <its full ARN>`."
            )
    return problems


def _app_secret_problems(app_secrets: Mapping[str, bool]) -> list[str]:
    """Problems with the names under ``app-secrets:``; values are never read here."""
    problems = []
    for name, is_secret in sorted(app_secrets.items()):
        key = f"{APP_SECRETS_NAMESPACE}:{name}"
        if not _ENV_NAME.match(name):
            problems.append(
                f"{key}: is not an environment variable name (letters, digits and underscores, "
                f"not starting with a digit). Fix: `pulumi config rm {key}` and set it as "
                f"`pulumi config set --secret {APP_SECRETS_NAMESPACE}:<NAME> <value>`."
            )
        elif not is_secret:
            problems.append(
                f"{key}: is stored in plain text in the stack's config; app secrets must be "
                f"encrypted. Fix: `pulumi config set --secret {key} <value>` (it replaces the "
                f"plain value)."
            )
    return problems


def _ranges(values: tuple[int, ...]) -> str:
    if len(values) <= 4:
        return ", ".join(map(str, values))
    return f"{values[0]}..{values[-1]} in steps of {values[1] - values[0]}"


def _parent(name: str | None) -> str:
    return (name or "example.com").split(".", 1)[-1]


def inside_zone(name: str, zone: str) -> bool:
    """Whether a DNS name is the zone's apex or a name under it."""
    return name == zone or name.endswith("." + zone)


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
        f"text. Fix: `pulumi config rm --path {k}` (or only the member marked `secure:`, "
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
    return parse_settings(raw, secret, app_secrets, f"Pulumi.{pulumi.get_stack()}.yaml")


def app_secret_values(settings: Settings) -> dict[str, pulumi.Output[str]]:
    """Each app secret's value as a Pulumi secret, by name; only after ``load_settings``."""
    config = pulumi.Config(APP_SECRETS_NAMESPACE)
    # require_secret marks the value secret however it was stored; load_settings has already
    # refused a plain-text one.
    return {name: config.require_secret(name) for name in settings.app_secret_names}
