"""Engine and session handling: synchronous SQLAlchemy 2 in FastAPI's thread pool, built so
that it cannot deadlock.

Why not a ``yield`` session dependency (fastapi/fastapi#3205): FastAPI runs a sync
dependency's setup, the sync route and the dependency's teardown as separate jobs in one
shared thread pool (anyio's, 40 threads). A request's connection goes back to the pool only in
the teardown job. Under load every thread can be running a route that waits for a pooled
connection while the requests that hold the connections wait for a free thread to run their
teardown: nothing moves until ``pool_timeout`` fails them all. That is the finding of issue 16
(2 workers stalled at 200 connections; SQLite at 200 never answered).

The design here, and why it cannot deadlock:

1. **One job per request.** A route hands its database work to ``run_in_session``, which
   opens the session, runs the queries, commits and closes it in one thread job, so the
   connection is back in the pool before that thread is. A request never holds a connection
   while it waits for a thread.
2. **Admission before a thread.** ``api.admission`` admits at most ``POOL_CAPACITY``
   (= ``pool_size + max_overflow``) database requests per worker at a time; the rest wait at
   most ``ADMISSION_WAIT_MS`` for a slot, or not at all, and are answered 503 with
   ``Retry-After``.
   Each admitted request uses at most one connection at a time.
3. So, with ``A`` admitted requests (``A <= POOL_CAPACITY``), at most ``A`` connections are
   checked out: a checkout never waits for another request to return one (only for the
   database to accept a new connection, bounded by ``connect_timeout``); database jobs run on
   their own ``POOL_CAPACITY`` thread tokens, so an admitted request never waits for a thread
   held by a request that waits for it. No cycle of waits exists; every wait has a timeout
   (connect 5 s, ``statement_timeout``) besides.

Async SQLAlchemy would remove the thread pool from the picture as well, but costs a second
driver for SQLite (aiosqlite) and an async port of the credential-rotation hook
(``api.credentials``); the bounded design above gets the same guarantee with plain code.

Engines hide bound parameters in their messages (``hide_parameters=True``): an error that
reaches a log never carries a note's title or body, nor a migration's data.

``DB_STATEMENT_TIMEOUT_MS`` (PostgreSQL; default 5000, 0 = none) bounds every statement the
app's connections run, so a frozen or locked database answers 503 within that time instead
of holding a request (and its slot) indefinitely. The stack sets it from its database
settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request
from sqlalchemy import URL, Engine, create_engine, event, pool
from sqlalchemy.orm import Session, sessionmaker

from api.credentials import refresh_on_authentication_failure
from api.settings import env_int

POOL_SIZE = 5
MAX_OVERFLOW = 5
# The most connections one worker's app engine ever holds, and so the most database requests
# api.middleware admits at once (see the module docstring for why these must be equal).
POOL_CAPACITY = POOL_SIZE + MAX_OVERFLOW
# 5 s: longer than any query this app runs by two orders of magnitude, shorter than the
# ALB's 60 s idle timeout and the container health check's patience.
DEFAULT_STATEMENT_TIMEOUT_MS = 5000

T = TypeVar("T")


def statement_timeout_ms(environ: os._Environ[str] | dict[str, str] | None = None) -> int:
    """``DB_STATEMENT_TIMEOUT_MS``: the longest one app statement may run (0 = no limit)."""
    return env_int("DB_STATEMENT_TIMEOUT_MS", DEFAULT_STATEMENT_TIMEOUT_MS, environ=environ)


def with_statement_timeout(url: URL, timeout_ms: int) -> URL:
    """``url`` whose libpq ``options`` also set ``statement_timeout`` (kept with any others,
    e.g. a ``search_path``): applied by the server at connect time, no extra round trip."""
    if url.get_backend_name() != "postgresql" or timeout_ms <= 0:
        return url
    existing = url.query.get("options")
    if isinstance(existing, tuple):  # pragma: no cover - a repeated query key
        existing = " ".join(existing)
    options = " ".join(filter(None, [existing, f"-c statement_timeout={timeout_ms}"]))
    return url.update_query_dict({"options": options})


def create_db_engine(
    url: URL, credentials_secret_arn: str | None = None, statement_timeout: int | None = None
) -> Engine:
    """The app's pooled engine.

    With ``credentials_secret_arn`` (``DB_SECRET_ARN``), a connection refused for its
    credentials re-reads them from that secret and retries (see ``api.credentials``).
    """
    timeout_ms = statement_timeout_ms() if statement_timeout is None else statement_timeout
    backend = url.get_backend_name()
    common = {
        "hide_parameters": True,
        "pool_size": POOL_SIZE,
        "max_overflow": MAX_OVERFLOW,
        # Admission control keeps checkouts <= POOL_CAPACITY, so this only ever covers a
        # connect that hangs; a wait here means the proof above was broken.
        "pool_timeout": 10,
    }
    if backend == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, poolclass=pool.QueuePool, **common
        )

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
        url = with_statement_timeout(url, timeout_ms)
    engine = create_engine(
        url,
        pool_pre_ping=True,  # drop connections the database (or a failover) closed
        pool_recycle=1800,
        connect_args=connect_args,
        **common,
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
    engine = create_engine(
        url, poolclass=pool.NullPool, connect_args=connect_args, hide_parameters=True
    )
    if credentials_secret_arn:
        refresh_on_authentication_failure(engine, credentials_secret_arn)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


async def run_in_session(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one worker thread: session opened, used and closed there, so
    its connection is back in the pool before the thread is (see the module docstring).

    The threads come from the app's own limiter of ``POOL_CAPACITY`` tokens, not from the
    shared default pool, and the result comes back to the event loop in one hop (a ``def``
    route would take two: the route, then FastAPI validating its result in a thread).
    """

    def job() -> T:
        with request.app.state.sessionmaker() as session:
            return work(session)

    return await anyio.to_thread.run_sync(job, limiter=request.app.state.db_threads)


def make_db_thread_limiter() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(POOL_CAPACITY)
