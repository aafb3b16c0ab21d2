"""Engine and session handling (synchronous SQLAlchemy 2; FastAPI runs sync routes in a
thread pool, so a blocking driver is fine and keeps the code plain)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def create_db_engine(url: URL) -> Engine:
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
    return create_engine(
        url,
        pool_pre_ping=True,  # drop connections the database (or a failover) closed
        pool_recycle=1800,
        pool_size=5,
        max_overflow=5,
        pool_timeout=10,
        connect_args=connect_args,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed afterwards."""
    with request.app.state.sessionmaker() as session:
        yield session
