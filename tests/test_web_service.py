"""The web service: image, task definition, cluster, ECS service, rollout check and autoscaling.

Rendered from Pulumi.dev.yaml (with overrides) under the SDK's mocks; container definitions are
checked against botocore's model of ECS RegisterTaskDefinition.
"""

from __future__ import annotations

import json
import logging
import re

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.task import APP_USER
from pulumi_harness import ACCOUNT, REGION, ROOT, Rendered, render

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
API_TOKEN_ARN = (
    f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:fastapi-fargate/dev/API_TOKEN-AbCdEf"
)
PROD = {
    "production": True,
    "network.nat": "per-az",
    "service.desiredCount": 2,
    "scaling.minCount": 2,
    "scaling.maxCount": 4,
    "service.fargateSpotPercent": 0,
}


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render()


def container(rendered: Rendered) -> dict:
    definitions = json.loads(
        rendered.one(TASK_DEFINITION, "app-definition")["containerDefinitions"]
    )
    assert len(definitions) == 1
    return definitions[0]


def environment(rendered: Rendered) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(rendered)["environment"]}


def policy_documents(rendered: Rendered) -> list[dict]:
    documents = [json.loads(r["assumeRolePolicy"]) for r in rendered.all("aws:iam/role:Role")]
    documents += [json.loads(r["policy"]) for r in rendered.all("aws:iam/rolePolicy:RolePolicy")]
    return documents


class TestImage:
    def test_the_repository_scans_on_push_and_keeps_tags_immutable(self, dev):
        repo = dev.one("aws:ecr/repository:Repository")
        assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo["imageTagMutability"] == "IMMUTABLE"

    def test_only_a_non_production_repository_is_deleted_with_its_images(self, dev):
        assert dev.one("aws:ecr/repository:Repository")["forceDelete"] is True
        prod = render(PROD)
        assert prod.one("aws:ecr/repository:Repository")["forceDelete"] is False

    def test_the_lifecycle_policy_keeps_the_last_n_images(self):
        rendered = render({"image.keepLast": 5})
        policy = json.loads(rendered.one("aws:ecr/lifecyclePolicy:LifecyclePolicy")["policy"])
        (rule,) = policy["rules"]
        assert rule["selection"] == {
            "tagStatus": "any",
            "countType": "imageCountMoreThan",
            "countNumber": 5,
        }
        assert rule["action"] == {"type": "expire"}

    @pytest.mark.parametrize(("platform", "arch"), [("linux/amd64", "X86_64"), ("linux/arm64", "ARM64")])  # fmt: skip
    def test_the_image_and_the_tasks_share_the_platform(self, platform, arch):
        rendered = render({"image.platform": platform, "service.fargateSpotPercent": 0})
        image = rendered.one("docker:index/image:Image")
        assert image["build"]["platform"] == platform
        assert rendered.one(TASK_DEFINITION, "app-definition")["runtimePlatform"] == {
            "cpuArchitecture": arch,
            "operatingSystemFamily": "LINUX",
        }

    def test_the_image_is_not_built_on_preview_and_pushes_with_no_password_of_its_own(self, dev):
        image = dev.one("docker:index/image:Image")
        assert image["buildOnPreview"] is False
        # Relative to the project directory: the same from every checkout (see test_image.py).
        assert (image["build"]["context"], image["build"]["dockerfile"]) == (
            "app",
            "app/Dockerfile",
        )
        # Docker's login pushes (components/image.py PUSH_CREDENTIALS; see test_image.py).
        assert image.secret_inputs == set()
        assert image["registry"] == {
            "server": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app-repository"
        }

    def test_the_tag_changes_with_the_platform(self):
        def tag(platform: str) -> str:
            rendered = render({"image.platform": platform, "service.fargateSpotPercent": 0})
            return rendered.one("docker:index/image:Image")["imageName"].rsplit(":", 1)[1]

        # Immutable tags: the same files built for arm64 must not reuse the amd64 tag.
        assert tag("linux/amd64") != tag("linux/arm64")
        assert tag("linux/amd64") == tag("linux/amd64")

    def test_the_task_definition_references_the_pushed_image_by_digest(self, dev):
        image = container(dev)["image"]
        assert "@sha256:" in image
        assert image == dev.outputs["image"]

    def test_a_prebuilt_image_uri_is_deployed_as_given_and_nothing_is_built(self):
        uri = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/api@sha256:{'a' * 64}"
        rendered = render({"image.uri": uri})
        assert not rendered.all("docker:index/image:Image")
        assert not rendered.all("aws:ecr/repository:Repository")
        assert container(rendered)["image"] == uri


class TestTaskDefinition:
    def test_a_fargate_task_with_the_configured_size(self):
        rendered = render({"service.cpu": 1024, "service.memory": 2048})
        task = rendered.one(TASK_DEFINITION, "app-definition")
        assert task["requiresCompatibilities"] == ["FARGATE"]
        assert task["networkMode"] == "awsvpc"
        assert (task["cpu"], task["memory"]) == ("1024", "2048")
        assert task["family"] == "fastapi-fargate-dev"

    @pytest.mark.parametrize("name", ["app-definition", "app-migration-definition"])
    def test_container_definitions_match_the_ecs_api_model(self, dev, name):
        model = botocore.session.get_session().get_service_model("ecs")
        shape = model.operation_model("RegisterTaskDefinition").input_shape
        definition = dev.one(TASK_DEFINITION, name)
        report = ParamValidator().validate(
            {
                "family": "fastapi-fargate-dev",
                "containerDefinitions": json.loads(definition["containerDefinitions"]),
                # pulumi-aws sends `volume` blocks as RegisterTaskDefinition volumes
                # (terraform-provider-aws internal/service/ecs/task_definition.go,
                # expandVolumes): name only, no host, is the task's ephemeral storage.
                "volumes": definition["volumes"],
            },
            shape,
        )
        assert not report.has_errors(), report.generate_report()

    def test_the_container_command_is_exec_form(self, dev):
        command = container(dev)["command"]
        assert isinstance(command, list) and command == ["python", "-m", "api.serve"]

    def test_the_container_listens_on_the_configured_port(self):
        rendered = render({"service.containerPort": 9000})
        assert container(rendered)["portMappings"] == [
            {"containerPort": 9000, "protocol": "tcp", "name": "http"}
        ]
        assert environment(rendered)["PORT"] == "9000"

    def test_workers_are_web_concurrency(self):
        rendered = render({"service.cpu": 2048, "service.memory": 4096})
        assert environment(rendered)["WEB_CONCURRENCY"] == "2"
        rendered = render({"service.workers": 1, "service.cpu": 2048, "service.memory": 4096})
        assert environment(rendered)["WEB_CONCURRENCY"] == "1"

    def test_the_app_shuts_down_before_ecs_kills_it(self, dev):
        spec, env = container(dev), environment(dev)
        assert spec["stopTimeout"] == 30
        assert int(env["GRACEFUL_SHUTDOWN_TIMEOUT"]) < spec["stopTimeout"]

    def test_the_app_keeps_connections_longer_than_the_load_balancer(self):
        rendered = render({"loadBalancer.idleTimeout": 120})
        assert int(environment(rendered)["KEEP_ALIVE_TIMEOUT"]) > 120

    def test_the_api_is_closed_and_its_docs_off_in_production_by_default(self, dev):
        assert environment(dev)["API_AUTH"] == "bearer"
        assert environment(dev)["API_DOCS"] == "on"
        prod = environment(render(PROD))
        assert (prod["API_AUTH"], prod["API_DOCS"]) == ("bearer", "off")
        assert environment(render({**PROD, "service.apiDocs": "on"}))["API_DOCS"] == "on"
        assert environment(render({"service.apiDocs": False}))["API_DOCS"] == "off"

    def test_a_public_api_is_a_setting_and_every_run_warns_about_it(self, dev, caplog):
        with caplog.at_level(logging.WARNING):
            rendered = render({"service.publicApi": True})
        assert environment(rendered)["API_AUTH"] == "none"
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            w.startswith("service.publicApi is true: the app serves every route without a token")
            and "`pulumi config set --path service.publicApi false`" in w
            for w in warnings
        ), warnings

    def test_an_init_process_forwards_signals(self, dev):
        assert container(dev)["linuxParameters"]["initProcessEnabled"] is True

    @pytest.mark.parametrize("name", ["app-definition", "app-migration-definition"])
    @pytest.mark.parametrize("overrides", [{}, PROD], ids=["dev", "prod"])
    def test_the_app_and_the_migration_run_read_only_unprivileged_without_capabilities(
        self, name, overrides
    ):
        rendered = render(overrides)
        definition = rendered.one(TASK_DEFINITION, name)
        (spec,) = json.loads(definition["containerDefinitions"])
        assert spec["readonlyRootFilesystem"] is True
        assert spec["user"] == APP_USER and not spec["user"].startswith("0")
        assert spec["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
        assert "privileged" not in spec
        # /tmp is the one writable path (and ECS Exec's own, where exec is on): each mount
        # names a volume of the task definition, a bind mount without host path.
        mounts = {m["containerPath"]: m["sourceVolume"] for m in spec["mountPoints"]}
        assert mounts["/tmp"] == "tmp"
        assert all(not m["readOnly"] for m in spec["mountPoints"])
        assert sorted(mounts.values()) == sorted(v["name"] for v in definition["volumes"])
        assert all(set(v) == {"name"} for v in definition["volumes"])
        exec_on = rendered.one(SERVICE)["enableExecuteCommand"]
        assert (set(mounts) > {"/tmp"}) is bool(exec_on)
        if exec_on:
            assert {"/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"} <= set(mounts)

    def test_the_task_runs_as_the_user_the_image_declares(self):
        """components/task.py APP_USER and app/Dockerfile say the same uid:gid, and it is the
        user and group the image creates: one is the copy of the other, checked here."""
        dockerfile = (ROOT / "app" / "Dockerfile").read_text()
        runtime = dockerfile.split("AS runtime", 1)[1]
        (user,) = re.findall(r"^USER\s+(\S+)\s*$", runtime, re.M)
        assert user == APP_USER
        uid, gid = APP_USER.split(":")
        assert re.search(rf"groupadd [^\n]*--gid {gid} app", runtime)
        assert re.search(rf"useradd [^\n]*--uid {uid} --gid app", runtime)
        assert int(uid) >= 1000 and int(gid) >= 1000  # not root, not a system account
        # The task volume at /tmp gets the image's /tmp ownership on Fargate: the app user's.
        assert f"RUN chown {uid}:{gid} /tmp && chmod 1777 /tmp" in runtime
        assert 'VOLUME ["/tmp"]' in runtime

    def test_the_container_health_check_uses_python_which_the_image_has(self, dev):
        check = container(dev)["healthCheck"]
        assert check["command"] == ["CMD", "python", "-m", "api.healthcheck"]
        assert environment(dev)["HEALTH_CHECK_PATH"] == "/healthz"

    def test_logs_go_to_the_log_group_without_ever_blocking_the_app(self, dev):
        log = container(dev)["logConfiguration"]
        assert log["logDriver"] == "awslogs"
        assert log["options"]["mode"] == "non-blocking"
        assert log["options"]["max-buffer-size"] == "25m"
        assert log["options"]["awslogs-group"] == dev.outputs["log_group_name"]
        assert log["options"]["awslogs-region"] == "us-east-1"

    def test_log_retention_follows_the_setting(self, dev):
        assert dev.one("aws:cloudwatch/logGroup:LogGroup")["retentionInDays"] == 7

    def test_secrets_reach_the_container_only_as_references(self):
        arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key-AbCdEf"
        param = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/token"
        rendered = render(
            {
                "service.secrets": [f"API_KEY={arn}", f"TOKEN={param}"],
                "service.environment": ["LOG_LEVEL=info"],
                # Only the settings' secrets here; tests/test_database.py adds the database's.
                "database.mode": "off",
            }
        )
        spec = container(rendered)
        assert spec["secrets"] == [
            {"name": "API_KEY", "valueFrom": arn},
            # The app's own bearer token, always there (components/app_secrets.py).
            {"name": "API_TOKEN", "valueFrom": API_TOKEN_ARN},
            {"name": "TOKEN", "valueFrom": param},
        ]
        assert "API_KEY" not in environment(rendered)
        assert environment(rendered)["LOG_LEVEL"] == "info"


class TestRoles:
    def test_the_execution_role_has_the_managed_policy(self, dev):
        attachment = dev.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment["policyArn"].endswith("service-role/AmazonECSTaskExecutionRolePolicy")

    def test_the_execution_role_reads_exactly_the_secrets_the_task_uses(self):
        arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:api-key-AbCdEf"
        rendered = render(
            {"service.secrets": [f"API_KEY={arn}"], "database.mode": "off", "service.exec": "off"}
        )
        policy = json.loads(rendered.one("aws:iam/rolePolicy:RolePolicy")["policy"])
        assert policy["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": sorted([arn, API_TOKEN_ARN]),
            }
        ]
        task = rendered.one(TASK_DEFINITION, "app-definition")
        assert rendered.depends_on(task, rendered.one("aws:iam/rolePolicy:RolePolicy"))

    def test_no_other_secrets_a_policy_for_the_api_token_alone(self):
        rendered = render({"database.mode": "off", "service.exec": "off"})
        (policy,) = rendered.all("aws:iam/rolePolicy:RolePolicy")
        assert json.loads(policy["policy"])["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": [API_TOKEN_ARN],
            }
        ]

    def test_the_task_role_has_no_permissions_unless_settings_name_them(self, dev):
        attached = [a["role"] for a in dev.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
        assert attached == ["app-execution"]
        arn = f"arn:aws:iam::{ACCOUNT}:policy/read-bucket"
        rendered = render({"service.taskPolicyArns": [arn]})
        task_attachments = [
            a for a in rendered.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
            if a["role"] == "app-task"
        ]  # fmt: skip
        assert [a["policyArn"] for a in task_attachments] == [arn]

    def test_roles_trust_only_ecs_tasks(self, dev):
        for role in dev.all("aws:iam/role:Role"):
            (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
            assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
            assert statement["Action"] == "sts:AssumeRole"

    def test_the_task_role_trusts_only_tasks_of_this_account_and_region(self, dev):
        (statement,) = json.loads(dev.one("aws:iam/role:Role", "app-task")["assumeRolePolicy"])[
            "Statement"
        ]
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:*"},
        }

    def test_no_policy_document_allows_a_wildcard_action(self):
        arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:x-AbCdEf"
        rendered = render({"service.secrets": [f"X={arn}"]})
        documents = policy_documents(rendered)
        # Three trust policies, the execution role's secrets, the web task role's database
        # secret, the migration task role's database secrets, and ECS Exec's channels (on in
        # dev).
        assert len(documents) == 7
        for document in documents:
            assert document["Version"] == "2012-10-17"
            for statement in document["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    assert "*" not in action, action


class TestCluster:
    def test_container_insights_follows_the_setting(self, dev):
        assert dev.one("aws:ecs/cluster:Cluster")["settings"] == [
            {"name": "containerInsights", "value": "disabled"}
        ]
        rendered = render({"service.containerInsights": True})
        assert rendered.one("aws:ecs/cluster:Cluster")["settings"][0]["value"] == "enabled"

    def test_fargate_only_by_default(self):
        rendered = render({"service.fargateSpotPercent": 0})
        strategy = rendered.one(SERVICE)["capacityProviderStrategies"]
        assert strategy == [{"capacityProvider": "FARGATE", "weight": 1}]

    def test_a_spot_share_keeps_one_task_on_demand(self):
        rendered = render({"service.fargateSpotPercent": 75})
        strategy = rendered.one(SERVICE)["capacityProviderStrategies"]
        assert strategy == [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 3},
        ]
        capacity = rendered.one("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
        # The service names its own strategy and the migration its launch type: a cluster
        # default would be used by nothing.
        assert "defaultCapacityProviderStrategies" not in capacity.inputs
        assert sorted(capacity["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]


class TestService:
    def test_rollouts_keep_full_capacity_and_roll_back_on_failure(self, dev):
        service = dev.one(SERVICE)
        assert service["deploymentMinimumHealthyPercent"] == 100
        assert service["deploymentMaximumPercent"] == 200
        assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}

    def test_pulumi_up_waits_for_the_rollout(self, dev):
        assert dev.one(SERVICE)["waitForSteadyState"] is True

    def test_health_check_grace_period(self, dev):
        assert dev.one(SERVICE)["healthCheckGracePeriodSeconds"] == 60

    def test_desired_count_from_settings(self, dev):
        assert dev.one(SERVICE)["desiredCount"] == 1

    def test_tasks_spread_over_zones(self, dev):
        service = dev.one(SERVICE)
        assert service["availabilityZoneRebalancing"] == "ENABLED"
        assert len(service["networkConfiguration"]["subnets"]) == 2

    def test_the_service_is_attached_to_the_target_group_on_the_container_port(self, dev):
        (attachment,) = dev.one(SERVICE)["loadBalancers"]
        target_group = dev.one("aws:lb/targetGroup:TargetGroup")
        assert attachment["containerName"] == "app" and attachment["containerPort"] == 8000
        assert attachment["targetGroupArn"].startswith("arn:aws:elasticloadbalancing")
        assert dev.depends_on(dev.one(SERVICE), target_group)

    def test_the_service_waits_for_the_https_listener(self, dev):
        https = next(r for r in dev.all("aws:lb/listener:Listener") if r["port"] == 443)
        assert dev.depends_on(dev.one(SERVICE), https)

    def test_with_nat_the_tasks_run_in_private_subnets_without_public_ips(self):
        rendered = render({"network.nat": "single"})
        network = rendered.one(SERVICE)["networkConfiguration"]
        private = {s.name for s in rendered.all("aws:ec2/subnet:Subnet") if "private" in s.name}
        assert network["assignPublicIp"] is False
        assert len(network["subnets"]) == len(private) == 2
        assert all(not s.get("mapPublicIpOnLaunch") for s in rendered.all("aws:ec2/subnet:Subnet") if "private" in s.name)  # fmt: skip

    def test_without_nat_the_tasks_get_public_ips_but_only_the_task_group(self, dev):
        network = dev.one(SERVICE)["networkConfiguration"]
        assert network["assignPublicIp"] is True
        (group,) = network["securityGroups"]
        tasks_group = next(
            g for g in dev.all("aws:ec2/securityGroup:SecurityGroup") if "task" in g.name
        )
        assert group.startswith("sg-")
        assert dev.depends_on(dev.one(SERVICE), tasks_group)

    def test_autoscaling_owns_the_task_count_after_creation(self, dev):
        assert dev.one(SERVICE).ignore_changes == ["desiredCount"]

    def test_without_autoscaling_updates_set_the_count(self):
        rendered = render({"scaling.enabled": False})
        assert rendered.one(SERVICE).ignore_changes == []
        assert not rendered.all("aws:appautoscaling/target:Target")

    def test_a_rollout_check_runs_after_the_service_with_the_new_revision(self, dev):
        check = dev.one("pulumi-python:dynamic/rollout:RolloutCheck")
        assert dev.depends_on(check, dev.one(SERVICE))
        assert check["task_definition_arn"] == dev.one(SERVICE)["taskDefinition"]
        assert check["region"] == "us-east-1"

    def test_outputs_name_what_an_operator_looks_for(self, dev):
        # The mocks name a resource after its logical name, as autonaming would prefix it.
        assert dev.outputs["cluster_name"] == "app"
        assert dev.outputs["service_name"] == "web"
        assert dev.outputs["log_group_name"] == "app-logs"
        assert "@sha256:" in dev.outputs["image"]


class TestMigrationGate:
    def test_the_migration_runs_the_services_task_definition_with_the_configured_command(self):
        # Without an app role the release phase runs the very task definition the service
        # rolls out (with one, see test_app_db_role: its twin with the master credentials).
        rendered = render(
            {"migration.command": ["alembic", "upgrade", "head"], "database.appRole": False}
        )
        run = rendered.one("pulumi-python:dynamic/migration:MigrationRun")
        assert run["task_definition"] == rendered.one(SERVICE)["taskDefinition"]
        assert run["command"] == ["alembic", "upgrade", "head"]
        assert run["container_name"] == "app"
        assert run["subnets"] == rendered.one(SERVICE)["networkConfiguration"]["subnets"]

    def test_the_service_waits_for_the_migration_run(self, dev):
        run = dev.one("pulumi-python:dynamic/migration:MigrationRun")
        assert dev.depends_on(dev.one(SERVICE), run)

    def test_turning_the_release_phase_off_removes_the_run_and_the_dependency(self):
        rendered = render({"migration.enabled": False})
        assert not rendered.all("pulumi-python:dynamic/migration:MigrationRun")
        assert "migration" not in rendered.outputs


class TestAutoscaling:
    def test_the_target_spans_min_to_max(self, dev):
        target = dev.one("aws:appautoscaling/target:Target")
        assert (target["minCapacity"], target["maxCapacity"]) == (1, 2)
        assert target["resourceId"] == "service/app/web"
        assert target["scalableDimension"] == "ecs:service:DesiredCount"

    def test_cpu_target_tracking_at_70_percent_by_default(self, dev):
        (policy,) = dev.all("aws:appautoscaling/policy:Policy")
        config = policy["targetTrackingScalingPolicyConfiguration"]
        assert config["targetValue"] == 70
        assert config["predefinedMetricSpecification"]["predefinedMetricType"] == (
            "ECSServiceAverageCPUUtilization"
        )
        assert (config["scaleOutCooldown"], config["scaleInCooldown"]) == (60, 300)

    def test_memory_and_request_count_policies_when_set(self):
        rendered = render({"scaling.memoryTarget": 80, "scaling.requestsPerTarget": 1000})
        by_metric = {
            p["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
                "predefinedMetricType"
            ]: p["targetTrackingScalingPolicyConfiguration"]
            for p in rendered.all("aws:appautoscaling/policy:Policy")
        }
        assert by_metric["ECSServiceAverageMemoryUtilization"]["targetValue"] == 80
        requests = by_metric["ALBRequestCountPerTarget"]
        assert requests["targetValue"] == 1000
        label = requests["predefinedMetricSpecification"]["resourceLabel"]
        assert label.startswith("app/edge-alb/") and "/targetgroup/" in label


class TestStructure:
    def test_every_resource_has_a_component_parent(self, dev):
        components = {r.urn for r in dev.resources if r.type.startswith("fastapi-fargate:")}
        for resource in dev.resources:
            if resource.type.startswith("fastapi-fargate:") or resource.name == "migration-run":
                continue
            assert resource.parent in components, (resource.type, resource.name)
