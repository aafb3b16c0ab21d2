"""The database: private, reachable only from the tasks, its credentials only ever as secrets.

Rendered from Pulumi.dev.yaml (managed PostgreSQL) with overrides under the SDK's mocks.
"""

from __future__ import annotations

import json
import re

import pytest

from components.settings import SettingsError, parse_settings
from pulumi_harness import (
    ACCOUNT,
    EXISTING_VPC_SETTINGS,
    REGION,
    AwsMocks,
    Rendered,
    existing_vpc_mocks,
    handed_over,
    render,
)

INSTANCE = "aws:rds/instance:Instance"
# The app's own secret every stack has (components/app_secrets.py), beside the database's.
API_TOKEN_ARN = (
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:fastapi-fargate/dev/API_TOKEN-AbCdEf"
)
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RANDOM_ID = "random:index/randomId:RandomId"
DB_TYPES = (INSTANCE, SUBNET_GROUP, "fastapi-fargate:database:Database")
PROD = {
    "production": True,
    "network.nat": "per-az",
    "service.desiredCount": 2,
    "scaling.minCount": 2,
    "scaling.maxCount": 4,
    "service.fargateSpotPercent": 0,
}
EXTERNAL_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shared/db-creds-AbCdEf"
EXTERNAL = {
    "database.mode": "external",
    "database.host": "db.internal.example.com",
    "database.port": 6432,
    "database.name": "notes",
    "database.secretArn": EXTERNAL_ARN,
}


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render()


@pytest.fixture(scope="module")
def prod() -> Rendered:
    return render(PROD)


WEB, MIGRATION = "app-definition", "app-migration-definition"


def container(rendered: Rendered, definition: str = WEB) -> dict:
    (container,) = json.loads(rendered.one(TASK_DEFINITION, definition)["containerDefinitions"])
    return container


def environment(rendered: Rendered, definition: str = WEB) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(rendered, definition)["environment"]}


def secrets(rendered: Rendered, definition: str = WEB) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container(rendered, definition)["secrets"]}


def policy_resources(rendered: Rendered, name: str = "app-execution-secrets") -> list[str]:
    policy = json.loads(rendered.one(ROLE_POLICY, name)["policy"])
    return [arn for statement in policy["Statement"] for arn in statement["Resource"]]


def database_secret_arn(rendered: Rendered, definition: str = WEB) -> str:
    """The secret the container's credentials come from (web: the app role's)."""
    return secrets(rendered, definition)["DB_PASSWORD"].removesuffix(":password::")


def master_secret_arn(rendered: Rendered) -> str:
    return database_secret_arn(rendered, MIGRATION)


def database_group_id(rendered: Rendered) -> str:
    (group_id,) = rendered.one(INSTANCE)["vpcSecurityGroupIds"]
    return group_id


def task_group_id(rendered: Rendered) -> str:
    (group_id,) = rendered.one(SERVICE)["networkConfiguration"]["securityGroups"]
    return group_id


class TestPrivate:
    def test_the_database_is_not_publicly_accessible(self, dev):
        assert dev.one(INSTANCE)["publiclyAccessible"] is False

    def test_it_lives_in_the_private_subnets_even_when_the_tasks_do_not(self, dev):
        # network.nat none (dev): the tasks run in the public subnets, the database does not.
        private = [s for s in dev.all("aws:ec2/subnet:Subnet") if "private" in s.name]
        group = dev.one(SUBNET_GROUP)
        assert len(group["subnetIds"]) == len(private) == 2
        assert all(dev.depends_on(group, subnet) for subnet in private)
        public_task_subnets = dev.one(SERVICE)["networkConfiguration"]["subnets"]
        assert not set(group["subnetIds"]) & set(public_task_subnets)
        # The mocks name a resource after its logical name, as autonaming would prefix it.
        assert dev.one(INSTANCE)["dbSubnetGroupName"] == group.name

    def test_with_nat_it_shares_the_private_subnets_with_the_tasks(self):
        rendered = render({"network.nat": "single"})
        assert sorted(rendered.one(SUBNET_GROUP)["subnetIds"]) == sorted(
            rendered.one(SERVICE)["networkConfiguration"]["subnets"]
        )

    def test_an_existing_vpc_uses_its_private_subnets(self):
        mocks = existing_vpc_mocks()
        rendered = render(EXISTING_VPC_SETTINGS, mocks=mocks)
        private = EXISTING_VPC_SETTINGS["network.privateSubnetIds"]
        assert rendered.one(SUBNET_GROUP)["subnetIds"] == private
        group = next(g for g in rendered.all(SECURITY_GROUP) if g.name == "data-db")
        assert group["vpcId"] == "vpc-0123456789abcdef0"


class TestReachableOnlyFromTheTasks:
    def test_the_only_way_in_is_from_the_tasks_group_on_5432(self, dev):
        rules = [r for r in dev.all(INGRESS) if r["securityGroupId"] == database_group_id(dev)]
        (rule,) = rules
        assert rule["referencedSecurityGroupId"] == task_group_id(dev)
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 5432, 5432)
        assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs

    def test_the_database_group_has_no_inline_rules_and_no_way_out(self, dev):
        group = next(g for g in dev.all(SECURITY_GROUP) if g.name == "data-db")
        assert "ingress" not in group.inputs and "egress" not in group.inputs
        assert not [r for r in dev.all(EGRESS) if r["securityGroupId"] == database_group_id(dev)]

    def test_nothing_opens_port_5432_to_an_address_range(self, dev):
        for rule in dev.all(INGRESS):
            if rule.get("fromPort", 0) <= 5432 <= rule.get("toPort", -1):
                assert rule.get("cidrIpv4") is None and rule.get("cidrIpv6") is None, rule.name

    def test_the_tasks_may_connect_to_the_database(self, dev):
        (rule,) = [
            r
            for r in dev.all(EGRESS)
            if r.get("referencedSecurityGroupId") == database_group_id(dev)
        ]
        assert rule["securityGroupId"] == task_group_id(dev)
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 5432, 5432)


class TestCredentials:
    def test_rds_keeps_the_master_password_and_nothing_passes_one(self, dev):
        instance = dev.one(INSTANCE)
        assert instance["manageMasterUserPassword"] is True
        assert instance["username"] == "app"
        assert "password" not in instance.inputs and "passwordWo" not in instance.inputs

    def test_host_port_and_name_are_plain_variables(self, dev):
        env = environment(dev)
        assert env["DB_HOST"] == dev.outputs["database"]["host"]
        assert env["DB_HOST"].endswith(".rds.amazonaws.com")
        assert (env["DB_PORT"], env["DB_NAME"], env["DB_SSLMODE"]) == ("5432", "app", "verify-full")

    def test_user_and_password_reach_the_containers_only_as_secret_references(self, dev):
        for definition, name in [
            (WEB, "fastapi-fargate/dev/database-app-role"),
            (MIGRATION, "rds!"),
        ]:
            env, refs = environment(dev, definition), secrets(dev, definition)
            assert "DB_USER" not in env and "DB_PASSWORD" not in env
            secret_arn = refs["DB_USER"].removesuffix(":username::")
            assert secret_arn.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}")
            assert refs["DB_USER"] == f"{secret_arn}:username::"
            assert refs["DB_PASSWORD"] == f"{secret_arn}:password::"

    def test_the_execution_role_may_read_exactly_the_database_secret(self, dev):
        # ECS injects the app role's credentials into the web tasks, the master's into the
        # migration task (and the app's own secret API_TOKEN into both).
        assert sorted(policy_resources(dev)) == sorted(
            [database_secret_arn(dev), master_secret_arn(dev), API_TOKEN_ARN]
        )
        policy = json.loads(dev.one(ROLE_POLICY, "app-execution-secrets")["policy"])
        assert [s["Action"] for s in policy["Statement"]] == [["secretsmanager:GetSecretValue"]]
        assert dev.one(ROLE_POLICY, "app-execution-secrets")["role"] == "app-execution"

    def test_the_app_is_told_which_secret_holds_its_credentials(self, dev):
        # After a rotation the app reads the new credentials itself (app/api/credentials.py).
        assert environment(dev)["DB_SECRET_ARN"] == database_secret_arn(dev)

    def test_the_task_role_may_read_exactly_the_database_secret_and_nothing_else(self, dev):
        task_policy = dev.one(ROLE_POLICY, "app-task-secrets")
        assert task_policy["role"] == "app-task"
        assert json.loads(task_policy["policy"])["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [database_secret_arn(dev)],
            }
        ]
        # The settings' secrets stay the execution role's: ECS injects them, the app never
        # reads them itself.
        api_key = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api-key-AbCdEf"
        rendered = render({"service.secrets": [f"API_KEY={api_key}"]})
        assert policy_resources(rendered, "app-task-secrets") == [database_secret_arn(rendered)]

    def test_no_task_starts_before_the_task_role_may_read_the_secret(self, dev):
        assert dev.depends_on(
            dev.one(TASK_DEFINITION, "app-definition"), dev.one(ROLE_POLICY, "app-task-secrets")
        )

    def test_the_policy_adds_the_database_secret_to_the_settings_secrets(self):
        api_key = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:api-key-AbCdEf"
        rendered = render({"service.secrets": [f"API_KEY={api_key}"]})
        assert sorted(policy_resources(rendered)) == sorted(
            [api_key, database_secret_arn(rendered), master_secret_arn(rendered), API_TOKEN_ARN]
        )

    def test_the_release_phase_waits_for_the_database(self, dev):
        # The migration runs this task definition; it cannot exist before the database does.
        assert dev.depends_on(dev.one(TASK_DEFINITION, "app-definition"), dev.one(INSTANCE))

    def test_outputs_say_where_the_database_is_and_nothing_more(self, dev):
        assert dev.outputs["database"] == {
            "host": environment(dev)["DB_HOST"],
            "port": 5432,
            "name": "app",
        }


class TestManagedInstance:
    def test_postgresql_of_the_configured_major_on_the_smallest_class(self, dev):
        instance = dev.one(INSTANCE)
        assert (instance["engine"], instance["engineVersion"]) == ("postgres", "16")
        assert instance["instanceClass"] == "db.t4g.micro"
        assert instance["dbName"] == "app"
        assert instance["autoMinorVersionUpgrade"] is True
        assert instance["caCertIdentifier"] == "rds-ca-rsa2048-g1"
        assert render({"database.engineVersion": "17"}).one(INSTANCE)["engineVersion"] == "17"

    def test_storage_is_encrypted_gp3_that_grows_on_its_own(self, dev):
        instance = dev.one(INSTANCE)
        assert instance["storageEncrypted"] is True
        assert instance["storageType"] == "gp3"
        assert (instance["allocatedStorage"], instance["maxAllocatedStorage"]) == (20, 100)

    def test_storage_autoscaling_can_be_turned_off(self):
        rendered = render({"database.maxAllocatedStorage": 0})
        assert rendered.one(INSTANCE)["maxAllocatedStorage"] == 0

    def test_automated_backups_follow_the_setting(self, dev):
        assert dev.one(INSTANCE)["backupRetentionPeriod"] == 7
        assert dev.one(INSTANCE)["copyTagsToSnapshot"] is True
        rendered = render({"database.backupRetentionDays": 14})
        assert rendered.one(INSTANCE)["backupRetentionPeriod"] == 14

    def test_a_dev_database_is_deleted_without_a_snapshot_and_changes_apply_at_once(self, dev):
        instance = dev.one(INSTANCE)
        assert instance["skipFinalSnapshot"] is True
        assert "finalSnapshotIdentifier" not in instance.inputs
        assert instance["deletionProtection"] is False
        assert instance["multiAz"] is False
        assert instance["applyImmediately"] is True

    def test_a_production_database_is_protected_snapshotted_and_multi_az(self, prod):
        instance = prod.one(INSTANCE)
        assert instance["deletionProtection"] is True
        assert instance["skipFinalSnapshot"] is False
        # <project>-<stack>-final-<the RandomId's 4 bytes in hex>
        assert re.fullmatch(
            r"fastapi-fargate-dev-final-[0-9a-f]{8}", instance["finalSnapshotIdentifier"]
        )
        assert instance["multiAz"] is True
        assert instance["applyImmediately"] is False

    def test_each_production_instance_gets_its_own_final_snapshot_name(self, prod):
        # The id is kept while the instance's replace-triggering inputs stay, and renewed with
        # them: a replaced instance never reuses its predecessor's snapshot name.
        random_id = prod.one(RANDOM_ID, "data-final-snapshot-id")
        assert random_id["byteLength"] == 4
        assert random_id["keepers"] == {
            "engine": "postgres",
            "dbName": "app",
            "username": "app",
            "storageEncrypted": "true",
        }
        instance = prod.one(INSTANCE)
        # The keepers are the instance's own inputs, not copies that could drift apart.
        assert (instance["engine"], instance["dbName"], instance["username"]) == (
            "postgres",
            "app",
            "app",
        )
        assert instance["storageEncrypted"] is True
        assert prod.depends_on(instance, random_id)
        renamed = render({**PROD, "database.name": "notes"}).one(INSTANCE)
        assert renamed["finalSnapshotIdentifier"] != instance["finalSnapshotIdentifier"]

    def test_a_production_database_is_protected_from_replacement_unless_asked(self, prod, dev):
        # protect makes the engine refuse a replacement (a new, empty database) and a destroy.
        assert prod.one(INSTANCE).protect is True
        assert dev.one(INSTANCE).protect is False
        lifted = render({**PROD, "protection.allowReplacing": ["database"]})
        assert lifted.one(INSTANCE).protect is False

    def test_every_database_resource_is_a_child_of_the_component(self, dev):
        component = dev.one("fastapi-fargate:database:Database")
        names = {r.name for r in dev.children(component)}
        assert names == {"data-subnets", "data-db", "data-db-in-tasks", "data-tasks-out-db", "data-parameters", "data-postgres", "data-app-role"}  # fmt: skip

    def test_every_production_database_resource_is_a_child_of_the_component(self, prod):
        component = prod.one("fastapi-fargate:database:Database")
        names = {r.name for r in prod.children(component)}
        assert "data-final-snapshot-id" in names


class TestModes:
    def test_off_creates_no_database_and_sets_no_database_variables(self):
        rendered = render({"database.mode": "off", "service.exec": "off"})
        for type_ in (*DB_TYPES, SECURITY_GROUP):
            assert not [r for r in rendered.all(type_) if r.name.startswith("data")]
        names = set(environment(rendered)) | set(secrets(rendered))
        assert not {n for n in names if n.startswith("DB_")}
        assert "database" not in rendered.outputs
        # The execution role reads the app's own API_TOKEN only; the task role keeps no permission.
        assert [p.name for p in rendered.all(ROLE_POLICY)] == ["app-execution-secrets"]
        assert policy_resources(rendered) == [API_TOKEN_ARN]

    def test_external_creates_no_database_and_wires_the_settings(self):
        rendered = render(EXTERNAL)
        assert not rendered.all(INSTANCE) and not rendered.all(SUBNET_GROUP)
        assert not [g for g in rendered.all(SECURITY_GROUP) if g.name == "data-db"]
        # Only the app role's secret: the role itself is made in that database by the release.
        (child,) = rendered.children(rendered.one("fastapi-fargate:database:Database"))
        assert child.name == "data-app-role"
        env = environment(rendered)
        assert (env["DB_HOST"], env["DB_PORT"], env["DB_NAME"]) == (
            "db.internal.example.com",
            "6432",
            "notes",
        )
        assert secrets(rendered, MIGRATION) == {
            "API_TOKEN": API_TOKEN_ARN,
            "DB_PASSWORD": f"{EXTERNAL_ARN}:password::",
            "DB_USER": f"{EXTERNAL_ARN}:username::",
        }
        assert environment(rendered, MIGRATION)["DB_SECRET_ARN"] == EXTERNAL_ARN
        assert EXTERNAL_ARN in policy_resources(rendered)
        assert EXTERNAL_ARN in policy_resources(rendered, "app-migration-task-secrets")
        assert EXTERNAL_ARN not in policy_resources(rendered, "app-task-secrets")
        # Not an RDS host: the RDS CA bundle cannot vouch for it, so TLS without verification.
        assert env["DB_SSLMODE"] == "require"

    def test_external_without_an_app_role_wires_its_secret_into_the_one_task_definition(self):
        rendered = render({**EXTERNAL, "database.appRole": False})
        assert [d.name for d in rendered.all(TASK_DEFINITION)] == [WEB]
        assert secrets(rendered) == {
            "API_TOKEN": API_TOKEN_ARN,
            "DB_PASSWORD": f"{EXTERNAL_ARN}:password::",
            "DB_USER": f"{EXTERNAL_ARN}:username::",
        }
        assert environment(rendered)["DB_SECRET_ARN"] == EXTERNAL_ARN
        assert sorted(policy_resources(rendered)) == sorted([EXTERNAL_ARN, API_TOKEN_ARN])
        assert policy_resources(rendered, "app-task-secrets") == [EXTERNAL_ARN]


def only_problem(edits: dict) -> str:
    """The one problem the program finds in these settings, set with `pulumi config set --path`."""
    with pytest.raises(SettingsError) as caught:
        parse_settings(*handed_over(edits))
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


class TestBadInput:
    def test_external_without_the_secret_arn(self):
        message = only_problem({k: v for k, v in EXTERNAL.items() if k != "database.secretArn"})
        assert message.startswith("fastapi-fargate:database.secretArn:")
        assert "`pulumi config set --path database.secretArn" in message

    def test_external_without_a_host(self):
        message = only_problem({k: v for k, v in EXTERNAL.items() if k != "database.host"})
        assert message.startswith("fastapi-fargate:database.host:")

    def test_a_partial_secret_arn_that_iam_would_not_match(self):
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-creds"
        message = only_problem({**EXTERNAL, "database.secretArn": arn})
        assert message.startswith(f"fastapi-fargate:database.secretArn = {arn}:")

    @pytest.mark.parametrize("version", ["13", "16.4", "9.6", "latest"])
    def test_an_unsupported_engine_version(self, version):
        message = only_problem({"database.engineVersion": version})
        assert message.startswith(f"fastapi-fargate:database.engineVersion = {version}:")
        assert "14, 15, 16, 17" in message

    @pytest.mark.parametrize("storage", [0, 10, 19])
    def test_storage_below_the_postgresql_minimum(self, storage):
        message = only_problem({"database.allocatedStorage": storage})
        assert message.startswith(f"fastapi-fargate:database.allocatedStorage = {storage}:")
        assert "20" in message

    def test_an_autoscaling_ceiling_below_the_storage(self):
        message = only_problem(
            {"database.allocatedStorage": 50, "database.maxAllocatedStorage": 40}
        )
        assert message.startswith("fastapi-fargate:database.maxAllocatedStorage = 40:")

    def test_an_instance_class_that_is_not_one(self):
        message = only_problem({"database.instanceClass": "t4g.micro"})
        assert message.startswith("fastapi-fargate:database.instanceClass = t4g.micro:")

    def test_a_database_name_postgresql_would_refuse(self):
        assert only_problem({"database.name": "my-app"}).startswith(
            "fastapi-fargate:database.name = my-app:"
        )

    @pytest.mark.parametrize("days", [0, 6])
    def test_production_needs_a_week_of_backups(self, days):
        message = only_problem(
            {
                "production": True,
                "https.domain": "api.example.com",
                "https.hostedZone": "example.com",
                "database.backupRetentionDays": days,
            }
        )
        assert message.startswith(f"fastapi-fargate:database.backupRetentionDays = {days}:")
        assert "`pulumi config set --path database.backupRetentionDays 7`" in message

    def test_a_managed_database_in_an_existing_vpc_needs_private_subnets(self):
        message = only_problem(
            {
                "network.vpcId": "vpc-0123456789abcdef0",
                "network.publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
                "network.nat": "none",
            }
        )
        assert message.startswith("fastapi-fargate:network.privateSubnetIds = []:")
        assert "database.mode" in message

    def test_the_container_variables_of_the_database_are_reserved(self):
        message = only_problem({"service.environment": ["DATABASE_URL=postgresql://x"]})
        assert "DATABASE_URL" in message and "reserved" in message
        message = only_problem({"service.environment": ["DB_SECRET_ARN=arn:aws:x"]})
        assert "DB_SECRET_ARN" in message and "reserved" in message
        parse_settings(*handed_over({"service.environment": ["DB_HOST=x"], "database.mode": "off"}))

    @pytest.mark.parametrize(
        "overrides",
        [
            {"database.mode": "external", "database.host": "db.example.com"},
            {"database.engineVersion": "13"},
            {"database.allocatedStorage": 10},
        ],
    )
    def test_bad_database_settings_register_no_resource(self, overrides):
        mocks = AwsMocks()
        with pytest.raises(SettingsError):
            render(overrides, mocks=mocks)
        assert mocks.registered == []
