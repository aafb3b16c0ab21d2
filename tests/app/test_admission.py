"""Admission control's rules, on the object itself (no server, no clock beyond perf_counter).

The same object decides in the server (``api.protocol``) and in the app
(``api.middleware``); the process tests in ``test_overload.py`` show both paths end to end.
"""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
from fastapi.testclient import TestClient

from api.admission import Admission


def run(coroutine):
    # A private loop, never installed as the thread's current one (see test_overload.py).
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def test_a_request_waits_only_when_its_turn_comes_within_half_the_wait():
    async def scenario() -> None:
        admission = Admission(capacity=2, wait_seconds=0.1, max_waiting=40)
        # Requests have been holding a slot 20 ms each: two slots serve one waiter every
        # 10 ms, so five waiters are served within 50 ms (half of the 100 ms wait).
        admission.mean_hold = 0.02
        tickets = [admission.arrive() for _ in range(8)]
        assert [t.admitted for t in tickets[:2]] == [True, True]
        assert [t.future is not None for t in tickets[2:7]] == [True] * 5
        assert tickets[7].shed and admission.shed == 1
        for ticket in tickets[2:7]:
            admission.done(ticket)  # answered otherwise (a 413): the place is given back
        assert admission.waiting == 0

    run(scenario())


def test_when_requests_hold_their_slots_long_nothing_queues():
    """A stuck database (holds up to the 5 s statement timeout): waiting cannot pay off."""

    async def scenario() -> None:
        admission = Admission(capacity=1, wait_seconds=0.05)
        admission.mean_hold = 5.0
        assert admission.arrive().admitted
        assert admission.arrive().shed

    run(scenario())


def test_before_any_request_has_left_the_queue_is_bounded_by_max_waiting():
    async def scenario() -> None:
        admission = Admission(capacity=1, wait_seconds=0.05, max_waiting=3)
        tickets = [admission.arrive() for _ in range(5)]
        assert [t.shed for t in tickets] == [False, False, False, False, True]

    run(scenario())


def test_a_freed_slot_goes_to_the_oldest_waiter_and_the_hold_time_is_learned():
    async def scenario() -> None:
        admission = Admission(capacity=1, wait_seconds=10)
        first = admission.arrive()
        second, third = admission.arrive(), admission.arrive()
        waiting = asyncio.ensure_future(admission.admit(third))
        admission.done(first)
        assert await admission.admit(second)
        assert admission.inside == 1 and not waiting.done()
        assert admission.mean_hold is not None and admission.mean_hold >= 0
        admission.done(second)
        assert await waiting
        admission.done(third)
        assert admission.inside == 0 and admission.waiting == 0

    run(scenario())


def test_the_wait_counts_from_arrival_and_a_waiter_out_of_time_is_shed():
    """The protocol decides when a request's head arrives; the app's task may run later, and
    that delay is part of the wait, not added to it."""

    async def scenario() -> None:
        admission = Admission(capacity=1, wait_seconds=10)
        holder = admission.arrive()
        late = admission.arrive(arrived=time.perf_counter() - 11)
        outcome = asyncio.ensure_future(admission.admit(late))
        await asyncio.sleep(0)
        admission.done(holder)  # a slot frees, but the late request's 10 s are already up
        assert await outcome is False
        assert admission.waiting == 0 and admission.shed == 1 and admission.inside == 0
        admission.done(late)  # nothing left to give back
        assert admission.inside == 0

    run(scenario())


def test_a_slot_handed_to_a_request_that_no_longer_waits_is_passed_on():
    async def scenario() -> None:
        admission = Admission(capacity=1, wait_seconds=10)
        holder = admission.arrive()
        gone, next_one = admission.arrive(), admission.arrive()
        admission.done(holder)  # the slot goes to `gone`, which never takes it up...
        admission.done(gone)  # ...because it was answered otherwise: the slot moves on
        assert await admission.admit(next_one)
        admission.done(next_one)
        assert admission.inside == 0 and admission.waiting == 0

    run(scenario())


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()


def test_the_worker_moves_its_startup_heap_out_of_the_collectors_reach(
    unfrozen, monkeypatch, migrated_sqlite_url
):
    """A full collection over a warmed-up worker's heap took 95-113 ms under load, stalling
    every request in the worker; after ``gc.freeze()`` at startup, 16 ms at most."""
    from api.main import create_app

    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app()):
        assert gc.get_freeze_count() > 10_000
