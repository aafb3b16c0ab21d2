"""The rollout check: `pulumi up` passes only when ECS completed the rollout of the new revision.

Real boto3 calls into moto's ECS. ECS's rollout states are scripted the way ECS reports them:
by changing the service's deployments in moto's backend, here from a botocore event hook that
runs before each ``DescribeServices`` call (so ECS "finishes" after a number of reads). Time is
a fake clock that moves only when the check sleeps, so no test waits.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import Service, ecs_backends

from components import rollout_check
from components.rollout_check import (
    RolloutCheckProvider,
    RolloutError,
    alarm_rollback,
    verify_rollout,
)

REGION = "us-east-1"


@dataclass
class FakeTime:
    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime()
    # raising=False: the check reads time through its module's `time`.
    monkeypatch.setattr(
        rollout_check,
        "time",
        SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep),
        raising=False,
    )
    return clock


@dataclass
class World:
    session: boto3.Session
    ecs: Any
    describes: int = 0

    def register(self, image: str) -> str:
        answer = self.ecs.register_task_definition(
            family="fastapi-fargate-dev",
            containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
        )
        return answer["taskDefinition"]["taskDefinitionArn"]

    def service(self) -> Service:
        return ecs_backends[DEFAULT_ACCOUNT_ID][REGION].services["app:web"]

    def primary(self) -> dict[str, Any]:
        return self.service().deployments[0]

    def on_describe(self, action: Any) -> None:
        """Run ``action(describe_number)`` in moto's backend before each DescribeServices."""

        def hook(**_: Any) -> None:
            self.describes += 1
            action(self.describes)

        self.session.events.register("before-call.ecs.DescribeServices", hook)

    def add_event(self, message: str) -> None:
        self.service().events.insert(
            0,
            {
                "id": f"e{len(self.service().events)}",
                "createdAt": dt.datetime.now(dt.UTC),
                "message": message,
            },
        )

    def check(self, task_definition_arn: str) -> dict[str, Any]:
        return verify_rollout(
            cluster="app",
            service="web",
            task_definition_arn=task_definition_arn,
            region=REGION,
            session=self.session,
        )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        ecs = session.client("ecs")
        ecs.create_cluster(clusterName="app")
        yield World(session=session, ecs=ecs)


def deploy(world: World, task_definition_arn: str) -> None:
    """A service whose PRIMARY deployment runs ``task_definition_arn``, still IN_PROGRESS."""
    world.ecs.create_service(
        cluster="app", serviceName="web", taskDefinition=task_definition_arn, desiredCount=2
    )
    assert world.primary()["rolloutState"] == "IN_PROGRESS"


def test_a_rollout_that_completes_after_several_reads_passes(world: World, fake_time: FakeTime):
    new = world.register("app:v2")
    deploy(world, new)

    def complete_on_fourth_read(number: int) -> None:
        # wait_for_steady_state has returned; ECS marks the deployment COMPLETED a bit later.
        if number == 4:
            world.primary().update(rolloutState="COMPLETED", runningCount=2)

    world.on_describe(complete_on_fourth_read)

    result = world.check(new)

    assert result["rollout_state"] == "COMPLETED"
    assert result["deployment_id"] == world.primary()["id"]
    assert world.describes == 4
    # Waits grow between reads (backoff), starting short.
    assert fake_time.sleeps == [5.0, 7.5, 11.25]


def test_a_completed_rollout_of_the_new_revision_passes_at_once(world: World, fake_time: FakeTime):
    new = world.register("app:v1")
    deploy(world, new)
    world.primary()["rolloutState"] = "COMPLETED"

    assert world.check(new)["rollout_state"] == "COMPLETED"
    assert fake_time.sleeps == []


def test_a_failed_rollout_fails_with_the_reason_and_the_service_events(
    world: World, fake_time: FakeTime
):
    new = world.register("app:v2")
    deploy(world, new)
    world.add_event("(service web) has started 2 tasks: (task 1) (task 2).")
    world.add_event("(service web) deployment failed: tasks failed to start.")

    def fail_on_second_read(number: int) -> None:
        if number == 2:
            world.primary().update(
                rolloutState="FAILED",
                rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
            )

    world.on_describe(fail_on_second_read)

    with pytest.raises(RolloutError) as caught:
        world.check(new)

    message = str(caught.value)
    assert f"The rollout of {new} failed" in message
    assert "circuit breaker: tasks failed to start" in message
    assert "Recent service events:\n  (service web) deployment failed" in message
    assert "has started 2 tasks" in message
    assert world.describes == 2


def test_a_rollout_rolled_back_to_the_previous_revision_fails(world: World, fake_time: FakeTime):
    old = world.register("app:v1")
    new = world.register("app:v2")
    deploy(world, new)

    def roll_back_on_third_read(number: int) -> None:
        # The circuit breaker's rollback: the old revision is PRIMARY again (and completes).
        if number == 3:
            world.primary().update(taskDefinition=old, rolloutState="COMPLETED")
            world.add_event("(service web) rolling back to deployment ecs-svc/1.")

    world.on_describe(roll_back_on_third_read)

    with pytest.raises(RolloutError) as caught:
        world.check(new)

    message = str(caught.value)
    assert f"The rollout of {new} failed: service web runs {old} instead" in message
    assert "rolled back" in message
    assert "rolling back to deployment ecs-svc/1" in message


def test_a_rollout_still_in_progress_at_the_deadline_fails_naming_deadline_and_last_state(
    world: World, fake_time: FakeTime
):
    new = world.register("app:v2")
    deploy(world, new)
    world.add_event("(service web) has started 1 tasks: (task 1).")

    with pytest.raises(RolloutError) as caught:
        verify_rollout(
            cluster="app",
            service="web",
            task_definition_arn=new,
            region=REGION,
            session=world.session,
            timeout_seconds=20,
        )

    message = str(caught.value)
    assert "did not finish within the rollout check's deadline of 20 s" in message
    assert (
        f"Last seen: PRIMARY deployment {world.primary()['id']} of {new} is IN_PROGRESS" in message
    )
    assert "0 of 2 tasks running" in message
    assert "has started 1 tasks" in message
    # It polled until the deadline and never slept past it.
    assert fake_time.now == 20
    assert fake_time.sleeps == [5.0, 7.5, 7.5]


def test_the_default_deadline_is_ten_minutes(world: World, fake_time: FakeTime):
    new = world.register("app:v2")
    deploy(world, new)

    with pytest.raises(RolloutError, match="deadline of 600 s"):
        world.check(new)
    assert fake_time.now == 600
    assert max(fake_time.sleeps) == 30.0


def test_without_a_rollout_state_one_deployment_with_every_task_running_passes(
    world: World, fake_time: FakeTime
):
    # Deployment controllers that report no rolloutState: the waiter's own rule applies.
    new = world.register("app:v2")
    deploy(world, new)
    world.primary().pop("rolloutState")

    def all_running_on_third_read(number: int) -> None:
        if number == 3:
            world.primary()["runningCount"] = 2

    world.on_describe(all_running_on_third_read)

    assert world.check(new)["rollout_state"] == "COMPLETED"
    assert world.describes == 3


def test_a_missing_service_fails_with_its_name(world: World, fake_time: FakeTime):
    with pytest.raises(RolloutError, match="ECS service web was not found in cluster app"):
        world.check("x")


def test_the_check_runs_again_only_when_the_deployed_revision_changes():
    provider = RolloutCheckProvider()
    olds = {"cluster": "app", "service": "web", "task_definition_arn": "td:1", "region": REGION}
    assert not provider.diff("web", olds, {**olds}).changes
    assert provider.diff("web", olds, {**olds, "task_definition_arn": "td:2"}).changes


def test_the_provider_pickles_without_clients_or_credentials():
    blob = pickle.dumps(RolloutCheckProvider())
    assert b"botocore" not in blob and b"Session" not in blob


def test_a_release_rolled_back_by_a_deployment_alarm_names_the_alarm(
    world: World, fake_time: FakeTime
):
    old = world.register("app:v1")
    new = world.register("app:v2")
    deploy(world, new)

    def alarm_rollback_on_second_read(number: int) -> None:
        # ECS's rollback on a deployment alarm: the old revision is PRIMARY again, and the
        # event names the alarm that fired.
        if number == 2:
            world.primary().update(taskDefinition=old, rolloutState="COMPLETED")
            world.add_event(
                "(service web) deployment ecs-svc/2 failed: alarm dev-errors-1a2b3c4 detected."
            )

    world.on_describe(alarm_rollback_on_second_read)
    with pytest.raises(RolloutError) as caught:
        verify_rollout(
            cluster="app",
            service="web",
            task_definition_arn=new,
            region=REGION,
            session=world.session,
            alarm_names=["dev-errors-1a2b3c4", "dev-latency-5d6e7f8"],
        )
    message = str(caught.value)
    assert "the deployment alarm dev-errors-1a2b3c4 fired" in message
    assert "circuit breaker" not in message


def test_a_failed_rollout_without_an_alarm_name_blames_no_alarm():
    assert alarm_rollback(["tasks failed to start"], ["dev-errors-1a2b3c4"]) is None
    assert alarm_rollback(["alarm detected"], []) is None
