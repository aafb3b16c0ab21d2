"""Shared fixtures. The Pulumi mocks live in pulumi_harness.render, which sets them up afresh
for each rendering (never at import time, which breaks on newer Pythons)."""

import pytest

from pulumi_harness import AwsMocks


@pytest.fixture
def aws_mocks() -> AwsMocks:
    """Fresh mock answers for one test; tests may add hosted zones or subnet zones to it."""
    return AwsMocks()
