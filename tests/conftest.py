"""Shared fixtures. The Pulumi mocks live in pulumi_harness.render, which sets them up afresh
for each rendering (never at import time, which breaks on newer Pythons)."""

from collections.abc import Iterator

import pytest

from pulumi_harness import REGION, AwsMocks


@pytest.fixture
def aws_mocks() -> AwsMocks:
    """Fresh mock answers for one test; tests may add hosted zones or subnet zones to it."""
    return AwsMocks()


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """moto's emulated AWS with test credentials, as a boto3 session in the stacks' region:
    real boto3 calls, validated against the service models, and no account."""
    import boto3
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)
