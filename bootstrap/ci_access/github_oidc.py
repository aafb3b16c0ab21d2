"""GitHub Actions' way into AWS: an OIDC identity provider and the roles its tokens may assume.

Creates:

* the IAM OIDC provider for ``token.actions.githubusercontent.com`` with the audience
  ``sts.amazonaws.com`` (what aws-actions/configure-aws-credentials asks for), unless the account
  has one already; an account can hold only one provider per URL. No thumbprint: for GitHub, IAM
  validates the certificate against its own trusted CAs and ignores thumbprints;
* one deploy role per environment of this account, assumable only by a job that runs in that
  GitHub environment AND on the default branch (sub
  ``repo:OWNER/NAME:environment:<env>:ref:refs/heads/<branch>``);
* in the account that holds the previewed environment (``previewEnvironment``, dev), a preview
  role for pull requests (sub ``repo:OWNER/NAME:environment:preview:ref:refs/pull/<n>/merge``):
  ``ReadOnlyAccess``, decrypt with the previewed environment's state key only, and explicit
  denies on every other key, on reading SSM parameters and Secrets Manager secrets, and on the
  other environments' state buckets. A pull request brings its own workflow files, so nothing in
  ``preview.yml`` limits what its code does with this role: these policies are the boundary.

Why the subject names the ref: AWS evaluates only the ``aud`` and ``sub`` claims of a GitHub
token ("Support for custom claims for OIDC is unavailable in AWS", GitHub docs, "Configuring
OpenID Connect in Amazon Web Services"), and GitHub's default ``sub`` of a job in an environment
is ``repo:OWNER/NAME:environment:<env>`` with no branch in it, so any pushed branch could name
``environment: dev`` and get dev's role. The repository's subject template must therefore
include the ref: ``include_claim_keys = ["repo", "context", "ref"]`` (GitHub docs, OpenID
Connect reference, "Customizing the subject claims"; each key is appended as ``key:value``, the
context being ``environment:<env>`` or ``pull_request``). ``github_settings`` prints the command,
with every other GitHub setting the trust relies on.

Deploy roles' permissions: ``deployPolicyArns`` (``AdministratorAccess`` by default) within the
account. The stack creates IAM roles and passes them to ECS; a principal that can do that can
grant itself anything in its account, so a narrower list buys little there. The boundary is the
account: by default each bootstrap stack holds one environment, so dev's role has nothing of
prod's within reach. Every deploy role is also denied any IAM change to the bootstrap's own roles
and provider (no deploy can rewrite a trust policy), and, in a shared account, the other
environments' state buckets and keys: that keeps an honest mistake from crossing over, but not
an attacker with dev's administrator rights, hence the warning for ``sharedAccount``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .state_backend import state_bucket_arns

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
AUDIENCE = "sts.amazonaws.com"
READ_ONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# The subject template the trust policies are written for (see the module docstring).
SUBJECT_CLAIM_KEYS = ("repo", "context", "ref")
# The GitHub environment preview.yml runs in: where a Pulumi Cloud token is kept, behind
# required reviewers (a repository secret would reach every pull request's code).
PREVIEW_GITHUB_ENVIRONMENT = "preview"
# Deploys wait for the release phase and healthy tasks; deploy.yml asks for sessions this long.
DEPLOY_SESSION_SECONDS = 7200
# What a preview must never read: the values of parameters and secrets.
SECRET_READS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
)


def subject(repository: str, context: str, ref: str) -> str:
    """The ``sub`` claim under the template ``repo, context, ref``."""
    return f"repo:{repository}:{context}:ref:{ref}"


def deploy_subject(repository: str, environment: str, branch: str) -> str:
    return subject(repository, f"environment:{environment}", f"refs/heads/{branch}")


def preview_subject(repository: str) -> str:
    """Every pull request's merge ref, in the preview environment (StringLike)."""
    return subject(repository, f"environment:{PREVIEW_GITHUB_ENVIRONMENT}", "refs/pull/*/merge")


def github_trust_policy(provider_arn: str, sub: str, *, like: bool = False) -> str:
    """Let GitHub tokens with our audience and this ``sub`` (a StringLike pattern if ``like``)."""
    condition: dict[str, Any] = {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE}}
    if like:
        condition["StringLike"] = {f"{GITHUB_OIDC_HOST}:sub": sub}
    else:
        condition["StringEquals"][f"{GITHUB_OIDC_HOST}:sub"] = sub
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
                }
            ],
        }
    )


def preview_policy(own_key_arn: str | None, other_state_buckets: list[str]) -> str:
    """Decrypt with the previewed environment's key only; never read secrets or other state."""
    statements: list[dict[str, Any]] = []
    if own_key_arn:
        statements.append(
            {
                "Sid": "DecryptPreviewedState",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": own_key_arn,
            }
        )
        statements.append(
            {
                "Sid": "NoOtherKeys",
                "Effect": "Deny",
                "Action": "kms:Decrypt",
                "NotResource": own_key_arn,
            }
        )
    else:
        statements.append(
            {"Sid": "NoOtherKeys", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}
        )
    statements.append(
        {"Sid": "NoSecretValues", "Effect": "Deny", "Action": list(SECRET_READS), "Resource": "*"}
    )
    return _document(statements, other_state_buckets)


def deploy_guard_policy(
    bootstrap_arns: list[str], other_keys: list[str], other_state_buckets: list[str]
) -> str:
    """What no deploy may do, whatever its managed policies allow."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "NoChangesToCiAccess",
            "Effect": "Deny",
            "Action": "iam:*",
            "Resource": sorted(bootstrap_arns),
        }
    ]
    if other_keys:
        statements.append(
            {"Sid": "NoOtherKeys", "Effect": "Deny", "Action": "kms:*", "Resource": other_keys}
        )
    return _document(statements, other_state_buckets)


def _document(statements: list[dict[str, Any]], other_state_buckets: list[str]) -> str:
    """The policy JSON, with a deny on the other environments' state buckets when there are any."""
    if other_state_buckets:
        statements = [
            *statements,
            {
                "Sid": "NoOtherState",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": other_state_buckets,
            },
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def attachment_suffix(policy_arn: str) -> str:
    """A name part unique per ARN: the last segment alone repeats across paths and accounts."""
    return hashlib.sha256(policy_arn.encode()).hexdigest()[:10]


def github_settings(
    repository: str,
    environments: list[str],
    branch: str,
    preview_environment: str,
) -> list[str]:
    """The GitHub settings these trust policies rely on, one instruction each."""
    owner_name = "/".join(part.split("@")[0] for part in repository.split("/"))
    template = json.dumps({"use_default": False, "include_claim_keys": list(SUBJECT_CLAIM_KEYS)})
    lines = [
        "OIDC subject template (the roles trust no other format): "
        f"gh api --method PUT repos/{owner_name}/actions/oidc/customization/sub "
        f"--input - <<< '{template}'",
        f"Branch ruleset on {branch}: require a pull request with an approving review, the Tests "
        "checks as required status checks, no force pushes, no deletion; deploy roles trust "
        f"only jobs on {branch}.",
    ]
    for environment in environments:
        lines.append(
            f"Environment {environment}: deployment branches = selected branches, only {branch}"
            + (
                ""
                if environment == preview_environment
                else "; required reviewers (at least one), prevent self-review"
            )
            + f"; variable AWS_DEPLOY_ROLE_ARN = deployRoleArns.{environment} (S3 backend: "
            f"PULUMI_BACKEND_URL = backendUrls.{environment})."
        )
    if preview_environment in environments:
        lines.append(
            f"Environment {PREVIEW_GITHUB_ENVIRONMENT}: no deployment-branch rule (pull requests "
            "run in it); variable AWS_PREVIEW_ROLE_ARN = previewRoleArn (S3 backend: "
            f"PULUMI_BACKEND_URL = backendUrls.{preview_environment}); with Pulumi Cloud, its "
            f"secret PULUMI_ACCESS_TOKEN (a token that reads only the {preview_environment} "
            "stack) and required reviewers, who approve each preview run; never a "
            "repository-level PULUMI_ACCESS_TOKEN."
        )
    lines.append(
        "Actions -> Fork pull request workflows: require approval for all external contributors."
    )
    return lines


@dataclass
class GitHubOidcAccessArgs:
    repository: str
    """owner/name, already validated (ci_access.settings)."""
    environments: list[str]
    default_branch: str
    preview_environment: str
    deploy_policy_arns: list[str]
    existing_provider_arn: str = ""
    state_keys: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Each environment's state key in this account, if the bootstrap created them."""
    tags: dict[str, str] = field(default_factory=dict)


class GitHubOidcAccess(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]
    preview_role_arn: pulumi.Output[str] | None
    deploy_role_arns: pulumi.Output[dict[str, str]]

    def __init__(
        self, name: str, args: GitHubOidcAccessArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate-bootstrap:github_oidc:GitHubOidcAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"repository": args.repository, **args.tags}
        repo = args.repository

        provider: aws.iam.OpenIdConnectProvider | None = None
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

        roles: list[aws.iam.Role] = []
        preview: aws.iam.Role | None = None
        if args.preview_environment in args.environments:
            preview = aws.iam.Role(
                f"{name}-preview",
                aws.iam.RoleArgs(
                    description=f"pulumi preview of {args.preview_environment} for pull "
                    f"requests of {repo} (read-only)",
                    assume_role_policy=provider_arn.apply(
                        lambda arn: github_trust_policy(arn, preview_subject(repo), like=True)
                    ),
                    tags=tags,
                ),
                child,
            )
            roles.append(preview)
            aws.iam.RolePolicyAttachment(
                f"{name}-preview-read-only",
                aws.iam.RolePolicyAttachmentArgs(
                    role=preview.name, policy_arn=READ_ONLY_POLICY_ARN
                ),
                child,
            )
            others = [
                arn
                for env in args.environments
                if env != args.preview_environment
                for arn in state_bucket_arns(env)
            ]
            own_key = args.state_keys.get(args.preview_environment)
            aws.iam.RolePolicy(
                f"{name}-preview-guard",
                aws.iam.RolePolicyArgs(
                    role=preview.name,
                    policy=pulumi.Output.from_input(own_key).apply(
                        lambda key: preview_policy(key, others)
                    ),
                ),
                child,
            )

        deploy_roles: dict[str, aws.iam.Role] = {}
        for environment in args.environments:
            role = aws.iam.Role(
                f"{name}-deploy-{environment}",
                aws.iam.RoleArgs(
                    description=f"pulumi up of {repo} in the {environment} environment, "
                    f"from {args.default_branch} only",
                    assume_role_policy=provider_arn.apply(
                        lambda arn, env=environment: github_trust_policy(
                            arn, deploy_subject(repo, env, args.default_branch)
                        )
                    ),
                    max_session_duration=DEPLOY_SESSION_SECONDS,
                    tags={**tags, "environment": environment},
                ),
                child,
            )
            roles.append(role)
            deploy_roles[environment] = role
            for policy_arn in args.deploy_policy_arns:
                # Named by the whole ARN, so reordering the list replaces nothing and two
                # policies with the same last segment do not collide.
                aws.iam.RolePolicyAttachment(
                    f"{name}-deploy-{environment}-{attachment_suffix(policy_arn)}",
                    aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy_arn),
                    child,
                )

        guarded = [r.arn for r in roles] + [provider_arn]
        for environment, role in deploy_roles.items():
            other_keys = [k for env, k in args.state_keys.items() if env != environment]
            other_buckets = [
                arn
                for env in args.environments
                if env != environment
                for arn in state_bucket_arns(env)
            ]
            aws.iam.RolePolicy(
                f"{name}-deploy-{environment}-guard",
                aws.iam.RolePolicyArgs(
                    role=role.name,
                    policy=pulumi.Output.all(
                        pulumi.Output.all(*guarded), pulumi.Output.all(*other_keys)
                    ).apply(
                        lambda values, buckets=other_buckets: deploy_guard_policy(
                            list(values[0]), list(values[1]), buckets
                        )
                    ),
                ),
                child,
            )

        self.provider_arn = provider_arn
        self.preview_role_arn = preview.arn if preview else None
        self.deploy_role_arns = pulumi.Output.all(
            **{env: role.arn for env, role in deploy_roles.items()}
        )
        self.register_outputs(
            {
                "provider_arn": self.provider_arn,
                "preview_role_arn": self.preview_role_arn,
                "deploy_role_arns": self.deploy_role_arns,
            }
        )
