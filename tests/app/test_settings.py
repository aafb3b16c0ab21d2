"""Configuration from the environment: database URL selection and server defaults."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from api import serve
from api.settings import DEFAULT_SQLITE_URL, database_url, lock_timeout_ms, safe_url

PASSWORD = "p@ss:w/rd%?#"


def test_database_url_wins_when_set():
    url = database_url({"DATABASE_URL": "sqlite:///x.db", "DB_HOST": "db.internal"})
    assert url.render_as_string() == "sqlite:///x.db"


def test_url_is_assembled_from_host_variables_with_escaped_password():
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_NAME": "notes",
        "DB_USER": "app",
        "DB_PASSWORD": PASSWORD,
    }
    url = database_url(env)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("db.internal", 6543, "notes", "app")
    assert url.password == PASSWORD
    # The rendered form round-trips: special characters are escaped, not mangled.
    assert make_url(url.render_as_string(hide_password=False)).password == PASSWORD


def test_port_defaults_to_5432_and_sslmode_is_passed_through():
    url = database_url({"DB_HOST": "db", "DB_SSLMODE": "require"})
    assert url.port == 5432
    assert url.query == {"sslmode": "require"}


def test_verify_full_names_the_ca_bundle_for_libpq():
    url = database_url(
        {
            "DB_HOST": "db.abc.eu-west-1.rds.amazonaws.com",
            "DB_SSLMODE": "verify-full",
            "DB_SSLROOTCERT": "/srv/certs/rds-global-bundle.pem",
        }
    )
    assert url.query == {
        "sslmode": "verify-full",
        "sslrootcert": "/srv/certs/rds-global-bundle.pem",
    }
    # psycopg hands the query to libpq as connection parameters.
    assert url.render_as_string().endswith(
        "?sslmode=verify-full&sslrootcert=%2Fsrv%2Fcerts%2Frds-global-bundle.pem"
    )


@pytest.mark.parametrize(("raw", "expected"), [("", 2000), ("150", 150), ("0", 0)])
def test_the_migration_lock_timeout_comes_from_the_environment(raw, expected):
    assert lock_timeout_ms({"DB_LOCK_TIMEOUT_MS": raw}) == expected


@pytest.mark.parametrize("raw", ["2s", "-1"])
def test_a_bad_lock_timeout_is_refused_with_the_variable_named(raw):
    with pytest.raises(ValueError, match="DB_LOCK_TIMEOUT_MS"):
        lock_timeout_ms({"DB_LOCK_TIMEOUT_MS": raw})


def test_password_never_appears_in_repr_str_or_safe_url():
    url = database_url({"DB_HOST": "db", "DB_USER": "app", "DB_PASSWORD": PASSWORD})
    for text in (repr(url), str(url), safe_url(url), f"{url}"):
        assert PASSWORD not in text
        assert "p%40ss" not in text
        assert "***" in text


def test_without_database_settings_a_local_sqlite_file_is_used():
    assert database_url({}).render_as_string() == DEFAULT_SQLITE_URL


def test_server_defaults_match_the_load_balancer_and_ecs(monkeypatch):
    for name in (
        "PORT",
        "HOST",
        "WEB_CONCURRENCY",
        "KEEP_ALIVE_TIMEOUT",
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "FORWARDED_ALLOW_IPS",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    config = serve.build_config()
    assert config.port == 8000
    assert config.host == "0.0.0.0"
    assert config.workers == 1
    assert config.timeout_keep_alive == 65  # above the ALB's 60 s idle timeout
    assert config.timeout_graceful_shutdown == 20  # below the task's 30 s stopTimeout
    assert config.timeout_keep_alive > 60
    assert config.timeout_graceful_shutdown < 30
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "127.0.0.1"  # only a local proxy unless configured
    assert config.access_log is True
    assert config.log_config["handlers"]["access"]["stream"] == "ext://sys.stdout"


def test_server_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("KEEP_ALIVE_TIMEOUT", "75")
    monkeypatch.setenv("GRACEFUL_SHUTDOWN_TIMEOUT", "10")
    config = serve.build_config()
    assert (config.port, config.workers) == (9001, 3)
    assert (config.timeout_keep_alive, config.timeout_graceful_shutdown) == (75, 10)


@pytest.mark.parametrize("value", ["zero", "0", "-1"])
def test_invalid_worker_count_is_rejected_with_a_message(monkeypatch, value):
    monkeypatch.setenv("WEB_CONCURRENCY", value)
    with pytest.raises(SystemExit, match="WEB_CONCURRENCY"):
        serve.build_config()


def test_child_processes_start_without_any_variable_the_app_reads():
    """`clean_env` keeps the tests' servers and migrations from inheriting the caller's
    settings: it must drop every variable the app's code reads."""
    import re
    from pathlib import Path

    from app_support import _APP_ENV_VARS

    source = "\n".join(
        p.read_text() for p in (Path(__file__).parents[2] / "app" / "api").rglob("*.py")
    )
    read = set(
        re.findall(r"""(?:environ|env)(?:\.get)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", source)
        + re.findall(r"""env_int\(\s*["']([A-Z][A-Z0-9_]+)["']""", source)
        + re.findall(r"""env_flag\(\s*["']([A-Z][A-Z0-9_]+)["']""", source)
    )
    assert read, "found no variable reads: the pattern no longer matches the app's code"
    assert read <= set(_APP_ENV_VARS), sorted(read - set(_APP_ENV_VARS))
