"""Migration entrypoint: ``python -m api.migrate`` (what the release phase runs).

* On PostgreSQL it first takes a session-level advisory lock (``pg_advisory_lock`` on
  ``MIGRATION_LOCK_KEY``) in a dedicated connection that stays open for the whole upgrade,
  so concurrent runs (two deploys, a retried release task) serialize: the second waits, then
  finds the schema at head and applies nothing. Alembic does not lock by itself.
* Runs ``alembic upgrade head`` and prints the revisions it applied, or "already at head".
* Exits 1 with a clear message on any failure (and never prints the password).
* On SQLite (local runs) there is nothing to lock against and it runs without the lock.

``MIGRATION_LOCK_TIMEOUT`` (seconds, default 300, 0 = wait forever) bounds the wait for
another run's lock, so a stuck run fails this one with a message instead of hanging.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, text

from api.db import create_migration_engine
from api.settings import credentials_secret_arn, database_url, safe_url

APP_DIR = Path(__file__).resolve().parent.parent
# Fixed, arbitrary 64-bit key shared by every run against the same database ("notes-mg").
MIGRATION_LOCK_KEY = 0x6E6F7465732D6D67
DEFAULT_LOCK_TIMEOUT_SECONDS = 300


class MigrationError(Exception):
    pass


def alembic_config() -> Config:
    return Config(str(APP_DIR / "alembic.ini"))


def _engine(url: URL):
    # The same factory as migrations/env.py: after a password rotation the release task, too,
    # reads the credentials from DB_SECRET_ARN instead of failing.
    return create_migration_engine(url, credentials_secret_arn())


def _lock_timeout_seconds() -> int:
    raw = os.environ.get("MIGRATION_LOCK_TIMEOUT", "").strip()
    try:
        value = int(raw) if raw else DEFAULT_LOCK_TIMEOUT_SECONDS
    except ValueError:
        raise MigrationError(f"MIGRATION_LOCK_TIMEOUT must be an integer, got {raw!r}") from None
    return max(value, 0)


@contextmanager
def migration_lock(url: URL) -> Iterator[None]:
    """Hold the advisory lock for the duration of the block (PostgreSQL only)."""
    if url.get_backend_name() != "postgresql":
        yield
        return
    engine = _engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            ).scalar_one()
            if not got:
                timeout = _lock_timeout_seconds()
                print(
                    "another migration holds the lock; waiting"
                    + (f" up to {timeout}s" if timeout else ""),
                    flush=True,
                )
                conn.execute(text(f"SET lock_timeout = '{timeout}s'"))
                try:
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                except Exception as exc:
                    raise MigrationError(
                        f"timed out after {timeout}s waiting for the migration lock"
                    ) from exc
                conn.execute(text("SET lock_timeout = 0"))
            print("migration lock acquired", flush=True)
            try:
                yield
            finally:
                # Closing the session would release it too; unlock explicitly to be tidy.
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def current_heads(url: URL) -> tuple[str, ...]:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def upgrade_to_head(url: URL, config: Config | None = None) -> list[str]:
    """Run ``alembic upgrade head`` under the lock; return "rev (message)" per applied step."""
    config = config or alembic_config()
    script = ScriptDirectory.from_config(config)
    with migration_lock(url):
        before = current_heads(url)
        command.upgrade(config, "head")
        after = current_heads(url)
    if before == after:
        return []
    steps = script.iterate_revisions(after, before or "base")
    return [f"{rev.revision} ({rev.doc})" for rev in reversed(list(steps))]


def _scrub(message: str, url: URL) -> str:
    return message.replace(url.password, "***") if url.password else message


def main() -> int:
    url = None
    try:
        url = database_url()
        print(f"migrating {safe_url(url)}", flush=True)
        applied = upgrade_to_head(url)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        if url is not None:
            detail = _scrub(detail, url)
        print(f"migration failed: {detail}", file=sys.stderr, flush=True)
        return 1
    if applied:
        for step in applied:
            print(f"applied {step}", flush=True)
    else:
        print("already at head", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
