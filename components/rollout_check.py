"""After each rollout, check that the service really runs the task definition just deployed.

``wait_for_steady_state`` only waits until the service is stable, and a service that the
deployment circuit breaker rolled back to the previous revision is stable too: the peers'
known bug is a green ``pulumi up`` for a rollout that failed. ``RolloutCheck`` is a small
dynamic resource that runs after the service on every new task definition and fails the
update, with the reason ECS gives, when the primary deployment is not the new revision or did
not complete.

Creates no AWS resource; it only reads the service (``ecs:DescribeServices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

if TYPE_CHECKING:
    import boto3

# boto3 is imported where the check runs (in the provider, during `pulumi up`): the program
# imports this module for every preview and offline plan, which never call AWS from here.
_RETRIES = {"retries": {"mode": "standard", "max_attempts": 8}}


class RolloutError(Exception):
    """The service does not run the task definition this update deployed."""


def verify_rollout(
    *,
    cluster: str,
    service: str,
    task_definition_arn: str,
    region: str,
    profile: str | None = None,
    session: boto3.Session | None = None,
) -> dict[str, Any]:
    """Return the primary deployment when it runs ``task_definition_arn`` and has completed."""
    import boto3
    from botocore.config import Config

    session = session or boto3.Session(region_name=region, profile_name=profile)
    ecs = session.client("ecs", config=Config(**_RETRIES))
    answer = ecs.describe_services(cluster=cluster, services=[service])
    if not answer["services"]:
        raise RolloutError(f"ECS service {service} was not found in cluster {cluster}.")
    described = answer["services"][0]
    deployments = described.get("deployments", [])
    primary = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    new = next((d for d in deployments if d["taskDefinition"] == task_definition_arn), None)
    events = [e["message"] for e in described.get("events", [])[:5]]
    recent = "".join(f"\n  {m}" for m in events) or " none"

    if primary is None or primary["taskDefinition"] != task_definition_arn:
        running = primary["taskDefinition"] if primary else "nothing"
        reason = (new or {}).get("rolloutStateReason") or "the deployment is gone"
        raise RolloutError(
            f"The rollout of {task_definition_arn} failed: service {service} runs {running} "
            f"instead (the deployment circuit breaker rolled back). ECS says: {reason}\n"
            f"Recent service events:{recent}\n"
            f"The previous version keeps serving. Read the stopped tasks' reasons with "
            f"`aws ecs list-tasks --cluster {cluster} --desired-status STOPPED` and their logs."
        )
    state = primary.get("rolloutState")
    if state not in (None, "COMPLETED"):
        raise RolloutError(
            f"The rollout of {task_definition_arn} did not complete: its state is {state} "
            f"({primary.get('rolloutStateReason', 'no reason given')}).\n"
            f"Recent service events:{recent}"
        )
    return {
        "deployment_id": primary["id"],
        "running_count": primary.get("runningCount", 0),
        "rollout_state": state or "COMPLETED",
    }


class RolloutCheckProvider(ResourceProvider):
    """Runs ``verify_rollout`` on create and whenever the deployed task definition changes.

    Pickled into the state: it holds no client and no credentials; boto3 is created per call.
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=props["service"], outs={**props, **self._verify(props)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        watched = ("cluster", "service", "task_definition_arn")
        changed = [k for k in watched if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, **self._verify(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the check only read the service."""

    @staticmethod
    def _verify(props: dict[str, Any]) -> dict[str, Any]:
        return verify_rollout(
            cluster=props["cluster"],
            service=props["service"],
            task_definition_arn=props["task_definition_arn"],
            region=props["region"],
            profile=props.get("profile") or None,
        )


@dataclass
class RolloutCheckArgs:
    cluster: pulumi.Input[str]
    service: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    region: pulumi.Input[str]
    profile: pulumi.Input[str] | None = None


class RolloutCheck(Resource, module="rollout", name="RolloutCheck"):
    deployment_id: pulumi.Output[str]
    rollout_state: pulumi.Output[str]

    def __init__(
        self, name: str, args: RolloutCheckArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(
            RolloutCheckProvider(),
            name,
            {
                "cluster": args.cluster,
                "service": args.service,
                "task_definition_arn": args.task_definition_arn,
                "region": args.region,
                "profile": args.profile or "",
                "deployment_id": None,
                "running_count": None,
                "rollout_state": None,
            },
            opts,
        )
