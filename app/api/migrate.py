"""Migration entrypoint: ``python -m api.migrate`` (what the release phase runs).

* On PostgreSQL it first takes a session-level advisory lock (``pg_advisory_lock`` on
  ``MIGRATION_LOCK_KEY``) in a dedicated connection that stays open for the whole upgrade,
  so concurrent runs (two deploys, a retried release task) serialize: the second waits, then
  finds the schema at head and applies nothing. Alembic does not lock by itself.
* Runs ``alembic upgrade head`` with ``lock_timeout`` (``DB_LOCK_TIMEOUT_MS``, default 2 s) on
  PostgreSQL: a statement that would wait longer for a table lock (an ``ALTER TABLE`` behind a
  long reader) fails instead of making every app query on that table queue behind it for as
  long as the reader runs. The upgrade is one transaction, so it rolls back whole and is tried
  again after a backoff (``LOCK_ATTEMPTS`` attempts in all); the app keeps working meanwhile.
* With ``DB_APP_ROLE`` and ``DB_APP_SECRET_ARN`` (the stack sets both), makes sure the app's
  own login role exists with only the rights the app needs (``api.app_role``), its password in
  that Secrets Manager secret.
* Prints the revisions it applied, or "already at head".
* Exits 1 with a clear message on any failure. The message names the error's class, SQLSTATE
  and the schema objects involved, never the statement, its bound parameters or the server's
  text (a ``DETAIL`` quotes the failing row): a failing data migration must not copy customer
  data or secrets into the release logs and so into CI output. The engine hides parameters
  too (``hide_parameters``), for anything that logs an error on its own.
* On SQLite (local runs) there is nothing to lock against and it runs without the lock.

``MIGRATION_LOCK_TIMEOUT`` (seconds, default 300, 0 = wait forever) bounds the wait for
another run's lock, so a stuck run fails this one with a message instead of hanging.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, exc, text

from api.db import create_migration_engine
from api.schema_state import APP_DIR, alembic_config
from api.settings import (
    credentials_secret_arn,
    database_url,
    env_int,
    lock_timeout_ms,
    safe_url,
)

__all__ = ["APP_DIR", "alembic_config", "main", "upgrade_to_head"]

# Fixed, arbitrary 64-bit key shared by every run against the same database ("notes-mg").
MIGRATION_LOCK_KEY = 0x6E6F7465732D6D67
DEFAULT_LOCK_TIMEOUT_SECONDS = 300
# Attempts of the whole upgrade when a lock stays taken; with the backoff below they span
# about 2.5 minutes plus 10 lock waits, well inside the release phase's 900 s deadline.
LOCK_ATTEMPTS = 10
FIRST_RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 30.0
LOCK_NOT_AVAILABLE = "55P03"


class MigrationError(Exception):
    pass


def migration_engine(url: URL) -> Engine:
    """The engine for the lock, Alembic and the role: no pool, parameters hidden in errors
    (``create_migration_engine`` passes ``hide_parameters``).

    migrations/env.py uses it too: after a password rotation the release task, too, reads the
    credentials from DB_SECRET_ARN instead of failing.
    """
    return create_migration_engine(url, credentials_secret_arn())


def _lock_timeout_seconds() -> int:
    try:
        return env_int("MIGRATION_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT_SECONDS)
    except ValueError as error:
        raise MigrationError(str(error)) from None


@contextmanager
def migration_lock(url: URL) -> Iterator[None]:
    """Hold the advisory lock for the duration of the block (PostgreSQL only)."""
    if url.get_backend_name() != "postgresql":
        yield
        return
    engine = migration_engine(url)
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
    engine = migration_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()


def is_lock_timeout(error: BaseException) -> bool:
    """Whether PostgreSQL cancelled a statement because it waited past ``lock_timeout``."""
    orig = getattr(error, "orig", None)
    return getattr(orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed ``attempt`` (1-based): doubling, capped, with jitter.

    The jitter keeps two things that wait for the same reader (a retried release task and a
    second deploy) from coming back at the same moment.
    """
    base = min(FIRST_RETRY_DELAY_SECONDS * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)
    return base * random.uniform(0.5, 1.0)


def upgrade_to_head(
    url: URL,
    config: Config | None = None,
    *,
    lock_timeout: int | None = None,
    attempts: int = LOCK_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    delay: Callable[[int], float] = retry_delay,
) -> list[str]:
    """Run ``alembic upgrade head`` under the lock; return "rev (message)" per applied step.

    ``lock_timeout`` (ms; default ``DB_LOCK_TIMEOUT_MS``) bounds each statement's wait for a
    table lock; an upgrade cancelled by it is rolled back and tried again up to ``attempts``
    times in all, ``delay(attempt)`` seconds apart.
    """
    config = config or alembic_config()
    timeout = lock_timeout_ms() if lock_timeout is None else lock_timeout
    config.attributes["lock_timeout_ms"] = timeout
    script = ScriptDirectory.from_config(config)
    with migration_lock(url):
        before = current_heads(url)
        for attempt in range(1, attempts + 1):
            try:
                command.upgrade(config, "head")
                break
            except exc.DBAPIError as error:
                if not is_lock_timeout(error):
                    raise
                if attempt == attempts:
                    raise MigrationError(
                        f"gave up after {attempts} attempts: each time a statement waited more "
                        f"than lock_timeout = {timeout} ms for a table lock that other sessions "
                        "held (a long query or an idle open transaction; see pg_stat_activity "
                        "and pg_locks). Nothing was changed; run the release again (pulumi up) "
                        "once they are done, or raise migration.lockTimeout."
                    ) from None
                wait = delay(attempt)
                print(
                    f"a table lock stayed taken past lock_timeout = {timeout} ms (attempt "
                    f"{attempt} of {attempts}); rolled back, retrying in {wait:.1f}s",
                    flush=True,
                )
                sleep(wait)
        after = current_heads(url)
        ensure_app_role_from_env(url)
    if before == after:
        return []
    steps = script.iterate_revisions(after, before or "base")
    return [f"{rev.revision} ({rev.doc})" for rev in reversed(list(steps))]


def ensure_app_role_from_env(url: URL) -> None:
    """Create or check the app's role when the stack asks for one (``DB_APP_ROLE``)."""
    role = os.environ.get("DB_APP_ROLE", "").strip()
    secret_arn = os.environ.get("DB_APP_SECRET_ARN", "").strip()
    if not role and not secret_arn:
        return
    if not role or not secret_arn:
        raise MigrationError("DB_APP_ROLE and DB_APP_SECRET_ARN must be set together")
    if url.get_backend_name() != "postgresql":
        raise MigrationError("DB_APP_ROLE needs a PostgreSQL database")
    from api.app_role import ensure_app_role

    engine = migration_engine(url)
    try:
        print(ensure_app_role(engine, role, secret_arn), flush=True)
    finally:
        engine.dispose()


def describe_failure(error: BaseException) -> str:
    """What went wrong, without the statement, its parameters or the server's own text.

    For a database error: the SQLAlchemy and driver classes, the SQLSTATE and the names of the
    schema objects involved (PostgreSQL's diagnostics fields), which say what failed and where
    but carry no row data. The server's message is left out because its primary text can quote
    a value (``invalid input syntax for type integer: "..."``) and its DETAIL quotes whole
    rows. A connection error raised by the client library itself (no SQLSTATE) keeps its
    message: it names the host and port only.
    """
    if isinstance(error, exc.DBAPIError) and error.orig is not None:
        orig = error.orig
        sqlstate = getattr(orig, "sqlstate", None)
        parts = [f"{type(error).__name__} ({type(orig).__name__}"]
        if sqlstate:
            parts[0] += f", SQLSTATE {sqlstate})"
            diag = getattr(orig, "diag", None)
            where = [
                f"{label} {value}"
                for label, attr in (
                    ("schema", "schema_name"),
                    ("table", "table_name"),
                    ("column", "column_name"),
                    ("constraint", "constraint_name"),
                    ("type", "datatype_name"),
                )
                if (value := getattr(diag, attr, None))
            ]
            if where:
                parts.append("on " + ", ".join(where))
            parts.append("(statement, values and server message not shown; see the database log)")
        elif getattr(orig, "sqlite_errorname", None):
            parts[0] += f", {orig.sqlite_errorname})"
        else:
            parts[0] += ")"
            message = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
            if message and isinstance(error, exc.OperationalError):
                parts.append(f"- {message[:300]}")
        return " ".join(parts)
    if isinstance(error, exc.StatementError):
        # Raised before the driver saw the statement (a bind value the type refused): its
        # text shows the statement and, unless hidden, the parameters.
        inner = error.orig
        return f"{type(error).__name__} ({type(inner).__name__}) while preparing a statement"
    return f"{type(error).__name__}: {str(error)[:500]}"


def _scrub(message: str, url: URL) -> str:
    return message.replace(url.password, "***") if url.password else message


def main() -> int:
    url = None
    try:
        url = database_url()
        print(f"migrating {safe_url(url)}", flush=True)
        applied = upgrade_to_head(url)
    except Exception as error:
        detail = describe_failure(error)
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
