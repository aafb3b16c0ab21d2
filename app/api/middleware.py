"""The request guard: one pure-ASGI middleware in front of every route.

It checks the caller first (issue 25): a request for any route but the health checks (and
the docs, when on) without ``Authorization: Bearer <API_TOKEN>`` gets **401** at once, before
it takes a database slot or a byte of its body is read (the rules: ``api.auth``). The
protocol's shed-on-arrival comes before even that: under overload a caller without a token
may get the 503 everyone gets.

Then four jobs, each a finding of issue 16:

* **Shed overload fast.** Routes that use the database (``api.admission.DB_PATH_PREFIXES``)
  are admitted at most ``api.db.POOL_CAPACITY`` at a time per worker; a request that finds no
  slot waits only when its turn will likely come within ``ADMISSION_WAIT_MS``, else it gets
  **503 with ``Retry-After: 1``** at once (the rules and why: ``api.admission``). Behind the
  server command, ``api.protocol`` makes that decision and writes most shed answers itself; this
  middleware holds the slot for the request's life, runs the wait, and decides for requests
  that arrive another way. ``/healthz`` and the docs are never behind the limiter, so the
  load balancer's health checks keep answering while the database routes are saturated.
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
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from api.admission import (
    ADMISSION,
    DEFAULT_ADMISSION_WAIT_MS,
    SHED_BODY,
    SHED_HEADERS,
    TICKET_EXTENSION,
    Ticket,
    mark_shed,
    server_timing,
    uses_database,
)
from api.auth import UNAUTHORIZED_BODY, UNAUTHORIZED_HEADERS, Auth, from_env
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


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]):
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ] + [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_shed(send: Send, ticket: Ticket) -> None:
    """The shed answer, from the app: for a request that waited for a slot in vain, or one
    that did not come through ``api.protocol`` (which sheds most requests before the app).

    The connection stays open (no ``Connection: close``). Behind the ALB a close would not
    reach the client at all: the ALB keeps its client connection and opens a new one to the
    task for the next request, so closing only adds a TCP handshake and a new protocol object
    per shed request to the overloaded task. uvicorn discards an unread body before the next
    request on the connection.
    """
    mark_shed()
    timing = server_timing(time.perf_counter() - ticket.arrived)
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [*SHED_HEADERS, (b"server-timing", timing)],
        }
    )
    await send({"type": "http.response.body", "body": SHED_BODY})


class RequestGuard:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int | None = None,
        body_read_timeout: float | None = None,
        admission_capacity: int = POOL_CAPACITY,
        admission_wait_ms: int | None = None,
        auth: Auth | None = None,
    ) -> None:
        self.app = app
        # Closed here too: without an explicit Auth (create_app passes its own), the one the
        # environment says, and AuthConfigError when that is unusable (API_TOKEN missing).
        self.auth = from_env() if auth is None else auth
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
        # The worker's one Admission, shared with api.protocol (why: api.admission).
        self.admission = ADMISSION
        self.admission.capacity = admission_capacity
        self.admission.wait_seconds = wait_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._refused(scope):
            ticket = scope.get("extensions", {}).get(TICKET_EXTENSION)
            if ticket is not None:  # the protocol gave it a slot or a place: hand it on
                self.admission.done(ticket)
            await send(
                {"type": "http.response.start", "status": 401, "headers": UNAUTHORIZED_HEADERS}
            )
            await send({"type": "http.response.body", "body": UNAUTHORIZED_BODY})
            return
        ticket = None
        if uses_database(scope["path"]):
            # api.protocol decided on arrival; any other server leaves it to us.
            ticket = scope.get("extensions", {}).get(TICKET_EXTENSION) or self.admission.arrive()
        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await _send_json(
                    send,
                    413,
                    {"detail": f"request body larger than {self.max_body_bytes} bytes"},
                    {"Connection": "close"},
                )
                return
            if ticket is not None and not await self.admission.admit(ticket):
                await _send_shed(send, ticket)
                return
            await self._call_guarded(scope, receive, send)
        finally:
            if ticket is not None:
                self.admission.done(ticket)

    def _refused(self, scope: Scope) -> bool:
        """Whether the request lacks the token its route needs (``api.auth``)."""
        if self.auth.is_open(scope["path"]):
            return False
        return not self.auth.allows(scope.get("headers", ()))

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
