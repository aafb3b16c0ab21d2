"""Security groups and their rules, written one way for the load balancer and the database.

Creates, as children of the calling component: ``aws.ec2.SecurityGroup`` without inline rules
(the provider then removes AWS's default allow-all egress on create, and the separate rule
resources are the whole truth), and ``aws.vpc.SecurityGroupIngressRule``/``EgressRule``
resources, one per rule, so a change to one rule never rewrites the others. Traffic between two
groups needs a rule on each side: the sender's egress and the receiver's ingress, each naming
the other group.
"""

from __future__ import annotations

from typing import Literal

import pulumi
import pulumi_aws as aws


def security_group(
    name: str, vpc_id: pulumi.Input[str], description: str, opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """A group without inline rules, tagged with its resource name."""
    return aws.ec2.SecurityGroup(
        name,
        aws.ec2.SecurityGroupArgs(vpc_id=vpc_id, description=description, tags={"Name": name}),
        opts=opts,
    )


def rule(
    direction: Literal["in", "out"],
    name: str,
    group_id: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    port: int | None = None,
    cidr_ipv4: str | None = None,
    peer_group_id: pulumi.Input[str] | None = None,
) -> aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule:
    """One rule of ``group_id``: TCP on ``port``, or every protocol without one, to or from an
    IPv4 range or another group."""
    ports = {"ip_protocol": "tcp", "from_port": port, "to_port": port} if port else {}
    args = {
        "security_group_id": group_id,
        "ip_protocol": "-1",
        **ports,
        "cidr_ipv4": cidr_ipv4,
        "referenced_security_group_id": peer_group_id,
        "description": description,
    }
    if direction == "in":
        return aws.vpc.SecurityGroupIngressRule(
            name, aws.vpc.SecurityGroupIngressRuleArgs(**args), opts=opts
        )
    return aws.vpc.SecurityGroupEgressRule(
        name, aws.vpc.SecurityGroupEgressRuleArgs(**args), opts=opts
    )


def connect(
    sender: tuple[str, pulumi.Input[str], str],
    receiver: tuple[str, pulumi.Input[str], str],
    port: int,
    opts: pulumi.ResourceOptions,
) -> tuple[aws.vpc.SecurityGroupEgressRule, aws.vpc.SecurityGroupIngressRule]:
    """TCP on ``port`` from one group to another: the sender's egress rule and the receiver's
    ingress rule. ``sender`` and ``receiver`` are each (rule resource name, group id, rule
    description)."""
    out_name, sender_id, out_description = sender
    in_name, receiver_id, in_description = receiver
    egress = rule(
        "out", out_name, sender_id, out_description, opts, port=port, peer_group_id=receiver_id
    )
    ingress = rule(
        "in", in_name, receiver_id, in_description, opts, port=port, peer_group_id=sender_id
    )
    return egress, ingress  # type: ignore[return-value]
