"""Network and data controls: TLS forced on the database, VPC flow logs, the default security
group closed, and the WAF in front of the load balancer.

Rendered under the SDK's mocks (every input and dependency the program sends); names and
request documents checked against the rules of the component that enforces them: botocore's
service models (WAF, IAM), terraform-provider-aws's validators (RDS parameter group names), and
the RDS API itself through moto.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from components.database import FORCE_SSL, parameter_group_family
from components.settings import POSTGRES_MAJORS, SettingsError
from iam_evaluation import allowed, botocore_problems, grammar_problems
from pulumi_harness import (
    ACCOUNT,
    EXISTING_VPC_SETTINGS,
    REGION,
    AwsMocks,
    Rendered,
    existing_vpc_mocks,
    render,
)

PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
INSTANCE = "aws:rds/instance:Instance"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
VPC = "aws:ec2/vpc:Vpc"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
PROD = {}  # Pulumi.prod.yaml as committed


class LogsMocks(AwsMocks):
    """Log groups with the ARN AWS gives them (the provider strips the trailing ``:*``)."""

    def new_resource(self, args):
        rid, state = super().new_resource(args)
        if args.typ == LOG_GROUP:
            state["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{args.name}"
        return rid, state


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render()


@pytest.fixture(scope="module")
def prod() -> Rendered:
    return render(PROD, stack="prod", mocks=LogsMocks())


# --- rds.force_ssl ------------------------------------------------------------------------------


class TestDatabaseTls:
    @pytest.mark.parametrize("major", POSTGRES_MAJORS)
    def test_every_allowed_version_gets_a_group_of_its_family_forcing_tls(self, major):
        rendered = render({"database.engineVersion": major, "database.appRole": False})
        group = rendered.one(PARAMETER_GROUP)
        assert group["family"] == f"postgres{major}"
        assert group["parameters"] == [
            {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"}
        ]
        instance = rendered.one(INSTANCE)
        assert instance["engineVersion"] == major
        assert instance["parameterGroupName"] == rendered.outputs_of(group)["name"]
        assert rendered.depends_on(instance, group)

    def test_the_family_is_named_as_botocores_rds_model_documents_it(self):
        # DescribeEngineDefaultParameters lists the valid families (postgres10..postgres14 in
        # this botocore), CreateDBClusterParameterGroup gives "RDS for PostgreSQL Example:
        # postgres13": postgres and the major, for the majors the model lists.
        model = botocore.session.get_session().get_service_model("rds")
        listed = model.shape_for("DescribeEngineDefaultParametersMessage").members[
            "DBParameterGroupFamily"
        ]
        documented = set(re.findall(r"<code>(postgres\d+)</code>", listed.documentation))
        assert {"postgres13", "postgres14"} <= documented
        assert {parameter_group_family(m) for m in ("13", "14")} <= documented
        example = model.shape_for("CreateDBClusterParameterGroupMessage").members[
            "DBParameterGroupFamily"
        ]
        assert "RDS for PostgreSQL</b> </p> <p>Example: <code>postgres13</code>" in (
            example.documentation
        )
        # The same form for the majors newer than the model's list.
        assert {parameter_group_family(m) for m in POSTGRES_MAJORS} == {
            "postgres14",
            "postgres15",
            "postgres16",
            "postgres17",
        }

    def test_the_group_name_pulumi_makes_passes_the_providers_validator(self, dev):
        # terraform-provider-aws internal/service/rds/validate.go validParamGroupName:
        # lowercase letters, digits and hyphens, a letter first, no "--", no hyphen last.
        name = dev.outputs_of(dev.one(PARAMETER_GROUP))["name"]
        assert re.fullmatch(r"[a-z][a-z0-9-]{0,254}", name) and "--" not in name
        assert not name.endswith("-")

    def test_rds_takes_the_parameter_as_sent(self, monkeypatch):
        for key, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
            monkeypatch.setenv(key, value)
        with mock_aws():
            rds = boto3.client("rds", region_name=REGION)
            rds.create_db_parameter_group(
                DBParameterGroupName="data-parameters-1a2b3c4",
                DBParameterGroupFamily=parameter_group_family("14"),
                Description="The app's PostgreSQL: TLS required (rds.force_ssl)",
            )
            rds.modify_db_parameter_group(
                DBParameterGroupName="data-parameters-1a2b3c4",
                Parameters=[
                    {
                        "ParameterName": FORCE_SSL[0],
                        "ParameterValue": FORCE_SSL[1],
                        "ApplyMethod": "immediate",
                    }
                ],
            )
            params = rds.describe_db_parameters(DBParameterGroupName="data-parameters-1a2b3c4")
            assert {(p["ParameterName"], p["ParameterValue"]) for p in params["Parameters"]} >= {
                ("rds.force_ssl", "1")
            }

    def test_no_group_without_a_managed_database(self):
        assert render({"database.mode": "off"}).all(PARAMETER_GROUP) == []


# --- flow logs ----------------------------------------------------------------------------------


class TestFlowLogs:
    def test_off_in_a_development_stack_by_default(self, dev):
        assert dev.all(FLOW_LOG) == []

    def test_on_in_production_for_the_stacks_vpc_with_every_flow(self, prod):
        (flow_log,) = prod.all(FLOW_LOG)
        vpc = prod.one(VPC)
        group = prod.one(LOG_GROUP, "network-guard-flow-logs")
        role = prod.one(ROLE, "network-guard-flow-logs")
        assert flow_log["vpcId"] == prod.outputs_of(vpc)["id"]
        assert flow_log["trafficType"] == "ALL"
        assert flow_log["logDestinationType"] == "cloud-watch-logs"
        assert flow_log["logDestination"] == prod.outputs_of(group)["arn"]
        assert flow_log["iamRoleArn"] == prod.outputs_of(role)["arn"]
        assert flow_log["maxAggregationInterval"] == 600

    def test_the_flow_log_waits_for_the_roles_permission(self, prod):
        flow_log = prod.one(FLOW_LOG)
        policy = prod.one(ROLE_POLICY, "network-guard-flow-logs")
        assert prod.depends_on(flow_log, policy)

    def test_kept_as_long_as_the_setting_says(self, prod):
        assert prod.one(LOG_GROUP, "network-guard-flow-logs")["retentionInDays"] == 90
        rendered = render(
            {"network.flowLogs": True, "network.flowLogRetentionDays": 365}, mocks=LogsMocks()
        )
        assert rendered.one(LOG_GROUP, "network-guard-flow-logs")["retentionInDays"] == 365

    def test_a_retention_cloudwatch_refuses_is_refused_with_the_setting(self):
        with pytest.raises(SettingsError) as caught:
            render({"network.flowLogRetentionDays": 100})
        (problem,) = caught.value.problems
        assert problem.startswith("fastapi-fargate:network.flowLogRetentionDays = 100:")
        assert "`pulumi config set --path network.flowLogRetentionDays 90` (the default)" in problem

    def test_only_the_flow_logs_service_of_this_account_may_use_the_role(self, prod):
        trust = json.loads(prod.one(ROLE, "network-guard-flow-logs")["assumeRolePolicy"])
        assert grammar_problems(trust, trust=True) == []
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*"},
        }

    def test_the_role_writes_its_own_log_group_and_nothing_else(self, prod):
        policy = prod.one(ROLE_POLICY, "network-guard-flow-logs")["policy"]
        assert grammar_problems(policy) == []
        assert (
            botocore_problems(
                "PutRolePolicy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": policy}
            )
            == ""
        )
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:network-guard-flow-logs"
        stream = f"{group}:log-stream:eni-0123456789abcdef0-all"
        assert allowed([policy], "logs:PutLogEvents", stream)
        assert allowed([policy], "logs:CreateLogStream", stream)
        app_logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:app-logs:log-stream:x"
        assert not allowed([policy], "logs:PutLogEvents", app_logs)
        assert not allowed([policy], "logs:DeleteLogGroup", group)
        assert not allowed([policy], "logs:GetLogEvents", stream)

    def test_an_existing_vpc_gets_flow_logs_but_keeps_its_default_group(self):
        rendered = render(
            {**EXISTING_VPC_SETTINGS, "network.flowLogs": True}, mocks=existing_vpc_mocks()
        )
        assert rendered.one(FLOW_LOG)["vpcId"] == EXISTING_VPC_SETTINGS["network.vpcId"]
        assert rendered.all(DEFAULT_SG) == []

    def test_production_cannot_turn_them_off(self):
        rendered = render({"network.flowLogs": False}, stack="prod")
        assert len(rendered.all(FLOW_LOG)) == 1


# --- the default security group -----------------------------------------------------------------


class TestDefaultSecurityGroup:
    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_the_new_vpcs_default_group_is_adopted_with_no_rule(self, stack):
        rendered = render(stack=stack)
        group = rendered.one(DEFAULT_SG)
        assert group["vpcId"] == rendered.outputs_of(rendered.one(VPC))["id"]
        assert rendered.depends_on(group, rendered.one(VPC))
        assert group["ingress"] == [] and group["egress"] == []

    def test_nothing_of_the_stack_uses_it(self, dev):
        # The provider's inline rules are absolute: a rule resource on it would fight them.
        default = dev.outputs_of(dev.one(DEFAULT_SG))["id"]
        for resource in dev.resources:
            if resource.type.startswith("aws:vpc/securityGroup") or resource.type.startswith(
                "aws:ec2/securityGroupRule"
            ):
                assert default not in json.dumps(resource.inputs)


# --- WAF ----------------------------------------------------------------------------------------


def _api_name(key: str) -> str:
    # Pulumi's camelCase input names are the API's member names, but for these spellings.
    special = {"cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled"}
    return special.get(key, key[:1].upper() + key[1:])


def _as_api(value: Any) -> Any:
    if isinstance(value, dict):
        return {_api_name(k): _as_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_api(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _pattern_problems(shape: Any, value: Any, where: str = "") -> list[str]:
    """botocore checks types, lengths and ranges, not ``pattern``: checked here from the model."""
    problems = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                problems += _pattern_problems(member, value[name], f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            problems += _pattern_problems(shape.member, item, f"{where}[{index}]")
    elif shape.type_name == "string" and isinstance(value, str):
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{where} = {value!r} does not match {pattern}")
    return problems


def create_web_acl_request(acl: Any, name: str) -> dict[str, Any]:
    inputs = {k: v for k, v in acl.inputs.items() if k not in ("tags", "tagsAll", "region")}
    return {"Name": name, **_as_api(inputs)}


class TestWaf:
    def test_off_in_a_development_stack_by_default(self, dev):
        assert dev.all(WEB_ACL) == [] and dev.all(ASSOCIATION) == []

    def test_on_in_production_on_the_load_balancer(self, prod):
        acl = prod.one(WEB_ACL)
        association = prod.one(ASSOCIATION)
        assert association["resourceArn"] == prod.outputs_of(prod.one(LOAD_BALANCER))["arn"]
        assert association["webAclArn"] == prod.outputs_of(acl)["arn"]
        assert prod.depends_on(association, acl)
        assert prod.depends_on(association, prod.one(LOAD_BALANCER))
        assert acl["scope"] == "REGIONAL"
        assert acl["defaultAction"] == {"allow": {}}

    def test_a_per_ip_rate_limit_then_awss_common_and_known_bad_input_rules(self, prod):
        rules = prod.one(WEB_ACL)["rules"]
        assert [(r["name"], r["priority"]) for r in rules] == [
            ("rate-limit-per-ip", 0),
            ("aws-common", 1),
            ("aws-known-bad-inputs", 2),
        ]
        rate = rules[0]
        assert rate["statement"]["rateBasedStatement"] == {
            "limit": 2000,
            "aggregateKeyType": "IP",
            "evaluationWindowSec": 300,
        }
        assert rate["action"] == {"block": {}}
        groups = [r["statement"]["managedRuleGroupStatement"] for r in rules[1:]]
        assert [(g["vendorName"], g["name"]) for g in groups] == [
            ("AWS", "AWSManagedRulesCommonRuleSet"),
            ("AWS", "AWSManagedRulesKnownBadInputsRuleSet"),
        ]
        assert all(r["overrideAction"] == {"none": {}} for r in rules[1:])
        assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in rules)

    def test_bodies_the_app_accepts_are_not_blocked_at_8_kb(self, prod):
        common = prod.one(WEB_ACL)["rules"][1]["statement"]["managedRuleGroupStatement"]
        assert common["ruleActionOverrides"] == [
            {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}
        ]
        small = render({"service.maxBodyBytes": 8192}, stack="prod")
        common = small.one(WEB_ACL)["rules"][1]["statement"]["managedRuleGroupStatement"]
        assert not common.get("ruleActionOverrides")

    def test_the_request_is_one_wafv2_accepts(self, prod):
        model = botocore.session.get_session().get_service_model("wafv2")
        shape = model.operation_model("CreateWebACL").input_shape
        request = create_web_acl_request(prod.one(WEB_ACL), "edge-waf-acl-1a2b3c4")
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert _pattern_problems(shape, request) == []

    def test_a_stack_name_with_dots_still_makes_a_valid_metric_name(self):
        rendered = render({"loadBalancer.waf": "on"}, stack="dev", mocks=AwsMocks())
        metric = rendered.one(WEB_ACL)["visibilityConfig"]["metricName"]
        assert re.fullmatch(r"^[\w#:\.\-/]+$", metric + ".eu_1")

    def test_the_rate_limit_follows_the_setting_within_wafs_bounds(self):
        rendered = render({"loadBalancer.waf": True, "loadBalancer.rateLimit": 300})
        rule = rendered.one(WEB_ACL)["rules"][0]
        assert rule["statement"]["rateBasedStatement"]["limit"] == 300
        with pytest.raises(SettingsError) as caught:
            render({"loadBalancer.waf": "on", "loadBalancer.rateLimit": 5})
        (problem,) = caught.value.problems
        assert problem.startswith("fastapi-fargate:loadBalancer.rateLimit = 5:")

    def test_the_production_stack_file_says_so_and_the_default_does_too(self):
        from plan.render import stack_config

        committed = stack_config("prod")
        assert committed["fastapi-fargate:loadBalancer"]["waf"] == "on"
        assert committed["fastapi-fargate:network"]["flowLogs"] is True
        # Without the keys, production still gets both (auto / always).
        bare = render({"loadBalancer.waf": None, "network.flowLogs": None}, stack="prod")
        assert len(bare.all(WEB_ACL)) == 1 and len(bare.all(FLOW_LOG)) == 1

    def test_production_may_turn_it_off(self):
        # Advisory there (the policy pack warns): a CDN's WAF in front may do the job.
        assert render({"loadBalancer.waf": "off"}, stack="prod").all(WEB_ACL) == []


# --- what they cost -----------------------------------------------------------------------------


def _estimate(stack: str) -> Any:
    from plan.cost import estimate
    from plan.document import build_plan
    from plan.render import ROOT
    from plan.stackfile import load_stack

    return estimate(build_plan(load_stack(ROOT, stack), policy=False))


@pytest.fixture(scope="module")
def cost() -> Any:
    return _estimate("prod")


class TestCost:
    @staticmethod
    def lines(cost: Any) -> dict[tuple[str, str], float | None]:
        return {(line.resource, line.item): line.monthly for line in cost.lines}

    def test_production_pays_the_web_acl_and_its_three_rules(self, cost):
        # AWS WAF pricing, us-east-1, March 2026: 5 USD per web ACL, 1 USD per rule a month.
        assert self.lines(cost)[("edge-waf-acl", "WAF web ACL")] == 5.00
        assert self.lines(cost)[("edge-waf-acl", "WAF rules and managed rule groups")] == 3.00
        assert any("WAF requests (0.6 USD per million" in n for n in cost.not_estimated)

    def test_production_pays_its_flow_logs_at_vended_log_ingestion(self, cost):
        # CloudWatch pricing, vended logs to CloudWatch Logs: 0.50 USD per GB (first 10 TB).
        item = ("network-guard-flow-log", "VPC flow logs (CloudWatch vended logs)")
        assert self.lines(cost)[item] == 0.50
        assert any(a.startswith("VPC flow logs write 1 GB a month") for a in cost.assumptions)

    def test_a_development_stack_pays_neither(self):
        items = {line.item for line in _estimate("dev").lines}
        assert not {i for i in items if i.startswith(("WAF", "VPC flow logs"))}
