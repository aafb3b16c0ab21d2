"""The ECS service that starts the app, keeps it running, replaces broken tasks and rolls out.

Creates the Fargate service (tasks spread over the zones' subnets, attached to the target
group, 100 %/200 % zero-downtime rollouts, circuit breaker with rollback, waiting for steady
state) and a ``RolloutCheck`` after it, so that ``pulumi up`` fails when ECS rolled the new
revision back. The service waits for the load balancer's listener (a target group without one
cannot take a service) and, when the release phase is on, for the migration run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster import capacity_strategy
from components.rollout_check import RolloutCheck, RolloutCheckArgs
from components.settings import Settings


@dataclass
class WebServiceArgs:
    settings: Settings
    cluster_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    task_definition_arn: pulumi.Input[str]
    container_name: str
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    assign_public_ip: bool
    target_group_arn: pulumi.Input[str]
    region: str
    account_id: pulumi.Input[str]
    """The account the AWS provider deploys to: the rollout check acts in no other."""
    wait_for: list[pulumi.Resource] = field(default_factory=list)
    """What must exist before the service changes: the serving listener, the migration run,
    the cluster's capacity providers."""


class WebService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service: aws.ecs.Service

    def __init__(self, name: str, args: WebServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:service:WebService", name, None, opts)
        settings = args.settings.service
        scaling = args.settings.scaling

        self.service = aws.ecs.Service(
            name,
            aws.ecs.ServiceArgs(
                cluster=args.cluster_arn,
                task_definition=args.task_definition_arn,
                desired_count=settings.desired_count,
                capacity_provider_strategies=capacity_strategy(settings.fargate_spot_percent),
                network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                    subnets=args.subnet_ids,
                    security_groups=[args.security_group_id],
                    assign_public_ip=args.assign_public_ip,
                ),
                load_balancers=[
                    aws.ecs.ServiceLoadBalancerArgs(
                        target_group_arn=args.target_group_arn,
                        container_name=args.container_name,
                        container_port=settings.container_port,
                    )
                ],
                health_check_grace_period_seconds=settings.health_check_grace_period,
                # New tasks start before old ones stop: capacity never drops during a rollout.
                deployment_minimum_healthy_percent=100,
                deployment_maximum_percent=200,
                deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                    enable=True, rollback=True
                ),
                # `pulumi up` reports the rollout's outcome instead of returning at once.
                wait_for_steady_state=True,
                availability_zone_rebalancing="ENABLED",
                propagate_tags="SERVICE",
                enable_ecs_managed_tags=True,
            ),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=args.wait_for,
                # Autoscaling owns the task count once the service exists; an update must not
                # reset it to desiredCount in the middle of a traffic peak.
                ignore_changes=["desired_count"] if scaling.enabled else [],
            ),
        )
        RolloutCheck(
            f"{name}-rollout-check",
            RolloutCheckArgs(
                cluster=args.cluster_name,
                service=self.service.name,
                task_definition_arn=args.task_definition_arn,
                region=args.region,
                account_id=args.account_id,
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )
        self.service_name = self.service.name
        self.register_outputs({"service_name": self.service_name})
