"""Pulumi resource that runs the release-phase migration before the service rolls out.

``MigrationRun`` is a dynamic resource whose create/update runs one ECS task of the NEW task
definition with the migration command (see :mod:`components.migration_runner`). The ECS service
depends on it, so a failed migration fails ``pulumi up`` before the service is touched and the
running version keeps serving. A failed create/update is not saved in state, so the next
``pulumi up`` runs the migration again.

When it runs:

* on create;
* on update when ``task_definition``, ``command`` or ``nonce`` changed (bump ``nonce`` to force a
  run without other changes);
* never during preview (Pulumi only calls ``diff`` then, which shows the pending update).

Before the migration task starts, every app secret the new revision references must have a
value: API_TOKEN is generated when it has none, and any other missing value fails the run
with the ``python -m ops STACK secrets set NAME`` command that sets it
(``migration_runner.ensure_app_secrets``).

Any other input change (subnets, security groups, timeout, log settings, ...) also shows as an
update, so state keeps the current values, but it does not run the migration: a new subnet
does not make the schema change again. Delete does nothing: migrations are not undone.

The migration runs with the AWS provider's identity and only in the stack's account
(:mod:`components.aws_session`): the stack's ``aws:*`` settings reach the provider host through
``Configure`` and stay in its memory; the ``account_id`` input is the account the AWS provider
deploys to, and the run is refused anywhere else.

Pulumi state pickles :class:`MigrationRunProvider` BY REFERENCE (module ``components.migration``,
class ``MigrationRunProvider``; the dynamic provider host imports it from the project
directory): moving or renaming the module or the class breaks ``pulumi destroy`` and ``pulumi
refresh`` of existing stacks, whose state names the old place. The pickle holds no boto3 client,
session, credential or secret: clients are created inside the methods. Inputs and outputs are
plain values; never pass secrets as inputs, the task gets its secrets from the task definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

from components import aws_session, migration_runner
from components.aws_session import AwsIdentity
from components.migration_runner import (
    DEFAULT_TIMEOUT_SECONDS,
    MigrationRequest,
    started_by_for_stack,
)

INPUT_KEYS: tuple[str, ...] = (
    "cluster",
    "task_definition",
    "container_name",
    "command",
    "subnets",
    "security_groups",
    "assign_public_ip",
    "started_by",
    "timeout_seconds",
    "log_group",
    "log_stream_prefix",
    "region",
    "account_id",
    "nonce",
    "app_secrets",
    "generated_secrets",
    "stack",
)
"""Inputs of the resource, stored again in its outputs so ``diff``/``update`` can compare."""

RUN_TRIGGER_KEYS: tuple[str, ...] = ("task_definition", "command", "nonce")
"""A change in one of these runs the migration on update."""

RESULT_KEYS: tuple[str, ...] = ("task_arn", "exit_code", "duration_seconds", "log_stream")


class MigrationRunProvider(pulumi.dynamic.ResourceProvider):
    """Dynamic provider running the migration task; stateless so it pickles cleanly."""

    # The pickle is only a reference to this class (no state, nothing secret), so it need not
    # be encrypted in state; Pulumi still marks it secret if it ever captures a secret.
    serialize_as_secret_always = False

    _identity: AwsIdentity | None = None

    def configure(self, req: pulumi.dynamic.ConfigureRequest) -> None:
        """Take the AWS provider's identity from the stack config the engine hands the host."""
        self._identity = aws_session.identity_from_config(req.config.get)

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle the identity (it may hold static keys), even from a configured instance.
        return {}

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        """Reject inputs ECS would refuse, at preview time instead of mid-deploy."""
        failures = [
            pulumi.dynamic.CheckFailure(key, reason) for key, reason in _input_problems(news)
        ]
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        """Report any input change as an in-place update (never a replacement).

        During preview a new task definition revision is still unknown; unknown differs from the
        stored ARN, so the preview shows the update, i.e. that the migration will run.
        """
        changed = _changed_keys(olds, news, INPUT_KEYS)
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[])

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        outs = _run(props, self._identity)
        return pulumi.dynamic.CreateResult(id_=f"migration-{uuid.uuid4().hex}", outs=outs)

    def update(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        """Run the migration when a run trigger changed; otherwise only store the new inputs."""
        if _changed_keys(olds, news, RUN_TRIGGER_KEYS) or any(
            olds.get(key) is None for key in ("task_arn", "exit_code")
        ):
            return pulumi.dynamic.UpdateResult(outs=_run(news, self._identity))
        kept = {key: olds.get(key) for key in RESULT_KEYS}
        return pulumi.dynamic.UpdateResult(outs={**_plain_inputs(news), **kept})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Do nothing: a migration is not undone when the resource goes away."""


def _run(props: Mapping[str, Any], identity: AwsIdentity | None) -> dict[str, Any]:
    """Run the migration for these inputs and return the resource outputs."""
    inputs = _plain_inputs(props)
    request = request_from_inputs(inputs, client_token=uuid.uuid4().hex)
    session = aws_session.session_for(identity, request.region)
    aws_session.require_account(
        session, inputs.get("account_id") or None, acting="The release phase (migration)"
    )
    # Every app secret needs a value before a task of the new revision can start.
    migration_runner.ensure_app_secrets(
        session,
        request.region,
        dict(inputs.get("app_secrets") or {}),
        generated=list(inputs.get("generated_secrets") or []),
        stack=str(inputs.get("stack") or "STACK"),
    )
    result = migration_runner.run_migration(request, session=session)
    return {
        **inputs,
        "task_arn": result.task_arn,
        "exit_code": result.exit_code,
        "duration_seconds": round(result.duration_seconds, 1),
        "log_stream": result.log_stream,
    }


def request_from_inputs(inputs: Mapping[str, Any], *, client_token: str) -> MigrationRequest:
    """Build the runner's request from the resource inputs.

    The client token is new for every create/update: it deduplicates client-side retries of the
    one ``run_task`` call, while a later ``pulumi up`` after a failure really runs again.
    """
    return MigrationRequest(**_request_fields(inputs, client_token))


def _request_fields(inputs: Mapping[str, Any], client_token: str) -> dict[str, Any]:
    """The request's fields from the inputs; never raises, so ``check`` can judge any input."""

    def text(key: str) -> str:
        value = inputs.get(key)
        return "" if value is None else str(value)

    def texts(key: str) -> Any:
        value = inputs.get(key)
        return [str(part) for part in value] if isinstance(value, list | tuple) else value

    timeout = inputs.get("timeout_seconds")
    return {
        "cluster": text("cluster"),
        "task_definition": text("task_definition"),
        "container_name": text("container_name"),
        "command": texts("command"),
        "subnets": texts("subnets"),
        "security_groups": texts("security_groups") or [],
        "assign_public_ip": bool(inputs.get("assign_public_ip", False)),
        "started_by": text("started_by"),
        "client_token": client_token,
        # Pulumi transports numbers as floats.
        "timeout_seconds": (
            int(timeout)
            if isinstance(timeout, int | float) and not isinstance(timeout, bool)
            else DEFAULT_TIMEOUT_SECONDS
            if timeout is None
            else timeout
        ),
        "log_group": inputs.get("log_group") or None,
        "log_stream_prefix": inputs.get("log_stream_prefix") or None,
        "region": text("region"),
    }


def _plain_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    # Only the declared inputs: drops the engine's "__provider" and any stale result keys.
    return {key: props.get(key) for key in INPUT_KEYS}


def _normalized(value: Any) -> Any:
    # Numbers round-trip through state as floats; 900 and 900.0 are the same timeout.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _changed_keys(
    olds: Mapping[str, Any], news: Mapping[str, Any], keys: Sequence[str]
) -> list[str]:
    return [key for key in keys if _normalized(olds.get(key)) != _normalized(news.get(key))]


def _is_unknown(value: Any) -> bool:
    # During preview the engine passes not-yet-known values as this sentinel string.
    if isinstance(value, list | tuple):
        return any(_is_unknown(part) for part in value)
    return value == pulumi.runtime.rpc.UNKNOWN


def _input_problems(news: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The runner's own validation (``request_problems``), minus what is not known yet."""
    fields = _request_fields(news, client_token="check")
    unknown = {key for key, value in news.items() if _is_unknown(value)}
    if unknown & {"log_group", "log_stream_prefix"}:
        unknown |= {"log_group", "log_stream_prefix"}
    return [
        (key, problem)
        for key, problem in migration_runner.request_problems(fields)
        if key not in unknown
    ]


@dataclass
class MigrationRunArgs:
    """Inputs of :class:`MigrationRun`. Plain values or Outputs; never secrets."""

    cluster: pulumi.Input[str]
    """Cluster name or ARN."""
    task_definition: pulumi.Input[str]
    """ARN of the task definition revision the service is about to roll out."""
    container_name: pulumi.Input[str]
    command: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Migration command (exec form), e.g. from settings."""
    subnets: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_groups: pulumi.Input[Sequence[pulumi.Input[str]]]
    region: pulumi.Input[str]
    """Same region as the AWS provider, so boto3 talks to the same place."""
    account_id: pulumi.Input[str]
    """The account the AWS provider deploys to (``aws.get_caller_identity()``): the migration
    refuses to run in any other."""
    assign_public_ip: pulumi.Input[bool] = False
    log_group: pulumi.Input[str] | None = None
    """awslogs group of the container (to show the log tail on failure)."""
    log_stream_prefix: pulumi.Input[str] | None = None
    timeout_seconds: pulumi.Input[int] = DEFAULT_TIMEOUT_SECONDS

    nonce: pulumi.Input[str] = ""
    """Change it to force a run without any other change."""
    app_secrets: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None
    """The app's own secrets the new revision references, variable name -> secret ARN: each
    must have a value before the migration runs (ARNs only; the values are never read)."""
    generated_secrets: Sequence[str] = ()
    """Of those, the ones the release phase generates when they have no value (API_TOKEN)."""
    started_by: pulumi.Input[str] | None = None
    """Defaults to ``started_by_for_stack(project, stack)``."""


class MigrationRun(pulumi.dynamic.Resource, module="migration", name="MigrationRun"):
    """The release-phase migration run; make the ECS service depend on it."""

    task_arn: pulumi.Output[str]
    exit_code: pulumi.Output[int]
    duration_seconds: pulumi.Output[float]
    log_stream: pulumi.Output[str | None]
    cluster: pulumi.Output[str]
    task_definition: pulumi.Output[str]
    container_name: pulumi.Output[str]
    command: pulumi.Output[list[str]]
    started_by: pulumi.Output[str]
    nonce: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: MigrationRunArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        started_by = args.started_by or started_by_for_stack(
            pulumi.get_project(), pulumi.get_stack()
        )
        props: dict[str, Any] = {
            "cluster": args.cluster,
            "task_definition": args.task_definition,
            "container_name": args.container_name,
            "command": args.command,
            "subnets": args.subnets,
            "security_groups": args.security_groups,
            "assign_public_ip": args.assign_public_ip,
            "started_by": started_by,
            "timeout_seconds": args.timeout_seconds,
            "log_group": args.log_group,
            "log_stream_prefix": args.log_stream_prefix,
            "region": args.region,
            "account_id": args.account_id,
            "nonce": args.nonce,
            "app_secrets": args.app_secrets or {},
            "generated_secrets": list(args.generated_secrets),
            # For the `python -m ops STACK secrets set` command the release phase names.
            "stack": pulumi.get_stack(),
            # Declared as None so Pulumi exposes them as outputs.
            **{key: None for key in RESULT_KEYS},
        }
        super().__init__(MigrationRunProvider(), resource_name, props, opts)
