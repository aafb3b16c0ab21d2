"""After each rollout, wait until ECS says it completed with the task definition just deployed.

``wait_for_steady_state`` does not answer that question. terraform-provider-aws's waiter
(``internal/service/ecs/service.go`` ``statusServiceWaitForStable``, used by
``waitServiceStable``) calls a service stable when it has one deployment and
``runningCount == desiredCount``; it never reads ``rolloutState``. A service that the
deployment circuit breaker rolled back to the previous revision is stable too (the peers'
known bug: a green ``pulumi up`` for a failed rollout), and ECS sets the new deployment's
``rolloutState`` to ``COMPLETED`` only after it has judged the service steady, which can lag
the waiter (aws-actions/amazon-ecs-deploy-task-definition#838: "service is stable" while the
PRIMARY deployment is still ``IN_PROGRESS``). Newer provider versions read the service
deployment's status for new ECS-controller deployments (``findDeploymentStatus``), older ones
do not; this check does not depend on which one runs.

``RolloutCheck`` is a small dynamic resource that runs after the service on every new task
definition. It polls ``describe_services`` with backoff and its own deadline until the PRIMARY
deployment leaves ``IN_PROGRESS``: ``COMPLETED`` with the new task definition passes;
``FAILED``, a primary that runs another task definition (rolled back), or the deadline fails
the update with the service's last events in the message.

It acts only with the AWS provider's identity and only in the stack's account
(:mod:`components.aws_session`). Creates no AWS resource; it only reads the service
(``ecs:DescribeServices``, ``sts:GetCallerIdentity``).

Pulumi state pickles :class:`RolloutCheckProvider` BY REFERENCE (module
``components.rollout_check``, class ``RolloutCheckProvider``; the dynamic provider host imports
it from the project directory): moving or renaming the module or the class breaks ``pulumi
destroy`` and ``pulumi refresh`` of existing stacks, whose state names the old place.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError
from pulumi.dynamic import (
    ConfigureRequest,
    CreateResult,
    DiffResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from components import aws_session
from components.aws_session import AwsIdentity

if TYPE_CHECKING:
    import boto3

DEFAULT_TIMEOUT_SECONDS = 600
"""Own deadline for one check. It starts after ``wait_for_steady_state`` has returned, when ECS
normally marks the deployment COMPLETED within a minute or two; 10 minutes bounds a deployment
that never settles without failing a slow but healthy one. ``WebService`` adds what keeps a
healthy deployment IN_PROGRESS longer: the blue/green bake time and the deployment alarms' watch."""

_POLL_INITIAL_DELAY = 5.0
_POLL_MAX_DELAY = 30.0
_POLL_BACKOFF_FACTOR = 1.5
# Short first waits catch the usual short lag; the cap keeps the check from spending the
# account's DescribeServices rate, which every deploy shares.

_EVENTS_SHOWN = 5


class RolloutError(Exception):
    """The service does not run the task definition this update deployed, or did not finish."""


def alarm_rollback(texts: list[str], alarm_names: list[str]) -> str | None:
    """What to say when ECS rolled back because a deployment alarm fired; None otherwise.

    ``texts`` are the deployment's ``rolloutStateReason`` and the recent service events. ECS
    names the alarm there in its own words (not a documented format), so the alarms this stack
    gave the service are looked for by name; an alarm mentioned without a known name still
    counts.
    """
    joined = "\n".join(texts)
    named = [name for name in alarm_names if name and name in joined]
    if named:
        return (
            f"the deployment alarm {', '.join(named)} fired: the new tasks were healthy but "
            f"answered with errors or too slowly"
        )
    if alarm_names and "alarm" in joined.lower():
        return "a deployment alarm fired: the new tasks answered with errors or too slowly"
    return None


def verify_rollout(
    *,
    cluster: str,
    service: str,
    task_definition_arn: str,
    region: str,
    session: boto3.Session,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    alarm_names: list[str] | None = None,
) -> dict[str, Any]:
    """Wait until the primary deployment leaves IN_PROGRESS; return it when it succeeded.

    Raises :class:`RolloutError` for a FAILED rollout, a primary deployment of another task
    definition (rolled back), a missing service, or the deadline. Time is read and spent through
    this module's ``time`` (``monotonic``, ``sleep``), which tests replace with a fake clock.
    """
    # region_name again, so an injected session cannot point at another region.
    ecs = session.client("ecs", region_name=region, config=aws_session.retry_config())
    sleep, clock = time.sleep, time.monotonic
    deadline = clock() + timeout_seconds
    delay = _POLL_INITIAL_DELAY
    while True:
        described = _describe(ecs, cluster, service)
        verdict = _judge(described, cluster, service, task_definition_arn, alarm_names or [])
        if verdict is not None:
            return verdict
        remaining = deadline - clock()
        if remaining <= 0:
            raise RolloutError(
                f"The rollout of {task_definition_arn} did not finish within the rollout "
                f"check's deadline of {timeout_seconds:g} s. Last seen: "
                f"{_seen(described)}.{_events(described)}\n"
                f"ECS may still finish it: watch `aws ecs describe-services --cluster {cluster} "
                f"--services {service}`, then run `pulumi up` again."
            )
        sleep(min(delay, remaining))
        delay = min(delay * _POLL_BACKOFF_FACTOR, _POLL_MAX_DELAY)


def _describe(ecs: Any, cluster: str, service: str) -> Mapping[str, Any]:
    try:
        answer = ecs.describe_services(cluster=cluster, services=[service])
    except (ClientError, BotoCoreError) as error:
        raise RolloutError(
            f"Could not read ECS service {service} in cluster {cluster}: {error}. "
            "The deploy role needs ecs:DescribeServices."
        ) from error
    if not answer.get("services"):
        raise RolloutError(f"ECS service {service} was not found in cluster {cluster}.")
    return answer["services"][0]


def _judge(
    described: Mapping[str, Any],
    cluster: str,
    service: str,
    task_definition_arn: str,
    alarm_names: list[str],
) -> dict[str, Any] | None:
    """The result when the rollout is over and succeeded; None while it is in progress."""
    deployments = described.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return None  # between deployments for a moment: look again
    if primary.get("taskDefinition") != task_definition_arn:
        new = next((d for d in deployments if d.get("taskDefinition") == task_definition_arn), {})
        reason = new.get("rolloutStateReason") or "its deployment is gone"
        why = alarm_rollback([reason, *_event_messages(described)], alarm_names) or (
            "the deployment circuit breaker rolled back, or another deploy replaced it"
        )
        raise RolloutError(
            f"The rollout of {task_definition_arn} failed: service {service} runs "
            f"{primary.get('taskDefinition')} instead ({why}). ECS says: "
            f"{reason}{_events(described)}\n"
            f"The previous version keeps serving. Read the stopped tasks' reasons with "
            f"`aws ecs list-tasks --cluster {cluster} --service-name {service} "
            "--desired-status STOPPED` and their logs."
        )
    state = primary.get("rolloutState")
    if state == "FAILED":
        reason = primary.get("rolloutStateReason") or "no reason given"
        why = alarm_rollback([reason, *_event_messages(described)], alarm_names)
        raise RolloutError(
            f"The rollout of {task_definition_arn} failed{f' ({why})' if why else ''}: ECS says "
            f"{reason}{_events(described)}"
        )
    if state == "COMPLETED" or (
        # No rolloutState (a deployment controller that does not report one): fall back on the
        # waiter's own rule, one deployment with every desired task running.
        state is None
        and len(deployments) == 1
        and primary.get("runningCount") == primary.get("desiredCount")
    ):
        return {
            "deployment_id": primary["id"],
            "running_count": primary.get("runningCount", 0),
            "rollout_state": state or "COMPLETED",
        }
    return None


def _seen(described: Mapping[str, Any]) -> str:
    deployments = described.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return f"no PRIMARY deployment among {len(deployments)}"
    return (
        f"PRIMARY deployment {primary.get('id')} of {primary.get('taskDefinition')} is "
        f"{primary.get('rolloutState') or 'without rolloutState'} "
        f"({primary.get('rolloutStateReason') or 'no reason given'}), "
        f"{primary.get('runningCount', 0)} of {primary.get('desiredCount', 0)} tasks running, "
        f"{len(deployments)} deployment(s)"
    )


def _event_messages(described: Mapping[str, Any]) -> list[str]:
    return [str(e.get("message", "")) for e in described.get("events", [])[:_EVENTS_SHOWN]]


def _events(described: Mapping[str, Any]) -> str:
    messages = _event_messages(described)
    return "\nRecent service events:" + ("".join(f"\n  {m}" for m in messages) or " none")


class RolloutCheckProvider(ResourceProvider):
    """Runs ``verify_rollout`` on create and whenever the deployed task definition changes.

    The pickle in state holds nothing: no client, no credentials. The AWS identity arrives
    with ``configure`` in the provider host (the stack's ``aws:*`` settings) and stays in memory.
    """

    _identity: AwsIdentity | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._identity = aws_session.identity_from_config(req.config.get)

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle the identity (it may hold static keys), even from a configured instance.
        return {}

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

    def _verify(self, props: dict[str, Any]) -> dict[str, Any]:
        session = aws_session.session_for(self._identity, str(props["region"]))
        aws_session.require_account(
            session, props.get("account_id") or None, acting="The rollout check"
        )
        return verify_rollout(
            cluster=props["cluster"],
            service=props["service"],
            task_definition_arn=props["task_definition_arn"],
            region=str(props["region"]),
            session=session,
            # Pulumi transports numbers as floats.
            timeout_seconds=float(props.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS),
            alarm_names=list(props.get("alarm_names") or []),
        )


@dataclass
class RolloutCheckArgs:
    cluster: pulumi.Input[str]
    service: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    """The account the AWS provider deploys to (``aws.get_caller_identity()``): the check
    refuses to read a service in any other."""
    timeout_seconds: pulumi.Input[int] = DEFAULT_TIMEOUT_SECONDS
    alarm_names: pulumi.Input[list[str]] | None = None
    """The service's deployment alarms, named in the failure when one rolled the release back."""


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
                "account_id": args.account_id,
                "timeout_seconds": args.timeout_seconds,
                "alarm_names": args.alarm_names or [],
                "deployment_id": None,
                "running_count": None,
                "rollout_state": None,
            },
            opts,
        )
