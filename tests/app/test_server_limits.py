"""Limits of the real server command, ``python -m api.serve`` (issue 16, findings 2, 3, 6):
request bodies and heads are bounded in size and in time, a 500 closes its connection,
forwarded headers count only from trusted peers, and /docs needs no CDN.

Raw sockets where the point is what happens on the wire; every wait has a deadline and
nothing asserts on elapsed time.
"""

from __future__ import annotations

import re
import shutil
import socket

import pytest

from app_support import (
    AUTH,
    AUTH_LINE,
    ServerProcess,
    connection_closed_by_server,
    read_http_response,
    wait_until,
)

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

BODY_LIMIT = 100_000


@pytest.fixture(scope="module")
def server(tmp_path_factory, _migrated_sqlite_template):
    tmp = tmp_path_factory.mktemp("limits")
    shutil.copyfile(_migrated_sqlite_template, tmp / "app.db")
    server = ServerProcess(
        tmp,
        f"sqlite:///{tmp / 'app.db'}",
        MAX_BODY_BYTES=str(BODY_LIMIT),
        HEADER_READ_TIMEOUT="1",
        BODY_READ_TIMEOUT="1",
        KEEP_ALIVE_TIMEOUT="2",
        # The load balancer's subnets; this test's client (127.0.0.1) is not among them.
        FORWARDED_ALLOW_IPS="10.0.0.0/16",
        APP_ENABLE_TEST_ROUTES="1",
    )
    try:  # stopped even when it never turns healthy: no server outlives the tests
        yield server.start()
    finally:
        server.stop()


def connect(server: ServerProcess, timeout: float = 20) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def test_a_declared_body_over_the_limit_is_413_before_any_of_it_is_sent(server):
    with connect(server) as sock:
        sock.sendall(
            b"POST /notes HTTP/1.1\r\nHost: t\r\n"
            + AUTH_LINE
            + b"Content-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        status, headers, body = read_http_response(sock)
        assert status == 413
        assert headers["connection"] == "close"
        assert str(BODY_LIMIT) in body.decode()


def test_a_chunked_body_is_refused_with_413_once_it_passes_the_limit(server):
    """No Content-Length: the body is counted while it is read, not buffered first."""
    chunk = b"x" * 16_384
    with connect(server) as sock:
        sock.sendall(
            b"POST /notes HTTP/1.1\r\nHost: t\r\n"
            + AUTH_LINE
            + b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        # Up to 64 MB; the server answers (and stops reading) after 1 MiB. More than the
        # loopback socket buffers hold (a few MB with autotuning): sending must stop with a
        # reset (the server closed) or a timeout (it stopped reading), never complete.
        with pytest.raises(OSError):
            sock.settimeout(0.5)
            while sent < 64_000_000:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            pytest.fail("the server read a 64 MB body without answering")
        sock.settimeout(20)
        status, headers, _ = read_http_response(sock)
        assert status == 413
        assert headers["connection"] == "close"


def test_a_body_under_the_limit_is_served(server):
    response = httpx.post(
        f"{server.base_url}/notes",
        json={"title": "t", "body": "b" * 9_000},
        headers=AUTH,
        timeout=10,
    )
    assert response.status_code == 201


def test_a_head_over_64_kib_is_431_and_a_normal_large_one_is_served(server):
    big = httpx.get(f"{server.base_url}/healthz", headers={"X-Big": "a" * 100_000}, timeout=10)
    assert big.status_code == 431
    assert (
        httpx.get(
            f"{server.base_url}/healthz", headers={"X-Big": "a" * 8_000}, timeout=10
        ).status_code
        == 200
    )


def test_a_head_sent_in_many_small_pieces_is_431_once_it_passes_the_limit(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        # 64,000 x 1 KiB: far over 64 KiB, and over what the loopback socket buffers hold (a
        # few MB with autotuning), so sending stops with a reset or a timeout, never completes.
        with pytest.raises(OSError):
            sock.settimeout(0.5)
            for i in range(64_000):
                sock.sendall(b"X-H%d: %s\r\n" % (i, b"a" * 1000))
            pytest.fail("the server read 64 MB of headers without answering")
        # The 431 may or may not be readable after the reset; the connection is gone.


def test_a_slow_head_gets_408_and_is_closed(server):
    """Slowloris: a request line and no end of head. HEADER_READ_TIMEOUT is 1 s here."""
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        status, headers, _ = read_http_response(sock)
        assert status == 408
        assert headers["connection"] == "close"
        assert connection_closed_by_server(sock)


def test_a_stalled_body_gets_408_and_is_closed(server):
    """A body that stops arriving; BODY_READ_TIMEOUT is 1 s here."""
    with connect(server) as sock:
        sock.sendall(
            b"POST /notes HTTP/1.1\r\nHost: t\r\n"
            + AUTH_LINE
            + b"Content-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"title": '
        )
        status, headers, _ = read_http_response(sock)
        assert status == 408
        assert headers["connection"] == "close"


def test_a_500_closes_its_connection_and_logs_no_request_data(server):
    with connect(server) as sock:
        sock.sendall(
            b"GET /_test/fail?q=user-secret-4711 HTTP/1.1\r\nHost: t\r\n" + AUTH_LINE + b"\r\n"
        )
        status, headers, body = read_http_response(sock)
        assert status == 500
        assert headers["connection"] == "close"
        assert b"user-secret-4711" not in body
        assert connection_closed_by_server(sock)
    wait_until(lambda: "unhandled RuntimeError" in server.log(), timeout=10, what="error log")
    assert "user-secret-4711" not in server.log().replace("/_test/fail?q=user-secret-4711", "")
    # The server itself keeps serving new connections.
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


def test_docs_are_served_from_the_package_without_a_cdn(server):
    page = httpx.get(f"{server.base_url}/docs", timeout=10)
    assert page.status_code == 200
    assert not re.search(r"https?://", page.text), "the page must not load anything remote"
    assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert httpx.get(f"{server.base_url}{asset}", timeout=10).status_code == 200


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(server):
    response = httpx.post(
        f"{server.base_url}/notes",
        json={"title": "spoofed"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", **AUTH},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["location"].startswith(f"http://127.0.0.1:{server.port}/")
    wait_until(lambda: "POST /notes" in server.log(), timeout=10, what="the access log line")
    assert "203.0.113.9" not in server.log()


def test_a_connection_that_never_sends_is_closed_after_the_keep_alive_timeout(server):
    """uvicorn arms its keep-alive timer only after a response; here also on connect."""
    with connect(server) as sock:
        assert connection_closed_by_server(sock)
