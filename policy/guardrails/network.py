"""Guardrails for who can reach what: the internet reaches only the web ports, tasks only the ALB.

* ``no-world-open-ports``: no security group rule opens a port other than 80 and 443 to the whole
  internet (0.0.0.0/0 or ::/0), in any of the three ways pulumi-aws offers to write one (inline
  ``ingress`` blocks, ``aws.vpc.SecurityGroupIngressRule``, ``aws.ec2.SecurityGroupRule``);
* ``tasks-only-from-load-balancer`` (stack): the security groups of every ECS service admit
  traffic only from the security group of a load balancer: no CIDR range, prefix list or
  ``self`` source, so a task is never reachable around the ALB's TLS and header checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .props import (
    ECS_SERVICE,
    INGRESS_RULE,
    LEGACY_RULE,
    LOAD_BALANCER_TYPES,
    SECURITY_GROUP,
    identities,
    items,
    known,
    label,
    number,
    of_type,
    referenced,
    shown,
)

WORLD = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})


def _world_sources(*cidr_lists: Any) -> list[str]:
    return sorted({c for cidrs in cidr_lists for c in items(cidrs) if c in WORLD})


def _port_range(protocol: Any, from_port: Any, to_port: Any) -> tuple[str, bool]:
    """The ports a rule opens, as text, and whether that is exactly TCP 80 or TCP 443."""
    proto = str(protocol).lower()
    if proto in {"-1", "all"}:
        return "every port and protocol", False
    low, high = number(from_port), number(to_port)
    if low is None or high is None:
        return f"{proto} (ports unset)", False
    ports = shown(low) if low == high else f"{shown(low)}-{shown(high)}"
    # One port each: a range like 80-443 would open everything between them too.
    return f"{proto} {ports}", proto in {"tcp", "6"} and low == high and int(low) in WEB_PORTS


def world_open_rules(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(ports, sources) of each rule of this resource open to the internet on a non-web port."""
    rules: list[tuple[Any, Any, Any, list[str]]] = []
    if resource_type == SECURITY_GROUP:
        for block in items(props.get("ingress")):
            if isinstance(block, Mapping):
                world = _world_sources(block.get("cidrBlocks"), block.get("ipv6CidrBlocks"))
                rules.append(
                    (block.get("protocol"), block.get("fromPort"), block.get("toPort"), world)
                )
    elif resource_type == INGRESS_RULE:
        world = _world_sources(props.get("cidrIpv4"), props.get("cidrIpv6"))
        rules.append((props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"), world))
    elif resource_type == LEGACY_RULE and props.get("type") == "ingress":
        world = _world_sources(props.get("cidrBlocks"), props.get("ipv6CidrBlocks"))
        rules.append((props.get("protocol"), props.get("fromPort"), props.get("toPort"), world))
    found = []
    for protocol, low, high, world in rules:
        if not world:
            continue
        ports, only_web = _port_range(protocol, low, high)
        if not only_web:
            found.append((ports, ", ".join(world)))
    return found


def check_world_open(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for ports, sources in world_open_rules(args.resource_type, args.props):
        report(
            f"{label(args.resource_type, args.name)} opens {ports} to the whole internet "
            f"({sources}). Only a load balancer's 80 and 443 may be public. Fix: admit a security "
            f"group instead (referenced_security_group_id, source_security_group_id or "
            f"security_groups), or a narrow CIDR range you own; reach tasks through the load "
            f"balancer and instances through SSM Session Manager.",
            None,
        )


no_world_open_ports = ResourceValidationPolicy(
    name="no-world-open-ports",
    description="No security group opens a port other than 80 and 443 to 0.0.0.0/0 or ::/0.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_world_open,
)


# --- tasks-only-from-load-balancer (stack) -----------------------------------------------------


def _inline_sources(block: Mapping[str, Any], alb_groups: list[PolicyResource]) -> list[str]:
    """What an inline ingress block admits other than a load balancer's group."""
    bad = [str(c) for c in items(block.get("cidrBlocks")) + items(block.get("ipv6CidrBlocks"))]
    bad += [f"prefix list {p}" for p in items(block.get("prefixListIds"))]
    if block.get("self"):
        bad.append("itself (self = true)")
    alb_ids = set().union(*(identities(g) for g in alb_groups))
    bad += [f"security group {g}" for g in items(block.get("securityGroups")) if g not in alb_ids]
    return bad


def _rule_sources(rule: PolicyResource, alb_groups: list[PolicyResource]) -> list[str]:
    """What a separate ingress rule admits other than a load balancer's group."""
    props = rule.props
    if rule.resource_type == INGRESS_RULE:
        cidrs = [props.get("cidrIpv4"), props.get("cidrIpv6")]
        prefixes = items(props.get("prefixListId"))
        source_key = "referencedSecurityGroupId"
    else:
        cidrs = items(props.get("cidrBlocks")) + items(props.get("ipv6CidrBlocks"))
        prefixes = items(props.get("prefixListIds"))
        source_key = "sourceSecurityGroupId"
    bad = [str(c) for c in cidrs if c] + [f"prefix list {p}" for p in prefixes]
    if props.get("self"):
        bad.append("itself (self = true)")
    if not bad and not referenced(rule, source_key, alb_groups):
        source = props.get(source_key)
        bad.append(f"security group {source}" if source else "an unnamed source")
    return bad


def task_ingress_problems(resources: list[PolicyResource]) -> list[tuple[str, str]]:
    """(message, urn) for every way into an ECS service's tasks that is not the load balancer."""
    groups = of_type(resources, SECURITY_GROUP)
    alb_groups = [
        g
        for alb in of_type(resources, LOAD_BALANCER_TYPES)
        for g in referenced(alb, "securityGroups", groups)
    ]
    rules = [
        r
        for r in of_type(resources, [INGRESS_RULE, LEGACY_RULE])
        if r.resource_type == INGRESS_RULE or r.props.get("type") == "ingress"
    ]
    problems = []
    for service in of_type(resources, ECS_SERVICE):
        network = service.props.get("networkConfiguration")
        if not isinstance(network, Mapping):
            continue
        task_groups = referenced(
            service, "networkConfiguration", groups, known(network, "securityGroups")
        )
        for group in task_groups:
            name = label(group.resource_type, group.name)
            for block in items(group.props.get("ingress")):
                if not isinstance(block, Mapping):
                    continue
                for source in _inline_sources(block, alb_groups):
                    problems.append(
                        (
                            f"{name}, a security group of the tasks of ECS service "
                            f"'{service.name}', admits {source} in an inline ingress block. Tasks "
                            f"must take traffic only from the load balancer. Fix: remove the "
                            f"block and admit only the load balancer's security group.",
                            group.urn,
                        )
                    )
            for rule in rules:
                if not referenced(rule, "securityGroupId", [group]):
                    continue
                for source in _rule_sources(rule, alb_groups):
                    problems.append(
                        (
                            f"{label(rule.resource_type, rule.name)} lets {source} into {name}, "
                            f"a security group of the tasks of ECS service '{service.name}'. Tasks "
                            f"must take traffic only from the load balancer. Fix: delete the rule, "
                            f"or make its source the load balancer's security group "
                            f"(referenced_security_group_id).",
                            rule.urn,
                        )
                    )
    return problems


def check_task_ingress(args: StackValidationArgs, report: ReportViolation) -> None:
    for message, urn in task_ingress_problems(list(args.resources)):
        report(message, urn)


tasks_only_from_load_balancer = StackValidationPolicy(
    name="tasks-only-from-load-balancer",
    description="ECS tasks take traffic only from a load balancer's security group.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_task_ingress,
)

POLICIES = [no_world_open_ports, tasks_only_from_load_balancer]
