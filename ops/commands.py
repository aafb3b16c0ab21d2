"""What each ``ops`` subcommand asks AWS and prints.

Each command takes the stack's outputs, a boto3 session and a ``write`` function for its lines,
so the tests run them against moto and read what a user would see.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from ops.stack import OpsError, StackOutputs

Write = Callable[[str], None]

# The band the project keeps utilization in, when the stack does not export its own.
DEFAULT_BAND = {"low": 50, "high": 90}
CONTAINER = "app"
FOLLOW_INTERVAL = 2.0
# `logs --follow` stops after this long: a forgotten terminal does not poll for ever.
FOLLOW_LIMIT = 3600.0
SESSION_MANAGER_PLUGIN = "session-manager-plugin"
PLUGIN_INSTALL = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html"
)
_SINCE = re.compile(r"^(\d+)([smhd])$")


def parse_since(text: str) -> timedelta:
    """``10m`` -> 10 minutes; s, m, h and d are understood."""
    match = _SINCE.match(text.strip())
    if not match:
        raise OpsError(f"--since {text}: use a number and a unit, like 30s, 10m, 2h or 1d.")
    amount, unit = int(match[1]), match[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def _when(value: datetime | None) -> str:
    if value is None:
        return "?"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe_service(ecs: Any, outputs: StackOutputs) -> Mapping[str, Any]:
    answer = ecs.describe_services(cluster=outputs.cluster, services=[outputs.service])
    services = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        raise OpsError(
            f"service {outputs.service} is not in cluster {outputs.cluster} "
            f"({outputs.region}): the stack was destroyed, or its outputs are out of date. "
            f"Deploy it with `pulumi up --stack {outputs.stack}`."
        )
    return services[0]


def revision(task_definition_arn: str) -> str:
    """``arn:...:task-definition/family:7`` -> ``family:7``."""
    return task_definition_arn.rsplit("/", 1)[-1]


# --- status ------------------------------------------------------------------------------------


def status(
    outputs: StackOutputs, session: boto3.Session, write: Write, *, now: datetime | None = None
) -> None:
    ecs = session.client("ecs")
    service = _describe_service(ecs, outputs)
    write(
        f"Service {outputs.service} in cluster {outputs.cluster} ({outputs.region}), stack {outputs.stack}"
    )
    write(
        f"Tasks: {service.get('runningCount', 0)} running, {service.get('pendingCount', 0)} "
        f"pending, {service.get('desiredCount', 0)} desired"
    )
    write("Deployments:")
    for d in service.get("deployments", []):
        write(
            f"  {d.get('status', '?'):<8} {revision(d.get('taskDefinition', '?')):<28} "
            f"{d.get('rolloutState', '?'):<11} {d.get('runningCount', 0)}/{d.get('desiredCount', 0)} "
            f"running, started {_when(d.get('createdAt'))}"
        )
        if d.get("rolloutState") == "FAILED" and d.get("rolloutStateReason"):
            write(f"           {d['rolloutStateReason']}")
    _image(outputs, ecs, write)
    _migration(outputs, write)
    _alarms(outputs, session.client("cloudwatch"), write)
    _utilization(outputs, session.client("cloudwatch"), write, now or datetime.now(UTC))
    write("Recent events:")
    for event in _events(service)[:5]:
        write(f"  {_when(event.get('createdAt'))}  {event.get('message', '')}")
    if not service.get("events"):
        write("  none")


def _image(outputs: StackOutputs, ecs: Any, write: Write) -> None:
    deployed = outputs.values.get("image") or "?"
    arns = ecs.list_tasks(
        cluster=outputs.cluster, serviceName=outputs.service, desiredStatus="RUNNING"
    ).get("taskArns", [])
    digests: set[str] = set()
    if arns:
        tasks = ecs.describe_tasks(cluster=outputs.cluster, tasks=arns[:100]).get("tasks", [])
        digests = {
            c["imageDigest"]
            for t in tasks
            for c in t.get("containers", [])
            if c.get("name") == CONTAINER and c.get("imageDigest")
        }
    write(f"Image: {deployed}")
    if digests:
        write(f"  running digests: {', '.join(sorted(digests))}")


def _migration(outputs: StackOutputs, write: Write) -> None:
    migration = outputs.values.get("migration")
    if not isinstance(migration, Mapping):
        write("Last migration: none recorded (migration.enabled is off, or not deployed yet)")
        return
    code = migration.get("exit_code")
    result = "succeeded" if code == 0 else f"failed with exit code {code}"
    write(
        f"Last migration: {result} in {migration.get('duration_seconds', '?')} s "
        f"(log stream {migration.get('log_stream', '?')})"
    )


def _alarms(outputs: StackOutputs, cloudwatch: Any, write: Write) -> None:
    topic = outputs.values.get("alarm_topic_arn")
    if not topic:
        write("Alarms: off for this stack (alarms.enabled)")
        return
    firing = [
        a
        for page in cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM")
        for a in page.get("MetricAlarms", [])
        if topic in a.get("AlarmActions", [])
    ]
    if not firing:
        write("Alarms in ALARM: none")
        return
    write(f"Alarms in ALARM: {len(firing)}")
    for alarm in firing:
        write(f"  {alarm['AlarmName']}: {alarm.get('StateReason', '')}")


def band_verdict(value: float, low: float, high: float) -> str:
    if value > high:
        return "above the band: scale out or give tasks more"
    if value < low:
        return "below the band: tasks are larger, or more, than needed"
    return "in the band"


def _utilization(outputs: StackOutputs, cloudwatch: Any, write: Write, now: datetime) -> None:
    band = outputs.values.get("utilization_band") or DEFAULT_BAND
    low, high = float(band["low"]), float(band["high"])
    write(f"Utilization, last hour (band {low:g}-{high:g} %):")
    for label, metric in (("CPU", "CPUUtilization"), ("memory", "MemoryUtilization")):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/ECS",
            MetricName=metric,
            Dimensions=[
                {"Name": "ClusterName", "Value": outputs.cluster},
                {"Name": "ServiceName", "Value": outputs.service},
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now,
            Period=3600,
            Statistics=["Average", "Maximum"],
        ).get("Datapoints", [])
        if not points:
            write(f"  {label:<7} no data (no task ran in the last hour)")
            continue
        average = sum(p["Average"] for p in points) / len(points)
        peak = max(p["Maximum"] for p in points)
        write(
            f"  {label:<7} average {average:.0f} %, peak {peak:.0f} %: "
            f"{band_verdict(average, low, high)}"
        )


# --- events ------------------------------------------------------------------------------------


def _events(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(
        service.get("events", []), key=lambda e: e.get("createdAt") or epoch, reverse=True
    )


def events(outputs: StackOutputs, session: boto3.Session, write: Write, *, limit: int = 20) -> None:
    service = _describe_service(session.client("ecs"), outputs)
    recent = _events(service)[:limit]
    if not recent:
        write(f"No events for service {outputs.service} yet.")
    for event in recent:
        write(f"{_when(event.get('createdAt'))}  {event.get('message', '')}")


# --- logs --------------------------------------------------------------------------------------


def _print_events(found: Iterable[Mapping[str, Any]], write: Write) -> None:
    for e in found:
        stamp = datetime.fromtimestamp(e["timestamp"] / 1000, UTC).strftime("%H:%M:%S")
        task = e.get("logStreamName", "").rsplit("/", 1)[-1][:8]
        write(f"{stamp} {task}  {e.get('message', '').rstrip()}")


def logs(
    outputs: StackOutputs,
    session: boto3.Session,
    write: Write,
    *,
    since: timedelta,
    pattern: str | None = None,
    follow: bool = False,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    limit: float = FOLLOW_LIMIT,
) -> None:
    """The app's log events since ``since`` ago; with ``follow``, new ones every few seconds
    until interrupted or ``limit`` seconds have passed."""
    group = str(outputs.require("log_group_name"))
    client = session.client("logs")
    start = int((now() - since.total_seconds()) * 1000)
    seen: set[str] = set()
    began = now()
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start}
        if pattern:
            kwargs["filterPattern"] = pattern
        found = [
            e
            for page in client.get_paginator("filter_log_events").paginate(**kwargs)
            for e in page.get("events", [])
            if e["eventId"] not in seen
        ]
        found.sort(key=lambda e: (e["timestamp"], e["eventId"]))
        _print_events(found, write)
        seen.update(e["eventId"] for e in found)
        if found:
            # The last millisecond again: events of the same millisecond may still arrive.
            start = found[-1]["timestamp"]
        if not follow:
            return
        if now() - began >= limit:
            write(f"(stopped following after {limit / 60:g} min; run again to go on)")
            return
        sleep(FOLLOW_INTERVAL)


# --- exec --------------------------------------------------------------------------------------


def session_target(cluster: str, task_arn: str, runtime_id: str) -> dict[str, str]:
    """The Session Manager target of a container: ``ecs:CLUSTER_TASKID_RUNTIMEID`` (the AWS
    CLI's ``build_ssm_request_paramaters`` in awscli/customizations/ecs/executecommand.py)."""
    return {
        "Target": f"ecs:{cluster.rsplit('/', 1)[-1]}_{task_arn.rsplit('/', 1)[-1]}_{runtime_id}"
    }


def exec_(
    outputs: StackOutputs,
    session: boto3.Session,
    write: Write,
    command: Sequence[str],
    *,
    which: Callable[[str], str | None],
    run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run,
    ecs: Any = None,
) -> int:
    """Open ECS Exec into a running task of the service and hand the session to the Session
    Manager plugin, as ``aws ecs execute-command`` does (awscli/customizations/ecs/
    executecommand.py, ``ExecuteCommandCaller.invoke``)."""
    if outputs.values.get("exec_enabled") is False:
        raise OpsError(
            f"ECS Exec is off for stack {outputs.stack} (service.exec; production stacks default "
            f"to off and the policy pack refuses it there). For a development stack: `pulumi "
            f"config set --path service.exec on --stack {outputs.stack}` and `pulumi up`."
        )
    plugin = which(SESSION_MANAGER_PLUGIN)
    if plugin is None:
        raise OpsError(
            f"the Session Manager plugin ({SESSION_MANAGER_PLUGIN}) is not on PATH; ECS Exec "
            f"needs it to open the shell. Install it: {PLUGIN_INSTALL}"
        )
    ecs = ecs or session.client("ecs")
    arns = ecs.list_tasks(
        cluster=outputs.cluster, serviceName=outputs.service, desiredStatus="RUNNING"
    ).get("taskArns", [])
    if not arns:
        raise OpsError(
            f"service {outputs.service} has no running task to enter; see "
            f"`.venv/bin/python -m ops {outputs.stack} events`."
        )
    task = ecs.describe_tasks(cluster=outputs.cluster, tasks=[arns[0]])["tasks"][0]
    container = next((c for c in task.get("containers", []) if c.get("name") == CONTAINER), None)
    runtime_id = (container or {}).get("runtimeId")
    if not runtime_id:
        raise OpsError(f"task {arns[0]} has no running container {CONTAINER!r} yet; try again.")
    # One string, as `aws ecs execute-command --command` takes it: quoted so that an argument
    # with spaces (`-- sh -c "ls -la /app"`) stays one argument.
    shell = shlex.join(command) if command else "/bin/sh"
    write(f"Entering task {arns[0].rsplit('/', 1)[-1]} ({CONTAINER}): {shell}")
    answer = ecs.execute_command(
        cluster=outputs.cluster,
        task=arns[0],
        container=CONTAINER,
        interactive=True,
        command=shell,
    )
    target = session_target(
        answer.get("clusterArn", outputs.cluster), answer.get("taskArn", arns[0]), runtime_id
    )
    done = run(
        [
            plugin,
            json.dumps(answer["session"]),
            outputs.region,
            "StartSession",
            session.profile_name if session.profile_name != "default" else "",
            json.dumps(target),
            ecs.meta.endpoint_url,
        ],
        check=False,
    )
    return int(done.returncode)
