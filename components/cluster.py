"""The ECS cluster the service and the migration task run in.

Creates the cluster (Container Insights as a setting) and associates the FARGATE and
FARGATE_SPOT capacity providers with it. The cluster has no default strategy: the service names
its own (``capacity_strategy``, the one place the Spot share becomes weights) and the migration
task runs with launch type FARGATE, so a default would be used by nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import ServiceSettings


def capacity_strategy(spot_percent: int) -> list[aws.ecs.ServiceCapacityProviderStrategyArgs]:
    """FARGATE and FARGATE_SPOT weights for a Spot share of the tasks."""
    if spot_percent in (0, 100):
        provider = "FARGATE" if spot_percent == 0 else "FARGATE_SPOT"
        return [aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider=provider, weight=1)]
    divisor = math.gcd(100 - spot_percent, spot_percent)
    return [
        # base=1: with a mixed share one task always stays on demand, so a Spot reclaim
        # never takes every task at once.
        aws.ecs.ServiceCapacityProviderStrategyArgs(
            capacity_provider="FARGATE", weight=(100 - spot_percent) // divisor, base=1
        ),
        aws.ecs.ServiceCapacityProviderStrategyArgs(
            capacity_provider="FARGATE_SPOT", weight=spot_percent // divisor
        ),
    ]


@dataclass
class ClusterArgs:
    settings: ServiceSettings


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    capacity_providers: aws.ecs.ClusterCapacityProviders
    """The service must wait for this: a strategy naming an unassociated provider fails."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:cluster:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster = aws.ecs.Cluster(
            name,
            aws.ecs.ClusterArgs(
                settings=[
                    aws.ecs.ClusterSettingArgs(
                        name="containerInsights",
                        value="enabled" if args.settings.container_insights else "disabled",
                    )
                ]
            ),
            child,
        )
        self.capacity_providers = aws.ecs.ClusterCapacityProviders(
            f"{name}-capacity",
            aws.ecs.ClusterCapacityProvidersArgs(
                cluster_name=cluster.name,
                capacity_providers=["FARGATE", "FARGATE_SPOT"],
            ),
            child,
        )
        self.cluster_name = cluster.name
        self.cluster_arn = cluster.arn
        self.register_outputs({"cluster_name": self.cluster_name, "cluster_arn": self.cluster_arn})
