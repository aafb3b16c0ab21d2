"""The two dynamic providers as the engine runs them: in Pulumi's own provider host, over gRPC.

``pulumi up`` does not call the providers in the program's process. The CLI starts
``pulumi-resource-pulumi-python`` (i.e. ``python -u -m pulumi.dynamic``) in the project
directory; the host prints its port, the engine calls ``Configure`` with the stack's whole
config (pulumi/pulumi ``pkg/resource/deploy/target.go`` ``GetPackageConfig``) and then
``Check``/``Diff``/``Create``/``Read``/``Delete`` with the resource's inputs, including the
dill-pickled provider under ``__provider``, which the host unpickles by reference
(``pulumi/dynamic/__main__.py`` ``get_provider``). A failed call comes back as gRPC ``UNKNOWN``
with the traceback (``_abort_with_traceback``): that text is what the user reads.

Here the host is that module in a separate process, the inputs are those the program renders
(with moto's ids in place of the mocks' ids), and AWS is a moto server on 127.0.0.1 that the
host reaches through ``AWS_ENDPOINT_URL``. The moto server runs in this process, so its ECS
backend can be scripted: a migration task stops at once with exit code 0, or 3 for the
``app-broken`` task definition (writing a log line first, as awslogs would).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import grpc
import pytest
from google.protobuf import struct_pb2
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends
from moto.logs.models import logs_backends
from moto.moto_api import state_manager
from moto.server import ThreadedMotoServer
from moto.sts.models import sts_backends
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_harness import ACCOUNT, REGION, ROOT, render

MIGRATION = "pulumi-python:dynamic/migration:MigrationRun"
ROLLOUT = "pulumi-python:dynamic/rollout:RolloutCheck"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/deploy"
OTHER_ACCOUNT = "111111111111"
RPC_TIMEOUT = 30
assert ACCOUNT == DEFAULT_ACCOUNT_ID  # the rendered account_id is moto's account


# --- moto server and its scripted ECS -----------------------------------------------------------


@dataclass
class World:
    url: str
    cluster: str
    subnet: str
    security_group: str
    log_group: str
    good_task_definition: str
    broken_task_definition: str
    old_task_definition: str
    app_secrets: dict[str, str]
    """The app secrets the stack creates (no value yet), by variable name."""


@pytest.fixture(scope="module")
def rendered():
    return render()


@pytest.fixture(scope="module")
def world(rendered) -> Iterator[World]:
    container = rendered.one(MIGRATION)["container_name"]
    prefix = rendered.one(MIGRATION)["log_stream_prefix"]
    patcher = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        patcher.delenv(name, raising=False)
    patcher.setenv("AWS_ACCESS_KEY_ID", "testing")
    patcher.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patcher.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    original = EC2ContainerServiceBackend.run_task

    def run_and_finish(self: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
        tasks = original(self, *args, **kwargs)
        for task in tasks:
            broken = "app-broken" in task.task_definition_arn
            task.last_status = task.desired_status = "STOPPED"
            task.stop_code = "EssentialContainerExited"
            task.containers[0].exitCode = 3 if broken else 0
            logs = logs_backends[self.account_id][self.region_name]
            stream = f"{prefix}/{container}/{task.id}"
            logs.create_log_stream(log_group_name, stream)
            line = "alembic: relation notes already exists" if broken else "upgrade done"
            logs.put_log_events(
                log_group_name, stream, [{"timestamp": int(time.time() * 1000), "message": line}]
            )
        return tasks

    patcher.setattr(EC2ContainerServiceBackend, "run_task", run_and_finish)
    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        session = boto3.Session(region_name=REGION)
        ec2 = session.client("ec2", endpoint_url=url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # moto's run_task names the task's network interface after its DNS hostname.
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="t", Description="t", VpcId=vpc)["GroupId"]
        ecs = session.client("ecs", endpoint_url=url)
        ecs.create_cluster(clusterName="app-cluster")
        log_group_name = "/ecs/app"
        session.client("logs", endpoint_url=url).create_log_group(logGroupName=log_group_name)
        # As components/app_secrets.py creates them: a name, no value.
        secretsmanager = session.client("secretsmanager", endpoint_url=url)
        app_secrets = {
            name: secretsmanager.create_secret(Name=f"fastapi-fargate/dev/{name}")["ARN"]
            for name in rendered.one(MIGRATION)["app_secrets"]
        }

        def register(family: str) -> str:
            return ecs.register_task_definition(
                family=family,
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                containerDefinitions=[{"name": container, "image": "app:1", "memory": 512}],
            )["taskDefinition"]["taskDefinitionArn"]

        yield World(
            url=url,
            cluster="app-cluster",
            subnet=subnet,
            security_group=group,
            log_group=log_group_name,
            old_task_definition=register("app"),
            good_task_definition=register("app"),
            broken_task_definition=register("app-broken"),
            app_secrets=app_secrets,
        )
    finally:
        server.stop()
        state_manager.unset_transition("ecs::task")
        patcher.undo()


# --- the provider host --------------------------------------------------------------------------


class Host:
    """``python -u -m pulumi.dynamic`` in the project directory, driven over gRPC."""

    def __init__(self, url: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
        env |= {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PULUMI_PROJECT": "fastapi-fargate",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        port = self._read_port(timeout=30)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(self.channel).result(timeout=RPC_TIMEOUT)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def _read_port(self, timeout: float) -> int:
        # The host's first line on stdout is its port (pulumi/dynamic/__main__.py `main`).
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"the provider host printed no port within {timeout} s")
        return int(self.process.stdout.readline().decode().strip())

    def close(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.process.kill()
        self.process.wait(timeout=10)

    def configure(self, config: dict[str, str]) -> provider_pb2.ConfigureResponse:
        return self.stub.Configure(
            provider_pb2.ConfigureRequest(args=_struct(config), acceptSecrets=True),
            timeout=RPC_TIMEOUT,
        )

    def check(self, urn: str, news: dict[str, Any]) -> provider_pb2.CheckResponse:
        return self.stub.Check(
            provider_pb2.CheckRequest(urn=urn, olds=_struct({}), news=_struct(news)),
            timeout=RPC_TIMEOUT,
        )

    def diff(self, urn: str, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        return self.stub.Diff(
            provider_pb2.DiffRequest(id=id_, urn=urn, olds=_struct(olds), news=_struct(news)),
            timeout=RPC_TIMEOUT,
        )

    def create(self, urn: str, properties: Any) -> provider_pb2.CreateResponse:
        return self.stub.Create(
            provider_pb2.CreateRequest(urn=urn, properties=properties), timeout=RPC_TIMEOUT
        )

    def read(self, urn: str, id_: str, properties: Any) -> provider_pb2.ReadResponse:
        return self.stub.Read(
            provider_pb2.ReadRequest(id=id_, urn=urn, properties=properties), timeout=RPC_TIMEOUT
        )

    def delete(self, urn: str, id_: str, properties: Any) -> None:
        self.stub.Delete(
            provider_pb2.DeleteRequest(id=id_, urn=urn, properties=properties),
            timeout=RPC_TIMEOUT,
        )


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    # A loop of its own, as the host itself does: asyncio.run would unset the thread's current
    # loop, which later renders (the SDK's mocks) rely on.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(values, {}))
    finally:
        loop.close()


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(struct)


def stack_config(**aws: Any) -> dict[str, str]:
    """The stack config as the engine hands it over: every key, namespaced, objects as JSON."""
    values = {"aws:region": REGION, "fastapi-fargate:service": '{"cpu": 256}'}
    for key, value in aws.items():
        values[f"aws:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return values


@pytest.fixture
def host(world: World) -> Iterator[Host]:
    started = Host(world.url)
    try:
        yield started
    finally:
        started.close()


def migration_inputs(rendered, world: World, task_definition: str) -> dict[str, Any]:
    """The rendered MigrationRun inputs, pointed at moto's cluster, network and revision."""
    inputs = dict(rendered.one(MIGRATION).inputs)
    inputs |= {
        "cluster": world.cluster,
        "task_definition": task_definition,
        "subnets": [world.subnet],
        "security_groups": [world.security_group],
        "log_group": world.log_group,
        "app_secrets": world.app_secrets,
    }
    return inputs


def rollout_inputs(rendered, world: World, task_definition: str) -> dict[str, Any]:
    inputs = dict(rendered.one(ROLLOUT).inputs)
    inputs |= {"cluster": world.cluster, "service": "web", "task_definition_arn": task_definition}
    return inputs


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::fastapi-fargate::{type_}::{name}"


# --- the tests ----------------------------------------------------------------------------------


def test_the_host_runs_a_migration_with_the_rendered_inputs_and_the_stacks_role(
    host: Host, rendered, world: World
) -> None:
    name = urn(MIGRATION, "migration-run")
    assert host.configure(stack_config(assumeRoles=[{"roleArn": ROLE, "sessionName": "up"}])) == (
        provider_pb2.ConfigureResponse(acceptSecrets=False)
    )
    news = migration_inputs(rendered, world, world.good_task_definition)
    assert isinstance(news["__provider"], str) and news["__provider"]

    checked = host.check(name, news)
    assert list(checked.failures) == []

    created = host.create(name, checked.inputs)
    outs = _plain(created.properties)
    assert created.id.startswith("migration-")
    assert outs["exit_code"] == 0
    assert outs["task_arn"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/")
    assert outs["account_id"] == ACCOUNT
    # The release phase generated API_TOKEN, and it is in no output the state would keep.
    token = (
        boto3.Session(region_name=REGION)
        .client("secretsmanager", endpoint_url=world.url)
        .get_secret_value(SecretId=world.app_secrets["API_TOKEN"])["SecretString"]
    )
    assert len(token) == 43 and token not in json.dumps(outs)
    # The host acted through the stack's role, with its session name.
    assert any(
        (role.role_arn, role.session_name) == (ROLE, "up")
        for role in sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles
    )

    read = host.read(name, created.id, created.properties)
    assert read.id == created.id
    assert _plain(read.properties)["task_arn"] == outs["task_arn"]

    same = host.diff(name, created.id, outs, news)
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    newer = host.diff(name, created.id, outs, {**news, "task_definition": "td:next"})
    assert newer.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(newer.replaces) == []

    host.delete(name, created.id, created.properties)


def test_a_failing_migration_fails_create_with_its_exit_code_and_log_tail(
    host: Host, rendered, world: World
) -> None:
    name = urn(MIGRATION, "migration-run")
    host.configure(stack_config())
    checked = host.check(name, migration_inputs(rendered, world, world.broken_task_definition))

    with pytest.raises(grpc.RpcError) as caught:
        host.create(name, checked.inputs)

    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    details = caught.value.details()
    assert "MigrationFailed" in details
    assert "exited with code 3" in details
    assert "| alembic: relation notes already exists" in details


def test_the_host_refuses_a_migration_in_another_account(
    host: Host, rendered, world: World
) -> None:
    name = urn(MIGRATION, "migration-run")
    host.configure(
        stack_config(assumeRoles=[{"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/deploy"}])
    )
    backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
    tasks_before = len(backend.tasks.get(world.cluster, {}))
    checked = host.check(name, migration_inputs(rendered, world, world.good_task_definition))

    with pytest.raises(grpc.RpcError) as caught:
        host.create(name, checked.inputs)

    assert (
        f"would act in AWS account {OTHER_ACCOUNT}, but this stack deploys to account {ACCOUNT}"
    ) in caught.value.details()
    assert len(backend.tasks.get(world.cluster, {})) == tasks_before


def test_the_host_runs_the_rollout_check_and_fails_a_rolled_back_rollout(
    host: Host, rendered, world: World
) -> None:
    name = urn(ROLLOUT, "web-rollout-check")
    host.configure(stack_config())
    boto3.client("ecs", region_name=REGION, endpoint_url=world.url).create_service(
        cluster=world.cluster,
        serviceName="web",
        taskDefinition=world.good_task_definition,
        desiredCount=1,
    )
    primary = (
        ecs_backends[DEFAULT_ACCOUNT_ID][REGION].services[f"{world.cluster}:web"].deployments[0]
    )
    primary.update(rolloutState="COMPLETED", runningCount=1)
    news = rollout_inputs(rendered, world, world.good_task_definition)

    checked = host.check(name, news)
    assert list(checked.failures) == []
    created = host.create(name, checked.inputs)
    outs = _plain(created.properties)
    assert outs["rollout_state"] == "COMPLETED"
    assert outs["deployment_id"] == primary["id"]

    read = host.read(name, created.id, created.properties)
    assert _plain(read.properties)["rollout_state"] == "COMPLETED"
    assert host.diff(name, created.id, outs, news).changes == provider_pb2.DiffResponse.DIFF_NONE

    # The next deploy: ECS rolled the new revision back to the one before.
    rolled_back = rollout_inputs(rendered, world, world.broken_task_definition)
    assert (
        host.diff(name, created.id, outs, rolled_back).changes
        == provider_pb2.DiffResponse.DIFF_SOME
    )
    with pytest.raises(grpc.RpcError) as caught:
        host.stub.Update(
            provider_pb2.UpdateRequest(
                id=created.id, urn=name, olds=created.properties, news=_struct(rolled_back)
            ),
            timeout=RPC_TIMEOUT,
        )
    assert (
        f"The rollout of {world.broken_task_definition} failed: service web runs "
        f"{world.good_task_definition} instead"
    ) in caught.value.details()

    host.delete(name, created.id, created.properties)


# --- the pickle in state ------------------------------------------------------------------------

UNPICKLE = """
import base64, sys, dill
provider = dill.loads(base64.b64decode(sys.stdin.read()))
print(type(provider).__module__, type(provider).__qualname__, sorted(vars(provider)))
"""


@pytest.mark.parametrize(
    ("resource_type", "module", "qualname"),
    [
        (MIGRATION, "components.migration", "MigrationRunProvider"),
        (ROLLOUT, "components.rollout_check", "RolloutCheckProvider"),
    ],
)
def test_the_pickled_provider_in_state_loads_in_a_fresh_process_by_reference(
    rendered, resource_type: str, module: str, qualname: str
) -> None:
    pickled = rendered.one(resource_type)["__provider"]
    blob = base64.b64decode(pickled)
    # By reference: the module and class names, not the code (dill's by-value pickles carry
    # code objects and types built with _create_code/_create_type). Renaming or moving
    # either breaks destroy/refresh of stacks whose state holds this pickle.
    assert module.encode() in blob and qualname.encode() in blob
    assert b"_create_code" not in blob and b"_create_type" not in blob

    loaded = subprocess.run(
        [sys.executable, "-c", UNPICKLE],
        input=pickled,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert loaded.stdout.split() == [module, qualname, "[]"]
