"""App secrets: names in config (`service.appSecrets`), values only in Secrets Manager.

The stack creates one Secrets Manager secret per name, with no version, and the container's
reference to it; the release phase gets the ARNs to check (and API_TOKEN to generate). Values
set the old way, `pulumi config set --secret app-secrets:NAME`, are refused with the commands
that move them. Rendered from Pulumi.dev.yaml with overrides under the SDK's mocks; the IAM
decisions are those of tests/iam_evaluation.py.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from components.settings import SettingsError
from iam_evaluation import allowed
from pulumi_harness import ACCOUNT, REGION, AwsMocks, Rendered, render

SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MIGRATION_RUN = "pulumi-python:dynamic/migration:MigrationRun"
STRIPE = "sk_live_51TestValueThatMustNeverLeak"
NAMES = {"service.appSecrets": ["STRIPE_KEY", "WEBHOOK_SECRET"]}


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render(NAMES)


def container(rendered: Rendered, name: str = "app-definition") -> dict:
    (definition,) = json.loads(rendered.one(TASK_DEFINITION, name)["containerDefinitions"])
    return definition


def secret_refs(rendered: Rendered) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container(rendered)["secrets"]}


def secret_arn(name: str, stack: str = "dev") -> str:
    # How AwsMocks answers for a secret: its name plus the 6 characters AWS appends.
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:fastapi-fargate/{stack}/{name}-AbCdEf"


class TestSecretsManager:
    def test_one_secret_per_name_and_api_token_named_after_the_stack(self, dev):
        component = dev.one("fastapi-fargate:app_secrets:AppSecrets")
        assert sorted(s["name"] for s in dev.children(component) if s.type == SECRET) == [
            "fastapi-fargate/dev/API_TOKEN",
            "fastapi-fargate/dev/STRIPE_KEY",
            "fastapi-fargate/dev/WEBHOOK_SECRET",
        ]

    def test_the_same_urns_as_before_so_a_deployed_secret_and_its_value_stay(self, dev):
        # A stack deployed with app-secrets: config has these secrets already; the same
        # component and child names keep them (only the SecretVersion resources go).
        component = dev.one("fastapi-fargate:app_secrets:AppSecrets", "app-secrets")
        assert {s.name for s in dev.children(component)} == {
            "app-secrets-API_TOKEN",
            "app-secrets-STRIPE_KEY",
            "app-secrets-WEBHOOK_SECRET",
        }

    def test_no_secret_version_so_no_value_in_the_program_or_state(self, dev):
        assert dev.all(VERSION) == []

    def test_each_secret_is_tagged_so_ops_finds_the_apps_secrets_of_the_stack(self, dev):
        tags = {s["name"]: s["tags"] for s in dev.all(SECRET) if "app-role" not in s.name}
        assert tags["fastapi-fargate/dev/STRIPE_KEY"] == {
            "fastapi-fargate:stack": "dev",
            "fastapi-fargate:app-secret": "STRIPE_KEY",
        }
        assert all("fastapi-fargate:app-secret" in t for t in tags.values())
        # The database's secret is not an app secret: ops never lists or prints it.
        app_role = next(s for s in dev.all(SECRET) if "app-role" in s.name)
        assert "fastapi-fargate:app-secret" not in (app_role.get("tags") or {})

    def test_a_dev_secret_is_deleted_at_once_a_production_one_can_be_restored(self, dev):
        assert {s["recoveryWindowInDays"] for s in dev.all(SECRET)} == {0}  # app role's too
        prod = render(NAMES, stack="prod")
        assert {s["recoveryWindowInDays"] for s in prod.all(SECRET)} == {30}

    def test_api_token_even_with_no_names_set(self):
        rendered = render({"database.appRole": False})
        assert [s["name"] for s in rendered.all(SECRET)] == ["fastapi-fargate/dev/API_TOKEN"]

    def test_naming_api_token_again_is_the_same_one_secret(self):
        rendered = render({"service.appSecrets": ["API_TOKEN"], "database.appRole": False})
        assert [s["name"] for s in rendered.all(SECRET)] == ["fastapi-fargate/dev/API_TOKEN"]


class TestContainer:
    def test_each_secret_reaches_the_container_as_a_reference(self, dev):
        refs = secret_refs(dev)
        for name in ("API_TOKEN", "STRIPE_KEY", "WEBHOOK_SECRET"):
            assert refs[name] == secret_arn(name)
        names = {e["name"] for e in container(dev)["environment"]}
        assert not names & {"API_TOKEN", "STRIPE_KEY", "WEBHOOK_SECRET"}

    def test_the_migration_task_gets_them_too(self, dev):
        # It runs the new revision's code, which may read its settings at import.
        refs = {
            s["name"]: s["valueFrom"] for s in container(dev, "app-migration-definition")["secrets"]
        }
        assert refs["STRIPE_KEY"] == secret_arn("STRIPE_KEY")

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
            [
                app_role,
                master_secret,
                *(secret_arn(n) for n in ("API_TOKEN", "STRIPE_KEY", "WEBHOOK_SECRET")),
            ]
        )

    def test_iam_lets_the_execution_role_read_these_and_nothing_else(self, dev):
        policy = dev.one(ROLE_POLICY, "app-execution-secrets")["policy"]
        read = "secretsmanager:GetSecretValue"
        assert allowed([policy], read, secret_arn("STRIPE_KEY"))
        assert allowed([policy], read, secret_arn("API_TOKEN"))
        # Another stack's secret of the same name, another secret of this stack, a write.
        assert not allowed([policy], read, secret_arn("STRIPE_KEY", stack="prod"))
        assert not allowed([policy], read, secret_arn("OTHER"))
        assert not allowed([policy], "secretsmanager:PutSecretValue", secret_arn("STRIPE_KEY"))
        assert not allowed([policy], "secretsmanager:ListSecrets", "*")

    def test_the_web_tasks_own_role_cannot_read_the_app_secrets(self, dev):
        # ECS injects them with the execution role; the app's code has no reason to fetch them.
        policy = dev.one(ROLE_POLICY, "app-task-secrets")["policy"]
        assert not allowed([policy], "secretsmanager:GetSecretValue", secret_arn("API_TOKEN"))


class TestReleasePhase:
    def test_the_migration_run_checks_every_app_secret_and_generates_api_token(self, dev):
        run = dev.one(MIGRATION_RUN)
        assert run["app_secrets"] == {
            n: secret_arn(n) for n in ("API_TOKEN", "STRIPE_KEY", "WEBHOOK_SECRET")
        }
        assert run["generated_secrets"] == ["API_TOKEN"]
        assert run["stack"] == "dev"

    def test_without_a_release_phase_every_run_says_who_must_set_the_values(self, caplog):
        with caplog.at_level(logging.WARNING):
            rendered = render({**NAMES, "migration.enabled": False})
        assert not rendered.all(MIGRATION_RUN)
        (warning,) = [r.getMessage() for r in caplog.records if "app secrets" in r.getMessage()]
        assert "(API_TOKEN, STRIPE_KEY, WEBHOOK_SECRET) or generates API_TOKEN" in warning
        assert "`python -m ops dev secrets set NAME`" in warning

    def test_it_runs_after_the_secrets_exist(self, dev):
        run = dev.one(MIGRATION_RUN)
        assert all(dev.depends_on(run, s) for s in dev.all(SECRET) if "app-secrets" in s.name)


class TestNeverInPlainText:
    def test_no_resource_input_is_secret_but_the_rollout_checks_pickled_provider(self, dev):
        # No app secret value anywhere, and no registry login either (the image pushes with
        # Docker's): the only secret input left is the rollout check's pickled provider, which
        # the SDK always marks secret and which holds no secret.
        secret_inputs = {(r.type, key) for r in dev.resources for key in r.secret_inputs}
        assert secret_inputs == {("pulumi-python:dynamic/rollout:RolloutCheck", "__provider")}

    def test_the_pickled_providers_hold_no_secret_arn_value_or_config(self, dev):
        for resource in dev.resources:
            provider = resource.inputs.get("__provider")
            if provider:
                text = base64.b64decode(provider).decode("latin-1")
                assert "secretsmanager" not in text and "API_TOKEN" not in text

    def test_no_resource_is_given_a_database_password(self, dev):
        for resource in dev.resources:
            assert not {"password", "passwordWo", "masterPassword"} & set(resource.inputs)


class TestBadInput:
    def test_a_value_set_the_old_way_is_refused_with_the_commands_that_move_it(self):
        mocks = AwsMocks()
        with pytest.raises(SettingsError) as caught:
            render(
                {"app-secrets:STRIPE_KEY": STRIPE, "service.appSecrets": ["WEBHOOK_SECRET"]},
                secret_keys=["app-secrets:STRIPE_KEY"],
                mocks=mocks,
            )
        (problem,) = caught.value.problems
        assert problem.startswith("app-secrets:STRIPE_KEY: app secret values no longer live")
        assert (
            "`pulumi config set --path 'service.appSecrets[1]' STRIPE_KEY`, "
            "`pulumi config rm app-secrets:STRIPE_KEY`, `pulumi up`" in problem
        )
        assert "`.venv/bin/python -m ops dev secrets set STRIPE_KEY`" in problem
        assert "`.venv/bin/python -m ops dev secrets list`" in problem
        assert STRIPE not in str(caught.value)
        assert mocks.registered == []

    def test_a_name_already_listed_needs_only_the_config_removed(self):
        with pytest.raises(SettingsError) as caught:
            render(
                {"app-secrets:STRIPE_KEY": STRIPE, **NAMES}, secret_keys=["app-secrets:STRIPE_KEY"]
            )
        (problem,) = caught.value.problems
        assert "service.appSecrets[" not in problem
        assert "Move it: `pulumi config rm app-secrets:STRIPE_KEY`, `pulumi up`." in problem

    def test_two_old_values_get_consecutive_indexes(self):
        keys = ["app-secrets:A_KEY", "app-secrets:B_KEY"]
        with pytest.raises(SettingsError) as caught:
            render(dict.fromkeys(keys, STRIPE), secret_keys=keys)
        first, second = caught.value.problems
        assert "'service.appSecrets[0]' A_KEY" in first
        assert "'service.appSecrets[1]' B_KEY" in second

    def test_a_plain_text_value_is_refused_without_showing_it(self):
        with pytest.raises(SettingsError) as caught:
            render({"app-secrets:STRIPE_KEY": STRIPE})
        assert STRIPE not in str(caught.value)

    @pytest.mark.parametrize("name", ["1PASSWORD", "stripe-key", "WITH SPACE"])
    def test_a_name_that_is_not_an_environment_variable(self, name):
        with pytest.raises(SettingsError) as caught:
            render({"service.appSecrets": [name]})
        (problem,) = caught.value.problems
        assert problem.startswith("fastapi-fargate:service.appSecrets = ")
        assert "not environment variable names" in problem

    def test_a_name_twice(self):
        with pytest.raises(SettingsError) as caught:
            render({"service.appSecrets": ["A", "A"]})
        assert "names a secret twice" in caught.value.problems[0]

    @pytest.mark.parametrize("name", ["DB_PASSWORD", "PORT", "WEB_CONCURRENCY"])
    def test_a_name_the_stack_sets_itself(self, name):
        with pytest.raises(SettingsError) as caught:
            render({"service.appSecrets": [name]})
        (problem,) = caught.value.problems
        assert problem.startswith(
            f"fastapi-fargate:service.appSecrets: the container already gets {name}"
        )
        assert "Fix: `pulumi config rm --path 'service.appSecrets[0]'`" in problem

    def test_api_token_as_a_plain_variable_is_refused(self):
        with pytest.raises(SettingsError) as caught:
            render({"service.environment": ["API_TOKEN=abc"]})
        (problem,) = caught.value.problems
        assert problem.startswith(
            "fastapi-fargate:service.environment: API_TOKEN is an app secret the stack creates"
        )
        assert "`.venv/bin/python -m ops <stack> secrets set API_TOKEN`" in problem
        assert "abc" not in problem

    def test_a_name_the_settings_already_give_the_container(self):
        with pytest.raises(SettingsError) as caught:
            render({"service.appSecrets": ["LOG_LEVEL"], "service.environment": ["LOG_LEVEL=info"]})
        assert "the container already gets LOG_LEVEL" in caught.value.problems[0]
