"""The rollout check: `pulumi up` fails when ECS rolled the new revision back (against moto)."""

from __future__ import annotations

import pickle

import boto3
import pytest
from moto import mock_aws

from components.rollout_check import RolloutCheckProvider, RolloutError, verify_rollout

REGION = "us-east-1"


@pytest.fixture
def ecs():
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName="app")
        yield client


def register(ecs, image: str) -> str:
    answer = ecs.register_task_definition(
        family="fastapi-fargate-dev",
        containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
    )
    return answer["taskDefinition"]["taskDefinitionArn"]


def complete_rollouts(ecs) -> None:
    """What ECS does when the deployment finishes: mark the primary one COMPLETED."""
    from moto.ecs.models import ecs_backends

    for service in ecs_backends["123456789012"][REGION].services.values():
        for deployment in service.deployments:
            deployment["rolloutState"] = "COMPLETED"


def test_a_completed_rollout_of_the_new_revision_passes(ecs):
    new = register(ecs, "app:v1")
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=new, desiredCount=1)
    complete_rollouts(ecs)
    result = verify_rollout(cluster="app", service="web", task_definition_arn=new, region=REGION)
    assert result["rollout_state"] == "COMPLETED"


def test_a_service_rolled_back_to_the_previous_revision_fails_loudly(ecs):
    old = register(ecs, "app:v1")
    new = register(ecs, "app:v2")
    # The circuit breaker's rollback leaves a stable service running the old revision.
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=old, desiredCount=1)
    complete_rollouts(ecs)
    with pytest.raises(RolloutError) as caught:
        verify_rollout(cluster="app", service="web", task_definition_arn=new, region=REGION)
    message = str(caught.value)
    assert f"The rollout of {new} failed" in message
    assert f"runs {old} instead" in message
    assert "circuit breaker" in message


def test_a_rollout_still_in_progress_is_not_success(ecs):
    new = register(ecs, "app:v1")
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=new, desiredCount=1)
    with pytest.raises(RolloutError, match="did not complete: its state is IN_PROGRESS"):
        verify_rollout(cluster="app", service="web", task_definition_arn=new, region=REGION)


def test_a_missing_service_fails_with_its_name(ecs):
    with pytest.raises(RolloutError, match="ECS service web was not found in cluster app"):
        verify_rollout(cluster="app", service="web", task_definition_arn="x", region=REGION)


def test_the_check_runs_again_only_when_the_deployed_revision_changes():
    provider = RolloutCheckProvider()
    olds = {"cluster": "app", "service": "web", "task_definition_arn": "td:1", "region": REGION}
    assert not provider.diff("web", olds, {**olds}).changes
    assert provider.diff("web", olds, {**olds, "task_definition_arn": "td:2"}).changes


def test_the_provider_pickles_without_clients_or_credentials():
    blob = pickle.dumps(RolloutCheckProvider())
    assert b"botocore" not in blob and b"Session" not in blob


def test_a_release_rolled_back_by_a_deployment_alarm_names_the_alarm(ecs):
    from moto.ecs.models import ecs_backends

    old = register(ecs, "app:v1")
    new = register(ecs, "app:v2")
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=old, desiredCount=1)
    complete_rollouts(ecs)
    service = next(iter(ecs_backends["123456789012"][REGION].services.values()))
    # ECS's record of the failed release: the new revision's deployment, rolled back.
    service.deployments.append(
        {
            "id": "ecs-svc/2",
            "status": "INACTIVE",
            "taskDefinition": new,
            "rolloutState": "FAILED",
            "rolloutStateReason": "ECS deployment ecs-svc/2 failed: alarm dev-errors-1a2b3c4 "
            "detected.",
        }
    )
    with pytest.raises(RolloutError) as caught:
        verify_rollout(
            cluster="app",
            service="web",
            task_definition_arn=new,
            region=REGION,
            alarm_names=["dev-errors-1a2b3c4", "dev-latency-5d6e7f8"],
        )
    message = str(caught.value)
    assert "the deployment alarm dev-errors-1a2b3c4 fired" in message
    assert "circuit breaker" not in message
