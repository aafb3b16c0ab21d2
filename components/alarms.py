"""Alarms that watch what runs, and the SNS topic they notify.

Creates an SNS topic (with an e-mail subscription when ``alarms.email`` is set) and CloudWatch
metric alarms per stack:

* ``errors``: the share of requests answered 5xx, by the app (``HTTPCode_Target_5XX_Count``) or
  by the load balancer itself (``HTTPCode_ELB_5XX_Count``: 502/503/504 when no task answers),
  over ``RequestCount``: a metric-math alarm that stays quiet below ``alarms.minRequests``;
* ``latency``: the targets' p99 ``TargetResponseTime``;
* ``unhealthy-hosts``: any target unhealthy for ``alarms.unhealthyMinutes``;
* ``cpu-high`` / ``memory-high`` (danger, above the 50-90 % band) and ``cpu-low`` /
  ``memory-low`` (advisory waste: below it for ``alarms.wasteHours``);
* ``tasks-below-desired``: with Container Insights, ``DesiredTaskCount - RunningTaskCount``; the
  ``AWS/ECS`` namespace has no task count (only CPU/memory reservation and utilization, see
  ``DOCUMENTED_METRICS``), so without it the load balancer's ``HealthyHostCount`` below the
  fewest tasks the service may run stands in;
* with a managed database: its CPU, free storage and connections.

``errors`` and ``latency`` are the service's deployment alarms: ECS watches them during a
release and rolls it back when one fires (``deployment_alarm_names``).

Every metric, namespace and dimension set is one CloudWatch documents; ``DOCUMENTED_METRICS``
lists them with their sources, and the tests check each alarm (and the dashboard) against it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.settings import Settings

# Metrics and the dimension sets CloudWatch publishes them with, as documented:
# - AWS/ApplicationELB: Elastic Load Balancing user guide, "CloudWatch metrics for your
#   Application Load Balancer" (load-balancer-cloudwatch-metrics.html): RequestCount,
#   HTTPCode_ELB_5XX_Count, HTTPCode_Target_5XX_Count and TargetResponseTime by LoadBalancer
#   (and by LoadBalancer + TargetGroup); HealthyHostCount and UnHealthyHostCount only by
#   LoadBalancer + TargetGroup.
# - AWS/ECS: ECS developer guide, "Amazon ECS CloudWatch metrics" (available-metrics.html):
#   CPUUtilization and MemoryUtilization by ClusterName + ServiceName; no task counts.
# - ECS/ContainerInsights: CloudWatch user guide, "Amazon ECS Container Insights metrics"
#   (Container-Insights-metrics-ECS.html): RunningTaskCount, DesiredTaskCount and
#   PendingTaskCount by ClusterName + ServiceName, only with Container Insights on.
# - AWS/RDS: RDS user guide, "Amazon CloudWatch metrics for Amazon RDS"
#   (rds-metrics.html): CPUUtilization, FreeStorageSpace (bytes), DatabaseConnections by
#   DBInstanceIdentifier.
_ALB = ("LoadBalancer",)
_ALB_TG = ("LoadBalancer", "TargetGroup")
_SERVICE = ("ClusterName", "ServiceName")
DOCUMENTED_METRICS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "AWS/ApplicationELB": {
        "RequestCount": (_ALB, _ALB_TG),
        "HTTPCode_ELB_5XX_Count": (_ALB,),
        "HTTPCode_Target_5XX_Count": (_ALB, _ALB_TG),
        "TargetResponseTime": (_ALB, _ALB_TG),
        "HealthyHostCount": (_ALB_TG,),
        "UnHealthyHostCount": (_ALB_TG,),
    },
    "AWS/ECS": {
        "CPUUtilization": (_SERVICE,),
        "MemoryUtilization": (_SERVICE,),
    },
    "ECS/ContainerInsights": {
        "RunningTaskCount": (_SERVICE,),
        "DesiredTaskCount": (_SERVICE,),
        "PendingTaskCount": (_SERVICE,),
    },
    "AWS/RDS": {
        "CPUUtilization": (("DBInstanceIdentifier",),),
        "FreeStorageSpace": (("DBInstanceIdentifier",),),
        "DatabaseConnections": (("DBInstanceIdentifier",),),
    },
}

# Minutes CPU or memory must stay above alarms.highUtilization: long enough that autoscaling
# (cooldown 60 s) had its chance, short enough to call someone before requests time out.
HIGH_MINUTES = 5
GIB = 1024**3
# RDS for PostgreSQL's default max_connections: LEAST(DBInstanceClassMemory / 9531392, 5000)
# (RDS user guide, "Maximum number of database connections").
RDS_BYTES_PER_CONNECTION = 9531392
RDS_MAX_CONNECTIONS = 5000
# Memory in GiB of the RDS instance sizes, by family letter (RDS "DB instance classes"):
# burstable t and general-purpose m have 4 GiB per vCPU from large up, memory-optimized r 8.
_T_SIZES = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
_M_PER_XLARGE = 16
_R_PER_XLARGE = 32


def instance_memory_gib(instance_class: str) -> float | None:
    """Memory of an RDS instance class in GiB, for the common families; None if unknown."""
    match = re.match(r"^db\.([a-z])[0-9]+[a-z]*\.(\w+)$", instance_class)
    if not match:
        return None
    family, size = match.groups()
    if family == "t":
        return _T_SIZES.get(size)
    per_xlarge = {"m": _M_PER_XLARGE, "r": _R_PER_XLARGE}.get(family)
    if per_xlarge is None:
        return None
    if size == "large":
        return per_xlarge / 2
    multiple = re.match(r"^(\d*)xlarge$", size)
    return per_xlarge * int(multiple.group(1) or 1) if multiple else None


def default_max_connections(instance_class: str) -> int | None:
    """RDS PostgreSQL's default max_connections for a class (total memory as the estimate of
    DBInstanceClassMemory, which is a little less: the alarm fires a little late, never early)."""
    memory = instance_memory_gib(instance_class)
    if memory is None:
        return None
    return min(int(memory * GIB // RDS_BYTES_PER_CONNECTION), RDS_MAX_CONNECTIONS)


@dataclass
class ReleaseAlarmsArgs:
    settings: Settings
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Sequence[pulumi.Input[str]]
    """The service's target groups: one, or blue and green with blue-green deployments."""
    stack: str = field(default_factory=pulumi.get_stack)


@dataclass
class ServiceAlarmsArgs:
    settings: Settings
    topic_arn: pulumi.Input[str]
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: Sequence[pulumi.Input[str]]
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    database_id: pulumi.Input[str] | None = None
    """The managed database's instance identifier; None without one."""
    stack: str = field(default_factory=pulumi.get_stack)


def _metric_query(
    id_: str,
    namespace: str,
    metric: str,
    dimensions: dict[str, pulumi.Input[str]],
    stat: str,
    period: int = 60,
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """A metric an alarm's expression reads (``id_`` in the expression), not its value."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=id_,
        return_data=False,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            stat=stat,
            period=period,
        ),
    )


class _AlarmSet(pulumi.ComponentResource):
    """What both alarm components share: naming, notification and the metric helpers."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    alarm_arns: list[pulumi.Output[str]]

    def __init__(
        self,
        type_: str,
        name: str,
        args: ReleaseAlarmsArgs | ServiceAlarmsArgs,
        opts: pulumi.ResourceOptions | None,
    ):
        super().__init__(type_, name, None, opts)
        self._args = args
        self._topic_arn: pulumi.Input[str] = getattr(args, "topic_arn", "")
        self.alarms = {}

    def _add(
        self, purpose: str, args: aws.cloudwatch.MetricAlarmArgs, *, advisory: bool = False
    ) -> None:
        # Without a topic (alarms.enabled false) an alarm notifies nobody.
        topic = [self._topic_arn] if self._topic_arn else []
        if not topic:
            args.alarm_description = (
                f"{args.alarm_description} Off (alarms.enabled false): it notifies nobody and "
                f"rolls nothing back."
            )
        args.alarm_actions = topic
        # Advisory alarms tell of waste, not of an outage: no all-clear message needed.
        args.ok_actions = [] if advisory else topic
        args.tags = {"purpose": purpose, "severity": "advisory" if advisory else "danger"}
        self.alarms[purpose] = aws.cloudwatch.MetricAlarm(
            f"{self._args.stack}-{purpose}", args, pulumi.ResourceOptions(parent=self)
        )

    def _alb(self) -> dict[str, pulumi.Input[str]]:
        return {"LoadBalancer": self._args.load_balancer_arn_suffix}

    def _target_group_sum(
        self, metric: str, stat: str, period: int
    ) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
        """One query per target group and their sum as the alarm's value."""
        queries = [
            _metric_query(
                f"tg{i}",
                "AWS/ApplicationELB",
                metric,
                {**self._alb(), "TargetGroup": suffix},
                stat,
                period,
            )
            for i, suffix in enumerate(self._args.target_group_arn_suffixes)
        ]
        ids = ", ".join(f"tg{i}" for i in range(len(queries)))
        queries.append(
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="total",
                expression=f"SUM([{ids}])",
                label=f"{metric} of the service's target groups",
                return_data=True,
            )
        )
        return queries

    def _finish(self, extra: dict[str, object]) -> None:
        self.alarm_arns = [a.arn for a in self.alarms.values()]
        self.register_outputs({"alarm_arns": self.alarm_arns, **extra})


class ReleaseAlarms(_AlarmSet):
    """The SNS topic and the load balancer's alarms; made before the service, which rolls a
    release back on ``deployment_alarm_names``.

    With ``alarms.enabled`` false only the two deployment alarms remain, without a topic or
    actions: the service names them in a *disabled* deployment-alarms block. Turning alarms
    off must send that block (the AWS provider ignores a dropped one: terraform-provider-aws
    ``internal/service/ecs/service.go``, ``ResourceService``, ``alarms``), and the block needs
    at least one alarm name (aws-sdk-go-v2 ``service/ecs/validators.go``,
    ``validateDeploymentAlarms``, with the provider's ``expandAlarms`` sending no names for an
    empty list), so the names must be of alarms that exist."""

    topic_arn: pulumi.Output[str] | None
    deployment_alarm_names: list[pulumi.Output[str]]
    """The alarms a release is rolled back on: errors and latency."""

    def __init__(
        self, name: str, args: ReleaseAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate:alarms:ReleaseAlarms", name, args, opts)
        settings = args.settings.alarms
        child = pulumi.ResourceOptions(parent=self)
        self.topic_arn = None
        if settings.enabled:
            topic = aws.sns.Topic(f"{name}-topic", aws.sns.TopicArgs(), child)
            if settings.email:
                aws.sns.TopicSubscription(
                    f"{name}-email",
                    aws.sns.TopicSubscriptionArgs(
                        topic=topic.arn, protocol="email", endpoint=settings.email
                    ),
                    child,
                )
            self._topic_arn = self.topic_arn = topic.arn
        self._alarm_5xx_rate()
        self._alarm_latency()
        if settings.enabled:
            self._alarm_unhealthy_hosts()
        self.deployment_alarm_names = [self.alarms["errors"].name, self.alarms["latency"].name]
        self._finish(
            {"topic_arn": self.topic_arn, "deployment_alarm_names": self.deployment_alarm_names}
        )

    # --- the alarms ----------------------------------------------------------------------------

    def _alarm_5xx_rate(self) -> None:
        s = self._args.settings.alarms

        def count(id_: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return _metric_query(id_, "AWS/ApplicationELB", metric, self._alb(), "Sum")

        self._add(
            "errors",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"More than {s.error_rate} % of requests answered 5xx (by the app or the load "
                    f"balancer) for {s.evaluation_minutes} min. A release in progress is rolled "
                    f"back. Look at `python -m ops {self._args.stack} logs --since 15m`."
                ),
                comparison_operator="GreaterThanThreshold",
                threshold=s.error_rate,
                evaluation_periods=s.evaluation_minutes,
                datapoints_to_alarm=s.evaluation_minutes,
                # No requests, no data: nothing is failing.
                treat_missing_data="notBreaching",
                metric_queries=[
                    count("target5xx", "HTTPCode_Target_5XX_Count"),
                    count("elb5xx", "HTTPCode_ELB_5XX_Count"),
                    count("requests", "RequestCount"),
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="rate",
                        # The 5xx counts are absent (not 0) in a minute without errors.
                        expression=(
                            f"IF(requests >= {s.min_requests}, "
                            f"100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
                        ),
                        label="5xx responses, % of requests",
                        return_data=True,
                    ),
                ],
            ),
        )

    def _alarm_latency(self) -> None:
        s = self._args.settings.alarms
        self._add(
            "latency",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"The app's p99 response time is above {s.latency_p99} ms for "
                    f"{s.evaluation_minutes} min. A release in progress is rolled back."
                ),
                namespace="AWS/ApplicationELB",
                metric_name="TargetResponseTime",
                dimensions=self._alb(),
                extended_statistic="p99",
                period=60,
                comparison_operator="GreaterThanThreshold",
                # TargetResponseTime is in seconds.
                threshold=s.latency_p99 / 1000,
                evaluation_periods=s.evaluation_minutes,
                datapoints_to_alarm=s.evaluation_minutes,
                treat_missing_data="notBreaching",
                # A p99 over a handful of requests is one slow request, not a trend.
                evaluate_low_sample_count_percentiles="ignore",
            ),
        )

    def _alarm_unhealthy_hosts(self) -> None:
        s = self._args.settings.alarms
        self._add(
            "unhealthy-hosts",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"A task has failed the load balancer's health checks for "
                    f"{s.unhealthy_minutes} min. See `python -m ops {self._args.stack} events`."
                ),
                comparison_operator="GreaterThanThreshold",
                threshold=0,
                evaluation_periods=s.unhealthy_minutes,
                datapoints_to_alarm=s.unhealthy_minutes,
                treat_missing_data="notBreaching",
                metric_queries=self._target_group_sum("UnHealthyHostCount", "Maximum", 60),
            ),
        )


class ServiceAlarms(_AlarmSet):
    """The service's and the database's alarms; made after the service, whose name they watch."""

    def __init__(
        self, name: str, args: ServiceAlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate:alarms:ServiceAlarms", name, args, opts)
        self._args: ServiceAlarmsArgs = args
        self._alarm_utilization()
        self._alarm_tasks_below_desired()
        if args.database_id is not None:
            self._alarm_database()
        self._finish({})

    def _service(self) -> dict[str, pulumi.Input[str]]:
        return {"ClusterName": self._args.cluster_name, "ServiceName": self._args.service_name}

    def _alarm_utilization(self) -> None:
        s = self._args.settings.alarms
        # CPU as the average (what autoscaling holds); memory as the busiest task's, because
        # one task out of memory is killed whatever the others do.
        for resource, metric, high_stat in (
            ("cpu", "CPUUtilization", "Average"),
            ("memory", "MemoryUtilization", "Maximum"),
        ):
            self._add(
                f"{resource}-high",
                aws.cloudwatch.MetricAlarmArgs(
                    alarm_description=(
                        f"Service {resource} above {s.high_utilization} % ({high_stat.lower()} of "
                        f"the tasks) for {HIGH_MINUTES} min: requests slow down"
                        f"{' and tasks run out of memory' if resource == 'memory' else ''}. "
                        f"Raise scaling.maxCount or service.{resource}."
                    ),
                    namespace="AWS/ECS",
                    metric_name=metric,
                    dimensions=self._service(),
                    statistic=high_stat,
                    period=60,
                    comparison_operator="GreaterThanThreshold",
                    threshold=s.high_utilization,
                    evaluation_periods=HIGH_MINUTES,
                    datapoints_to_alarm=HIGH_MINUTES,
                    treat_missing_data="notBreaching",
                ),
            )
            self._add(
                f"{resource}-low",
                aws.cloudwatch.MetricAlarmArgs(
                    alarm_description=(
                        f"Advisory: service {resource} below {s.low_utilization} % on average for "
                        f"{s.waste_hours} h; you pay for idle capacity. Consider a smaller "
                        f"service.{resource} or fewer tasks (scaling.minCount)."
                    ),
                    namespace="AWS/ECS",
                    metric_name=metric,
                    dimensions=self._service(),
                    statistic="Average",
                    period=3600,
                    comparison_operator="LessThanThreshold",
                    threshold=s.low_utilization,
                    evaluation_periods=s.waste_hours,
                    datapoints_to_alarm=s.waste_hours,
                    treat_missing_data="notBreaching",
                ),
                advisory=True,
            )

    def _alarm_tasks_below_desired(self) -> None:
        s = self._args.settings
        minutes = s.alarms.unhealthy_minutes
        if s.service.container_insights:
            queries = [
                _metric_query(id_, "ECS/ContainerInsights", metric, self._service(), "Average")
                for id_, metric in (
                    ("desired", "DesiredTaskCount"),
                    ("running", "RunningTaskCount"),
                )
            ]
            queries.append(
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="missing",
                    expression="desired - running",
                    label="Tasks missing (desired - running)",
                    return_data=True,
                )
            )
            self._add(
                "tasks-below-desired",
                aws.cloudwatch.MetricAlarmArgs(
                    alarm_description=(
                        f"Fewer tasks run than the service wants, for {minutes} min (Container "
                        f"Insights). See `python -m ops {self._args.stack} events`."
                    ),
                    comparison_operator="GreaterThanThreshold",
                    threshold=0,
                    evaluation_periods=minutes,
                    datapoints_to_alarm=minutes,
                    treat_missing_data="notBreaching",
                    metric_queries=queries,
                ),
            )
            return
        floor = s.scaling.min_count if s.scaling.enabled else s.service.desired_count
        self._add(
            "tasks-below-desired",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"Fewer than {floor} healthy tasks behind the load balancer for {minutes} min "
                    f"(the fewest the service may run; AWS/ECS publishes no task count, and "
                    f"service.containerInsights is off). See `python -m ops {self._args.stack} events`."
                ),
                comparison_operator="LessThanThreshold",
                threshold=floor,
                evaluation_periods=minutes,
                datapoints_to_alarm=minutes,
                # No healthy host reported at all is the worst case, not a quiet one.
                treat_missing_data="breaching",
                metric_queries=self._target_group_sum("HealthyHostCount", "Minimum", 60),
            ),
        )

    def _storage_advice(self) -> str:
        """What to do when storage runs low: with autoscaling, raise its ceiling; without,
        the storage itself (RDS grows nothing on its own then)."""
        s = self._args.settings
        db = s.database
        head = f"Database free storage below {s.alarms.database_free_storage} GiB."
        if db.max_allocated_storage:
            return (
                f"{head} Storage autoscaling grows it up to database.maxAllocatedStorage "
                f"({db.max_allocated_storage} GiB): raise that ceiling."
            )
        return (
            f"{head} Storage autoscaling is off (database.maxAllocatedStorage 0): raise "
            f"database.allocatedStorage (now {db.allocated_storage} GiB), or turn autoscaling on."
        )

    def _alarm_database(self) -> None:
        s = self._args.settings
        db = s.database
        dims = {"DBInstanceIdentifier": self._args.database_id}
        common = {"namespace": "AWS/RDS", "dimensions": dims, "period": 300}
        self._add(
            "database-cpu",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"Database CPU above {s.alarms.database_cpu} % for 15 min ({db.instance_class})."
                    f" Look for slow queries, or raise database.instanceClass."
                ),
                metric_name="CPUUtilization",
                statistic="Average",
                comparison_operator="GreaterThanThreshold",
                threshold=s.alarms.database_cpu,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                treat_missing_data="notBreaching",
                **common,  # type: ignore[arg-type]
            ),
        )
        self._add(
            "database-storage",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=self._storage_advice(),
                metric_name="FreeStorageSpace",
                statistic="Minimum",
                comparison_operator="LessThanThreshold",
                threshold=s.alarms.database_free_storage * GIB,
                evaluation_periods=1,
                treat_missing_data="missing",
                **common,  # type: ignore[arg-type]
            ),
        )
        limit = default_max_connections(db.instance_class)
        if limit is None:
            pulumi.log.warn(
                f"alarms: no connections alarm for database.instanceClass {db.instance_class}: "
                f"its memory (and so its default max_connections) is not known here."
            )
            return
        threshold = max(1, limit * s.alarms.database_connections // 100)
        self._add(
            "database-connections",
            aws.cloudwatch.MetricAlarmArgs(
                alarm_description=(
                    f"Database connections above {threshold} ({s.alarms.database_connections} % "
                    f"of {db.instance_class}'s default max_connections {limit}) for 10 min. "
                    f"Lower service.workers x tasks, or the app's pool size."
                ),
                metric_name="DatabaseConnections",
                statistic="Maximum",
                comparison_operator="GreaterThanThreshold",
                threshold=threshold,
                evaluation_periods=2,
                datapoints_to_alarm=2,
                treat_missing_data="notBreaching",
                **common,  # type: ignore[arg-type]
            ),
        )
