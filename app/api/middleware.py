"""The request guard: one pure-ASGI middleware in front of every route.

It does four jobs, each a finding of issue 16:

* **Shed overload fast.** Routes that use the database (``DB_PATH_PREFIXES``) are admitted
  at most ``api.db.POOL_CAPACITY`` at a time per worker (why that number: ``api.db``). A
  request that finds no free slot waits at most ``ADMISSION_WAIT_MS`` (default 50 ms; a slot
  frees every few milliseconds while the database keeps up) and, when the queue of waiters is
  already ``MAX_WAITING`` long, not at all; then it gets **503 with ``Retry-After: 1``**,
  well inside 100 ms, before its body is read. Queueing longer only turns overload into
  timeouts for everyone. ``/healthz`` and the docs are never behind the limiter, so the load
  balancer's health checks keep answering while the database routes are saturated.
  The shed answer is built once and not access-logged, and the connection it went out on
  is not read again for up to ``SHED_BACKOFF_MS`` (``ShedBackoff``), so clients that
  re-send at once cannot starve the requests the worker admitted.
* **Bound request bodies while reading** (``MAX_BODY_BYTES``, default 1 MiB): a declared
  ``Content-Length`` above the limit is answered 413 before a byte is read; a chunked body is
  counted as it arrives and refused (413) the moment it passes the limit, so a worker never
  buffers more than the limit plus one chunk.
* **Bound the time a body may take** (``BODY_READ_TIMEOUT``, default 30 s between two chunks):
  a client that stops sending mid-body gets 408 and the connection is closed. (Header read
  timeouts and header size limits live in the HTTP protocol, ``api.protocol``.)
* **A 500 that closes the connection.** An unhandled exception becomes a 500 with
  ``Connection: close`` (the server then closes it, and a client or the ALB must not reuse
  it). The log line names the exception class and the route and the code's frames, never the
  exception's message, which may quote user input (a PostgreSQL ``DataError`` does).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from api.db import POOL_CAPACITY
from api.settings import env_int

logger = logging.getLogger("api.errors")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# 1 MiB: a note is at most 10 000 characters of body plus a 200-character title (well under
# 64 KiB as JSON even when every character is escaped); a megabyte leaves room for the app
# you grow from this one and keeps 8 concurrent maximal bodies under 10 MiB of a worker.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# 30 s between two chunks of a body: generous for a slow mobile client, short next to the
# ALB's 60 s idle timeout, so a stalled upload frees its worker slot before the ALB gives up.
DEFAULT_BODY_READ_TIMEOUT = 30.0
# 50 ms: half the 100 ms the issue allows for a shed answer, enough to ride out the normal
# jitter of a busy pool (a slot frees every few ms at the measured 500+ requests/s).
DEFAULT_ADMISSION_WAIT_MS = 50
# Waiters beyond this are shed at once: a long queue cannot drain within the wait anyway.
MAX_WAITING = 4 * POOL_CAPACITY
RETRY_AFTER_SECONDS = "1"
# The shed answer, built once: under a retry storm it is most of what a worker sends, so it
# costs no JSON encoding and no header list per request (only its Server-Timing value).
SHED_BODY = json.dumps({"detail": "overloaded, retry shortly"}).encode()
SHED_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(SHED_BODY)).encode()),
    (b"retry-after", RETRY_AFTER_SECONDS.encode()),
)
SHED_BODY_MESSAGE = {"type": "http.response.body", "body": SHED_BODY}

# 1 s, the same as Retry-After: a client that honours Retry-After never notices the hold.
DEFAULT_SHED_BACKOFF_MS = 1000


class ShedBackoff:
    """Connections held back after a shed answer, oldest first (one per worker process).

    A client that ignores ``Retry-After`` re-sends at once; with hundreds of such connections
    the worker spends its whole event loop answering 503s and the requests it admitted
    starve (measured: 1 worker, 1000 connections, 14 served requests/s). So the HTTP
    protocol (``api.protocol``) stops reading a connection it just shed and hands it here;
    it reads again after ``seconds`` (``SHED_BACKOFF_MS``), or as soon as a database slot
    falls free with nobody waiting for it (``release_one``, oldest first), whichever is
    first. The next request on that connection waits in the kernel's socket buffer, costing
    the worker nothing, and is then served if there is room.

    Behind the ALB one target connection carries many clients' requests in turn, so the
    request the ALB sends next on a held connection waits up to the hold; under overload
    that request would most likely have been shed, and a freed slot releases the connection
    at once. ``SHED_BACKOFF_MS=0`` turns the hold off.
    """

    def __init__(self) -> None:
        self.seconds = DEFAULT_SHED_BACKOFF_MS / 1000
        # connection -> (its timer, the callable that makes it read again); insertion order
        # is the order connections were held, so release_one frees the oldest.
        self._held: dict[Any, tuple[asyncio.TimerHandle, Callable[[], None]]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, connection: Any, resume: Callable[[], None]) -> None:
        self.forget(connection)
        timer = asyncio.get_running_loop().call_later(self.seconds, self._release, connection)
        self._held[connection] = (timer, resume)

    def release_one(self) -> None:
        if self._held:
            self._release(next(iter(self._held)))

    def _release(self, connection: Any) -> None:
        timer, resume = self._held.pop(connection)
        timer.cancel()
        resume()

    def forget(self, connection: Any) -> None:
        held = self._held.pop(connection, None)
        if held is not None:
            held[0].cancel()


SHED_BACKOFF = ShedBackoff()


def was_shed() -> bool:
    """True in the task of a request that was answered with a shed 503."""
    return _shed_request.get()


# True in the task of a request that was shed: ``SkipShedAnswers`` drops its access-log line.
_shed_request: contextvars.ContextVar[bool] = contextvars.ContextVar("shed", default=False)


class SkipShedAnswers(logging.Filter):
    """An access-log filter (``api.serve`` installs it on ``uvicorn.access``) that drops the
    line of a shed request.

    Under overload a worker answers thousands of 503s a second; formatting and writing a log
    line for each cost as much CPU as the answer itself, taken from the requests it still
    serves. The count of shed requests is not lost: the load balancer's
    ``HTTPCode_Target_5XX_Count`` metric has it. Every other answer is logged as before.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not _shed_request.get()


# Paths whose handlers use the database (the notes API and the readiness check).
DB_PATH_PREFIXES = ("/notes", "/readyz")


def uses_database(path: str) -> bool:
    """Whether ``path`` is one of ``DB_PATH_PREFIXES`` or below it (``/notes/7``, not
    ``/notesX``)."""
    return any(path == p or path.startswith(p + "/") for p in DB_PATH_PREFIXES)


class BodyTooLarge(HTTPException):
    """Raised from ``receive``; an ``HTTPException`` so FastAPI's body parsing passes it on."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"request body larger than {limit} bytes",
            headers={"Connection": "close"},
        )


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408,
            detail=f"no request body data for {seconds:g} s",
            headers={"Connection": "close"},
        )


class Admission:
    """At most ``capacity`` requests inside, a short bounded wait, then refuse."""

    def __init__(self, capacity: int, wait_seconds: float, max_waiting: int) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.max_waiting = max_waiting
        self.inside = 0
        self.shed = 0
        self._waiters: list[asyncio.Future[None]] = []

    async def enter(self) -> bool:
        if self.inside < self.capacity and not self._waiters:
            self.inside += 1
            return True
        if len(self._waiters) >= self.max_waiting or self.wait_seconds <= 0:
            self.shed += 1
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.wait_seconds)
        except TimeoutError:
            self._abandon(waiter)
            self.shed += 1
            return False
        except BaseException:
            self._abandon(waiter)
            raise
        return True

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        elif waiter.done() and not waiter.cancelled():
            # A slot was handed over just as the wait ended: pass it on.
            self.leave()

    def leave(self) -> None:
        # Hand the slot straight to the oldest waiter (FIFO), else free it.
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return
        self.inside -= 1
        # Room again and nobody waiting: let the oldest held-back connection read again.
        SHED_BACKOFF.release_one()


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]):
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_shed(send: Send, arrived: float) -> None:
    """503 with ``Retry-After``; ``Server-Timing: shed;dur=`` says how long the worker held
    the request before refusing it (the admission wait), so a benchmark can tell the server's
    time-to-503 from the time the answer then spent in the client's and the kernel's queues.

    The connection stays open (no ``Connection: close``). Behind the ALB a close would not
    reach the client at all: the ALB keeps its client connection and opens a new one to the
    task for the next request, so closing only adds a TCP handshake and a new protocol object
    per shed request to the overloaded task. A client that retries at once is slowed by
    ``Retry-After`` if it honours it; one that ignores it is cheapest answered where it
    stands. uvicorn discards an unread body before the next request on the connection.
    """
    _shed_request.set(True)
    held_ms = (time.perf_counter() - arrived) * 1000
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [*SHED_HEADERS, (b"server-timing", b"shed;dur=%.1f" % held_ms)],
        }
    )
    await send(SHED_BODY_MESSAGE)


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int | None = None,
        body_read_timeout: float | None = None,
        admission_capacity: int = POOL_CAPACITY,
        admission_wait_ms: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = (
            env_int("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1)
            if max_body_bytes is None
            else max_body_bytes
        )
        self.body_read_timeout = (
            float(env_int("BODY_READ_TIMEOUT", int(DEFAULT_BODY_READ_TIMEOUT), minimum=1))
            if body_read_timeout is None
            else body_read_timeout
        )
        wait_ms = (
            env_int("ADMISSION_WAIT_MS", DEFAULT_ADMISSION_WAIT_MS)
            if admission_wait_ms is None
            else admission_wait_ms
        )
        self.admission = Admission(admission_capacity, wait_ms / 1000, MAX_WAITING)
        SHED_BACKOFF.seconds = env_int("SHED_BACKOFF_MS", DEFAULT_SHED_BACKOFF_MS) / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_json(
                send,
                413,
                {"detail": f"request body larger than {self.max_body_bytes} bytes"},
                {"Connection": "close"},
            )
            return
        needs_db = uses_database(scope["path"])
        if needs_db:
            arrived = time.perf_counter()
            if not await self.admission.enter():
                await _send_shed(send, arrived)
                return
        try:
            await self._call_guarded(scope, receive, send)
        finally:
            if needs_db:
                self.admission.leave()

    async def _call_guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        timeout = self.body_read_timeout
        state = {"received": 0, "body_done": False, "started": False}

        async def bounded_receive() -> Message:
            if state["body_done"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise BodyTimeout(timeout) from None
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    raise BodyTooLarge(limit)
                if not message.get("more_body", False):
                    state["body_done"] = True
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except (BodyTooLarge, BodyTimeout) as exc:
            # Raised where no exception handler saw it (a route reading the raw stream).
            if not state["started"]:
                await _send_json(send, exc.status_code, {"detail": exc.detail}, exc.headers)
        except Exception as exc:
            logger.error(
                "unhandled %s in %s %s (message withheld: it may quote request data)\n%s",
                type(exc).__name__,
                scope.get("method"),
                _route_template(scope),
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not state["started"]:
                await _send_json(
                    send, 500, {"detail": "internal server error"}, {"Connection": "close"}
                )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/notes/{note_id}``), not the raw path with its ids."""
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched route)"
