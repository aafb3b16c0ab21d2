"""Reading resources the way the Pulumi engine hands them to a policy.

The engine passes a resource's properties under their Pulumi names in camelCase
(``dropInvalidHeaderFields``), wrapped in read-only proxies that are ``Mapping`` and ``Sequence``
but not ``dict`` and ``list``, with every number as a float (``443.0``) and JSON documents
(container definitions, IAM policies) as strings. During a preview a value that depends on a
resource not yet created is unknown, and reading it raises ``UnknownValueError``: the policy SDK
then reports that the policy could not run in preview, and it runs again in the update with the
real value. So nothing here catches that error, except where a value is only a second way to
find a link that the engine's dependency records already give (see ``refers_to``).

Also here: which stacks are production (``is_production``) or the HTTP-only first try
(``http_only_first_try``), and the resource types the policies look at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

# The program's project; its `production` setting marks a production stack.
PROJECT = "fastapi-fargate"
# A stack with one of these names gets the production rules even if the engine does not pass
# the stack's config to the pack (older CLIs), so a prod stack can never skip them silently.
PRODUCTION_STACK_NAMES = frozenset({"prod", "production"})

# pulumi-aws offers the load balancer resources under two names (aws:alb is the older alias).
LOAD_BALANCER_TYPES = frozenset(
    {"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"}
)
LISTENER_TYPES = frozenset({"aws:lb/listener:Listener", "aws:alb/listener:Listener"})
LISTENER_RULE_TYPES = frozenset(
    {"aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule"}
)
TARGET_GROUP_TYPES = frozenset(
    {"aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup"}
)
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
RDS_INSTANCE = "aws:rds/instance:Instance"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"


def is_production_stack(flag: Any, stack: str | None) -> bool:
    """Whether a stack is production: its ``production`` setting, or a production name."""
    if flag is not None and str(flag).strip().lower() == "true":
        return True
    return stack is not None and stack.lower() in PRODUCTION_STACK_NAMES


def is_production() -> bool:
    """Whether the stack under analysis is production.

    The pack cannot import the program's settings; it reads the same setting instead: the
    engine hands the analyzer the stack's config and stack name, as it does a program.
    """
    try:
        stack = pulumi.get_stack()
    except Exception:  # not configured (outside the engine): no stack name to go by
        stack = None
    return is_production_stack(pulumi.runtime.get_config(f"{PROJECT}:production"), stack)


def http_only_first_try() -> bool:
    """Whether the stack under analysis is the program's HTTP-only first try: not production,
    and its settings name no ``https.domain``, so the load balancer serves plain HTTP on its
    own DNS name by design. The CLI merges the declared default (``""``) into the stack's
    ``https`` object, so the engine always hands it over; without it (outside the engine) the
    answer is no, and the HTTPS rules stay strict.
    """
    if is_production():
        return False
    raw = pulumi.runtime.get_config(f"{PROJECT}:https")
    if raw is None:
        return False
    try:
        https = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return False
    return isinstance(https, Mapping) and not str(https.get("domain") or "").strip()


def number(value: Any) -> float | None:
    """A number the engine passed (always a float), or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def config_number(config: Mapping[str, Any], key: str, default: float) -> float:
    """A number from a policy's config; the default when unset (the engine fills in schema
    defaults, a direct call does not)."""
    value = number(config.get(key))
    return default if value is None else value


def shown(value: float | None) -> str:
    """A number as people write it: 443, not 443.0."""
    if value is None:
        return "(unset)"
    return str(int(value)) if value == int(value) else str(value)


def items(value: Any) -> list[Any]:
    """A list property as a list; a missing one as []. A lone mapping or string is one item."""
    if value is None:
        return []
    if isinstance(value, str | Mapping):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def json_document(value: Any) -> Any:
    """A JSON property (a string in the engine's view, sometimes already parsed); None if invalid."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def containers(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The container definitions of a task definition's properties."""
    parsed = json_document(props.get("containerDefinitions"))
    return [c for c in items(parsed) if isinstance(c, Mapping)]


def environment(container: Mapping[str, Any]) -> dict[str, str]:
    """A container's plain environment variables, by name."""
    return {
        str(e.get("name")): str(e.get("value", ""))
        for e in items(container.get("environment"))
        if isinstance(e, Mapping) and e.get("name") is not None
    }


def label(resource_type: str, name: str) -> str:
    """How a message names a resource: its short type and its Pulumi name."""
    return f"{resource_type.rsplit(':', 1)[-1]} '{name}'"


def known(props: Mapping[str, Any], key: str) -> Any:
    """A property's value, or None while it is unknown. Only for matching ids and ARNs."""
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _known_strings(value: Any) -> set[str]:
    try:
        return {v for v in items(value) if isinstance(v, str)}
    except UnknownValueError:
        return set()


def identities(resource: PolicyResource) -> set[str]:
    """The values other resources may use to refer to this one: its id and ARN, when known."""
    return _known_strings([known(resource.props, "id"), known(resource.props, "arn")])


def refers_to(
    resource: PolicyResource, key: str, target: PolicyResource, value: Any = None
) -> bool:
    """Whether ``resource``'s property ``key`` refers to ``target``.

    First by the engine's record of which resources a property was computed from (known even in
    a preview, before ids exist); then by value, for ids and ARNs written as literals. ``value``
    is the part of the property that holds the reference, when the property is a structure
    (``networkConfiguration.securityGroups``); by default the whole property.
    """
    if any(d.urn == target.urn for d in resource.property_dependencies.get(key, [])):
        return True
    values = _known_strings(known(resource.props, key) if value is None else value)
    return bool(values & identities(target))


def referenced(
    resource: PolicyResource,
    key: str,
    candidates: Iterable[PolicyResource],
    value: Any = None,
) -> list[PolicyResource]:
    """The ``candidates`` that ``resource``'s property ``key`` (or ``value`` in it) refers to."""
    return [c for c in candidates if refers_to(resource, key, c, value)]


def of_type(
    resources: Iterable[PolicyResource], types: str | Iterable[str]
) -> list[PolicyResource]:
    wanted = {types} if isinstance(types, str) else set(types)
    return [r for r in resources if r.resource_type in wanted]
