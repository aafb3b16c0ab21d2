"""Specification of the release-phase migration runner, exercised against moto.

The runner makes real boto3 calls into moto's ECS, EC2 and CloudWatch Logs. Moto starts tasks
RUNNING and never ends them, so each test scripts the outcome the way ECS would report it: by
changing the task in moto's backend (status, stop code, exit code) from the injected ``sleep``,
i.e. while the runner waits between polls. Faults (throttling, run-task failures) are injected in
moto's backend or response layer; the runner only ever sees ordinary AWS answers. The injected
``clock``/``sleep`` are a fake clock, so no test waits.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.ecs.exceptions import ECSException
from moto.ecs.models import EC2ContainerServiceBackend, Task, ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.logs.exceptions import LogsClientError
from moto.logs.models import LogsBackend
from moto.moto_api import state_manager

from components import aws_session
from components.migration_runner import (
    LOG_LINE_MAX_CHARS,
    STARTED_BY_MAX_LENGTH,
    MigrationFailed,
    MigrationRequest,
    MigrationResult,
    run_migration,
    started_by_for_stack,
)

REGION = "eu-west-1"
CLUSTER = "app-cluster"
CONTAINER = "web"
LOG_GROUP = "/ecs/app"
LOG_PREFIX = "app"
STARTED_BY = "migrate/app/dev"
MIGRATE_COMMAND = ["python", "-m", "api.migrate"]
SECRET_VALUE = "s3cr3t-database-password"


# --- fake time --------------------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when the runner sleeps; watchers see each step."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._watchers: list[Callable[[float], None]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, "the runner must never ask to sleep a negative time"
        self.sleeps.append(seconds)
        self.now += seconds
        for watcher in list(self._watchers):
            watcher(self.now)

    def on_sleep(self, watcher: Callable[[float], None]) -> None:
        self._watchers.append(watcher)


# --- moto world -------------------------------------------------------------------------------


@dataclass
class Aws:
    """A VPC, a cluster, a log group and the app's task definition, in moto."""

    session: boto3.Session
    subnet: str
    security_group: str
    task_definition: str
    logs: Any = field(repr=False)

    def request(self, **changes: Any) -> MigrationRequest:
        base = MigrationRequest(
            cluster=CLUSTER,
            task_definition=self.task_definition,
            container_name=CONTAINER,
            command=list(MIGRATE_COMMAND),
            subnets=[self.subnet],
            security_groups=[self.security_group],
            assign_public_ip=False,
            started_by=STARTED_BY,
            client_token="token-0123456789abcdef",
            timeout_seconds=900,
            log_group=LOG_GROUP,
            log_stream_prefix=LOG_PREFIX,
            region=REGION,
        )
        return replace(base, **changes)

    @property
    def backend(self) -> EC2ContainerServiceBackend:
        return ecs_backends[DEFAULT_ACCOUNT_ID][REGION]

    def tasks(self, started_by: str = STARTED_BY) -> list[Task]:
        return [
            task
            for task in self.backend.tasks.get(CLUSTER, {}).values()
            if task.started_by == started_by
        ]

    def start_other_migration(self, started_by: str = STARTED_BY) -> Task:
        """A migration task started by another deploy of (by default) the same stack."""
        answer = self.session.client("ecs", region_name=REGION).run_task(
            cluster=CLUSTER,
            taskDefinition=self.task_definition,
            launchType="FARGATE",
            startedBy=started_by,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [self.subnet],
                    "securityGroups": [self.security_group],
                }
            },
        )
        arn = answer["tasks"][0]["taskArn"]
        return self.backend.tasks[CLUSTER][arn]

    def write_logs(self, task: Task, lines: list[str]) -> None:
        """What the awslogs driver would have written for this task's container."""
        stream = f"{LOG_PREFIX}/{CONTAINER}/{task.id}"
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        start = int(time.time() * 1000)
        self.logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": start + i, "message": line} for i, line in enumerate(lines)],
        )


def end_task(
    task: Task,
    *,
    exit_code: int | None,
    stop_code: str | None = "EssentialContainerExited",
    stopped_reason: str = "Essential container in task exited",
    container_reason: str | None = None,
) -> None:
    """Make moto report the task as ECS reports a stopped task."""
    task.last_status = "STOPPED"
    task.desired_status = "STOPPED"
    task.stop_code = stop_code
    task.stopped_reason = stopped_reason
    container = task.containers[0]
    container.last_status = "STOPPED"
    # moto names this attribute in camelCase; None leaves it out of the answer, as ECS does
    # for a container that never ran.
    container.exitCode = exit_code
    if container_reason is not None:
        container.reason = container_reason


@dataclass
class ScriptedMigration:
    """Ends the runner's task ``after`` seconds (fake time) after it first shows up in moto."""

    aws: Aws
    after: float
    outcome: dict[str, Any]
    log_lines: list[str] = field(default_factory=list)
    ignore: set[str] = field(default_factory=set)
    started_at: float | None = None
    task: Task | None = None

    def __call__(self, now: float) -> None:
        if self.task is None:
            mine = [t for t in self.aws.tasks() if t.task_arn not in self.ignore]
            if not mine:
                return
            self.task, self.started_at = mine[0], now
        assert self.started_at is not None
        if self.task.last_status != "STOPPED" and now - self.started_at >= self.after:
            if self.log_lines:
                self.aws.write_logs(self.task, self.log_lines)
            end_task(self.task, **self.outcome)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Loading moto's default AMIs costs most of the setup time; no test needs them.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # By default moto walks a task to STOPPED after a few DescribeTasks calls, with no stop code
    # or exit code; the tests decide when and how each task ends instead.
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    try:
        with mock_aws():
            yield _build_world()
    finally:
        state_manager.unset_transition("ecs::task")


def _build_world() -> Aws:
    # A session whose default region differs from the request's: the runner must use the
    # request's region.
    session = boto3.Session(region_name="us-east-1")
    ec2 = session.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # moto's awsvpc task networking needs DNS hostnames on the VPC (as Fargate tasks usually do).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    ecs = session.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName=CLUSTER)
    task_definition = ecs.register_task_definition(
        family="app",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": CONTAINER,
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:abc123",
                "essential": True,
                "memory": 512,
                "command": ["uvicorn", "api.main:app"],
                "environment": [{"name": "DATABASE_PASSWORD", "value": SECRET_VALUE}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": LOG_GROUP,
                        "awslogs-region": REGION,
                        "awslogs-stream-prefix": LOG_PREFIX,
                    },
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    logs = session.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=LOG_GROUP)
    return Aws(session, subnet, group, task_definition, logs)


def run(aws: Aws, fake_time: FakeTime, request: MigrationRequest | None = None) -> MigrationResult:
    return run_migration(
        request or aws.request(),
        session=aws.session,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


def script(aws: Aws, fake_time: FakeTime, *, after: float = 5, **kwargs: Any) -> ScriptedMigration:
    outcome = {
        key: kwargs.pop(key)
        for key in ("exit_code", "stop_code", "stopped_reason", "container_reason")
        if key in kwargs
    }
    outcome.setdefault("exit_code", 0)
    scripted = ScriptedMigration(aws, after, outcome, **kwargs)
    fake_time.on_sleep(scripted)
    return scripted


@pytest.fixture
def instant_botocore_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore sleeps for real between its retries; the tests only care that they happen."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0)
    # moto warns that ThrottlingException is not in ECS's error shapes; it is what AWS sends.
    warnings.filterwarnings("ignore", message=".*ThrottlingException.*", category=UserWarning)


def throttle(monkeypatch: pytest.MonkeyPatch, operation: str, times: int) -> dict[str, int]:
    """Make moto answer the next ``times`` calls of a backend operation with throttling."""
    calls = {"count": 0, "throttled": 0}
    original = getattr(EC2ContainerServiceBackend, operation)

    def flaky(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        calls["count"] += 1
        if calls["throttled"] < times:
            calls["throttled"] += 1
            raise ECSException("ThrottlingException", "Rate exceeded")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EC2ContainerServiceBackend, operation, flaky)
    return calls


# --- success ----------------------------------------------------------------------------------


def test_successful_migration_returns_task_exit_code_duration_and_log_stream(
    aws: Aws, fake_time: FakeTime
) -> None:
    scripted = script(aws, fake_time, after=5, exit_code=0)

    result = run(aws, fake_time)

    assert scripted.task is not None
    assert result == MigrationResult(
        task_arn=scripted.task.task_arn,
        exit_code=0,
        duration_seconds=fake_time.now,
        log_stream=f"{LOG_PREFIX}/{CONTAINER}/{scripted.task.id}",
    )


def test_runs_one_fargate_task_of_the_new_revision_with_the_migration_command(
    aws: Aws, fake_time: FakeTime
) -> None:
    script(aws, fake_time, exit_code=0)

    run(aws, fake_time, aws.request(assign_public_ip=True))

    [task] = aws.tasks()
    assert task.task_definition_arn == aws.task_definition
    assert task.launch_type == "FARGATE"
    assert task.started_by == STARTED_BY
    assert task.overrides == {
        "containerOverrides": [{"name": CONTAINER, "command": MIGRATE_COMMAND}]
    }
    assert task.network_configuration == {
        "awsvpcConfiguration": {
            "subnets": [aws.subnet],
            "securityGroups": [aws.security_group],
            "assignPublicIp": "ENABLED",
        }
    }


def test_run_task_carries_the_idempotency_client_token(aws: Aws, fake_time: FakeTime) -> None:
    sent: list[dict[str, Any]] = []
    aws.session.events.register(
        "before-send.ecs.RunTask", lambda request, **_: sent.append(json.loads(request.body))
    )
    script(aws, fake_time, exit_code=0)

    run(aws, fake_time, aws.request(client_token="deploy-42-attempt-1"))

    assert [body["clientToken"] for body in sent] == ["deploy-42-attempt-1"]
    assert [body["count"] for body in sent] == [1]


def test_polls_with_backoff_from_2_to_15_seconds(aws: Aws, fake_time: FakeTime) -> None:
    script(aws, fake_time, after=120, exit_code=0)

    run(aws, fake_time)

    assert fake_time.sleeps[0] == 2
    assert fake_time.sleeps == sorted(fake_time.sleeps)
    assert max(fake_time.sleeps) == 15
    assert fake_time.now < 120 + 15


def test_task_already_stopped_at_first_poll_succeeds_without_waiting_for_running(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = EC2ContainerServiceBackend.run_task

    def run_and_finish_at_once(self: EC2ContainerServiceBackend, *args: Any, **kw: Any) -> Any:
        tasks = original(self, *args, **kw)
        for task in tasks:
            end_task(task, exit_code=0)
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_and_finish_at_once)

    result = run(aws, fake_time)

    assert result.exit_code == 0
    assert fake_time.sleeps == []


def test_without_awslogs_the_result_has_no_log_stream(aws: Aws, fake_time: FakeTime) -> None:
    script(aws, fake_time, exit_code=0)

    result = run(aws, fake_time, aws.request(log_group=None, log_stream_prefix=None))

    assert result.log_stream is None


# --- the migration itself fails ---------------------------------------------------------------


def test_nonzero_exit_fails_with_exit_code_and_log_tail(aws: Aws, fake_time: FakeTime) -> None:
    lines = [f"migration step {i}" for i in range(60)]
    script(aws, fake_time, exit_code=3, log_lines=[*lines[:-1], "ERROR: relation exists"])

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    failure = raised.value
    [task] = aws.tasks()
    assert failure.exit_code == 3
    assert failure.task_arn == task.task_arn
    assert "exited with code 3" in str(failure)
    assert "python -m api.migrate" in str(failure)
    # A short tail: the pulumi up error ends up in CI logs; the stream keeps the rest.
    assert failure.log_lines == [*lines[50:59], "ERROR: relation exists"]
    assert "ERROR: relation exists" in str(failure)
    assert "migration step 49\n" not in str(failure)
    assert f"{LOG_PREFIX}/{CONTAINER}/{task.id}" in str(failure)
    assert f"aws logs tail {LOG_GROUP} --log-stream-names {LOG_PREFIX}/{CONTAINER}/{task.id}" in (
        str(failure)
    )


def test_the_log_tail_in_the_error_hides_secret_looking_values_and_long_lines(
    aws: Aws, fake_time: FakeTime
) -> None:
    secrets = [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "hunter2-db-pw",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY1",
        "s3cr3t-token-value",
    ]
    lines = [
        "INFO  [alembic.runtime.migration] Running upgrade  -> 8c1f4e2a9b3d, create notes table",
        f"DETAIL:  Failing row contains (1, https://hooks.example.com, {secrets[0]}).",
        f"connecting to postgresql+psycopg://app:{secrets[1]}@db.internal:5432/app",
        f"aws_access_key_id={secrets[2]} aws_secret_access_key={secrets[3]}",
        f"[parameters: {{'api_token': '{secrets[4]}'}}]",
        "row dump " + "x" * 5000,
        "migration failed: IntegrityError (CheckViolation, SQLSTATE 23514) on table webhooks",
    ]
    script(aws, fake_time, exit_code=1, log_lines=lines)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    message = str(raised.value)
    for secret in secrets:
        assert secret not in message
    assert "[redacted]" in message
    assert "x" * (LOG_LINE_MAX_CHARS + 1) not in message
    # What the reader needs stays: the migration's own summary line and the Alembic step.
    assert lines[-1] in message and lines[0] in message
    assert "postgresql+psycopg://app:[redacted]@db.internal:5432/app" in message


def test_out_of_memory_fails_with_exit_code_and_container_reason(
    aws: Aws, fake_time: FakeTime
) -> None:
    script(
        aws,
        fake_time,
        exit_code=137,
        container_reason="OutOfMemoryError: Container killed due to memory usage",
        log_lines=["applying 0042_big_backfill"],
    )

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    message = str(raised.value)
    assert "exited with code 137" in message
    assert "OutOfMemoryError: Container killed due to memory usage" in message
    assert "applying 0042_big_backfill" in message


@pytest.mark.parametrize(
    ("stop_code", "stopped_reason"),
    [
        (
            "TaskFailedToStart",
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
            "failed to resolve ref app:abc123: not found",
        ),
        (
            "TaskFailedToStart",
            "ResourceInitializationError: unable to pull secrets or registry auth: "
            "execution resource retrieval failed",
        ),
    ],
)
def test_stop_reason_without_exit_code_fails_with_stop_code_and_reason(
    aws: Aws, fake_time: FakeTime, stop_code: str, stopped_reason: str
) -> None:
    script(aws, fake_time, exit_code=None, stop_code=stop_code, stopped_reason=stopped_reason)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    failure = raised.value
    assert failure.exit_code is None
    assert failure.stop_code == stop_code
    assert failure.stopped_reason == stopped_reason
    assert "without an exit code" in str(failure)
    assert stopped_reason in str(failure)
    # The task never ran, so there is no log stream; that must not hide the stop reason.
    assert "no log lines found" in str(failure)


def test_exit_zero_after_being_stopped_by_someone_is_a_failure(
    aws: Aws, fake_time: FakeTime
) -> None:
    script(
        aws,
        fake_time,
        exit_code=0,
        stop_code="UserInitiated",
        stopped_reason="Task stopped by user",
    )

    with pytest.raises(MigrationFailed, match="stopCode=UserInitiated"):
        run(aws, fake_time)


def test_missing_log_group_does_not_mask_the_failure(aws: Aws, fake_time: FakeTime) -> None:
    script(aws, fake_time, exit_code=2)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time, aws.request(log_group="/ecs/deleted", log_stream_prefix="app"))

    assert "exited with code 2" in str(raised.value)
    assert "no log lines found" in str(raised.value)


def test_failure_message_never_contains_environment_values(aws: Aws, fake_time: FakeTime) -> None:
    script(aws, fake_time, exit_code=1, log_lines=["connecting to the database"])

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    assert SECRET_VALUE not in str(raised.value)
    assert SECRET_VALUE not in repr(vars(raised.value))


# --- run_task refuses -------------------------------------------------------------------------


def test_run_task_failures_fail_with_arn_reason_and_detail(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_capacity(self: EC2ContainerServiceResponse) -> ActionResult:
        return ActionResult(
            {
                "tasks": [],
                "failures": [
                    {
                        "arn": f"arn:aws:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:cluster/{CLUSTER}",
                        "reason": "RESOURCE:ENI",
                        "detail": "no free IP addresses in subnet",
                    }
                ],
            }
        )

    monkeypatch.setattr(EC2ContainerServiceResponse, "run_task", no_capacity)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    message = str(raised.value)
    assert "RESOURCE:ENI" in message
    assert "no free IP addresses in subnet" in message
    assert f"cluster/{CLUSTER}" in message
    assert fake_time.sleeps == []


def test_run_task_client_error_fails_clearly(aws: Aws, fake_time: FakeTime) -> None:
    missing = aws.task_definition.replace(":1", ":99")

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time, aws.request(task_definition=missing))

    assert "run_task for the migration failed: ClientException" in str(raised.value)
    assert missing in str(raised.value)


def test_unknown_cluster_fails_clearly_before_starting(aws: Aws, fake_time: FakeTime) -> None:
    with pytest.raises(MigrationFailed, match="ClusterNotFoundException"):
        run(aws, fake_time, aws.request(cluster="no-such-cluster"))


# --- deadline ---------------------------------------------------------------------------------


def test_deadline_stops_the_task_and_fails_with_timeout_and_log_tail(
    aws: Aws, fake_time: FakeTime
) -> None:
    scripted = script(aws, fake_time, after=10**6, exit_code=0)

    def logs_then_hang(now: float) -> None:
        if scripted.task is not None and now >= 10 and not scripted.log_lines:
            scripted.log_lines = ["waiting for lock on table users"]
            aws.write_logs(scripted.task, scripted.log_lines)

    fake_time.on_sleep(logs_then_hang)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time, aws.request(timeout_seconds=60))

    [task] = aws.tasks()
    assert task.last_status == "STOPPED"
    assert task.desired_status == "STOPPED"
    assert "deadline of 60 s" in task.stopped_reason
    message = str(raised.value)
    assert "did not stop within its deadline of 60 s" in message
    assert "last seen status: RUNNING" in message
    assert "stopped (stop_task)" in message
    assert "waiting for lock on table users" in message
    # Own deadline, to the second: no sleeping past it.
    assert fake_time.now == pytest.approx(60)


# --- throttling -------------------------------------------------------------------------------


@pytest.mark.usefixtures("instant_botocore_retries")
def test_throttled_describe_tasks_is_retried_by_the_client(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = throttle(monkeypatch, "describe_tasks", times=3)
    script(aws, fake_time, after=5, exit_code=0)

    result = run(aws, fake_time)

    assert result.exit_code == 0
    assert calls["throttled"] == 3
    # botocore absorbed the throttling inside the first poll: the poll schedule is unchanged.
    assert fake_time.sleeps == [2, 3, 4.5]


@pytest.mark.usefixtures("instant_botocore_retries")
def test_poll_loop_keeps_going_when_throttling_outlasts_client_retries(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = throttle(monkeypatch, "describe_tasks", times=15)
    script(aws, fake_time, after=5, exit_code=0)

    result = run(aws, fake_time)

    assert result.exit_code == 0
    assert calls["throttled"] == 15
    assert calls["count"] > 15


@pytest.mark.usefixtures("instant_botocore_retries")
def test_throttled_run_task_is_retried_with_the_same_client_token_and_starts_one_task(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens: list[str] = []
    aws.session.events.register(
        "before-send.ecs.RunTask",
        lambda request, **_: tokens.append(json.loads(request.body)["clientToken"]),
    )
    calls = throttle(monkeypatch, "run_task", times=8)
    script(aws, fake_time, exit_code=0)

    result = run(aws, fake_time)

    assert result.exit_code == 0
    assert calls["throttled"] == 8
    assert len(tokens) == calls["count"] > 8
    assert set(tokens) == {"token-0123456789abcdef"}
    assert len(aws.tasks()) == 1


@pytest.mark.usefixtures("instant_botocore_retries")
def test_throttled_log_read_does_not_mask_the_failure(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_throttled(self: LogsBackend, *args: Any, **kwargs: Any) -> Any:
        raise LogsClientError("ThrottlingException", "Rate exceeded")

    monkeypatch.setattr(LogsBackend, "get_log_events", always_throttled)
    script(aws, fake_time, exit_code=4)

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time)

    assert "exited with code 4" in str(raised.value)
    assert "no log lines found (could not read" in str(raised.value)


# --- another migration of the same stack ------------------------------------------------------


def test_waits_for_a_running_migration_of_the_same_stack_then_runs(
    aws: Aws, fake_time: FakeTime
) -> None:
    other = aws.start_other_migration()

    def other_finishes_at_20(now: float) -> None:
        if now >= 20 and other.last_status != "STOPPED":
            end_task(other, exit_code=0)

    fake_time.on_sleep(other_finishes_at_20)
    scripted = script(aws, fake_time, after=5, exit_code=0, ignore={other.task_arn})

    result = run(aws, fake_time)

    assert scripted.task is not None
    assert result.task_arn == scripted.task.task_arn != other.task_arn
    assert scripted.started_at is not None and scripted.started_at >= 20
    assert len(aws.tasks()) == 2


def test_fails_clearly_when_the_other_migration_outlasts_the_deadline(
    aws: Aws, fake_time: FakeTime
) -> None:
    other = aws.start_other_migration()

    with pytest.raises(MigrationFailed) as raised:
        run(aws, fake_time, aws.request(timeout_seconds=60))

    message = str(raised.value)
    assert "Another migration of this stack" in message
    assert other.task_arn in message
    assert "Not starting a second one" in message
    assert [task.task_arn for task in aws.tasks()] == [other.task_arn]
    assert fake_time.now == pytest.approx(60)


def test_stopped_migrations_and_other_stacks_do_not_block(aws: Aws, fake_time: FakeTime) -> None:
    end_task(aws.start_other_migration(), exit_code=0)
    aws.start_other_migration(started_by="migrate/app/prod")
    scripted = script(
        aws, fake_time, after=5, exit_code=0, ignore={t.task_arn for t in aws.tasks()}
    )

    result = run(aws, fake_time)

    assert result.exit_code == 0
    # Started at once: our task was already there at the first sleep.
    assert scripted.started_at == 2


# --- sessions and requests --------------------------------------------------------------------


def test_without_a_session_the_shared_helper_makes_one_in_the_request_region(
    aws: Aws, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[Any, str]] = []
    real_session_for = aws_session.session_for

    def recording_session_for(identity: Any, region: str) -> boto3.Session:
        made.append((identity, region))
        return real_session_for(identity, region)

    monkeypatch.setattr(aws_session, "session_for", recording_session_for)
    script(aws, fake_time, exit_code=0)

    run_migration(aws.request(), sleep=fake_time.sleep, clock=fake_time.clock)

    # No identity: the default credential chain, as the provider host finds it.
    assert made == [(None, REGION)]


def test_started_by_longer_than_the_ecs_limit_is_rejected(aws: Aws) -> None:
    with pytest.raises(ValueError, match=re.escape("started_by must be 1..36 characters")):
        aws.request(started_by="migrate/" + "x" * 40)


def test_client_token_longer_than_64_characters_is_rejected(aws: Aws) -> None:
    with pytest.raises(ValueError, match="client_token"):
        aws.request(client_token="t" * 65)


@given(project=st.text(min_size=1, max_size=80), stack=st.text(min_size=1, max_size=80))
def test_started_by_for_stack_always_fits_ecs_rules(project: str, stack: str) -> None:
    value = started_by_for_stack(project, stack)

    assert 0 < len(value) <= STARTED_BY_MAX_LENGTH
    assert all(char.isascii() and (char.isalnum() or char in "-_/") for char in value)


def test_started_by_for_stack_keeps_long_stack_names_apart() -> None:
    first = started_by_for_stack("a-rather-long-project-name", "production-eu-west-1")
    second = started_by_for_stack("a-rather-long-project-name", "production-eu-west-2")

    assert first != second
    assert started_by_for_stack("app", "dev") == "migrate/app/dev"
