"""What the containers learn about the database, the network and their limits (issue 16).

* The web tasks connect as the app's own role (its secret, created empty by the stack and filled
  by the release phase), with ``verify-full`` TLS against the CA bundle in the image and a
  statement timeout; the migration task keeps the master credentials in a task definition of
  its own, with ``lock_timeout`` and the right to write exactly the app role's secret.
* ``FORWARDED_ALLOW_IPS`` is the VPC's CIDR (looked up for an existing VPC), ``MAX_BODY_BYTES``
  the setting.
* No secret value in any task definition, IAM scoped to exact ARNs, both container
  definitions valid against botocore's model of RegisterTaskDefinition.
"""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.database import APP_ROLE_NAME, RDS_CA_BUNDLE_PATH
from components.settings import SettingsError
from pulumi_harness import (
    ACCOUNT,
    EXISTING_VPC_SETTINGS,
    REGION,
    ROOT,
    Rendered,
    existing_vpc_mocks,
    render,
    settings_of,
)

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "aws:secretsmanager/secret:Secret"
SERVICE = "aws:ecs/service:Service"
MIGRATION_RUN = "pulumi-python:dynamic/migration:MigrationRun"
WEB, MIGRATION = "app-definition", "app-migration-definition"
SECRET_ARN = re.compile(rf"^arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:[\w/!+=.@-]+-\w{{6}}$")


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render()


def container(rendered: Rendered, definition: str = WEB) -> dict:
    (only,) = json.loads(rendered.one(TASK_DEFINITION, definition)["containerDefinitions"])
    return only


def environment(rendered: Rendered, definition: str = WEB) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(rendered, definition)["environment"]}


def secret_refs(rendered: Rendered, definition: str = WEB) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container(rendered, definition)["secrets"]}


def statements(rendered: Rendered, policy: str) -> list[dict]:
    return json.loads(rendered.one(ROLE_POLICY, policy)["policy"])["Statement"]


def app_role_secret(rendered: Rendered):
    return rendered.one(SECRET, "data-app-role")


def app_role_secret_arn(rendered: Rendered) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{app_role_secret(rendered)['name']}-AbCdEf"


def master_secret_arn(rendered: Rendered) -> str:
    return secret_refs(rendered, MIGRATION)["DB_PASSWORD"].removesuffix(":password::")


class TestTheAppConnectsAsItsOwnRole:
    def test_the_stack_creates_an_empty_secret_for_the_role_and_never_a_password(self, dev):
        secret = app_role_secret(dev)
        assert secret["name"] == "fastapi-fargate/dev/database-app-role"
        assert secret["recoveryWindowInDays"] == 0
        # No version, no random password: the release phase puts the first value.
        assert not dev.all("aws:secretsmanager/secretVersion:SecretVersion")
        assert not [r for r in dev.resources if r.type.startswith("random:")]

    def test_the_web_tasks_get_the_role_s_credentials_and_its_secret_for_re_reads(self, dev):
        arn = app_role_secret_arn(dev)
        refs = secret_refs(dev)
        assert refs.pop("API_TOKEN").endswith(":secret:fastapi-fargate/dev/API_TOKEN-AbCdEf")
        assert refs == {
            "DB_USER": f"{arn}:username::",
            "DB_PASSWORD": f"{arn}:password::",
        }
        assert environment(dev)["DB_SECRET_ARN"] == arn

    def test_the_web_task_role_may_read_only_the_role_s_secret(self, dev):
        assert statements(dev, "app-task-secrets") == [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [app_role_secret_arn(dev)],
            }
        ]

    def test_the_migration_keeps_the_master_credentials_and_may_write_exactly_the_role_s_secret(
        self, dev
    ):
        master, app = master_secret_arn(dev), app_role_secret_arn(dev)
        assert master.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!")
        env = environment(dev, MIGRATION)
        assert env["DB_SECRET_ARN"] == master
        assert (env["DB_APP_ROLE"], env["DB_APP_SECRET_ARN"]) == (APP_ROLE_NAME, app)
        assert statements(dev, "app-migration-task-secrets") == [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": sorted([master, app]),
            },
            {"Effect": "Allow", "Action": ["secretsmanager:PutSecretValue"], "Resource": [app]},
        ]
        # ECS injects both pairs of credentials: the execution role reads both secrets (and
        # the app's own API_TOKEN, components/app_secrets.py).
        (execution,) = statements(dev, "app-execution-secrets")
        api_token = next(r for r in execution["Resource"] if "/API_TOKEN-" in r)
        assert sorted(execution["Resource"]) == sorted([master, app, api_token])

    def test_the_release_phase_runs_the_migration_task_definition_and_the_service_the_web_one(
        self, dev
    ):
        web, migration = dev.one(TASK_DEFINITION, WEB), dev.one(TASK_DEFINITION, MIGRATION)
        assert migration["family"] == "fastapi-fargate-dev-migration"
        assert dev.one(MIGRATION_RUN)["task_definition"].endswith("fastapi-fargate-dev-migration:7")
        assert dev.one(SERVICE)["taskDefinition"].endswith("task-definition/fastapi-fargate-dev:7")
        # Same image, same task role trust conditions, its own task role.
        assert container(dev, MIGRATION)["image"] == container(dev, WEB)["image"]
        assert migration["taskRoleArn"] != web["taskRoleArn"]
        assert migration["executionRoleArn"] == web["executionRoleArn"]
        roles = {r.name: json.loads(r["assumeRolePolicy"]) for r in dev.all("aws:iam/role:Role")}
        assert roles["app-migration-task"] == roles["app-task"]
        assert "Condition" in roles["app-migration-task"]["Statement"][0]

    def test_no_migration_task_starts_before_its_role_may_write_the_secret(self, dev):
        migration = dev.one(TASK_DEFINITION, MIGRATION)
        assert dev.depends_on(migration, dev.one(ROLE_POLICY, "app-migration-task-secrets"))
        assert dev.depends_on(migration, dev.one(ROLE_POLICY, "app-execution-secrets"))
        assert dev.depends_on(migration, app_role_secret(dev))

    @pytest.mark.parametrize(
        "overrides",
        [{"database.appRole": False}, {"migration.enabled": False}],
        ids=["appRole false", "no release phase"],
    )
    def test_without_an_app_role_the_web_tasks_use_the_database_secret(self, overrides):
        rendered = render(overrides)
        assert [d.name for d in rendered.all(TASK_DEFINITION)] == [WEB]
        # No secret for an app role: only the app's own API_TOKEN.
        assert [s.name for s in rendered.all(SECRET)] == ["app-secrets-API_TOKEN"]
        refs = secret_refs(rendered)
        assert refs["DB_USER"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!")
        assert "DB_APP_ROLE" not in environment(rendered)


class TestNothingSecretInTheTaskDefinitions:
    @pytest.mark.parametrize("definition", [WEB, MIGRATION])
    def test_credentials_only_as_references_to_exact_secret_arns(self, dev, definition):
        env = environment(dev, definition)
        assert not {"DB_USER", "DB_PASSWORD", "DATABASE_URL"} & set(env)
        for name, ref in secret_refs(dev, definition).items():
            if name == "API_TOKEN":  # the app's own secret: the whole value, no JSON key
                assert SECRET_ARN.match(ref), ref
                continue
            arn, key = ref.rsplit(":", 3)[0], ref.rsplit(":", 3)[1]
            assert SECRET_ARN.match(arn), (name, ref)
            assert key == {"DB_USER": "username", "DB_PASSWORD": "password"}[name]

    def test_every_secrets_policy_names_exact_arns_and_no_wildcard(self, dev):
        # (ECS Exec's ssmmessages channel policy has no resource to name: not a secrets policy.)
        secrets_policies = [p for p in dev.all(ROLE_POLICY) if p.name.endswith("-secrets")]
        assert len(secrets_policies) == 3
        for policy in secrets_policies:
            for statement in json.loads(policy["policy"])["Statement"]:
                assert all("*" not in action for action in statement["Action"]), policy.name
                for arn in statement["Resource"]:
                    assert SECRET_ARN.match(arn), (policy.name, arn)

    @pytest.mark.parametrize("definition", [WEB, MIGRATION])
    def test_container_definitions_match_the_ecs_api_model(self, dev, definition):
        model = botocore.session.get_session().get_service_model("ecs")
        shape = model.operation_model("RegisterTaskDefinition").input_shape
        report = ParamValidator().validate(
            {
                "family": dev.one(TASK_DEFINITION, definition)["family"],
                "containerDefinitions": json.loads(
                    dev.one(TASK_DEFINITION, definition)["containerDefinitions"]
                ),
            },
            shape,
        )
        assert not report.has_errors(), report.generate_report()


class TestTlsTimeoutsAndLimits:
    def test_tls_verifies_the_rds_server_with_the_bundle_the_image_ships(self, dev):
        env = environment(dev)
        assert env["DB_SSLMODE"] == "verify-full"
        assert env["DB_SSLROOTCERT"] == RDS_CA_BUNDLE_PATH
        dockerfile = (ROOT / "app" / "Dockerfile").read_text()
        copies = re.findall(r"^COPY --from=builder \S+ (\S+)$", dockerfile, re.MULTILINE)
        assert RDS_CA_BUNDLE_PATH in copies
        assert "truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in dockerfile

    def test_an_external_rds_host_is_verified_too(self):
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shared/db-AbCdEf"
        rendered = render(
            {
                "database.mode": "external",
                "database.host": "shared.abcdefghij.eu-west-1.rds.amazonaws.com",
                "database.secretArn": arn,
            }
        )
        assert environment(rendered)["DB_SSLMODE"] == "verify-full"

    def test_statement_and_lock_timeouts_follow_the_settings_in_milliseconds(self, dev):
        assert environment(dev)["DB_STATEMENT_TIMEOUT_MS"] == "5000"
        assert environment(dev, MIGRATION)["DB_LOCK_TIMEOUT_MS"] == "2000"
        rendered = render({"database.statementTimeout": 8, "migration.lockTimeout": 3})
        assert environment(rendered)["DB_STATEMENT_TIMEOUT_MS"] == "8000"
        assert environment(rendered, MIGRATION)["DB_LOCK_TIMEOUT_MS"] == "3000"

    def test_the_body_limit_follows_the_setting(self, dev):
        assert environment(dev)["MAX_BODY_BYTES"] == "1048576"
        rendered = render({"service.maxBodyBytes": 65536})
        assert environment(rendered)["MAX_BODY_BYTES"] == "65536"

    def test_forwarded_headers_are_trusted_from_the_new_vpc_only(self, dev):
        assert environment(dev)["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"
        assert environment(dev, MIGRATION)["FORWARDED_ALLOW_IPS"] == "10.0.0.0/16"
        rendered = render({"network.cidr": "10.42.0.0/16"})
        assert environment(rendered)["FORWARDED_ALLOW_IPS"] == "10.42.0.0/16"

    def test_an_existing_vpc_s_every_cidr_block_is_asked_from_aws(self):
        mocks = existing_vpc_mocks()
        rendered = render(EXISTING_VPC_SETTINGS, mocks=mocks)
        # The mock VPC has a secondary block, where an ALB's subnets may sit.
        assert environment(rendered)["FORWARDED_ALLOW_IPS"] == "10.20.0.0/16,100.64.0.0/20"
        assert ("aws:ec2/getVpc:getVpc", {"id": "vpc-0123456789abcdef0"}) in [
            (token, {k: v for k, v in args.items() if k == "id"}) for token, args in mocks.invokes
        ]

    def test_the_stack_s_variables_cannot_be_set_again_by_settings(self):
        for name in ("FORWARDED_ALLOW_IPS", "MAX_BODY_BYTES", "DB_STATEMENT_TIMEOUT_MS"):
            with pytest.raises(SettingsError) as caught:
                settings_of({"service.environment": [f"{name}=1"]})
            assert name in str(caught.value)


class TestTimeoutSettings:
    def only_problem(self, raw: dict) -> str:
        with pytest.raises(SettingsError) as caught:
            settings_of(raw)
        assert len(caught.value.problems) == 1, caught.value.problems
        return caught.value.problems[0]

    def test_a_statement_timeout_the_load_balancer_would_cut_first_is_refused(self):
        problem = self.only_problem({"database.statementTimeout": 60})
        assert "fastapi-fargate:database.statementTimeout = 60" in problem
        assert "loadBalancer.idleTimeout = 60" in problem
        assert "pulumi config set --path database.statementTimeout" in problem

    def test_a_lock_timeout_that_would_cancel_queued_app_queries_is_refused(self):
        problem = self.only_problem({"migration.lockTimeout": 5})
        assert "fastapi-fargate:migration.lockTimeout = 5" in problem
        assert "database.statementTimeout = 5" in problem
        assert "pulumi config set --path migration.lockTimeout 2" in problem

    def test_no_database_no_timeout_rules(self):
        settings_of({"database.mode": "off", "migration.lockTimeout": 30})

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("database.statementTimeout", 0),
            ("migration.lockTimeout", 0),
            ("service.maxBodyBytes", 10),
        ],
    )
    def test_values_out_of_range_are_refused_with_the_setting_named(self, key, value):
        assert f"fastapi-fargate:{key} = {value}" in self.only_problem({key: value})
