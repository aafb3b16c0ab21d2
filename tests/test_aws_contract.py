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

from components.image import pull_policy
from plan.aws_contract import (
    BOTOCORE,
    check,
    check_request,
    check_resource,
    model,
    operations,
    rule_counts,
    rules,
    unmapped_types,
)
from plan.aws_contract.requests import AUTONAME_SUFFIX, BUILDERS, Request, requests_for
from plan.render import Resource
from pulumi_harness import ACCOUNT, render, stack_config


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


# --- The requests of the guard, database, WAF and promotion resources -----------------------

PULL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/fastapi-fargate-prod-execution"
# One stack with every one of them: the WAF and flow logs forced on in dev (its own VPC, so the
# default security group is adopted), another stack granted pulls from its repository.
GUARDED = {
    "loadBalancer.waf": "on",
    "network.flowLogs": True,
    "image.pullRoleArns": [PULL_ROLE],
}


@pytest.fixture(scope="module")
def guarded():
    return render(GUARDED, stack="qa.eu", base=stack_config("dev"))


def _requests(rendered, type_: str) -> list[Request]:
    (found,) = [r for r in rendered.resources if r.type == type_]
    return requests_for(found)


def test_the_guarded_stack_has_no_violation_and_no_unmapped_type(guarded):
    assert [v.message() for v in check(guarded)] == []
    assert unmapped_types(guarded) == []


def test_the_parameter_group_is_created_then_given_its_parameters(guarded):
    create, modify = _requests(guarded, "aws:rds/parameterGroup:ParameterGroup")
    assert create.operation == "CreateDBParameterGroup"
    assert create.params["DBParameterGroupName"] == "data-parameters" + AUTONAME_SUFFIX
    assert create.autonamed == {"DBParameterGroupName"}
    assert create.params["DBParameterGroupFamily"].startswith("postgres")
    assert modify.operation == "ModifyDBParameterGroup"
    assert modify.params == {
        "DBParameterGroupName": create.params["DBParameterGroupName"],
        "Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}
        ],
    }


def test_a_parameter_group_name_the_provider_refuses_is_reported():
    for bad in ("Data_Parameters", "data--parameters", "1data", "data-"):
        group = resource(
            "aws:rds/parameterGroup:ParameterGroup", "data-parameters", name=bad, family="x"
        )
        violations = check_resource(group)
        assert violations, bad
        assert {v.field for v in violations} == {"CreateDBParameterGroup.DBParameterGroupName"}
        assert all("validParamGroupName" in v.source for v in violations)
        assert {v.kind for v in violations} == {rules.PROVIDER}


def test_more_than_twenty_parameters_take_several_modify_requests_and_a_bad_method_is_refused():
    parameters = [{"name": f"p{i}", "value": "1", "applyMethod": "later"} for i in range(21)]
    group = resource(
        "aws:rds/parameterGroup:ParameterGroup", "data-parameters", family="postgres16",
        parameters=parameters,
    )  # fmt: skip
    operations = [r.operation for r in requests_for(group)]
    assert operations == ["CreateDBParameterGroup"] + ["ModifyDBParameterGroup"] * 2
    fields = [v.field for v in check_resource(group)]
    assert "ModifyDBParameterGroup.Parameters[0].ApplyMethod" in fields
    assert len(fields) == 21


def test_the_default_security_group_is_tagged_and_emptied_not_created(guarded):
    requests = _requests(guarded, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert [r.operation for r in requests] == [
        "CreateTags",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
    ]
    assert requests[0].params["Tags"] == [
        {"Key": "Name", "Value": "network-guard-default-no-rules"}
    ]


def test_a_rule_the_default_security_group_is_given_is_checked_like_any_rule():
    group = resource(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "network-guard-default-sg",
        vpcId="vpc-0123",
        ingress=[
            {
                "protocol": "tcp",
                "fromPort": 443.0,
                "toPort": 443.0,
                "cidrBlocks": ["10.0.0.0/16"],
                "description": "The VPC's clients",
            }
        ],
        egress=[],
    )
    (violation,) = check_resource(group)
    assert violation.field == (
        "AuthorizeSecurityGroupIngress.IpPermissions[0].IpRanges[0].Description"
    )
    (authorize,) = [r for r in requests_for(group) if r.operation.startswith("Authorize")]
    assert authorize.params["IpPermissions"][0]["FromPort"] == 443


def test_the_flow_log_records_all_traffic_of_the_vpc(guarded):
    (request,) = _requests(guarded, "aws:ec2/flowLog:FlowLog")
    assert request.operation == "CreateFlowLogs"
    assert request.params["ResourceType"] == "VPC"
    assert request.params["ResourceIds"] == [model.COMPUTED]
    assert request.params["TrafficType"] == "ALL"
    assert request.params["LogDestinationType"] == "cloud-watch-logs"
    assert request.params["MaxAggregationInterval"] == 600
    assert request.params["TagSpecifications"][0]["ResourceType"] == "vpc-flow-log"


def test_a_flow_log_interval_or_traffic_type_aws_refuses_is_reported():
    flow_log = resource(
        "aws:ec2/flowLog:FlowLog",
        "network-guard-flow-log",
        vpcId="vpc-0123",
        trafficType="all",
        maxAggregationInterval=300.0,
    )
    found = {v.field: v for v in check_resource(flow_log)}
    assert set(found) == {"CreateFlowLogs.TrafficType", "CreateFlowLogs.MaxAggregationInterval"}
    assert found["CreateFlowLogs.TrafficType"].kind == BOTOCORE
    assert "vpc_flow_log.go" in found["CreateFlowLogs.MaxAggregationInterval"].source


def test_the_web_acl_sends_its_rules_with_their_actions_and_metric_names(guarded):
    (request,) = _requests(guarded, "aws:wafv2/webAcl:WebAcl")
    params = request.params
    assert request.operation == "CreateWebACL"
    assert params["Scope"] == "REGIONAL"
    assert params["DefaultAction"] == {"Allow": {}}
    assert params["VisibilityConfig"]["MetricName"] == "fastapi-fargate-qa.eu-waf"
    assert params["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    rate, common, bad_inputs = params["Rules"]
    assert (rate["Name"], rate["Priority"], rate["Action"]) == (
        "rate-limit-per-ip",
        0,
        {"Block": {}},
    )
    assert rate["Statement"]["RateBasedStatement"] == {
        "Limit": 2000,
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
    }
    assert common["OverrideAction"] == {"None": {}}
    assert common["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    assert bad_inputs["Statement"]["ManagedRuleGroupStatement"]["Name"] == (
        "AWSManagedRulesKnownBadInputsRuleSet"
    )


def _web_acl(**changes):
    rule = {
        "name": "rate-limit-per-ip",
        "priority": 0.0,
        "action": {"block": {}},
        "statement": {
            "rateBasedStatement": {
                "limit": 2000.0,
                "aggregateKeyType": "IP",
                "evaluationWindowSec": 300.0,
            }
        },
        "visibilityConfig": {
            "metricName": "rate-limit-per-ip",
            "cloudwatchMetricsEnabled": True,
            "sampledRequestsEnabled": True,
        },
    }
    rule |= changes.pop("rule", {})
    inputs = {
        "scope": "REGIONAL",
        "defaultAction": {"allow": {}},
        "rules": [rule, *changes.pop("more_rules", [])],
        "visibilityConfig": {
            "metricName": "fastapi-fargate-dev-waf",
            "cloudwatchMetricsEnabled": True,
            "sampledRequestsEnabled": True,
        },
    } | changes
    return resource("aws:wafv2/webAcl:WebAcl", "edge-waf-acl", **inputs)


def test_a_valid_web_acl_has_no_violation():
    assert check_resource(_web_acl()) == []


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (
            {
                "visibilityConfig": {
                    "metricName": "fastapi fargate waf",
                    "sampledRequestsEnabled": True,
                    "cloudwatchMetricsEnabled": True,
                }
            },
            "CreateWebACL.VisibilityConfig.MetricName",
            "pattern",
        ),
        ({"rule": {"name": "rate.limit"}}, "CreateWebACL.Rules[0].Name", "pattern"),
        (
            {"description": "The app's load balancer"},
            "CreateWebACL.Description",
            "pattern",
        ),
        (
            {
                "rule": {
                    "statement": {"rateBasedStatement": {"limit": 5.0, "aggregateKeyType": "IP"}}
                }
            },
            "CreateWebACL.Rules[0].Statement.RateBasedStatement.Limit",
            "minimum 10",
        ),
        (
            {
                "rule": {
                    "statement": {
                        "rateBasedStatement": {
                            "limit": 100.0,
                            "aggregateKeyType": "IP",
                            "evaluationWindowSec": 180.0,
                        }
                    }
                }
            },
            "CreateWebACL.Rules[0].Statement.RateBasedStatement.EvaluationWindowSec",
            "60, 120, 300, 600",
        ),
        (
            {
                "rule": {
                    "visibilityConfig": {
                        "metricName": "All",
                        "sampledRequestsEnabled": True,
                        "cloudwatchMetricsEnabled": True,
                    }
                }
            },
            "CreateWebACL.Rules[0].VisibilityConfig.MetricName",
            "reserved",
        ),
        (
            {
                "more_rules": [
                    {
                        "name": "second",
                        "priority": 0.0,
                        "action": {"block": {}},
                        "statement": {
                            "rateBasedStatement": {"limit": 100.0, "aggregateKeyType": "IP"}
                        },
                        "visibilityConfig": {
                            "metricName": "second",
                            "sampledRequestsEnabled": True,
                            "cloudwatchMetricsEnabled": True,
                        },
                    }
                ]
            },
            "CreateWebACL.Rules",
            "priority 0",
        ),
        ({"scope": "regional"}, "CreateWebACL.Scope", "REGIONAL"),
    ],
    ids=[
        "metric name with spaces",
        "rule name with a dot",
        "description with an apostrophe",
        "rate limit under 10",
        "window of 180 s",
        "reserved metric name",
        "two rules of one priority",
        "scope in lower case",
    ],
)
def test_a_web_acl_value_aws_refuses_is_reported(change, field, says):
    (violation,) = check_resource(_web_acl(**change))
    assert violation.field == field
    assert says in violation.rule


def test_the_web_acl_is_associated_with_the_load_balancer(guarded):
    (request,) = _requests(guarded, "aws:wafv2/webAclAssociation:WebAclAssociation")
    assert request.operation == "AssociateWebACL"
    assert request.params == {"WebACLArn": model.COMPUTED, "ResourceArn": model.COMPUTED}


def test_an_association_without_its_web_acl_is_reported():
    association = resource(
        "aws:wafv2/webAclAssociation:WebAclAssociation",
        "edge-waf-association",
        resourceArn="arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1",
    )
    (violation,) = check_resource(association)
    assert violation.field == "AssociateWebACL.WebACLArn"
    assert "required" in violation.rule


def test_the_repository_policy_grants_the_promoting_roles_as_compact_json(guarded):
    (request,) = _requests(guarded, "aws:ecr/repositoryPolicy:RepositoryPolicy")
    assert request.operation == "SetRepositoryPolicy"
    text = request.params["policyText"]
    assert ": " not in text and ", " not in text
    (statement,) = json.loads(text)["Statement"]
    assert statement["Condition"]["StringEquals"]["aws:PrincipalArn"] == [PULL_ROLE]


def test_a_repository_policy_longer_than_ecr_takes_is_reported():
    roles = [f"arn:aws:iam::{ACCOUNT}:role/promoting-stack-{i:03}-execution" for i in range(300)]
    policy = resource(
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "app-image-promotion-pull",
        repository="app",
        policy=pull_policy(roles),
    )
    (violation,) = check_resource(policy)
    assert violation.field == "SetRepositoryPolicy.policyText"
    assert "maximum 10240" in violation.rule
