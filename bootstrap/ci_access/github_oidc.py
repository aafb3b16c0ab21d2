"""GitHub Actions' way into AWS: an OIDC identity provider and the roles its tokens may assume.

Creates:

* the IAM OIDC provider for ``token.actions.githubusercontent.com`` with the audience
  ``sts.amazonaws.com`` (what aws-actions/configure-aws-credentials asks for), unless the account
  has one already; an account can hold only one provider per URL. No thumbprint: for GitHub, IAM
  validates the certificate against its own trusted CAs and ignores thumbprints;
* a preview role that only tokens of pull requests of this repository can assume (sub
  ``repo:OWNER/NAME:pull_request``). It reads: ``ReadOnlyAccess``, enough for ``pulumi preview``
  to read every resource of the stack, plus decrypting with the state backend's KMS key (state
  objects and stack secrets), which ``ReadOnlyAccess`` does not grant. It cannot change anything,
  so a pull request's code, which runs in that job, cannot either;
* one deploy role per GitHub environment, each assumable only by jobs that run in that
  environment of this repository (sub ``repo:OWNER/NAME:environment:<env>``), so a job needs the
  environment's protection rules (reviewers, branches) passed to get it. Its policies default to
  ``AdministratorAccess``: the stack creates IAM roles for its tasks and passes them to ECS, and a
  principal that can create and pass roles can grant itself anything, so a narrower list buys
  little. No permissions boundary, for the same reason, unless the app's roles carried one too.
  The trust is the control; for real separation give production its own AWS account (a bootstrap
  stack there with ``environments: [prod]``).

Both trust policies require ``aud = sts.amazonaws.com`` and an exact ``sub`` (StringEquals, no
wildcards), so no other repository, branch push or fork can assume them. Repositories that
customize their OIDC subject claim must match these subjects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"
READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# Deploys wait for the release phase and healthy tasks; deploy.yml asks for sessions this long.
DEPLOY_SESSION_SECONDS = 7200


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


def github_trust_policy(provider_arn: str, subjects: list[str]) -> str:
    """Let GitHub tokens with exactly one of ``subjects`` (and our audience) assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": subjects,
                        }
                    },
                }
            ],
        }
    )


def state_key_policy(key_arn: str) -> str:
    """Decrypt with the state backend's key: read SSE-KMS state objects and stack secrets."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey"],
                    "Resource": key_arn,
                }
            ],
        }
    )


@dataclass
class GitHubOidcAccessArgs:
    repository: str
    """owner/name, already validated (ci_access.settings)."""
    environments: list[str]
    deploy_policy_arns: list[str]
    existing_provider_arn: str = ""
    state_key_arn: pulumi.Input[str] | None = None
    """The state backend's KMS key, if the bootstrap created one: the preview role may decrypt."""
    tags: dict[str, str] = field(default_factory=dict)


class GitHubOidcAccess(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str]
    deploy_role_arns: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: GitHubOidcAccessArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate-bootstrap:github_oidc:GitHubOidcAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"repository": args.repository, **args.tags}

        if args.existing_provider_arn:
            provider_arn: pulumi.Output[str] = pulumi.Output.from_input(args.existing_provider_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-oidc",
                aws.iam.OpenIdConnectProviderArgs(
                    url=GITHUB_OIDC_URL, client_id_lists=[AUDIENCE], tags=tags
                ),
                child,
            )
            provider_arn = provider.arn

        preview = aws.iam.Role(
            f"{name}-preview",
            aws.iam.RoleArgs(
                description=f"pulumi preview for pull requests of {args.repository} (read-only)",
                assume_role_policy=provider_arn.apply(
                    lambda arn: github_trust_policy(arn, [pull_request_subject(args.repository)])
                ),
                tags=tags,
            ),
            child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-preview-read-only",
            aws.iam.RolePolicyAttachmentArgs(role=preview.name, policy_arn=READ_ONLY_POLICY_ARN),
            child,
        )
        if args.state_key_arn is not None:
            aws.iam.RolePolicy(
                f"{name}-preview-state-key",
                aws.iam.RolePolicyArgs(
                    role=preview.name,
                    policy=pulumi.Output.from_input(args.state_key_arn).apply(state_key_policy),
                ),
                child,
            )

        deploy_arns: dict[str, pulumi.Output[str]] = {}
        for environment in args.environments:
            role = aws.iam.Role(
                f"{name}-deploy-{environment}",
                aws.iam.RoleArgs(
                    description=f"pulumi up of {args.repository} in the {environment} environment",
                    assume_role_policy=provider_arn.apply(
                        lambda arn, env=environment: github_trust_policy(
                            arn, [environment_subject(args.repository, env)]
                        )
                    ),
                    max_session_duration=DEPLOY_SESSION_SECONDS,
                    tags={**tags, "environment": environment},
                ),
                child,
            )
            for policy_arn in args.deploy_policy_arns:
                # Named by the policy, so reordering the list replaces nothing.
                aws.iam.RolePolicyAttachment(
                    f"{name}-deploy-{environment}-{policy_arn.rsplit('/', 1)[-1]}",
                    aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy_arn),
                    child,
                )
            deploy_arns[environment] = role.arn

        self.provider_arn = provider_arn
        self.preview_role_arn = preview.arn
        self.deploy_role_arns = pulumi.Output.all(**deploy_arns)
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "preview_role_arn": self.preview_role_arn,
                "deploy_role_arns": self.deploy_role_arns,
            }
        )
