"""Admission control for the database routes: who gets one of a worker's slots, who waits a
little, and who is answered 503 at once.

A worker admits at most ``api.db.POOL_CAPACITY`` database requests at a time (why that
number: ``api.db``). A request that finds every slot taken may wait for one, but only when
the wait is likely to end well: the queue it would join must drain within half of
``ADMISSION_WAIT_MS`` (default 50 ms) at the pace requests have been leaving their slots
lately (Little's law: ``waiters x mean hold / capacity``). Otherwise it is shed **at once**,
with 503 and ``Retry-After: 1``. A waiter whose wait does run out is shed then, so no
request is held past the wait.

Deciding on arrival, not after a timer, is what keeps a shed answer fast when the worker is
busy: a timer set for 50 ms fires only when the event loop next gets round to it, which
under overload is long after (measured before this module: 130-350 ms server-side for a
50 ms wait). The HTTP protocol (``api.protocol``) asks ``ADMISSION.arrive()`` as soon as a
request's head is parsed and writes the prebuilt shed answer straight to the socket,
without an ASGI task, middleware or access log line, so a refusal costs the worker well
under 0.1 ms (one worker on one core answered 12,000 a second).
``api.middleware.RequestGuard`` asks the same object when a request comes in another way (a
test client, another server).

A shed connection is read again at once. An earlier version stopped reading it for up to a
second, to slow clients that ignore ``Retry-After``; but behind the ALB, which carries many
clients' requests over each connection to a task, that delayed other clients' requests by
up to a second, and with shed answers this cheap the worker can afford to answer a retry
storm (figures: ``app/README.md``).

One ``Admission`` per worker process (``ADMISSION``): the protocol and the app must count
the same slots. ``RequestGuard`` configures it from the environment when the app is built.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time

from api.db import POOL_CAPACITY

# 50 ms: half the 100 ms a shed answer is allowed, and enough for a waiter to get a slot when
# the database keeps up (a slot frees every few milliseconds at the measured 400+ requests/s).
DEFAULT_ADMISSION_WAIT_MS = 50
# A request joins the queue only if, at the recent pace, its turn comes within this share of
# the wait: hold times vary, and a waiter whose wait runs out was kept for nothing.
QUEUE_WAIT_SHARE = 0.5
# However fast requests have been leaving, never more waiters than this.
MAX_WAITING = 4 * POOL_CAPACITY
# How much one finished request moves the mean slot hold time (an exponentially weighted mean
# over roughly the last 1/ALPHA requests: quick to see the database slow down or recover).
HOLD_TIME_ALPHA = 0.1
RETRY_AFTER_SECONDS = 1
# Where api.protocol leaves its decision for the app: scope["extensions"][TICKET_EXTENSION].
TICKET_EXTENSION = "api.admission"

SHED_BODY = json.dumps({"detail": "overloaded, retry shortly"}).encode()
SHED_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(SHED_BODY)).encode()),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
)


# Paths whose handlers use the database (the notes API and the readiness check).
DB_PATH_PREFIXES = ("/notes", "/readyz")


_DB_PATHS = frozenset(DB_PATH_PREFIXES)
_DB_SUBPATHS = tuple(prefix + "/" for prefix in DB_PATH_PREFIXES)


def uses_database(path: str) -> bool:
    """Whether ``path`` is one of ``DB_PATH_PREFIXES`` or below it (``/notes/7``, not
    ``/notesX``). Asked for every request, so a set lookup and one ``startswith``."""
    return path in _DB_PATHS or path.startswith(_DB_SUBPATHS)


def server_timing(held_seconds: float) -> bytes:
    """``Server-Timing: shed;dur=<ms>``: how long the worker had the request before refusing
    it, so a benchmark can tell the server's time-to-503 from time spent in queues outside."""
    return b"shed;dur=%.1f" % (held_seconds * 1000)


class Ticket:
    """What ``Admission.arrive`` decided: ``admitted``, ``shed``, or waiting on ``future``."""

    __slots__ = ("admitted", "arrived", "entered", "future")

    def __init__(self, admitted: bool, future: asyncio.Future[None] | None, arrived: float):
        self.admitted = admitted
        self.future = future
        self.arrived = arrived
        self.entered = arrived if admitted else 0.0

    @property
    def shed(self) -> bool:
        return not self.admitted and self.future is None


class Admission:
    """At most ``capacity`` requests inside; a short wait only when it will likely pay off."""

    def __init__(
        self,
        capacity: int = POOL_CAPACITY,
        wait_seconds: float = DEFAULT_ADMISSION_WAIT_MS / 1000,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.max_waiting = max_waiting
        self.inside = 0
        self.shed = 0
        # Seconds a request holds its slot, smoothed; None until one has left.
        self.mean_hold: float | None = None
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def queue_limit(self) -> int:
        """How many waiters the slots can serve within the wait, at the recent pace."""
        if self.wait_seconds <= 0:
            return 0
        if not self.mean_hold:
            return self.max_waiting
        drains = int(self.capacity * self.wait_seconds * QUEUE_WAIT_SHARE / self.mean_hold)
        return min(self.max_waiting, drains)

    def arrive(self, arrived: float | None = None) -> Ticket:
        """Decide now, without waiting: a slot, a place in the queue, or shed."""
        arrived = time.perf_counter() if arrived is None else arrived
        if self.inside < self.capacity and not self._waiters:
            self.inside += 1
            return Ticket(True, None, arrived)
        if len(self._waiters) >= self.queue_limit():
            self.shed += 1
            return Ticket(False, None, arrived)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return Ticket(False, future, arrived)

    async def admit(self, ticket: Ticket) -> bool:
        """True once ``ticket`` holds a slot; False (shed) when its wait runs out first."""
        future = ticket.future
        if ticket.admitted or future is None:
            return ticket.admitted
        # The wait counts from arrival, not from when this task got to run.
        remaining = ticket.arrived + self.wait_seconds - time.perf_counter()
        try:
            await asyncio.wait_for(future, max(remaining, 0.0))
        except TimeoutError:
            self._withdraw(ticket)
            self.shed += 1
            return False
        except BaseException:
            self._withdraw(ticket)
            raise
        ticket.future = None
        ticket.admitted = True
        ticket.entered = time.perf_counter()
        return True

    def done(self, ticket: Ticket) -> None:
        """The request is answered: free its slot, or its place in the queue."""
        if ticket.admitted:
            ticket.admitted = False
            held = time.perf_counter() - ticket.entered
            self.mean_hold = (
                held
                if self.mean_hold is None
                else self.mean_hold + HOLD_TIME_ALPHA * (held - self.mean_hold)
            )
            self._hand_on()
        elif ticket.future is not None:
            self._withdraw(ticket)

    def _withdraw(self, ticket: Ticket) -> None:
        future, ticket.future = ticket.future, None
        if future in self._waiters:
            self._waiters.remove(future)
            future.cancel()
        elif future is not None and future.done() and not future.cancelled():
            # A slot was handed over just as the wait ended: pass it on.
            self._hand_on()

    def _hand_on(self) -> None:
        # Hand the slot straight to the oldest waiter (FIFO), else free it.
        while self._waiters:
            future = self._waiters.pop(0)
            if not future.done():
                future.set_result(None)
                return
        self.inside -= 1


ADMISSION = Admission()


# True in the task of a request that the app (not the protocol) answered with a shed 503.
_shed_request: contextvars.ContextVar[bool] = contextvars.ContextVar("shed", default=False)


def mark_shed() -> None:
    _shed_request.set(True)


class SkipShedAnswers(logging.Filter):
    """An access-log filter (``api.serve`` installs it on ``uvicorn.access``) that drops the
    line of a shed request.

    Under overload a worker answers thousands of 503s a second; formatting and writing a log
    line for each cost as much CPU as the answer itself, taken from the requests it still
    serves. The count of shed requests is not lost: the load balancer's
    ``HTTPCode_Target_5XX_Count`` metric has it. Every other answer is logged as before.
    (Answers the protocol sheds never reach the access log at all.)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not _shed_request.get()
