"""The dashboard: each widget shows what it says, and the body keeps AWS's documented structure."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.dashboard import DashboardInputs, dashboard_body, validate_body, validate_widget
from pulumi_harness import settings_of

LB = "app/edge-alb/0123456789abcdef"
TG = "targetgroup/edge-tg/0123456789abcdef"
ALARM_ARNS = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-{n}" for n in ("errors-1", "latency-2")]  # fmt: skip
INPUTS = DashboardInputs(
    region="us-east-1",
    load_balancer=LB,
    target_groups=[TG],
    cluster="app-cluster",
    service="web-1234",
    alarm_arns=ALARM_ARNS,
    database="data-postgres-1234",
)


@pytest.fixture(scope="module")
def body() -> dict[str, Any]:
    return dashboard_body(settings_of({}), INPUTS)


def widget(body: dict[str, Any], title: str) -> dict[str, Any]:
    (found,) = [w for w in body["widgets"] if w["properties"].get("title") == title]
    assert validate_widget(found) == [], title
    return found


def metric_names(w: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m[0], m[1]) for m in w["properties"]["metrics"] if isinstance(m[0], str)]


def options(w: dict[str, Any]) -> list[dict[str, Any]]:
    return [m[-1] for m in w["properties"]["metrics"] if isinstance(m[-1], dict)]


def lines(w: dict[str, Any]) -> list[tuple[float, str]]:
    return [(a["value"], a["label"]) for a in w["properties"]["annotations"]["horizontal"]]


class TestEachWidget:
    def test_requests(self, body):
        w = widget(body, "Requests per minute")
        assert w["properties"]["metrics"] == [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", LB, {"stat": "Sum", "label": "requests"}]
        ]  # fmt: skip

    def test_5xx_counts_and_their_rate_against_the_alarm(self, body):
        w = widget(body, "5xx responses")
        assert metric_names(w) == [
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
            ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"),
            ("AWS/ApplicationELB", "RequestCount"),
        ]
        (expression,) = [m[0] for m in w["properties"]["metrics"] if isinstance(m[0], dict)]
        assert expression["expression"] == "100 * (FILL(target, 0) + FILL(elb, 0)) / requests"
        assert lines(w) == [(5, "alarm: 5 %")]

    def test_p50_and_p99_latency_with_the_alarm_line(self, body):
        w = widget(body, "Response time (seconds)")
        assert [o["stat"] for o in options(w)] == ["p50", "p99"]
        assert lines(w) == [(2.0, "alarm: p99 2000 ms")]

    def test_tasks_against_the_autoscaling_bounds(self, body):
        w = widget(body, "Tasks")
        assert metric_names(w) == [("AWS/ApplicationELB", "HealthyHostCount")]
        assert lines(w) == [(2, "scaling min: 2"), (4, "scaling max: 4")]

    def test_tasks_show_running_pending_and_desired_with_container_insights(self):
        settings = settings_of({"service.containerInsights": True, "scaling.enabled": False})
        w = widget(dashboard_body(settings, INPUTS), "Tasks")
        assert [n for _, n in metric_names(w)] == [
            "HealthyHostCount", "RunningTaskCount", "PendingTaskCount", "DesiredTaskCount"
        ]  # fmt: skip
        assert lines(w) == [(2, "desired: 2")]

    @pytest.mark.parametrize("title", ["CPU utilization (%)", "Memory utilization (%)"])
    def test_utilization_with_the_50_and_90_lines_drawn(self, body, title):
        w = widget(body, title)
        assert [o["stat"] for o in options(w)] == ["Average", "Maximum"]
        notes = w["properties"]["annotations"]["horizontal"]
        assert [(n["value"], n["fill"]) for n in notes] == [(50, "below"), (90, "above")]
        assert w["properties"]["yAxis"]["left"] == {"min": 0, "max": 100, "showUnits": False}

    def test_database_cpu_connections_and_free_storage(self, body):
        cpu = widget(body, "Database CPU (%) and connections")
        assert [n for _, n in metric_names(cpu)] == ["CPUUtilization", "DatabaseConnections"]
        storage = widget(body, "Database free storage (bytes)")
        assert metric_names(storage) == [("AWS/RDS", "FreeStorageSpace")]

    def test_no_database_no_database_widgets(self):
        inputs = DashboardInputs(**{**INPUTS.__dict__, "database": None})
        titles = [w["properties"].get("title") for w in dashboard_body(settings_of({}), inputs)["widgets"]]  # fmt: skip
        assert not [t for t in titles if t and t.startswith("Database")]

    def test_the_alarms_states(self, body):
        (w,) = [w for w in body["widgets"] if w["type"] == "alarm"]
        assert validate_widget(w) == []
        assert w["properties"]["alarms"] == ALARM_ARNS

    def test_without_alarms_a_note_instead_of_an_empty_alarm_widget(self):
        inputs = DashboardInputs(**{**INPUTS.__dict__, "alarm_arns": []})
        last = dashboard_body(settings_of({}), inputs)["widgets"][-1]
        assert last["type"] == "text" and "alarms.enabled" in last["properties"]["markdown"]

    def test_widgets_tile_the_24_column_grid_without_overlap(self, body):
        cells = set()
        for w in body["widgets"]:
            assert w["x"] + w["width"] <= 24
            for x in range(w["x"], w["x"] + w["width"]):
                for y in range(w["y"], w["y"] + w["height"]):
                    assert (x, y) not in cells
                    cells.add((x, y))


class TestTheValidator:
    def test_the_whole_body_is_valid(self, body):
        assert validate_body(body) == []

    @pytest.mark.parametrize(
        ("break_it", "problem"),
        [
            (lambda b: b.pop("widgets"), "must have a widgets array"),
            (lambda b: b.update(colour="red"), "unknown top-level key 'colour'"),
            (lambda b: b["widgets"][0].update(type="graph"), "type 'graph' is not one of"),
            (lambda b: b["widgets"][1].update(x=20), "x + width exceeds the 24 columns"),
            (lambda b: b["widgets"][0]["properties"].pop("region"), "needs properties.region"),
            (lambda b: b["widgets"][0]["properties"].update(period=90), "period 90 must be"),
            (lambda b: b["widgets"][0]["properties"]["metrics"][0].__setitem__(1, "Requests"), "AWS/ApplicationELB Requests is not a metric"),
            (lambda b: b["widgets"][0]["properties"]["metrics"][0].__setitem__(2, "TargetGroup"), "is not published with dimensions ('TargetGroup',)"),
            (lambda b: b["widgets"][0]["properties"]["metrics"][0][-1].update(colour="#fff"), "unknown rendering option 'colour'"),
            (lambda b: b["widgets"][0]["properties"]["metrics"][0].pop(3), "dimension name/value pairs"),
            (lambda b: b["widgets"][1]["properties"]["metrics"][3][0].update(id="Rate"), "id 'Rate' must start with a lowercase letter"),
            (lambda b: b["widgets"][4]["properties"]["annotations"]["horizontal"][0].pop("value"), "needs a numeric value"),
            (lambda b: b["widgets"][4]["properties"]["annotations"]["horizontal"][0].update(color="green"), "color must be #rrggbb"),
            (lambda b: b["widgets"][-1]["properties"].update(alarms=[]), "needs 1 to 100 alarm ARNs"),
            (lambda b: b["widgets"][-1]["properties"].update(alarms=["dev-errors"]), "'dev-errors' is not an alarm ARN"),
        ],
    )  # fmt: skip
    def test_each_broken_rule_is_named(self, body, break_it, problem):
        broken = copy.deepcopy(body)
        break_it(broken)
        problems = validate_body(broken)
        assert any(problem in p for p in problems), problems
