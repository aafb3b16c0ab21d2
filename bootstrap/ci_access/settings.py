"""The bootstrap's configuration, read and checked before any resource is registered.

Creates no resources. A wrong ``githubRepository`` would give roles that trust the wrong
repository (or none), so it is validated here and fails the run with an error naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

# GitHub: owner 1-39 letters, digits or single hyphens; repository letters, digits, ".", "_", "-".
_REPOSITORY = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9._-]{1,100}$"
)
# GitHub environment names end up in the token's sub claim; keep them to plain names.
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+$")
_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)


@dataclass(frozen=True)
class BootstrapSettings:
    repository: str
    environments: list[str]
    deploy_policy_arns: list[str]
    existing_provider_arn: str
    create_state_backend: bool


def load_settings(config: pulumi.Config) -> BootstrapSettings:
    """Every setting, or a RunError listing each bad key (``<project>:<key> ...``)."""
    project = pulumi.get_project()
    errors: list[str] = []

    repository = config.get("githubRepository") or ""
    if not _REPOSITORY.match(repository) or repository.split("/")[-1] in (".", ".."):
        errors.append(
            f"{project}:githubRepository = {repository!r}: must be owner/name as GitHub spells it, "
            "like octo-org/fastapi-fargate (pulumi config set githubRepository owner/name)"
        )

    environments = config.get_object("environments")
    if environments is None:
        environments = ["dev", "prod"]
    if (
        not isinstance(environments, list)
        or not environments
        or not all(isinstance(e, str) and _ENVIRONMENT.match(e) for e in environments)
        or len(set(environments)) != len(environments)
    ):
        errors.append(
            f"{project}:environments = {environments!r}: must be a non-empty list of distinct "
            'GitHub environment names, like ["dev", "prod"]'
        )

    policies = config.get_object("deployPolicyArns")
    if policies is None:
        policies = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    if not isinstance(policies, list) or not all(
        isinstance(p, str) and _POLICY_ARN.match(p) for p in policies
    ):
        errors.append(
            f"{project}:deployPolicyArns = {policies!r}: must be a list of IAM policy ARNs"
        )

    provider = config.get("existingOidcProviderArn") or ""
    if provider and not _PROVIDER_ARN.match(provider):
        errors.append(
            f"{project}:existingOidcProviderArn = {provider!r}: must be the ARN of the "
            "token.actions.githubusercontent.com OIDC provider, or unset to create it"
        )

    create_backend = config.get_bool("createStateBackend") or False

    if errors:
        raise pulumi.RunError("Invalid bootstrap configuration:\n  " + "\n  ".join(errors))
    return BootstrapSettings(
        repository=repository,
        environments=list(environments),
        deploy_policy_arns=list(policies),
        existing_provider_arn=provider,
        create_state_backend=create_backend,
    )
