"""Fixtures for the app tests (tests/app).

Makes ``app/`` importable as the ``api`` package, and this folder's ``app_support`` helpers
importable, without relying on the repository's pytest configuration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (_HERE.parents[1] / "app", _HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from app_support import PG_SKIP_REASON, ServerProcess, clean_env, run_migrate  # noqa: E402
from private_postgres import PrivatePostgres, UnavailableError  # noqa: E402


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    result = run_migrate(clean_env(DATABASE_URL=f"sqlite:///{path}"))
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture
def migrated_sqlite_url(_migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A SQLite file at head, made by the real migration entrypoint (copied per test)."""
    path = tmp_path / "app.db"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def make(database_url: str, **env: str) -> ServerProcess:
        server = ServerProcess(tmp_path, database_url, **env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@contextlib.contextmanager
def fresh_pg_schema(base: str | None = None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards), on
    ``base`` (a superuser URL) or else on the server ``TEST_DATABASE_URL`` names."""
    base = base or os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip(PG_SKIP_REASON)
    from sqlalchemy import create_engine, make_url, pool, text

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=pool.NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards)."""
    with fresh_pg_schema() as url:
        yield url


@pytest.fixture(scope="session")
def password_checking_postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL that asks every role but the superuser for its password
    (tests/app/private_postgres.py), started once per session (per xdist worker)."""
    try:
        server = PrivatePostgres.start()
    except UnavailableError as why:
        pytest.skip(f"no private PostgreSQL for the password-checking tests: {why}")
    yield server
    server.stop()


@pytest.fixture
def password_checked_pg_url(password_checking_postgres: PrivatePostgres) -> Iterator[str]:
    """Like ``pg_url``, on the private server that checks passwords."""
    with fresh_pg_schema(password_checking_postgres.url) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated_database(request, _migrated_sqlite_template: Path, tmp_path_factory) -> Iterator[str]:
    """One database at head per test module and backend (SQLite, then PostgreSQL), made by the
    real migration entrypoint: for modules whose tests only read, or tolerate each other's
    notes."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "app.db"
        shutil.copyfile(_migrated_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    with fresh_pg_schema() as url:
        result = run_migrate(clean_env(DATABASE_URL=url))
        assert result.returncode == 0, result.stdout + result.stderr
        yield url
