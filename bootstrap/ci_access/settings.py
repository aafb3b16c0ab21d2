"""The bootstrap's configuration, read and checked before any resource is registered.

Creates no resources. A wrong ``githubRepository`` would give roles that trust the wrong
repository (or none), so it is validated here and fails the run with an error naming the key.

The default is one bootstrap stack per AWS account with one environment in it (``["dev"]`` in
the dev account, ``["prod"]`` in the production account): inside one account, a deploy role
that may create IAM roles and pass them to ECS can reach everything else in that account, so
the account is the only boundary that holds between dev and prod. Several environments in one
account need ``sharedAccount: true``, which the program answers with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

# GitHub: owner 1-39 letters, digits or single hyphens; repository letters, digits, ".", "_", "-".
# Repositories with immutable subject claims (the default for those created after 2026-07-15)
# appear in the token's sub as owner@OWNER_ID/name@REPO_ID: accepted as written there.
_REPOSITORY = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:@\d+)?/[A-Za-z0-9._-]{1,100}(?:@\d+)?$"
)
# GitHub environment names end up in the token's sub claim (a ":" would be sent as %3A) and in
# the state bucket's name: lower case, at most 14 characters, so that the bucket prefix
# fastapi-fargate-state-<env>- stays within S3's 37 characters for a prefix.
_ENVIRONMENT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,12}[a-z0-9])?$")
# A branch name as git allows it, without the characters that are wildcards in StringLike.
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}(?<!/)(?<!\.lock)$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/.+$")
_PROVIDER_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
)
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class BootstrapSettings:
    repository: str
    environments: list[str]
    shared_account: bool
    default_branch: str
    preview_environment: str
    deploy_policy_arns: list[str]
    existing_provider_arn: str
    create_state_backend: bool


def load_settings(config: pulumi.Config) -> BootstrapSettings:
    """Every setting, or a RunError listing each bad key (``<project>:<key> ...``)."""
    project = pulumi.get_project()
    errors: list[str] = []

    repository = config.get("githubRepository") or ""
    name = repository.split("/")[-1].split("@")[0]
    if not _REPOSITORY.match(repository) or name in (".", ".."):
        errors.append(
            f"{project}:githubRepository = {repository!r}: must be owner/name as GitHub spells it, "
            "like octo-org/fastapi-fargate (or owner@ID/name@ID for a repository with immutable "
            "subject claims) (pulumi config set githubRepository owner/name)"
        )

    environments = config.get_object("environments")
    if environments is None:
        environments = ["dev"]
    if (
        not isinstance(environments, list)
        or not environments
        or not all(isinstance(e, str) and _ENVIRONMENT.match(e) for e in environments)
        or len(set(environments)) != len(environments)
    ):
        errors.append(
            f"{project}:environments = {environments!r}: must be a non-empty list of distinct "
            "GitHub environment names (lower-case letters, digits and hyphens, at most 14), "
            'like ["dev"] (this account holds the dev stack)'
        )
        environments = []

    shared = config.get_bool("sharedAccount") or False
    if len(environments) > 1 and not shared:
        errors.append(
            f"{project}:environments = {environments!r} puts several environments in one AWS "
            "account, where the deploy role of one can reach the others. Fix: one bootstrap "
            "stack per account (`pulumi config set --path 'environments[0]' prod` in the "
            "production account), or accept it with `pulumi config set sharedAccount true` "
            "(unsafe for production)"
        )

    branch = config.get("defaultBranch") or "main"
    if not _BRANCH.match(branch):
        errors.append(
            f"{project}:defaultBranch = {branch!r}: must be the repository's default branch "
            "name, like main (pulumi config set defaultBranch main)"
        )

    preview = config.get("previewEnvironment") or "dev"
    if not _ENVIRONMENT.match(preview):
        errors.append(
            f"{project}:previewEnvironment = {preview!r}: must be the environment (stack) "
            "pull requests preview, like dev"
        )

    policies = config.get_object("deployPolicyArns")
    if policies is None:
        policies = [ADMINISTRATOR_ACCESS]
    if (
        not isinstance(policies, list)
        or not all(isinstance(p, str) and _POLICY_ARN.match(p) for p in policies)
        or len(set(policies)) != len(policies)
    ):
        errors.append(
            f"{project}:deployPolicyArns = {policies!r}: must be a list of distinct IAM policy ARNs"
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
        shared_account=shared,
        default_branch=branch,
        preview_environment=preview,
        deploy_policy_arns=list(policies),
        existing_provider_arn=provider,
        create_state_backend=create_backend,
    )
