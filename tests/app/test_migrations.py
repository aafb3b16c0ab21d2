"""Alembic migrations and the ``python -m api.migrate`` release entrypoint.

SQLite tests always run. PostgreSQL tests need ``TEST_DATABASE_URL`` (see PG_SKIP_REASON);
each gets a fresh schema via ``search_path`` so repeated runs start clean.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, make_url, pool, text

from api.migrate import MIGRATION_LOCK_KEY, alembic_config
from api.models import Base
from app_support import APP_DIR, clean_env, free_port, run_migrate, wait_until

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _config():
    config = alembic_config()
    config.attributes["configure_logger"] = False
    return config


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _schema_diff(url: str) -> list:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            compare_defaults = conn.dialect.name != "sqlite"  # as in migrations/env.py
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": compare_defaults}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _check_upgrade_downgrade_cycle(monkeypatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    command.upgrade(_config(), "head")
    assert {"notes", "alembic_version"} <= _tables(url)
    # What the migrations build is exactly what the models describe (autogenerate is empty).
    assert _schema_diff(url) == []

    command.downgrade(_config(), "base")
    assert "notes" not in _tables(url)

    command.upgrade(_config(), "head")  # and the downgrade left it re-applicable
    assert "notes" in _tables(url)


def test_upgrade_and_downgrade_on_sqlite(monkeypatch, sqlite_url):
    _check_upgrade_downgrade_cycle(monkeypatch, sqlite_url)


def test_upgrade_and_downgrade_on_postgresql(monkeypatch, pg_url):
    _check_upgrade_downgrade_cycle(monkeypatch, pg_url)


def test_migrate_prints_what_it_applied_then_already_at_head(sqlite_url):
    env = clean_env(DATABASE_URL=sqlite_url)
    first = run_migrate(env)
    assert first.returncode == 0, first.stderr
    assert f"applied {HEAD} (create notes table)" in first.stdout
    second = run_migrate(env)
    assert second.returncode == 0, second.stderr
    assert "already at head" in second.stdout
    assert "applied" not in second.stdout


def test_migrate_fails_with_a_clear_message_and_never_prints_the_password():
    password = "very-secret-pw"
    env = clean_env(
        DB_HOST="127.0.0.1",
        DB_PORT=str(free_port()),
        DB_NAME="notes",
        DB_USER="app",
        DB_PASSWORD=password,
    )
    result = run_migrate(env)
    assert result.returncode != 0
    assert "migration failed:" in result.stderr
    assert "postgresql+psycopg://app:***@127.0.0.1" in result.stdout
    assert password not in result.stdout + result.stderr


def _advisory_waiters(conn, application_name: str) -> int:
    """The sessions of ``application_name`` waiting for the migration lock. Only those: the
    lock key is the database's, and tests on other workers migrate their own schemas in it."""
    return conn.execute(
        text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND NOT l.granted "
            "AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
            "AND a.application_name = :name"
        ),
        {
            "hi": MIGRATION_LOCK_KEY >> 32,
            "lo": MIGRATION_LOCK_KEY & 0xFFFFFFFF,
            "name": application_name,
        },
    ).scalar_one()


def test_concurrent_migrations_serialize_and_apply_the_schema_once(pg_url):
    racers = f"migration-race-{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url).update_query_dict({"application_name": racers})
    env = clean_env(DATABASE_URL=url.render_as_string(hide_password=False))
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    procs: list[subprocess.Popen[str]] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
            # Hold the lock so both runs are provably started and contending at once.
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            for _ in range(2):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "api.migrate"],
                        cwd=APP_DIR,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            wait_until(
                lambda: _advisory_waiters(holder, racers) == 2,
                timeout=30,
                what="both migration processes waiting on the advisory lock",
            )
            holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        engine.dispose()

    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "another migration holds the lock; waiting" in out
    stdout = [out for out, _ in outputs]
    assert sum(f"applied {HEAD}" in out for out in stdout) == 1, stdout
    assert sum("already at head" in out for out in stdout) == 1, stdout

    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [(HEAD,)]
    assert "notes" in _tables(pg_url)


def test_migrate_gives_up_when_the_lock_is_held_past_the_timeout(pg_url):
    env = clean_env(DATABASE_URL=pg_url, MIGRATION_LOCK_TIMEOUT="1")
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
            holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            result = run_migrate(env, timeout=60)
    finally:
        engine.dispose()
    assert result.returncode != 0
    assert "waiting for the migration lock" in result.stderr
    assert "notes" not in _tables(pg_url)
