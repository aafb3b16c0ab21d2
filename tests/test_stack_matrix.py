"""Every stack the docs describe, and awkward stack names, render requests AWS accepts.

One matrix: the project defaults, the dev and prod stacks, each variant the docs describe (no
domain, an existing VPC, an external database, blue/green, arm64, per-AZ NAT, alarms off, exec
on/off, extra names, a prebuilt image, app secrets, access logs) and stack names with ``.``,
``_``, upper case and 40 characters. Each entry is rendered once (about a second each) and must
show zero AWS contract violations (plan.aws_contract) and no mandatory violation of the policy
pack (policy/, as ``pulumi preview --policy-pack policy`` would run it) but those an entry
breaks on purpose (plain HTTP without a domain, the documented first try).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from components.settings import SettingsError
from plan.aws_contract import check, check_resource
from plan.policies import Report, run_pack
from plan.render import Resource
from pulumi_harness import (
    ACCOUNT,
    EXISTING_VPC_SETTINGS,
    REGION,
    ROOT,
    AwsMocks,
    Rendered,
    existing_vpc_mocks,
    render,
    stack_config,
)

NO_DOMAIN = {"https.domain": None, "https.hostedZone": None}
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app@sha256:" + "ab" * 32
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shared/db-AbCdEf"
# Names only: the values live in Secrets Manager, set with `python -m ops STACK secrets set`.
APP_SECRETS = {"service.appSecrets": ["STRIPE_KEY", "WEBHOOK_SECRET"]}


@dataclass(frozen=True)
class Entry:
    stack: str = "dev"
    """The stack name the program runs as."""
    base: str = "dev"
    """Whose stack file (and policy config) it starts from; "" for none: the project defaults."""
    settings: dict[str, Any] = field(default_factory=dict)
    mocks: Callable[[], AwsMocks] = AwsMocks
    advised_by_policy: frozenset[str] = frozenset()
    """Advisory policies the entry meets on purpose: plain HTTP without a domain is the
    documented first try, which the pack lets a development stack do and says so."""


HTTP_ONLY = frozenset({"http-only-first-try"})


MATRIX: dict[str, Entry] = {
    "project defaults": Entry(stack="defaults", base="", advised_by_policy=HTTP_ONLY),
    "dev": Entry(),
    "prod": Entry(stack="prod", base="prod"),
    "no domain": Entry(settings=NO_DOMAIN, advised_by_policy=HTTP_ONLY),
    "existing VPC": Entry(settings=EXISTING_VPC_SETTINGS, mocks=existing_vpc_mocks),
    "external database": Entry(
        settings={
            "database.mode": "external",
            "database.host": "shared.abcdefghij.us-east-1.rds.amazonaws.com",
            "database.secretArn": SECRET_ARN,
        }
    ),
    "no database": Entry(settings={"database.mode": "off", "migration.enabled": False}),
    "blue/green": Entry(settings={"service.deploymentStrategy": "blue-green"}),
    "prod blue/green": Entry(
        stack="prod", base="prod", settings={"service.deploymentStrategy": "blue-green"}
    ),
    "arm64": Entry(settings={"image.platform": "linux/arm64"}),
    "per-AZ NAT, 3 zones": Entry(
        settings={"network.nat": "per-az", "network.availabilityZones": 3}
    ),
    "single NAT": Entry(settings={"network.nat": "single"}),
    "alarms off": Entry(settings={"alarms.enabled": False}),
    "alarms by email": Entry(settings={"alarms.email": "ops@example.com"}),
    "exec on": Entry(settings={"service.exec": "on"}),
    "exec off": Entry(settings={"service.exec": "off"}),
    "extra names": Entry(settings={"https.extraNames": ["www.dev.example.com", "dev.example.com"]}),
    "prebuilt image": Entry(settings={"image.uri": IMAGE}),
    "app secrets": Entry(settings=APP_SECRETS),
    "access logs": Entry(settings={"loadBalancer.accessLogs": True}),
    "scaling off, migration off": Entry(
        settings={"scaling.enabled": False, "migration.enabled": False}
    ),
    "requests-based scaling": Entry(settings={"scaling.requestsPerTarget": 1000}),
    "stack qa.eu": Entry(stack="qa.eu"),
    "stack qa_eu": Entry(stack="qa_eu"),
    "stack QA": Entry(stack="QA"),
    "stack of 40 characters": Entry(stack="feature-" + "x" * 28 + "-1.2"),
    "production stack prod.eu-west-1": Entry(stack="prod.eu-west-1", base="prod"),
    "stack Prod_EU with app secrets": Entry(stack="Prod_EU", base="prod", settings=APP_SECRETS),
}


@dataclass
class Outcome:
    rendered: Rendered
    policy: Report | None


_OUTCOMES: dict[str, Outcome] = {}


def outcome(key: str) -> Outcome:
    """One render per entry for the whole session; the pack runs right after it, while the
    runtime still holds the entry's config and name, as the engine hands them to the pack."""
    if key not in _OUTCOMES:
        entry = MATRIX[key]
        base = stack_config(entry.base) if entry.base else {"aws:region": REGION}
        rendered = render(
            entry.settings,
            stack=entry.stack,
            base=base,
            mocks=entry.mocks(),
        )
        _OUTCOMES[key] = Outcome(rendered, run_pack(ROOT, entry.base or "dev", rendered))
    return _OUTCOMES[key]


def test_the_stack_names_of_the_matrix_are_the_awkward_ones():
    names = [e.stack for e in MATRIX.values()]
    assert any("." in n for n in names)
    assert any("_" in n for n in names)
    assert any(n != n.lower() for n in names)
    assert any(len(n) == 40 for n in names)


@pytest.mark.parametrize("key", MATRIX)
def test_every_request_of_the_stack_fits_awss_rules(key):
    violations = check(outcome(key).rendered)
    assert [v.message() for v in violations] == []


@pytest.mark.parametrize("key", MATRIX)
def test_the_stack_passes_the_policy_packs_mandatory_policies(key):
    report = outcome(key).policy
    assert report is not None
    assert [f"{f.policy}: {f.resource}: {f.message}" for f in report.mandatory] == []
    assert MATRIX[key].advised_by_policy <= {f.policy for f in report.advisory}


# Found by the contract beyond the three cases of issue 23: RDS refuses a storage autoscaling
# threshold less than 10 % above the allocated storage ("Invalid max storage size"), which the
# settings used to accept down to the allocated storage itself.
def test_a_storage_autoscaling_threshold_rds_refuses_is_a_settings_error():
    with pytest.raises(SettingsError, match=r"maxAllocatedStorage = 21: is less than 10 % above"):
        render({"database.allocatedStorage": 20, "database.maxAllocatedStorage": 21})


def test_a_threshold_equal_to_the_storage_is_refused_as_autoscaling_off_in_disguise():
    # terraform-provider-aws reads max == allocated as "off" (issue 24): the settings say so.
    with pytest.raises(SettingsError, match=r"maxAllocatedStorage = 20: equals database\.alloc"):
        render({"database.allocatedStorage": 20, "database.maxAllocatedStorage": 20})


def test_the_contract_refuses_that_threshold_too_and_accepts_10_percent_above():
    def instance(ceiling: int) -> Resource:
        rendered = outcome("dev").rendered.one("aws:rds/instance:Instance")
        storage = {"allocatedStorage": 20.0, "maxAllocatedStorage": float(ceiling)}
        return replace(rendered, inputs={**rendered.inputs, **storage})

    (violation,) = check_resource(instance(21))
    assert violation.field == "CreateDBInstance.AllocatedStorage+MaxAllocatedStorage"
    assert "storage autoscaling" in violation.source
    assert check_resource(instance(22)) == []
