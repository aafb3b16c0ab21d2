"""One-time AWS setup so GitHub Actions can preview and deploy fastapi-fargate without stored keys.

Creates the GitHub OIDC identity provider, a read-only preview role for pull requests, one deploy
role per GitHub environment and, with ``createStateBackend``, an S3 state bucket and a KMS key for
the Pulumi self-managed backend. Run it by hand, once per AWS account, with administrator
credentials; ``ci_access`` holds the logic and the reasons.
"""

import pulumi
from ci_access.github_oidc import GitHubOidcAccess, GitHubOidcAccessArgs
from ci_access.settings import load_settings
from ci_access.state_backend import StateBackend, StateBackendArgs

# Validated before anything is registered: a typo in the repository must not create roles that
# trust nothing (or the wrong repository).
settings = load_settings(pulumi.Config())

backend = (
    StateBackend("pulumi-state", StateBackendArgs()) if settings.create_state_backend else None
)

access = GitHubOidcAccess(
    "github",
    GitHubOidcAccessArgs(
        repository=settings.repository,
        environments=settings.environments,
        deploy_policy_arns=settings.deploy_policy_arns,
        existing_provider_arn=settings.existing_provider_arn,
        state_key_arn=backend.key_arn if backend else None,
    ),
)

pulumi.export("oidcProviderArn", access.provider_arn)
# Repository variable AWS_PREVIEW_ROLE_ARN.
pulumi.export("previewRoleArn", access.preview_role_arn)
# Environment variable AWS_DEPLOY_ROLE_ARN of each GitHub environment.
pulumi.export("deployRoleArns", access.deploy_role_arns)
if backend:
    # Repository variable PULUMI_BACKEND_URL, and `pulumi login` for people.
    pulumi.export("backendUrl", backend.backend_url)
    # `pulumi stack init <stack> --secrets-provider <this>` for each stack of the app.
    pulumi.export("secretsProvider", backend.secrets_provider)
