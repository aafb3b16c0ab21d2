"""A CloudWatch dashboard per stack: traffic, errors, latency, tasks, utilization, database, alarms.

Creates one ``aws.cloudwatch.Dashboard`` whose widgets show requests; 5xx responses and their
rate next to the alarm's threshold; p50/p99 latency; healthy and running tasks against the
desired count and the autoscaling bounds; CPU and memory with the 50 % and 90 % lines of the
utilization band drawn in; the managed database's CPU, connections and free storage; and the
state of every alarm of the stack. Its console URL is exported as ``dashboard_url``.

The body is built by a pure function (``dashboard_body``) and checked by ``validate_body``
against AWS's "Dashboard Body Structure and Syntax" (CloudWatch API reference,
CloudWatch-Dashboard-Body-Structure.html) before it is handed to Pulumi, so a malformed widget
fails with a message before any PutDashboard call: in the preview once the names it reads are
known (a stack's second preview on), else in ``pulumi up`` before the dashboard is written.
Metric names and dimensions come from ``components.alarms.DOCUMENTED_METRICS``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.alarms import DOCUMENTED_METRICS
from components.naming import DASHBOARD_NAME, stack_name
from components.settings import Settings

WIDTH = 12
HEIGHT = 6
# The band the project keeps utilization in (the alarms' defaults).
BAND_COLORS = {"low": "#2ca02c", "high": "#d62728"}


@dataclass(frozen=True)
class DashboardInputs:
    """Plain values the body is built from (every Output resolved)."""

    region: str
    load_balancer: str
    target_groups: Sequence[str]
    cluster: str
    service: str
    alarm_arns: Sequence[str]
    database: str | None = None


def _metric(namespace: str, name: str, dims: Mapping[str, str], **options: Any) -> list[Any]:
    entry: list[Any] = [namespace, name]
    for key, value in dims.items():
        entry += [key, value]
    return [*entry, options] if options else entry


def _widget(title: str, metrics: list[Any], region: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "view": "timeSeries",
            "period": 60,
            "metrics": metrics,
            **properties,
        },
    }


def _band(low: int, high: int) -> dict[str, Any]:
    """The 50-90 % band as horizontal lines: waste below the first, danger above the second."""
    return {
        "horizontal": [
            {"label": f"waste below {low} %", "value": low, "fill": "below",
             "color": BAND_COLORS["low"]},
            {"label": f"danger above {high} %", "value": high, "fill": "above",
             "color": BAND_COLORS["high"]},
        ]
    }  # fmt: skip


def dashboard_body(settings: Settings, inputs: DashboardInputs) -> dict[str, Any]:
    """The dashboard's body as a dict, widgets laid out two per row."""
    a = settings.alarms
    region = inputs.region
    alb = {"LoadBalancer": inputs.load_balancer}
    service = {"ClusterName": inputs.cluster, "ServiceName": inputs.service}
    elb = "AWS/ApplicationELB"
    widgets: list[dict[str, Any]] = [
        _widget(
            "Requests per minute",
            [_metric(elb, "RequestCount", alb, stat="Sum", label="requests")],
            region,
        ),
        _widget(
            "5xx responses",
            [
                _metric(
                    elb, "HTTPCode_Target_5XX_Count", alb, stat="Sum", id="target", label="app 5xx"
                ),
                _metric(
                    elb,
                    "HTTPCode_ELB_5XX_Count",
                    alb,
                    stat="Sum",
                    id="elb",
                    label="load balancer 5xx",
                ),
                _metric(elb, "RequestCount", alb, stat="Sum", id="requests", visible=False),
                [
                    {
                        "expression": "100 * (FILL(target, 0) + FILL(elb, 0)) / requests",
                        "label": "5xx, % of requests",
                        "id": "rate",
                        "yAxis": "right",
                    }
                ],
            ],
            region,
            annotations={
                "horizontal": [
                    {
                        "label": f"alarm: {a.error_rate} %",
                        "value": a.error_rate,
                        "yAxis": "right",
                        "color": BAND_COLORS["high"],
                    }
                ]
            },
        ),
        _widget(
            "Response time (seconds)",
            [
                _metric(elb, "TargetResponseTime", alb, stat="p50", label="p50"),
                _metric(elb, "TargetResponseTime", alb, stat="p99", label="p99"),
            ],
            region,
            annotations={
                "horizontal": [
                    {
                        "label": f"alarm: p99 {a.latency_p99} ms",
                        "value": a.latency_p99 / 1000,
                        "color": BAND_COLORS["high"],
                    }
                ]
            },
        ),
        _widget("Tasks", _task_metrics(settings, inputs), region, annotations=_bounds(settings)),
        _widget(
            "CPU utilization (%)",
            [
                _metric("AWS/ECS", "CPUUtilization", service, stat="Average", label="average"),
                _metric("AWS/ECS", "CPUUtilization", service, stat="Maximum", label="busiest task"),
            ],
            region,
            annotations=_band(a.low_utilization, a.high_utilization),
            yAxis={"left": {"min": 0, "max": 100, "showUnits": False}},
        ),
        _widget(
            "Memory utilization (%)",
            [
                _metric("AWS/ECS", "MemoryUtilization", service, stat="Average", label="average"),
                _metric(
                    "AWS/ECS", "MemoryUtilization", service, stat="Maximum", label="busiest task"
                ),
            ],
            region,
            annotations=_band(a.low_utilization, a.high_utilization),
            yAxis={"left": {"min": 0, "max": 100, "showUnits": False}},
        ),
    ]
    if inputs.database is not None:
        db = {"DBInstanceIdentifier": inputs.database}
        widgets += [
            _widget(
                "Database CPU (%) and connections",
                [
                    _metric("AWS/RDS", "CPUUtilization", db, stat="Average", label="CPU %"),
                    _metric(
                        "AWS/RDS",
                        "DatabaseConnections",
                        db,
                        stat="Maximum",
                        label="connections",
                        yAxis="right",
                    ),
                ],
                region,
                period=300,
                annotations={
                    "horizontal": [
                        {
                            "label": f"alarm: CPU {a.database_cpu} %",
                            "value": a.database_cpu,
                            "color": BAND_COLORS["high"],
                        }
                    ]
                },
            ),
            _widget(
                "Database free storage (bytes)",
                [_metric("AWS/RDS", "FreeStorageSpace", db, stat="Minimum", label="free")],
                region,
                period=300,
            ),
        ]
    if not inputs.alarm_arns:
        widgets.append(
            {
                "type": "text",
                "width": 2 * WIDTH,
                "height": 2,
                "properties": {"markdown": "Alarms are off (`alarms.enabled` false)."},
            }
        )
    else:
        widgets.append(_alarm_status(inputs.alarm_arns))
    x = y = 0
    for widget in widgets:
        if x + widget["width"] > 2 * WIDTH:
            x, y = 0, y + HEIGHT
        widget["x"], widget["y"] = x, y
        x += widget["width"]
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


def _alarm_status(alarm_arns: Sequence[str]) -> dict[str, Any]:
    """Every alarm of the stack with its state, the most recently changed first."""
    return {
        "type": "alarm",
        "width": 2 * WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": "Alarms",
            "alarms": list(alarm_arns),
            "sortBy": "stateUpdatedTimestamp",
        },
    }


def _task_metrics(settings: Settings, inputs: DashboardInputs) -> list[Any]:
    metrics: list[Any] = [
        _metric(
            "AWS/ApplicationELB",
            "HealthyHostCount",
            {"LoadBalancer": inputs.load_balancer, "TargetGroup": tg},
            stat="Minimum",
            label=f"healthy ({tg.split('/')[1]})",
        )
        for tg in inputs.target_groups
    ]
    if settings.service.container_insights:
        service = {"ClusterName": inputs.cluster, "ServiceName": inputs.service}
        for name, label in (
            ("RunningTaskCount", "running"),
            ("PendingTaskCount", "pending"),
            ("DesiredTaskCount", "desired"),
        ):
            metrics.append(
                _metric("ECS/ContainerInsights", name, service, stat="Average", label=label)
            )
    return metrics


def _bounds(settings: Settings) -> dict[str, Any]:
    """The desired count (without autoscaling) or the autoscaling bounds, as lines."""
    if not settings.scaling.enabled:
        count = settings.service.desired_count
        return {"horizontal": [{"label": f"desired: {count}", "value": count}]}
    return {
        "horizontal": [
            {"label": f"scaling min: {settings.scaling.min_count}",
             "value": settings.scaling.min_count},
            {"label": f"scaling max: {settings.scaling.max_count}",
             "value": settings.scaling.max_count},
        ]
    }  # fmt: skip


# --- validation against "Dashboard Body Structure and Syntax" ---------------------------------

WIDGET_TYPES = frozenset({"metric", "text", "log", "alarm", "explorer", "custom"})
TOP_LEVEL_KEYS = frozenset({"widgets", "start", "end", "periodOverride", "variables"})
METRIC_VIEWS = frozenset({"timeSeries", "singleValue", "gauge", "bar", "pie", "table"})
# "Metric Widget: Format for Each Metric in the Array": the rendering properties object.
RENDERING_KEYS = frozenset(
    {"accountId", "color", "id", "label", "period", "region", "stat", "visible", "yAxis"}
)
EXPRESSION_KEYS = RENDERING_KEYS | {"expression"}
ANNOTATION_KEYS = frozenset({"value", "label", "color", "fill", "visible", "yAxis"})
ALARM_STATES = frozenset({"ALARM", "INSUFFICIENT_DATA", "OK"})
_STAT = re.compile(r"^(SampleCount|Average|Sum|Minimum|Maximum|p\d{1,2}(\.\d+)?|p100|IQM)$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")


def validate_body(body: Mapping[str, Any]) -> list[str]:
    """Every way ``body`` breaks the documented structure (empty when it is valid)."""
    problems = [f"unknown top-level key {k!r}" for k in body if k not in TOP_LEVEL_KEYS]
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [*problems, "the body must have a widgets array"]
    if len(widgets) > 500:
        problems.append(f"{len(widgets)} widgets: a dashboard holds at most 500")
    if body.get("periodOverride", "auto") not in ("auto", "inherit"):
        problems.append("periodOverride must be auto or inherit")
    for i, widget in enumerate(widgets):
        problems += [f"widget {i}: {p}" for p in validate_widget(widget)]
    return problems


def validate_widget(widget: Any) -> list[str]:
    if not isinstance(widget, Mapping):
        return ["is not an object"]
    problems = []
    kind = widget.get("type")
    if kind not in WIDGET_TYPES:
        problems.append(f"type {kind!r} is not one of {sorted(WIDGET_TYPES)}")
    for key, low, high in (("x", 0, 23), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000)):
        value = widget.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or value < low or (high is not None and value > high):
            problems.append(f"{key} = {value!r} is not an integer from {low} to {high or 'up'}")
    if isinstance(widget.get("x"), int) and widget.get("x", 0) + widget.get("width", 6) > 24:
        problems.append("x + width exceeds the 24 columns of the grid")
    props = widget.get("properties")
    if not isinstance(props, Mapping):
        return [*problems, "has no properties object"]
    if kind == "metric":
        problems += _metric_widget(props)
    elif kind == "alarm":
        problems += _alarm_widget(props)
    elif kind == "text" and not isinstance(props.get("markdown"), str):
        problems.append("a text widget needs properties.markdown")
    return problems


def _metric_widget(props: Mapping[str, Any]) -> list[str]:
    problems = []
    if not isinstance(props.get("region"), str):
        problems.append("a metric widget needs properties.region")
    metrics = props.get("metrics")
    annotations = props.get("annotations")
    if metrics is None and not (isinstance(annotations, Mapping) and "alarms" in annotations):
        problems.append("a metric widget needs metrics (or an alarm annotation)")
    if metrics is not None:
        if not isinstance(metrics, list) or len(metrics) > 100:
            problems.append("metrics must be an array of at most 100 entries")
        else:
            for j, entry in enumerate(metrics):
                problems += [f"metrics[{j}]: {p}" for p in validate_metric_entry(entry)]
    if props.get("view", "timeSeries") not in METRIC_VIEWS:
        problems.append(f"view {props.get('view')!r} is not one of {sorted(METRIC_VIEWS)}")
    period = props.get("period")
    if period is not None and not (isinstance(period, int) and (period in (1, 5, 10, 30) or period % 60 == 0)):  # fmt: skip
        problems.append(f"period {period!r} must be 1, 5, 10, 30 or a multiple of 60")
    if "stat" in props and not _STAT.match(str(props["stat"])):
        problems.append(f"stat {props['stat']!r} is not a CloudWatch statistic")
    if annotations is not None:
        problems += _annotations(annotations)
    return problems


def validate_metric_entry(entry: Any) -> list[str]:
    """One entry of a metrics array: [namespace, name, dim, value, ..., {options}] or
    [{expression, ...}]; the metric and its dimensions must be ones CloudWatch documents."""
    if not isinstance(entry, list) or not entry:
        return ["is not a non-empty array"]
    if isinstance(entry[0], Mapping):
        if len(entry) != 1:
            return ["an expression entry holds only its object"]
        expr = entry[0]
        problems = [f"unknown expression key {k!r}" for k in expr if k not in EXPRESSION_KEYS]
        if not isinstance(expr.get("expression"), str):
            problems.append("an expression entry needs an expression string")
        if not _ID.match(str(expr.get("id", ""))):
            problems.append(f"id {expr.get('id')!r} must start with a lowercase letter")
        return problems
    options = entry[-1] if isinstance(entry[-1], Mapping) else {}
    names = entry[:-1] if options else entry
    if len(names) < 2 or len(names) % 2 or not all(isinstance(n, str) and n for n in names):
        return ["must be namespace, metric name, then dimension name/value pairs of strings"]
    problems = [f"unknown rendering option {k!r}" for k in options if k not in RENDERING_KEYS]
    if "id" in options and not _ID.match(str(options["id"])):
        problems.append(f"id {options['id']!r} must start with a lowercase letter")
    if "stat" in options and not _STAT.match(str(options["stat"])):
        problems.append(f"stat {options['stat']!r} is not a CloudWatch statistic")
    if options.get("yAxis", "left") not in ("left", "right"):
        problems.append("yAxis must be left or right")
    namespace, metric = names[0], names[1]
    dimensions = tuple(sorted(names[2::2]))
    documented = DOCUMENTED_METRICS.get(namespace, {}).get(metric)
    if documented is None:
        problems.append(f"{namespace} {metric} is not a metric this project knows CloudWatch has")
    elif dimensions not in {tuple(sorted(d)) for d in documented}:
        problems.append(f"{namespace} {metric} is not published with dimensions {dimensions}")
    return problems


def _annotations(annotations: Any) -> list[str]:
    if not isinstance(annotations, Mapping):
        return ["annotations must be an object"]
    problems = []
    for kind in ("horizontal", "vertical"):
        for k, note in enumerate(annotations.get(kind, [])):
            where = f"annotations.{kind}[{k}]"
            if not isinstance(note, Mapping):
                problems.append(f"{where} is not an object")
                continue
            problems += [
                f"{where}: unknown key {key!r}" for key in note if key not in ANNOTATION_KEYS
            ]
            if kind == "horizontal" and not isinstance(note.get("value"), int | float):
                problems.append(f"{where} needs a numeric value")
            if "color" in note and not _COLOR.match(str(note["color"])):
                problems.append(f"{where}: color must be #rrggbb")
            if note.get("fill", "above") not in ("above", "below", "between", "before", "after"):
                problems.append(f"{where}: fill {note.get('fill')!r} is not documented")
            if note.get("yAxis", "left") not in ("left", "right"):
                problems.append(f"{where}: yAxis must be left or right")
    return problems


def _alarm_widget(props: Mapping[str, Any]) -> list[str]:
    problems = []
    alarms = props.get("alarms")
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= 100:
        problems.append("an alarm widget needs 1 to 100 alarm ARNs")
    else:
        problems += [f"{a!r} is not an alarm ARN" for a in alarms if not _ALARM_ARN.match(str(a))]
    if props.get("sortBy", "default") not in ("default", "stateUpdatedTimestamp", "timestamp"):
        problems.append(f"sortBy {props.get('sortBy')!r} is not documented")
    states = props.get("states", [])
    if not isinstance(states, list) or not set(states) <= ALARM_STATES:
        problems.append(f"states must be a subset of {sorted(ALARM_STATES)}")
    return problems


# --- the resource ------------------------------------------------------------------------------


@dataclass
class DashboardArgs:
    settings: Settings
    region: str
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Sequence[pulumi.Input[str]]
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    alarm_arns: Sequence[pulumi.Input[str]]
    database_id: pulumi.Input[str] | None = None


def dashboard_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )


class Dashboard(pulumi.ComponentResource):
    dashboard_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:dashboard:Dashboard", name, None, opts)
        dashboard_name = stack_name(DASHBOARD_NAME, pulumi.get_project(), pulumi.get_stack())

        def body(values: list[Any]) -> str:
            lb, cluster, service, database, *rest = values
            count = len(args.target_group_arn_suffixes)
            built = dashboard_body(
                args.settings,
                DashboardInputs(
                    region=args.region,
                    load_balancer=lb,
                    target_groups=rest[:count],
                    cluster=cluster,
                    service=service,
                    alarm_arns=rest[count:],
                    database=database,
                ),
            )
            problems = validate_body(built)
            if problems:
                raise ValueError("the dashboard body is invalid: " + "; ".join(problems))
            return json.dumps(built)

        dashboard = aws.cloudwatch.Dashboard(
            name,
            aws.cloudwatch.DashboardArgs(
                dashboard_name=dashboard_name,
                dashboard_body=pulumi.Output.all(
                    args.load_balancer_arn_suffix,
                    args.cluster_name,
                    args.service_name,
                    args.database_id,
                    *args.target_group_arn_suffixes,
                    *args.alarm_arns,
                ).apply(body),
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.url = dashboard.dashboard_name.apply(lambda n: dashboard_url(args.region, n))
        self.register_outputs({"dashboard_name": self.dashboard_name, "url": self.url})
