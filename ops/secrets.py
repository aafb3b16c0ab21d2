"""``.venv/bin/python -m ops STACK secrets list | set NAME | get NAME``: the app's secrets, like Heroku's
``config:set`` and Fly's ``secrets set``, written straight to Secrets Manager.

The stack creates one secret per name in ``service.appSecrets`` (plus API_TOKEN), named
``fastapi-fargate/<stack>/<NAME>`` and tagged as an app secret of the stack
(``components/app_secrets.py``); these commands find them by that name and those tags, never
touching another secret (the database's are not app secrets). A value is never a command-line
argument (shell history, ``ps``): ``set`` reads it from standard input when that is a pipe or
a file, else from a prompt that does not echo. ``list`` shows names, whether each has a value
and when it last changed, never a value; ``get`` prints one value, on request.

ECS reads a secret when a task starts: running tasks keep the old value until they are
replaced, which ``set`` says with the command that replaces them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from components.app_secrets import APP_SECRET_TAG, STACK_TAG, secret_name
from components.settings import PROJECT
from ops.stack import OpsError

Write = Callable[[str], None]

# PutSecretValue's SecretString limit (botocore's secretsmanager model, SecretStringType max).
MAX_VALUE_BYTES = 65536


def stack_short_name(stack: str) -> str:
    """``org/project/dev`` (a Pulumi Cloud stack reference) -> ``dev``: the name in the secret's."""
    return stack.rsplit("/", 1)[-1]


def _not_an_app_secret(stack: str, name: str) -> OpsError:
    return OpsError(
        f"stack {stack} has no app secret {name}. Name it in the stack's settings (`pulumi config "
        f"set --path 'service.appSecrets[<next index>]' {name} --stack {stack}`) and run `pulumi "
        f"up`, which creates it; `.venv/bin/python -m ops {stack} secrets list` shows the ones it has."
    )


def _find(client: Any, stack: str, name: str) -> Mapping[str, Any]:
    """The secret's description, if it is an app secret of this stack."""
    short = stack_short_name(stack)
    try:
        described = client.describe_secret(SecretId=secret_name(PROJECT, short, name))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise _not_an_app_secret(stack, name) from None
        raise
    tags = {t.get("Key"): t.get("Value") for t in described.get("Tags") or []}
    if tags.get(APP_SECRET_TAG) != name or tags.get(STACK_TAG) != short:
        raise _not_an_app_secret(stack, name)
    if described.get("DeletedDate"):
        raise OpsError(
            f"app secret {name} of stack {stack} is scheduled for deletion; restore it with "
            f"`aws secretsmanager restore-secret --secret-id {described['ARN']}`, or run "
            f"`pulumi up` if the stack should have it."
        )
    return described


def _current_version(client: Any, arn: str) -> Mapping[str, Any] | None:
    """The version labelled AWSCURRENT (what ECS reads), or None while the secret has no value."""
    # botocore has no paginator for ListSecretVersionIds: follow NextToken by hand.
    kwargs: dict[str, Any] = {"SecretId": arn}
    while True:
        page = client.list_secret_version_ids(**kwargs)
        for version in page.get("Versions", []):
            if "AWSCURRENT" in (version.get("VersionStages") or []):
                return version
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def list_secrets(stack: str, session: boto3.Session, write: Write) -> None:
    """Every app secret of the stack: name, whether it has a value, when that last changed."""
    client = session.client("secretsmanager")
    short = stack_short_name(stack)
    found = []
    # The name filter narrows to the project's secrets (components.naming fits each stack's
    # part to Secrets Manager's rule, so no fixed per-stack prefix); the tags say which are
    # this stack's app secrets.
    for page in client.get_paginator("list_secrets").paginate(
        Filters=[
            {"Key": "name", "Values": [PROJECT]},
            {"Key": "tag-key", "Values": [APP_SECRET_TAG]},
        ]
    ):
        for entry in page.get("SecretList", []):
            tags = {t.get("Key"): t.get("Value") for t in entry.get("Tags") or []}
            if tags.get(STACK_TAG) == short and tags.get(APP_SECRET_TAG):
                found.append((tags[APP_SECRET_TAG], entry))
    if not found:
        write(
            f"Stack {stack} has no app secrets in {session.region_name} yet: `pulumi up` creates "
            f"one per name in service.appSecrets, and API_TOKEN."
        )
        return
    write(f"App secrets of stack {stack} ({session.region_name}); values are not shown:")
    width = max(len(name) for name, _ in found)
    write(f"  {'NAME':<{width}}  SET  LAST CHANGED")
    unset = []
    for name, entry in sorted(found):
        version = _current_version(client, entry["ARN"])
        if version is None:
            unset.append(name)
        changed = _when(version.get("CreatedDate")) if version else "-"
        write(f"  {name:<{width}}  {'yes' if version else 'no ':<3}  {changed}")
    for name in unset:
        write(f"Set {name}: `.venv/bin/python -m ops {stack} secrets set {name}` (a rollout waits for it).")


def read_value(name: str, stdin: TextIO, prompt: Callable[[str], str]) -> str:
    """The value from a pipe or file on standard input, else typed twice at a silent prompt."""
    if not stdin.isatty():
        value = stdin.read()
        # `echo VALUE |` and files end in a newline the value does not have.
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    else:
        value = prompt(f"Value of {name} (not shown): ")
        if prompt(f"{name} again: ") != value:
            raise OpsError(f"the two values of {name} differ; nothing was changed.")
    if not value:
        raise OpsError(f"an empty value for {name}; nothing was changed.")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise OpsError(
            f"the value of {name} is {len(value.encode())} bytes; Secrets Manager takes at most "
            f"{MAX_VALUE_BYTES}. Nothing was changed."
        )
    return value


def set_secret(
    stack: str,
    session: boto3.Session,
    write: Write,
    name: str,
    value: str,
    outputs: Mapping[str, Any] | None = None,
) -> None:
    """Store a new value as the secret's current version; the value is never echoed."""
    client = session.client("secretsmanager")
    described = _find(client, stack, name)
    answer = client.put_secret_value(SecretId=described["ARN"], SecretString=value)
    write(f"Set {name} of stack {stack} (version {answer.get('VersionId', '?')}).")
    cluster, service = (outputs or {}).get("cluster_name"), (outputs or {}).get("service_name")
    if cluster and service:
        write(
            f"Tasks read it when they start; to replace the running ones now: `aws ecs "
            f"update-service --region {session.region_name} --cluster {cluster} --service "
            f"{service} --force-new-deployment`, or let the next `pulumi up` roll them."
        )
    else:
        write("Tasks read it when they start: run `pulumi up` to deploy with it.")


def get_secret(stack: str, session: boto3.Session, write: Write, name: str) -> None:
    """Print the secret's current value (and nothing else, so it can be piped)."""
    client = session.client("secretsmanager")
    described = _find(client, stack, name)
    if _current_version(client, described["ARN"]) is None:
        raise OpsError(
            f"app secret {name} of stack {stack} has no value yet: `.venv/bin/python -m ops {stack} "
            f"secrets set {name}`"
            + (" (or `pulumi up`: the release phase generates it)." if name == "API_TOKEN" else ".")
        )
    write(client.get_secret_value(SecretId=described["ARN"])["SecretString"])
