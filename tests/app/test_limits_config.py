"""Defaults and validation of the limits' settings (environment variables)."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from api import serve
from api.db import POOL_CAPACITY, statement_timeout_ms, with_statement_timeout
from api.middleware import RequestGuard
from api.protocol import DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_HEADER_BYTES

LIMIT_VARS = ("MAX_BODY_BYTES", "BODY_READ_TIMEOUT", "ADMISSION_WAIT_MS", "FORWARDED_ALLOW_IPS")


@pytest.fixture(autouse=True)
def _no_limit_settings(monkeypatch):
    for name in LIMIT_VARS:
        monkeypatch.delenv(name, raising=False)


def test_bodies_are_limited_to_1_mib_by_default_and_the_pool_bounds_admission():
    guard = RequestGuard(app=None)
    assert guard.max_body_bytes == 1024 * 1024
    assert guard.body_read_timeout == 30
    assert guard.admission.capacity == POOL_CAPACITY == 10
    assert guard.admission.wait_seconds == pytest.approx(0.05)


def test_the_body_limit_comes_from_max_body_bytes(monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    assert RequestGuard(app=None).max_body_bytes == 2048


@pytest.mark.parametrize("value", ["1MB", "0", "-5"])
def test_a_bad_max_body_bytes_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv("MAX_BODY_BYTES", value)
    with pytest.raises(ValueError, match="MAX_BODY_BYTES"):
        RequestGuard(app=None)


def test_header_limits_default_to_the_albs_64_kib_and_10_s():
    assert DEFAULT_MAX_HEADER_BYTES == 64 * 1024
    assert DEFAULT_HEADER_READ_TIMEOUT == 10


def test_statement_timeout_defaults_to_5_s_and_is_validated():
    assert statement_timeout_ms({}) == 5000
    assert statement_timeout_ms({"DB_STATEMENT_TIMEOUT_MS": "250"}) == 250
    with pytest.raises(ValueError, match="DB_STATEMENT_TIMEOUT_MS"):
        statement_timeout_ms({"DB_STATEMENT_TIMEOUT_MS": "5s"})


def test_statement_timeout_joins_the_urls_other_libpq_options():
    url = make_url("postgresql+psycopg://u@h/db?options=-csearch_path%3Dx")
    options = with_statement_timeout(url, 250).query["options"]
    assert options == "-csearch_path=x -c statement_timeout=250"
    sqlite = make_url("sqlite:///x.db")
    assert with_statement_timeout(sqlite, 250) == sqlite


def test_forwarded_headers_are_trusted_from_the_configured_networks_only(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/16, 10.1.0.0/16")
    assert serve.build_config().forwarded_allow_ips == "10.0.0.0/16, 10.1.0.0/16"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    with pytest.raises(SystemExit, match="FORWARDED_ALLOW_IPS must list IP addresses"):
        serve.build_config()


def test_the_server_uses_the_bounded_http_protocol():
    config = serve.build_config()
    config.load()
    assert config.http_protocol_class.__name__ == "BoundedHttpToolsProtocol"


@pytest.mark.parametrize("name", ["MAX_HEADER_BYTES", "HEADER_READ_TIMEOUT"])
def test_a_bad_header_limit_stops_the_server_with_its_name(monkeypatch, name):
    from api import protocol

    monkeypatch.setenv(name, "lots")
    protocol.limits_from_env.cache_clear()
    try:
        with pytest.raises(SystemExit, match=name):
            serve.build_config()
    finally:
        monkeypatch.delenv(name)
        protocol.limits_from_env.cache_clear()
