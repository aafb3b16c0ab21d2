"""What survives a mistake in production: Pulumi's ``protect`` on data and entrances.

A protected resource cannot be deleted, and the engine refuses to replace it while it is
protected in both the old state and the program (pulumi/pulumi
``pkg/resource/deploy/step_generator.go``, ``continueStepsFromDiff``). So in production the
database (a replacement is a new, empty database), the app's secrets, the load balancer, the
certificate and the DNS records are protected; nothing else is (a protected task definition or
listener would block every routine change), and nothing in dev. ``protection.allowReplacing``
lifts it, per part, for an update that means it.
"""

from __future__ import annotations

import pytest

from pulumi_harness import Rendered, render

SECRET = {"service.appSecrets": ["API_KEY"]}
PROTECTED_IN_PRODUCTION = {
    "database": {("aws:rds/instance:Instance", "data-postgres")},
    "secrets": {
        ("aws:secretsmanager/secret:Secret", "app-secrets-API_KEY"),
        ("aws:secretsmanager/secret:Secret", "app-secrets-API_TOKEN"),
    },
    "loadBalancer": {("aws:lb/loadBalancer:LoadBalancer", "edge-alb")},
    "certificate": {
        ("aws:acm/certificate:Certificate", "edge-certificate"),
        ("aws:acm/certificateValidation:CertificateValidation", "edge-validation"),
    },
    "dns": set(),  # filled from the stack's names below
}


def protected(rendered: Rendered) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in rendered.resources if r.protect}


def render_prod(overrides: dict | None = None) -> Rendered:
    return render({**SECRET, **(overrides or {})}, stack="prod")


@pytest.fixture(scope="module")
def prod() -> Rendered:
    return render_prod()


def expected(rendered: Rendered) -> dict[str, set[tuple[str, str]]]:
    records = {(r.type, r.name) for r in rendered.all("aws:route53/record:Record")}
    alias = {(t, n) for t, n in records if n.startswith("edge-alias-")}
    validation = records - alias
    assert alias and validation
    return {
        **PROTECTED_IN_PRODUCTION,
        "certificate": PROTECTED_IN_PRODUCTION["certificate"] | validation,
        "dns": alias,
    }


def test_production_protects_its_data_and_entrances_and_nothing_else(prod):
    assert protected(prod) == set().union(*expected(prod).values())


def test_a_dev_stack_protects_nothing():
    dev = render(SECRET)
    assert dev.all("aws:secretsmanager/secret:Secret")
    assert protected(dev) == set()


def test_allow_replacing_the_database_lifts_its_protection_only(prod):
    lifted = render_prod({"protection.allowReplacing": ["database"]})
    parts = expected(prod)
    assert protected(lifted) == set().union(*(v for k, v in parts.items() if k != "database"))


def test_allow_replacing_every_part_lifts_every_protection():
    lifted = render_prod({"protection.allowReplacing": sorted(PROTECTED_IN_PRODUCTION)})
    assert protected(lifted) == set()
