"""One-time AWS setup so GitHub Actions can preview and deploy fastapi-fargate without stored keys.

Run it by hand with administrator credentials, once per AWS account: by default one account per
environment (``environments: [dev]`` in the dev account, ``[prod]`` in the production one).
Creates the GitHub OIDC identity provider, one deploy role per environment of the account, a
read-only preview role where the previewed environment lives and, with ``createStateBackend``,
an S3 state bucket and a KMS key per environment for the Pulumi self-managed backend. Prints
the GitHub settings the roles' trust relies on. ``ci_access`` holds the logic and the reasons.
"""

import pulumi
from ci_access.github_oidc import GitHubOidcAccess, GitHubOidcAccessArgs, github_settings
from ci_access.settings import load_settings
from ci_access.state_backend import StateBackend, StateBackendArgs

# Validated before anything is registered: a typo in the repository must not create roles that
# trust nothing (or the wrong repository).
settings = load_settings(pulumi.Config())

if settings.shared_account:
    pulumi.log.warn(
        f"sharedAccount: {settings.environments} share one AWS account. Each deploy role can "
        "create and pass IAM roles, so whoever deploys one environment can reach the others' "
        "resources; the denies on other state and keys stop mistakes, not an attacker. Unsafe "
        "for production: give production its own account and bootstrap stack."
    )

backends = (
    {
        env: StateBackend(f"pulumi-state-{env}", StateBackendArgs(environment=env))
        for env in settings.environments
    }
    if settings.create_state_backend
    else {}
)

access = GitHubOidcAccess(
    "github",
    GitHubOidcAccessArgs(
        repository=settings.repository,
        environments=settings.environments,
        default_branch=settings.default_branch,
        preview_environment=settings.preview_environment,
        deploy_policy_arns=settings.deploy_policy_arns,
        existing_provider_arn=settings.existing_provider_arn,
        state_keys={env: backend.key_arn for env, backend in backends.items()},
    ),
)

# The trust above holds only with these GitHub settings in place: printed on every run.
required = github_settings(
    settings.repository,
    settings.environments,
    settings.default_branch,
    settings.preview_environment,
)
pulumi.log.info("GitHub settings these roles rely on:\n  " + "\n  ".join(required))
pulumi.export("githubSettings", required)

pulumi.export("oidcProviderArn", access.provider_arn)
if access.preview_role_arn is not None:
    # Variable AWS_PREVIEW_ROLE_ARN of the GitHub environment "preview".
    pulumi.export("previewRoleArn", access.preview_role_arn)
# Variable AWS_DEPLOY_ROLE_ARN of each GitHub environment.
pulumi.export("deployRoleArns", access.deploy_role_arns)
if backends:
    # Variable PULUMI_BACKEND_URL of each GitHub environment, and `pulumi login` for people.
    pulumi.export("backendUrls", {env: b.backend_url for env, b in backends.items()})
    # `pulumi stack init <stack> --secrets-provider <this>` for each stack of the app.
    pulumi.export("secretsProviders", {env: b.secrets_provider for env, b in backends.items()})
