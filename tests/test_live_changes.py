"""Changing a setting on a live stack does what it says.

Every other test renders a stack once. Here the stack is rendered before and after a settings
change, and ``plan.provider_rules`` (the AWS provider's diff rules, ported from
terraform-provider-aws and cited there) predicts what ``pulumi up`` asks AWS to do: nothing,
an update in place, or a replacement, and the state each resource is left in. The port itself
is checked first against the provider's own acceptance-test steps; then the four faults the
issue found; then every setting of the settings model, from the stack's value to another
valid one and back, on dev and prod.

Renders are shared: each distinct set of settings is rendered once per session.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, parse_settings
from plan import provider_rules as rules
from plan.diff import diff_plans
from plan.document import build_plan
from plan.engine_config import cli_edit, stack_config_from_document, stack_document
from plan.errors import PlanError
from plan.motion import consequences
from plan.stackfile import load_stack
from pulumi_harness import PROJECT, ROOT, handed_over, stack_config

SERVICE = rules.SERVICE
LISTENER = rules.LISTENER
INSTANCE = rules.RDS_INSTANCE
_DIR = Path(tempfile.mkdtemp(prefix="live-changes-"))


@functools.cache
def _plan(stack: str, frozen: str) -> dict[str, Any]:
    settings = json.loads(frozen)
    config = stack_config_from_document(stack_config(stack), PROJECT)
    cli_edit(config, settings, PROJECT)
    path = _DIR / f"{abs(hash((stack, frozen)))}" / f"Pulumi.{stack}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"config": stack_document(config)}, sort_keys=False))
    return build_plan(load_stack(ROOT, None, path), policy=False)


def plan(stack: str, **settings: Any) -> dict[str, Any]:
    """The plan of Pulumi.<stack>.yaml after `pulumi config set --path KEY VALUE` for each
    setting; rendered once per session for each distinct set of settings."""
    return _plan(stack, json.dumps(settings, sort_keys=True))


def transition(stack: str, before: dict[str, Any], after: dict[str, Any]):
    old, new = plan(stack, **before), plan(stack, **after)
    return old, new, rules.predict_plans(old, new)


def one(predictions: dict[str, rules.Prediction], type_: str, name: str) -> rules.Prediction:
    return predictions[f"{type_}::{name}"]


def dangling(predictions: dict[str, rules.Prediction]) -> list[str]:
    """Resources whose state after the update still names a resource the update deletes."""
    deleted = {
        (p.name, rules.short_type(p.type)) for p in predictions.values() if p.action == "delete"
    }
    return sorted(
        p.name
        for p in predictions.values()
        if p.action not in ("delete",) and rules.references(p.state, deleted)
    )


class TestThePortAgainstTheProvidersAcceptanceSteps:
    """Each test replays the configurations of one acceptance test of terraform-provider-aws
    and asserts what its steps check."""

    def test_alarms_update_turns_the_alarms_off_with_the_block_kept(self):
        # internal/service/ecs/service_test.go, TestAccECSService_alarmsUpdate: alarms {enable,
        # rollback = true} then false; the second step checks alarms.# = 1, enable = false.
        on = {"alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
        off = {"alarms": {"alarmNames": ["a"], "enable": False, "rollback": False}}
        p = rules.predict(SERVICE, on, off)
        assert (p.action, p.updated, p.silent) == ("update", ("alarms",), ())
        assert p.state["alarms"]["enable"] is False

    def test_a_disabled_alarms_block_without_names_is_refused_by_the_sdk(self):
        # expandAlarms sends no AlarmNames for an empty set; validateDeploymentAlarms refuses.
        on = {"alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
        off = {"alarms": {"alarmNames": [], "enable": False, "rollback": False}}
        assert rules.predict(SERVICE, on, off).action == "refused"

    def test_a_dropped_alarms_block_is_no_change_on_aws(self):
        # verify.SuppressMissingOptionalConfigurationBlock on ResourceService's alarms.
        on = {"alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
        p = rules.predict(SERVICE, on, {})
        assert p.action == "none"
        assert [f.input for f in p.suppressed] == ["alarms"]
        assert p.state["alarms"] == on["alarms"]

    def test_change_strategy_blue_green_to_rolling_and_back(self):
        # internal/service/ecs/service_test.go, TestAccECSService_BlueGreenDeployment_
        # changeStrategy: BLUE_GREEN, then switchToRolling (strategy ROLLING), then BLUE_GREEN.
        blue = {"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}}
        rolling = {"deploymentConfiguration": {"strategy": "ROLLING"}}
        there = rules.predict(SERVICE, blue, rolling)
        assert there.action == "update"
        assert there.state["deploymentConfiguration"]["strategy"] == "ROLLING"
        back = rules.predict(SERVICE, there.state, blue)
        assert back.state["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"

    def test_an_omitted_strategy_keeps_blue_green(self):
        # deployment_configuration and its strategy are Optional + Computed in ResourceService.
        blue = {"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}}
        p = rules.predict(SERVICE, blue, {})
        assert p.action == "none"
        assert p.state["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"

    def test_a_capacity_strategy_change_needs_force_new_deployment(self):
        # capacityProviderStrategyCustomizeDiff: "force_new_deployment should be true when
        # capacity_provider_strategy is being updated".
        spot = {"capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
        demand = {"capacityProviderStrategies": [{"capacityProvider": "FARGATE", "weight": 1}]}
        assert rules.predict(SERVICE, spot, demand).action == "refused"
        forced = rules.predict(
            SERVICE, {**spot, "forceNewDeployment": True}, {**demand, "forceNewDeployment": True}
        )
        assert (forced.action, forced.updated) == ("update", ("capacityProviderStrategies",))

    def test_sets_compare_without_order(self):
        a = {"networkConfiguration": {"subnets": ["s-1", "s-2"], "assignPublicIp": False}}
        b = {"networkConfiguration": {"subnets": ["s-2", "s-1"], "assignPublicIp": False}}
        assert rules.predict(SERVICE, a, b).action == "none"

    def test_storage_max_allocated_steps(self):
        # internal/service/rds/instance.go tests, TestAccRDSInstance_Storage_maxAllocated:
        # max_allocated_storage = allocated + 10, then + 5; turning it off sets it to the
        # allocated storage (resourceInstanceUpdate), which RDS reads back as 0.
        base = {"allocatedStorage": 20}
        first = rules.predict(INSTANCE, {**base, "maxAllocatedStorage": 30}, {**base, "maxAllocatedStorage": 25})  # fmt: skip
        assert (first.action, first.state["maxAllocatedStorage"]) == ("update", 25)
        off = rules.predict(INSTANCE, first.state, {**base, "maxAllocatedStorage": 20})
        assert (off.action, off.state["maxAllocatedStorage"]) == ("update", 0)
        # From then on, 20 (= allocated) against the state's 0 is no diff at all.
        again = rules.predict(INSTANCE, off.state, {**base, "maxAllocatedStorage": 20})
        assert again.action == "none"

    def test_lower_allocated_storage_is_ignored_while_autoscaling_is_on(self):
        p = rules.predict(
            INSTANCE,
            {"allocatedStorage": 30, "maxAllocatedStorage": 100},
            {"allocatedStorage": 20, "maxAllocatedStorage": 100},
        )
        assert p.action == "none"
        assert p.state["allocatedStorage"] == 30

    def test_a_removed_hsts_header_stays_on_the_listener(self):
        # internal/service/elbv2/listener.go: the header attribute is Optional + Computed
        # (terraform-provider-aws issue #43042, open).
        on = {"protocol": "HTTPS", "routingHttpResponseStrictTransportSecurityHeaderValue": "max-age=60"}  # fmt: skip
        p = rules.predict(LISTENER, on, {"protocol": "HTTPS"})
        assert p.action == "none"
        assert [f.input for f in p.kept] == [
            "routingHttpResponseStrictTransportSecurityHeaderValue"
        ]

    def test_force_new_replaces_and_in_place_updates(self):
        p = rules.predict(INSTANCE, {"dbName": "app"}, {"dbName": "notes"})
        assert (p.action, p.replaced_by) == ("replace", ("dbName",))
        td = rules.predict(rules.TASK_DEFINITION, {"cpu": "256", "tags": {}}, {"cpu": "512", "tags": {"a": "b"}})  # fmt: skip
        assert (td.action, td.replaced_by) == ("replace", ("cpu",))


class TestTheFourFaults:
    """The faults the issue names: each failed before the fix it now guards."""

    def test_turning_alarms_off_turns_the_deployment_alarms_off_and_names_no_deleted_alarm(self):
        _, _, p = transition("dev", {}, {"alarms.enabled": False})
        web = one(p, SERVICE, "web")
        assert web.silent == (), rules.describe(web)
        assert web.state["alarms"]["enable"] is False
        assert web.state["alarms"]["rollback"] is False
        assert dangling(p) == []

    def test_going_back_from_blue_green_to_rolling_leaves_the_service_rolling(self):
        blue = {"service.deploymentStrategy": "blue-green"}
        _, _, p = transition("dev", blue, {})
        web = one(p, SERVICE, "web")
        assert web.state["deploymentConfiguration"]["strategy"] == "ROLLING"
        assert all("advancedConfiguration" not in lb for lb in web.state["loadBalancers"])
        assert dangling(p) == []

    def test_turning_hsts_off_sends_a_header_that_makes_browsers_forget_it(self):
        # RFC 6797, 6.1.1: max-age=0 tells the browser to stop treating the host as HSTS.
        _, _, p = transition("dev", {}, {"https.hstsMaxAge": 0})
        https = one(p, LISTENER, "edge-https")
        assert https.silent == (), rules.describe(https)
        assert https.state["routingHttpResponseStrictTransportSecurityHeaderValue"] == "max-age=0"

    def test_a_storage_ceiling_equal_to_the_allocated_storage_is_refused(self):
        config, secret = handed_over(
            {"database.allocatedStorage": 50, "database.maxAllocatedStorage": 50}
        )
        with pytest.raises(SettingsError) as caught:
            parse_settings(config, secret)
        (message,) = caught.value.problems
        assert message.startswith("fastapi-fargate:database.maxAllocatedStorage = 50:")
        assert "pulumi config set --path database.maxAllocatedStorage 0" in message

    def test_the_storage_alarm_of_a_database_without_autoscaling_does_not_say_raise_the_ceiling(
        self,
    ):
        alarm = next(
            r
            for r in plan("dev", **{"database.maxAllocatedStorage": 0})["resources"]
            if r["name"] == "dev-database-storage"
        )
        assert "Raise database.maxAllocatedStorage" not in alarm["inputs"]["alarmDescription"]
        assert "database.allocatedStorage" in alarm["inputs"]["alarmDescription"]


class TestWhatTheMatrixFoundInPromotion:
    """Issue 26's promotion, changed on a live stack: each failed before the fix it now guards."""

    def test_a_stack_others_promote_from_refuses_to_stop_building(self):
        # With image.uri or image.promoteFrom the stack has no ECR repository: `pulumi up` would
        # delete it (force_delete outside production: every image, the one the promoting stacks
        # run by digest included) and the repository policy image.pullRoleArns asks for with it.
        promotion = {k: v for k, v in PROMOTION.items() if v is not None}
        for stops_building in (promotion, {"image.uri": PREBUILT}):
            config, secret = handed_over({"image.pullRoleArns": [PULL_ROLE], **stops_building})
            with pytest.raises(SettingsError) as caught:
                parse_settings(config, secret)
            (message,) = [m for m in caught.value.problems if "pullRoleArns" in m]
            assert message.startswith("fastapi-fargate:image.pullRoleArns = ")
            assert "pulumi config rm --path image.pullRoleArns" in message

    def test_so_no_change_deletes_a_repository_other_stacks_pull_from(self):
        granted = {"image.pullRoleArns": [PULL_ROLE]}
        with pytest.raises(PlanError, match=r"image\.pullRoleArns"):
            plan("dev", **granted, **PROMOTION)
        _, _, p = transition("dev", {}, granted)
        assert (
            one(p, "aws:ecr/repositoryPolicy:RepositoryPolicy", "app-promotion-pull").action
            == "create"
        )


# ---------------------------------------------------------------------------------------------
# Every setting, both ways.
# ---------------------------------------------------------------------------------------------

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
EXISTING_VPC = {
    "network.vpcId": "vpc-0123456789abcdef0",
    "network.publicSubnetIds": ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"],
    "network.privateSubnetIds": ["subnet-0ccccccccccccccc3", "subnet-0ddddddddddddddd4"],
    "network.nat": "single",
}
EXTERNAL_DB = {
    "database.mode": "external",
    "database.host": "db.example.net",
    "database.secretArn": SECRET_ARN,
}
PREBUILT = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64
OTHER_REPOSITORY = "arn:aws:ecr:us-east-1:222222222222:repository/app-repository-9f8e7d6"
PULL_ROLE = "arn:aws:iam::222222222222:role/fastapi-fargate-prod-execution"
PROMOTION = {
    "image.promoteFrom": "ci",
    "image.sourceRepository": OTHER_REPOSITORY,
    "image.digest": "sha256:" + "c" * 64,
    "image.buildReason": None,
}
NO_PROMOTION = {"image.promoteFrom": None, "image.sourceRepository": None, "image.digest": None}
BUILT_IN_PROD = {"image.buildReason": "a hotfix built in prod"}
SAME_ZONE_BY_ID = {"https.hostedZone": None, "https.hostedZoneId": "Z0123456789ABCDEFGHIJ"}


def _both(value: Any) -> dict[str, Any]:
    return {"dev": value, "prod": value}


# For each setting: the change away from the stack's own value, as `pulumi config set --path`
# edits (a setting that needs others comes with them), per stack.
CHANGES: dict[str, dict[str, dict[str, Any]]] = {
    "production": {"dev": {"production": True}, "prod": {"production": False}},
    "https.domain": {
        "dev": {"https.domain": "app.dev.example.com"},
        "prod": {"https.domain": "app.example.com"},
    },
    "https.hostedZone": _both(SAME_ZONE_BY_ID),
    "https.hostedZoneId": _both(SAME_ZONE_BY_ID),
    "https.extraNames": {
        "dev": {"https.extraNames": ["www.dev.example.com"]},
        "prod": {"https.extraNames": ["www.example.com"]},
    },
    "https.certificateArn": _both(
        {"https.certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"}
    ),
    "https.sslPolicy": _both({"https.sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06"}),
    "https.hstsMaxAge": _both({"https.hstsMaxAge": 0}),
    "network.availabilityZones": _both({"network.availabilityZones": 3}),
    "network.nat": {"dev": {"network.nat": "single"}, "prod": {"network.nat": "single"}},
    "network.cidr": _both({"network.cidr": "10.1.0.0/16"}),
    "network.vpcId": _both(EXISTING_VPC),
    "network.publicSubnetIds": _both(EXISTING_VPC),
    "network.privateSubnetIds": _both(EXISTING_VPC),
    "network.zoneNames": _both({"network.zoneNames": ["us-east-1b", "us-east-1c"]}),
    # prod keeps its flow logs whatever the setting says (always on in production).
    "network.flowLogs": {"dev": {"network.flowLogs": True}, "prod": {"network.flowLogs": False}},
    "network.flowLogRetentionDays": {
        "dev": {"network.flowLogs": True, "network.flowLogRetentionDays": 30},
        "prod": {"network.flowLogRetentionDays": 30},
    },
    "loadBalancer.idleTimeout": _both({"loadBalancer.idleTimeout": 120}),
    "loadBalancer.deregistrationDelay": _both({"loadBalancer.deregistrationDelay": 60}),
    "loadBalancer.deletionProtection": {
        "dev": {"loadBalancer.deletionProtection": True},
        "prod": {"loadBalancer.deletionProtection": False},
    },
    "loadBalancer.accessLogs": {
        "dev": {"loadBalancer.accessLogs": True},
        "prod": {"loadBalancer.accessLogs": False},
    },
    "loadBalancer.waf": {"dev": {"loadBalancer.waf": "on"}, "prod": {"loadBalancer.waf": "off"}},
    "loadBalancer.rateLimit": {
        "dev": {"loadBalancer.waf": "on", "loadBalancer.rateLimit": 500},
        "prod": {"loadBalancer.rateLimit": 500},
    },
    # prod promotes: a prebuilt image replaces the promotion (both name the image to deploy).
    "image.uri": {
        "dev": {"image.uri": PREBUILT},
        "prod": {**NO_PROMOTION, "image.uri": PREBUILT},
    },
    # Promotion's settings go together (the settings refuse one without the others): dev starts
    # promoting another stack's image and stops building; prod stops promoting and builds, with
    # the reason a production stack that builds must give.
    "image.promoteFrom": {"dev": PROMOTION, "prod": {**NO_PROMOTION, **BUILT_IN_PROD}},
    "image.sourceRepository": {
        "dev": PROMOTION,
        "prod": {"image.sourceRepository": OTHER_REPOSITORY},
    },
    "image.digest": {"dev": PROMOTION, "prod": {"image.digest": "sha256:" + "b" * 64}},
    "image.pullRoleArns": _both({"image.pullRoleArns": [PULL_ROLE]}),
    "image.buildReason": {
        "dev": {"image.buildReason": "rebuilt for a hotfix"},
        "prod": {**NO_PROMOTION, **BUILT_IN_PROD},
    },
    "image.platform": _both({"image.platform": "linux/arm64"}),
    "image.keepLast": _both({"image.keepLast": 20}),
    "service.containerPort": _both({"service.containerPort": 8080}),
    "service.healthCheckPath": _both({"service.healthCheckPath": "/health"}),
    "service.cpu": {
        "dev": {"service.cpu": 512, "service.memory": 1024},
        "prod": {"service.cpu": 1024, "service.memory": 2048},
    },
    "service.memory": {"dev": {"service.memory": 1024}, "prod": {"service.memory": 2048}},
    "service.desiredCount": {
        "dev": {"service.desiredCount": 2},
        "prod": {"service.desiredCount": 3},
    },
    "service.workers": _both({"service.workers": 1}),
    "service.memoryPerWorker": _both({"service.memoryPerWorker": 128}),
    "service.healthCheckGracePeriod": _both({"service.healthCheckGracePeriod": 120}),
    "service.stopTimeout": _both({"service.stopTimeout": 60}),
    "service.logRetentionDays": _both({"service.logRetentionDays": 14}),
    "service.containerInsights": {
        "dev": {"service.containerInsights": True},
        "prod": {"service.containerInsights": False},
    },
    "service.fargateSpotPercent": {
        "dev": {"service.fargateSpotPercent": 0},
        "prod": {"service.fargateSpotPercent": 50},
    },
    "service.environment": _both({"service.environment": ["FEATURE_X=1"]}),
    "service.secrets": _both(
        {
            "service.secrets": [
                "API_KEY=arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf"
            ]
        }
    ),
    "service.taskPolicyArns": _both(
        {"service.taskPolicyArns": ["arn:aws:iam::123456789012:policy/app-extra"]}
    ),
    "service.deploymentStrategy": _both({"service.deploymentStrategy": "blue-green"}),
    "service.bakeTime": _both({"service.deploymentStrategy": "blue-green", "service.bakeTime": 10}),
    "service.exec": {"dev": {"service.exec": "off"}, "prod": {"service.exec": "on"}},
    "service.maxBodyBytes": _both({"service.maxBodyBytes": 2097152}),
    "service.appSecrets": _both({"service.appSecrets": ["PAYMENTS_KEY"]}),
    "service.publicApi": _both({"service.publicApi": True}),
    "service.apiDocs": {"dev": {"service.apiDocs": "off"}, "prod": {"service.apiDocs": "on"}},
    "scaling.enabled": _both({"scaling.enabled": False}),
    "scaling.minCount": {
        "dev": {"scaling.minCount": 2, "service.desiredCount": 2},
        "prod": {"scaling.minCount": 3, "service.desiredCount": 3},
    },
    "scaling.maxCount": {"dev": {"scaling.maxCount": 3}, "prod": {"scaling.maxCount": 8}},
    "scaling.cpuTarget": _both({"scaling.cpuTarget": 60}),
    "scaling.memoryTarget": _both({"scaling.memoryTarget": 75}),
    "scaling.requestsPerTarget": _both({"scaling.requestsPerTarget": 500}),
    "scaling.scaleOutCooldown": _both({"scaling.scaleOutCooldown": 120}),
    "scaling.scaleInCooldown": _both({"scaling.scaleInCooldown": 600}),
    "migration.enabled": _both({"migration.enabled": False}),
    "migration.command": _both({"migration.command": ["python", "-m", "api.migrate", "--check"]}),
    "migration.timeout": _both({"migration.timeout": 1800}),
    "migration.lockTimeout": _both({"migration.lockTimeout": 3}),
    "migration.nonce": _both({"migration.nonce": "2026-12-07"}),
    "database.mode": _both({"database.mode": "off"}),
    "database.engineVersion": _both({"database.engineVersion": "17"}),
    "database.instanceClass": {
        "dev": {"database.instanceClass": "db.t4g.small"},
        "prod": {"database.instanceClass": "db.m7g.xlarge"},
    },
    "database.allocatedStorage": {
        "dev": {"database.allocatedStorage": 30},
        "prod": {"database.allocatedStorage": 60},
    },
    "database.maxAllocatedStorage": {
        "dev": {"database.maxAllocatedStorage": 0},
        "prod": {"database.maxAllocatedStorage": 300},
    },
    # A production database keeps at least 7 days of backups (the settings refuse fewer).
    "database.backupRetentionDays": {
        "dev": {"database.backupRetentionDays": 3},
        "prod": {"database.backupRetentionDays": 7},
    },
    "database.name": _both({"database.name": "notes"}),
    "database.host": _both(EXTERNAL_DB),
    "database.port": _both({**EXTERNAL_DB, "database.port": 5433}),
    "database.secretArn": _both(EXTERNAL_DB),
    "database.statementTimeout": _both({"database.statementTimeout": 10}),
    "database.appRole": _both({"database.appRole": False}),
    "protection.allowReplacing": _both({"protection.allowReplacing": ["database"]}),
    "alarms.enabled": _both({"alarms.enabled": False}),
    "alarms.email": _both({"alarms.email": "ops@example.com"}),
    "alarms.errorRate": _both({"alarms.errorRate": 10}),
    "alarms.minRequests": _both({"alarms.minRequests": 20}),
    "alarms.latencyP99": _both({"alarms.latencyP99": 3000}),
    "alarms.evaluationMinutes": _both({"alarms.evaluationMinutes": 5}),
    "alarms.unhealthyMinutes": _both({"alarms.unhealthyMinutes": 10}),
    "alarms.highUtilization": _both({"alarms.highUtilization": 85}),
    "alarms.lowUtilization": _both({"alarms.lowUtilization": 40}),
    "alarms.wasteHours": _both({"alarms.wasteHours": 48}),
    "alarms.databaseCpu": _both({"alarms.databaseCpu": 70}),
    "alarms.databaseFreeStorage": _both({"alarms.databaseFreeStorage": 5}),
    "alarms.databaseConnections": _both({"alarms.databaseConnections": 70}),
}

# Changes the settings refuse on a stack, before anything is created: (setting, stack) ->
# words of the message.
REFUSED_BY_SETTINGS: dict[tuple[str, str], str] = {
    ("alarms.enabled", "prod"): "a production stack needs its alarms",
    # prod promotes dev's image: it has no repository for others to pull from (the grant did
    # nothing before the settings refused it).
    ("image.pullRoleArns", "prod"): "it builds none and has no repository",
}

# Replacements of what holds data or a name users see that a change means (the plan warns of
# each): setting -> short types.
REPLACES: dict[str, set[str]] = {
    "https.domain": {"acm.Certificate"},
    "https.extraNames": {"acm.Certificate"},
    "database.name": {"rds.Instance"},
}

# What AWS cannot undo, by setting and direction: the change back is refused (by RDS), or does
# nothing, and the plan says so. (setting, direction) -> (resource, input).
ONE_WAY: dict[tuple[str, str], tuple[str, str]] = {
    ("database.engineVersion", "back"): ("data-postgres", "engineVersion"),
    ("database.allocatedStorage", "back"): ("data-postgres", "allocatedStorage"),
}


def _all_settings() -> list[str]:
    from pydantic.alias_generators import to_camel

    from components.settings import GROUPS

    names = ["production"]
    for group, model in GROUPS.items():
        names += [f"{group}.{f.alias or to_camel(n)}" for n, f in model.model_fields.items()]
    return names


MATRIX = [
    pytest.param(stack, setting, direction, id=f"{stack}-{setting}-{direction}")
    for setting in _all_settings()
    for stack in ("dev", "prod")
    for direction in ("there", "back")
]


def test_the_matrix_covers_every_setting_of_the_model():
    assert sorted(CHANGES) == sorted(_all_settings())


def _state_differs(p: rules.Prediction, asked: dict[str, Any], ignored: list[str]) -> list[str]:
    """Top-level inputs whose state after the update is not what the program sends."""
    schema = rules.schema_of(p.type)
    wanted = schema.read_back(dict(asked)) if schema and schema.read_back else dict(asked)
    return sorted(
        k
        for k in set(wanted) | set(p.state)
        if k not in {i.split(".")[0] for i in ignored}
        and not rules.same(p.type, k, p.state.get(k, rules.ABSENT), wanted.get(k, rules.ABSENT))
    )


@pytest.mark.parametrize(("stack", "setting", "direction"), MATRIX)
def test_every_setting_changes_as_it_says_both_ways(stack, setting, direction):
    change = CHANGES[setting][stack]
    if (setting, stack) in REFUSED_BY_SETTINGS:
        with pytest.raises(PlanError, match=REFUSED_BY_SETTINGS[(setting, stack)]):
            plan(stack, **change)
        return
    before, after = ({}, change) if direction == "there" else (change, {})
    old, new, predictions = transition(stack, before, after)
    one_way = ONE_WAY.get((setting, direction))

    problems = []
    for p in predictions.values():
        findings = [(p.name, f.input) for f in p.silent + p.refused]
        if one_way and one_way in findings:
            continue
        if findings:
            problems.append(rules.describe(p))
            continue
        if p.action in ("delete", "refused"):
            continue
        r = next(r for r in new["resources"] if r["key"] == p.key)
        if not r["type"].startswith(("fastapi-fargate:", "pulumi-python", "docker:")):
            differs = _state_differs(p, r["inputs"], r["ignore_changes"])
            if differs:
                problems.append(f"{p.name}: after the update {differs} differ from the program")
    assert problems == [], "\n".join(problems)
    if one_way:
        resource, field_ = one_way
        p = next(p for p in predictions.values() if p.name == resource)
        assert field_ in [f.input for f in p.silent + p.refused]

    assert dangling(predictions) == []
    # A repository other stacks are granted (image.pullRoleArns) holds the images they run.
    granted = any(
        r["type"] == "aws:ecr/repositoryPolicy:RepositoryPolicy" for r in old["resources"]
    )
    assert not granted or all(
        p.action != "delete"
        for p in predictions.values()
        if p.type == "aws:ecr/repository:Repository"
    )

    inputs = {r["key"]: r["inputs"] for r in new["resources"]}
    held = {
        (p.name, rules.short_type(p.type))
        for p in predictions.values()
        if p.action == "replace" and rules.holds_what(p.type, inputs[p.key])
    }
    assert {t for _, t in held} <= REPLACES.get(setting, set())
    warned = {(w.resource, rules.short_type(w.type)) for w in consequences(diff_plans(old, new, "a", "b"), new).warnings}  # fmt: skip
    assert held <= warned


def test_the_plan_knows_what_runs_the_migration_again():
    from components.migration import RUN_TRIGGER_KEYS
    from plan.motion import MIGRATION_RUN_TRIGGERS

    assert set(RUN_TRIGGER_KEYS) == MIGRATION_RUN_TRIGGERS


class TestTheOfflinePlanSaysWhatAwsWillNotDo:
    """`python -m plan STACK --against ...` uses the same predictions."""

    def _saved(self, tmp_path: Path, name: str, **settings: Any) -> Path:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(plan("dev", **settings)))
        return path

    def test_a_lower_allocated_storage_is_no_change_on_aws_and_a_warning(self, capsys, tmp_path):
        from plan.cli import main

        before = self._saved(tmp_path, "bigger", **{"database.allocatedStorage": 30})
        assert main(["dev", "--no-policy", "--against-file", str(before)]) == 0
        out = capsys.readouterr().out
        assert "~ data-postgres [rds.Instance] (no change on AWS)" in out
        warning = out.split("Not carried out on AWS (the provider keeps what is there, or refuses):\n")[1]  # fmt: skip
        assert warning.startswith(
            "  ! data-postgres [rds.Instance]: allocatedStorage: no change on AWS (asked 20, "
            "stays 30; internal/service/rds/instance.go, ResourceInstance, allocated_storage "
            "DiffSuppressFunc"
        )

    def test_a_downgrade_is_refused_in_the_plan_and_its_json(self, capsys, tmp_path):
        from plan.cli import main

        before = self._saved(tmp_path, "newer", **{"database.engineVersion": "17"})
        assert main(["dev", "--no-policy", "--json", "--against-file", str(before)]) == 0
        document = json.loads(capsys.readouterr().out)
        (refused,) = document["not_on_aws"]
        assert (refused["resource"], refused["action"]) == ("data-postgres", "refused")
        assert refused["refused"][0]["input"] == "engineVersion"

    def test_markdown_puts_the_warning_first(self, capsys, tmp_path):
        from plan.cli import main

        before = self._saved(tmp_path, "bigger", **{"database.allocatedStorage": 30})
        assert main(["dev", "--no-policy", "--markdown", "--against-file", str(before)]) == 0
        out = capsys.readouterr().out
        assert "> **Not carried out on AWS**" in out
        assert out.index("Not carried out on AWS") < out.index("| setting | before | after |")

    def test_against_another_stack_the_smaller_storage_is_flagged_too(self, capsys):
        from plan.cli import main

        # prod's 50 GiB taken as what AWS has: dev's 20 would never reach it.
        assert main(["dev", "--no-policy", "--against", "prod"]) == 0
        out = capsys.readouterr().out
        assert "allocatedStorage: no change on AWS (asked 20, stays 50;" in out

    def test_a_change_aws_carries_out_gives_no_warning(self, capsys, tmp_path):
        from plan.cli import main

        before = self._saved(tmp_path, "smaller", **{"database.instanceClass": "db.t4g.small"})
        assert main(["dev", "--no-policy", "--against-file", str(before)]) == 0
        assert "Not carried out on AWS" not in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# docs/live-changes.md: its tables are generated from the same predictions.
# ---------------------------------------------------------------------------------------------

LIVE_CHANGES = ROOT / "docs" / "live-changes.md"
BEGIN, END = "<!-- generated: tests/test_live_changes.py -->", "<!-- end of generated -->"


def _kinds(predictions: list[rules.Prediction]) -> str:
    names = sorted({rules.short_type(p.type) for p in predictions})
    return ", ".join(f"`{n}`" for n in names)


def effect(stack: str, setting: str) -> str:
    """What changing ``setting`` from the stack's value does to the running stack, in words."""
    change = CHANGES[setting][stack]
    if (setting, stack) in REFUSED_BY_SETTINGS:
        return "refused by the settings (" + REFUSED_BY_SETTINGS[(setting, stack)] + ")"
    old, new, predictions = transition(stack, {}, change)
    moves = consequences(diff_plans(old, new, "a", "b"), new)
    aws = [
        p
        for p in predictions.values()
        if not p.type.startswith(("fastapi-fargate:", "pulumi-python:", "docker:"))
    ]
    parts = []
    if moves.warnings:
        parts.append("**replaces** " + _kinds([p for p in aws if p.action == "replace" and rules.holds_what(p.type, p.state)]))  # fmt: skip
    was = {r["key"]: r["inputs"] for r in old["resources"]}
    gone = [p for p in aws if p.action == "delete" and rules.holds_what(p.type, was[p.key])]
    if gone:
        parts.append("**deletes** " + _kinds(gone))
    if moves.rollouts:
        first = " after the migration" if any(m for _, _, m in moves.rollouts) else ""
        parts.append(f"new tasks{first}")
    elif moves.migrations:
        parts.append("runs the migration")
    replaced = [p for p in aws if p.action == "replace" and not rules.holds_what(p.type, p.state)]
    replaced = [p for p in replaced if p.type != rules.TASK_DEFINITION]
    if replaced:
        parts.append("replaces " + _kinds(replaced))
    for action, words in (("create", "creates"), ("delete", "deletes")):
        touched = [p for p in aws if p.action == action and p not in gone]
        if touched:
            parts.append(f"{words} " + _kinds(touched))
    updated = [p for p in aws if p.action == "update"]
    if updated:
        parts.append("in place: " + _kinds(updated))
    return "; ".join(parts) or "nothing on AWS"


def generated_tables() -> str:
    from components.settings import GROUPS

    lines = []
    for group in ["production", *GROUPS]:
        settings = [s for s in _all_settings() if s == group or s.startswith(group + ".")]
        lines += [f"### `{group}`", "", "| setting | dev | prod |", "|---|---|---|"]
        for setting in settings:
            dev, prod = effect("dev", setting), effect("prod", setting)
            lines.append(f"| `{setting}` | {dev} | {'same' if prod == dev else prod} |")
        lines.append("")
    return "\n".join(lines)


def test_the_live_changes_page_is_generated_from_the_predictions():
    import os

    text = LIVE_CHANGES.read_text()
    head, _, rest = text.partition(BEGIN + "\n")
    _, _, tail = rest.partition(END)
    expected = f"{head}{BEGIN}\n{generated_tables()}{END}{tail}"
    if os.environ.get("UPDATE_GOLDEN"):
        LIVE_CHANGES.write_text(expected)
        text = expected
    assert text == expected, (
        "run UPDATE_GOLDEN=1 python -m pytest tests/test_live_changes.py -k page"
    )


@pytest.mark.parametrize(
    ("change", "runs"),
    [
        ({"migration.nonce": "again"}, True),
        ({"migration.command": ["python", "-m", "api.migrate", "--check"]}, True),
        ({"migration.timeout": 1800}, False),
        ({"service.memory": 1024}, True),
    ],
    ids=["nonce", "command", "timeout", "new-revision"],
)
def test_the_migration_runs_again_only_for_its_run_triggers(change, runs):
    old, new, _ = transition("dev", {}, change)
    assert bool(consequences(diff_plans(old, new, "a", "b"), new).migrations) is runs
