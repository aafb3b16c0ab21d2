"""Alarms, deployment alarms, blue/green and ECS Exec as the dev and prod stacks render them.

Every alarm is turned into the PutMetricAlarm call the provider makes and checked against
botocore's model of it; every metric against the metrics CloudWatch documents.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.alarms import DOCUMENTED_METRICS, default_max_connections, instance_memory_gib
from components.dashboard import validate_body
from components.rollout_check import alarm_rollback
from components.settings import SettingsError
from pulumi_harness import Rendered, render, settings_of

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SERVICE = "aws:ecs/service:Service"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PROD_LIKE = {
    "production": True,
    "network.nat": "per-az",
    "service.desiredCount": 2,
    "scaling.minCount": 2,
    "service.fargateSpotPercent": 0,
}
DEV_ALARMS = {
    "errors", "latency", "unhealthy-hosts", "cpu-high", "cpu-low", "memory-high", "memory-low",
    "tasks-below-desired", "database-cpu", "database-storage", "database-connections",
}  # fmt: skip


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render()


@pytest.fixture(scope="module")
def prod() -> Rendered:
    return render(stack="prod")


@pytest.fixture(scope="module")
def blue_green() -> Rendered:
    return render({"service.deploymentStrategy": "blue-green", "service.bakeTime": 10})


def alarms(rendered: Rendered, stack: str = "dev") -> dict[str, Any]:
    return {a.name.removeprefix(f"{stack}-"): a for a in rendered.all(ALARM)}


def _dimensions(dims: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dims.items()]


def put_metric_alarm(alarm: Any) -> dict[str, Any]:
    """The PutMetricAlarm request the provider sends for the alarm's inputs."""
    i = alarm.inputs
    params: dict[str, Any] = {"AlarmName": alarm.name}
    simple = {
        "alarmDescription": "AlarmDescription", "comparisonOperator": "ComparisonOperator",
        "threshold": "Threshold", "evaluationPeriods": "EvaluationPeriods",
        "datapointsToAlarm": "DatapointsToAlarm", "treatMissingData": "TreatMissingData",
        "metricName": "MetricName", "namespace": "Namespace", "statistic": "Statistic",
        "extendedStatistic": "ExtendedStatistic", "period": "Period",
        "alarmActions": "AlarmActions", "okActions": "OKActions",
        "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
    }  # fmt: skip
    for key, name in simple.items():
        if key in i:
            value = i[key]
            params[name] = int(value) if isinstance(value, float) and name != "Threshold" else value
    if "dimensions" in i:
        params["Dimensions"] = _dimensions(i["dimensions"])
    if "tags" in i:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in i["tags"].items()]
    if "metricQueries" in i:
        params["Metrics"] = []
        for q in i["metricQueries"]:
            query: dict[str, Any] = {"Id": q["id"], "ReturnData": q.get("returnData", False)}
            if "expression" in q:
                query["Expression"] = q["expression"]
            if "label" in q:
                query["Label"] = q["label"]
            if "metric" in q:
                m = q["metric"]
                query["MetricStat"] = {
                    "Metric": {
                        "Namespace": m["namespace"],
                        "MetricName": m["metricName"],
                        "Dimensions": _dimensions(m.get("dimensions", {})),
                    },
                    "Period": int(m["period"]),
                    "Stat": m["stat"],
                }
            params["Metrics"].append(query)
    return params


def metrics_of(alarm: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    i = alarm.inputs
    if "metricQueries" in i:
        return [
            (q["metric"]["namespace"], q["metric"]["metricName"], tuple(sorted(q["metric"]["dimensions"])))
            for q in i["metricQueries"]
            if "metric" in q
        ]  # fmt: skip
    return [(i["namespace"], i["metricName"], tuple(sorted(i["dimensions"])))]


class TestTheAlarms:
    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_each_stack_has_every_alarm(self, dev, prod, stack):
        rendered = {"dev": dev, "prod": prod}[stack]
        assert set(alarms(rendered, stack)) == DEV_ALARMS

    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_every_alarm_is_a_valid_put_metric_alarm_request(self, dev, prod, stack):
        rendered = {"dev": dev, "prod": prod}[stack]
        shape = (
            botocore.session.get_session()
            .get_service_model("cloudwatch")
            .operation_model("PutMetricAlarm")
            .input_shape
        )
        for alarm in rendered.all(ALARM):
            report = ParamValidator().validate(put_metric_alarm(alarm), shape)
            assert not report.has_errors(), (alarm.name, report.generate_report())

    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_every_metric_is_one_cloudwatch_documents_with_its_dimensions(self, dev, prod, stack):
        rendered = {"dev": dev, "prod": prod}[stack]
        for alarm in rendered.all(ALARM):
            for namespace, metric, dims in metrics_of(alarm):
                documented = DOCUMENTED_METRICS[namespace][metric]
                assert dims in {tuple(sorted(d)) for d in documented}, (alarm.name, metric, dims)

    def test_every_alarm_notifies_the_topic_and_the_topic_is_exported(self, dev):
        topic = dev.one(TOPIC)
        for alarm in dev.all(ALARM):
            assert dev.depends_on(alarm, topic)
            assert len(alarm["alarmActions"]) == 1
        assert dev.outputs["alarm_topic_arn"].startswith("arn:aws:sns:us-east-1:")
        assert not dev.all(SUBSCRIPTION)

    def test_an_email_address_gets_a_subscription(self):
        rendered = render({"alarms.email": "ops@example.com"})
        subscription = rendered.one(SUBSCRIPTION)
        assert subscription["protocol"] == "email"
        assert subscription["endpoint"] == "ops@example.com"

    def test_the_error_rate_is_5xx_of_app_and_load_balancer_over_requests(self):
        rendered = render({"alarms.errorRate": 2, "alarms.minRequests": 30})
        errors = alarms(rendered)["errors"]
        queries = {q["id"]: q for q in errors["metricQueries"]}
        names = {k: q["metric"]["metricName"] for k, q in queries.items() if "metric" in q}
        assert names == {
            "target5xx": "HTTPCode_Target_5XX_Count",
            "elb5xx": "HTTPCode_ELB_5XX_Count",
            "requests": "RequestCount",
        }
        assert queries["rate"]["expression"] == (
            "IF(requests >= 30, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
        )
        assert [q["id"] for q in errors["metricQueries"] if q.get("returnData")] == ["rate"]
        assert errors["threshold"] == 2
        assert errors["comparisonOperator"] == "GreaterThanThreshold"
        assert errors["treatMissingData"] == "notBreaching"

    def test_latency_is_the_p99_in_seconds_over_the_evaluation_minutes(self, dev):
        latency = alarms(dev)["latency"]
        assert latency["extendedStatistic"] == "p99"
        assert latency["threshold"] == 2.0  # 2000 ms
        assert latency["evaluationPeriods"] == latency["datapointsToAlarm"] == 3

    def test_the_band_alarms_fire_above_90_and_advise_below_50_for_a_day(self, dev):
        found = alarms(dev)
        for resource in ("cpu", "memory"):
            high, low = found[f"{resource}-high"], found[f"{resource}-low"]
            assert (high["threshold"], high["comparisonOperator"]) == (90, "GreaterThanThreshold")
            assert (low["threshold"], low["comparisonOperator"]) == (50, "LessThanThreshold")
            assert low["period"] * low["evaluationPeriods"] == 24 * 3600
            # Advisory: told when it starts, no all-clear message.
            assert low["okActions"] == [] and high["okActions"]
            assert low["tags"]["severity"] == "advisory"
            assert high["tags"]["severity"] == "danger"

    def test_without_container_insights_healthy_hosts_below_the_minimum_stand_in(self, dev):
        tasks = alarms(dev)["tasks-below-desired"]
        assert [m[:2] for m in metrics_of(tasks)] == [("AWS/ApplicationELB", "HealthyHostCount")]
        assert tasks["comparisonOperator"] == "LessThanThreshold"
        assert tasks["threshold"] == 1  # scaling.minCount of the dev stack
        assert tasks["treatMissingData"] == "breaching"

    def test_with_container_insights_running_is_compared_with_desired(self, prod):
        tasks = alarms(prod, "prod")["tasks-below-desired"]
        assert sorted(m[1] for m in metrics_of(tasks)) == ["DesiredTaskCount", "RunningTaskCount"]
        assert {m[0] for m in metrics_of(tasks)} == {"ECS/ContainerInsights"}
        (expression,) = [q for q in tasks["metricQueries"] if q.get("returnData")]
        assert expression["expression"] == "desired - running"

    def test_database_alarms_follow_the_instance_class(self, dev, prod):
        assert alarms(dev)["database-connections"]["threshold"] == 89  # 80 % of 112
        assert alarms(prod, "prod")["database-connections"]["threshold"] == 720  # of 901
        assert alarms(dev)["database-storage"]["threshold"] == 2 * 1024**3

    def test_no_database_no_database_alarms(self):
        rendered = render({"database.mode": "off"})
        assert not {n for n in alarms(rendered) if n.startswith("database")}

    @pytest.mark.parametrize(
        ("klass", "memory", "connections"),
        [("db.t4g.micro", 1, 112), ("db.m7g.large", 8, 901), ("db.r6g.2xlarge", 64, 5000),
         ("db.x2g.large", None, None)],
    )  # fmt: skip
    def test_default_max_connections_follow_rds_formula(self, klass, memory, connections):
        assert instance_memory_gib(klass) == memory
        assert default_max_connections(klass) == connections

    def test_alarms_off_keeps_only_the_deployment_alarms_silent_and_unwatched(self):
        rendered = render({"alarms.enabled": False})
        assert not rendered.all(TOPIC)
        kept = rendered.all(ALARM)
        assert sorted(a.name for a in kept) == ["dev-errors", "dev-latency"]
        assert all(a["alarmActions"] == [] and a["okActions"] == [] for a in kept)
        assert all("notifies nobody" in a["alarmDescription"] for a in kept)
        # An explicit disabled block naming them, not none: the provider ignores a dropped
        # block, and the AWS SDK refuses a block without names (tests/test_live_changes.py).
        block = rendered.one(SERVICE)["alarms"]
        assert (block["enable"], block["rollback"], len(block["alarmNames"])) == (False, False, 2)
        assert "alarm_topic_arn" not in rendered.outputs

    def test_a_production_stack_cannot_turn_its_alarms_off(self):
        with pytest.raises(SettingsError, match=r"alarms.enabled = false: a production stack"):
            settings_of(
                {"production": True, "https.domain": "a.example.com",
                 "https.hostedZone": "example.com", "alarms.enabled": False}
            )  # fmt: skip

    @pytest.mark.parametrize(
        ("settings", "message"),
        [
            ({"alarms.lowUtilization": 90}, "is not below alarms.highUtilization"),
            ({"alarms.email": "not-an-address"}, "is not an e-mail address"),
            ({"service.deploymentStrategy": "blue-green", "alarms.enabled": False}, "needs alarms.enabled"),
            ({"service.deploymentStrategy": "blue-green", "scaling.requestsPerTarget": 1000}, "request-based scaling follows one target group"),
        ],
    )  # fmt: skip
    def test_bad_alarm_settings_are_refused_with_the_fix(self, settings, message):
        with pytest.raises(SettingsError, match=message):
            settings_of(settings)


class TestReleasesRollBackOnAlarms:
    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_the_service_rolls_back_on_the_error_and_latency_alarms(self, dev, prod, stack):
        rendered = {"dev": dev, "prod": prod}[stack]
        found = alarms(rendered, stack)
        service = rendered.one(SERVICE)
        names = service["alarms"]["alarmNames"]
        assert [n.rsplit("-", 1)[0] for n in names] == [f"{stack}-errors", f"{stack}-latency"]
        assert service["alarms"]["enable"] is True and service["alarms"]["rollback"] is True
        # The alarms exist before the service that names them.
        assert rendered.depends_on(service, found["errors"])

    def test_the_rollout_check_knows_the_alarm_names(self, dev):
        check = dev.one("pulumi-python:dynamic/rollout:RolloutCheck")
        assert [n.rsplit("-", 1)[0] for n in check["alarm_names"]] == ["dev-errors", "dev-latency"]

    def test_the_rollout_check_outwaits_the_alarm_watch_and_the_bake_time(self, dev, blue_green):
        # ECS keeps a deployment with alarms IN_PROGRESS for their window after the last task
        # is replaced: a deadline shorter than that fails a healthy rollout.
        check = "pulumi-python:dynamic/rollout:RolloutCheck"
        assert dev.one(check)["timeout_seconds"] == 600 + 3 * 60
        assert blue_green.one(check)["timeout_seconds"] == 600 + 10 * 60 + 3 * 60
        slow = render({"alarms.evaluationMinutes": 60})
        assert slow.one(check)["timeout_seconds"] == 600 + 60 * 60
        quiet = render({"alarms.enabled": False})
        assert quiet.one(check)["timeout_seconds"] == 600

    def test_a_rollback_caused_by_an_alarm_names_the_alarm(self):
        reason = "ECS deployment ecs-svc/1 rolled back: alarm dev-errors-1a2b3c4 in ALARM state."
        assert alarm_rollback([reason], ["dev-errors-1a2b3c4", "dev-latency-5"]) == (
            "the deployment alarm dev-errors-1a2b3c4 fired: the new tasks were healthy but "
            "answered with errors or too slowly"
        )
        assert alarm_rollback(["deployment failed: alarm detected."], ["x"]).startswith(
            "a deployment alarm fired"
        )
        assert alarm_rollback(["tasks failed to start"], ["dev-errors"]) is None
        assert alarm_rollback(["alarm detected"], []) is None


class TestBlueGreen:
    def test_the_service_uses_ecs_blue_green_with_the_bake_time(self, blue_green):
        service = blue_green.one(SERVICE)
        assert service["deploymentConfiguration"] == {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": "10",
        }
        (balancer,) = service["loadBalancers"]
        advanced = balancer["advancedConfiguration"]
        green = blue_green.one("aws:lb/targetGroup:TargetGroup", "edge-tg-green")
        rule = blue_green.one("aws:lb/listenerRule:ListenerRule")
        role = blue_green.one("aws:iam/role:Role", "web-blue-green")
        for key, target in (
            ("alternateTargetGroupArn", green),
            ("productionListenerRule", rule),
            ("roleArn", role),
        ):
            assert key in advanced and blue_green.depends_on(service, target), key
        assert "targetgroup/edge-tg-green/" in advanced["alternateTargetGroupArn"]
        assert "targetgroup/edge-tg/" in balancer["targetGroupArn"]
        assert advanced["roleArn"].endswith(":role/web-blue-green")
        assert "web-production" in advanced["productionListenerRule"]

    def test_the_service_update_outlasts_the_bake_time(self, blue_green, dev):
        # The provider gives up after 20 minutes; waiting for steady state waits out the bake.
        expected = {"create": "30m", "update": "30m"}
        assert blue_green.one(SERVICE).custom_timeouts == expected
        assert dev.one(SERVICE).custom_timeouts == {}

    def test_the_green_target_group_checks_health_like_the_blue_one(self, blue_green):
        blue = blue_green.one("aws:lb/targetGroup:TargetGroup", "edge-tg")
        green = blue_green.one("aws:lb/targetGroup:TargetGroup", "edge-tg-green")
        assert green.inputs == blue.inputs

    def test_the_production_rule_forwards_to_blue_and_green_and_leaves_weights_to_ecs(
        self, blue_green
    ):
        rule = blue_green.one("aws:lb/listenerRule:ListenerRule")
        (action,) = rule["actions"]
        assert action["type"] == "forward"
        assert [g["weight"] for g in action["forward"]["targetGroups"]] == [100, 0]
        assert rule["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
        assert rule.ignore_changes == ["actions"]
        assert blue_green.depends_on(rule, blue_green.one("aws:lb/listener:Listener", "edge-https"))

    def test_ecs_assumes_the_role_with_the_managed_load_balancer_policy(self, blue_green):
        role = blue_green.one("aws:iam/role:Role", "web-blue-green")
        (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs.amazonaws.com"}
        attachment = blue_green.one(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "web-blue-green"
        )
        assert attachment["policyArn"] == (
            "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
        )

    def test_host_alarms_watch_both_target_groups(self, blue_green):
        unhealthy = alarms(blue_green)["unhealthy-hosts"]
        groups = [
            q["metric"]["dimensions"]["TargetGroup"]
            for q in unhealthy["metricQueries"]
            if "metric" in q
        ]
        assert len(groups) == 2 and groups[0] != groups[1]
        (total,) = [q for q in unhealthy["metricQueries"] if q.get("returnData")]
        assert total["expression"] == "SUM([tg0, tg1])"

    def test_rolling_is_the_default_and_creates_no_second_target_group(self, dev):
        # Explicit, so a switch back from blue-green is not kept as BLUE_GREEN.
        assert dev.one(SERVICE)["deploymentConfiguration"] == {
            "strategy": "ROLLING",
            "bakeTimeInMinutes": "0",
        }
        assert [t.name for t in dev.all("aws:lb/targetGroup:TargetGroup")] == ["edge-tg"]
        assert not dev.all("aws:lb/listenerRule:ListenerRule")


class TestExec:
    def test_dev_allows_exec_with_only_the_session_manager_channels(self, dev):
        assert dev.one(SERVICE)["enableExecuteCommand"] is True
        policy = dev.one(ROLE_POLICY, "web-exec")
        assert policy["role"] == "app-task"
        (statement,) = json.loads(policy["policy"])["Statement"]
        assert sorted(statement["Action"]) == [
            "ssmmessages:CreateControlChannel",
            "ssmmessages:CreateDataChannel",
            "ssmmessages:OpenControlChannel",
            "ssmmessages:OpenDataChannel",
        ]
        assert dev.depends_on(dev.one(SERVICE), policy)
        assert dev.outputs["exec_enabled"] is True

    def test_production_turns_exec_off_and_grants_nothing(self, prod):
        assert prod.one(SERVICE)["enableExecuteCommand"] is False
        assert not [p for p in prod.all(ROLE_POLICY) if p.name == "web-exec"]
        assert prod.outputs["exec_enabled"] is False

    @pytest.mark.parametrize(("value", "expected"), [("on", True), ("true", True), ("off", False), (False, False)])  # fmt: skip
    def test_service_exec_forces_it_either_way(self, value, expected):
        assert settings_of({"service.exec": value}).exec_enabled is expected


class TestTheRenderedDashboards:
    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_each_stack_has_a_valid_dashboard_and_exports_its_url(self, dev, prod, stack):
        rendered = {"dev": dev, "prod": prod}[stack]
        dashboard = rendered.one("aws:cloudwatch/dashboard:Dashboard")
        assert dashboard["dashboardName"] == f"fastapi-fargate-{stack}"
        body = json.loads(dashboard["dashboardBody"])
        assert validate_body(body) == []
        (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
        assert len(status["properties"]["alarms"]) == len(
            rendered.all("aws:cloudwatch/metricAlarm:MetricAlarm")
        )
        assert rendered.outputs["dashboard_url"] == (
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            f"#dashboards/dashboard/fastapi-fargate-{stack}"
        )
