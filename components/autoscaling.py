"""Replication that follows the load: Application Auto Scaling for the ECS service.

Creates a scalable target (minCount..maxCount tasks) and target-tracking policies: average CPU
always, average memory and ALB requests per task when their settings are set. Target tracking
adds tasks quickly and removes them slowly (the cooldowns), holding utilization near the target
so the stack pays for headroom, not for idle tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import ScalingSettings


@dataclass
class AutoscalingArgs:
    settings: ScalingSettings
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    load_balancer_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]


class Autoscaling(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate:autoscaling:Autoscaling", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        target = aws.appautoscaling.Target(
            f"{name}-target",
            aws.appautoscaling.TargetArgs(
                service_namespace="ecs",
                scalable_dimension="ecs:service:DesiredCount",
                resource_id=pulumi.Output.concat(
                    "service/", args.cluster_name, "/", args.service_name
                ),
                min_capacity=settings.min_count,
                max_capacity=settings.max_count,
            ),
            child,
        )
        metrics: list[tuple[str, str, float, pulumi.Input[str] | None]] = [
            ("cpu", "ECSServiceAverageCPUUtilization", settings.cpu_target, None)
        ]
        if settings.memory_target:
            metrics.append(
                ("memory", "ECSServiceAverageMemoryUtilization", settings.memory_target, None)
            )
        if settings.requests_per_target:
            label = pulumi.Output.concat(
                args.load_balancer_arn_suffix, "/", args.target_group_arn_suffix
            )
            metrics.append(
                ("requests", "ALBRequestCountPerTarget", settings.requests_per_target, label)
            )
        for metric, predefined, value, label in metrics:
            aws.appautoscaling.Policy(
                f"{name}-{metric}",
                aws.appautoscaling.PolicyArgs(
                    policy_type="TargetTrackingScaling",
                    service_namespace=target.service_namespace,
                    scalable_dimension=target.scalable_dimension,
                    resource_id=target.resource_id,
                    target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=float(value),
                        predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                            predefined_metric_type=predefined, resource_label=label
                        ),
                        scale_out_cooldown=settings.scale_out_cooldown,
                        scale_in_cooldown=settings.scale_in_cooldown,
                    ),
                ),
                child,
            )
        self.register_outputs({})
