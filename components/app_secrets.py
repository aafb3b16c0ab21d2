"""The app's own secrets (API keys and the like): Secrets Manager secrets, values kept out of Pulumi.

``AppSecrets`` creates, for each name in ``service.appSecrets``, a Secrets Manager secret named
``<project>/<stack>/<NAME>`` and nothing else: no secret version. The values are written like
Heroku's ``config:set`` and Fly's ``secrets set``, outside the deployment tool, with
``python -m ops STACK secrets set NAME``; the release phase generates the ones in
``GENERATED_APP_SECRETS`` (API_TOKEN) when they have none and refuses a rollout while any other
has no value (``components.migration_runner.ensure_app_secrets``). So a value is never in
Pulumi config, state, a preview or a log, and whoever can decrypt the stack's state (the
preview role of pull requests can decrypt dev's) never reads one. The task definition only
names each secret's ARN; ECS puts the value in the container's environment when a task starts.

Each secret is tagged with the stack and its variable name, so ``python -m ops STACK secrets
list`` finds exactly the app's secrets of that stack (not the database's).

A stack deployed before this change had a ``SecretVersion`` beside each secret, holding the
value set with ``pulumi config set --secret app-secrets:NAME``. The secrets keep their names
and URNs here (same component, same child names), so the next ``pulumi up`` keeps them and
deletes only the versions from state; terraform-provider-aws leaves the version labelled
``AWSCURRENT`` in place when that resource is deleted (``aws_secretsmanager_secret_version``
docs: "that label cannot be removed and will be skipped"), so the value the app uses stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.naming import SECRET_NAME, stack_name
from components.settings import PROJECT

# Days a deleted production secret can still be restored; AWS's default and its longest.
PRODUCTION_RECOVERY_WINDOW_DAYS = 30
# Tags `python -m ops STACK secrets list` finds the app's secrets by (ops/secrets.py).
STACK_TAG = f"{PROJECT}:stack"
APP_SECRET_TAG = f"{PROJECT}:app-secret"


def secret_name(project: str, stack: str, variable: str) -> str:
    """The Secrets Manager name of an app secret: ``<project>/<stack>/<NAME>``, the stack's
    part fitted to Secrets Manager's name rule (``components.naming``)."""
    return stack_name(SECRET_NAME, project, stack, variable, separator="/")


@dataclass(frozen=True)
class AppSecretsArgs:
    """The variable names (``settings.app_secret_names``); never a value."""

    names: Sequence[str]
    production: bool
    protect: bool = False
    """Pulumi ``protect`` on each secret (production): deleting or replacing one is refused."""


class AppSecrets(pulumi.ComponentResource):
    """One Secrets Manager secret per app secret, without a value; see the module docstring."""

    arns: dict[str, pulumi.Output[str]]
    """Each secret's ARN by variable name."""

    def __init__(
        self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:app_secrets:AppSecrets", name, None, opts)
        project, stack = pulumi.get_project(), pulumi.get_stack()
        self.arns = {}
        for variable in sorted(args.names):
            secret = aws.secretsmanager.Secret(
                f"{name}-{variable}",
                aws.secretsmanager.SecretArgs(
                    name=secret_name(project, stack, variable),
                    description=f"{variable} of the app in stack {project}/{stack}; set with "
                    f"`python -m ops {stack} secrets set {variable}`.",
                    # A dev stack can be destroyed and recreated at once (a secret pending
                    # deletion blocks its name); production keeps a way back from a mistake.
                    recovery_window_in_days=(
                        PRODUCTION_RECOVERY_WINDOW_DAYS if args.production else 0
                    ),
                    tags={STACK_TAG: stack, APP_SECRET_TAG: variable},
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.arns[variable] = secret.arn
        self.register_outputs({"arns": self.arns})
