"""The load balancer: listeners, TLS, security groups, target group, DNS and the no-domain mode."""

from __future__ import annotations

import json
import logging

import pulumi
import pytest

from components.edge import build_edge
from components.settings import SettingsError, load_settings
from pulumi_harness import REGION, ZONE_ID, AwsMocks, Rendered, render

ALB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
RECORD = "aws:route53/record:Record"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
COMPONENT = "fastapi-fargate:load_balancer:LoadBalancer"

DOMAIN = {"https.domain": "api.example.com", "https.hostedZone": "example.com"}
ELB_ACCOUNT_ARN = "arn:aws:iam::127311923021:root"  # what AwsMocks answers for us-east-1


def render_edge(overrides: dict | None = None, mocks: AwsMocks | None = None) -> Rendered:
    def program() -> None:
        lb = build_edge(load_settings()).load_balancer
        pulumi.export("alb_sg", lb.alb_security_group_id)
        pulumi.export("task_sg", lb.task_security_group_id)
        pulumi.export("target_group_arn", lb.target_group_arn)
        pulumi.export("target_group_arn_suffix", lb.target_group_arn_suffix)
        pulumi.export("load_balancer_arn_suffix", lb.load_balancer_arn_suffix)
        pulumi.export("dns_name", lb.dns_name)
        pulumi.export("url", lb.url)
        pulumi.export("serving_listener", lb.serving_listener.urn)
        pulumi.export("has_certificate", lb.certificate_arn is not None)

    return render(overrides or {}, base={"aws:region": REGION}, program=program, mocks=mocks)


@pytest.fixture(scope="module")
def https() -> Rendered:
    return render_edge({**DOMAIN, "https.extraNames": ["www.example.com"]})


@pytest.fixture(scope="module")
def http_only() -> Rendered:
    return render_edge({})


def forwards_to_target_group(listener, r: Rendered) -> bool:
    actions = listener["defaultActions"]
    return (
        len(actions) == 1
        and actions[0]["type"] == "forward"
        and actions[0]["targetGroupArn"] == r.outputs["target_group_arn"]
    )


# --- listeners ----------------------------------------------------------------------------


def test_the_https_listener_serves_443_with_the_tls12_plus_policy_and_forwards(https):
    listener = https.one(LISTENER, "edge-https")
    assert (listener["port"], listener["protocol"]) == (443, "HTTPS")
    assert listener["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert forwards_to_target_group(listener, https)
    assert https.outputs["serving_listener"] == listener.urn


def test_the_ssl_policy_setting_reaches_the_https_listener():
    r = render_edge({**DOMAIN, "https.sslPolicy": "ELBSecurityPolicy-TLS13-1-3-2021-06"})
    assert r.one(LISTENER, "edge-https")["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-3-2021-06"


def test_an_ssl_policy_that_allows_tls_1_0_is_a_settings_error():
    with pytest.raises(SettingsError) as error:
        render_edge({**DOMAIN, "https.sslPolicy": "ELBSecurityPolicy-2016-08"})
    assert "fastapi-fargate:https.sslPolicy = ELBSecurityPolicy-2016-08" in str(error.value)


def test_the_https_listener_sends_hsts_for_a_year_by_default(https):
    value = https.one(LISTENER, "edge-https")[
        "routingHttpResponseStrictTransportSecurityHeaderValue"
    ]
    assert value == "max-age=31536000; includeSubDomains"


def test_the_hsts_max_age_setting_sets_the_header_and_0_sends_max_age_0():
    r = render_edge({**DOMAIN, "https.hstsMaxAge": 300})
    listener = r.one(LISTENER, "edge-https")
    assert listener["routingHttpResponseStrictTransportSecurityHeaderValue"] == (
        "max-age=300; includeSubDomains"
    )
    off = render_edge({**DOMAIN, "https.hstsMaxAge": 0}).one(LISTENER, "edge-https")
    # Sent, not left out: the provider keeps an attribute the program stops sending
    # (tests/test_live_changes.py), and max-age=0 makes browsers forget HSTS (RFC 6797 6.1.1).
    assert off["routingHttpResponseStrictTransportSecurityHeaderValue"] == "max-age=0"


def test_the_http_listener_redirects_to_https_443_with_301_keeping_host_path_and_query(https):
    listener = https.one(LISTENER, "edge-http")
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    [action] = listener["defaultActions"]
    assert action["type"] == "redirect"
    assert "targetGroupArn" not in action
    # Unset host, path and query default to #{host}, /#{path} and #{query}: the same URL.
    assert action["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}


def test_with_a_domain_there_are_exactly_the_two_listeners(https):
    assert sorted((x["port"], x["protocol"]) for x in https.all(LISTENER)) == [
        (80, "HTTP"),
        (443, "HTTPS"),
    ]
    alb = https.one(ALB)
    assert all(x.property_dependencies["loadBalancerArn"] == [alb.urn] for x in https.all(LISTENER))


# --- the load balancer --------------------------------------------------------------------


def test_the_alb_is_internet_facing_in_the_public_subnets_and_drops_invalid_headers(https):
    alb = https.one(ALB)
    assert alb["loadBalancerType"] == "application"
    assert alb["internal"] is False
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["securityGroups"] == [https.outputs["alb_sg"]]
    public = [x for x in https.all("aws:ec2/subnet:Subnet") if "-public-" in x.name]
    assert sorted(alb.property_dependencies["subnets"]) == sorted(
        [x.urn for x in public] + [https.one("aws:ec2/route:Route", "edge-public-internet").urn]
    )


def test_the_alb_idle_timeout_defaults_to_60_seconds_and_follows_the_setting(https):
    assert https.one(ALB)["idleTimeout"] == 60
    assert render_edge({**DOMAIN, "loadBalancer.idleTimeout": 120}).one(ALB)["idleTimeout"] == 120


@pytest.mark.parametrize(
    ("overrides", "protected"),
    [
        ({}, False),
        ({"loadBalancer.deletionProtection": True}, True),
        ({"production": True}, True),
    ],
)
def test_deletion_protection_is_off_for_dev_and_on_by_setting_or_for_production(
    overrides, protected
):
    alb = render_edge({**DOMAIN, **overrides}).one(ALB)
    assert alb["enableDeletionProtection"] is protected


def test_outputs_name_the_alb_and_target_group(https):
    assert https.outputs["dns_name"].endswith(".elb.amazonaws.com")
    assert https.outputs["load_balancer_arn_suffix"].startswith("app/edge-alb/")
    assert https.outputs["target_group_arn_suffix"].startswith("targetgroup/edge-tg/")
    assert https.outputs["url"] == "https://api.example.com"
    assert https.outputs["has_certificate"] is True


# --- security groups ----------------------------------------------------------------------


def rules(r: Rendered, type_: str, group_id: str) -> list[dict]:
    return [x.inputs for x in r.all(type_) if x["securityGroupId"] == group_id]


def test_the_alb_accepts_80_and_443_from_anywhere_over_ipv4_its_only_address_family(https):
    found = {
        (x["ipProtocol"], x["fromPort"], x["toPort"], x.get("cidrIpv4") or x.get("cidrIpv6"))
        for x in rules(https, INGRESS, https.outputs["alb_sg"])
    }
    assert found == {("tcp", port, port, "0.0.0.0/0") for port in (80, 443)}
    # An IPv4-only ALB (the default address type): a ::/0 rule would admit nothing.
    assert https.one(ALB).get("ipAddressType", "ipv4") == "ipv4"


def test_the_alb_sends_only_to_the_tasks_group_on_the_container_port(https):
    [egress] = rules(https, EGRESS, https.outputs["alb_sg"])
    assert egress["referencedSecurityGroupId"] == https.outputs["task_sg"]
    assert (egress["ipProtocol"], egress["fromPort"], egress["toPort"]) == ("tcp", 8000, 8000)
    assert "cidrIpv4" not in egress and "cidrIpv6" not in egress


def test_the_tasks_accept_only_the_alb_group_on_the_container_port(https):
    [ingress] = rules(https, INGRESS, https.outputs["task_sg"])
    assert ingress["referencedSecurityGroupId"] == https.outputs["alb_sg"]
    assert (ingress["ipProtocol"], ingress["fromPort"], ingress["toPort"]) == ("tcp", 8000, 8000)
    assert not any(k in ingress for k in ("cidrIpv4", "cidrIpv6", "prefixListId"))


def test_no_rule_opens_a_task_to_the_internet(https):
    for rule in rules(https, INGRESS, https.outputs["task_sg"]):
        assert rule.get("cidrIpv4") is None and rule.get("cidrIpv6") is None
    for group in https.all(SG):
        assert "ingress" not in group.inputs and "egress" not in group.inputs  # no inline rules


def test_the_tasks_may_reach_anywhere_out_for_image_pulls_and_aws_apis(https):
    [egress] = rules(https, EGRESS, https.outputs["task_sg"])
    assert (egress["ipProtocol"], egress["cidrIpv4"]) == ("-1", "0.0.0.0/0")


def test_the_container_port_setting_reaches_the_rules_and_the_target_group():
    r = render_edge({**DOMAIN, "service.containerPort": 9000})
    assert r.one(TARGET_GROUP)["port"] == 9000
    for rule in rules(r, EGRESS, r.outputs["alb_sg"]) + rules(r, INGRESS, r.outputs["task_sg"]):
        assert (rule["fromPort"], rule["toPort"]) == (9000, 9000)


def test_both_groups_are_in_the_vpc(https):
    vpc = https.one("aws:ec2/vpc:Vpc")
    for group in https.all(SG):
        assert group.property_dependencies["vpcId"] == [vpc.urn]


# --- target group -------------------------------------------------------------------------


def test_the_target_group_registers_task_ips_over_http_on_the_container_port(https):
    tg = https.one(TARGET_GROUP)
    assert (tg["targetType"], tg["protocol"], tg["port"]) == ("ip", "HTTP", 8000)
    assert tg.property_dependencies["vpcId"] == [https.one("aws:ec2/vpc:Vpc").urn]


def test_the_health_check_admits_a_task_after_two_10_second_checks_of_the_health_path(https):
    check = https.one(TARGET_GROUP)["healthCheck"]
    assert check["path"] == "/healthz"
    assert (check["interval"], check["healthyThreshold"], check["unhealthyThreshold"]) == (10, 2, 3)
    assert (check["timeout"], check["matcher"], check["protocol"]) == (5, "200", "HTTP")
    assert check["enabled"] is True and check["port"] == "traffic-port"


def test_the_health_check_path_follows_the_setting():
    r = render_edge({**DOMAIN, "service.healthCheckPath": "/livez"})
    assert r.one(TARGET_GROUP)["healthCheck"]["path"] == "/livez"


def test_the_deregistration_delay_is_30_seconds_by_default_and_follows_the_setting(https):
    assert https.one(TARGET_GROUP)["deregistrationDelay"] == 30
    r = render_edge({**DOMAIN, "loadBalancer.deregistrationDelay": 120})
    assert r.one(TARGET_GROUP)["deregistrationDelay"] == 120


# --- DNS ----------------------------------------------------------------------------------


def test_every_name_gets_an_alias_a_record_to_the_alb(https):
    aliases = [x for x in https.all(RECORD) if x["type"] == "A"]
    assert sorted(x["name"] for x in aliases) == ["api.example.com", "www.example.com"]
    for record in aliases:
        assert record["zoneId"] == ZONE_ID
        assert record["aliases"] == [
            {
                "name": https.outputs["dns_name"],
                "zoneId": "Z35SXDOTRQ7X7K",  # the ALB's canonical zone, as AwsMocks answers
                "evaluateTargetHealth": True,
            }
        ]
        assert record.property_dependencies["aliases"] == [https.one(ALB).urn]
        assert "allowOverwrite" not in record.inputs


# --- no-domain mode -----------------------------------------------------------------------


def test_without_a_domain_the_http_listener_forwards_and_nothing_else_listens(http_only):
    [listener] = http_only.all(LISTENER)
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    assert forwards_to_target_group(listener, http_only)
    assert http_only.outputs["serving_listener"] == listener.urn


def test_without_a_domain_there_is_no_certificate_and_no_dns_record(http_only):
    assert http_only.all("aws:acm/certificate:Certificate") == []
    assert http_only.all(RECORD) == []
    assert http_only.all("fastapi-fargate:certificate:Certificate") == []
    assert http_only.outputs["has_certificate"] is False
    assert http_only.outputs["url"] == f"http://{http_only.outputs['dns_name']}"


def test_without_a_domain_every_run_warns_that_it_is_http_only_and_how_to_add_one(caplog):
    with caplog.at_level(logging.WARNING):
        render_edge({})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        w.startswith("HTTP only") and "pulumi config set --path https.domain" in w for w in warnings
    )


def test_with_a_domain_there_is_no_http_only_warning(caplog):
    with caplog.at_level(logging.WARNING):
        render_edge(DOMAIN)
    assert not any("HTTP only" in r.getMessage() for r in caplog.records)


def test_a_production_stack_without_a_domain_is_a_settings_error():
    with pytest.raises(SettingsError) as error:
        render_edge({"production": True})
    assert "fastapi-fargate:https.domain: is required on a production stack" in str(error.value)


# --- access logs --------------------------------------------------------------------------


def test_access_logs_are_off_by_default(https):
    assert https.all(BUCKET) == []
    assert "accessLogs" not in https.one(ALB).inputs


def test_access_logs_go_to_a_private_sse_s3_bucket_the_alb_waits_for():
    r = render_edge({**DOMAIN, "loadBalancer.accessLogs": True})
    bucket, alb = r.one(BUCKET), r.one(ALB)
    assert alb["accessLogs"]["enabled"] is True
    assert alb.property_dependencies["accessLogs"] == [bucket.urn]
    assert r.one(BUCKET_POLICY).urn in alb.dependencies
    block = r.one(PUBLIC_ACCESS_BLOCK)
    assert all(
        block[k] is True
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    [rule] = r.one(ENCRYPTION)["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    for x in (block, r.one(ENCRYPTION), r.one(BUCKET_POLICY)):
        assert x.property_dependencies["bucket"] == [bucket.urn]


@pytest.mark.parametrize(("production", "force_destroy"), [(False, True), (True, False)])
def test_the_log_bucket_is_emptied_on_destroy_only_outside_production(production, force_destroy):
    r = render_edge({**DOMAIN, "loadBalancer.accessLogs": True, "production": production})
    assert r.one(BUCKET)["forceDestroy"] is force_destroy


def log_policy(r: Rendered) -> dict:
    return json.loads(r.one(BUCKET_POLICY)["policy"])


def test_the_log_bucket_lets_the_regions_elb_account_write_this_accounts_logs():
    policy = log_policy(render_edge({**DOMAIN, "loadBalancer.accessLogs": True}))
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": ELB_ACCOUNT_ARN}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Resource"].endswith("/AWSLogs/123456789012/*")
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_in_a_region_opened_after_august_2022_the_log_delivery_service_principal_writes():
    class NewRegion(AwsMocks):
        def call(self, args):
            if args.token == "aws:index/getRegion:getRegion":
                return {
                    "name": "ap-southeast-5",
                    "region": "ap-southeast-5",
                    "id": "ap-southeast-5",
                }
            return super().call(args)

    mocks = NewRegion()
    policy = log_policy(render_edge({**DOMAIN, "loadBalancer.accessLogs": True}, mocks=mocks))
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert not any(t == "aws:elb/getServiceAccount:getServiceAccount" for t, _ in mocks.invokes)


# --- structure ----------------------------------------------------------------------------


def test_every_load_balancer_resource_is_a_child_of_the_component():
    r = render_edge({**DOMAIN, "loadBalancer.accessLogs": True})
    component = r.one(COMPONENT)
    types = {
        ALB, LISTENER, TARGET_GROUP, SG, INGRESS, EGRESS, RECORD, BUCKET, BUCKET_POLICY,
        PUBLIC_ACCESS_BLOCK, ENCRYPTION,
    }  # fmt: skip
    assert {c.type for c in r.children(component)} == types
    aliases = [x for x in r.all(RECORD) if x["type"] == "A"]
    for x in [*aliases, *(x for t in types - {RECORD} for x in r.all(t))]:
        assert x.parent == component.urn
    assert component.parent == r.one("fastapi-fargate:network:Network").parent
