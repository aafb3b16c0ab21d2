"""Guardrails for operating what runs: releases roll back on errors, never drop to zero, no shell.

* ``ecs-service-keeps-healthy-tasks`` (every stack): a rollout may never take the service to
  zero healthy tasks. ECS keeps desiredCount x deploymentMinimumHealthyPercent / 100 tasks
  running, "rounded up to the nearest integer" (ECS API reference, DeploymentConfiguration,
  minimumHealthyPercent), so a product below 1 but above 0 still keeps one task; only a
  minimum of 0 % lets ECS stop every old task before a new one is healthy.
* ``production-deployment-alarms``: on production stacks every ECS service has deployment
  alarms, enabled and with rollback, so a release whose tasks are healthy but answer errors is
  rolled back by ECS, not only one whose tasks crash;
* ``production-no-exec``: on production stacks no ECS service allows ECS Exec
  (``enableExecuteCommand``): anyone with ``ecs:ExecuteCommand`` would get a shell next to the
  app's secrets. The program turns it off there unless ``service.exec`` says on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from . import props as stack
from .props import ECS_SERVICE, items, label, number, shown

# ECS's default when a service sets no minimum healthy percent (replica services).
AWS_DEFAULT_MINIMUM_HEALTHY_PERCENT = 100


def minimum_healthy_tasks(desired: float, minimum_percent: float) -> int:
    """The tasks ECS keeps healthy during a rollout: desired x percent / 100, rounded up."""
    return math.ceil(desired * minimum_percent / 100)


def check_keeps_healthy_tasks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE:
        return
    desired = number(args.props.get("desiredCount"))
    if desired is None or desired < 1:
        return  # nothing runs, nothing to keep
    minimum = number(args.props.get("deploymentMinimumHealthyPercent"))
    percent = AWS_DEFAULT_MINIMUM_HEALTHY_PERCENT if minimum is None else minimum
    if minimum_healthy_tasks(desired, percent) >= 1:
        return
    report(
        f"{label(args.resource_type, args.name)} may take the app to zero healthy tasks in a "
        f"rollout: {shown(desired)} task(s) x deployment_minimum_healthy_percent {shown(percent)} "
        f"% = {shown(desired * percent / 100)}, so ECS may stop every old task before a new one "
        f"is healthy, and every request fails meanwhile. Fix: set "
        f"deployment_minimum_healthy_percent to 100 (with deployment_maximum_percent 200, as this "
        f"project does), or at least so that desired count x percent / 100 is 1 or more.",
        None,
    )


ecs_service_keeps_healthy_tasks = ResourceValidationPolicy(
    name="ecs-service-keeps-healthy-tasks",
    description="No rollout may take an ECS service to zero healthy tasks.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_keeps_healthy_tasks,
)


def check_deployment_alarms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE or not stack.is_production():
        return
    alarms = args.props.get("alarms")
    alarms = alarms if isinstance(alarms, Mapping) else {}
    if (
        alarms.get("enable") is True
        and alarms.get("rollback") is True
        and items(alarms.get("alarmNames"))
    ):
        return
    report(
        f"{label(args.resource_type, args.name)} has no deployment alarms with rollback on a "
        f"production stack, so a release whose tasks are healthy but answer errors stays "
        f"deployed. Fix: set alarms={{alarm_names: [the 5xx rate and latency alarms], enable: "
        f"True, rollback: True}} (in this project `pulumi config set --path alarms.enabled true`).",
        None,
    )


production_deployment_alarms = ResourceValidationPolicy(
    name="production-deployment-alarms",
    description="On production stacks, ECS services roll a release back when an alarm fires.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_deployment_alarms,
)


def check_no_exec(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE or not stack.is_production():
        return
    if args.props.get("enableExecuteCommand") is not True:
        return
    report(
        f"{label(args.resource_type, args.name)} allows ECS Exec on a production stack: anyone "
        f"with ecs:ExecuteCommand gets a shell in a running task, next to the app's secrets. "
        f"Fix: set enable_execute_command=False (in this project `pulumi config set --path "
        f"service.exec auto`, which is off for production).",
        None,
    )


production_no_exec = ResourceValidationPolicy(
    name="production-no-exec",
    description="On production stacks, no ECS service allows a shell into its tasks (ECS Exec).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_no_exec,
)

POLICIES = [ecs_service_keeps_healthy_tasks, production_deployment_alarms, production_no_exec]
