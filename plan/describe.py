"""The plan for people: each resource with the few settings that matter, as text or Markdown.

Resources are grouped by their top-level component, in plan order. For the types this program
creates, a describer picks what a reviewer checks (ports, policies, counts, sizes, health
checks, listener actions, scaling targets, the container's command and the names of its
variables and secrets, never their values); any other type shows its plain inputs. Every
resource that waits for others (``depends_on``) says so: "waits for: migration-run, ...".
This is the plan's detail (``--details``): ``plan.summary`` says first what it adds up to.
Inputs too long to read in a terminal (a dashboard's body, an alarm's metric queries) are
summarized unless ``full`` asks for them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plan.document import Plan, top_level
from plan.types import reference, short_type

Facts = list[str]
_INDENT = "    "


def describe_text(plan: Plan, *, full: bool = False) -> str:
    """The plan's detail as text: settings, notes, every component, outputs."""
    lines = ["Settings:", *(f"  {key} = {_value(value)}" for key, value in plan["config"].items())]
    if plan["warnings"]:
        lines += ["", "Warnings from the program:", *(f"  ! {w}" for w in plan["warnings"])]
    lines += ["", "Not known offline:", *(f"  - {n}" for n in plan["notes"])]
    for component in top_level(plan):
        lines += ["", *component_lines(plan, component["key"], full=full)]
    if plan["outputs"]:
        lines += ["", "Outputs:", *(f"  {k} = {_value(v)}" for k, v in plan["outputs"].items())]
    return "\n".join(lines) + "\n"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """ "1 resource", "3 resources"."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def group_title(component: Mapping[str, Any]) -> str:
    """A group by its kind first: several groups share a logical name (``edge`` is the
    certificate, the network and the load balancer), never a kind and a name."""
    return f"{short_type(component['type'])} {component['name']}"


def component_lines(plan: Plan, component_key: str, *, full: bool = False) -> list[str]:
    """One component and everything under it, indented by depth."""
    members = [r for r in plan["resources"] if r["component"] == component_key]
    depth = {component_key: 0}
    lines: list[str] = []
    for resource in members:
        level = depth.get(resource["parent"], -1) + 1 if resource["parent"] else 0
        depth[resource["key"]] = level
        pad = "  " * level
        if level == 0:
            size = f": {count(len(members) - 1, 'resource')}" if len(members) > 1 else ""
            lines.append(f"{group_title(resource)}{size}")
        else:
            lines.append(f"{pad}{resource['name']}  [{short_type(resource['type'])}]")
        lines += [f"{pad}{_INDENT}{fact}" for fact in resource_facts(plan, resource, full=full)]
    return lines


def resource_facts(plan: Plan, resource: Mapping[str, Any], *, full: bool = False) -> Facts:
    """What a reviewer should see of one resource, one fact a line."""
    describer = _DESCRIBERS.get(resource["type"])
    inputs = resource["inputs"]
    if describer is not None:
        facts = describer(inputs)
    elif any(r["parent"] == resource["key"] for r in plan["resources"]):
        facts = []  # a component: its resources speak for it
    else:
        facts = _plain(inputs, full)
    facts += _overridden_by_a_run(plan, resource)
    names = {r["key"]: r["name"] for r in plan["resources"]}
    if resource["waits_for"]:
        facts.append("waits for: " + ", ".join(names[k] for k in resource["waits_for"]))
    if resource["ignore_changes"]:
        facts.append("ignores changes to: " + ", ".join(resource["ignore_changes"]))
    if resource["protect"]:
        facts.append("protected from deletion")
    if resource["secret_inputs"]:
        facts.append("secret (masked): " + ", ".join(resource["secret_inputs"]))
    return facts


def describe_markdown(plan: Plan) -> str:
    """The plan's detail as Markdown (``plan.summary`` gives its top): a table of resources,
    details per component, what is not known offline."""
    components = top_level(plan)
    rows = [
        f"| `{r['name']}` | `{short_type(r['type'])}` | {_group(plan, r['component'])} |"
        for r in plan["resources"]
        if r["parent"] is not None or r["component"] == r["key"]
    ]
    parts = [
        "Rendered without AWS credentials: values AWS computes show as *known after apply*.",
        "",
        "| resource | type | group |",
        "|---|---|---|",
        *rows,
        "",
    ]
    for component in components:
        body = "\n".join(component_lines(plan, component["key"]))
        parts += [
            f"<details><summary>{group_title(component)}</summary>",
            "",
            "```",
            body,
            "```",
            "",
            "</details>",
            "",
        ]
    parts += ["**Not known offline:**", *(f"- {n}" for n in plan["notes"]), ""]
    return "\n".join(parts)


def _group(plan: Plan, key: str) -> str:
    return group_title(next(r for r in plan["resources"] if r["key"] == key))


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _ref(value: Any) -> str:
    """A resource's id, ARN or name as the resource's name; anything else as it is."""
    found = reference(value)
    if found is None:
        return _value(value)
    return found.name if found.path in ("id", "arn", "name") else f"{found.name}.{found.path}"


def _refs(values: Sequence[Any] | None) -> str:
    return ", ".join(_ref(v) for v in values or []) or "none"


def _on(flag: Any) -> str:
    return "yes" if flag else "no"


# Longer than this, an input is summarized unless --full: a dashboard's body is 5,000 characters.
_LONG = 200


def _plain(inputs: Mapping[str, Any], full: bool = False) -> Facts:
    return [
        f"{key}: {_value(value) if full else _short(value)}"
        for key, value in inputs.items()
        if key != "tags"
    ]


def _short(value: Any) -> str:
    text = _value(value)
    if len(text) <= _LONG:
        return text
    if isinstance(value, list):
        ids = [v["id"] for v in value if isinstance(v, dict) and "id" in v]
        listed = f" ({', '.join(ids)})" if ids else ""
        return f"{count(len(value), 'item')}{listed}; --full prints them"
    return f"a document of {len(text):,} characters; --full prints it"


def _overridden_by_a_run(plan: Plan, resource: Mapping[str, Any]) -> Facts:
    """A task definition that a one-off run starts with another command says so: its container
    definition (the app's server command and port) is not what that run executes."""
    if resource["type"] != "aws:ecs/taskDefinition:TaskDefinition":
        return []
    runs = [
        r
        for r in plan["resources"]
        if r["type"].endswith(":MigrationRun")
        and (found := reference(r["inputs"].get("task_definition"))) is not None
        and found.name == resource["name"]
    ]
    return [
        f"started by {run['name']} with the command {_value(run['inputs'].get('command'))} "
        "instead of the container's (the run serves no port)"
        for run in runs
    ]


def _vpc(i: Mapping[str, Any]) -> Facts:
    return [
        f"cidr: {i.get('cidrBlock')}",
        f"DNS support: {_on(i.get('enableDnsSupport'))}, "
        f"DNS hostnames: {_on(i.get('enableDnsHostnames'))}",
    ]


def _subnet(i: Mapping[str, Any]) -> Facts:
    return [
        f"zone: {i.get('availabilityZone')}, cidr: {i.get('cidrBlock')}",
        f"public IP on launch: {_on(i.get('mapPublicIpOnLaunch'))}",
    ]


def _route(i: Mapping[str, Any]) -> Facts:
    target = i.get("gatewayId") or i.get("natGatewayId")
    return [
        f"{i.get('destinationCidrBlock')} -> {_ref(target)} (table {_ref(i.get('routeTableId'))})"
    ]


def _association(i: Mapping[str, Any]) -> Facts:
    return [f"subnet {_ref(i.get('subnetId'))} -> table {_ref(i.get('routeTableId'))}"]


def _security_group(i: Mapping[str, Any]) -> Facts:
    return [f"description: {i.get('description')}"]


def _rule(direction: str) -> Callable[[Mapping[str, Any]], Facts]:
    def facts(i: Mapping[str, Any]) -> Facts:
        protocol = "all traffic" if i.get("ipProtocol") == "-1" else i.get("ipProtocol")
        ports = ""
        if i.get("fromPort") is not None:
            low, high = i.get("fromPort"), i.get("toPort")
            ports = f" {low}" if low == high else f" {low}-{high}"
        peer = (
            i.get("cidrIpv4")
            or i.get("cidrIpv6")
            or (
                f"security group {_ref(i['referencedSecurityGroupId'])}"
                if i.get("referencedSecurityGroupId")
                else "?"
            )
        )
        word = "from" if direction == "in" else "to"
        return [
            f"{direction}: {protocol}{ports} {word} {peer} (group {_ref(i.get('securityGroupId'))})"
        ]

    return facts


def _load_balancer(i: Mapping[str, Any]) -> Facts:
    facts = [
        f"{i.get('loadBalancerType')}, {'internal' if i.get('internal') else 'internet-facing'}, "
        f"subnets: {_refs(i.get('subnets'))}",
        f"security groups: {_refs(i.get('securityGroups'))}",
        f"idle timeout: {i.get('idleTimeout')} s, drop invalid header fields: "
        f"{_on(i.get('dropInvalidHeaderFields'))}, deletion protection: "
        f"{_on(i.get('enableDeletionProtection'))}",
    ]
    logs = i.get("accessLogs")
    if logs:
        facts.append(f"access logs: bucket {_ref(logs.get('bucket'))}")
    return facts


def _target_group(i: Mapping[str, Any]) -> Facts:
    check = i.get("healthCheck") or {}
    return [
        f"{i.get('protocol')} port {i.get('port')}, targets by {i.get('targetType')}, "
        f"deregistration delay: {i.get('deregistrationDelay')} s",
        f"health check: {check.get('protocol')} {check.get('path')} every "
        f"{check.get('interval')} s, timeout {check.get('timeout')} s, healthy after "
        f"{check.get('healthyThreshold')}, unhealthy after {check.get('unhealthyThreshold')}, "
        f"expects {check.get('matcher')}",
    ]


def _listener(i: Mapping[str, Any]) -> Facts:
    facts = [f"{i.get('protocol')} on port {i.get('port')}"]
    if i.get("sslPolicy"):
        facts.append(f"TLS policy: {i['sslPolicy']}, certificate: {_ref(i.get('certificateArn'))}")
    for action in i.get("defaultActions") or []:
        if action.get("type") == "redirect":
            r = action.get("redirect") or {}
            code = str(r.get("statusCode", "")).removeprefix("HTTP_")
            facts.append(f"action: redirect {code} to {r.get('protocol')}:{r.get('port')}")
        elif action.get("type") == "forward":
            facts.append(f"action: forward to target group {_ref(action.get('targetGroupArn'))}")
        else:
            facts.append(f"action: {_value(action)}")
    hsts = i.get("routingHttpResponseStrictTransportSecurityHeaderValue")
    if hsts:
        facts.append(f"HSTS: {hsts}")
    return facts


def _record(i: Mapping[str, Any]) -> Facts:
    if i.get("aliases"):
        targets = ", ".join(_ref(a.get("name")) for a in i["aliases"])
        return [f"{i.get('type')} {i.get('name')} -> alias of {targets}"]
    return [
        f"{i.get('type')} {_ref(i.get('name'))} -> {_refs(i.get('records'))}, TTL {i.get('ttl')}"
    ]


def _certificate(i: Mapping[str, Any]) -> Facts:
    names = [i.get("domainName"), *(i.get("subjectAlternativeNames") or [])]
    return [f"names: {', '.join(str(n) for n in names)}, validated by {i.get('validationMethod')}"]


def _repository(i: Mapping[str, Any]) -> Facts:
    scan = (i.get("imageScanningConfiguration") or {}).get("scanOnPush")
    return [
        f"tags: {i.get('imageTagMutability')}, scan on push: {_on(scan)}, "
        f"deleted with its images: {_on(i.get('forceDelete'))}"
    ]


def _lifecycle(i: Mapping[str, Any]) -> Facts:
    rules = (i.get("policy") or {}).get("rules") if isinstance(i.get("policy"), dict) else None
    return [f"rule: {r.get('description')}" for r in rules or []] or _plain(i)


def _image(i: Mapping[str, Any]) -> Facts:
    build = i.get("build") or {}
    return [
        f"name: {i.get('imageName')}",
        f"build: {build.get('context')} for {build.get('platform')}, "
        f"built on preview: {_on(i.get('buildOnPreview'))}",
    ]


def _log_group(i: Mapping[str, Any]) -> Facts:
    return [f"retention: {i.get('retentionInDays')} days"]


def _role(i: Mapping[str, Any]) -> Facts:
    facts = [f"description: {i.get('description')}"]
    trust = i.get("assumeRolePolicy")
    for statement in trust.get("Statement", []) if isinstance(trust, dict) else []:
        principal = statement.get("Principal")
        condition = " (with conditions)" if statement.get("Condition") else ""
        facts.append(f"trusts: {_value(principal)}{condition}")
    return facts


def _policy(i: Mapping[str, Any]) -> Facts:
    facts = [f"role: {_ref(i.get('role'))}"]
    policy = i.get("policy")
    for s in policy.get("Statement", []) if isinstance(policy, dict) else []:
        facts.append(
            f"{s.get('Effect')}: {_value(s.get('Action'))} on {_refs(_list(s.get('Resource')))}"
        )
    return facts


def _repository_policy(i: Mapping[str, Any]) -> Facts:
    """Who may do what to the repository: the principals, narrowed by their conditions."""
    facts = [f"repository: {_ref(i.get('repository'))}"]
    policy = i.get("policy")
    for s in policy.get("Statement", []) if isinstance(policy, dict) else []:
        principal = s.get("Principal")
        who = principal.get("AWS") if isinstance(principal, dict) else principal
        condition = s.get("Condition") or {}
        when = "; ".join(
            f"{key} {operator} {_value(value)}"
            for operator, keys in condition.items()
            for key, value in keys.items()
        )
        facts.append(
            f"{s.get('Effect')}: {_value(s.get('Action'))} to {_value(who)}"
            + (f" when {when}" if when else "")
        )
    return facts


def _attachment(i: Mapping[str, Any]) -> Facts:
    return [f"role {_ref(i.get('role'))} gets {i.get('policyArn')}"]


def _task_definition(i: Mapping[str, Any]) -> Facts:
    platform = i.get("runtimePlatform") or {}
    facts = [
        f"family: {i.get('family')}, cpu: {i.get('cpu')}, memory: {i.get('memory')} MiB, "
        f"{platform.get('cpuArchitecture')} {platform.get('operatingSystemFamily')}",
        f"roles: execution {_ref(i.get('executionRoleArn'))}, task {_ref(i.get('taskRoleArn'))}",
    ]
    definitions = i.get("containerDefinitions")
    for c in definitions if isinstance(definitions, list) else []:
        ports = ", ".join(f"{p.get('containerPort')}/{p.get('protocol')}" for p in c.get("portMappings", []))  # fmt: skip
        check = c.get("healthCheck") or {}
        facts += [
            f"container {c.get('name')}: image {c.get('image')}",
            f"  command: {_value(c.get('command'))}, ports: {ports or 'none'}",
            "  environment (names): "
            + (", ".join(e.get("name") for e in c.get("environment", [])) or "none"),
            "  secrets (names): "
            + (", ".join(s.get("name") for s in c.get("secrets", [])) or "none"),
            f"  health check: {_value(check.get('command'))} every {check.get('interval')} s, "
            f"{check.get('retries')} retries, start period {check.get('startPeriod')} s",
            f"  stop timeout: {c.get('stopTimeout')} s, logs: "
            f"{(c.get('logConfiguration') or {}).get('logDriver')}",
        ]
    return facts


def _cluster(i: Mapping[str, Any]) -> Facts:
    return [f"{s.get('name')}: {s.get('value')}" for s in i.get("settings") or []]


def _strategy(strategies: Sequence[Mapping[str, Any]] | None) -> str:
    parts = []
    for s in strategies or []:
        base = f", base {s['base']}" if s.get("base") else ""
        parts.append(f"{s.get('capacityProvider')} weight {s.get('weight')}{base}")
    return "; ".join(parts) or "launch type default"


def _capacity(i: Mapping[str, Any]) -> Facts:
    facts = [f"providers: {', '.join(i.get('capacityProviders') or [])}"]
    if i.get("defaultCapacityProviderStrategies"):
        facts.append(f"default strategy: {_strategy(i['defaultCapacityProviderStrategies'])}")
    return facts


def _service(i: Mapping[str, Any]) -> Facts:
    network = i.get("networkConfiguration") or {}
    breaker = i.get("deploymentCircuitBreaker") or {}
    facts = [
        f"desired count: {i.get('desiredCount')}, capacity: "
        f"{_strategy(i.get('capacityProviderStrategies'))}",
        f"task definition: {_ref(i.get('taskDefinition'))}, cluster: {_ref(i.get('cluster'))}",
        f"network: subnets {_refs(network.get('subnets'))}, security groups "
        f"{_refs(network.get('securityGroups'))}, public IP: {_on(network.get('assignPublicIp'))}",
    ]
    for lb in i.get("loadBalancers") or []:
        facts.append(
            f"load balancer: container {lb.get('containerName')}:{lb.get('containerPort')} in "
            f"target group {_ref(lb.get('targetGroupArn'))}"
        )
    facts += [
        f"health check grace period: {i.get('healthCheckGracePeriodSeconds')} s",
        f"rollout: min healthy {i.get('deploymentMinimumHealthyPercent')} %, max "
        f"{i.get('deploymentMaximumPercent')} %, circuit breaker: {_on(breaker.get('enable'))}, "
        f"rollback: {_on(breaker.get('rollback'))}, waits for steady state: "
        f"{_on(i.get('waitForSteadyState'))}",
    ]
    return facts


def _migration(i: Mapping[str, Any]) -> Facts:
    return [
        f"runs {_value(i.get('command'))} in container {i.get('container_name')} of "
        f"{_ref(i.get('task_definition'))}",
        f"cluster: {_ref(i.get('cluster'))}, subnets: {_refs(i.get('subnets'))}, public IP: "
        f"{_on(i.get('assign_public_ip'))}, timeout: {i.get('timeout_seconds')} s, "
        f"nonce: {i.get('nonce') or '(none)'}",
    ]


def _rollout_check(i: Mapping[str, Any]) -> Facts:
    return [
        f"checks that service {_ref(i.get('service'))} runs {_ref(i.get('task_definition_arn'))} "
        "after the rollout"
    ]


def _scaling_target(i: Mapping[str, Any]) -> Facts:
    return [f"{i.get('scalableDimension')}: {i.get('minCapacity')}..{i.get('maxCapacity')}"]


def _scaling_policy(i: Mapping[str, Any]) -> Facts:
    config = i.get("targetTrackingScalingPolicyConfiguration") or {}
    metric = (config.get("predefinedMetricSpecification") or {}).get("predefinedMetricType")
    return [
        f"{i.get('policyType')}: hold {metric} at {config.get('targetValue')}, cooldowns "
        f"out {config.get('scaleOutCooldown')} s / in {config.get('scaleInCooldown')} s"
    ]


def _database(i: Mapping[str, Any]) -> Facts:
    return [
        f"{i.get('engine')} {i.get('engineVersion')} on {i.get('instanceClass')}, Multi-AZ: "
        f"{_on(i.get('multiAz'))}, port {i.get('port')}, publicly accessible: "
        f"{_on(i.get('publiclyAccessible'))}",
        f"storage: {i.get('storageType')} {i.get('allocatedStorage')} GiB (autoscaling to "
        f"{i.get('maxAllocatedStorage')}), encrypted: {_on(i.get('storageEncrypted'))}",
        f"backups: {i.get('backupRetentionPeriod')} days, deletion protection: "
        f"{_on(i.get('deletionProtection'))}, final snapshot: {_on(not i.get('skipFinalSnapshot'))}",
        f"database {i.get('dbName')}, user {i.get('username')}, password managed by RDS in "
        f"Secrets Manager: {_on(i.get('manageMasterUserPassword'))}",
    ]


def _subnet_group(i: Mapping[str, Any]) -> Facts:
    return [f"subnets: {_refs(i.get('subnetIds'))}"]


def _secret(i: Mapping[str, Any]) -> Facts:
    return [
        f"name: {i.get('name')}, recovery window: {i.get('recoveryWindowInDays')} days",
    ]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_DESCRIBERS: dict[str, Callable[[Mapping[str, Any]], Facts]] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/route:Route": _route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _association,
    "aws:ec2/routeTable:RouteTable": lambda i: [f"vpc: {_ref(i.get('vpcId'))}"],
    "aws:ec2/internetGateway:InternetGateway": lambda i: [f"vpc: {_ref(i.get('vpcId'))}"],
    "aws:ec2/natGateway:NatGateway": lambda i: [
        f"in subnet {_ref(i.get('subnetId'))}, address {_ref(i.get('allocationId'))}"
    ],
    "aws:ec2/eip:Eip": lambda i: [f"public IPv4 address for the {i.get('domain')}"],
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule("in"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule("out"),
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:route53/record:Record": _record,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:acm/certificateValidation:CertificateValidation": lambda i: [
        f"waits until {_ref(i.get('certificateArn'))} is issued"
    ],
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _lifecycle,
    "docker:index/image:Image": _image,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _attachment,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _repository_policy,
    "aws:ecs/taskDefinition:TaskDefinition": _task_definition,
    "aws:ecs/cluster:Cluster": _cluster,
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": _capacity,
    "aws:ecs/service:Service": _service,
    "pulumi-python:dynamic/migration:MigrationRun": _migration,
    "pulumi-python:dynamic/rollout:RolloutCheck": _rollout_check,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:appautoscaling/policy:Policy": _scaling_policy,
    "aws:rds/instance:Instance": _database,
    "aws:rds/subnetGroup:SubnetGroup": _subnet_group,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": lambda i: [
        f"value of {_ref(i.get('secretId'))}: {_value(i.get('secretString'))}"
    ],
}
