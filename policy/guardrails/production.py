"""Guardrails for production stacks only: redundancy, protection and no shortcuts.

A stack is production when its ``fastapi-fargate:production`` setting is true, or when it is
named prod or production (``props.is_production``). On other stacks these policies pass.

* ``production-high-availability``: every ECS service runs at least 2 tasks in at least 2
  subnets (one per availability zone in this project), so one failed task or zone is no outage;
* ``production-deletion-protection``: load balancers and RDS instances refuse deletion;
* ``production-private-tasks``: tasks get no public IP (``network.nat`` none puts them in public
  subnets; production uses NAT and private subnets);
* ``production-real-domain`` (stack): the load balancer serves HTTPS on a real domain, and no
  plain-HTTP listener forwards to the app. ``alb-serves-https-only`` and
  ``http-listener-redirects-to-https`` say the same for every stack; this one holds even if a
  stack's config waives them (a first try without a domain);
* ``production-load-balancer-access-logs``: application load balancers write access logs (to
  S3), the record of who called what that an incident starts from;
* ``production-vpc-flow-logs`` (stack): every VPC the stack creates has a flow log
  (``aws.ec2.FlowLog`` on it) recording accepted and rejected traffic; a VPC the stack only
  uses (``network.vpcId``) is its owner's to log;
* ``production-waf`` (stack, advisory): each internet-facing application load balancer has a
  WAF web ACL (``aws.wafv2.WebAclAssociation`` on it): managed rules against common exploits
  and a per-client rate limit before requests reach the app. Advisory: it costs money per rule
  and per request, and the app's own limits (``api.admission``) still hold without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import props as stack
from .edge import https_problems, is_https_redirect, listener_protocol
from .props import (
    ECS_SERVICE,
    FLOW_LOG,
    LISTENER_TYPES,
    LOAD_BALANCER_TYPES,
    RDS_INSTANCE,
    VPC,
    WEB_ACL_ASSOCIATION,
    items,
    label,
    number,
    of_type,
    referenced,
    shown,
)

MIN_TASKS = 2
MIN_SUBNETS = 2


def check_high_availability(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE or not stack.is_production():
        return
    name = label(args.resource_type, args.name)
    desired = number(args.props.get("desiredCount"))
    if desired is None or desired < MIN_TASKS:
        report(
            f"{name} runs {shown(desired)} task(s) on a production stack; one failure takes the "
            f"app down. Fix: run at least {MIN_TASKS} (in this project `pulumi config set --path "
            f"service.desiredCount {MIN_TASKS}` and `pulumi config set --path scaling.minCount "
            f"{MIN_TASKS}`).",
            None,
        )
    network = args.props.get("networkConfiguration")
    subnets = items(network.get("subnets")) if isinstance(network, Mapping) else []
    if len(subnets) < MIN_SUBNETS:
        report(
            f"{name} places its tasks in {len(subnets)} subnet(s) on a production stack, so one "
            f"availability zone's outage stops them all. Fix: give it subnets in at least "
            f"{MIN_SUBNETS} zones (in this project `pulumi config set --path "
            f"network.availabilityZones {MIN_SUBNETS}`, or 2+ network.privateSubnetIds).",
            None,
        )


production_high_availability = ResourceValidationPolicy(
    name="production-high-availability",
    description="On production stacks, ECS services run 2+ tasks across 2+ availability zones.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_high_availability,
)


def check_deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    protectable = args.resource_type in LOAD_BALANCER_TYPES or args.resource_type == RDS_INSTANCE
    if not protectable or not stack.is_production():
        return
    name = label(args.resource_type, args.name)
    if args.resource_type in LOAD_BALANCER_TYPES:
        if args.props.get("enableDeletionProtection") is not True:
            report(
                f"{name} can be deleted on a production stack, taking the public endpoint and its "
                f"DNS name with it. Fix: set enable_deletion_protection=True (in this project "
                f"`pulumi config set --path loadBalancer.deletionProtection true`).",
                None,
            )
    elif args.resource_type == RDS_INSTANCE and args.props.get("deletionProtection") is not True:
        report(
            f"{name} can be deleted on a production stack, and its data with it. Fix: set "
            f"deletion_protection=True (this project does so on production stacks: "
            f"`pulumi config set production true`).",
            None,
        )


production_deletion_protection = ResourceValidationPolicy(
    name="production-deletion-protection",
    description="On production stacks, load balancers and databases refuse deletion.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_deletion_protection,
)


def check_private_tasks(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECS_SERVICE or not stack.is_production():
        return
    network = args.props.get("networkConfiguration")
    if isinstance(network, Mapping) and network.get("assignPublicIp") is True:
        report(
            f"{label(args.resource_type, args.name)} gives its tasks public IPs on a production "
            f"stack: they run in public subnets, one security group rule away from the internet. "
            f"Fix: run them in private subnets behind NAT (`pulumi config set --path network.nat per-az`) "
            f"and set assign_public_ip=False.",
            None,
        )


production_private_tasks = ResourceValidationPolicy(
    name="production-private-tasks",
    description="On production stacks, tasks run in private subnets without public IPs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_private_tasks,
)


def check_real_domain(args: StackValidationArgs, report: ReportViolation) -> None:
    if not stack.is_production():
        return
    resources = list(args.resources)
    for message, urn in https_problems(resources):
        report(f"On a production stack: {message}", urn)
    for listener in of_type(resources, LISTENER_TYPES):
        if listener_protocol(listener.props) != "HTTP":
            continue
        if all(is_https_redirect(a) for a in items(listener.props.get("defaultActions"))):
            continue
        report(
            f"On a production stack: {label(listener.resource_type, listener.name)} serves the app "
            f"over plain HTTP. Fix: `pulumi config set --path https.domain api.example.com` and "
            f"`pulumi config set --path https.hostedZone example.com`, so this listener only "
            f"redirects to HTTPS.",
            listener.urn,
        )


production_real_domain = StackValidationPolicy(
    name="production-real-domain",
    description="On production stacks, the app is served over HTTPS on a real domain only.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_real_domain,
)


def _is_application_load_balancer(props: Mapping[str, Any]) -> bool:
    return (props.get("loadBalancerType") or "application") == "application"


def check_access_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LOAD_BALANCER_TYPES or not stack.is_production():
        return
    if not _is_application_load_balancer(args.props):
        return
    logs = args.props.get("accessLogs")
    if isinstance(logs, Mapping) and logs.get("enabled") is True and logs.get("bucket"):
        return
    report(
        f"{label(args.resource_type, args.name)} writes no access logs on a production stack: "
        f"after an incident nothing says who called what, from where, with which answer. Fix: "
        f"`pulumi config set --path loadBalancer.accessLogs true` (an S3 bucket of the stack "
        f"receives them).",
        None,
    )


production_load_balancer_access_logs = ResourceValidationPolicy(
    name="production-load-balancer-access-logs",
    description="On production stacks, application load balancers write access logs.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_access_logs,
)


def check_flow_logs(args: StackValidationArgs, report: ReportViolation) -> None:
    if not stack.is_production():
        return
    resources = list(args.resources)
    flow_logs = of_type(resources, FLOW_LOG)
    for vpc in of_type(resources, VPC):
        if any(referenced(log, "vpcId", [vpc]) for log in flow_logs):
            continue
        report(
            f"On a production stack: {label(vpc.resource_type, vpc.name)} has no flow log, so "
            f"nothing records the connections made to and from the tasks and the database "
            f"(accepted or rejected). Fix: turn on the stack's VPC flow logs (in this project "
            f"`pulumi config set --path network.flowLogs true`; otherwise an aws.ec2.FlowLog "
            f"with vpc_id of this VPC and traffic_type ALL, delivered to CloudWatch Logs or S3).",
            vpc.urn,
        )


production_vpc_flow_logs = StackValidationPolicy(
    name="production-vpc-flow-logs",
    description="On production stacks, every VPC the stack creates has a flow log.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_flow_logs,
)


def check_waf(args: StackValidationArgs, report: ReportViolation) -> None:
    if not stack.is_production():
        return
    resources = list(args.resources)
    associations = of_type(resources, WEB_ACL_ASSOCIATION)
    for balancer in of_type(resources, LOAD_BALANCER_TYPES):
        props = balancer.props
        if not _is_application_load_balancer(props) or props.get("internal") is True:
            continue
        if any(referenced(a, "resourceArn", [balancer]) for a in associations):
            continue
        report(
            f"On a production stack: {label(balancer.resource_type, balancer.name)} faces the "
            f"internet without a WAF web ACL: known exploit patterns and a single client's flood "
            f"reach the app. Fix: associate a wafv2 web ACL with AWS's managed common and "
            f"known-bad-inputs rule groups and a per-IP rate rule (in this project `pulumi "
            f"config set --path loadBalancer.waf on`; otherwise an aws.wafv2.WebAclAssociation "
            f"with resource_arn of this load balancer).",
            balancer.urn,
        )


production_waf = StackValidationPolicy(
    name="production-waf",
    description="On production stacks, internet-facing load balancers have a WAF web ACL.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=check_waf,
)

POLICIES = [
    production_high_availability,
    production_deletion_protection,
    production_private_tasks,
    production_real_domain,
    production_load_balancer_access_logs,
    production_vpc_flow_logs,
    production_waf,
]
