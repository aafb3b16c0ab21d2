"""The diff rules ported for issue 25 and 26's resources, against the schemas they cite.

Each test states what the cited terraform-provider-aws schema says and checks that
``plan.provider_rules`` predicts it: which change replaces the resource, which is an update in
place, which inputs compare as sets.
"""

from __future__ import annotations

from plan import provider_rules as rules

PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FORCE_SSL = {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"}


def test_a_new_parameter_group_family_replaces_the_group():
    # internal/service/rds/parameter_group.go, resourceParameterGroup: family is ForceNew.
    p = rules.predict(
        PARAMETER_GROUP,
        {"family": "postgres16", "parameters": [FORCE_SSL]},
        {"family": "postgres17", "parameters": [FORCE_SSL]},
    )
    assert (p.action, p.replaced_by) == ("replace", ("family",))


def test_parameters_change_in_place_and_compare_without_order():
    # parameter is a TypeSet, applied by resourceParameterGroupUpdate (Modify / Reset).
    other = {"name": "log_min_duration_statement", "value": "500", "applyMethod": "immediate"}
    base = {"family": "postgres16", "description": "d"}
    p = rules.predict(
        PARAMETER_GROUP,
        {**base, "parameters": [FORCE_SSL]},
        {**base, "parameters": [FORCE_SSL, other]},
    )
    assert (p.action, p.updated) == ("update", ("parameters",))
    same = rules.predict(
        PARAMETER_GROUP,
        {**base, "parameters": [FORCE_SSL, other]},
        {**base, "parameters": [other, FORCE_SSL]},
    )
    assert same.action == "none"


def test_a_flow_log_changes_only_its_tags_in_place():
    # internal/service/ec2/vpc_flow_log.go: every argument but tags is ForceNew
    # (resourceLogFlowUpdate: "Tags only").
    base = {"vpcId": "vpc-1", "trafficType": "ALL", "maxAggregationInterval": 600, "tags": {}}
    assert rules.predict(FLOW_LOG, base, {**base, "tags": {"a": "b"}}).action == "update"
    p = rules.predict(FLOW_LOG, base, {**base, "maxAggregationInterval": 60})
    assert (p.action, p.replaced_by) == ("replace", ("maxAggregationInterval",))


def test_a_web_acl_updates_its_rules_in_place_and_an_association_is_only_replaced():
    # internal/service/wafv2/web_acl.go: rule is a TypeSet sent by UpdateWebACL; name and scope
    # are ForceNew. web_acl_association.go has no Update: both ARNs are ForceNew.
    rate = {"name": "rate", "priority": 0, "statement": {"rateBasedStatement": {"limit": 2000}}}
    lower = {**rate, "statement": {"rateBasedStatement": {"limit": 500}}}
    base = {"scope": "REGIONAL", "defaultAction": {"allow": {}}}
    assert (
        rules.predict(WEB_ACL, {**base, "rules": [rate]}, {**base, "rules": [lower]}).action
        == "update"
    )
    assert rules.predict(WEB_ACL, base, {**base, "scope": "CLOUDFRONT"}).action == "replace"
    p = rules.predict(
        ASSOCIATION,
        {"resourceArn": "a", "webAclArn": "w1"},
        {"resourceArn": "a", "webAclArn": "w2"},
    )
    assert (p.action, p.replaced_by) == ("replace", ("webAclArn",))


def test_a_renamed_role_is_replaced_and_its_inline_policies_follow_it():
    # internal/service/iam/role.go, ResourceRole: name is ForceNew; role_policy.go,
    # resourceRolePolicy: role is ForceNew.
    trust = {"Version": "2012-10-17", "Statement": []}
    role = rules.predict(
        ROLE, {"assumeRolePolicy": trust}, {"assumeRolePolicy": trust, "name": "x"}
    )
    assert (role.action, role.replaced_by) == ("replace", ("name",))
    policy = rules.predict(
        ROLE_POLICY, {"role": "a", "policy": "{}"}, {"role": "x", "policy": "{}"}
    )
    assert (policy.action, policy.replaced_by) == ("replace", ("role",))
    assert (
        rules.predict(
            ROLE_POLICY, {"role": "a", "policy": "{}"}, {"role": "a", "policy": "[]"}
        ).action
        == "update"
    )


def test_a_repository_policy_is_put_in_place():
    # internal/service/ecr/repository_policy.go: Create and Update are both
    # resourceRepositoryPolicyPut; repository is ForceNew.
    kind = "aws:ecr/repositoryPolicy:RepositoryPolicy"
    assert (
        rules.predict(
            kind, {"repository": "r", "policy": {"a": 1}}, {"repository": "r", "policy": {"a": 2}}
        ).action
        == "update"
    )
    assert (
        rules.predict(
            kind, {"repository": "r", "policy": {}}, {"repository": "s", "policy": {}}
        ).action
        == "replace"
    )


def test_a_secret_is_replaced_only_by_a_new_name():
    # internal/service/secretsmanager/secret.go, resourceSecret: name is ForceNew;
    # recovery_window_in_days is only read when the secret is deleted.
    kind = "aws:secretsmanager/secret:Secret"
    base = {"name": "p/dev/API_TOKEN", "recoveryWindowInDays": 0}
    assert rules.predict(kind, base, {**base, "recoveryWindowInDays": 7}).action == "update"
    assert rules.predict(kind, base, {**base, "name": "p/dev/OTHER"}).action == "replace"
