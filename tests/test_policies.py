"""The policy pack (policy/): each guardrail refuses what it should, with a message that says the fix.

Every policy is called directly, the way the engine calls it: properties under their camelCase
Pulumi names, passed through the same protobuf conversion and read-only proxies (so numbers
arrive as floats and unknown values raise). Then the dev and prod stacks, rendered under the
mocks, go through every policy: no mandatory violation, and a rendering made bad on purpose is
caught.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import grpc
import pulumi
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from components.settings import (
    PROJECT,
    TASK_MEMORY_OVERHEAD_MIB,
    TLS12_PLUS_POLICIES,
    ServiceSettings,
    parse_settings,
)
from plan.engine_config import load_project, program_config
from plan.policies import engine_view, evaluate
from pulumi_harness import ROOT, Rendered, handed_over, render, stack_config

POLICY_DIR = ROOT / "policy"
# The engine runs the pack with policy/ on sys.path; the tests import it the same way.
sys.path.insert(0, str(POLICY_DIR))

import guardrails  # noqa: E402
from guardrails import (  # noqa: E402
    containers,
    data,
    edge,
    iam_grants,
    network,
    operations,
    platform,
    production,
    props,
    service,
)

LISTENER = "aws:lb/listener:Listener"
ALB = "aws:lb/loadBalancer:LoadBalancer"
RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
LOGS = "aws:cloudwatch/logGroup:LogGroup"
ECR = "aws:ecr/repository:Repository"
RDS = "aws:rds/instance:Instance"
STACKS = ["dev", "prod"]

OPTS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


# --- Calling policies as the engine does (plan.policies: shared with the offline plan) ---------


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::{PROJECT}::{type_}::{name}"


def check(
    policy: ResourceValidationPolicy,
    type_: str,
    properties: dict[str, Any],
    *,
    name: str = "subject",
    config: dict[str, Any] | None = None,
) -> list[str]:
    """The messages ``policy`` reports for one resource."""
    messages: list[str] = []
    args = ResourceValidationArgs(
        type_, engine_view(properties), urn(type_, name), name, OPTS, None, config
    )
    assert policy.validate(args, lambda message, _urn=None: messages.append(message)) is None
    return messages


def resource(type_: str, name: str, properties: dict[str, Any]) -> PolicyResource:
    return PolicyResource(
        type_, engine_view(properties), urn(type_, name), name, OPTS, None, None, [], {}
    )


def depends(subject: PolicyResource, key: str, *on: PolicyResource) -> PolicyResource:
    """Record that ``subject``'s property ``key`` was computed from ``on``, as the engine does."""
    subject.property_dependencies.setdefault(key, []).extend(on)
    return subject


def check_stack(
    policy: StackValidationPolicy, resources: list[PolicyResource]
) -> list[tuple[str, str | None]]:
    """The (message, urn) pairs ``policy`` reports for a stack."""
    found: list[tuple[str, str | None]] = []
    args = StackValidationArgs(resources, None)
    assert policy.validate(args, lambda message, u=None: found.append((message, u))) is None
    return found


@pytest.fixture
def production_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(props, "is_production", lambda: True)


@pytest.fixture
def other_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(props, "is_production", lambda: False)


# --- The pack ----------------------------------------------------------------------------------

# Each policy's level: mandatory for security and safety, advisory for cost and speed.
LEVELS = {
    "alb-serves-https-only": "mandatory",
    "listener-tls-1-2-or-newer": "mandatory",
    "http-listener-redirects-to-https": "mandatory",
    "alb-drops-invalid-headers": "mandatory",
    "target-group-fast-drain": "advisory",
    "http-only-first-try": "advisory",
    "no-world-open-ports": "mandatory",
    "tasks-only-from-load-balancer": "mandatory",
    "ecs-service-safe-rollout": "mandatory",
    "container-health-check": "mandatory",
    "container-exec-form": "mandatory",
    "task-memory-fits-workers": "mandatory",
    "no-plain-secret-environment": "mandatory",
    "container-read-only-root": "mandatory",
    "container-non-root-user": "mandatory",
    "container-not-privileged": "mandatory",
    "container-no-added-capabilities": "mandatory",
    "rds-storage-encrypted": "mandatory",
    "rds-not-publicly-accessible": "mandatory",
    "production-backup-retention": "mandatory",
    "log-group-retention": "advisory",
    "ecr-scan-and-immutable-tags": "mandatory",
    # Advisory in the pack; policy/config.prod.json makes it mandatory for prod.
    "image-built-once": "advisory",
    "iam-no-wildcard-actions": "mandatory",
    "iam-no-broad-attachments": "mandatory",
    "production-high-availability": "mandatory",
    "production-deletion-protection": "mandatory",
    "production-private-tasks": "mandatory",
    "production-real-domain": "mandatory",
    "production-load-balancer-access-logs": "mandatory",
    "production-vpc-flow-logs": "mandatory",
    "production-waf": "advisory",
    "ecs-service-keeps-healthy-tasks": "mandatory",
    "production-deployment-alarms": "mandatory",
    "production-no-exec": "mandatory",
}


def test_every_policy_has_a_unique_name_a_description_and_its_own_level():
    names = [p.name for p in guardrails.POLICIES]
    assert len(names) == len(set(names))
    assert all(isinstance(p, Policy) and p.description.endswith(".") for p in guardrails.POLICIES)
    assert {p.name: p.enforcement_level.value for p in guardrails.POLICIES} == LEVELS


def test_the_pack_name_is_one_pulumi_accepts():
    assert re.fullmatch(r"[a-zA-Z0-9-_.]{1,100}", guardrails.PACK_NAME)


def test_the_entry_point_only_serves_the_importable_policies():
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text())
    assert ast.get_docstring(tree)
    imports = {
        (node.module, alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("guardrails", "POLICIES") in imports
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert [c.value.func.id for c in calls] == ["PolicyPack"]
    # Nothing but imports, the docstring and that one call: no policy is defined there.
    assert len(tree.body) == len(calls) + 1 + sum(
        isinstance(n, ast.ImportFrom | ast.Import) for n in tree.body
    )


def test_the_pack_runs_in_the_projects_one_virtualenv_which_holds_its_requirements():
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == "../.venv"
    requirements = (POLICY_DIR / "requirements.txt").read_text()
    assert re.search(r"^pulumi-policy>=1\.21", requirements, re.M)
    # The tests install the same requirements, so they test what the pack runs with.
    assert "-r policy/requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_the_pack_knows_the_programs_tls_policies_project_and_memory_defaults():
    assert edge.TLS12_PLUS_POLICIES == TLS12_PLUS_POLICIES
    assert props.PROJECT == PROJECT
    assert ServiceSettings().memory_per_worker == service.DEFAULT_MEMORY_PER_WORKER_MIB
    assert service.DEFAULT_OVERHEAD_MIB == TASK_MEMORY_OVERHEAD_MIB


def project_settings(stack: str) -> dict[str, Any]:
    """The stack's settings as the program gets them, after the CLI's merge."""
    config, _ = handed_over(stack=stack_config(stack))
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_has_a_policy_config_that_matches_its_memory_per_worker(stack):
    config = json.loads((POLICY_DIR / f"config.{stack}.json").read_text())
    settings = parse_settings(project_settings(stack))
    memory = config["task-memory-fits-workers"]
    assert memory["memoryPerWorkerMiB"] == settings.service.memory_per_worker


def test_the_prod_stack_file_is_valid_production_settings():
    settings = parse_settings(project_settings("prod"))
    assert settings.production is True
    assert settings.https.domain is not None
    assert settings.network.nat == "per-az"
    assert settings.service.desired_count >= 2 and settings.scaling.min_count >= 2
    assert settings.load_balancer.deletion_protection and settings.load_balancer.access_logs
    assert settings.service.log_retention_days >= 90
    assert settings.database.mode == "managed"


def engine_config(stack: str) -> dict[str, str]:
    """What the engine hands the pack (and the program) for a stack: its merged config."""
    project = load_project(ROOT / "Pulumi.yaml")
    return program_config(project, stack, stack_config(stack)).config


@pytest.mark.parametrize(("stack", "expected"), [("dev", False), ("prod", True)])
def test_the_pack_finds_the_production_setting_in_the_config_the_engine_hands_it(
    stack, expected, monkeypatch
):
    config = engine_config(stack)
    # Top-level, as the program's settings keep it: not inside a group object.
    assert config[f"{PROJECT}:production"] == str(expected).lower()
    monkeypatch.setattr(pulumi, "get_stack", lambda: "staging")
    pulumi.runtime.set_all_config(config)
    try:
        assert props.is_production() is expected
    finally:
        pulumi.runtime.set_all_config({})


def test_the_pack_serves_the_policies_and_reads_the_stacks_production_setting():
    # The engine starts the pack with the stack's config in PULUMI_CONFIG, and talks gRPC to the
    # port it prints. A stack not named prod is production here only by its setting.
    environment = os.environ | {
        # The config the engine hands the pack: the prod stack file merged by the CLI.
        "PULUMI_CONFIG": json.dumps(engine_config("prod")),
        "PULUMI_PROJECT": PROJECT,
        "PULUMI_STACK": "staging",
        "PULUMI_DRY_RUN": "true",
    }
    pack = subprocess.Popen(
        [sys.executable, str(POLICY_DIR / "__main__.py")],
        cwd=POLICY_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = pack.stdout.readline().strip()  # type: ignore[union-attr]
        assert port.isdigit(), pack.stderr.read()  # type: ignore[union-attr]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty())
            properties = struct_pb2.Struct()
            properties.update(ecs_service(desiredCount=1))
            response = stub.Analyze(
                analyzer_pb2.AnalyzeRequest(
                    type=SERVICE, properties=properties, urn=urn(SERVICE, "web"), name="web"
                )
            )
        assert info.name == guardrails.PACK_NAME
        assert [p.name for p in info.policies] == list(LEVELS)
        assert [d.policyName for d in response.diagnostics] == ["production-high-availability"]
    finally:
        pack.kill()
        pack.wait(timeout=10)


# --- Reading properties as the engine passes them ----------------------------------------------


def test_a_value_unknown_during_preview_is_not_mistaken_for_a_missing_one():
    # The SDK turns this error into "can't run during preview" and runs the policy in the update;
    # swallowing it would let the policy pass on a value it never saw.
    with pytest.raises(UnknownValueError):
        check(service.container_health_check, TASK, {"containerDefinitions": UNKNOWN_STRING_VALUE})


@pytest.mark.parametrize(
    ("flag", "stack", "expected"),
    [
        ("true", "dev", True),
        (True, "staging", True),
        ("false", "prod", True),
        (None, "production", True),
        ("false", "dev", False),
        (None, None, False),
    ],
)
def test_a_stack_is_production_by_its_setting_or_by_its_name(flag, stack, expected):
    assert props.is_production_stack(flag, stack) is expected


# --- edge --------------------------------------------------------------------------------------

REDIRECT = {
    "type": "redirect",
    "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
}
FORWARD = {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg"}


def https_listener(**changes: Any) -> dict[str, Any]:
    return {
        "protocol": "HTTPS",
        "port": 443,
        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "defaultActions": [FORWARD],
    } | changes


def test_an_https_listener_with_a_tls_1_2_policy_passes():
    assert check(edge.listener_tls, LISTENER, https_listener()) == []


def test_an_https_listener_without_an_ssl_policy_is_refused():
    (message,) = check(
        edge.listener_tls, LISTENER, https_listener(sslPolicy=None), name="edge-https"
    )
    assert "Listener 'edge-https' sets no ssl_policy" in message
    assert "ELBSecurityPolicy-2016-08 (TLS 1.0 and 1.1 allowed)" in message
    assert "Fix: set ssl_policy to ELBSecurityPolicy-TLS13-1-2-2021-06" in message


@pytest.mark.parametrize(
    "policy", ["ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-1-2017-01"]
)
def test_an_https_listener_with_a_policy_that_allows_tls_1_0_or_1_1_is_refused(policy):
    (message,) = check(edge.listener_tls, LISTENER, https_listener(sslPolicy=policy))
    assert f"uses ssl_policy {policy}, which allows TLS 1.0/1.1" in message


def test_an_http_listener_that_redirects_permanently_to_https_passes():
    listener = {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]}
    assert check(edge.http_listener_redirects, LISTENER, listener) == []


def test_an_http_listener_that_forwards_instead_of_redirecting_is_refused():
    listener = {"protocol": "HTTP", "port": 80, "defaultActions": [FORWARD]}
    (message,) = check(edge.http_listener_redirects, LISTENER, listener, name="edge-http")
    assert "Listener 'edge-http' listens for plain HTTP on port 80" in message
    assert "(default actions: forward)" in message
    assert 'status_code: "HTTP_301"' in message and "config set --path https.domain" in message


@pytest.mark.parametrize(
    "action",
    [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "statusCode": "HTTP_302"}},
        {"type": "redirect", "redirect": {"protocol": "HTTP", "statusCode": "HTTP_301"}},
        {"type": "fixed-response", "fixedResponse": {"contentType": "text/plain"}},
    ],
    ids=["temporary redirect", "redirect to http", "fixed response"],
)
def test_an_http_listener_that_does_anything_but_a_301_to_https_is_refused(action):
    listener = {"protocol": "HTTP", "port": 80, "defaultActions": [action]}
    assert len(check(edge.http_listener_redirects, LISTENER, listener)) == 1


def test_a_listener_without_a_protocol_is_plain_http_and_checked_as_such():
    # pulumi-aws's default protocol for an ALB listener is HTTP; the older aws:alb name counts.
    listener = {"port": 8080, "defaultActions": [FORWARD]}
    (message,) = check(edge.http_listener_redirects, "aws:alb/listener:Listener", listener)
    assert "on port 8080" in message


def test_the_tls_check_leaves_plain_http_listeners_to_the_redirect_check():
    listener = {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]}
    assert check(edge.listener_tls, LISTENER, listener) == []


def test_a_load_balancer_that_drops_invalid_headers_passes():
    alb = {"loadBalancerType": "application", "dropInvalidHeaderFields": True}
    assert check(edge.alb_drops_invalid_headers, ALB, alb) == []


@pytest.mark.parametrize("value", [False, None])
def test_a_load_balancer_that_passes_invalid_headers_on_is_refused(value):
    # No loadBalancerType: pulumi-aws makes an application load balancer.
    (message,) = check(
        edge.alb_drops_invalid_headers, ALB, {"dropInvalidHeaderFields": value}, name="edge-alb"
    )
    assert "LoadBalancer 'edge-alb' passes requests with invalid HTTP header fields" in message
    assert "Fix: set drop_invalid_header_fields=True" in message


def test_a_network_load_balancer_has_no_header_fields_to_drop():
    assert check(edge.alb_drops_invalid_headers, ALB, {"loadBalancerType": "network"}) == []


def edge_stack(*listeners: dict[str, Any]) -> tuple[PolicyResource, list[PolicyResource]]:
    """An ALB and its listeners, each linked to it as the engine records it."""
    alb = resource(ALB, "edge-alb", {"loadBalancerType": "application", "arn": "arn:alb"})
    own = [
        depends(resource(LISTENER, f"listener-{i}", props_), "loadBalancerArn", alb)
        for i, props_ in enumerate(listeners)
    ]
    return alb, [alb, *own]


def test_a_load_balancer_with_an_https_listener_serves_https_only():
    http = {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]}
    _, resources = edge_stack(https_listener(), http)
    assert check_stack(edge.alb_serves_https_only, resources) == []


def test_a_load_balancer_without_an_https_listener_is_refused():
    alb, resources = edge_stack({"protocol": "HTTP", "port": 80, "defaultActions": [FORWARD]})
    ((message, at),) = check_stack(edge.alb_serves_https_only, resources)
    assert at == alb.urn
    assert "LoadBalancer 'edge-alb' has no HTTPS listener" in message
    assert "`pulumi config set --path https.domain api.example.com`" in message


def test_an_https_listener_of_another_load_balancer_does_not_count():
    _, resources = edge_stack({"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]})
    other = resource(ALB, "other-alb", {"arn": "arn:other"})
    resources += [
        other,
        depends(resource(LISTENER, "other-https", https_listener()), "loadBalancerArn", other),
    ]
    messages = check_stack(edge.alb_serves_https_only, resources)
    assert [m for m, _ in messages if "'edge-alb'" in m] != []


def test_a_listener_linked_by_a_literal_arn_counts_as_the_load_balancers():
    alb = resource(ALB, "edge-alb", {"arn": "arn:aws:elasticloadbalancing:alb/1"})
    listener = resource(
        LISTENER, "https", https_listener(loadBalancerArn="arn:aws:elasticloadbalancing:alb/1")
    )
    assert check_stack(edge.alb_serves_https_only, [alb, listener]) == []


def test_a_listener_rule_that_forwards_around_the_http_redirect_is_refused():
    http = {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]}
    _, resources = edge_stack(https_listener(), http)
    rule = depends(
        resource(RULE, "legacy-path", {"actions": [FORWARD]}), "listenerArn", resources[2]
    )
    ((message, at),) = check_stack(edge.alb_serves_https_only, [*resources, rule])
    assert at == rule.urn
    assert "ListenerRule 'legacy-path' is a rule of a plain-HTTP listener" in message
    assert "Fix: attach the rule to the HTTPS listener" in message


def test_a_listener_rule_of_the_https_listener_may_forward():
    _, resources = edge_stack(https_listener())
    rule = depends(resource(RULE, "api", {"actions": [FORWARD]}), "listenerArn", resources[1])
    assert check_stack(edge.alb_serves_https_only, [*resources, rule]) == []


def test_a_target_group_that_drains_within_a_minute_passes():
    assert check(edge.target_group_fast_drain, TARGET_GROUP, {"deregistrationDelay": 30}) == []


def test_a_target_group_with_aws_default_drain_gets_an_advisory():
    (message,) = check(edge.target_group_fast_drain, TARGET_GROUP, {}, name="edge-tg")
    assert "TargetGroup 'edge-tg' keeps a stopping task registered for 300 s (unset" in message
    assert "pulumi config set --path loadBalancer.deregistrationDelay 30" in message


def test_a_stack_may_allow_a_longer_drain_in_its_policy_config():
    slow = {"deregistrationDelay": 120}
    assert len(check(edge.target_group_fast_drain, TARGET_GROUP, slow)) == 1
    assert check(edge.target_group_fast_drain, TARGET_GROUP, slow, config={"maxSeconds": 180}) == []


# --- network -----------------------------------------------------------------------------------


def ingress(**changes: Any) -> dict[str, Any]:
    return {
        "securityGroupId": "sg-alb",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    } | changes


@pytest.mark.parametrize(
    "rule",
    [
        ingress(cidrIpv4="0.0.0.0/0"),
        ingress(cidrIpv6="::/0", fromPort=80, toPort=80),
        ingress(cidrIpv4="10.0.0.0/16", fromPort=8000, toPort=8000),
        ingress(referencedSecurityGroupId="sg-alb", fromPort=8000, toPort=8000),
    ],
    ids=[
        "https from anywhere",
        "http from anywhere over ipv6",
        "app port from the vpc",
        "from a group",
    ],
)
def test_web_ports_may_be_public_and_other_ports_private(rule):
    assert check(network.no_world_open_ports, INGRESS, rule) == []


def test_a_rule_opening_ssh_to_the_internet_is_refused():
    rule = ingress(cidrIpv4="0.0.0.0/0", fromPort=22, toPort=22)
    (message,) = check(network.no_world_open_ports, INGRESS, rule, name="ssh")
    assert (
        "SecurityGroupIngressRule 'ssh' opens tcp 22 to the whole internet (0.0.0.0/0)" in message
    )
    assert "Fix: admit a security group instead" in message


@pytest.mark.parametrize(
    ("rule", "opened"),
    [
        (ingress(cidrIpv4="0.0.0.0/0", fromPort=80, toPort=443), "tcp 80-443"),
        (ingress(cidrIpv6="::/0", ipProtocol="-1", fromPort=None, toPort=None), "every port"),
        (ingress(cidrIpv4="0.0.0.0/0", ipProtocol="udp"), "udp 443"),
    ],
    ids=["a range spanning the web ports", "every protocol", "udp on 443"],
)
def test_anything_but_exactly_tcp_80_or_443_from_the_internet_is_refused(rule, opened):
    (message,) = check(network.no_world_open_ports, INGRESS, rule)
    assert f"opens {opened}" in message


def test_inline_ingress_blocks_and_legacy_rules_are_checked_too():
    group = {
        "ingress": [
            {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipv6CidrBlocks": ["::/0"]}
        ]
    }
    (message,) = check(network.no_world_open_ports, SG, group, name="db")
    assert "SecurityGroup 'db' opens tcp 5432 to the whole internet (::/0)" in message
    legacy = {
        "type": "ingress",
        "protocol": "tcp",
        "fromPort": 3389,
        "toPort": 3389,
        "cidrBlocks": ["0.0.0.0/0"],
    }
    assert len(check(network.no_world_open_ports, LEGACY_RULE, legacy)) == 1
    # Egress to anywhere is how tasks reach AWS APIs: not this policy's business.
    assert check(network.no_world_open_ports, LEGACY_RULE, legacy | {"type": "egress"}) == []


def task_network(*task_rules: tuple[str, dict[str, Any]]) -> list[PolicyResource]:
    """The program's shape: an ALB with its group, a service with the tasks' group, and rules
    into the tasks' group (each linked as the engine records it)."""
    alb_sg = resource(SG, "edge-alb", {"id": "sg-alb"})
    task_sg = resource(SG, "edge-tasks", {"id": "sg-tasks"})
    alb = depends(
        resource(ALB, "edge-alb", {"securityGroups": ["sg-alb"]}), "securityGroups", alb_sg
    )
    svc = depends(
        resource(SERVICE, "web", {"networkConfiguration": {"securityGroups": ["sg-tasks"]}}),
        "networkConfiguration",
        task_sg,
    )
    world = depends(
        resource(INGRESS, "edge-alb-in-443", ingress(cidrIpv4="0.0.0.0/0")),
        "securityGroupId",
        alb_sg,
    )
    rules = []
    for name, rule in task_rules:
        r = depends(
            resource(INGRESS, name, rule | {"securityGroupId": "sg-tasks"}),
            "securityGroupId",
            task_sg,
        )
        if rule.get("referencedSecurityGroupId") == "sg-alb":
            depends(r, "referencedSecurityGroupId", alb_sg)
        rules.append(r)
    return [alb_sg, task_sg, alb, svc, world, *rules]


def test_tasks_reachable_only_from_the_load_balancers_group_pass():
    from_alb = ingress(referencedSecurityGroupId="sg-alb", fromPort=8000, toPort=8000)
    assert (
        check_stack(network.tasks_only_from_load_balancer, task_network(("from-alb", from_alb)))
        == []
    )


def test_a_cidr_rule_into_the_tasks_group_is_refused():
    from_vpc = ingress(cidrIpv4="10.0.0.0/16", fromPort=8000, toPort=8000)
    resources = task_network(("from-vpc", from_vpc))
    ((message, at),) = check_stack(network.tasks_only_from_load_balancer, resources)
    assert at == resources[-1].urn
    assert (
        "SecurityGroupIngressRule 'from-vpc' lets 10.0.0.0/16 into SecurityGroup 'edge-tasks', "
        "a security group of the tasks of ECS service 'web'"
    ) in message
    assert "Fix: delete the rule, or make its source the load balancer's security group" in message


def test_a_rule_from_another_group_into_the_tasks_is_refused():
    from_bastion = ingress(referencedSecurityGroupId="sg-bastion", fromPort=8000, toPort=8000)
    ((message, _),) = check_stack(
        network.tasks_only_from_load_balancer, task_network(("from-bastion", from_bastion))
    )
    assert "lets security group sg-bastion into" in message


def test_inline_and_legacy_rules_into_the_tasks_group_are_refused_too():
    resources = task_network()
    task_sg = resources[1]
    inline = resource(
        SG,
        "edge-tasks",
        {"id": "sg-tasks", "ingress": [{"cidrBlocks": ["0.0.0.0/0"], "self": True}]},
    )
    resources[1] = inline
    resources[3].property_dependencies["networkConfiguration"] = [inline]
    legacy = depends(
        resource(
            LEGACY_RULE,
            "legacy",
            {"type": "ingress", "securityGroupId": "sg-tasks", "prefixListIds": ["pl-1"]},
        ),
        "securityGroupId",
        inline,
    )
    messages = [
        m for m, _ in check_stack(network.tasks_only_from_load_balancer, [*resources, legacy])
    ]
    assert len(messages) == 3
    assert "admits 0.0.0.0/0 in an inline ingress block" in messages[0]
    assert "admits itself (self = true)" in messages[1]
    assert "lets prefix list pl-1 into" in messages[2]
    assert task_sg.name == inline.name


def test_in_a_preview_of_a_new_stack_rules_are_found_by_their_dependencies():
    # Before anything exists every id is unknown; the engine still records what each property
    # was computed from.
    unknown, unknown_list = UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE
    alb_sg = resource(SG, "edge-alb", {"id": unknown})
    task_sg = resource(SG, "edge-tasks", {"id": unknown})
    alb = depends(
        resource(ALB, "edge-alb", {"securityGroups": [unknown]}), "securityGroups", alb_sg
    )
    svc = depends(
        resource(SERVICE, "web", {"networkConfiguration": {"securityGroups": unknown_list}}),
        "networkConfiguration",
        task_sg,
    )
    bad = depends(
        resource(INGRESS, "from-vpc", ingress(securityGroupId=unknown, cidrIpv4="10.0.0.0/8")),
        "securityGroupId",
        task_sg,
    )
    found = check_stack(network.tasks_only_from_load_balancer, [alb_sg, task_sg, alb, svc, bad])
    assert [at for _, at in found] == [bad.urn]


def test_groups_and_rules_named_by_literal_ids_are_linked_by_value():
    # An existing group passed by id has no dependency record, only its id.
    alb_sg = resource(SG, "alb", {"id": "sg-alb"})
    task_sg = resource(SG, "tasks", {"id": "sg-tasks"})
    alb = resource(ALB, "alb", {"securityGroups": ["sg-alb"]})
    svc = resource(SERVICE, "web", {"networkConfiguration": {"securityGroups": ["sg-tasks"]}})
    good = resource(
        INGRESS, "ok", ingress(securityGroupId="sg-tasks", referencedSecurityGroupId="sg-alb")
    )
    bad = resource(INGRESS, "bad", ingress(securityGroupId="sg-tasks", cidrIpv4="0.0.0.0/0"))
    found = check_stack(
        network.tasks_only_from_load_balancer, [alb_sg, task_sg, alb, svc, good, bad]
    )
    assert [at for _, at in found] == [bad.urn]


# --- service -----------------------------------------------------------------------------------


def ecs_service(**changes: Any) -> dict[str, Any]:
    return {
        "desiredCount": 2,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "waitForSteadyState": True,
        "healthCheckGracePeriodSeconds": 60,
        "loadBalancers": [{"containerName": "app", "containerPort": 8000}],
        "networkConfiguration": {"subnets": ["subnet-a", "subnet-b"], "assignPublicIp": False},
        "alarms": {"alarmNames": ["errors", "latency"], "enable": True, "rollback": True},
    } | changes


def test_a_service_with_circuit_breaker_steady_state_wait_and_grace_period_passes():
    assert check(service.ecs_service_safe_rollout, SERVICE, ecs_service()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"deploymentCircuitBreaker": None}, "has no deployment circuit breaker with rollback"),
        (
            {"deploymentCircuitBreaker": {"enable": True, "rollback": False}},
            "Fix: set deployment_circuit_breaker={enable: True, rollback: True}",
        ),
        ({"waitForSteadyState": None}, "does not wait for steady state"),
        ({"healthCheckGracePeriodSeconds": 0}, "with a health check grace period of 0 s"),
        (
            {"healthCheckGracePeriodSeconds": None},
            "pulumi config set --path service.healthCheckGracePeriod 60",
        ),
    ],
    ids=[
        "no breaker",
        "breaker without rollback",
        "no steady-state wait",
        "zero grace",
        "no grace",
    ],
)
def test_a_service_that_could_roll_out_unsafely_is_refused(changes, expected):
    (message,) = check(
        service.ecs_service_safe_rollout, SERVICE, ecs_service(**changes), name="web"
    )
    assert message.startswith("Service 'web' ")
    assert expected in message


def test_a_service_without_a_load_balancer_needs_no_grace_period():
    quiet = ecs_service(loadBalancers=[], healthCheckGracePeriodSeconds=0)
    assert check(service.ecs_service_safe_rollout, SERVICE, quiet) == []


def container(**changes: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "command": ["python", "-m", "api.serve"],
        "environment": [{"name": "WEB_CONCURRENCY", "value": "1"}],
        "healthCheck": {"command": ["CMD", "python", "-m", "api.healthcheck"]},
    } | changes


def task(*containers: dict[str, Any], memory: str = "512") -> dict[str, Any]:
    return {"memory": memory, "containerDefinitions": json.dumps(list(containers) or [container()])}


def test_a_container_with_a_health_check_passes():
    assert check(service.container_health_check, TASK, task()) == []


def test_a_container_without_a_health_check_is_refused():
    (message,) = check(
        service.container_health_check,
        TASK,
        task(container(name="worker", healthCheck=None)),
        name="app-definition",
    )
    assert "TaskDefinition 'app-definition': container 'worker' has no health check" in message
    assert 'Fix: add healthCheck {"command": ["CMD",' in message


@pytest.mark.parametrize(
    "argv",
    [["python", "-m", "api.serve"], ["python", "-c", "import api"], ["uvicorn", "api:app"]],
)
def test_a_container_that_runs_its_program_directly_passes(argv):
    assert check(service.container_exec_form, TASK, task(container(command=argv))) == []


@pytest.mark.parametrize(
    ("field", "argv"),
    [
        ("command", ["sh", "-c", "python -m api.serve"]),
        ("command", ["/bin/bash", "-lc", "exec python -m api.serve"]),
        ("entryPoint", ["/bin/sh", "-c"]),
        ("command", "python -m api.serve"),
    ],
    ids=["sh -c", "bash -lc", "shell entry point", "a string"],
)
def test_a_container_that_starts_through_a_shell_is_refused(field, argv):
    (message,) = check(service.container_exec_form, TASK, task(container(**{field: argv})))
    assert f"container 'app' starts through a shell ({field} = " in message
    assert "does not pass SIGTERM on" in message
    assert "Fix: give " + field + " as a list of arguments without a shell" in message


def env(**variables: str) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in variables.items()]


def test_task_memory_that_holds_every_worker_passes():
    # 1 worker x 256 MiB + 64 MiB = 320 MiB <= 512 MiB.
    assert check(service.task_memory_fits_workers, TASK, task()) == []


def test_task_memory_too_small_for_its_workers_is_refused():
    two = task(container(environment=env(WEB_CONCURRENCY="2")), memory="512")
    (message,) = check(service.task_memory_fits_workers, TASK, two, name="app-definition")
    assert (
        "TaskDefinition 'app-definition' has 512 MiB of memory, but its 2 workers "
        "(WEB_CONCURRENCY of app) x 256 MiB + 64 MiB overhead need 576 MiB"
    ) in message
    assert "Fix: raise the task memory (`pulumi config set --path service.memory <MiB>`)" in message


def test_a_stack_with_smaller_workers_says_so_in_its_policy_config():
    two = task(container(environment=env(WEB_CONCURRENCY="2")), memory="512")
    assert (
        check(service.task_memory_fits_workers, TASK, two, config={"memoryPerWorkerMiB": 128}) == []
    )


def test_every_server_container_of_a_task_counts_against_its_memory():
    a = container(name="a", environment=env(WEB_CONCURRENCY="1"))
    b = container(name="b", environment=env(WEB_CONCURRENCY="1"))
    (message,) = check(service.task_memory_fits_workers, TASK, task(a, b, memory="512"))
    assert "need 640 MiB" in message


def test_containers_without_web_concurrency_have_no_worker_budget_to_check():
    sidecar = container(environment=env(LOG_LEVEL="info"))
    assert check(service.task_memory_fits_workers, TASK, task(sidecar, memory="512")) == []


@pytest.mark.parametrize(
    "name",
    ["API_KEY", "DB_PASSWORD", "dbPassword", "GITHUB_TOKEN", "SECRET_KEY_BASE", "STRIPE_SECRET",
     "APIKEY", "KEY", "jwt-secret", "private.key", "AWS_SECRET_ACCESS_KEY", "SIGNING_KEYS"],
)  # fmt: skip
def test_names_with_a_secret_word_look_secret(name):
    assert service.looks_secret(name)


@pytest.mark.parametrize(
    "name",
    ["KEYBOARD_LAYOUT", "MONKEY", "DONKEY_COUNT", "TOKENIZER_MODEL", "SECRETARY_EMAIL",
     "DB_SECRET_ARN", "JWT_SECRET_FILE", "AWS_ACCESS_KEY_ID", "PASSWORD_PATH", "LOG_LEVEL"],
)  # fmt: skip
def test_names_that_only_contain_a_secret_word_or_point_at_a_secret_do_not(name):
    assert not service.looks_secret(name)


def test_a_secret_looking_variable_with_a_plain_value_is_refused():
    leaky = task(container(environment=env(API_KEY="sk_live_123", LOG_LEVEL="info")))
    (message,) = check(service.no_plain_secret_environment, TASK, leaky, name="app-definition")
    assert (
        "TaskDefinition 'app-definition': container 'app' gets API_KEY as a plain environment "
        "variable, and its name says it holds a secret"
    ) in message
    assert "`pulumi config set --path 'service.appSecrets[<next index>]' API_KEY`" in message
    assert "`.venv/bin/python -m ops <stack> secrets set API_KEY`" in message
    assert "sk_live_123" not in message


def test_secrets_passed_by_reference_pass():
    referenced = container(
        secrets=[
            {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}
        ],
        environment=env(DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:1:secret:db", API_KEY=""),
    )
    assert check(service.no_plain_secret_environment, TASK, task(referenced)) == []


def test_a_url_with_a_password_in_it_is_refused_whatever_its_name():
    url = task(container(environment=env(DATABASE_URL="postgresql://app:hunter2@db:5432/app")))
    (message,) = check(service.no_plain_secret_environment, TASK, url)
    assert (
        "gets DATABASE_URL as a plain environment variable, and its value is a URL with a password"
        in message
    )
    assert "hunter2" not in message
    plain = task(container(environment=env(DATABASE_URL="postgresql://db:5432/app")))
    assert check(service.no_plain_secret_environment, TASK, plain) == []


def test_a_stack_can_allow_a_name_that_only_looks_secret():
    public = task(container(environment=env(STRIPE_PUBLISHABLE_KEY="pk_live_1")))
    assert len(check(service.no_plain_secret_environment, TASK, public)) == 1
    allowed = {"allowNames": ["STRIPE_PUBLISHABLE_KEY"]}
    assert check(service.no_plain_secret_environment, TASK, public, config=allowed) == []


# --- platform ----------------------------------------------------------------------------------


def test_a_log_group_with_retention_passes():
    assert check(platform.log_group_retention, LOGS, {"retentionInDays": 30}) == []


@pytest.mark.parametrize("days", [None, 0])
def test_a_log_group_that_keeps_logs_forever_gets_an_advisory(days):
    (message,) = check(
        platform.log_group_retention, LOGS, {"retentionInDays": days}, name="app-logs"
    )
    assert "LogGroup 'app-logs' keeps its logs forever" in message
    assert "pulumi config set --path service.logRetentionDays 30" in message


def test_a_repository_that_scans_on_push_with_immutable_tags_passes():
    repo = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}
    assert check(platform.ecr_scan_and_immutable_tags, ECR, repo) == []


def test_a_repository_with_mutable_tags_and_no_scan_is_refused_for_both():
    scan, tags = check(platform.ecr_scan_and_immutable_tags, ECR, {}, name="app-repository")
    assert "Repository 'app-repository' does not scan images on push" in scan
    assert "scan_on_push: True" in scan
    assert "has MUTABLE tags" in tags and "image_tag_mutability='IMMUTABLE'" in tags


def policy_document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.parametrize(
    ("type_", "key", "statement"),
    [
        ("aws:iam/rolePolicy:RolePolicy", "policy", {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "arn:x"}),
        ("aws:iam/policy:Policy", "policy", {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}),
        ("aws:iam/policy:Policy", "policy", {"Effect": "Deny", "Action": "*", "Resource": "*"}),
        ("aws:iam/role:Role", "assumeRolePolicy", {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}),
    ],
    ids=["named actions", "a prefix wildcard", "deny everything", "a trust policy"],
)  # fmt: skip
def test_policies_that_name_their_actions_pass(type_, key, statement):
    assert check(platform.iam_no_wildcard_actions, type_, {key: policy_document(statement)}) == []


@pytest.mark.parametrize(
    ("type_", "key", "statement", "grant"),
    [
        ("aws:iam/policy:Policy", "policy", {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}, "statement 'All' allows *"),
        ("aws:iam/rolePolicy:RolePolicy", "policy", {"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}, "a statement allows s3:*"),
        ("aws:iam/role:Role", "assumeRolePolicy", {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:*"}, "a statement allows sts:*"),
        ("aws:iam/policy:Policy", "policy", {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "a statement allows every action except ['iam:*']"),
    ],
    ids=["star", "service star", "trust policy star", "not-action"],
)  # fmt: skip
def test_a_policy_that_allows_wildcard_actions_is_refused(type_, key, statement, grant):
    (message,) = check(
        platform.iam_no_wildcard_actions, type_, {key: policy_document(statement)}, name="p"
    )
    assert f"'p': {grant}." in message
    assert "Fix: list the actions the code calls" in message


def test_a_roles_inline_policies_are_checked_too():
    role = {
        "assumeRolePolicy": policy_document({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "inlinePolicies": [
            {"name": "all", "policy": policy_document({"Effect": "Allow", "Action": "*"})}
        ],
    }
    assert len(check(platform.iam_no_wildcard_actions, "aws:iam/role:Role", role)) == 1


ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


@pytest.mark.parametrize(
    ("arn", "why"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess allows * on every resource"),
        ("arn:aws:iam::aws:policy/IAMFullAccess", "IAMFullAccess allows iam:*"),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", "AmazonS3FullAccess allows s3:*"),
        ("arn:aws:iam::aws:policy/PowerUserAccess", "NotAction"),
        ("arn:aws:iam::aws:policy/job-function/SystemAdministrator", "iam:PassRole"),
        ("arn:aws:iam::aws:policy/AmazonKinesisFullAccess", "every action of its service"),
        ("arn:aws-us-gov:iam::aws:policy/SecretsManagerReadWrite", "secretsmanager:*"),
        # Read-only by name, but ssm:Get* on * reads every parameter: refused like the same
        # statement written inline.
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", "ssm:Get*"),
        ("arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess", "ssm:Get*"),
    ],
)  # fmt: skip
def test_attaching_a_dangerous_aws_managed_policy_is_refused_saying_why(arn, why):
    (message,) = check(platform.iam_no_wildcard_actions, ATTACHMENT, {"policyArn": arn}, name="t")
    assert f"RolePolicyAttachment 't' attaches {arn}: " in message
    assert why in message


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        # Customer-managed: judged by its document where the stack holds it (below).
        "arn:aws:iam::123456789012:policy/AdministratorAccess",
    ],
)
def test_narrow_managed_policies_pass(arn):
    assert check(platform.iam_no_wildcard_actions, ATTACHMENT, {"policyArn": arn}) == []


def test_the_dangerous_list_is_dated_and_each_entry_says_why():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", iam_grants.MANAGED_POLICIES_REVIEWED)
    assert {"AdministratorAccess", "IAMFullAccess", "AmazonS3FullAccess"} <= set(
        iam_grants.DANGEROUS_MANAGED_POLICIES
    )
    assert all(len(why) > 10 for why in iam_grants.DANGEROUS_MANAGED_POLICIES.values())


PASS_ROLE_AND_SECRETS = {
    "Effect": "Allow",
    "Action": ["iam:PassRole", "secretsmanager:GetSecretValue"],
    "Resource": "*",
}


def test_an_inline_pass_role_and_secret_read_on_everything_is_refused_for_both():
    document = {"policy": policy_document(PASS_ROLE_AND_SECRETS)}
    passes, reads = check(
        platform.iam_no_wildcard_actions, "aws:iam/rolePolicy:RolePolicy", document, name="p"
    )
    assert "'p': a statement allows iam:PassRole on every role" in passes
    assert "'p': a statement allows reading every secret (secretsmanager:GetSecretValue on *)" in (
        reads
    )


@pytest.mark.parametrize(
    ("statement", "grant"),
    [
        ({"Effect": "Allow", "Action": "iam:Pass*", "Resource": "*"}, "iam:PassRole on every role"),
        ({"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"}, "secretsmanager:GetSecretValue on *"),
        ({"Effect": "Allow", "Action": "ssm:GetParameter*", "NotResource": "arn:aws:ssm:us-east-1:1:parameter/x"}, "ssm:GetParameter, ssm:GetParameterHistory, ssm:GetParameters, ssm:GetParametersByPath on *"),
        ({"Effect": "Allow", "Action": "kms:decrypt", "Resource": "arn:aws:kms:*:*:*"}, "kms:Decrypt on *"),
        ({"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"}, "secretsmanager:BatchGetSecretValue on *"),
        ({"Effect": "Allow", "Action": "ssm:GetParameterHistory", "Resource": "*"}, "ssm:GetParameterHistory on *"),
    ],
    ids=["pass-role pattern", "secret read pattern", "not-resource", "any key, any case", "batch secret read", "parameter history"],
)  # fmt: skip
def test_patterns_that_cover_pass_role_or_secret_reads_on_everything_are_refused(statement, grant):
    (message,) = check(
        platform.iam_no_wildcard_actions,
        "aws:iam/policy:Policy",
        {"policy": policy_document(statement)},
    )
    assert grant in message


def test_pass_role_and_secret_reads_on_named_resources_pass():
    statement = {
        "Effect": "Allow",
        "Action": ["iam:PassRole", "secretsmanager:GetSecretValue", "kms:Decrypt"],
        "Resource": [
            "arn:aws:iam::123456789012:role/app-task",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "arn:aws:kms:us-east-1:123456789012:key/1234",
        ],
    }
    document = {"policy": policy_document(statement)}
    assert check(platform.iam_no_wildcard_actions, "aws:iam/policy:Policy", document) == []


def test_attaching_this_stacks_customer_managed_policy_with_a_wildcard_document_is_refused():
    wildcard_props = {
        "arn": "arn:aws:iam::123456789012:policy/app-extra",
        "policy": policy_document({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
    }
    wildcard = resource("aws:iam/policy:Policy", "app-extra", wildcard_props)
    narrow = resource(
        "aws:iam/policy:Policy",
        "app-narrow",
        {
            "arn": "arn:aws:iam::123456789012:policy/app-narrow",
            "policy": policy_document(
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
            ),
        },
    )
    by_value = resource(
        ATTACHMENT,
        "by-arn",
        {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/app-extra"},
    )
    # In a preview the ARN is unknown: the engine's dependency record still links them.
    by_dependency = depends(
        resource(ATTACHMENT, "by-dependency", {"role": "r"}), "policyArn", wildcard
    )
    fine = resource(
        ATTACHMENT,
        "fine",
        {"role": "r", "policyArn": "arn:aws:iam::123456789012:policy/app-narrow"},
    )
    found = check_stack(
        platform.iam_no_broad_attachments, [wildcard, narrow, by_value, by_dependency, fine]
    )
    assert [u for _, u in found] == [by_value.urn, by_dependency.urn]
    assert found[0][0] == (
        "RolePolicyAttachment 'by-arn' attaches Policy 'app-extra', whose a statement allows s3:*. "
        "Fix: narrow that policy's statements to the actions and resources the code uses."
    )
    # The policy itself is refused too, by the resource check.
    assert check(platform.iam_no_wildcard_actions, "aws:iam/policy:Policy", wildcard_props)


# --- production --------------------------------------------------------------------------------

PRODUCTION_RESOURCE_POLICIES = [
    production.production_high_availability,
    production.production_deletion_protection,
    production.production_private_tasks,
]


@pytest.mark.usefixtures("other_stack")
def test_production_rules_leave_other_stacks_alone():
    small = ecs_service(
        desiredCount=1, networkConfiguration={"subnets": ["a"], "assignPublicIp": True}
    )
    for policy in PRODUCTION_RESOURCE_POLICIES:
        assert check(policy, SERVICE, small) == []
        assert check(policy, ALB, {"enableDeletionProtection": False}) == []
    _, resources = edge_stack({"protocol": "HTTP", "port": 80, "defaultActions": [FORWARD]})
    assert check_stack(production.production_real_domain, resources) == []


@pytest.mark.usefixtures("production_stack")
def test_a_production_service_with_two_tasks_in_two_zones_and_private_ips_passes():
    for policy in PRODUCTION_RESOURCE_POLICIES:
        assert check(policy, SERVICE, ecs_service()) == []


@pytest.mark.usefixtures("production_stack")
def test_a_production_service_with_one_task_in_one_subnet_is_refused_for_both():
    single = ecs_service(desiredCount=1, networkConfiguration={"subnets": ["subnet-a"]})
    tasks, zones = check(production.production_high_availability, SERVICE, single, name="web")
    assert "Service 'web' runs 1 task(s) on a production stack" in tasks
    assert "`pulumi config set --path scaling.minCount 2`" in tasks
    assert (
        "places its tasks in 1 subnet(s)" in zones
        and "`pulumi config set --path network.availabilityZones 2`" in zones
    )


@pytest.mark.usefixtures("production_stack")
def test_production_tasks_with_public_ips_are_refused():
    public = ecs_service(networkConfiguration={"subnets": ["a", "b"], "assignPublicIp": True})
    (message,) = check(production.production_private_tasks, SERVICE, public, name="web")
    assert "Service 'web' gives its tasks public IPs on a production stack" in message
    assert "`pulumi config set --path network.nat per-az`" in message


@pytest.mark.usefixtures("production_stack")
@pytest.mark.parametrize(
    ("type_", "key", "fix"),
    [
        (
            ALB,
            "enableDeletionProtection",
            "pulumi config set --path loadBalancer.deletionProtection true",
        ),
        (RDS, "deletionProtection", "Fix: set deletion_protection=True"),
    ],
)
def test_production_load_balancers_and_databases_must_refuse_deletion(type_, key, fix):
    assert check(production.production_deletion_protection, type_, {key: True}) == []
    (message,) = check(production.production_deletion_protection, type_, {key: False}, name="x")
    assert "'x' can be deleted on a production stack" in message and fix in message


@pytest.mark.usefixtures("production_stack")
def test_a_production_stack_served_over_plain_http_is_refused():
    alb, resources = edge_stack({"protocol": "HTTP", "port": 80, "defaultActions": [FORWARD]})
    found = check_stack(production.production_real_domain, resources)
    assert [at for _, at in found] == [alb.urn, resources[1].urn]
    assert found[0][0].startswith("On a production stack: LoadBalancer 'edge-alb' has no HTTPS")
    assert "plain HTTP. Fix: `pulumi config set --path https.domain" in found[1][0]
    _, https = edge_stack(
        https_listener(), {"protocol": "HTTP", "port": 80, "defaultActions": [REDIRECT]}
    )
    assert check_stack(production.production_real_domain, https) == []


# --- containers and data (issue 25) ------------------------------------------------------------

HARDENED = {
    "readonlyRootFilesystem": True,
    "user": "10001:10001",
    "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
}
CONTAINER_POLICIES = [
    containers.container_read_only_root,
    containers.container_non_root_user,
    containers.container_not_privileged,
    containers.container_no_added_capabilities,
]


def test_a_read_only_unprivileged_container_without_added_capabilities_passes():
    for policy in CONTAINER_POLICIES:
        assert check(policy, TASK, task(container(**HARDENED))) == [], policy.name


@pytest.mark.parametrize("value", [False, None])
def test_a_container_with_a_writable_root_is_refused(value):
    spec = container(**{**HARDENED, "readonlyRootFilesystem": value})
    (message,) = check(containers.container_read_only_root, TASK, task(spec), name="app")
    assert "TaskDefinition 'app': container 'app' can write to its root filesystem" in message
    assert '"readonlyRootFilesystem": true' in message


@pytest.mark.parametrize("user", [None, "", "root", "0", "0:0", "root:app", "00:10001"])
def test_a_container_without_a_user_or_running_as_root_is_refused(user):
    spec = container(**HARDENED)
    spec.pop("user")
    if user is not None:
        spec["user"] = user
    (message,) = check(containers.container_non_root_user, TASK, task(spec), name="app")
    assert "root, which owns everything in the container" in message
    assert '"10001:10001"' in message


@pytest.mark.parametrize("user", ["10001", "10001:10001", "app", "app:0", "1000:root"])
def test_a_named_non_root_user_passes_whatever_its_group(user):
    spec = container(**{**HARDENED, "user": user})
    assert check(containers.container_non_root_user, TASK, task(spec)) == []


def test_a_privileged_container_is_refused():
    spec = container(**HARDENED, privileged=True)
    (message,) = check(containers.container_not_privileged, TASK, task(spec), name="app")
    assert "container 'app' is privileged" in message
    assert check(containers.container_not_privileged, TASK, task(container(privileged=False))) == []


def test_a_container_that_adds_a_capability_is_refused_naming_it():
    linux = {"capabilities": {"add": ["SYS_PTRACE", "NET_ADMIN"], "drop": ["ALL"]}}
    spec = container(**{**HARDENED, "linuxParameters": linux})
    (message,) = check(containers.container_no_added_capabilities, TASK, task(spec), name="app")
    assert "adds Linux capabilities (SYS_PTRACE, NET_ADMIN)" in message


def rds(**changes: Any) -> dict[str, Any]:
    return {
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "backupRetentionPeriod": 14,
        "deletionProtection": True,
    } | changes


@pytest.mark.usefixtures("production_stack")
def test_an_encrypted_private_database_with_two_weeks_of_backups_passes():
    for policy in data.POLICIES:
        assert check(policy, RDS, rds()) == [], policy.name


@pytest.mark.usefixtures("other_stack")
@pytest.mark.parametrize(
    ("changes", "policy", "text"),
    [
        ({"storageEncrypted": False}, data.rds_storage_encrypted, "stores its data, snapshots"),
        ({"storageEncrypted": None}, data.rds_storage_encrypted, "unencrypted"),
        ({"publiclyAccessible": True}, data.rds_not_publicly_accessible, "gets a public address"),
    ],
)
def test_an_unencrypted_or_public_database_is_refused_on_every_stack(changes, policy, text):
    (message,) = check(policy, RDS, rds(**changes), name="db")
    assert message.startswith("Instance 'db' ") and text in message


@pytest.mark.usefixtures("production_stack")
@pytest.mark.parametrize("days", [0, 1, 6, None])
def test_a_production_database_with_less_than_a_week_of_backups_is_refused(days):
    properties = rds(backupRetentionPeriod=days)
    (message,) = check(data.production_backup_retention, RDS, properties, name="db")
    assert f"keeps automated backups {days if days is not None else '(unset)'} day(s)" in message
    assert "`pulumi config set --path database.backupRetentionDays 7`" in message


@pytest.mark.usefixtures("other_stack")
def test_short_backups_and_no_access_logs_are_not_refused_outside_production():
    assert check(data.production_backup_retention, RDS, rds(backupRetentionPeriod=1)) == []
    assert check(production.production_load_balancer_access_logs, ALB, {}) == []
    vpc = resource("aws:ec2/vpc:Vpc", "edge-vpc", {})
    assert check_stack(production.production_vpc_flow_logs, [vpc]) == []
    assert check_stack(production.production_waf, [resource(ALB, "edge-alb", {})]) == []


@pytest.mark.usefixtures("production_stack")
@pytest.mark.parametrize(
    "logs",
    [None, {"enabled": False, "bucket": "logs"}, {"enabled": True}, {"bucket": "logs"}],
)
def test_a_production_load_balancer_without_access_logs_is_refused(logs):
    properties = {} if logs is None else {"accessLogs": logs}
    (message,) = check(production.production_load_balancer_access_logs, ALB, properties, name="x")
    assert "LoadBalancer 'x' writes no access logs on a production stack" in message
    assert "`pulumi config set --path loadBalancer.accessLogs true`" in message
    on = {"accessLogs": {"enabled": True, "bucket": "logs"}}
    assert check(production.production_load_balancer_access_logs, ALB, on) == []
    network_lb = {"loadBalancerType": "network"}
    assert check(production.production_load_balancer_access_logs, ALB, network_lb) == []


FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"


@pytest.mark.usefixtures("production_stack")
def test_a_production_vpc_without_a_flow_log_of_its_own_is_refused():
    vpc = resource("aws:ec2/vpc:Vpc", "edge-vpc", {"id": "vpc-1"})
    other = resource("aws:ec2/vpc:Vpc", "other-vpc", {"id": "vpc-2"})
    logs_other = resource(FLOW_LOG, "other-flow", {"vpcId": "vpc-2", "trafficType": "ALL"})
    found = check_stack(production.production_vpc_flow_logs, [vpc, other, logs_other])
    assert found == [
        (
            "On a production stack: Vpc 'edge-vpc' has no flow log, so nothing records the "
            "connections made to and from the tasks and the database (accepted or rejected). Fix: "
            "turn on the stack's VPC flow logs (in this project `pulumi config set --path "
            "network.flowLogs true`; otherwise an aws.ec2.FlowLog with vpc_id of this VPC and "
            "traffic_type ALL, delivered to CloudWatch Logs or S3).",
            vpc.urn,
        )
    ]
    # Linked by the engine's dependency record, as in a preview before the VPC has an id.
    logs = depends(resource(FLOW_LOG, "edge-flow", {"trafficType": "ALL"}), "vpcId", vpc)
    assert check_stack(production.production_vpc_flow_logs, [vpc, other, logs_other, logs]) == []


@pytest.mark.usefixtures("production_stack")
def test_a_production_load_balancer_without_a_waf_gets_an_advisory():
    alb = resource(ALB, "edge-alb", {"arn": "arn:alb"})
    internal = resource(ALB, "inside", {"arn": "arn:inside", "internal": True})
    (found,) = check_stack(production.production_waf, [alb, internal])
    assert found[0].startswith("On a production stack: LoadBalancer 'edge-alb' faces the internet")
    assert found[1] == alb.urn
    association = resource(WAF_ASSOCIATION, "edge-waf", {"resourceArn": "arn:alb"})
    assert check_stack(production.production_waf, [alb, internal, association]) == []


# --- The rendered stacks -----------------------------------------------------------------------


class Stack:
    """A rendered stack as the engine shows it to policies."""

    def __init__(self, rendered: Rendered, production_: bool, build_reason: str | None = None):
        self.rendered = rendered
        self.build_reason = build_reason
        self.inputs = {r.urn: copy.deepcopy(r.inputs) for r in rendered.resources}
        # Stack policies see outputs: what the mocks answered, with the id.
        self.outputs = {r.urn: copy.deepcopy(rendered.outputs_of(r)) for r in rendered.resources}
        self.production = production_

    def find(self, type_: str, name: str | None = None) -> str:
        return self.rendered.one(type_, name).urn

    def violations(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> list[tuple[str, str, str, str]]:
        """(level, policy, resource name, message) of every violation of every policy."""
        monkeypatch.setattr(props, "is_production", lambda: self.production)
        monkeypatch.setattr(platform, "build_reason", lambda: self.build_reason)
        findings = evaluate(
            guardrails.POLICIES,
            guardrails.PACK_NAME,
            self.rendered.resources,
            self.inputs,
            self.outputs,
        )
        return [(f.level, f.policy, f.resource, f.message) for f in findings]


def render_stack(stack: str, overrides: dict[str, Any] | None = None) -> Stack:
    rendered = render(overrides, stack=stack)
    # Read right after rendering, while the runtime holds this stack's config and name, as the
    # engine hands them to the pack.
    return Stack(rendered, props.is_production(), platform.build_reason())


@pytest.fixture(scope="module")
def stacks() -> dict[str, Stack]:
    return {stack: render_stack(stack) for stack in STACKS}


def test_the_prod_stack_is_production_and_the_dev_stack_is_not(stacks):
    assert stacks["prod"].production is True
    assert stacks["dev"].production is False


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_pass_every_policy(stacks, stack, monkeypatch):
    found = stacks[stack].violations(monkeypatch)
    assert [v for v in found if v[0] == "mandatory"] == []
    # Advisories would not block, but the committed stacks are meant to need none.
    assert [v for v in found if v[0] == "advisory"] == []


def test_a_dev_sized_stack_marked_production_breaks_the_production_rules(monkeypatch):
    stack = render_stack("dev", {"production": True})
    assert stack.production is True
    broken = sorted(
        {
            (policy, name)
            for level, policy, name, _ in stack.violations(monkeypatch)
            if level == "mandatory"
        }
    )
    assert broken == [
        ("production-high-availability", "web"),
        ("production-load-balancer-access-logs", "edge-alb"),
        ("production-private-tasks", "web"),
    ]


def _container_env(stack: Stack, name: str, value: str) -> None:
    definition = stack.inputs[stack.find(TASK, "app-definition")]
    containers = json.loads(definition["containerDefinitions"])
    containers[0]["environment"].append({"name": name, "value": value})
    definition["containerDefinitions"] = json.dumps(containers)


def _container(name: str = "app-definition", **changes: Any) -> Callable[[Stack], None]:
    """Change the first container of a task definition (``None`` removes a field)."""

    def mutate(stack: Stack) -> None:
        urn_ = stack.find(TASK, name)
        for view in (stack.inputs[urn_], stack.outputs[urn_]):
            containers_ = json.loads(view["containerDefinitions"])
            for key, value in changes.items():
                if value is None:
                    containers_[0].pop(key, None)
                else:
                    containers_[0][key] = value
            view["containerDefinitions"] = json.dumps(containers_)

    return mutate


def _set(type_: str, key: str, value: Any, name: str | None = None) -> Callable[[Stack], None]:
    def mutate(stack: Stack) -> None:
        urn_ = stack.find(type_, name)
        stack.inputs[urn_][key] = value
        stack.outputs[urn_][key] = value

    return mutate


def _open_tasks_to_the_vpc(stack: Stack) -> None:
    urn_ = stack.find(INGRESS, "edge-tasks-in-alb")
    for view in (stack.inputs[urn_], stack.outputs[urn_]):
        view.pop("referencedSecurityGroupId")
        view["cidrIpv4"] = "10.0.0.0/16"


def _http_forwards(stack: Stack) -> None:
    forward = [{"type": "forward", "targetGroupArn": "arn:tg"}]
    _set(LISTENER, "defaultActions", forward, "edge-http")(stack)


@pytest.mark.parametrize(
    ("mutate", "policy"),
    [
        (_set(ALB, "dropInvalidHeaderFields", False), "alb-drops-invalid-headers"),
        (_set(LISTENER, "sslPolicy", "ELBSecurityPolicy-2016-08", "edge-https"), "listener-tls-1-2-or-newer"),
        (_http_forwards, "http-listener-redirects-to-https"),
        (_http_forwards, "production-real-domain"),
        (_set(LISTENER, "protocol", "HTTP", "edge-https"), "alb-serves-https-only"),
        (_open_tasks_to_the_vpc, "tasks-only-from-load-balancer"),
        (_set(INGRESS, "fromPort", 22, "edge-alb-in-443-ipv4"), "no-world-open-ports"),
        (_set(SERVICE, "deploymentCircuitBreaker", {"enable": False, "rollback": False}), "ecs-service-safe-rollout"),
        (_set(TASK, "memory", "256", "app-definition"), "task-memory-fits-workers"),
        (lambda s: _container_env(s, "STRIPE_API_KEY", "sk_live_1"), "no-plain-secret-environment"),
        (_set(LOGS, "retentionInDays", 0, "app-logs"), "log-group-retention"),
        (_set(TARGET_GROUP, "deregistrationDelay", 300), "target-group-fast-drain"),
        (_set(SERVICE, "desiredCount", 1), "production-high-availability"),
        (_set(ALB, "enableDeletionProtection", False), "production-deletion-protection"),
        (_set(RDS, "deletionProtection", False), "production-deletion-protection"),
        (_set(SERVICE, "networkConfiguration", {"subnets": ["subnet-a", "subnet-b"], "assignPublicIp": True}), "production-private-tasks"),
        (_set(SERVICE, "deploymentMinimumHealthyPercent", 0), "ecs-service-keeps-healthy-tasks"),
        (_set(SERVICE, "alarms", {"alarmNames": ["prod-errors"], "enable": True, "rollback": False}), "production-deployment-alarms"),
        (_set(SERVICE, "enableExecuteCommand", True), "production-no-exec"),
        (_container(readonlyRootFilesystem=False), "container-read-only-root"),
        (_container("app-migration-definition", readonlyRootFilesystem=None), "container-read-only-root"),
        (_container(user=None), "container-non-root-user"),
        (_container("app-migration-definition", user="0"), "container-non-root-user"),
        (_container(privileged=True), "container-not-privileged"),
        (_container(linuxParameters={"capabilities": {"add": ["SYS_ADMIN"]}}), "container-no-added-capabilities"),
        (_set(RDS, "storageEncrypted", False), "rds-storage-encrypted"),
        (_set(RDS, "publiclyAccessible", True), "rds-not-publicly-accessible"),
        (_set(RDS, "backupRetentionPeriod", 3), "production-backup-retention"),
        (_set(ALB, "accessLogs", {"bucket": "logs", "enabled": False}), "production-load-balancer-access-logs"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_a_prod_rendering_made_bad_on_purpose_is_caught(stacks, monkeypatch, mutate, policy):
    stack = copy.copy(stacks["prod"])
    stack.inputs, stack.outputs = copy.deepcopy(stack.inputs), copy.deepcopy(stack.outputs)
    mutate(stack)
    assert policy in {name for _, name, _, _ in stack.violations(monkeypatch)}


def test_a_dev_repository_made_mutable_is_caught(stacks, monkeypatch):
    # prod promotes dev's image by digest: the only repository is dev's.
    stack = copy.copy(stacks["dev"])
    stack.inputs, stack.outputs = copy.deepcopy(stack.inputs), copy.deepcopy(stack.outputs)
    _set(ECR, "imageTagMutability", "MUTABLE")(stack)
    found = {name for _, name, _, _ in stack.violations(monkeypatch)}
    assert "ecr-scan-and-immutable-tags" in found


# --- image-built-once ---------------------------------------------------------------------------


def image_findings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    return [(level, name) for level, policy, name, _ in stack.violations(monkeypatch)
            if policy == "image-built-once"]  # fmt: skip


def test_a_stack_that_builds_its_image_without_a_reason_is_told_to_promote(monkeypatch):
    building = render_stack(
        "prod", {"image.promoteFrom": None, "image.sourceRepository": None, "image.digest": None}
    )
    assert image_findings(building, monkeypatch) == [("advisory", "app-image")]
    monkeypatch.setattr(platform, "build_reason", lambda: None)
    (message,) = check(platform.image_built_once, "docker:index/image:Image", {}, name="app-image")
    assert "pulumi config set --path image.promoteFrom dev" in message
    assert "pulumi config set --path image.buildReason" in message


def test_a_stated_build_reason_or_a_promoted_image_passes(stacks, monkeypatch):
    # dev builds, and says why (Pulumi.dev.yaml); prod promotes dev's image and builds nothing.
    assert stacks["dev"].build_reason
    assert image_findings(stacks["dev"], monkeypatch) == []
    assert image_findings(stacks["prod"], monkeypatch) == []


@pytest.mark.parametrize(("stack", "level"), [("prod", "mandatory"), ("dev", "advisory")])
def test_the_build_guardrail_is_mandatory_in_prod_and_advisory_in_dev(stack, level):
    config = json.loads((POLICY_DIR / f"config.{stack}.json").read_text())
    assert config["image-built-once"] == level
    assert platform.image_built_once.enforcement_level.value == "advisory"


def test_the_build_reason_is_read_from_the_stacks_image_settings(monkeypatch):
    import pulumi

    answers = {
        '{"buildReason": "the build stage"}': "the build stage",
        '{"buildReason": "  "}': None,
        '{"platform": "linux/amd64"}': None,
        "": None,
    }
    for raw, expected in answers.items():
        monkeypatch.setattr(pulumi.runtime, "get_config", lambda key, raw=raw: raw or None)
        assert platform.build_reason() == expected


# --- operations --------------------------------------------------------------------------------

ALARMS = {"alarmNames": ["prod-errors-1", "prod-latency-2"], "enable": True, "rollback": True}


@pytest.mark.parametrize(
    ("desired", "minimum", "refused"),
    [
        (1, 0, True),  # every task may stop at once
        (3, 0, True),
        (1, 50, False),  # 0.5 is rounded up to 1 healthy task
        (2, 50, False),
        (4, 100, False),
        (1, None, False),  # AWS's default minimum is 100 %
        (0, 0, False),  # nothing runs, nothing to keep
    ],
)
def test_a_rollout_that_can_drop_to_zero_healthy_tasks_is_refused(desired, minimum, refused):
    properties: dict[str, Any] = {"desiredCount": desired}
    if minimum is not None:
        properties["deploymentMinimumHealthyPercent"] = minimum
    found = check(operations.ecs_service_keeps_healthy_tasks, SERVICE, properties, name="web")
    assert bool(found) is refused
    if refused:
        assert "Service 'web' may take the app to zero healthy tasks" in found[0]
        assert "deployment_minimum_healthy_percent to 100" in found[0]


@pytest.mark.usefixtures("production_stack")
@pytest.mark.parametrize(
    "alarms",
    [
        None,
        {**ALARMS, "rollback": False},
        {**ALARMS, "enable": False},
        {**ALARMS, "alarmNames": []},
    ],
)
def test_a_production_service_without_rolling_back_deployment_alarms_is_refused(alarms):
    properties = {"desiredCount": 2} | ({"alarms": alarms} if alarms is not None else {})
    (message,) = check(operations.production_deployment_alarms, SERVICE, properties, name="web")
    assert "Service 'web' has no deployment alarms with rollback on a production stack" in message
    assert "alarms.enabled true" in message


@pytest.mark.usefixtures("production_stack")
def test_a_production_service_with_deployment_alarms_and_no_exec_passes():
    properties = {"desiredCount": 2, "alarms": ALARMS, "enableExecuteCommand": False}
    assert check(operations.production_deployment_alarms, SERVICE, properties) == []
    assert check(operations.production_no_exec, SERVICE, properties) == []


@pytest.mark.usefixtures("production_stack")
def test_ecs_exec_on_a_production_service_is_refused():
    (message,) = check(
        operations.production_no_exec, SERVICE, {"enableExecuteCommand": True}, name="web"
    )
    assert "Service 'web' allows ECS Exec on a production stack" in message


@pytest.mark.usefixtures("other_stack")
def test_deployment_alarms_and_exec_are_not_required_outside_production():
    properties = {"desiredCount": 1, "enableExecuteCommand": True}
    assert check(operations.production_deployment_alarms, SERVICE, properties) == []
    assert check(operations.production_no_exec, SERVICE, properties) == []


def test_a_stack_marked_production_with_exec_forced_on_breaks_only_the_exec_rule(monkeypatch):
    stack = render_stack("prod", {"service.exec": "on"})
    broken = {(p, n) for level, p, n, _ in stack.violations(monkeypatch) if level == "mandatory"}
    assert broken == {("production-no-exec", "web")}


def test_a_blue_green_production_stack_passes_every_policy(monkeypatch):
    stack = render_stack("prod", {"service.deploymentStrategy": "blue-green"})
    assert stack.violations(monkeypatch) == []


def _message_texts(module_path) -> list[str]:
    """Every string literal of a module, implicit concatenations joined, ``{}`` for each
    interpolated value: the text of each message as the pack writes it."""
    texts = []
    for node in ast.walk(ast.parse(module_path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            texts.append(
                "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            )
    return texts


def _cli_value(text: str) -> Any:
    """What `pulumi config set --path` stores for a value: a number or boolean if it reads as
    one, else the string."""
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.isdigit() else text


def test_every_config_command_in_a_policy_message_sets_a_real_setting_to_a_valid_value():
    from components.settings.model import GROUPS

    commands = [
        match
        for module in sorted((POLICY_DIR / "guardrails").glob("*.py"))
        for text in _message_texts(module)
        for match in re.findall(r"pulumi config set --path '?([\w.]+)(?:\[\d\])?'? (\S+?)`", text)
    ]
    assert len(commands) >= 10, commands
    for path, value in commands:
        group, _, member = path.partition(".")
        aliases = {f.alias or n: n for n, f in GROUPS[group].model_fields.items()}
        assert member in aliases, f"{path} is not a setting"
        if "{}" in value or value.startswith("<") or "ACCOUNT" in value:
            continue  # a placeholder the user fills in
        GROUPS[group].model_validate({member: _cli_value(value)})
