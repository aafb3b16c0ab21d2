"""How the dynamic providers reach AWS: as the stack's AWS provider does, in the stack's account.

The release phase (:mod:`components.migration`) and the rollout check
(:mod:`components.rollout_check`) call AWS with boto3 from Pulumi's dynamic provider host, not
through the AWS provider. Without care they would use whatever credentials the host process
finds (``AWS_PROFILE``, the default profile, ...) while the AWS provider deploys through
``aws:assumeRoles`` or static keys, possibly into another account. This module gives both
providers one way to build their boto3 session:

* :func:`identity_from_config` reads the same stack settings the AWS provider reads
  (``aws:profile``, ``aws:accessKey``/``aws:secretKey``/``aws:token``, ``aws:assumeRoles``).
  The engine hands the dynamic provider host the stack's whole configuration in ``Configure``
  (pulumi/pulumi ``pkg/resource/deploy/target.go`` ``GetPackageConfig``: "For dynamic
  providers, we always pass the full configuration", since CLI 3.139), so credentials reach
  the providers in memory only: never as resource inputs, never in the pickled provider,
  never in state.
* :func:`session_for` builds the boto3 session: the profile (from ``aws:sharedConfigFiles`` /
  ``aws:sharedCredentialsFiles`` when set, one file each) or static keys first (static keys
  win, as in the AWS provider), then each role of ``aws:assumeRoles`` in order (pulumi_aws v7
  reads the list ``assumeRoles``, see ``pulumi_aws/config/vars.py``; v6's single
  ``aws:assumeRole`` is refused with the fix), with the same role ARN, session name, external
  id, duration, policies, source identity and tags. The assumed credentials refresh
  themselves, so a long migration outlives a one-hour role session.
* :func:`require_account` compares ``sts:GetCallerIdentity`` with the account the AWS provider
  deploys to (``aws.get_caller_identity()``, passed as an input) and refuses to act elsewhere.

``aws:assumeRoleWithWebIdentity`` is not supported here and is refused with a clear message;
CI gets web-identity credentials as environment variables instead (the deploy workflow's
``configure-aws-credentials`` step), which the host inherits.

Creates no AWS resource.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import pulumi
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config

# boto3 and botocore's session machinery are imported where a session is built: the program
# imports this module for every preview and offline plan, which never call AWS from here.


@cache
def retry_config() -> Config:
    """botocore's standard mode retries throttling and transient errors with jittered
    exponential backoff (capped at 20 s); 6 attempts ride out a burst without hiding a real
    outage for long."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": 6},
        connect_timeout=10,
        read_timeout=60,
    )

DEFAULT_SESSION_NAME = "fastapi-fargate"
"""Role session name when ``aws:assumeRoles`` names none (after ``AWS_ROLE_SESSION_NAME``, which
the AWS provider reads too): CloudTrail then shows which tool acted."""

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class AwsIdentityError(pulumi.RunError):
    """The stack's AWS settings cannot be turned into the AWS provider's identity.

    A RunError, so the program prints the message without a Python traceback."""


class WrongAccountError(Exception):
    """The credentials act in another account than the one the stack deploys to."""


@dataclass(frozen=True)
class AssumeRole:
    """One entry of ``aws:assumeRoles`` (the AWS provider's ``assume_role`` block)."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    source_identity: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()

    def sts_arguments(self) -> dict[str, Any]:
        """Arguments of ``sts:AssumeRole`` besides the role ARN."""
        arguments: dict[str, Any] = {
            "RoleSessionName": self.session_name
            or os.environ.get("AWS_ROLE_SESSION_NAME")
            or DEFAULT_SESSION_NAME
        }
        if self.external_id:
            arguments["ExternalId"] = self.external_id
        if self.duration_seconds:
            arguments["DurationSeconds"] = self.duration_seconds
        if self.policy:
            arguments["Policy"] = self.policy
        if self.policy_arns:
            arguments["PolicyArns"] = [{"arn": arn} for arn in self.policy_arns]
        if self.source_identity:
            arguments["SourceIdentity"] = self.source_identity
        if self.tags:
            arguments["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags]
        if self.transitive_tag_keys:
            arguments["TransitiveTagKeys"] = list(self.transitive_tag_keys)
        return arguments


@dataclass(frozen=True)
class AwsIdentity:
    """Who the AWS provider is. Lives in the provider host's memory only; never pickled."""

    profile: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    assume_roles: tuple[AssumeRole, ...] = ()
    shared_config_file: str | None = None
    shared_credentials_file: str | None = None


def identity_from_config(get: Callable[[str], Any]) -> AwsIdentity:
    """Read the AWS provider's identity from stack config (``get("aws:profile")`` etc.).

    ``get`` is the dynamic provider's ``ConfigureRequest.config.get`` in the provider host, or a
    lookup on ``pulumi.Config("aws")`` in the program (to refuse bad settings before anything is
    created). Raises :class:`AwsIdentityError` naming the setting and the fix.
    """
    if get("aws:assumeRole") not in (None, ""):
        raise AwsIdentityError(
            "aws:assumeRole is the pulumi-aws v6 setting; v7 reads the list aws:assumeRoles. "
            "Move it: `pulumi config rm aws:assumeRole` and `pulumi config set --path "
            "'aws:assumeRoles[0].roleArn' arn:aws:iam::<account>:role/<name>`."
        )
    if get("aws:assumeRoleWithWebIdentity") not in (None, ""):
        raise AwsIdentityError(
            "aws:assumeRoleWithWebIdentity is not supported by the release phase and the rollout "
            "check (they would run with other credentials than the AWS provider). Provide the "
            "web identity credentials as environment variables instead (AWS_ROLE_ARN and "
            "AWS_WEB_IDENTITY_TOKEN_FILE, or the keys configure-aws-credentials exports) and "
            "`pulumi config rm aws:assumeRoleWithWebIdentity`."
        )
    access_key = _text(get("aws:accessKey"))
    secret_key = _text(get("aws:secretKey"))
    if bool(access_key) != bool(secret_key):
        raise AwsIdentityError(
            "aws:accessKey and aws:secretKey go together: set both "
            "(`pulumi config set --secret aws:secretKey ...`) or neither."
        )
    return AwsIdentity(
        profile=_text(get("aws:profile")),
        access_key=access_key,
        secret_key=secret_key,
        token=_text(get("aws:token")),
        assume_roles=_assume_roles(get("aws:assumeRoles")),
        shared_config_file=_one_file(get("aws:sharedConfigFiles"), "aws:sharedConfigFiles"),
        shared_credentials_file=_one_file(
            get("aws:sharedCredentialsFiles"), "aws:sharedCredentialsFiles"
        ),
    )


def session_for(identity: AwsIdentity | None, region: str) -> boto3.Session:
    """A boto3 session with the AWS provider's credentials, in ``region``.

    Nothing is called yet: the profile is resolved and the roles are assumed on the first API
    call (and again before the assumed credentials expire).
    """
    import boto3
    import botocore.session
    from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
    from botocore.exceptions import ProfileNotFound

    identity = identity or AwsIdentity()
    files = botocore.session.Session()
    if identity.shared_config_file:
        files.set_config_variable("config_file", identity.shared_config_file)
    if identity.shared_credentials_file:
        files.set_config_variable("credentials_file", identity.shared_credentials_file)
    try:
        base = boto3.Session(
            botocore_session=files,
            region_name=region,
            profile_name=identity.profile,
            aws_access_key_id=identity.access_key,
            aws_secret_access_key=identity.secret_key,
            aws_session_token=identity.token,
        )
    except ProfileNotFound as error:
        raise AwsIdentityError(
            f"{error}: aws:profile names a profile this machine's AWS config does not have. "
            "Add it (`aws configure --profile <name>`) or `pulumi config rm aws:profile`."
        ) from None
    if not identity.assume_roles:
        return base
    # boto3 has no public accessor for its botocore session.
    source_botocore = base._session
    credentials = source_botocore.get_credentials()
    if credentials is None:
        raise AwsIdentityError(
            "No AWS credentials found to assume "
            f"{identity.assume_roles[0].role_arn} with (aws:assumeRoles). Set aws:profile, "
            "or AWS_PROFILE / AWS_ACCESS_KEY_ID in the environment of `pulumi up`."
        )
    for role in identity.assume_roles:
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=source_botocore.create_client,
            source_credentials=credentials,
            role_arn=role.role_arn,
            extra_args=role.sts_arguments(),
        )
        credentials = DeferredRefreshableCredentials(
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )
    assumed = botocore.session.Session()
    # The usual way to give a botocore session refreshable credentials (no public setter).
    assumed._credentials = credentials
    return boto3.Session(botocore_session=assumed, region_name=region)


def require_account(session: boto3.Session, expected_account: str | None, *, acting: str) -> None:
    """Refuse to go on when ``session`` acts in another account than ``expected_account``.

    ``acting`` names what would run ("The release phase"), for the message.
    """
    if not expected_account:
        return
    try:
        actual = session.client("sts", config=retry_config()).get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        raise WrongAccountError(
            f"{acting} could not check which AWS account its credentials belong to "
            f"(sts:GetCallerIdentity failed: {error}); the stack deploys to account "
            f"{expected_account}. Check aws:profile / aws:assumeRoles and the credentials in "
            "the environment of `pulumi up`."
        ) from error
    if actual != expected_account:
        raise WrongAccountError(
            f"{acting} would act in AWS account {actual}, but this stack deploys to account "
            f"{expected_account} (the AWS provider's identity). Nothing was done. The "
            "credentials of `pulumi up` and the stack's aws:profile / aws:assumeRoles must "
            "lead to the same account."
        )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _one_file(raw: Any, name: str) -> str | None:
    """The one file of ``aws:sharedConfigFiles``/``aws:sharedCredentialsFiles`` botocore can read."""
    if raw in (None, "", "[]"):
        return None
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        files = [raw]
    files = [files] if isinstance(files, str) else list(files)
    if len(files) > 1:
        raise AwsIdentityError(
            f"{name} lists {len(files)} files; the release phase and the rollout check (boto3) "
            f"read one. Merge them into one file and `pulumi config set --path '{name}[0]' "
            "<file>`."
        )
    return str(files[0]) if files else None


def _assume_roles(raw: Any) -> tuple[AssumeRole, ...]:
    if raw in (None, "", "[]"):
        return ()
    if isinstance(raw, str):
        # The engine passes object config as its JSON text.
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise AwsIdentityError(
                f"aws:assumeRoles is not valid JSON ({error.msg}); set it with "
                "`pulumi config set --path 'aws:assumeRoles[0].roleArn' <arn>`."
            ) from None
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise AwsIdentityError("aws:assumeRoles must be a list of {roleArn, sessionName, ...}.")
    roles = []
    for index, entry in enumerate(raw):
        where = f"aws:assumeRoles[{index}]"
        if not isinstance(entry, Mapping) or not entry.get("roleArn"):
            raise AwsIdentityError(
                f"{where} has no roleArn; set it with `pulumi config set --path "
                f"'{where}.roleArn' arn:aws:iam::<account>:role/<name>`."
            )
        roles.append(
            AssumeRole(
                role_arn=str(entry["roleArn"]),
                session_name=_text(entry.get("sessionName")),
                external_id=_text(entry.get("externalId")),
                duration_seconds=_duration_seconds(entry.get("duration"), f"{where}.duration"),
                policy=_text(entry.get("policy")),
                policy_arns=tuple(str(arn) for arn in entry.get("policyArns") or ()),
                source_identity=_text(entry.get("sourceIdentity")),
                tags=tuple(sorted((str(k), str(v)) for k, v in (entry.get("tags") or {}).items())),
                transitive_tag_keys=tuple(str(k) for k in entry.get("transitiveTagKeys") or ()),
            )
        )
    return tuple(roles)


def _duration_seconds(value: Any, where: str) -> int | None:
    """Parse the AWS provider's Go duration ("1h", "15m", "1h30m") into whole seconds."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise AwsIdentityError(
            f"{where} is {text!r}; write a duration such as 1h or 15m (15 minutes to 12 hours)."
        )
    seconds = int(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))
    if not 900 <= seconds <= 43200:
        raise AwsIdentityError(f"{where} is {text}; STS allows 15 minutes to 12 hours.")
    return seconds
