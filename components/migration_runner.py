"""Run the release-phase migration as a one-off ECS task and report how it ended.

A migration must run exactly once, in one process of the NEW build, before the new version
serves traffic (Heroku's release phase, Fly's ``release_command``). On ECS that is a
``run_task`` of the new task definition with the command overridden. ``run_task`` returns at
once, so this module owns the rest: it polls ``describe_tasks`` until the task is STOPPED (never
waiting for RUNNING: a fast migration may already be gone), enforces its own deadline (the boto3
``tasks_stopped`` waiter gives up after about 10 minutes), stops the task when the deadline
passes, and turns every way a task can end badly into a :class:`MigrationFailed` that carries the
facts and the tail of the container's CloudWatch log stream, so the failed ``pulumi up`` explains
itself.

These are plain functions without Pulumi so they can be tested on their own (against moto); the
Pulumi dynamic provider in :mod:`components.migration` is a thin wrapper. boto3 clients are
created inside :func:`run_migration` because the provider object is pickled into Pulumi state.

Before the migration, :func:`ensure_app_secrets` checks that every app secret the new task
definition references has a value: it generates the ones the stack may generate (API_TOKEN,
``secrets.token_urlsafe``, stored with ``PutSecretValue``) and refuses the rollout while any
other has none, naming the ``python -m ops STACK secrets set NAME`` command that sets it. ECS
would otherwise start tasks that fail at once (ResourceInitializationError) until the circuit
breaker gives up.

Nothing here reads, logs or returns the task's environment or secrets: the messages are built
only from task metadata (ARNs, statuses, exit codes, stop reasons) and the log tail; a
generated value goes straight from ``secrets.token_urlsafe`` into ``PutSecretValue``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from components import aws_session

if TYPE_CHECKING:
    import boto3

DEFAULT_TIMEOUT_SECONDS = 900
"""Own deadline for one migration task (settings default: 15 minutes)."""

LOG_TAIL_LINES = 10
"""Log lines quoted in a failed ``pulumi up``: enough for the end of a traceback and the
migration's one "migration failed: ..." line. The error travels further than the log (CI logs,
PR comments, chat), so it carries a short, redacted tail and points to the stream, which stays
whole in CloudWatch behind IAM."""

LOG_LINE_MAX_CHARS = 240
"""Longer lines are cut: a long line is a dumped row or payload more often than a message."""

# Values that look like secrets, replaced by "[redacted]" in the quoted tail (the stream keeps
# them): a value after a secret-sounding key, a URL's password, well-known token shapes, and
# long mixed-case-and-digit runs (random keys; hex ids like task ids are lower-case only).
_SECRET_KEY_VALUE = re.compile(
    r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"authorization|credentials?)[\w-]*[\"']?\s*[=:]\s*[\"']?)([^\s\"',;&)}\]]+)"
)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(@)")
_TOKEN_SHAPES = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bwhsec_[\w+/=-]+|\b[sr]k_(?:live|test)_\w+|"
    r"\bgh[pousr]_\w{20,}|\bxox[abprs]-[\w-]+|\beyJ[\w-]+\.[\w-]+\.[\w-]+|"
    r"(?i:bearer)\s+[\w.~+/=-]+"
)
_RANDOM_RUN = re.compile(r"\b(?=[\w+/=-]*[a-z])(?=[\w+/=-]*[A-Z])(?=[\w+/=-]*\d)[\w+/=-]{32,}")
REDACTED = "[redacted]"

STARTED_BY_MAX_LENGTH = 36
"""``startedBy`` limit documented for StartTask (RunTask says 128): keep the stricter one."""

CLIENT_TOKEN_MAX_LENGTH = 64

_STARTED_BY_PATTERN = re.compile(r"[A-Za-z0-9_/-]+")
_STARTED_BY_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_/-]+")

# Short first waits catch a quick migration (or a task that fails to start) early; the cap keeps
# a long migration from spending the account's DescribeTasks rate, which deploys share.
_POLL_INITIAL_DELAY = 2.0
_POLL_MAX_DELAY = 15.0
_POLL_BACKOFF_FACTOR = 1.5


# Error codes AWS uses for throttling across services; botocore retries these already, this set
# lets our own loops keep going when botocore has used up its attempts.
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
_TRANSIENT_BOTOCORE_ERRORS = (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

SleepFn = Callable[[float], None]
ClockFn = Callable[[], float]


@dataclass(frozen=True)
class MigrationRequest:
    """Everything needed to run one migration task; plain values only, no secrets."""

    cluster: str
    """Cluster name or ARN."""
    task_definition: str
    """ARN of the NEW task definition revision (same image, environment, secrets as the service)."""
    container_name: str
    """Container whose command is overridden and whose exit code decides success."""
    command: list[str]
    """Replaces the container's command (exec form)."""
    subnets: list[str]
    security_groups: list[str]
    assign_public_ip: bool
    started_by: str
    """Names the stack; also the key of the "is another migration running?" check."""
    client_token: str
    """Idempotency token for ``run_task``: unique per attempt, so client retries start one task."""
    timeout_seconds: int
    """Own deadline for the task, from ``run_task`` (settings default: 900)."""
    log_group: str | None
    """awslogs group of the container; None when the container does not log to CloudWatch."""
    log_stream_prefix: str | None
    """awslogs-stream-prefix; the stream is ``prefix/container/task-id``."""
    region: str

    @property
    def command_display(self) -> str:
        """The command as one line, for error messages."""
        return " ".join(self.command)

    def __post_init__(self) -> None:
        problems = request_problems(vars(self))
        if problems:
            raise ValueError(
                "invalid MigrationRequest: " + "; ".join(problem for _, problem in problems)
            )


def request_problems(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(field, problem)`` for each value of a :class:`MigrationRequest` that ECS would refuse.

    The one validation of a request: ``MigrationRequest`` raises on these, and the dynamic
    provider's ``check`` reports them per input at preview time.
    """
    problems: list[tuple[str, str]] = []
    for name in ("cluster", "task_definition", "container_name", "region"):
        if not fields.get(name):
            problems.append((name, f"{name} is empty"))
    command = fields.get("command")
    if not command or not all(isinstance(part, str) for part in command):
        problems.append(("command", "command must be a non-empty list of strings"))
    if not fields.get("subnets"):
        problems.append(("subnets", "subnets is empty (awsvpc needs at least one)"))
    started_by = str(fields.get("started_by") or "")
    if not started_by or len(started_by) > STARTED_BY_MAX_LENGTH:
        problems.append(
            (
                "started_by",
                f"started_by must be 1..{STARTED_BY_MAX_LENGTH} characters "
                f"(got {len(started_by)}); use started_by_for_stack()",
            )
        )
    elif not _STARTED_BY_PATTERN.fullmatch(started_by):
        problems.append(
            (
                "started_by",
                "started_by may only contain letters, digits, '-', '_' and '/'; "
                "use started_by_for_stack()",
            )
        )
    client_token = str(fields.get("client_token") or "")
    if not client_token or len(client_token) > CLIENT_TOKEN_MAX_LENGTH:
        problems.append(
            ("client_token", f"client_token must be 1..{CLIENT_TOKEN_MAX_LENGTH} characters")
        )
    elif not all(33 <= ord(char) <= 126 for char in client_token):
        problems.append(
            ("client_token", "client_token may only contain printable ASCII without spaces")
        )
    if not fields.get("timeout_seconds", 0) > 0:
        problems.append(("timeout_seconds", "timeout_seconds must be positive"))
    if (fields.get("log_group") is None) != (fields.get("log_stream_prefix") is None):
        problems.append(
            ("log_stream_prefix", "log_group and log_stream_prefix must be given together")
        )
    return problems


@dataclass(frozen=True)
class MigrationResult:
    """How a successful migration ended."""

    task_arn: str
    exit_code: int
    duration_seconds: float
    """From ``run_task`` until the task was seen STOPPED (waiting for another run not included)."""
    log_stream: str | None


class MigrationFailed(Exception):  # noqa: N818 (name is the agreed public API)
    """The migration did not succeed; the message says what happened and shows the log tail.

    The attributes carry the same facts for callers that want to react to them.
    """

    def __init__(
        self,
        summary: str,
        *,
        task_arn: str | None = None,
        exit_code: int | None = None,
        stop_code: str | None = None,
        stopped_reason: str | None = None,
        log_lines: list[str] | None = None,
        log_note: str | None = None,
    ) -> None:
        self.summary = summary
        self.task_arn = task_arn
        self.exit_code = exit_code
        self.stop_code = stop_code
        self.stopped_reason = stopped_reason
        self.log_lines = list(log_lines or [])
        self.log_note = log_note
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.summary]
        if self.log_note is not None:
            if self.log_lines:
                parts.append(f"{self.log_note}:")
                parts.extend(f"  | {line}" for line in self.log_lines)
            else:
                parts.append(self.log_note)
        return "\n".join(parts)


GENERATED_SECRET_BYTES = 32
"""Random bytes in a generated app secret (43 URL-safe characters): 256 bits, far beyond guessing."""


def ensure_app_secrets(
    session: boto3.Session,
    region: str,
    app_secrets: Mapping[str, str],
    *,
    generated: Collection[str],
    stack: str,
    token: Callable[[int], str] = secrets.token_urlsafe,
) -> list[str]:
    """Make sure every app secret (variable name -> secret ARN) has a current value.

    A secret without one whose name is in ``generated`` gets a random value (``token``); any
    other raises :class:`MigrationFailed` naming each such secret and the command that sets it,
    before anything else of the release phase runs. Returns the names generated now.

    "Has a value" is a version labelled AWSCURRENT (``DescribeSecret``'s
    ``VersionIdsToStages``): what ECS resolves a ``valueFrom`` without a stage to. The values
    themselves are never read. A generated value is put with a client request token derived
    from the secret's ARN, so two deploys racing to generate it store one value: Secrets
    Manager refuses a second, different value under the same token (ResourceExistsException),
    which here means another run has just set it.
    """
    if not app_secrets:
        return []
    client = session.client("secretsmanager", region_name=region, config=aws_session.retry_config())
    missing: list[str] = []
    made: list[str] = []
    for name, arn in sorted(app_secrets.items()):
        if _has_current_value(client, name, arn):
            continue
        if name not in generated:
            missing.append(name)
            continue
        try:
            client.put_secret_value(
                SecretId=arn,
                SecretString=token(GENERATED_SECRET_BYTES),
                ClientRequestToken=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}#generated")),
            )
        except ClientError as error:
            if _error_code(error) == "ResourceExistsException":
                continue
            raise _secret_access_failed(name, arn, "PutSecretValue", error) from None
        made.append(name)
    if missing:
        commands = "; ".join(
            f"`.venv/bin/python -m ops {stack} secrets set {name}`" for name in missing
        )
        noun = "secret has" if len(missing) == 1 else "secrets have"
        raise MigrationFailed(
            f"The release phase stopped before the rollout: the app {noun} no value yet: "
            f"{', '.join(missing)} (service.appSecrets names them). Set each with {commands} "
            f"(the value from standard input or a prompt), then run `pulumi up` again. The "
            f"running version keeps serving; no migration ran."
        )
    return made


def _has_current_value(client: Any, name: str, arn: str) -> bool:
    try:
        described = client.describe_secret(SecretId=arn)
    except ClientError as error:
        raise _secret_access_failed(name, arn, "DescribeSecret", error) from None
    stages = described.get("VersionIdsToStages") or {}
    return any("AWSCURRENT" in labels for labels in stages.values())


def _secret_access_failed(name: str, arn: str, action: str, error: ClientError) -> MigrationFailed:
    hint = (
        f" The deploying identity needs secretsmanager:{action} on the stack's app secrets."
        if "AccessDenied" in _error_code(error)
        else ""
    )
    return MigrationFailed(
        f"The release phase could not check the app secret {name} ({arn}): "
        f"{action} failed: {_describe_error(error)}.{hint}"
    )


def started_by_for_stack(project: str, stack: str) -> str:
    """Return a valid ``startedBy`` value naming the stack (ECS allows 36 characters).

    Long names are truncated and keep a short hash of the full name, so two stacks whose names
    share a long prefix do not see each other's migrations as their own.
    """
    full = f"migrate/{project}/{stack}"
    cleaned = _STARTED_BY_INVALID_CHARS.sub("-", full)
    if len(cleaned) <= STARTED_BY_MAX_LENGTH:
        return cleaned
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{cleaned[: STARTED_BY_MAX_LENGTH - len(digest) - 1]}-{digest}"


def log_stream_name(request: MigrationRequest, task_arn: str) -> str | None:
    """Name of the awslogs stream of the migration container, or None without awslogs."""
    if request.log_group is None or request.log_stream_prefix is None:
        return None
    return f"{request.log_stream_prefix}/{request.container_name}/{_task_id(task_arn)}"


def run_migration(
    request: MigrationRequest,
    *,
    session: boto3.Session | None = None,
    sleep: SleepFn = time.sleep,
    clock: ClockFn = time.monotonic,
) -> MigrationResult:
    """Run the migration task once and return when it has stopped with exit code 0.

    Raises :class:`MigrationFailed` for every other outcome: another migration of this stack
    still running at the deadline, ``run_task`` failures, a non-zero exit, a task stopped for any
    other reason, or the deadline (after ``stop_task``). ``sleep`` and ``clock`` are injectable so
    tests never wait.
    """
    if session is None:
        session = aws_session.session_for(None, request.region)
    config = aws_session.retry_config()
    # region_name is passed again so an injected session cannot point at another region.
    ecs = session.client("ecs", region_name=request.region, config=config)
    logs = session.client("logs", region_name=request.region, config=config)

    _wait_for_other_migrations(ecs, request, sleep=sleep, clock=clock)

    started = clock()
    deadline = started + request.timeout_seconds
    task_arn = _start_task(ecs, request, deadline=deadline, sleep=sleep, clock=clock)
    stream = log_stream_name(request, task_arn)

    try:
        task = _poll_until_stopped(
            ecs, request, task_arn, deadline=deadline, sleep=sleep, clock=clock
        )
    except _DeadlineExceededError as reached:
        stop_note = _stop_after_deadline(ecs, request, task_arn)
        raise _failure(
            logs,
            request,
            task_arn,
            f"Migration task {task_arn} did not stop within its deadline of "
            f"{request.timeout_seconds} s (last seen status: {reached.last_status}); "
            f"{stop_note}.",
        ) from None
    duration = clock() - started
    return _judge(logs, request, task, duration, stream)


def _judge(
    logs: Any,
    request: MigrationRequest,
    task: Mapping[str, Any],
    duration: float,
    stream: str | None,
) -> MigrationResult:
    """Decide success from a STOPPED task: essential container exited, and exited with 0."""
    task_arn: str = task["taskArn"]
    stop_code = task.get("stopCode")
    stopped_reason = task.get("stoppedReason") or None
    container = next(
        (c for c in task.get("containers", []) if c.get("name") == request.container_name), None
    )
    if container is None:
        raise _failure(
            logs,
            request,
            task_arn,
            f"Migration task {task_arn} stopped but has no container named "
            f"{request.container_name!r} ({_stop_facts(stop_code, stopped_reason, None)}).",
            stop_code=stop_code,
            stopped_reason=stopped_reason,
        )
    exit_code = container.get("exitCode")
    container_reason = container.get("reason") or None
    facts = _stop_facts(stop_code, stopped_reason, container_reason)

    if stop_code == "EssentialContainerExited" and exit_code == 0:
        return MigrationResult(
            task_arn=task_arn, exit_code=0, duration_seconds=duration, log_stream=stream
        )
    if exit_code is None:
        summary = (
            f"Migration task {task_arn} stopped without an exit code from container "
            f"{request.container_name!r}: {facts}."
        )
    elif exit_code != 0:
        summary = (
            f"Migration `{request.command_display}` in task {task_arn} exited with code "
            f"{exit_code} ({facts})."
        )
    else:
        # Exit 0 is not enough: a task stopped by someone else (UserInitiated) or reclaimed
        # (SpotInterruption) may have exited 0 on SIGTERM before the migration finished.
        summary = (
            f"Migration task {task_arn} exited 0 but did not stop because its essential "
            f"container finished ({facts}); treating it as failed."
        )
    raise _failure(
        logs,
        request,
        task_arn,
        summary,
        exit_code=exit_code,
        stop_code=stop_code,
        stopped_reason=stopped_reason,
    )


def _stop_facts(
    stop_code: str | None, stopped_reason: str | None, container_reason: str | None
) -> str:
    facts = [f"stopCode={stop_code or 'none'}", f"stoppedReason={stopped_reason or 'none'}"]
    if container_reason:
        facts.append(f"container reason={container_reason}")
    return ", ".join(facts)


def _failure(
    logs: Any,
    request: MigrationRequest,
    task_arn: str,
    summary: str,
    *,
    exit_code: int | None = None,
    stop_code: str | None = None,
    stopped_reason: str | None = None,
) -> MigrationFailed:
    lines, note = _log_tail(logs, request, task_arn)
    return MigrationFailed(
        summary,
        task_arn=task_arn,
        exit_code=exit_code,
        stop_code=stop_code,
        stopped_reason=stopped_reason,
        log_lines=lines,
        log_note=note,
    )


def _log_tail(logs: Any, request: MigrationRequest, task_arn: str) -> tuple[list[str], str]:
    """Return the last log lines and a note saying where they come from or why there are none.

    Never raises: a missing group or stream (a task that never started has no stream) or a
    failing Logs API must not hide the error being reported.
    """
    stream = log_stream_name(request, task_arn)
    if stream is None or request.log_group is None:
        return [], "no log lines found (the container has no awslogs configuration)"
    where = f"log group {request.log_group}, stream {stream}"
    try:
        answer = logs.get_log_events(
            logGroupName=request.log_group,
            logStreamName=stream,
            limit=LOG_TAIL_LINES,
            startFromHead=False,
        )
    except ClientError as error:
        code = _error_code(error)
        if code == "ResourceNotFoundException":
            return [], f"no log lines found ({where} does not exist)"
        return [], f"no log lines found (could not read {where}: {code})"
    except BotoCoreError as error:
        return [], f"no log lines found (could not read {where}: {type(error).__name__})"
    lines = [
        redact_log_line(str(event.get("message", "")).rstrip("\n"))
        for event in answer.get("events", [])
    ][-LOG_TAIL_LINES:]
    if not lines:
        return [], f"no log lines found ({where} is empty)"
    return lines, (
        f"last {len(lines)} log lines, cut to {LOG_LINE_MAX_CHARS} characters with "
        f"secret-looking values redacted ({where}; whole: `aws logs tail {request.log_group} "
        f"--log-stream-names {stream} --since 1d`)"
    )


def redact_log_line(line: str) -> str:
    """``line`` without values that look like secrets, cut to ``LOG_LINE_MAX_CHARS``."""
    line = _SECRET_KEY_VALUE.sub(lambda m: m.group(1) + REDACTED, line)
    line = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), line)
    line = _TOKEN_SHAPES.sub(REDACTED, line)
    line = _RANDOM_RUN.sub(REDACTED, line)
    if len(line) > LOG_LINE_MAX_CHARS:
        line = line[: LOG_LINE_MAX_CHARS - 1] + "…"
    return line


def _wait_for_other_migrations(
    ecs: Any, request: MigrationRequest, *, sleep: SleepFn, clock: ClockFn
) -> None:
    """Wait until no other migration task of this stack runs, or fail clearly.

    Best effort: two deploys can still pass this check at the same moment, which is why the
    migration entrypoint must take a database lock. The wait has its own budget of
    ``timeout_seconds`` so our own migration is never cut short by someone else's.
    """
    deadline = clock() + request.timeout_seconds
    delay = _POLL_INITIAL_DELAY
    while True:
        running = _running_migrations(ecs, request)
        if running is not None and not running:
            return
        remaining = deadline - clock()
        if remaining <= 0:
            if running is None:
                raise MigrationFailed(
                    f"Could not check whether another migration of this stack "
                    f"(startedBy={request.started_by}) is running before the deadline of "
                    f"{request.timeout_seconds} s: the ECS API kept throttling or failing. "
                    "Not starting a migration."
                )
            raise MigrationFailed(
                f"Another migration of this stack (startedBy={request.started_by}) is still "
                f"running after waiting {request.timeout_seconds} s: {', '.join(running)}. "
                "Not starting a second one. Wait for it to finish, or stop it with "
                f"`aws ecs stop-task --cluster {request.cluster} --task <arn>`, then run "
                "`pulumi up` again."
            )
        sleep(min(delay, remaining))
        delay = min(delay * _POLL_BACKOFF_FACTOR, _POLL_MAX_DELAY)


def _running_migrations(ecs: Any, request: MigrationRequest) -> list[str] | None:
    """ARNs of this stack's migration tasks that have not stopped; None on a transient error."""
    try:
        arns: list[str] = []
        # startedBy alone: the ListTasks docs require it to be the only filter, and the
        # default desiredStatus filter is RUNNING anyway.
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=request.cluster, startedBy=request.started_by
        ):
            arns.extend(page.get("taskArns", []))
        if not arns:
            return []
        running: list[str] = []
        # A task whose desired status is STOPPED can still be shutting down; only lastStatus
        # STOPPED means the process is gone.
        for batch in _chunks(arns, 100):
            answer = ecs.describe_tasks(cluster=request.cluster, tasks=batch)
            running.extend(
                t["taskArn"] for t in answer.get("tasks", []) if t.get("lastStatus") != "STOPPED"
            )
        return running
    except ClientError as error:
        if _is_transient(error):
            return None
        hint = (
            " The deploy role needs ecs:ListTasks and ecs:DescribeTasks."
            if "AccessDenied" in _error_code(error)
            else ""
        )
        raise MigrationFailed(
            f"Could not check whether another migration of this stack "
            f"(startedBy={request.started_by}) is running: {_describe_error(error)}.{hint}"
        ) from error
    except _TRANSIENT_BOTOCORE_ERRORS:
        return None


def _start_task(
    ecs: Any, request: MigrationRequest, *, deadline: float, sleep: SleepFn, clock: ClockFn
) -> str:
    """Call ``run_task`` once (retrying only with the same client token) and return the ARN."""
    params: dict[str, Any] = {
        "cluster": request.cluster,
        "taskDefinition": request.task_definition,
        "count": 1,
        "launchType": "FARGATE",
        "startedBy": request.started_by,
        "clientToken": request.client_token,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": list(request.subnets),
                "securityGroups": list(request.security_groups),
                "assignPublicIp": "ENABLED" if request.assign_public_ip else "DISABLED",
            }
        },
        "overrides": {
            "containerOverrides": [
                {"name": request.container_name, "command": list(request.command)}
            ]
        },
    }
    delay = _POLL_INITIAL_DELAY
    while True:
        try:
            answer = ecs.run_task(**params)
            break
        except ClientError as error:
            # Repeating run_task is safe only because the client token stays the same: ECS
            # returns the task it already started instead of starting a second one.
            if not _is_transient(error) or clock() >= deadline:
                raise MigrationFailed(
                    f"run_task for the migration failed: {_describe_error(error)} "
                    f"(cluster {request.cluster}, task definition {request.task_definition})."
                ) from error
        except _TRANSIENT_BOTOCORE_ERRORS as error:
            if clock() >= deadline:
                raise MigrationFailed(
                    f"run_task for the migration failed: {type(error).__name__}: {error}"
                ) from error
        sleep(min(delay, max(deadline - clock(), 0.0)))
        delay = min(delay * _POLL_BACKOFF_FACTOR, _POLL_MAX_DELAY)

    failures = answer.get("failures") or []
    tasks = answer.get("tasks") or []
    if failures or not tasks:
        described = "; ".join(
            f"arn={f.get('arn', 'n/a')} reason={f.get('reason', 'n/a')} "
            f"detail={f.get('detail', 'n/a')}"
            for f in failures
        )
        raise MigrationFailed(
            "run_task did not start the migration task "
            f"(cluster {request.cluster}, task definition {request.task_definition}): "
            + (described or "no task and no failure returned")
            + "."
        )
    return str(tasks[0]["taskArn"])


class _DeadlineExceededError(Exception):
    def __init__(self, last_status: str) -> None:
        super().__init__(last_status)
        self.last_status = last_status


def _poll_until_stopped(
    ecs: Any,
    request: MigrationRequest,
    task_arn: str,
    *,
    deadline: float,
    sleep: SleepFn,
    clock: ClockFn,
) -> Mapping[str, Any]:
    """Return the task once it is STOPPED; raise _DeadlineExceededError when the deadline passes."""
    delay = _POLL_INITIAL_DELAY
    last_status = "unknown"
    while True:
        task = _describe_task(ecs, request, task_arn)
        if task is not None:
            last_status = str(task.get("lastStatus", "unknown"))
            if last_status == "STOPPED":
                return task
        remaining = deadline - clock()
        if remaining <= 0:
            raise _DeadlineExceededError(last_status)
        sleep(min(delay, remaining))
        delay = min(delay * _POLL_BACKOFF_FACTOR, _POLL_MAX_DELAY)


def _describe_task(ecs: Any, request: MigrationRequest, task_arn: str) -> Mapping[str, Any] | None:
    """The task as ECS describes it; None while it is not visible yet or the API is throttling."""
    try:
        answer = ecs.describe_tasks(cluster=request.cluster, tasks=[task_arn])
    except ClientError as error:
        if _is_transient(error):
            return None
        raise MigrationFailed(
            f"describe_tasks for migration task {task_arn} failed: {_describe_error(error)}. "
            f"The task may still be running; check it with `aws ecs describe-tasks --cluster "
            f"{request.cluster} --tasks {task_arn}`.",
            task_arn=task_arn,
        ) from error
    except _TRANSIENT_BOTOCORE_ERRORS:
        return None
    # A task just started can be reported MISSING for a moment (eventual consistency).
    return next((t for t in answer.get("tasks", []) if t.get("taskArn") == task_arn), None)


def _stop_after_deadline(ecs: Any, request: MigrationRequest, task_arn: str) -> str:
    """Stop the overrunning task; return what happened, for the error message."""
    reason = (
        f"Release phase: migration exceeded its deadline of {request.timeout_seconds} s "
        f"(startedBy {request.started_by})"
    )
    try:
        ecs.stop_task(cluster=request.cluster, task=task_arn, reason=reason)
    except (ClientError, BotoCoreError) as error:
        detail = _describe_error(error) if isinstance(error, ClientError) else type(error).__name__
        return (
            f"stop_task failed ({detail}): stop it by hand with `aws ecs stop-task --cluster "
            f"{request.cluster} --task {task_arn}`"
        )
    return "it was stopped (stop_task)"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _is_transient(error: ClientError) -> bool:
    code = _error_code(error)
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _THROTTLING_CODES or code == "ServerException" or status >= 500


def _describe_error(error: ClientError) -> str:
    message = str(error.response.get("Error", {}).get("Message", error)).rstrip(".")
    return f"{_error_code(error)}: {message}"


def _task_id(task_arn: str) -> str:
    # Both ARN formats end in the task id: task/<id> and task/<cluster>/<id>.
    return task_arn.rsplit("/", 1)[-1]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
