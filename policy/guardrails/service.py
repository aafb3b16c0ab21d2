"""Guardrails for the app's service and containers: safe rollouts, restarts, memory and secrets.

* ``ecs-service-safe-rollout``: every ECS service has the deployment circuit breaker with
  rollback, makes ``pulumi up`` wait for steady state, and, when it is attached to a load
  balancer, gives new tasks a health check grace period;
* ``container-health-check``: every container has a health check, so ECS replaces a hung one;
* ``container-exec-form``: no container starts through a shell (``sh -c``), which would sit at
  PID 1 and never pass SIGTERM on: every rollout would cut requests off with SIGKILL;
* ``task-memory-fits-workers``: a task's memory holds its containers' server workers
  (``WEB_CONCURRENCY``) x memory per worker + overhead, the same budget the program checks;
* ``no-plain-secret-environment``: no container gets a secret-looking variable (a name with the
  word PASSWORD, SECRET, TOKEN or KEY; see ``looks_secret``) or a URL with a password as a plain
  value, which anyone who can describe the task definition could read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import (
    ECS_SERVICE,
    TASK_DEFINITION,
    config_number,
    containers,
    environment,
    items,
    label,
    number,
    shown,
)

# The program's defaults (components.settings: service.memoryPerWorker and
# TASK_MEMORY_OVERHEAD_MIB). A stack that changes service.memoryPerWorker sets the same value
# in its policy config (policy/config.<stack>.json), since the pack cannot read the settings.
DEFAULT_MEMORY_PER_WORKER_MIB = 256
DEFAULT_OVERHEAD_MIB = 64
# What the shipped server runs when WEB_CONCURRENCY is not set (app/api/serve.py).
DEFAULT_WORKERS = 1

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh"})
# Words that make a variable name look like it holds a secret. KEY matches API_KEY and
# SECRET_KEY_BASE but not KEYBOARD or MONKEY: names are compared word by word, never by substring.
SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWORDS", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS",
     "KEY", "KEYS", "APIKEY", "PRIVATEKEY"}
)  # fmt: skip
# A last word that makes the variable a pointer to a secret, not the secret itself:
# DB_SECRET_ARN, JWT_SECRET_FILE, AWS_ACCESS_KEY_ID.
REFERENCE_WORDS = frozenset({"ARN", "NAME", "ID", "PATH", "FILE"})
# scheme://user:password@host: credentials inside a URL, whatever the variable is called.
URL_WITH_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]+:[^/@\s]+@")


def name_words(name: str) -> list[str]:
    """A variable name's words, upper-cased: split at _, -, . and lower-to-upper camelCase."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w.upper() for w in re.split(r"[_.\-]+", spaced) if w]


def looks_secret(name: str) -> bool:
    """Whether a variable name says it holds a secret.

    True when one of its words (``name_words``) is in SECRET_WORDS and its last word is not in
    REFERENCE_WORDS: API_KEY, DB_PASSWORD, dbPassword, GITHUB_TOKEN, SECRET_KEY_BASE; not
    KEYBOARD_LAYOUT, MONKEY, TOKENIZER_MODEL, DB_SECRET_ARN or AWS_ACCESS_KEY_ID.
    """
    words = name_words(name)
    return bool(words) and bool(SECRET_WORDS & set(words)) and words[-1] not in REFERENCE_WORDS


# --- ecs-service-safe-rollout ------------------------------------------------------------------


def check_service_rollout(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE:
        return
    props, name = args.props, label(args.resource_type, args.name)
    breaker = props.get("deploymentCircuitBreaker")
    breaker = breaker if isinstance(breaker, Mapping) else {}
    if not (breaker.get("enable") is True and breaker.get("rollback") is True):
        report(
            f"{name} has no deployment circuit breaker with rollback, so a revision whose tasks "
            f"keep failing is retried forever and never rolled back. Fix: set "
            f"deployment_circuit_breaker={{enable: True, rollback: True}}.",
            None,
        )
    if props.get("waitForSteadyState") is not True:
        report(
            f"{name} does not wait for steady state, so `pulumi up` reports success before any "
            f"new task is healthy. Fix: set wait_for_steady_state=True.",
            None,
        )
    grace = number(props.get("healthCheckGracePeriodSeconds"))
    if items(props.get("loadBalancers")) and (grace is None or grace <= 0):
        report(
            f"{name} is attached to a load balancer with a health check grace period of "
            f"{shown(grace or 0.0)} s, so ECS can kill new tasks that are still starting. Fix: set "
            f"health_check_grace_period_seconds to the app's start time or more (in this project "
            f"`pulumi config set --path service.healthCheckGracePeriod 60`).",
            None,
        )


ecs_service_safe_rollout = ResourceValidationPolicy(
    name="ecs-service-safe-rollout",
    description="ECS services roll back failed deployments, report them to `pulumi up`, and give "
    "new tasks a health check grace period.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_service_rollout,
)


# --- container-health-check --------------------------------------------------------------------


def check_health_checks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        check = container.get("healthCheck")
        if isinstance(check, Mapping) and items(check.get("command")):
            continue
        report(
            f"{label(args.resource_type, args.name)}: container '{container.get('name')}' has no "
            f"health check, so a hung process keeps its task alive and ECS never replaces it. "
            f'Fix: add healthCheck {{"command": ["CMD", ...a probe of the app...], "interval": '
            f'15, "retries": 3, "startPeriod": 60}} to the container definition.',
            None,
        )


container_health_check = ResourceValidationPolicy(
    name="container-health-check",
    description="Every container of a task definition has a health check.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_health_checks,
)


# --- container-exec-form -----------------------------------------------------------------------


def shell_form(argv: Any) -> str | None:
    """The shell invocation if ``argv`` runs its program through a shell (sh -c ...), else None.

    A string instead of a list is shell form too: ECS would not split it.
    """
    if isinstance(argv, str):
        return argv
    if not isinstance(argv, Sequence) or not argv:
        return None
    words = [str(w) for w in argv]
    if words[0].rsplit("/", 1)[-1] not in SHELLS:
        return None
    # -c alone or in a group of short flags (-c, -lc, -ec).
    if any(re.fullmatch(r"-[a-zA-Z]*c[a-zA-Z]*", w) for w in words[1:3]):
        return " ".join(words)
    return None


def check_exec_form(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        for field in ("entryPoint", "command"):
            shell = shell_form(container.get(field))
            if shell is None:
                continue
            report(
                f"{label(args.resource_type, args.name)}: container '{container.get('name')}' "
                f"starts through a shell ({field} = {shell[:80]!r}). The shell becomes PID 1 and "
                f"does not pass SIGTERM on, so every rollout kills the server mid-request. Fix: "
                f'give {field} as a list of arguments without a shell, like ["python", "-m", '
                f'"api.serve"]; move any setup into the image or the app.',
                None,
            )


container_exec_form = ResourceValidationPolicy(
    name="container-exec-form",
    description="Containers start their program directly (exec form), never through `sh -c`.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_exec_form,
)


# --- task-memory-fits-workers ------------------------------------------------------------------


def check_memory(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    memory = number(args.props.get("memory"))
    config = args.get_config()
    per_worker = config_number(config, "memoryPerWorkerMiB", DEFAULT_MEMORY_PER_WORKER_MIB)
    overhead = config_number(config, "overheadMiB", DEFAULT_OVERHEAD_MIB)
    servers = [
        (str(c.get("name")), number(environment(c).get("WEB_CONCURRENCY")))
        for c in containers(args.props)
        if "WEB_CONCURRENCY" in environment(c)
    ]
    # Only containers that run a worker-based server have a budget to check.
    if memory is None or not servers:
        return
    workers = sum(w if w is not None and w >= 1 else DEFAULT_WORKERS for _, w in servers)
    needed = workers * per_worker + overhead * len(servers)
    if needed <= memory:
        return
    report(
        f"{label(args.resource_type, args.name)} has {shown(memory)} MiB of memory, but its "
        f"{shown(workers)} workers (WEB_CONCURRENCY of {', '.join(n for n, _ in servers)}) x "
        f"{shown(per_worker)} MiB + {shown(overhead)} MiB overhead need {shown(needed)} MiB; the "
        f"kernel would kill workers under load. Fix: raise the task memory (`pulumi config set "
        f"--path service.memory <MiB>`), or lower the workers (`pulumi config set --path "
        f"service.workers <n>`). If this stack's workers really need less, set "
        f"memoryPerWorkerMiB of this policy in policy/config.<stack>.json to the stack's "
        f"service.memoryPerWorker.",
        None,
    )


task_memory_fits_workers = ResourceValidationPolicy(
    name="task-memory-fits-workers",
    description="A task's memory covers its server workers x memory per worker + overhead.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_memory,
    config_schema=PolicyConfigSchema(
        properties={
            "memoryPerWorkerMiB": {
                "type": "integer",
                "minimum": 32,
                "default": DEFAULT_MEMORY_PER_WORKER_MIB,
                "description": "MiB one worker may use; the stack's service.memoryPerWorker.",
            },
            "overheadMiB": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULT_OVERHEAD_MIB,
                "description": "MiB a server container needs besides its workers.",
            },
        }
    ),
)


# --- no-plain-secret-environment ---------------------------------------------------------------


def check_plain_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    allowed = {str(n) for n in items(args.get_config().get("allowNames"))}
    for container in containers(args.props):
        for name, value in sorted(environment(container).items()):
            if name in allowed or not value:
                continue
            if looks_secret(name):
                why = "its name says it holds a secret"
            elif URL_WITH_PASSWORD.match(value):
                why = "its value is a URL with a password in it"
            else:
                continue
            report(
                f"{label(args.resource_type, args.name)}: container '{container.get('name')}' gets "
                f"{name} as a plain environment variable, and {why}; anyone who can describe the "
                f"task definition can read it. Fix: store it in Secrets Manager and pass it as a "
                f"secret (container `secrets` with valueFrom; in this project `pulumi config set "
                f"--path 'service.appSecrets[<next index>]' {name}` and "
                f"`.venv/bin/python -m ops <stack> secrets set {name}`, or service.secrets). If it is not a secret, "
                f"add {name} to this policy's allowNames in policy/config.<stack>.json.",
                None,
            )


no_plain_secret_environment = ResourceValidationPolicy(
    name="no-plain-secret-environment",
    description="No container gets a secret as a plain environment variable.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_plain_secrets,
    config_schema=PolicyConfigSchema(
        properties={
            "allowNames": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "Variable names that look secret but are not (like PUBLIC_KEY).",
            }
        }
    ),
)

POLICIES = [
    ecs_service_safe_rollout,
    container_health_check,
    container_exec_form,
    task_memory_fits_workers,
    no_plain_secret_environment,
]
