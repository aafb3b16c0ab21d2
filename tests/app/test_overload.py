"""Overload and a stuck database, against the real server command (issue 16, findings 1, 4, 6).

Saturation is made deterministic instead of timed: the test holds an ``ACCESS EXCLUSIVE`` lock
on ``notes``, so every admitted ``GET /notes`` waits inside the database, exactly as when the
database is slow. Small and bounded: one worker, tens of requests; the big figures are in
``benchmarks/app_throughput.py``. Nothing asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, pool, text

from api.db import POOL_CAPACITY
from app_support import clean_env, run_migrate, wait_until

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx


@pytest.fixture
def migrated_pg_url(pg_url: str) -> str:
    result = run_migrate(clean_env(DATABASE_URL=pg_url))
    assert result.returncode == 0, result.stdout + result.stderr
    return pg_url


@contextmanager
def notes_table_locked(url: str) -> Iterator[None]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE notes IN ACCESS EXCLUSIVE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def is_shed(response: httpx.Response) -> bool:
    return response.status_code == 503 and response.headers.get("retry-after", "").isdigit()


def test_beyond_the_pool_requests_are_shed_with_503_and_healthz_keeps_answering(
    server_factory, migrated_pg_url
):
    server = server_factory(migrated_pg_url, DB_STATEMENT_TIMEOUT_MS="60000").start()
    total = POOL_CAPACITY + 30
    responses: list[httpx.Response] = []
    failures: list[BaseException] = []

    def one_request() -> None:
        try:
            responses.append(httpx.get(f"{server.base_url}/notes", timeout=60))
        except BaseException as exc:
            failures.append(exc)

    with notes_table_locked(migrated_pg_url):
        clients = [threading.Thread(target=one_request) for _ in range(total)]
        for client in clients:
            client.start()
        # Everything beyond the admitted requests is answered while the database is stuck.
        wait_until(
            lambda: len(responses) >= total - POOL_CAPACITY,
            timeout=30,
            what=f"{total - POOL_CAPACITY} shed answers while {POOL_CAPACITY} requests wait",
        )
        assert all(is_shed(r) for r in responses), [r.status_code for r in responses]
        health = httpx.get(f"{server.base_url}/healthz", timeout=10)
        assert health.status_code == 200
    for client in clients:
        client.join(timeout=60)
    assert not failures, failures
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * POOL_CAPACITY + [503] * (total - POOL_CAPACITY)


def test_a_stuck_database_answers_503_at_the_statement_timeout(server_factory, migrated_pg_url):
    """Without a statement_timeout this request would hang for as long as the lock lasts."""
    server = server_factory(migrated_pg_url, DB_STATEMENT_TIMEOUT_MS="300").start()
    with notes_table_locked(migrated_pg_url):
        response = httpx.get(f"{server.base_url}/notes", timeout=30)
    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "QueryCanceled" in server.log()
    assert httpx.get(f"{server.base_url}/notes", timeout=10).status_code == 200


def test_200_concurrent_requests_get_200_201_or_a_shed_503_never_a_500(
    server_factory, migrated_sqlite_url
):
    """Finding 1 at a small scale: 1 worker on SQLite (which never answered at 200 connections),
    reads and writes at once. PostgreSQL's saturation is the locked-table test above."""
    server = server_factory(migrated_sqlite_url).start()

    async def load() -> tuple[list[int | str], int]:
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as http:

            async def one(i: int) -> int | str:
                if i % 4 == 0:
                    response = await http.post("/notes", json={"title": f"n{i}"})
                else:
                    response = await http.get("/notes")
                if response.status_code == 503 and "retry-after" not in response.headers:
                    return "503 without Retry-After"
                return response.status_code

            async def health() -> int:
                await asyncio.sleep(0)
                return (await http.get("/healthz")).status_code

            results = await asyncio.gather(*(one(i) for i in range(200)), health())
            return list(results[:-1]), results[-1]

    # A private loop, never installed as the thread's current one: asyncio.run would leave the
    # main thread without an event loop, which breaks every Pulumi-mock test after this one.
    loop = asyncio.new_event_loop()
    try:
        statuses, health_status = loop.run_until_complete(load())
    finally:
        loop.close()
    assert set(statuses) <= {200, 201, 503}, sorted(set(map(str, statuses)))
    assert health_status == 200
    assert statuses.count(200) + statuses.count(201) > 0
