"""The AWS contract layer itself: each rule refuses what AWS refuses.

plan.aws_contract maps rendered resources to the AWS requests the provider sends and checks them
against botocore's service models and a table of rules botocore lacks. A layer that never fails
proves nothing, so every rule is fed a value AWS refuses (the rows carry one, from their cited
source) and a value it accepts; the three cases that stopped every first `pulumi up` (an
apostrophe in a security group rule description, a stack named qa.eu, a 33-character target
group name) are checked end to end from a resource as the mocks record it.
"""

from __future__ import annotations

import json

import pytest

from plan.aws_contract import (
    BOTOCORE,
    check_request,
    check_resource,
    model,
    operations,
    rule_counts,
    rules,
)
from plan.aws_contract.requests import AUTONAME_SUFFIX, BUILDERS, Request, requests_for
from plan.render import Resource


def resource(type_: str, logical: str, **inputs) -> Resource:
    return Resource(
        urn=f"urn:pulumi:dev::fastapi-fargate::{type_}::{logical}",
        type=type_,
        name=logical,
        inputs=inputs,
        parent="",
        dependencies=[],
        property_dependencies={},
        ignore_changes=[],
        secret_inputs=set(),
        delete_before_replace=False,
        protect=False,
    )


def _member(service: str, operation: str, path: str):
    """botocore's shape at ``path`` of the operation's input; KeyError if there is none."""
    shape = model.operation_model(service, operation).input_shape
    for part in path.split("."):
        name = part.removesuffix("[*]")
        shape = shape.members[name]
        if part.endswith("[*]"):
            shape = shape.member
    return shape


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: f"{r.operation}.{r.path}")
def test_every_rule_refuses_the_value_aws_refuses_and_accepts_a_valid_one(rule):
    assert rule.check(rule.refused), f"{rule.what} accepted {rule.refused!r}"
    assert rule.check(rule.accepted) == []


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: f"{r.operation}.{r.path}")
def test_every_rule_names_a_real_request_field_and_its_source(rule):
    # A typo in a path would make the rule silently check nothing.
    _member(rule.service, rule.operation, rule.path)
    assert (rule.service, rule.operation) in operations()
    assert rule.kind in (rules.API_REFERENCE, rules.PROVIDER)
    if rule.kind == rules.PROVIDER:
        assert "terraform-provider-aws internal/service/" in rule.source
    else:
        assert "API reference" in rule.source or "user guide" in rule.source


@pytest.mark.parametrize("rule", rules.REQUEST_RULES, ids=lambda r: r.what)
def test_every_request_rule_refuses_what_aws_refuses_and_accepts_a_valid_request(rule):
    assert rule.check(rule.refused)
    assert rule.check(rule.accepted) == []
    assert (rule.service, rule.operation) in operations()
    for member in {*rule.refused, *rule.accepted}:
        _member(rule.service, rule.operation, member)


def test_a_fargate_task_size_aws_does_not_offer_is_refused():
    definition = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "app-definition",
        family="app",
        containerDefinitions="[]",
        cpu="256",
        memory="4096",
        requiresCompatibilities=["FARGATE"],
    )
    (violation,) = check_resource(definition)
    assert "not a Fargate task size" in violation.rule


def test_every_covered_operation_is_in_botocore():
    for service, operation in operations():
        assert model.operation_model(service, operation).input_shape is not None


def test_an_apostrophe_in_a_security_group_rule_description_is_refused():
    rule = resource(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "edge-tasks-out",
        securityGroupId="sg-0123",
        ipProtocol="-1",
        cidrIpv4="0.0.0.0/0",
        description="Image pulls, AWS APIs and the app's upstreams",
    )
    (violation,) = check_resource(rule)
    assert (
        violation.field == "AuthorizeSecurityGroupEgress.IpPermissions[0].IpRanges[0].Description"
    )
    assert '"\'"' in violation.rule or "'''" in violation.rule
    assert violation.kind == rules.API_REFERENCE
    assert "IpRange" in violation.source


def test_a_group_rule_between_security_groups_is_checked_as_a_user_id_group_pair():
    rule = resource(
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        "data-tasks-out-db",
        securityGroupId="sg-0123",
        referencedSecurityGroupId="sg-0456",
        ipProtocol="tcp",
        fromPort=5432.0,
        toPort=5432.0,
        description="To the app's database",
    )
    (violation,) = check_resource(rule)
    assert violation.field.endswith("UserIdGroupPairs[0].Description")


def test_a_family_with_a_dot_is_refused_citing_the_provider_validator():
    definition = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "app-definition",
        family="fastapi-fargate-qa.eu",
        containerDefinitions=json.dumps([{"name": "app", "image": "nginx", "essential": True}]),
        cpu="256",
        memory="512",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
    )
    (violation,) = check_resource(definition)
    assert violation.field == "RegisterTaskDefinition.family"
    assert "task_definition.go" in violation.source


def test_a_dashboard_name_with_a_dot_is_refused():
    dashboard = resource(
        "aws:cloudwatch/dashboard:Dashboard",
        "dashboard",
        dashboardName="fastapi-fargate-qa.eu",
        dashboardBody="{}",
    )
    (violation,) = check_resource(dashboard)
    assert "validDashboardName" in violation.source


def test_a_33_character_target_group_name_is_refused():
    group = resource(
        "aws:lb/targetGroup:TargetGroup", "edge-tg", name="a" * 33, port=8000.0, protocol="HTTP"
    )
    violations = check_resource(group)
    assert [v.field for v in violations] == ["CreateTargetGroup.Name"]
    assert "33 characters" in violations[0].rule


def test_a_name_pulumi_makes_up_is_checked_as_aws_gets_it():
    # The logical name alone fits; with Pulumi's '-' and 7 hex characters it is 33 long.
    logical = "a-target-group-named-at-len25"
    assert len(logical) + len(AUTONAME_SUFFIX) > 32
    (violation,) = check_resource(
        resource("aws:lb/targetGroup:TargetGroup", logical, port=8000.0, protocol="HTTP")
    )
    assert violation.value == logical + AUTONAME_SUFFIX
    assert "a name Pulumi makes" in violation.rule


def test_botocore_bounds_enums_patterns_and_required_members_are_checked():
    request = Request(
        "elbv2",
        "CreateTargetGroup",
        {"Protocol": "HTTPX", "Port": 70000, "HealthCheckIntervalSeconds": 4},
    )
    found = {v.field: v for v in check_request(request)}
    assert set(found) == {
        "CreateTargetGroup.Name",
        "CreateTargetGroup.Protocol",
        "CreateTargetGroup.Port",
        "CreateTargetGroup.HealthCheckIntervalSeconds",
    }
    assert all(v.kind == BOTOCORE and "botocore" in v.source for v in found.values())
    assert "required" in found["CreateTargetGroup.Name"].rule
    assert "HTTP" in found["CreateTargetGroup.Protocol"].rule
    logs = Request("logs", "CreateLogGroup", {"logGroupName": "app logs"})
    (violation,) = check_request(logs)
    assert "pattern" in violation.rule


def test_container_definition_members_ecs_does_not_know_are_reported():
    definition = resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "app-definition",
        family="app",
        containerDefinitions=json.dumps(
            [{"name": "app", "image": "nginx", "stopTimeOut": 30, "cpu": "256"}]
        ),
    )
    fields = {v.field: v.rule for v in check_resource(definition)}
    assert "not a member" in fields["RegisterTaskDefinition.containerDefinitions[0].stopTimeOut"]
    assert "whole number" in fields["RegisterTaskDefinition.containerDefinitions[0].cpu"]


def test_a_secret_value_never_appears_in_a_violation():
    version = resource(
        "aws:secretsmanager/secretVersion:SecretVersion",
        "app-secrets-API_KEY",
        secretId="arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        secretString="x" * 70000,
    )
    version.secret_inputs = {"secretString"}
    (violation,) = check_resource(version)
    assert violation.value == "[secret]"
    assert "x" * 100 not in violation.message()


def test_a_resource_type_without_a_mapping_is_reported_not_passed():
    (violation,) = check_resource(resource("aws:sqs/queue:Queue", "jobs"))
    assert violation.kind == "coverage"


def test_every_mapped_type_sends_only_covered_operations():
    for type_, build in BUILDERS.items():
        sample = resource(type_, "sample")
        for request in build(sample):
            assert (request.service, request.operation) in operations(), type_
    assert requests_for(resource("fastapi-fargate:task:AppTask", "app")) == []


def test_rule_counts_come_from_all_three_sources():
    counts = rule_counts()
    assert counts[BOTOCORE] > 500
    assert counts[rules.API_REFERENCE] >= 10
    assert counts[rules.PROVIDER] >= 5
