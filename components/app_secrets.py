"""The app's own secrets (API keys and the like), moved from Pulumi config to Secrets Manager.

``AppSecrets`` creates, for each value set with ``pulumi config set --secret app-secrets:NAME``,
a Secrets Manager secret named ``<project>/<stack>/<NAME>`` and a version holding the value.
The value stays a Pulumi secret all the way (encrypted in config and in state, masked in
previews); the task definition only names the secret's ARN, and ECS puts the value in the
container's environment when a task starts. So the value is never in the task definition,
in a stack output or in a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.naming import SECRET_NAME, stack_name

# Days a deleted production secret can still be restored; AWS's default and its longest.
PRODUCTION_RECOVERY_WINDOW_DAYS = 30


@dataclass(frozen=True)
class AppSecretsArgs:
    """The values by variable name (Pulumi secrets, from ``settings.app_secret_values``)."""

    values: Mapping[str, pulumi.Input[str]]
    production: bool
    protect: bool = False
    """Pulumi ``protect`` on each secret (production): deleting or replacing one is refused."""


class AppSecrets(pulumi.ComponentResource):
    """One Secrets Manager secret per app secret; see the module docstring."""

    arns: dict[str, pulumi.Output[str]]
    """Each secret's ARN by variable name, ready once its value is stored."""

    def __init__(
        self, name: str, args: AppSecretsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:app_secrets:AppSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        self.arns = {}
        for variable, value in sorted(args.values.items()):
            secret = aws.secretsmanager.Secret(
                f"{name}-{variable}",
                aws.secretsmanager.SecretArgs(
                    name=stack_name(
                        SECRET_NAME,
                        pulumi.get_project(),
                        pulumi.get_stack(),
                        variable,
                        separator="/",
                    ),
                    description=f"{variable} of the app in stack {prefix}; set with "
                    f"`pulumi config set --secret app-secrets:{variable}`.",
                    # A dev stack can be destroyed and recreated at once (a secret pending
                    # deletion blocks its name); production keeps a way back from a mistake.
                    recovery_window_in_days=(
                        PRODUCTION_RECOVERY_WINDOW_DAYS if args.production else 0
                    ),
                ),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            version = aws.secretsmanager.SecretVersion(
                f"{name}-{variable}",
                aws.secretsmanager.SecretVersionArgs(
                    secret_id=secret.id,
                    secret_string=pulumi.Output.secret(value),
                ),
                opts=child,
            )
            # Carries the version as a dependency: no task may start before the value is there.
            self.arns[variable] = pulumi.Output.all(secret.arn, version.id).apply(
                lambda values: values[0]
            )
        self.register_outputs({"arns": self.arns})
