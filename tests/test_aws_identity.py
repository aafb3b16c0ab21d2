"""The release phase and the rollout check act as the AWS provider does, in the stack's account.

Real boto3 calls into moto's STS, ECS and EC2. The stack settings are given the way the engine
hands them to the dynamic provider host in ``Configure`` (``aws:*`` keys, objects as JSON text).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pulumi
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sts.models import sts_backends
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

from components import aws_session
from components.aws_session import (
    AssumeRole,
    AwsIdentityError,
    WrongAccountError,
    identity_from_config,
    require_account,
    session_for,
)
from components.migration import MigrationRunProvider
from components.rollout_check import RolloutCheckProvider
from pulumi_harness import ACCOUNT, render

REGION = "eu-west-1"
OTHER_ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/deploy"
SECRET_KEY = "wJalrXUtnFEMI-static-secret-key"
TOKEN = "IQoJb3JpZ2luX2VjEL-session-token"


def config(**values: Any) -> dict[str, Any]:
    """Stack config as the engine passes it to a dynamic provider: namespaced, objects as JSON."""
    return {
        f"aws:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }


def configured(provider: Any, **values: Any) -> Any:
    provider.configure(ConfigureRequest(Config(config(**values), "fastapi-fargate")))
    return provider


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_SESSION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def assumed_roles(account: str = DEFAULT_ACCOUNT_ID) -> list[Any]:
    return list(sts_backends[account]["aws"].assumed_roles)


# --- reading the stack's aws settings ---------------------------------------------------------


def test_assume_roles_are_read_with_every_field_the_aws_provider_passes_to_sts() -> None:
    identity = identity_from_config(
        config(
            profile="deploy",
            assumeRoles=[
                {
                    "roleArn": ROLE,
                    "sessionName": "ci",
                    "externalId": "ext-123",
                    "duration": "1h30m",
                    "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                    "sourceIdentity": "alice",
                    "tags": {"team": "web"},
                    "transitiveTagKeys": ["team"],
                },
                {"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/second"},
            ],
        ).get
    )

    assert identity.profile == "deploy"
    first, second = identity.assume_roles
    assert first.sts_arguments() == {
        "RoleSessionName": "ci",
        "ExternalId": "ext-123",
        "DurationSeconds": 5400,
        "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
        "SourceIdentity": "alice",
        "Tags": [{"Key": "team", "Value": "web"}],
        "TransitiveTagKeys": ["team"],
    }
    assert second == AssumeRole(role_arn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/second")
    assert second.sts_arguments() == {"RoleSessionName": aws_session.DEFAULT_SESSION_NAME}


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"assumeRole": {"roleArn": ROLE}}, ["aws:assumeRole", "aws:assumeRoles[0].roleArn"]),
        ({"assumeRoleWithWebIdentity": {"roleArn": ROLE}}, ["aws:assumeRoleWithWebIdentity"]),
        ({"accessKey": "AKIA1234"}, ["aws:accessKey and aws:secretKey"]),
        ({"assumeRoles": [{"sessionName": "x"}]}, ["aws:assumeRoles[0] has no roleArn"]),
        ({"assumeRoles": [{"roleArn": ROLE, "duration": "5m"}]}, ["15 minutes to 12 hours"]),
        ({"assumeRoles": [{"roleArn": ROLE, "duration": "an hour"}]}, ["such as 1h"]),
        ({"assumeRoles": "[{"}, ["aws:assumeRoles is not valid JSON"]),
    ],
    ids=["v6-assumeRole", "web-identity", "half-static-keys", "no-role", "short", "bad", "json"],
)
def test_settings_the_providers_cannot_honour_are_refused_naming_the_setting(
    values: dict[str, Any], names: list[str]
) -> None:
    with pytest.raises(AwsIdentityError) as caught:
        identity_from_config(config(**values).get)

    for name in names:
        assert name in str(caught.value)
    assert isinstance(caught.value, pulumi.RunError)  # printed without a traceback


def test_the_program_refuses_such_settings_before_creating_anything() -> None:
    with pytest.raises(pulumi.RunError, match="aws:assumeRole is the pulumi-aws v6 setting"):
        render({"aws:assumeRole": {"roleArn": ROLE}})


# --- the session: same credentials, same role, same account ------------------------------------


def test_the_session_assumes_each_role_with_the_aws_providers_arguments(aws: None) -> None:
    identity = identity_from_config(
        config(
            assumeRoles=[
                {"roleArn": ROLE, "sessionName": "first", "externalId": "ext-1"},
                {"roleArn": ROLE.replace("deploy", "release"), "duration": "20m"},
            ]
        ).get
    )

    session = session_for(identity, REGION)
    caller = session.client("sts").get_caller_identity()

    first, second = assumed_roles()
    assert (first.role_arn, first.session_name, first.external_id) == (ROLE, "first", "ext-1")
    assert second.role_arn == ROLE.replace("deploy", "release")
    assert second.session_name == aws_session.DEFAULT_SESSION_NAME
    # The API calls use the last role of the chain.
    assert caller["Arn"].endswith(f":assumed-role/release/{aws_session.DEFAULT_SESSION_NAME}")


def test_static_keys_from_the_stack_config_are_used(aws: None) -> None:
    identity = identity_from_config(
        config(accessKey="AKIASTACKCONFIG00001", secretKey=SECRET_KEY, token=TOKEN).get
    )

    credentials = session_for(identity, REGION).get_credentials().get_frozen_credentials()

    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "AKIASTACKCONFIG00001",
        SECRET_KEY,
        TOKEN,
    )


def test_a_profile_from_the_stacks_shared_credentials_file_is_used(
    aws: None, tmp_path: Any
) -> None:
    credentials_file = tmp_path / "credentials"
    credentials_file.write_text(
        "[ci]\naws_access_key_id = AKIAFROMTHEFILE00001\naws_secret_access_key = from-file\n"
    )
    identity = identity_from_config(
        config(profile="ci", sharedCredentialsFiles=[str(credentials_file)]).get
    )

    credentials = session_for(identity, REGION).get_credentials().get_frozen_credentials()

    assert (credentials.access_key, credentials.secret_key) == ("AKIAFROMTHEFILE00001", "from-file")


def test_a_profile_this_machine_lacks_is_a_clear_error(aws: None, tmp_path: Any) -> None:
    empty = tmp_path / "config"
    empty.write_text("")
    identity = identity_from_config(config(profile="nowhere", sharedConfigFiles=[str(empty)]).get)

    with pytest.raises(AwsIdentityError, match=r"aws:profile names a profile .* does not have"):
        session_for(identity, REGION)


def test_more_shared_files_than_boto3_reads_are_refused() -> None:
    with pytest.raises(AwsIdentityError, match="aws:sharedConfigFiles lists 2 files"):
        identity_from_config(config(sharedConfigFiles=["~/.aws/a", "~/.aws/b"]).get)


def test_the_same_account_passes_the_check(aws: None) -> None:
    require_account(session_for(None, REGION), DEFAULT_ACCOUNT_ID, acting="The rollout check")


def test_another_account_is_refused_naming_both(aws: None) -> None:
    identity = identity_from_config(
        config(assumeRoles=[{"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/deploy"}]).get
    )

    with pytest.raises(WrongAccountError) as caught:
        require_account(session_for(identity, REGION), ACCOUNT, acting="The rollout check")

    assert (
        f"The rollout check would act in AWS account {OTHER_ACCOUNT}, but this stack deploys "
        f"to account {ACCOUNT}"
    ) in str(caught.value)


def test_the_migration_provider_refuses_to_run_in_another_account(aws: None) -> None:
    provider = configured(
        MigrationRunProvider(),
        assumeRoles=[{"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/deploy"}],
    )
    props = {
        "cluster": "app-cluster",
        "task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/app:1",
        "container_name": "web",
        "command": ["python", "-m", "api.migrate"],
        "subnets": ["subnet-1"],
        "security_groups": [],
        "started_by": "migrate/app/dev",
        "timeout_seconds": 900,
        "log_group": None,
        "log_stream_prefix": None,
        "region": REGION,
        "account_id": DEFAULT_ACCOUNT_ID,
        "nonce": "",
    }

    with pytest.raises(WrongAccountError, match=f"act in AWS account {OTHER_ACCOUNT}"):
        provider.create(props)

    # Refused before any ECS call: no task was started.
    assert boto3.client("ecs", region_name=REGION).list_clusters()["clusterArns"] == []


def test_the_rollout_check_refuses_to_read_another_accounts_service(aws: None) -> None:
    provider = configured(
        RolloutCheckProvider(),
        assumeRoles=[{"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/deploy"}],
    )
    props = {
        "cluster": "app",
        "service": "web",
        "task_definition_arn": "td:2",
        "region": REGION,
        "account_id": DEFAULT_ACCOUNT_ID,
    }

    with pytest.raises(
        WrongAccountError, match=f"but this stack deploys to account {DEFAULT_ACCOUNT_ID}"
    ):
        provider.create(props)


# --- what the program passes and what state keeps -----------------------------------------------


def test_the_providers_get_the_stacks_account_and_no_credentials_as_inputs() -> None:
    rendered = render(
        {
            "aws:profile": "deploy",
            "aws:accessKey": "AKIASTACKCONFIG00001",
            "aws:secretKey": SECRET_KEY,
            "aws:assumeRoles": [{"roleArn": ROLE, "externalId": "ext-1"}],
        },
        secret_keys=["aws:secretKey"],
    )

    for type_ in (
        "pulumi-python:dynamic/migration:MigrationRun",
        "pulumi-python:dynamic/rollout:RolloutCheck",
    ):
        resource = rendered.one(type_)
        assert resource["account_id"] == ACCOUNT
        pickled = base64.b64decode(resource["__provider"])
        state = repr({k: v for k, v in resource.inputs.items() if k != "__provider"})
        for needle in (SECRET_KEY, "AKIASTACKCONFIG00001", ROLE, "ext-1"):
            assert needle.encode() not in pickled, (type_, needle)
            assert needle not in state, (type_, needle)
        assert "profile" not in resource.inputs


@pytest.mark.parametrize("provider_class", [MigrationRunProvider, RolloutCheckProvider])
def test_a_configured_provider_pickles_without_its_identity(provider_class: type) -> None:
    provider = configured(
        provider_class(),
        accessKey="AKIASTACKCONFIG00001",
        secretKey=SECRET_KEY,
        token=TOKEN,
        assumeRoles=[{"roleArn": ROLE, "externalId": "ext-1"}],
    )
    assert provider._identity.secret_key == SECRET_KEY

    blob = base64.b64decode(serialize_provider(provider))

    for needle in (SECRET_KEY, TOKEN, "AKIASTACKCONFIG00001", ROLE, "ext-1"):
        assert needle.encode() not in blob
