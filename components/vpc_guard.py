"""What the VPC records and refuses: flow logs, and a default security group with no rules.

``VpcGuard`` creates:

* with flow logs on (``network.flowLogs``; always for production): a CloudWatch log group kept
  ``network.flowLogRetentionDays`` days, an IAM role only the VPC Flow Logs service of this
  account may assume (the confused-deputy conditions of the VPC user guide, "IAM role for
  publishing flow logs to CloudWatch Logs"), allowed to write to that one log group, and a flow
  log of ALL traffic (accepted and rejected) of the VPC. It waits for the role's policy, so
  delivery works from the first record. Security Hub EC2.6 / CIS 3.7 ask for it: without flow
  logs nobody can tell afterwards what talked to what;
* for a VPC the stack creates: its default security group, adopted with no rule at all
  (``aws.ec2.DefaultSecurityGroup``: the provider removes every rule when it adopts it and
  shows any rule added later as drift). Nothing of the stack uses that group; a resource
  someone launches into the VPC without naming a group lands in it and can reach nothing and
  be reached by nothing (Security Hub EC2.2 / CIS 5.4). ``pulumi destroy`` leaves the group
  (it goes with the VPC). An existing VPC's (``network.vpcId``) is left alone: other
  workloads there may rely on its rules.

Flow logs cost CloudWatch's vended-log ingestion (0.50 USD per GB in us-east-1, March 2026) and
storage; the offline plan estimates them (``plan/cost.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import Settings

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
# What the service calls to deliver (VPC user guide, "IAM role for publishing flow logs to
# CloudWatch Logs"): the writes are scoped to the one log group below.
WRITE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]


def flow_logs_trust_policy(account_id: str, region: str) -> str:
    """Only the VPC Flow Logs service, for flow logs of this account and region."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": FLOW_LOGS_SERVICE},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/*"
                        },
                    },
                }
            ],
        }
    )


def flow_logs_write_policy(log_group_arn: str, account_id: str, region: str) -> str:
    """Write to ``log_group_arn``'s streams, and nothing else; see the module docstring.

    ``DescribeLogGroups`` cannot be narrowed to one group (it lists); it shows names and
    settings of this account's groups in this region, never their events.
    """
    group = log_group_arn.removesuffix(":*")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteTheFlowLogGroup",
                    "Effect": "Allow",
                    "Action": WRITE_ACTIONS,
                    "Resource": [group, f"{group}:*"],
                },
                {
                    "Sid": "FindTheGroup",
                    "Effect": "Allow",
                    "Action": ["logs:DescribeLogGroups"],
                    "Resource": f"arn:aws:logs:{region}:{account_id}:log-group:*",
                },
            ],
        }
    )


@dataclass(frozen=True)
class VpcGuardArgs:
    settings: Settings
    vpc_id: pulumi.Input[str]
    account_id: str
    region: str


class VpcGuard(pulumi.ComponentResource):
    """Flow logs and the closed default security group; see the module docstring."""

    flow_log_group_name: pulumi.Output[str] | None
    """Where the flow logs go; None with flow logs off."""

    def __init__(
        self, name: str, args: VpcGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:vpc_guard:VpcGuard", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.flow_log_group_name = None
        if settings.flow_logs:
            log_group = aws.cloudwatch.LogGroup(
                f"{name}-flow-logs",
                aws.cloudwatch.LogGroupArgs(
                    retention_in_days=settings.network.flow_log_retention_days
                ),
                child,
            )
            role = aws.iam.Role(
                f"{name}-flow-logs",
                aws.iam.RoleArgs(
                    assume_role_policy=flow_logs_trust_policy(args.account_id, args.region),
                    description="Lets VPC Flow Logs write the VPC's flow logs to one log group.",
                ),
                child,
            )
            policy = aws.iam.RolePolicy(
                f"{name}-flow-logs",
                aws.iam.RolePolicyArgs(
                    role=role.name,
                    policy=log_group.arn.apply(
                        lambda arn: flow_logs_write_policy(arn, args.account_id, args.region)
                    ),
                ),
                child,
            )
            aws.ec2.FlowLog(
                f"{name}-flow-log",
                aws.ec2.FlowLogArgs(
                    vpc_id=args.vpc_id,
                    traffic_type="ALL",
                    log_destination_type="cloud-watch-logs",
                    log_destination=log_group.arn,
                    iam_role_arn=role.arn,
                    # AWS's default: one record per flow per 10 minutes; 60 s would multiply
                    # the records, and the bill, for detail an investigation rarely needs.
                    max_aggregation_interval=600,
                    tags={"Name": f"{name}-flow-log"},
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            self.flow_log_group_name = log_group.name
        if not settings.network.existing:
            aws.ec2.DefaultSecurityGroup(
                f"{name}-default-sg",
                aws.ec2.DefaultSecurityGroupArgs(
                    vpc_id=args.vpc_id,
                    # Explicitly none: the provider then removes AWS's default rules (all
                    # traffic within the group in, everything out) and keeps them removed.
                    ingress=[],
                    egress=[],
                    tags={"Name": f"{name}-default-no-rules"},
                ),
                child,
            )
        self.register_outputs({"flow_log_group_name": self.flow_log_group_name})
