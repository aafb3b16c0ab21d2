"""Names and descriptions the program sends to AWS fit AWS's own rules, for any stack name.

The SDK's mocks accept any string; AWS does not. The expected patterns below are written out
from the AWS API references and terraform-provider-aws validators (cited at each), not taken
from components.naming, so the helper is checked against the rules rather than against itself.
"""

from __future__ import annotations

import re

import pytest

from components.naming import (
    DASHBOARD_NAME,
    ECS_FAMILY,
    IAM_ROLE_NAME,
    RDS_FINAL_SNAPSHOT,
    NameRule,
    stack_name,
    stack_name_problems,
)
from components.settings import SettingsError
from pulumi_harness import PROJECT, Rendered, render, stack_config

# EC2 API reference, IpRange / UserIdGroupPair / PrefixListId `Description` and
# CreateSecurityGroup `GroupDescription`: a-zA-Z0-9, spaces and ._-:/()#,@[]+=;{}!$* (IpRange
# also allows &). terraform-provider-aws internal/service/ec2/validate.go
# validSecurityGroupRuleDescription has the same set, but aws_vpc_security_group_*_rule uses no
# validator, so only EC2 itself refuses an apostrophe.
EC2_DESCRIPTION = re.compile(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}$")
# terraform-provider-aws internal/service/ecs/task_definition.go resourceTaskDefinition `family`
# and internal/service/cloudwatch/validate.go validDashboardName.
FAMILY_OR_DASHBOARD = re.compile(r"^[A-Za-z0-9_-]{1,255}$")

SG_TYPES = (
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
)


@pytest.fixture(scope="module")
def dev() -> Rendered:
    return render(stack="dev")


@pytest.fixture(scope="module")
def dotted() -> Rendered:
    return render(stack="qa.eu", base=stack_config("dev"))


def test_security_group_and_rule_descriptions_use_only_characters_ec2_accepts(dev):
    descriptions = {r.name: r.get("description") for r in dev.resources if r.type in SG_TYPES}
    assert descriptions
    refused = {n: d for n, d in descriptions.items() if d and not EC2_DESCRIPTION.match(d)}
    assert refused == {}


def test_a_stack_named_qa_eu_gets_task_definition_families_ecs_accepts(dotted):
    families = [r["family"] for r in dotted.all("aws:ecs/taskDefinition:TaskDefinition")]
    assert len(families) == 2
    assert all(FAMILY_OR_DASHBOARD.match(f) for f in families), families


def test_a_stack_named_qa_eu_gets_a_dashboard_name_cloudwatch_accepts(dotted):
    name = dotted.one("aws:cloudwatch/dashboard:Dashboard")["dashboardName"]
    assert FAMILY_OR_DASHBOARD.match(name), name


def test_existing_stacks_keep_their_names(dev):
    # A changed family or dashboard name replaces the resource on a live stack.
    families = sorted(r["family"] for r in dev.all("aws:ecs/taskDefinition:TaskDefinition"))
    assert families == [f"{PROJECT}-dev", f"{PROJECT}-dev-migration"]
    assert dev.one("aws:cloudwatch/dashboard:Dashboard")["dashboardName"] == f"{PROJECT}-dev"


def test_a_name_that_fits_its_rule_is_returned_unchanged():
    assert stack_name(ECS_FAMILY, PROJECT, "prod", "migration") == f"{PROJECT}-prod-migration"
    assert stack_name(RDS_FINAL_SNAPSHOT, PROJECT, "prod", "final-0a1b2c3d") == (
        f"{PROJECT}-prod-final-0a1b2c3d"
    )


@pytest.mark.parametrize("stack", ["qa.eu", "qa_eu", "QA", "a" * 40, "x.-_y", "9lives"])
@pytest.mark.parametrize("rule", [ECS_FAMILY, DASHBOARD_NAME, RDS_FINAL_SNAPSHOT, IAM_ROLE_NAME])
def test_any_pulumi_stack_name_is_fitted_to_the_rule(rule, stack):
    name = stack_name(rule, PROJECT, stack, "migration")
    assert rule.problems(name) == []
    assert name.endswith("-migration")
    assert stack_name(rule, PROJECT, stack, "migration") == name  # deterministic


def test_stacks_that_differ_only_in_characters_aws_refuses_get_different_names():
    names = {stack_name(DASHBOARD_NAME, PROJECT, s) for s in ("qa.eu", "qa-eu", "qa_eu", "qa..eu")}
    assert len(names) == 4


def test_a_long_stack_name_is_cut_to_the_rule_with_a_hash_keeping_it_apart():
    target_group = NameRule("target group", "A-Za-z0-9-", 32, "test", no_edge_hyphen=True)
    one = stack_name(target_group, PROJECT, "a" * 40 + "1")
    two = stack_name(target_group, PROJECT, "a" * 40 + "2")
    assert len(one) == len(two) == 32
    assert one != two
    assert one.startswith(f"{PROJECT}-aaa")


def test_lower_case_rules_fold_upper_case_stack_names():
    rds = NameRule("RDS identifier", "a-z0-9-", 63, "test", first="a-z", lowercase=True)
    name = stack_name(rds, PROJECT, "QA")
    assert name == name.lower()
    assert rds.problems(name) == []


@pytest.mark.parametrize("stack", ["qa eu", "qa/eu", "a" * 101, ""])
def test_a_stack_name_pulumi_refuses_is_refused_naming_the_rule_and_a_fix(stack):
    (problem,) = stack_name_problems(PROJECT, stack)
    assert repr(stack) in problem
    assert "[A-Za-z0-9_.-]" in problem or "'.'" in problem
    assert "pulumi stack rename" in problem


def test_a_name_with_no_room_left_for_the_stack_is_refused_naming_the_rule():
    short = NameRule("short name", "A-Za-z0-9-", 12, "test")
    with pytest.raises(ValueError, match=r"short name: \[A-Za-z0-9-\]\{1,12\}"):
        stack_name(short, PROJECT, "dev", "migration")


def test_such_a_stack_is_refused_before_anything_is_created():
    with pytest.raises(SettingsError, match="pulumi stack rename qa-eu") as caught:
        render(stack="qa eu", base=stack_config("dev"))
    assert "nothing was created" in str(caught.value)


@pytest.mark.parametrize("stack", ["dev", "qa.eu", "QA_1", "_", "a" * 100])
def test_every_pulumi_stack_name_is_accepted(stack):
    assert stack_name_problems(PROJECT, stack) == []


def test_a_role_name_made_from_a_40_character_stack_is_cut_to_iams_64():
    import re

    import botocore.session

    name = stack_name(IAM_ROLE_NAME, PROJECT, "feature-" + "x" * 32, "execution")
    shape = botocore.session.get_session().get_service_model("iam").shape_for("roleNameType")
    assert len(name) <= shape.metadata["max"] == 64
    assert re.fullmatch(shape.metadata["pattern"], name)
    assert name.endswith("-execution")
