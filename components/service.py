"""The ECS service that starts the app, keeps it running, replaces broken tasks and rolls out.

Creates the Fargate service (tasks spread over the zones' subnets, attached to the target
group, 100 %/200 % zero-downtime rollouts, circuit breaker with rollback, waiting for steady
state) and a ``RolloutCheck`` after it, so that ``pulumi up`` fails when ECS rolled the new
revision back. The service waits for the load balancer's listener (a target group without one
cannot take a service) and, when the release phase is on, for the migration run.

With the stack's deployment alarms (``components/alarms.py``: 5xx rate and p99 latency), ECS also
rolls back a release whose tasks are healthy but answer errors. ``service.deploymentStrategy``
``blue-green`` uses ECS's native blue/green deployments instead of the rolling one: a production
listener rule that forwards to the blue and green target groups (ECS moves its weights), an
infrastructure role ECS assumes to do so, and a bake time during which an alarm moves traffic
back to the old tasks at once. With ``service.exec`` on, the service allows ECS Exec and the
task role gets the four ``ssmmessages`` actions the exec agent needs; off, neither exists.

Turning a setting off sends an explicit "off" (a ``ROLLING`` strategy, a disabled alarms
block), never a missing value: the AWS provider keeps what a live service has for inputs the
program stops sending (``plan.provider_rules``; docs/live-changes.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.cluster import capacity_strategy
from components.rollout_check import DEFAULT_TIMEOUT_SECONDS, RolloutCheck, RolloutCheckArgs
from components.settings import Settings

# ECS Exec's agent in the task opens its channels to Session Manager with these (ECS developer
# guide, "Monitor Amazon ECS containers with ECS Exec", IAM permissions required).
EXEC_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
# The AWS managed policy of ECS's infrastructure role for blue/green deployments (ECS developer
# guide, "Amazon ECS infrastructure IAM role for load balancers").
BLUE_GREEN_POLICY_ARN = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
# The AWS provider's own create/update timeout of an ECS service, in minutes.
SERVICE_TIMEOUT_MINUTES = 20
# Above any rule this stack makes: the production rule serves every path.
PRODUCTION_RULE_PRIORITY = 1


def exec_policy() -> str:
    """The task role's permissions for ECS Exec: only the Session Manager channels.

    ``Resource`` is ``*`` because AWS requires it: the ``ssmmessages`` actions support no
    resource types (Service Authorization Reference, "Actions, resources, and condition keys
    for Amazon Session Manager Message Gateway Service"), and the ECS developer guide's ECS
    Exec policy uses ``*``.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(EXEC_ACTIONS), "Resource": "*"}],
        }
    )


def infrastructure_trust_policy() -> str:
    """Trust ECS itself (not its tasks) to assume the blue/green infrastructure role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


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
    deployment_alarm_names: Sequence[pulumi.Input[str]] = ()
    """Alarms that roll a release back (the 5xx rate and latency)."""
    deployment_alarms_enabled: bool = True
    """False (alarms.enabled false): the service names the alarms in a disabled block."""
    task_role_name: pulumi.Input[str] | None = None
    """The task role, which gets the ECS Exec permissions when service.exec is on."""
    listener_arn: pulumi.Input[str] | None = None
    """Blue-green: the serving listener, where the production rule goes."""
    alternate_target_group_arn: pulumi.Input[str] | None = None
    """Blue-green: the green target group."""


class WebService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service: aws.ecs.Service

    def __init__(self, name: str, args: WebServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:service:WebService", name, None, opts)
        settings = args.settings.service
        scaling = args.settings.scaling

        child = pulumi.ResourceOptions(parent=self)
        wait_for = list(args.wait_for)
        exec_enabled = args.settings.exec_enabled
        if exec_enabled:
            if args.task_role_name is None:
                raise ValueError("WebServiceArgs needs task_role_name with service.exec on")
            # Before the service: the exec agent starts with the task and needs them then.
            wait_for.append(
                aws.iam.RolePolicy(
                    f"{name}-exec",
                    aws.iam.RolePolicyArgs(role=args.task_role_name, policy=exec_policy()),
                    child,
                )
            )
        advanced = None
        # Always explicit: `deployment_configuration` and its `strategy` are Optional +
        # Computed in the provider (terraform-provider-aws internal/service/ecs/service.go,
        # ResourceService), so a service left without them keeps BLUE_GREEN after a switch back
        # to rolling, while the same update deletes the green target group and the production
        # rule blue/green needs. The bake time is Optional + Computed too, and the provider's
        # update sends the kept one with any strategy (resourceServiceUpdate): rolling sends 0.
        strategy = aws.ecs.ServiceDeploymentConfigurationArgs(
            strategy="ROLLING", bake_time_in_minutes="0"
        )
        rollout_bake_seconds = 0
        if settings.deployment_strategy == "blue-green":
            rollout_bake_seconds = settings.bake_time * 60
            advanced, production_rule = self._blue_green(name, args)
            wait_for.append(production_rule)
            strategy = aws.ecs.ServiceDeploymentConfigurationArgs(
                strategy="BLUE_GREEN", bake_time_in_minutes=str(settings.bake_time)
            )
        # Alarms off is an explicit disabled block, never a missing one: the provider
        # suppresses the removal of the block (ResourceService, alarms:
        # SuppressMissingOptionalConfigurationBlock), which would leave ECS watching alarms.
        # It names the kept deployment alarms (see ReleaseAlarms: a block needs a name).
        deployment_alarms = None
        alarm_watch_seconds = 0
        watched = args.deployment_alarms_enabled and bool(args.deployment_alarm_names)
        if args.deployment_alarm_names:
            deployment_alarms = aws.ecs.ServiceAlarmsArgs(
                alarm_names=list(args.deployment_alarm_names), enable=watched, rollback=watched
            )
        if watched:
            # With deployment alarms ECS keeps the deployment IN_PROGRESS after the last old
            # task stopped, watching the alarms for a bake time it derives from their periods
            # (ECS developer guide, "How CloudWatch alarms detect Amazon ECS deployment
            # failures"); wait_for_steady_state returns before that, so the check waits it out.
            alarm_watch_seconds = args.settings.alarms.evaluation_minutes * 60

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
                        advanced_configuration=advanced,
                    )
                ],
                health_check_grace_period_seconds=settings.health_check_grace_period,
                # New tasks start before old ones stop: capacity never drops during a rollout.
                deployment_minimum_healthy_percent=100,
                deployment_maximum_percent=200,
                deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                    enable=True, rollback=True
                ),
                # A release whose tasks are healthy but answer errors or slowly is rolled back
                # too, not only one whose tasks crash.
                alarms=deployment_alarms,
                deployment_configuration=strategy,
                enable_execute_command=exec_enabled,
                # The provider refuses to change the capacity provider strategy (service.
                # fargateSpotPercent) of an existing service without it
                # (capacityProviderStrategyCustomizeDiff), and the new strategy only applies
                # to new tasks anyway. The cost: any update of the service starts a deployment.
                force_new_deployment=True,
                # `pulumi up` reports the rollout's outcome instead of returning at once.
                wait_for_steady_state=True,
                availability_zone_rebalancing="ENABLED",
                propagate_tags="SERVICE",
                enable_ecs_managed_tags=True,
            ),
            pulumi.ResourceOptions(
                parent=self,
                depends_on=wait_for,
                # Autoscaling owns the task count once the service exists; an update must not
                # reset it to desiredCount in the middle of a traffic peak.
                ignore_changes=["desired_count"] if scaling.enabled else [],
                custom_timeouts=self._timeouts(rollout_bake_seconds),
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
                alarm_names=list(args.deployment_alarm_names) if watched else [],
                # Blue/green keeps the deployment IN_PROGRESS through its bake time, and
                # deployment alarms through their own watch.
                timeout_seconds=(
                    DEFAULT_TIMEOUT_SECONDS + rollout_bake_seconds + alarm_watch_seconds
                ),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
        )
        self.service_name = self.service.name
        self.register_outputs({"service_name": self.service_name})

    @staticmethod
    def _timeouts(bake_seconds: int) -> pulumi.CustomTimeouts | None:
        """The provider's 20-minute create/update timeouts (terraform-provider-aws
        ``internal/service/ecs/service.go`` ``resourceService``, ``Timeouts``) plus the bake
        time: a provider that waits for the service deployment's own status
        (``findDeploymentStatus``) waits out a blue/green bake, and a long bake would then fail
        the update of a healthy release."""
        if not bake_seconds:
            return None
        minutes = f"{SERVICE_TIMEOUT_MINUTES + bake_seconds // 60}m"
        return pulumi.CustomTimeouts(create=minutes, update=minutes)

    def _blue_green(
        self, name: str, args: WebServiceArgs
    ) -> tuple[aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs, aws.lb.ListenerRule]:
        """The production listener rule and ECS's infrastructure role (ECS developer guide,
        "Application Load Balancer resources for blue/green deployments")."""
        if args.listener_arn is None or args.alternate_target_group_arn is None:
            raise ValueError(
                "WebServiceArgs needs listener_arn and alternate_target_group_arn for blue-green"
            )
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-blue-green",
            aws.iam.RoleArgs(
                assume_role_policy=infrastructure_trust_policy(),
                description="Lets ECS move traffic between the blue and green target groups.",
            ),
            child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-blue-green",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=BLUE_GREEN_POLICY_ARN),
            child,
        )
        rule = aws.lb.ListenerRule(
            f"{name}-production",
            aws.lb.ListenerRuleArgs(
                listener_arn=args.listener_arn,
                priority=PRODUCTION_RULE_PRIORITY,
                # Forward only: ECS refuses rules that mix forward with other action types.
                actions=[
                    aws.lb.ListenerRuleActionArgs(
                        type="forward",
                        forward=aws.lb.ListenerRuleActionForwardArgs(
                            target_groups=[
                                aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                                    arn=args.target_group_arn, weight=100
                                ),
                                aws.lb.ListenerRuleActionForwardTargetGroupArgs(
                                    arn=args.alternate_target_group_arn, weight=0
                                ),
                            ]
                        ),
                    )
                ],
                conditions=[
                    aws.lb.ListenerRuleConditionArgs(
                        path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=["/*"])
                    )
                ],
            ),
            # ECS moves the weights on every release; Pulumi must not move them back.
            pulumi.ResourceOptions(
                parent=self, ignore_changes=["actions"], depends_on=[attachment]
            ),
        )
        return (
            aws.ecs.ServiceLoadBalancerAdvancedConfigurationArgs(
                alternate_target_group_arn=args.alternate_target_group_arn,
                production_listener_rule=rule.arn,
                role_arn=role.arn,
            ),
            rule,
        )
