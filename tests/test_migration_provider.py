"""Specification of the MigrationRun dynamic provider: when it runs, what it stores, what it pickles.

``diff``/``update`` are tested with the runner replaced by a recorder (they decide *whether* to
run); ``create`` is tested end to end against moto, where the migration task finishes at once.
"""

from __future__ import annotations

import base64
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import dill
import pulumi
import pulumi.dynamic
import pytest
from moto import mock_aws
from moto.ecs.models import EC2ContainerServiceBackend
from moto.moto_api import state_manager
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from components import migration_runner
from components.migration import (
    INPUT_KEYS,
    MigrationRun,
    MigrationRunArgs,
    MigrationRunProvider,
    request_from_inputs,
)
from components.migration_runner import MigrationFailed, MigrationResult, started_by_for_stack
from pulumi_harness import PROJECT, render

REGION = "eu-west-1"
SECRET_VALUE = "s3cr3t-database-password"
TASK_DEF_7 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7"
TASK_DEF_8 = "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:8"
TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/app-cluster/0123456789abcdef"


def inputs(**changes: Any) -> dict[str, Any]:
    """Resource inputs as the engine passes them (plus the serialized provider)."""
    base: dict[str, Any] = {
        "cluster": "app-cluster",
        "task_definition": TASK_DEF_7,
        "container_name": "web",
        "command": ["python", "-m", "api.migrate"],
        "subnets": ["subnet-1", "subnet-2"],
        "security_groups": ["sg-1"],
        "assign_public_ip": False,
        "started_by": "migrate/app/dev",
        "timeout_seconds": 900,
        "log_group": "/ecs/app",
        "log_stream_prefix": "app",
        "region": REGION,
        "account_id": None,
        "nonce": "",
        "app_secrets": {},
        "generated_secrets": [],
        "stack": "dev",
        "__provider": "serialized-provider-v1",
    }
    return {**base, **changes}


def stored(**changes: Any) -> dict[str, Any]:
    """Outputs of an earlier successful run, as state holds them (numbers come back as floats)."""
    return {
        **inputs(**changes),
        "timeout_seconds": 900.0,
        "task_arn": TASK_ARN,
        "exit_code": 0.0,
        "duration_seconds": 42.0,
        "log_stream": "app/web/0123456789abcdef",
    }


@dataclass
class RecordedRuns:
    requests: list[migration_runner.MigrationRequest]
    fail_with: Exception | None = None


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> RecordedRuns:
    """Replace the runner: record each request, answer success (or raise ``fail_with``)."""
    recorded = RecordedRuns([])

    def fake_run(request: migration_runner.MigrationRequest, **_: Any) -> MigrationResult:
        recorded.requests.append(request)
        if recorded.fail_with is not None:
            raise recorded.fail_with
        return MigrationResult(
            task_arn=TASK_ARN.replace("0123", "9999"),
            exit_code=0,
            duration_seconds=12.345,
            log_stream="app/web/9999456789abcdef",
        )

    monkeypatch.setattr(migration_runner, "run_migration", fake_run)
    return recorded


# --- diff: what preview shows -----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"task_definition": TASK_DEF_8},
        {"command": ["python", "-m", "api.migrate", "--verbose"]},
        {"nonce": "2024-06-01"},
    ],
    ids=["task_definition", "command", "nonce"],
)
def test_diff_reports_an_in_place_update_when_a_run_trigger_changes(change: dict[str, Any]) -> None:
    result = MigrationRunProvider().diff("id", stored(), inputs(**change))

    assert result.changes is True
    assert result.replaces == []


def test_diff_shows_the_run_during_preview_while_the_new_revision_is_unknown() -> None:
    result = MigrationRunProvider().diff("id", stored(), inputs(task_definition=rpc.UNKNOWN))

    assert result.changes is True
    assert result.replaces == []


def test_diff_reports_no_change_for_the_same_inputs() -> None:
    # A new pickle of the provider (code change) is not a reason to migrate.
    news = inputs(__provider="serialized-provider-v2")

    result = MigrationRunProvider().diff("id", stored(), news)

    assert result.changes is False


def test_diff_reports_other_input_changes_so_state_keeps_them() -> None:
    result = MigrationRunProvider().diff("id", stored(), inputs(subnets=["subnet-3"]))

    assert result.changes is True
    assert result.replaces == []


# --- update: whether the migration runs -------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"task_definition": TASK_DEF_8},
        {"command": ["alembic", "upgrade", "head"]},
        {"nonce": "force-1"},
    ],
    ids=["task_definition", "command", "nonce"],
)
def test_update_runs_the_migration_when_a_run_trigger_changed(
    runs: RecordedRuns, change: dict[str, Any]
) -> None:
    result = MigrationRunProvider().update("id", stored(), inputs(**change))

    [request] = runs.requests
    assert request.task_definition == inputs(**change)["task_definition"]
    assert request.command == inputs(**change)["command"]
    assert result.outs is not None
    assert result.outs["task_arn"] == TASK_ARN.replace("0123", "9999")
    assert result.outs["duration_seconds"] == 12.3


@pytest.mark.parametrize(
    "change",
    [
        {"subnets": ["subnet-3"]},
        {"security_groups": ["sg-2"]},
        {"timeout_seconds": 1800},
        {"assign_public_ip": True},
        {"log_group": "/ecs/renamed"},
    ],
    ids=["subnets", "security_groups", "timeout", "public_ip", "log_group"],
)
def test_update_without_a_run_trigger_only_stores_the_new_inputs(
    runs: RecordedRuns, change: dict[str, Any]
) -> None:
    old = stored()

    result = MigrationRunProvider().update("id", old, inputs(**change))

    assert runs.requests == []
    assert result.outs is not None
    for key, value in change.items():
        assert result.outs[key] == value
    for key in ("task_arn", "exit_code", "duration_seconds", "log_stream"):
        assert result.outs[key] == old[key]
    assert "__provider" not in result.outs


def test_failed_update_raises_so_pulumi_keeps_the_old_state(runs: RecordedRuns) -> None:
    runs.fail_with = MigrationFailed("Migration exited with code 1")

    with pytest.raises(MigrationFailed, match="exited with code 1"):
        MigrationRunProvider().update("id", stored(), inputs(task_definition=TASK_DEF_8))


# --- create -----------------------------------------------------------------------------------


def test_create_passes_every_input_to_the_runner_with_a_fresh_client_token(
    runs: RecordedRuns,
) -> None:
    provider = MigrationRunProvider()

    provider.create(inputs(timeout_seconds=600.0))
    provider.create(inputs())

    first, second = runs.requests
    assert first.cluster == "app-cluster"
    assert first.container_name == "web"
    assert first.subnets == ["subnet-1", "subnet-2"]
    assert first.security_groups == ["sg-1"]
    assert first.started_by == "migrate/app/dev"
    assert first.timeout_seconds == 600
    assert first.log_group == "/ecs/app"
    assert first.log_stream_prefix == "app"
    assert first.region == REGION
    assert 0 < len(first.client_token) <= 64
    # A new token per run: a retried `pulumi up` must start a new task, not get the old one back.
    assert first.client_token != second.client_token


def test_failed_create_raises_so_the_next_up_runs_again(runs: RecordedRuns) -> None:
    runs.fail_with = MigrationFailed("Migration task stopped without an exit code")

    with pytest.raises(MigrationFailed, match="without an exit code"):
        MigrationRunProvider().create(inputs())


@pytest.fixture
def moto_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A moto ECS cluster where every task ends at once with exit code 0."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Loading moto's default AMIs costs most of the setup time; no test needs them.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    original = EC2ContainerServiceBackend.run_task

    def run_and_finish(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            task.last_status = task.desired_status = "STOPPED"
            task.stop_code = "EssentialContainerExited"
            task.containers[0].exitCode = 0
        return tasks

    monkeypatch.setattr(EC2ContainerServiceBackend, "run_task", run_and_finish)
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    try:
        with mock_aws():
            ec2 = boto3.client("ec2", region_name=REGION)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
            group = ec2.create_security_group(GroupName="t", Description="t", VpcId=vpc)["GroupId"]
            ecs = boto3.client("ecs", region_name=REGION)
            ecs.create_cluster(clusterName="app-cluster")
            task_definition = ecs.register_task_definition(
                family="app",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                containerDefinitions=[
                    {
                        "name": "web",
                        "image": "app:abc123",
                        "memory": 512,
                        "environment": [{"name": "DATABASE_PASSWORD", "value": SECRET_VALUE}],
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]
            yield {"subnet": subnet, "security_group": group, "task_definition": task_definition}
    finally:
        state_manager.unset_transition("ecs::task")


def test_create_runs_the_task_and_outputs_its_arn_exit_code_duration_and_log_stream(
    moto_cluster: dict[str, str],
) -> None:
    props = inputs(
        task_definition=moto_cluster["task_definition"],
        subnets=[moto_cluster["subnet"]],
        security_groups=[moto_cluster["security_group"]],
    )

    result = MigrationRunProvider().create(props)

    outs = result.outs
    assert outs is not None
    started = boto3.client("ecs", region_name=REGION).list_tasks(
        cluster="app-cluster", startedBy="migrate/app/dev"
    )["taskArns"]
    assert started == [outs["task_arn"]]
    assert outs["exit_code"] == 0
    assert outs["duration_seconds"] >= 0
    assert outs["log_stream"] == f"app/web/{outs['task_arn'].rsplit('/', 1)[-1]}"
    assert {key: outs[key] for key in INPUT_KEYS} == {key: props[key] for key in INPUT_KEYS}
    assert "__provider" not in outs
    assert SECRET_VALUE not in repr(outs)
    assert result.id


# --- app secrets: checked, API_TOKEN generated, before the migration task starts -------------


@pytest.fixture
def app_secrets(moto_cluster: dict[str, str]) -> dict[str, str]:
    """Secrets as the stack creates them: no version (the values are set with ops)."""
    client = boto3.client("secretsmanager", region_name=REGION)
    return {
        name: client.create_secret(Name=f"fastapi-fargate/dev/{name}")["ARN"]
        for name in ("API_TOKEN", "STRIPE_KEY")
    }


def _props_with(moto_cluster: dict[str, str], secrets: dict[str, str]) -> dict[str, Any]:
    return inputs(
        task_definition=moto_cluster["task_definition"],
        subnets=[moto_cluster["subnet"]],
        security_groups=[moto_cluster["security_group"]],
        app_secrets=secrets,
        generated_secrets=["API_TOKEN"],
    )


def _tasks_started() -> list[str]:
    return boto3.client("ecs", region_name=REGION).list_tasks(
        cluster="app-cluster", startedBy="migrate/app/dev"
    )["taskArns"]


def test_a_secret_without_a_value_stops_the_rollout_naming_the_command_that_sets_it(
    moto_cluster: dict[str, str], app_secrets: dict[str, str]
) -> None:
    with pytest.raises(MigrationFailed) as caught:
        MigrationRunProvider().create(_props_with(moto_cluster, app_secrets))

    message = str(caught.value)
    assert "no value yet: STRIPE_KEY (service.appSecrets names them)" in message
    assert "`.venv/bin/python -m ops dev secrets set STRIPE_KEY`" in message
    assert "then run `pulumi up` again" in message
    assert _tasks_started() == []  # no migration, no rollout (the service waits for this)


def test_api_token_is_generated_once_and_never_returned_stored_or_pickled(
    moto_cluster: dict[str, str], app_secrets: dict[str, str]
) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.put_secret_value(SecretId=app_secrets["STRIPE_KEY"], SecretString=SECRET_VALUE)
    provider = MigrationRunProvider()

    result = provider.create(_props_with(moto_cluster, app_secrets))

    token = client.get_secret_value(SecretId=app_secrets["API_TOKEN"])["SecretString"]
    assert len(token) == 43  # secrets.token_urlsafe(32): 256 random bits
    assert _tasks_started() == [result.outs["task_arn"]]
    as_pulumi_stores_it = base64.b64decode(serialize_provider(provider))
    for place in (repr(result.outs), as_pulumi_stores_it.decode("latin-1"), repr(vars(provider))):
        assert token not in place and SECRET_VALUE not in place
    # The next release keeps it: a token already handed to clients must not change.
    provider.update("id", result.outs, _props_with(moto_cluster, app_secrets) | {"nonce": "2"})
    assert client.get_secret_value(SecretId=app_secrets["API_TOKEN"])["SecretString"] == token
    assert the_stored_value_of(client, app_secrets["STRIPE_KEY"]) == SECRET_VALUE


def the_stored_value_of(client: Any, arn: str) -> str:
    return client.get_secret_value(SecretId=arn)["SecretString"]


def test_a_secret_set_with_ops_is_left_alone(
    moto_cluster: dict[str, str], app_secrets: dict[str, str]
) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    for arn in app_secrets.values():
        client.put_secret_value(SecretId=arn, SecretString="chosen-by-a-person")

    made = migration_runner.ensure_app_secrets(
        boto3.Session(), REGION, app_secrets, generated=["API_TOKEN"], stack="dev"
    )

    assert made == []
    assert the_stored_value_of(client, app_secrets["API_TOKEN"]) == "chosen-by-a-person"


def test_a_missing_secret_is_a_clear_failure_not_a_traceback(moto_cluster: dict[str, str]) -> None:
    gone = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:fastapi-fargate/dev/GONE-AbCdEf"
    with pytest.raises(
        MigrationFailed, match=r"could not check the app secret GONE .*DescribeSecret"
    ):
        migration_runner.ensure_app_secrets(
            boto3.Session(), REGION, {"GONE": gone}, generated=[], stack="dev"
        )


# --- delete and pickling ----------------------------------------------------------------------


def test_delete_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_aws(*_: Any, **__: Any) -> None:
        raise AssertionError("delete must not call AWS")

    monkeypatch.setattr(boto3, "Session", no_aws)
    monkeypatch.setattr(migration_runner, "run_migration", no_aws)

    assert MigrationRunProvider().delete("id", stored()) is None


def test_provider_pickles_without_clients_sessions_or_state(runs: RecordedRuns) -> None:
    provider = MigrationRunProvider()
    provider.create(inputs())  # nothing may stick to the instance while running

    plain = pickle.dumps(provider)
    as_pulumi_stores_it = base64.b64decode(serialize_provider(provider))

    assert vars(provider) == {}
    for blob in (plain, as_pulumi_stores_it):
        for needle in (b"boto", b"Session", b"client", b"botocore", SECRET_VALUE.encode()):
            assert needle not in blob
    assert isinstance(dill.loads(as_pulumi_stores_it), MigrationRunProvider)


# --- check ------------------------------------------------------------------------------------


def test_check_rejects_a_started_by_ecs_would_refuse() -> None:
    result = MigrationRunProvider().check({}, inputs(started_by="migrate/" + "x" * 40))

    assert [failure.property for failure in result.failures] == ["started_by"]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"started_by": "migrate app dev"}, "started_by", "may only contain letters"),
        ({"timeout_seconds": 0}, "timeout_seconds", "must be positive"),
        ({"command": []}, "command", "non-empty list of strings"),
        ({"subnets": []}, "subnets", "awsvpc needs at least one"),
        ({"cluster": ""}, "cluster", "cluster is empty"),
        ({"log_stream_prefix": None}, "log_stream_prefix", "must be given together"),
    ],
    ids=["started_by-chars", "timeout", "command", "subnets", "cluster", "log-pair"],
)
def test_check_reports_what_the_runner_would_refuse_per_input(
    change: dict[str, Any], field: str, problem: str
) -> None:
    result = MigrationRunProvider().check({}, inputs(**change))

    assert [(f.property, problem in f.reason) for f in result.failures] == [(field, True)]
    # The same rule, word for word, as the runner's own validation.
    with pytest.raises(ValueError, match=problem):
        request_from_inputs(inputs(**change), client_token="t")


def test_check_accepts_valid_inputs() -> None:
    assert MigrationRunProvider().check({}, inputs()).failures == []


def test_check_accepts_unknown_values_during_preview() -> None:
    result = MigrationRunProvider().check(
        {},
        inputs(
            task_definition=rpc.UNKNOWN,
            started_by=rpc.UNKNOWN,
            subnets=[rpc.UNKNOWN],
            command=rpc.UNKNOWN,
            log_group=rpc.UNKNOWN,
        ),
    )

    assert result.failures == []


# --- the resource -----------------------------------------------------------------------------


def test_resource_registers_plain_inputs_and_names_the_stack_in_started_by() -> None:
    def program() -> None:
        MigrationRun(
            "migration-run",
            MigrationRunArgs(
                cluster="app-cluster",
                task_definition=pulumi.Output.from_input(TASK_DEF_7),
                container_name="web",
                command=["python", "-m", "api.migrate"],
                subnets=["subnet-1"],
                security_groups=["sg-1"],
                region=REGION,
                account_id="123456789012",
                log_group="/ecs/app",
                log_stream_prefix="app",
                nonce="1",
            ),
        )

    rendered = render(program=program)

    resource = rendered.one("pulumi-python:dynamic/migration:MigrationRun", "migration-run")
    assert resource["task_definition"] == TASK_DEF_7
    assert resource["command"] == ["python", "-m", "api.migrate"]
    assert resource["started_by"] == started_by_for_stack(PROJECT, "dev")
    assert resource["timeout_seconds"] == 900
    assert resource["nonce"] == "1"
    assert resource["account_id"] == "123456789012"
    assert resource.secret_inputs == set()
