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

* **Hold back a shed connection**: after a shed 503 the connection is not read again until
  ``api.middleware.ShedBackoff`` releases it (why: there).

Body size and body read timeout are the app's job (``api.middleware``): they need to know the
route, and an ASGI answer (413/408) is all they send.

Selected in ``api.serve`` with ``Config(http="api.protocol:BoundedHttpToolsProtocol")``
(uvicorn imports a protocol class given as ``module:attribute``).
"""

from __future__ import annotations

import asyncio
import functools
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.middleware import SHED_BACKOFF, was_shed

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


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes, self.header_read_timeout = limits_from_env()
        self._reading_head = True
        self._head_bytes = 0
        self._parsed_head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        SHED_BACKOFF.forget(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    self.header_read_timeout, self._head_timed_out
                )
        super().data_received(data)
        # Checked after parsing: a read that completed the head (and carries body bytes)
        # resets the count in on_headers_complete and is never refused here.
        if self._reading_head and self._head_bytes > self.max_header_bytes:
            self._refuse(431, "Request header fields too large")

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
        self._reading_head = False
        self._head_bytes = 0
        self._parsed_head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # The next request's head starts now (pipelined bytes already read count from here).
        self._reading_head = True
        super().on_response_complete()
        # Called from the request's own task, so was_shed() sees what the middleware set.
        if was_shed() and SHED_BACKOFF.seconds > 0 and not self.transport.is_closing():
            self.flow.pause_reading()
            SHED_BACKOFF.hold(self, self._resume_after_shed)

    def _resume_after_shed(self) -> None:
        if not self.transport.is_closing():
            self.flow.resume_reading()

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
