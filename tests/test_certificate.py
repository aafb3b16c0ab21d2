"""The certificate: ACM with DNS validation in the hosted zone, or an existing certificate ARN."""

from __future__ import annotations

import hashlib

import pulumi
import pytest

from components.certificate import Certificate, CertificateArgs, HostedZone
from components.edge import build_edge
from components.settings import HttpsSettings, SettingsError, load_settings
from pulumi_harness import REGION, ZONE_ID, AwsMocks, Rendered, render

CERTIFICATE = "aws:acm/certificate:Certificate"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"
RECORD = "aws:route53/record:Record"
LISTENER = "aws:lb/listener:Listener"
COMPONENT = "fastapi-fargate:certificate:Certificate"

DOMAIN = {"https.domain": "api.example.com", "https.hostedZone": "example.com"}
THREE_NAMES = {**DOMAIN, "https.extraNames": ["www.example.com", "app.example.com"]}
EXISTING_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER_ZONE_ID = "Z9876543210ZYXWVUTSRQ"


def render_edge(overrides: dict, mocks: AwsMocks | None = None) -> Rendered:
    def program() -> None:
        edge = build_edge(load_settings())
        pulumi.export("certificate_arn", edge.load_balancer.certificate_arn)

    return render(overrides, base={"aws:region": REGION}, program=program, mocks=mocks)


def expected_validation(name: str) -> tuple[str, str]:
    """The CNAME name and value AwsMocks has ACM give for ``name`` (derived from the name)."""
    return (
        f"_{hashlib.md5(name.encode()).hexdigest()}.{name}.",
        f"_{hashlib.sha1(name.encode()).hexdigest()}.acm-validations.aws.",
    )


def validation_records(r: Rendered) -> list:
    return [x for x in r.all(RECORD) if x.get("type") == "CNAME"]


# --- the ACM certificate ------------------------------------------------------------------


def test_the_certificate_covers_the_domain_and_extra_names_validated_by_dns():
    certificate = render_edge(THREE_NAMES).one(CERTIFICATE)
    assert certificate["domainName"] == "api.example.com"
    assert certificate["subjectAlternativeNames"] == ["www.example.com", "app.example.com"]
    assert certificate["validationMethod"] == "DNS"


def test_each_name_gets_its_own_validation_record_matched_by_domain_name_not_position():
    # AwsMocks returns the validation options in reverse order of the names.
    r = render_edge(THREE_NAMES)
    records = validation_records(r)
    assert len(records) == 3
    for name in ("api.example.com", "www.example.com", "app.example.com"):
        record = r.one(RECORD, f"edge-validation-{name}")
        record_name, value = expected_validation(name)
        assert record["name"] == record_name
        assert record["records"] == [value]
        assert record["type"] == "CNAME"
        assert record["zoneId"] == ZONE_ID
        assert record["allowOverwrite"] is True


def test_the_validation_waits_for_the_certificate_and_every_record_fqdn():
    r = render_edge(THREE_NAMES)
    validation = r.one(VALIDATION)
    records = validation_records(r)
    assert sorted(validation["validationRecordFqdns"]) == sorted(x["name"] for x in records)
    assert sorted(validation.property_dependencies["validationRecordFqdns"]) == sorted(
        x.urn for x in records
    )
    assert validation.property_dependencies["certificateArn"] == [r.one(CERTIFICATE).urn]


def test_the_https_listener_gets_the_certificate_only_through_the_validation():
    r = render_edge(DOMAIN)
    https = r.one(LISTENER, "edge-https")
    assert r.one(VALIDATION).urn in https.property_dependencies["certificateArn"]
    assert r.depends_on(https, r.one(VALIDATION))
    assert https["certificateArn"] == r.outputs["certificate_arn"]


def test_a_wildcard_and_its_apex_share_one_validation_record():
    # The settings accept no wildcard today; the component must still not create two records
    # for the one name ACM asks to validate for both.
    https = HttpsSettings.model_construct(
        domain="example.com",
        extra_names=["*.example.com"],
        certificate_arn=None,
        hosted_zone="example.com",
    )
    r = render(
        {},
        base={"aws:region": REGION},
        program=lambda: Certificate(
            "cert", CertificateArgs(https, HostedZone(ZONE_ID, "example.com"))
        ),
    )
    assert r.one(CERTIFICATE)["subjectAlternativeNames"] == ["*.example.com"]
    assert [x.name for x in validation_records(r)] == ["cert-validation-example.com"]
    assert r.one(VALIDATION)["validationRecordFqdns"] == [validation_records(r)[0]["name"]]


def test_every_certificate_resource_is_a_child_of_the_certificate_component():
    r = render_edge(THREE_NAMES)
    component = r.one(COMPONENT)
    assert {c.type for c in r.children(component)} == {CERTIFICATE, RECORD, VALIDATION}
    for x in [r.one(CERTIFICATE), r.one(VALIDATION), *validation_records(r)]:
        assert x.parent == component.urn


# --- an existing certificate --------------------------------------------------------------


def test_an_existing_certificate_arn_creates_no_acm_resources_and_goes_to_the_listener():
    r = render_edge({**DOMAIN, "https.certificateArn": EXISTING_ARN})
    assert r.all(CERTIFICATE) == [] and r.all(VALIDATION) == []
    assert validation_records(r) == []
    assert r.children(r.one(COMPONENT)) == []
    assert r.one(LISTENER, "edge-https")["certificateArn"] == EXISTING_ARN
    assert r.outputs["certificate_arn"] == EXISTING_ARN


# --- the hosted zone ----------------------------------------------------------------------


def test_a_zone_given_by_id_is_looked_up_and_its_id_used_for_every_record():
    mocks = AwsMocks()
    mocks.zones = {"example.com": OTHER_ZONE_ID}
    r = render_edge(
        {"https.domain": "api.example.com", "https.hostedZoneId": OTHER_ZONE_ID}, mocks=mocks
    )
    assert ("aws:route53/getZone:getZone", {"zoneId": OTHER_ZONE_ID}) in [
        (t, {k: v for k, v in a.items() if v is not None}) for t, a in r.invokes
    ]
    assert r.all(RECORD) and all(x["zoneId"] == OTHER_ZONE_ID for x in r.all(RECORD))


def test_a_zone_given_by_name_is_looked_up_among_public_zones():
    r = render_edge(DOMAIN)
    zone_calls = [a for t, a in r.invokes if t == "aws:route53/getZone:getZone"]
    assert zone_calls and all(
        a.get("name") == "example.com" and a.get("privateZone") is False for a in zone_calls
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"https.domain": "api.other.org"}, "fastapi-fargate:https.domain = api.other.org"),
        (
            {"https.domain": "api.example.com", "https.extraNames": ["www.other.org"]},
            "fastapi-fargate:https.extraNames = www.other.org",
        ),
    ],
)
def test_a_name_outside_a_zone_given_by_id_is_refused_before_anything_is_created(overrides, key):
    mocks = AwsMocks()
    with pytest.raises(SettingsError) as error:
        render_edge({**overrides, "https.hostedZoneId": ZONE_ID}, mocks=mocks)
    assert key in str(error.value)
    assert "is not inside the hosted zone example.com" in str(error.value)
    assert mocks.registered == []


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"https.hostedZone": "missing.example"}, "fastapi-fargate:https.hostedZone = "),
        ({"https.hostedZoneId": OTHER_ZONE_ID}, "fastapi-fargate:https.hostedZoneId = "),
    ],
)
def test_a_hosted_zone_aws_does_not_know_is_refused_with_the_fix(overrides, key):
    mocks = AwsMocks()
    domain = "api.missing.example" if "https.hostedZone" in overrides else "api.example.com"
    with pytest.raises(SettingsError) as error:
        render_edge({"https.domain": domain, **overrides}, mocks=mocks)
    message = str(error.value)
    assert key in message
    assert "no public Route 53 hosted zone found" in message
    assert "Fix: create the zone" in message
    assert mocks.registered == []


def test_a_private_zone_given_by_id_is_refused():
    class PrivateZone(AwsMocks):
        def call(self, args):
            result = super().call(args)
            if args.token == "aws:route53/getZone:getZone":
                result = {**result, "privateZone": True}
            return result

    mocks = PrivateZone()
    with pytest.raises(SettingsError) as error:
        render_edge({"https.domain": "api.example.com", "https.hostedZoneId": ZONE_ID}, mocks)
    assert f"fastapi-fargate:https.hostedZoneId = {ZONE_ID}: is a private hosted zone" in str(
        error.value
    )
    assert mocks.registered == []


# --- bad input the settings refuse on their own -------------------------------------------


def test_a_domain_outside_the_hosted_zone_named_is_a_settings_error():
    with pytest.raises(SettingsError) as error:
        render_edge({"https.domain": "api.other.org", "https.hostedZone": "example.com"})
    assert "fastapi-fargate:https.domain = api.other.org: is not inside the hosted zone" in str(
        error.value
    )


def test_an_extra_name_outside_the_hosted_zone_named_is_a_settings_error():
    with pytest.raises(SettingsError) as error:
        render_edge({**DOMAIN, "https.extraNames": ["www.other.org"]})
    assert "fastapi-fargate:https.extraNames = www.other.org: is not inside the hosted zone" in str(
        error.value
    )
