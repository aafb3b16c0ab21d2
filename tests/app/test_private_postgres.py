"""The tests' own PostgreSQL (private_postgres.py): it checks passwords, and says why when it
cannot start."""

from __future__ import annotations

import psycopg
import pytest

import private_postgres
from private_postgres import PrivatePostgres, UnavailableError


def test_the_private_server_trusts_the_superuser_and_asks_every_other_role_for_its_password(
    password_checking_postgres: PrivatePostgres,
):
    conninfo = password_checking_postgres.url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("CREATE ROLE private_pg_probe LOGIN PASSWORD 'right'")
    try:
        probe = conninfo.replace("postgres@", "private_pg_probe:{}@")
        psycopg.connect(probe.format("right")).close()
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(probe.format("wrong")).close()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute("DROP ROLE private_pg_probe")


def test_without_the_server_binaries_it_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(private_postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(private_postgres, "Path", lambda *_: tmp_path)
    with pytest.raises(UnavailableError, match=r"`initdb` not found: install the PostgreSQL"):
        PrivatePostgres.start()
