"""App secrets: `pulumi config set --secret app-secrets:NAME` values reach the container through
Secrets Manager, and their values appear nowhere but in the one input marked secret.

Rendered from Pulumi.dev.yaml with overrides under the SDK's mocks; a value the CLI would hand
over as a secret is given in ``render``'s ``secret_keys``.
"""

from __future__ import annotations

import base64
import json

import pytest

from components.settings import SettingsError
from pulumi_harness import ACCOUNT, REGION, AwsMocks, Rendered, render

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
STRIPE = "sk_live_51TestValueThatMustNeverLeak"
WEBHOOK = "whsec_AnotherTestValue0123456789"
VALUES = {"app-secrets:STRIPE_KEY": STRIPE, "app-secrets:WEBHOOK_SECRET": WEBHOOK}


def render_with_secrets(overrides: dict | None = None, **kwargs) -> Rendered:
    return render({**VALUES, **(overrides or {})}, secret_keys=list(VALUES), **kwargs)


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render_with_secrets()


def container(rendered: Rendered) -> dict:
    (definition,) = json.loads(
        rendered.one(TASK_DEFINITION, "app-definition")["containerDefinitions"]
    )
    return definition


def secret_refs(rendered: Rendered) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container(rendered)["secrets"]}


def secret_arn(name: str) -> str:
    # How AwsMocks answers for a secret: its name plus the 6 characters AWS appends.
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:fastapi-fargate/dev/{name}-AbCdEf"


def places_holding(rendered: Rendered, value: str) -> list[str]:
    """Every resource input and stack output holding ``value``, but a secret version's value.

    Inputs marked secret are searched too: a secret value that reached, say, the container's
    environment would mark the whole task definition secret, yet AWS would show it in clear.
    """
    found = []
    for resource in rendered.resources:
        for key, item in resource.inputs.items():
            if (resource.type, key) == (VERSION, "secretString"):
                continue
            text = json.dumps(item, default=str)
            if key == "__provider":
                # A dynamic provider is pickled into the state; look inside the pickle too.
                text += base64.b64decode(item).decode("latin-1")
            if value in text:
                found.append(f"{resource.type}::{resource.name}.{key}")
    for name, output in rendered.outputs.items():
        if value in json.dumps(output, default=str):
            found.append(f"output {name}")
    return found


class TestSecretsManager:
    def test_one_secret_per_value_named_after_the_stack(self, dev):
        component = dev.one("fastapi-fargate:app_secrets:AppSecrets")
        assert sorted(s["name"] for s in dev.children(component) if s.type == SECRET) == [
            "fastapi-fargate/dev/STRIPE_KEY",
            "fastapi-fargate/dev/WEBHOOK_SECRET",
        ]

    def test_each_value_is_stored_as_a_version_whose_input_is_secret(self, dev):
        versions = {v.name: v for v in dev.all(VERSION)}
        assert set(versions) == {"app-secrets-STRIPE_KEY", "app-secrets-WEBHOOK_SECRET"}
        assert versions["app-secrets-STRIPE_KEY"]["secretString"] == STRIPE
        assert all(v.secret_inputs == {"secretString"} for v in versions.values())

    def test_a_dev_secret_is_deleted_at_once_a_production_one_can_be_restored(self, dev):
        assert {s["recoveryWindowInDays"] for s in dev.all(SECRET)} == {0}  # app role's too
        prod = render_with_secrets(
            {
                "production": True,
                "network.nat": "per-az",
                "service.desiredCount": 2,
                "scaling.minCount": 2,
                "service.fargateSpotPercent": 0,
            }
        )
        assert {s["recoveryWindowInDays"] for s in prod.all(SECRET)} == {30}

    def test_no_app_secrets_no_secrets_manager_resources(self):
        rendered = render({"database.appRole": False})
        assert not rendered.all(SECRET) and not rendered.all(VERSION)
        assert not rendered.all("fastapi-fargate:app_secrets:AppSecrets")


class TestContainer:
    def test_each_value_reaches_the_container_as_a_reference_to_its_secret(self, dev):
        refs = secret_refs(dev)
        assert refs["STRIPE_KEY"] == secret_arn("STRIPE_KEY")
        assert refs["WEBHOOK_SECRET"] == secret_arn("WEBHOOK_SECRET")
        names = {e["name"] for e in container(dev)["environment"]}
        assert not names & {"STRIPE_KEY", "WEBHOOK_SECRET"}

    def test_the_execution_role_reads_exactly_the_database_and_app_secrets(self, dev):
        (statement,) = json.loads(dev.one(ROLE_POLICY, "app-execution-secrets")["policy"])[
            "Statement"
        ]
        app_role = secret_refs(dev)["DB_PASSWORD"].removesuffix(":password::")
        master = dev.one("aws:rds/instance:Instance")  # its secret: the migration's credentials
        (master_secret,) = [
            r
            for r in statement["Resource"]
            if r.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!")
        ]
        assert master.inputs["manageMasterUserPassword"] is True
        assert sorted(statement["Resource"]) == sorted(
            [app_role, master_secret, secret_arn("STRIPE_KEY"), secret_arn("WEBHOOK_SECRET")]
        )

    def test_no_task_starts_before_the_values_are_stored(self, dev):
        task = dev.one(TASK_DEFINITION, "app-definition")
        assert all(dev.depends_on(task, version) for version in dev.all(VERSION))


class TestNeverInPlainText:
    def test_the_search_finds_a_value_where_it_is_kept_secret(self, dev):
        # The search below is only worth something if it would see the value: it is there,
        # in the one input marked secret.
        version = next(v for v in dev.all(VERSION) if v.name == "app-secrets-STRIPE_KEY")
        assert STRIPE in json.dumps(version.inputs)

    @pytest.mark.parametrize("value", [STRIPE, WEBHOOK])
    def test_no_value_appears_in_any_other_input_or_output(self, dev, value):
        assert places_holding(dev, value) == []

    def test_not_with_every_part_of_the_stack_turned_on_either(self):
        rendered = render_with_secrets(
            {
                "service.environment": ["LOG_LEVEL=info"],
                "loadBalancer.accessLogs": True,
                "scaling.memoryTarget": 80,
                "migration.nonce": "2",
            }
        )
        assert places_holding(rendered, STRIPE) == []
        assert rendered.all("pulumi-python:dynamic/migration:MigrationRun")

    def test_secret_inputs_are_only_where_each_is_expected(self, dev):
        # A secret value mixed into any other input would mark that input secret too.
        secret_inputs = {(r.type, key) for r in dev.resources for key in r.secret_inputs}
        assert secret_inputs == {
            (VERSION, "secretString"),
            # The ECR login the image push uses.
            ("docker:index/image:Image", "registry"),
            # Pulumi marks a pickled dynamic provider secret unless it opts out; searched above.
            ("pulumi-python:dynamic/rollout:RolloutCheck", "__provider"),
        }

    def test_no_resource_is_given_a_database_password(self, dev):
        for resource in dev.resources:
            assert not {"password", "passwordWo", "masterPassword"} & set(resource.inputs)


class TestBadInput:
    def test_a_value_not_set_as_a_secret_is_refused_without_showing_it(self):
        mocks = AwsMocks()
        with pytest.raises(SettingsError) as caught:
            render({"app-secrets:STRIPE_KEY": STRIPE}, mocks=mocks)
        (problem,) = caught.value.problems
        assert problem.startswith("app-secrets:STRIPE_KEY:")
        assert (
            "`pulumi config set --secret app-secrets:STRIPE_KEY` (it asks for the value" in problem
        )
        assert STRIPE not in str(caught.value)
        assert mocks.registered == []

    @pytest.mark.parametrize("name", ["1PASSWORD", "stripe-key", "WITH SPACE"])
    def test_a_name_that_is_not_an_environment_variable(self, name):
        key = f"app-secrets:{name}"
        with pytest.raises(SettingsError) as caught:
            render({key: STRIPE}, secret_keys=[key])
        (problem,) = caught.value.problems
        assert problem.startswith(f"{key}: is not an environment variable name")

    @pytest.mark.parametrize("name", ["DB_PASSWORD", "PORT", "WEB_CONCURRENCY"])
    def test_a_name_the_stack_sets_itself(self, name):
        key = f"app-secrets:{name}"
        with pytest.raises(SettingsError) as caught:
            render({key: STRIPE}, secret_keys=[key])
        (problem,) = caught.value.problems
        assert problem.startswith(f"{key}: the container already gets {name}")
        assert STRIPE not in problem

    def test_a_name_the_settings_already_give_the_container(self):
        key = "app-secrets:LOG_LEVEL"
        with pytest.raises(SettingsError) as caught:
            render({key: STRIPE, "service.environment": ["LOG_LEVEL=info"]}, secret_keys=[key])
        assert caught.value.problems[0].startswith(f"{key}: the container already gets LOG_LEVEL")
