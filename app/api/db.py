"""Engine and session handling (synchronous SQLAlchemy 2; FastAPI runs sync routes in a
thread pool, so a blocking driver is fine and keeps the code plain)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy import URL, Engine, create_engine, event, pool
from sqlalchemy.orm import Session, sessionmaker

from api.credentials import refresh_on_authentication_failure


def create_db_engine(url: URL, credentials_secret_arn: str | None = None) -> Engine:
    """The app's pooled engine.

    With ``credentials_secret_arn`` (``DB_SECRET_ARN``), a connection refused for its
    credentials re-reads them from that secret and retries (see ``api.credentials``).
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    connect_args = {}
    if backend == "postgresql":
        # Fail fast instead of hanging a request (or /readyz) on an unreachable database.
        connect_args = {"connect_timeout": 5, "application_name": "notes-api"}
    engine = create_engine(
        url,
        pool_pre_ping=True,  # drop connections the database (or a failover) closed
        pool_recycle=1800,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args=connect_args,
    )
    if credentials_secret_arn:
        refresh_on_authentication_failure(engine, credentials_secret_arn)
    return engine


def create_migration_engine(url: URL, credentials_secret_arn: str | None = None) -> Engine:
    """A pool-less engine for one-off work (the migration lock, Alembic), same credentials rule.

    No pool: each use is a short run, and a longer connect timeout than the app's because a
    release task has no request waiting on it.
    """
    connect_args = {"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    if credentials_secret_arn:
        refresh_on_authentication_failure(engine, credentials_secret_arn)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed afterwards."""
    with request.app.state.sessionmaker() as session:
        yield session
