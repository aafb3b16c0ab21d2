"""`python -m ops STACK status|logs|events|exec` against moto: what a user sees, and clear errors."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto.ecs.models import ecs_backends

from ops import commands
from ops.cli import main
from ops.stack import OpsError, StackOutputs

REGION = "us-east-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms-topic-1234567"
LOG_GROUP = "/ecs/fastapi-fargate-dev"
OUTPUTS = {"region": REGION, "cluster_name": "app", "service_name": "web", "exec_enabled": True}


@pytest.fixture
def aws(mocked_aws):
    return mocked_aws


@pytest.fixture
def deployed(aws) -> dict[str, Any]:
    """A service of 2 tasks, revision 7 running, with events, metrics, alarms and logs."""
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="app")
    arn = ""
    for _ in range(7):
        arn = ecs.register_task_definition(
            family="fastapi-fargate-dev",
            containerDefinitions=[{"name": "app", "image": "repo/app:v7", "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=arn, desiredCount=2)
    backend = ecs_backends[ACCOUNT][REGION]
    service = next(iter(backend.services.values()))
    service.running_count, service.pending_count = 2, 0
    service.deployments[0].update(runningCount=2, rolloutState="COMPLETED")
    base = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    service.events = [
        {"id": "1", "createdAt": base, "message": "(service web) has started 2 tasks."},
        {"id": "3", "createdAt": base + timedelta(minutes=9), "message": "(service web) has reached a steady state."},
        {"id": "2", "createdAt": base + timedelta(minutes=4), "message": "(service web) registered 2 targets."},
    ]  # fmt: skip
    tasks = []
    for _ in range(2):
        task = ecs.run_task(cluster="app", taskDefinition=arn, launchType="FARGATE")["tasks"][0]
        tasks.append(task["taskArn"])
    for n, task in enumerate(backend.tasks["app"].values()):
        task.containers[0].runtime_id = f"runtime-{n}"
        task.containers[0].image_digest = "sha256:" + "ab" * 32

    cloudwatch = aws.client("cloudwatch")
    now = datetime.now(UTC)
    dims = [{"Name": "ClusterName", "Value": "app"}, {"Name": "ServiceName", "Value": "web"}]
    for metric, value in (("CPUUtilization", 20.0), ("MemoryUtilization", 95.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/ECS",
            MetricData=[
                {"MetricName": metric, "Dimensions": dims, "Value": value, "Timestamp": now - timedelta(minutes=m)}
                for m in (5, 15, 25)
            ],
        )  # fmt: skip
    for name, topic in (("dev-errors-1", TOPIC), ("other-stack-alarm", "arn:aws:sns:x:1:other")):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[topic],
        )
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 3 datapoints"
        )
    cloudwatch.put_metric_alarm(
        AlarmName="dev-latency-2",
        Namespace="AWS/ApplicationELB",
        MetricName="TargetResponseTime",
        ExtendedStatistic="p99",
        Period=60,
        EvaluationPeriods=1,
        Threshold=2,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC],
    )

    logs = aws.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    stream = f"app/app/{tasks[0].rsplit('/', 1)[-1]}"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    stamp = int(now.timestamp() * 1000)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": stamp - 3_600_000, "message": "an hour ago"},
            {"timestamp": stamp - 120_000, "message": "GET /notes 200"},
            {"timestamp": stamp - 60_000, "message": "GET /boom 500 ERROR"},
        ],
    )
    outputs = {
        "region": REGION,
        "cluster_name": "app",
        "service_name": "web",
        "log_group_name": LOG_GROUP,
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "ab" * 32,
        "alarm_topic_arn": TOPIC,
        "exec_enabled": True,
        "utilization_band": {"low": 50, "high": 90},
        "migration": {"exit_code": 0, "duration_seconds": 41, "log_stream": "app/app/mig"},
    }
    return {"outputs": outputs, "tasks": tasks, "log_stream": stream, "session": aws}


def outputs_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(values))
    return path


def run_cli(argv: list[str], **kwargs: Any) -> tuple[int, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []
    kwargs.setdefault("which", lambda name: None)
    code = main(argv, write=out.append, error=err.append, **kwargs)
    return code, out, err


class TestStatus:
    def test_status_shows_tasks_deployments_image_migration_alarms_band_and_events(
        self, deployed, tmp_path
    ):
        path = outputs_file(tmp_path, deployed["outputs"])
        code, out, err = run_cli(["dev", "--outputs", str(path), "status"])
        assert (code, err) == (0, [])
        text = "\n".join(out)
        assert out[0] == f"Service web in cluster app ({REGION}), stack dev"
        assert "Tasks: 2 running, 0 pending, 2 desired" in text
        (deployment,) = [line for line in out if "PRIMARY" in line]
        assert "fastapi-fargate-dev:7" in deployment and "COMPLETED" in deployment
        assert "2/2 running" in deployment
        assert "running digests: sha256:" + "ab" * 32 in text
        assert "Last migration: succeeded in 41 s (log stream app/app/mig)" in text
        # Only this stack's alarms (those that notify its topic), and only those in ALARM.
        assert "Alarms in ALARM: 1" in text
        assert "  dev-errors-1: Threshold Crossed: 3 datapoints" in text
        assert "other-stack-alarm" not in text and "dev-latency-2" not in text
        assert "Utilization, last hour (band 50-90 %):" in text
        assert "CPU     average 20 %, peak 20 %: below the band" in text
        assert "memory  average 95 %, peak 95 %: above the band" in text
        events = out[out.index("Recent events:") + 1 :]
        assert [e.split("  ", 2)[-1] for e in events] == [
            "(service web) has reached a steady state.",
            "(service web) registered 2 targets.",
            "(service web) has started 2 tasks.",
        ]

    def test_a_failed_migration_and_no_metrics_are_said_plainly(self, deployed, tmp_path):
        outputs = deployed["outputs"] | {
            "migration": {"exit_code": 3, "duration_seconds": 5, "log_stream": "s"},
            "service_name": "web",
        }
        lines: list[str] = []
        session = deployed["session"]
        commands.status(
            StackOutputs("dev", outputs),
            session,
            lines.append,
            now=datetime.now(UTC) + timedelta(days=2),
        )
        assert "Last migration: failed with exit code 3 in 5 s (log stream s)" in lines
        assert "  CPU     no data (no task ran in the last hour)" in lines

    def test_a_destroyed_service_is_named_with_the_fix(self, deployed, tmp_path):
        deployed["session"].client("ecs").delete_service(cluster="app", service="web", force=True)
        path = outputs_file(tmp_path, deployed["outputs"])
        code, out, err = run_cli(["dev", "--outputs", str(path), "status"])
        assert code == 2 and out == []
        assert "service web is not in cluster app" in err[0]
        assert "pulumi up --stack dev" in err[0]


class TestEvents:
    def test_events_come_newest_first_and_stop_at_the_limit(self, deployed, tmp_path):
        path = outputs_file(tmp_path, deployed["outputs"])
        code, out, _ = run_cli(["dev", "--outputs", str(path), "events", "--limit", "2"])
        assert code == 0
        assert out == [
            "2026-11-27 12:09:00 UTC  (service web) has reached a steady state.",
            "2026-11-27 12:04:00 UTC  (service web) registered 2 targets.",
        ]


class TestLogs:
    def test_logs_since_ten_minutes_leave_older_events_out(self, deployed, tmp_path):
        path = outputs_file(tmp_path, deployed["outputs"])
        code, out, _ = run_cli(["dev", "--outputs", str(path), "logs", "--since", "10m"])
        assert code == 0
        assert [line.split("  ", 1)[1] for line in out] == ["GET /notes 200", "GET /boom 500 ERROR"]
        # Each line names the task by the start of its id (the stream's last part).
        assert out[0].split()[1] == deployed["log_stream"].rsplit("/", 1)[-1][:8]

    def test_a_filter_pattern_selects_the_events(self, deployed, tmp_path):
        path = outputs_file(tmp_path, deployed["outputs"])
        _, out, _ = run_cli(["dev", "--outputs", str(path), "logs", "--filter", "ERROR"])
        assert [line.split("  ", 1)[1] for line in out] == ["GET /boom 500 ERROR"]

    def test_follow_prints_new_events_once_and_stops_at_its_limit(self, deployed):
        session = deployed["session"]
        client = session.client("logs")
        clock = [datetime.now(UTC).timestamp()]
        lines: list[str] = []

        def sleep(seconds: float) -> None:
            # While we wait, the app logs one more line; the clock moves on.
            clock[0] += seconds
            client.put_log_events(
                logGroupName=LOG_GROUP,
                logStreamName=deployed["log_stream"],
                logEvents=[{"timestamp": int(clock[0] * 1000), "message": f"tick {len(lines)}"}],
            )

        commands.logs(
            StackOutputs("dev", deployed["outputs"]),
            session,
            lines.append,
            since=timedelta(minutes=10),
            follow=True,
            now=lambda: clock[0],
            sleep=sleep,
            limit=5,
        )
        messages = [line.split("  ", 1)[1] for line in lines[:-1]]
        assert messages == ["GET /notes 200", "GET /boom 500 ERROR", "tick 2", "tick 3", "tick 4"]
        assert lines[-1].startswith("(stopped following after")

    @pytest.mark.parametrize("text", ["10", "ten minutes", "5w"])
    def test_a_bad_since_is_refused_with_the_format(self, text):
        with pytest.raises(OpsError, match="use a number and a unit, like 30s, 10m, 2h or 1d"):
            commands.parse_since(text)

    def test_since_understands_seconds_to_days(self):
        assert commands.parse_since("30s") == timedelta(seconds=30)
        assert commands.parse_since("2h") == timedelta(hours=2)
        assert commands.parse_since("1d") == timedelta(days=1)


class RecordingEcs:
    """moto's ECS client, with ExecuteCommand (which moto lacks) checked against botocore's
    model of its input and answered in the documented output shape."""

    def __init__(self, client: Any):
        self._client = client
        self.calls: list[dict[str, Any]] = []
        model = botocore.session.get_session().get_service_model("ecs")
        self._shape = model.operation_model("ExecuteCommand").input_shape

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def execute_command(self, **params: Any) -> dict[str, Any]:
        report = ParamValidator().validate(params, self._shape)
        assert not report.has_errors(), report.generate_report()
        self.calls.append(params)
        return {
            "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/app",
            "containerName": params["container"],
            "taskArn": params["task"],
            "interactive": True,
            "session": {"sessionId": "ecs-execute-command-1", "streamUrl": "wss://x", "tokenValue": "t"},
        }  # fmt: skip


class TestExec:
    def test_exec_calls_execute_command_and_hands_the_session_to_the_plugin(self, deployed):
        session = deployed["session"]
        ecs = RecordingEcs(session.client("ecs"))
        launched: list[list[str]] = []

        def run(argv: list[str], **_: Any) -> Any:
            launched.append(argv)
            return type("Done", (), {"returncode": 0})()

        lines: list[str] = []
        code = commands.exec_(
            StackOutputs("dev", deployed["outputs"]),
            session,
            lines.append,
            ["sh", "-c", "python -m api.migrate --check"],
            which=lambda name: f"/usr/local/bin/{name}",
            run=run,
            ecs=ecs,
        )
        assert code == 0
        (call,) = ecs.calls
        task = deployed["tasks"][0]
        assert call == {
            "cluster": "app",
            "task": task,
            "container": "app",
            "interactive": True,
            # The argument with spaces stays one argument.
            "command": "sh -c 'python -m api.migrate --check'",
        }
        (argv,) = launched
        assert argv[0] == "/usr/local/bin/session-manager-plugin"
        assert json.loads(argv[1])["sessionId"] == "ecs-execute-command-1"
        assert argv[2:4] == [REGION, "StartSession"]
        task_id = task.rsplit("/", 1)[-1]
        assert json.loads(argv[5]) == {"Target": f"ecs:app_{task_id}_runtime-0"}
        assert argv[6].startswith("https://ecs.us-east-1.amazonaws.com")

    def test_without_the_plugin_exec_says_how_to_install_it_before_calling_aws(self, tmp_path):
        # No AWS at all here: the plugin is looked for before any call.
        path = outputs_file(tmp_path, OUTPUTS)
        code, _, err = run_cli(["dev", "--outputs", str(path), "exec", "--", "ls"])
        assert code == 2
        assert "Session Manager plugin (session-manager-plugin) is not on PATH" in err[0]
        assert "session-manager-working-with-install-plugin" in err[0]

    def test_the_command_after_the_double_dash_reaches_the_task(self, tmp_path, monkeypatch):
        seen: list[list[str]] = []
        monkeypatch.setattr(commands, "exec_", lambda o, s, w, cmd, **_: seen.append(cmd) or 0)
        path = outputs_file(tmp_path, OUTPUTS)
        assert run_cli(["dev", "--outputs", str(path), "exec", "--", "ls", "-la"])[0] == 0
        assert run_cli(["dev", "--outputs", str(path), "exec"])[0] == 0
        assert seen == [["ls", "-la"], []]

    def test_exec_on_a_stack_with_exec_off_names_the_setting(self, tmp_path):
        path = outputs_file(tmp_path, OUTPUTS | {"exec_enabled": False})
        code, _, err = run_cli(["prod", "--outputs", str(path), "exec"])
        assert code == 2
        assert "ECS Exec is off for stack prod (service.exec" in err[0]


class TestOutputsAndCredentials:
    def test_a_stack_without_outputs_has_not_been_deployed(self, tmp_path):
        path = outputs_file(tmp_path, {})
        code, _, err = run_cli(["dev", "--outputs", str(path), "status"])
        assert code == 2
        assert err == [
            "error: stack dev has no outputs: it has not been deployed yet (or was destroyed). "
            "Deploy it with `pulumi up --stack dev`."
        ]

    def test_without_the_pulumi_cli_the_outputs_file_is_the_way(self):
        code, _, err = run_cli(["dev", "status"])
        assert code == 2
        assert "the Pulumi CLI is not on PATH" in err[0] and "--outputs FILE" in err[0]

    def test_the_outputs_come_from_the_pulumi_cli_without_secrets(self, deployed, tmp_path):
        pulumi = tmp_path / "pulumi"
        record = tmp_path / "argv"
        pulumi.write_text(
            "#!/bin/sh\n"
            f'echo "$@" > {record}\n'
            f"cat <<'EOF'\n{json.dumps(deployed['outputs'])}\nEOF\n"
        )
        pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
        code, out, err = run_cli(
            ["dev", "events"], which=lambda n: str(pulumi) if n == "pulumi" else None
        )
        assert (code, err) == (0, [])
        assert out[0].endswith("(service web) has reached a steady state.")
        assert record.read_text().split() == [
            "stack", "output", "--json", "--show-secrets=false", "--stack", "dev"
        ]  # fmt: skip

    def test_a_failing_pulumi_cli_is_reported_with_its_last_line(self, tmp_path):
        pulumi = tmp_path / "pulumi"
        pulumi.write_text("#!/bin/sh\necho 'error: no stack named dev found' >&2\nexit 255\n")
        pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
        code, _, err = run_cli(["dev", "status"], which=lambda n: str(pulumi))
        assert code == 2
        assert "`pulumi stack output --stack dev` failed: error: no stack named dev found" in err[0]

    def test_missing_credentials_are_a_message_not_a_traceback(self, tmp_path, monkeypatch):
        for key in list(os.environ):
            if key.startswith("AWS_"):
                monkeypatch.delenv(key)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        path = outputs_file(
            tmp_path, {"region": REGION, "cluster_name": "app", "service_name": "web"}
        )
        code, _, err = run_cli(["dev", "--outputs", str(path), "events"])
        assert code == 2
        assert err[0].startswith("error: no usable AWS credentials")
        assert "aws sso login" in err[0]
