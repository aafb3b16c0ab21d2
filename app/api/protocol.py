"""uvicorn's httptools protocol with the limits it lacks: header size and header read time.

uvicorn (0.54, ``protocols/http/httptools_impl.py``) bounds neither: an 8 MB header was
answered 200, and 500 connections that sent half a request line stayed open for as long as
the clients liked (issue 16). h11 has ``h11_max_incomplete_event_size`` but no read timeout,
and is several times slower than httptools, so this subclass adds, per connection:

* **Header size** (``MAX_HEADER_BYTES``, default 64 KiB, the ALB's own limit for a request's
  headers): bytes received while a request's head is incomplete are counted *before* they
  are parsed; past the limit the answer is 431 and the connection is closed. Memory per
  connection is thus bounded by the limit plus one socket read.
* **Header read timeout** (``HEADER_READ_TIMEOUT``, default 10 s from a request's first byte
  to the end of its head): a slow-header (slowloris) connection gets 408 and is closed.
* **Idle timeout on a new connection**: uvicorn arms its keep-alive timer only after a first
  response; here it is armed when the connection opens as well, so a connection that never
  sends anything is closed after ``KEEP_ALIVE_TIMEOUT`` too.

* **Shed on arrival**: a request for a database route is put to the worker's admission
  control (``api.admission.ADMISSION``) as soon as its head is parsed; when it is to be shed,
  the prebuilt 503 goes straight to the socket: no ASGI task, no middleware, no access log
  line. Under overload that answer is most of what a worker sends, and it costs well under
  0.1 ms this way instead of a full trip through the app (why that matters:
  ``api.admission``). A request that gets a slot or a place in the queue carries its ticket
  to the app in ``scope["extensions"]``.

Body size and body read timeout are the app's job (``api.middleware``): they need to know the
route, and an ASGI answer (413/408) is all they send.

Selected in ``api.serve`` with ``Config(http="api.protocol:BoundedHttpToolsProtocol")``
(uvicorn imports a protocol class given as ``module:attribute``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import time

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.admission import (
    ADMISSION,
    SHED_BODY,
    SHED_HEADERS,
    TICKET_EXTENSION,
    Ticket,
    server_timing,
    uses_database,
)

# The ALB refuses a request whose headers exceed 64 KiB (and a single line over 16 KiB), so
# nothing larger ever reaches a task through it; reached directly, we refuse the same.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
# 10 s from a request's first byte to its last header byte: a real client (or the ALB) sends
# a head in one packet; 10 s absorbs a very slow link and still frees a slowloris connection
# long before the 60 s ALB idle timeout.
DEFAULT_HEADER_READ_TIMEOUT = 10.0


@functools.cache
def limits_from_env() -> tuple[int, float]:
    """(``MAX_HEADER_BYTES``, ``HEADER_READ_TIMEOUT``), read once per process.

    ``api.serve`` calls this before starting, so a bad value stops the server with a message
    instead of failing every connection."""
    values = []
    for name, default in (
        ("MAX_HEADER_BYTES", DEFAULT_MAX_HEADER_BYTES),
        ("HEADER_READ_TIMEOUT", DEFAULT_HEADER_READ_TIMEOUT),
    ):
        raw = os.environ.get(name, "").strip()
        try:
            value = float(raw) if raw else float(default)
        except ValueError:
            raise SystemExit(f"{name} must be a positive number, got {raw!r}") from None
        if not value > 0:
            raise SystemExit(f"{name} must be a positive number, got {raw!r}")
        values.append(value)
    return int(values[0]), values[1]


class HeadTooLargeError(Exception):
    pass


SHED_HEAD = STATUS_LINE[503] + b"".join(
    name + b": " + value + b"\r\n" for name, value in SHED_HEADERS
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes, self.header_read_timeout = limits_from_env()
        self._reading_head = True
        self._head_bytes = 0
        self._parsed_head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        # perf_counter() when the head being read began to arrive (None between heads), and
        # when the latest complete head did.
        self._head_started: float | None = None
        self._arrived = 0.0
        # Inside on_response_complete, and whether a shed answer completed meanwhile.
        self._completing = False
        self._completed_again = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_started is None:
                self._head_started = time.perf_counter()
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        # Checked after parsing: a read that completed the head (and carries body bytes)
        # resets the count in on_headers_complete and is never refused here.
        if self._head_bytes > self.max_header_bytes:
            self._refuse(431, "Request header fields too large")
        elif self._head_started is not None and self._head_timer is None:
            # The head did not come in one read (a real client's does): bound the rest.
            elapsed = time.perf_counter() - self._head_started
            self._head_timer = self.loop.call_later(
                self.header_read_timeout - elapsed, self._head_timed_out
            )

    # A head that arrives in one read is parsed in one go: count what the parser hands over
    # too, and stop it (httptools turns the exception into HttpParserError, which uvicorn
    # answers with send_400_response, below) as soon as the limit is passed.
    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_parsed(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_parsed(self, size: int) -> None:
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > self.max_header_bytes:
            self._head_too_large = True
            raise HeadTooLargeError

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._refuse(431, "Request header fields too large")
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        # A head that began in an earlier read of this buffer counts from then.
        self._arrived = self._head_started or time.perf_counter()
        self._head_started = None
        self._reading_head = False
        self._head_bytes = 0
        self._parsed_head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def _start_asgi_task(self, cycle, app) -> None:  # type: ignore[no-untyped-def]
        # uvicorn calls this for every request it starts, pipelined ones included.
        if uses_database(cycle.scope["path"]):
            # The latest head's start time belongs to the latest cycle; a pipelined request
            # started later counts from now.
            arrived = self._arrived if cycle is self.cycle else time.perf_counter()
            ticket = ADMISSION.arrive(arrived)
            if ticket.shed:
                self._answer_shed(cycle, ticket)
                return
            cycle.scope.setdefault("extensions", {})[TICKET_EXTENSION] = ticket
        super()._start_asgi_task(cycle, app)

    def _answer_shed(self, cycle, ticket: Ticket) -> None:  # type: ignore[no-untyped-def]
        """Write the shed 503 and finish the request as uvicorn's ``send`` would."""
        head = [SHED_HEAD]
        for name, value in self.server_state.default_headers:  # the Date header
            head += [name, b": ", value, b"\r\n"]
        head += [b"server-timing: ", server_timing(time.perf_counter() - ticket.arrived)]
        head.append(b"\r\n\r\n" if cycle.keep_alive else b"\r\nconnection: close\r\n\r\n")
        if cycle.scope["method"] != "HEAD":
            head.append(SHED_BODY)
        # Marked complete before writing, so uvicorn discards the request's body as it arrives.
        cycle.response_started = cycle.response_complete = True
        self.transport.write(b"".join(head))
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def on_response_complete(self) -> None:
        # The next request's head starts now (pipelined bytes already read count from here).
        self._reading_head = True
        # uvicorn starts the next pipelined request from here; when that one is shed, its
        # answer completes at once and calls back in. Loop instead of nesting a call per
        # request: a long pipeline would pass the recursion limit.
        if self._completing:
            self._completed_again = True
            return
        self._completing = True
        try:
            self._completed_again = True
            while self._completed_again:
                self._completed_again = False
                super().on_response_complete()
        finally:
            self._completing = False

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(408, "Request header read timeout")

    def _refuse(self, status: int, reason: str) -> None:
        self._cancel_head_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            # A response is still being produced on this connection: just stop reading.
            self.transport.close()
            return
        self.logger.warning("%s, closing the connection", reason)
        body = reason.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason.encode("ascii"), len(body), body)
        )
        self.transport.close()
