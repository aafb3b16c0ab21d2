"""What the AWS provider does with a changed input on a live stack, ported from its source.

Rendering a stack twice (before and after a settings change) gives two sets of inputs per
resource. What ``pulumi up`` then asks AWS to do is not their difference: pulumi-aws bridges
terraform-provider-aws, and its schema decides. This module ports the parts of that schema the
program's inputs run into, each cited (hashicorp/terraform-provider-aws, file and function):

* ``ForceNew``: a changed input replaces the resource (delete and create) instead of updating it;
  one table, ``SCHEMAS``, which ``plan.motion`` reads for its replacement warnings too;
* Optional + Computed: an input the program stops sending keeps whatever AWS has (the provider
  plans "no change" for an omitted Optional + Computed attribute);
* ``DiffSuppressFunc``: a change the provider hides, so AWS is never asked to make it;
* ``CustomizeDiff`` refusals: a change the provider's plan refuses outright;
* sets: inputs compared without their order;
* read-back: what AWS hands back differs from what was sent (RDS reports a storage ceiling
  equal to the allocated storage as no ceiling at all).

``predict`` answers for one resource: no change, update in place (which inputs), replace
(because of which inputs), or refused, with the state the resource has afterwards and what was
suppressed or kept. ``predict_plans`` does it for two whole plans, and follows replacements:
a replaced resource gets new ids and ARNs, so every input that names it changes too (a
replaced VPC replaces its subnets and security groups).

No resource is created here; nothing here imports the rest of the plan but its document shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plan.types import short_type

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "(absent)"})()
ALL = frozenset({"*"})
"""``force_new`` of a resource whose every input replaces it (except its ``in_place`` ones)."""

LOOKED_UP = "(looked up in AWS: "
"""How the plan shows a value the program reads from AWS before creating anything."""

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
LISTENER = "aws:lb/listener:Listener"
RDS_INSTANCE = "aws:rds/instance:Instance"


@dataclass(frozen=True)
class Suppress:
    """A ``DiffSuppressFunc`` (or equivalent): the provider plans no change for ``input``."""

    input: str
    applies: Callable[[Any, Any, Mapping[str, Any]], bool]
    """(value in the state, value in the program, the program's other inputs) -> suppressed."""
    source: str


@dataclass(frozen=True)
class Refuse:
    """A ``CustomizeDiff`` that fails the plan for a change of ``input``."""

    input: str
    applies: Callable[[Any, Any, Mapping[str, Any]], bool]
    message: str
    source: str


@dataclass(frozen=True)
class Schema:
    """What the provider's schema says about the inputs the program sets on one type."""

    source: str
    """File and function of the resource's schema in terraform-provider-aws."""
    force_new: frozenset[str] = frozenset()
    """Inputs (Pulumi's camelCase names) whose change replaces the resource; ``ALL``: every one
    but ``in_place``. A dotted path (``deploymentController.type``) is a nested field."""
    in_place: frozenset[str] = frozenset()
    optional_computed: frozenset[str] = frozenset()
    """Inputs (dotted paths into nested blocks) that, left out, keep what AWS has."""
    suppress: tuple[Suppress, ...] = ()
    refuse: tuple[Refuse, ...] = ()
    sets: frozenset[str] = frozenset()
    """Inputs compared as sets (``TypeSet``): their order means nothing."""
    read_back: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """What AWS reports back for these inputs, where it differs from what was sent."""


def _rds_read_back(inputs: dict[str, Any]) -> dict[str, Any]:
    # internal/service/rds/instance.go, resourceInstanceUpdate: "The API expects the max
    # allocated storage value to be set to the allocated storage value when disabling
    # autoscaling"; RDS then reports no MaxAllocatedStorage, which the read sets as 0.
    out = dict(inputs)
    if out.get("maxAllocatedStorage") and out.get("maxAllocatedStorage") == out.get(
        "allocatedStorage"
    ):
        out["maxAllocatedStorage"] = 0
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _missing_block(old: Any, new: Any, _: Mapping[str, Any]) -> bool:
    # internal/verify/diff.go, SuppressMissingOptionalConfigurationBlock: `old == "1" && new ==
    # "0"` on the block's count: a block the configuration drops is not removed.
    return old is not ABSENT and old is not None and (new is ABSENT or new is None)


def _storage_ceiling_off(old: Any, new: Any, inputs: Mapping[str, Any]) -> bool:
    # internal/service/rds/instance.go, ResourceInstance, max_allocated_storage:
    # `old == "0" && new == allocated_storage` is suppressed.
    return (
        _int(old or 0) == 0
        and new is not ABSENT
        and _int(new) == _int(inputs.get("allocatedStorage"))
    )


def _storage_shrink_with_autoscaling(old: Any, new: Any, inputs: Mapping[str, Any]) -> bool:
    # internal/service/rds/instance.go, ResourceInstance, allocated_storage: "Allocated is
    # higher than the configuration and autoscaling is enabled": `oldInt > newInt && mas >
    # newInt` is suppressed.
    o, n, mas = _int(old), _int(new), _int(inputs.get("maxAllocatedStorage") or 0)
    return o is not None and n is not None and mas is not None and o > n and mas > n


def _alarms_without_names(old: Any, new: Any, _: Mapping[str, Any]) -> bool:
    # internal/service/ecs/service.go, expandAlarms sets AlarmNames only for a non-empty set,
    # and aws-sdk-go-v2 service/ecs/validators.go, validateDeploymentAlarms, refuses a nil one.
    return isinstance(new, Mapping) and not new.get("alarmNames")


def _major_lower(old: Any, new: Any, _: Mapping[str, Any]) -> bool:
    o, n = _int(str(old).split(".")[0]), _int(str(new).split(".")[0])
    return o is not None and n is not None and n < o


def _storage_lower(old: Any, new: Any, _: Mapping[str, Any]) -> bool:
    o, n = _int(old), _int(new)
    return o is not None and n is not None and n < o


def _capacity_strategy_without_force(old: Any, new: Any, inputs: Mapping[str, Any]) -> bool:
    # internal/service/ecs/service.go, capacityProviderStrategyCustomizeDiff: an existing
    # service whose capacity_provider_strategy changes needs force_new_deployment = true.
    return not inputs.get("forceNewDeployment")


def _not_alb_listener(old: Any, new: Any, inputs: Mapping[str, Any]) -> bool:
    # internal/service/elbv2/listener.go, ResourceListener: the response-header attributes
    # carry suppressIfListenerProtocolNot(HTTP, HTTPS).
    return inputs.get("protocol") not in ("HTTP", "HTTPS")


_RDS = "internal/service/rds/instance.go, ResourceInstance"
_ECS_SERVICE = "internal/service/ecs/service.go, ResourceService"
_LISTENER = "internal/service/elbv2/listener.go, ResourceListener"

SCHEMAS: dict[str, Schema] = {
    RDS_INSTANCE: Schema(
        source=_RDS,
        force_new=frozenset(
            {
                "availabilityZone",
                "characterSetName",
                "customIamInstanceProfile",
                "dbName",
                "engine",
                "identifier",
                "identifierPrefix",
                "kmsKeyId",
                "ncharCharacterSetName",
                "restoreToPointInTime",
                "s3Import",
                "snapshotIdentifier",
                "storageEncrypted",
                "timezone",
                "username",
            }
        ),
        optional_computed=frozenset(
            {"allocatedStorage", "backupRetentionPeriod", "multiAz", "port", "storageType"}
        ),
        suppress=(
            Suppress(
                "maxAllocatedStorage",
                _storage_ceiling_off,
                f"{_RDS}, max_allocated_storage DiffSuppressFunc (0 and allocated_storage are "
                "both 'no storage autoscaling')",
            ),
            Suppress(
                "allocatedStorage",
                _storage_shrink_with_autoscaling,
                f"{_RDS}, allocated_storage DiffSuppressFunc (storage never shrinks while "
                "autoscaling is on: a lower value is ignored)",
            ),
        ),
        refuse=(
            # AWS, not the provider: the RDS API ModifyDBInstance takes EngineVersion as "the
            # version number of the database engine to upgrade to"; RDS has no downgrade.
            Refuse(
                "engineVersion",
                _major_lower,
                "RDS upgrades an engine, never downgrades it",
                "RDS API reference, ModifyDBInstance, EngineVersion",
            ),
            # AWS: AllocatedStorage "must be at least 10% greater than the current value"
            # (a lower value with autoscaling on never reaches AWS: suppressed above).
            Refuse(
                "allocatedStorage",
                _storage_lower,
                "RDS storage grows, it never shrinks",
                "RDS API reference, ModifyDBInstance, AllocatedStorage",
            ),
        ),
        sets=frozenset({"vpcSecurityGroupIds"}),
        read_back=_rds_read_back,
    ),
    # internal/service/elbv2/load_balancer.go, ResourceLoadBalancer.
    "aws:lb/loadBalancer:LoadBalancer": Schema(
        source="internal/service/elbv2/load_balancer.go, ResourceLoadBalancer",
        force_new=frozenset(
            {"customerOwnedIpv4Pool", "internal", "loadBalancerType", "name", "namePrefix"}
        ),
        sets=frozenset({"securityGroups", "subnets"}),
    ),
    "aws:lb/targetGroup:TargetGroup": Schema(
        source="internal/service/elbv2/target_group.go, ResourceTargetGroup",
        force_new=frozenset(
            {
                "ipAddressType",
                "name",
                "namePrefix",
                "port",
                "protocol",
                "protocolVersion",
                "targetType",
                "vpcId",
            }
        ),
    ),
    LISTENER: Schema(
        source=_LISTENER,
        force_new=frozenset({"loadBalancerArn"}),
        # Optional + Computed, so leaving the header out keeps it on the listener
        # (hashicorp/terraform-provider-aws issue #43042, open).
        optional_computed=frozenset({"routingHttpResponseStrictTransportSecurityHeaderValue"}),
        suppress=(
            Suppress(
                "routingHttpResponseStrictTransportSecurityHeaderValue",
                _not_alb_listener,
                f"{_LISTENER}, suppressIfListenerProtocolNot(HTTP, HTTPS)",
            ),
        ),
    ),
    "aws:acm/certificate:Certificate": Schema(
        source="internal/service/acm/certificate.go, resourceCertificate",
        force_new=frozenset(
            {
                "certificateAuthorityArn",
                "domainName",
                "keyAlgorithm",
                "subjectAlternativeNames",
                "validationMethod",
                "validationOptions",
            }
        ),
        sets=frozenset({"subjectAlternativeNames"}),
    ),
    # A changed type or set_identifier is a delete and create inside one update, not a
    # replacement.
    "aws:route53/record:Record": Schema(
        source="internal/service/route53/record.go, resourceRecord",
        force_new=frozenset({"name", "zoneId"}),
    ),
    SERVICE: Schema(
        source=_ECS_SERVICE,
        # deployment_controller.type lost its ForceNew: resourceServiceUpdate sends
        # DeploymentController on a change.
        force_new=frozenset({"cluster", "iamRole", "launchType", "name", "schedulingStrategy"}),
        optional_computed=frozenset(
            {
                "availabilityZoneRebalancing",
                "platformVersion",
                "deploymentConfiguration",
                "deploymentConfiguration.strategy",
                "deploymentConfiguration.bakeTimeInMinutes",
            }
        ),
        suppress=(
            Suppress(
                "alarms",
                _missing_block,
                f"{_ECS_SERVICE}, alarms: verify.SuppressMissingOptionalConfigurationBlock",
            ),
            Suppress(
                "deploymentCircuitBreaker",
                _missing_block,
                f"{_ECS_SERVICE}, deployment_circuit_breaker: "
                "verify.SuppressMissingOptionalConfigurationBlock",
            ),
        ),
        refuse=(
            Refuse(
                "alarms",
                _alarms_without_names,
                "missing required field, UpdateServiceInput.DeploymentConfiguration.Alarms."
                "AlarmNames",
                "internal/service/ecs/service.go, expandAlarms; aws-sdk-go-v2 "
                "service/ecs/validators.go, validateDeploymentAlarms",
            ),
            Refuse(
                "capacityProviderStrategies",
                _capacity_strategy_without_force,
                "force_new_deployment should be true when capacity_provider_strategy is being "
                "updated",
                "internal/service/ecs/service.go, capacityProviderStrategyCustomizeDiff",
            ),
        ),
        sets=frozenset(
            {
                "capacityProviderStrategies",
                "loadBalancers",
                "networkConfiguration.subnets",
                "networkConfiguration.securityGroups",
                "alarms.alarmNames",
            }
        ),
    ),
    # Every argument of a task definition is ForceNew except these: any other change
    # registers a new revision.
    TASK_DEFINITION: Schema(
        source="internal/service/ecs/task_definition.go, ResourceTaskDefinition",
        force_new=ALL,
        in_place=frozenset({"skipDestroy", "tags", "trackLatest"}),
    ),
    "aws:ec2/vpc:Vpc": Schema(
        source="internal/service/ec2/vpc_.go, resourceVPCCustomizeDiff (cidr_block)",
        force_new=frozenset({"cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"}),
    ),
    "aws:ec2/subnet:Subnet": Schema(
        source="internal/service/ec2/vpc_subnet.go, resourceSubnet",
        force_new=frozenset(
            {
                "availabilityZone",
                "availabilityZoneId",
                "cidrBlock",
                "ipv4IpamPoolId",
                "ipv4NetmaskLength",
                "ipv6Native",
                "outpostArn",
                "vpcId",
            }
        ),
    ),
    "aws:ec2/securityGroup:SecurityGroup": Schema(
        source="internal/service/ec2/vpc_security_group.go, resourceSecurityGroup",
        force_new=frozenset({"description", "name", "namePrefix", "vpcId"}),
    ),
    # Added with issue 25/26's resources. Each entry is the schema's ForceNew arguments the program
    # can send (Pulumi's camelCase names), read in the cited file.
    "aws:rds/parameterGroup:ParameterGroup": Schema(
        # family, name, name_prefix and description are ForceNew; parameter is a TypeSet
        # (parameterHash: name, apply_method, value) whose changes resourceParameterGroupUpdate
        # applies in place (ModifyDBParameterGroup) and whose removals it resets
        # (ResetDBParameterGroup).
        source="internal/service/rds/parameter_group.go, resourceParameterGroup",
        force_new=frozenset({"description", "family", "name", "namePrefix"}),
        sets=frozenset({"parameters"}),
    ),
    # Every argument but tags is ForceNew: resourceLogFlowUpdate is "Tags only".
    "aws:ec2/flowLog:FlowLog": Schema(
        source="internal/service/ec2/vpc_flow_log.go, resourceFlowLog",
        force_new=ALL,
        in_place=frozenset({"tags"}),
    ),
    "aws:cloudwatch/logGroup:LogGroup": Schema(
        source="internal/service/logs/group.go, resourceGroup",
        force_new=frozenset({"logGroupClass", "name", "namePrefix"}),
    ),
    # DeleteWithoutTimeout is schema.NoopContext: a deleted default group only leaves the state,
    # its rules stay as the program last set them. ingress and egress are sets.
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": Schema(
        source="internal/service/ec2/vpc_default_security_group.go, resourceDefaultSecurityGroup",
        force_new=frozenset({"vpcId"}),
        sets=frozenset({"ingress", "egress"}),
    ),
    # rule is a TypeSet; name, name_prefix and scope are ForceNew; the rest is UpdateWebACL.
    "aws:wafv2/webAcl:WebAcl": Schema(
        source="internal/service/wafv2/web_acl.go, resourceWebACL",
        force_new=frozenset({"name", "namePrefix", "scope"}),
        sets=frozenset({"rules"}),
    ),
    # No Update at all: both arguments are ForceNew.
    "aws:wafv2/webAclAssociation:WebAclAssociation": Schema(
        source="internal/service/wafv2/web_acl_association.go, resourceWebACLAssociation",
        force_new=frozenset({"resourceArn", "webAclArn"}),
    ),
    # name and name_prefix are ForceNew; recovery_window_in_days is only read by
    # resourceSecretDelete (0: ForceDeleteWithoutRecovery).
    "aws:secretsmanager/secret:Secret": Schema(
        source="internal/service/secretsmanager/secret.go, resourceSecret",
        force_new=frozenset({"name", "namePrefix"}),
    ),
    # policy is put in place (resourceRepositoryPolicyPut is Create and Update); repository
    # is ForceNew.
    "aws:ecr/repositoryPolicy:RepositoryPolicy": Schema(
        source="internal/service/ecr/repository_policy.go, resourceRepositoryPolicy",
        force_new=frozenset({"repository"}),
    ),
    "aws:iam/role:Role": Schema(
        source="internal/service/iam/role.go, ResourceRole",
        force_new=frozenset({"name", "namePrefix", "path"}),
        sets=frozenset({"managedPolicyArns"}),
    ),
    # role is ForceNew: a policy follows its role when the role is replaced.
    "aws:iam/rolePolicy:RolePolicy": Schema(
        source="internal/service/iam/role_policy.go, resourceRolePolicy",
        force_new=frozenset({"name", "namePrefix", "role"}),
    ),
    # terraform-provider-random internal/provider/resource_id.go, NewIdResource: every
    # argument (keepers, byte_length, prefix) RequiresReplace.
    "random:index/randomId:RandomId": Schema(
        source="hashicorp/terraform-provider-random internal/provider/resource_id.go",
        force_new=ALL,
    ),
}

# Why a replacement of these hurts, in the words of the plan's warning.
HOLDS_WHAT: dict[str, str] = {
    RDS_INSTANCE: "it holds the database: the new instance starts empty (RDS "
    "takes a final snapshot first unless skipFinalSnapshot is set; restoring it is by hand)",
    "aws:lb/loadBalancer:LoadBalancer": "its DNS name is where users' traffic goes: the new load "
    "balancer gets a new name, and requests fail until DNS follows it",
    "aws:acm/certificate:Certificate": "HTTPS depends on it: the new certificate must be "
    "validated again before the listener can use it",
    "aws:route53/record:Record": "it is a name users type: between the delete and the create "
    "the name does not resolve",
}


def holds_what(type_: str, inputs: Mapping[str, Any]) -> str:
    """Why replacing this resource hurts users, or "" when it does not: only alias records
    carry a name users type (a certificate's validation CNAME is for ACM alone)."""
    if type_ == "aws:route53/record:Record" and not inputs.get("aliases"):
        return ""
    return HOLDS_WHAT.get(type_, "")


# Types whose changes this module does not model: components (no inputs of their own) and
# providers that are not the AWS bridge. A change to them counts as an update.
_UNMODELLED_PREFIXES = ("fastapi-fargate:", "pulumi-python:dynamic", "docker:", "pulumi:")


@dataclass(frozen=True)
class Finding:
    """An input whose change the provider does not carry out as the program asks."""

    input: str
    asked: Any
    result: Any
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "asked": None if self.asked is ABSENT else self.asked,
            "stays": None if self.result is ABSENT else self.result,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Prediction:
    """What the provider does with one resource when the program goes from before to after."""

    key: str
    name: str
    type: str
    action: str
    """"create", "delete", "none", "update", "replace" or "refused"."""
    updated: tuple[str, ...] = ()
    """Inputs AWS is asked to change (top-level names)."""
    replaced_by: tuple[str, ...] = ()
    suppressed: tuple[Finding, ...] = ()
    """Inputs the program changed that the provider does not send: AWS keeps its value."""
    kept: tuple[Finding, ...] = ()
    """Optional + Computed inputs the program stopped sending: AWS keeps its value."""
    refused: tuple[Finding, ...] = ()
    cascaded: tuple[str, ...] = ()
    """Inputs that change only because a resource they name is replaced."""
    state: dict[str, Any] = field(default_factory=dict)
    """The inputs as AWS has them after the update (absent after a delete)."""

    @property
    def silent(self) -> tuple[Finding, ...]:
        """What the program asked for that will not happen."""
        return self.suppressed + self.kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.name,
            "type": self.type,
            "action": self.action,
            "updated": list(self.updated),
            "replaced_by": list(self.replaced_by),
            "no_change_on_aws": [f.as_dict() for f in self.silent],
            "refused": [f.as_dict() for f in self.refused],
        }


def schema_of(type_: str) -> Schema | None:
    return SCHEMAS.get(type_)


def forces_replacement(type_: str, inputs: set[str]) -> tuple[str, ...]:
    """The inputs among ``inputs`` (top-level names) that force a replacement of ``type_``."""
    schema = SCHEMAS.get(type_)
    if schema is None:
        return ()
    if schema.force_new == ALL:
        return tuple(sorted(inputs - schema.in_place))
    tops = {n.split(".")[0] for n in schema.force_new}
    return tuple(sorted(inputs & tops))


def _get(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


def _set(inputs: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = inputs
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = {}
        child = dict(child)
        target[part] = child
        target = child
    target[parts[-1]] = value


def _canonical(value: Any, path: str, sets: frozenset[str]) -> Any:
    """``value`` with the inputs of ``sets`` (paths) turned order-free, for comparison."""
    if isinstance(value, Mapping):
        return {
            k: _canonical(v, f"{path}.{k}" if path else k, sets) for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        items = [_canonical(v, path, sets) for v in value]
        if path in sets:
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
        return items
    return value


def _looked_up(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(LOOKED_UP)


def same(type_: str, name: str, old: Any, new: Any) -> bool:
    schema = SCHEMAS.get(type_)
    sets = schema.sets if schema else frozenset()
    if _looked_up(old) != _looked_up(new) and isinstance(old, str) and isinstance(new, str):
        # A value the program looks up in AWS against one given literally (a hosted zone by
        # name, then by id): offline there is no telling them apart, so taken as the same.
        return True
    return _canonical(old, name, sets) == _canonical(new, name, sets)


def predict(
    type_: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    key: str = "",
    name: str = "",
    ignore_changes: tuple[str, ...] = (),
) -> Prediction:
    """What the provider does going from the inputs ``before`` (what AWS has, as last applied)
    to the program's ``after``; None for a resource that does not exist on that side."""
    if before is None and after is None:
        raise ValueError("a resource must exist before or after")
    if before is None:
        return Prediction(key, name, type_, "create", state=dict(after or {}))
    if after is None:
        return Prediction(key, name, type_, "delete")
    schema = SCHEMAS.get(type_)
    state_before = dict(before)
    if schema and schema.read_back:
        state_before = schema.read_back(state_before)
    wanted = dict(after)
    # ignoreChanges: the engine sends the old value for these paths.
    for path in ignore_changes:
        old = _get(state_before, path)
        if old is not ABSENT:
            _set(wanted, path, old)
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    refused: list[Finding] = []
    state = dict(wanted)
    if schema:
        # Optional + Computed: outermost first, so a whole block left out is kept whole.
        for path in sorted(schema.optional_computed, key=lambda p: p.count(".")):
            old, new = _get(state_before, path), _get(state, path)
            if new is ABSENT and old is not ABSENT:
                parent = path.rpartition(".")[0]
                if parent and _get(state, parent) is ABSENT:
                    continue  # kept with its block already
                _set(state, path, old)
                kept.append(
                    Finding(path, ABSENT, old, f"{schema.source}: {path} is Optional + Computed")
                )
        for rule in schema.suppress:
            old, new = _get(state_before, rule.input), _get(state, rule.input)
            if same(type_, rule.input, old, new):
                continue
            if rule.applies(old, new, state):
                if old is ABSENT:
                    state.pop(rule.input, None)
                else:
                    _set(state, rule.input, old)
                suppressed.append(Finding(rule.input, new, old, rule.source))
    changed = sorted(
        k
        for k in set(state_before) | set(state)
        if not same(type_, k, state_before.get(k, ABSENT), state.get(k, ABSENT))
    )
    if schema:
        for rule in schema.refuse:
            if rule.input in changed and rule.applies(
                state_before.get(rule.input, ABSENT), state.get(rule.input, ABSENT), state
            ):
                refused.append(
                    Finding(
                        rule.input,
                        state.get(rule.input),
                        state_before.get(rule.input),
                        f'{rule.source}: "{rule.message}"',
                    )
                )
    state = schema.read_back(state) if schema and schema.read_back else state
    forcing = forces_replacement(type_, set(changed))
    if refused:
        action = "refused"
    elif forcing:
        action = "replace"
    elif changed:
        action = "update"
    else:
        action = "none"
    return Prediction(
        key,
        name,
        type_,
        action,
        updated=tuple(changed),
        replaced_by=forcing,
        suppressed=tuple(suppressed),
        kept=tuple(kept),
        refused=tuple(refused),
        state=state,
    )


_LABEL = re.compile(
    r"\(known after apply: (?P<name>[^ ()]+?)\.[A-Za-z0-9_\[\].]+(?: \[(?P<type>[^\]]+)\])?\)"
)


def references(value: Any, replaced: set[tuple[str, str]]) -> bool:
    """Whether ``value`` holds a label of a replaced resource: (name, short type) pairs; a
    label names the type only where the name alone is ambiguous."""
    if isinstance(value, str):
        for match in _LABEL.finditer(value):
            name, type_ = match["name"], match["type"]
            if any(name == n and (type_ is None or type_ == t) for n, t in replaced):
                return True
        return False
    if isinstance(value, Mapping):
        return any(references(v, replaced) for v in value.values())
    if isinstance(value, list):
        return any(references(v, replaced) for v in value)
    return False


def predict_plans(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Prediction]:
    """Every resource's prediction going from the plan ``before`` to the plan ``after``, by
    key, replacements followed to the resources whose inputs name the replaced ones."""
    old = {r["key"]: r for r in before["resources"]}
    new = {r["key"]: r for r in after["resources"]}
    result: dict[str, Prediction] = {}
    for k in list(new) + [k for k in old if k not in new]:
        r = new.get(k) or old[k]
        if r["type"].startswith(_UNMODELLED_PREFIXES) and k in old and k in new:
            a, b = old[k]["inputs"], new[k]["inputs"]
            updated = tuple(sorted(i for i in set(a) | set(b) if a.get(i) != b.get(i)))
            result[k] = Prediction(
                k,
                r["name"],
                r["type"],
                "update" if updated else "none",
                updated=updated,
                state=dict(b),
            )
            continue
        result[k] = predict(
            r["type"],
            old[k]["inputs"] if k in old else None,
            new[k]["inputs"] if k in new else None,
            key=k,
            name=r["name"],
            ignore_changes=tuple(new[k].get("ignore_changes", ())) if k in new else (),
        )
    # A replaced resource has new ids: the inputs naming it change, which may replace more.
    while True:
        replaced = {(p.name, short_type(p.type)) for p in result.values() if p.action == "replace"}
        grew = False
        for k, p in list(result.items()):
            if p.action not in ("none", "update") or k not in new or k not in old:
                continue
            hit = tuple(
                sorted(
                    i
                    for i, v in new[k]["inputs"].items()
                    if i not in p.updated and references(v, replaced)
                )
            )
            if not hit:
                continue
            updated = tuple(sorted(set(p.updated) | set(hit)))
            forcing = forces_replacement(p.type, set(updated))
            result[k] = Prediction(
                p.key,
                p.name,
                p.type,
                "replace" if forcing else "update",
                updated=updated,
                replaced_by=forcing,
                suppressed=p.suppressed,
                kept=p.kept,
                refused=p.refused,
                cascaded=tuple(sorted(set(p.cascaded) | set(hit))),
                state=p.state,
            )
            grew = grew or bool(forcing)
        if not grew:
            return result


def describe(p: Prediction) -> str:
    """One line for a resource the provider treats differently from what the program asks."""
    parts = []
    for f in p.silent:
        asked = "removed" if f.asked is ABSENT else json.dumps(f.asked, default=str)
        parts.append(
            f"{f.input}: no change on AWS (asked {asked}, stays "
            f"{json.dumps(None if f.result is ABSENT else f.result, default=str)}; {f.rule})"
        )
    for f in p.refused:
        parts.append(f"{f.input}: the provider refuses the update ({f.rule})")
    return f"{p.name} [{short_type(p.type)}]: " + "; ".join(parts)
