"""The real server command, ``python -m api.serve``, as a subprocess on a loopback port.

Every wait is a poll with a deadline; nothing asserts on elapsed time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from app_support import APP_DIR, AUTH, ServerProcess, clean_env, free_port, wait_until

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

TEST_ROUTES = {"APP_ENABLE_TEST_ROUTES": "1"}


def _get(url: str, timeout: float = 10) -> httpx.Response:
    return httpx.get(url, headers=AUTH, timeout=timeout)


def test_in_flight_request_completes_after_sigterm(server_factory, migrated_sqlite_url):
    graceful = 15
    server = server_factory(
        migrated_sqlite_url, GRACEFUL_SHUTDOWN_TIMEOUT=str(graceful), **TEST_ROUTES
    ).start()

    result: dict[str, object] = {}

    def slow_request() -> None:
        try:
            result["response"] = _get(f"{server.base_url}/_test/block/inflight", timeout=60)
        except Exception as exc:
            result["error"] = exc

    client = threading.Thread(target=slow_request, daemon=True)
    client.start()
    wait_until(
        (server.state_dir / "inflight.started").exists,
        timeout=15,
        what="the slow request to reach the worker",
    )

    server.proc.send_signal(signal.SIGTERM)
    wait_until(
        lambda: "Waiting for connections to close" in server.log(),
        timeout=15,
        what="the worker to start its graceful shutdown",
    )
    assert client.is_alive(), "the in-flight request must not be cut off by SIGTERM"

    (server.state_dir / "inflight.release").touch()
    client.join(timeout=30)
    assert "error" not in result, result.get("error")
    response = result["response"]
    assert response.status_code == 200
    assert response.json()["released"] == "inflight"

    assert server.proc.wait(timeout=graceful) == 0


def test_shutdown_stops_waiting_at_the_graceful_timeout(server_factory, migrated_sqlite_url):
    """A request that never finishes cannot hold the task past stopTimeout."""
    server = server_factory(
        migrated_sqlite_url, GRACEFUL_SHUTDOWN_TIMEOUT="1", **TEST_ROUTES
    ).start()
    client = threading.Thread(
        target=lambda: _try_get(f"{server.base_url}/_test/block/never", timeout=60), daemon=True
    )
    client.start()
    wait_until((server.state_dir / "never.started").exists, timeout=15, what="slow request")

    server.proc.send_signal(signal.SIGTERM)
    # Well inside the 30 s stopTimeout, although the request was never released.
    assert server.proc.wait(timeout=15) == 0
    assert "timeout graceful shutdown exceeded" in server.log()


def _try_get(url: str, timeout: float) -> None:
    with contextlib.suppress(httpx.HTTPError):
        _get(url, timeout=timeout)


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_worker_is_replaced_and_requests_keep_succeeding(
    server_factory, migrated_sqlite_url, workers
):
    server = server_factory(
        migrated_sqlite_url, WEB_CONCURRENCY=str(workers), **TEST_ROUTES
    ).start()
    original = wait_until(
        lambda: len(server.workers()) == workers and server.workers(),
        timeout=30,
        what=f"{workers} worker(s)",
    )
    victim = min(original)

    os.kill(victim, signal.SIGKILL)
    # Even with a single worker nothing is refused: the supervisor owns the listening
    # socket, so this request waits in the backlog until the replacement accepts it.
    assert _get(f"{server.base_url}/notes", timeout=30).status_code == 200

    replaced = wait_until(
        lambda: (pids := server.workers()) and len(pids) == workers and victim not in pids and pids,
        timeout=30,
        what="the supervisor to replace the killed worker",
    )
    served_by = set()
    for _ in range(20):
        response = _get(f"{server.base_url}/_test/pid")
        assert response.status_code == 200
        served_by.add(response.json()["pid"])
    assert served_by <= replaced
    assert victim not in served_by
    assert server.proc.poll() is None, "the supervisor itself keeps running"


@pytest.fixture(scope="module")
def running_server(tmp_path_factory, _migrated_sqlite_template):
    """One default-configured server shared by the read-only tests below."""
    tmp = tmp_path_factory.mktemp("shared-server")
    db = tmp / "app.db"
    shutil.copyfile(_migrated_sqlite_template, db)
    server = ServerProcess(tmp, f"sqlite:///{db}")
    try:  # stopped even when it never turns healthy: no server outlives the tests
        yield server.start()
    finally:
        server.stop()


def test_forwarded_https_yields_https_urls(running_server):
    response = httpx.post(
        f"{running_server.base_url}/notes",
        json={"title": "behind the ALB"},
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Host": "notes.example.com",
            **AUTH,
        },
        timeout=10,
    )
    assert response.status_code == 201
    note_id = response.json()["id"]
    assert response.headers["location"] == f"https://notes.example.com/notes/{note_id}"
    # The client address in the access log (stdout) is the one the ALB forwarded.
    wait_until(
        lambda: "203.0.113.7" in running_server.log(),
        timeout=10,
        what="the access log line with the forwarded client address",
    )


def test_without_forwarded_headers_urls_stay_http(running_server):
    response = httpx.post(
        f"{running_server.base_url}/notes", json={"title": "direct"}, headers=AUTH, timeout=10
    )
    assert response.status_code == 201
    assert response.headers["location"].startswith(f"{running_server.base_url}/notes/")


def test_idle_keep_alive_connection_outlives_uvicorns_5s_default(running_server):
    """KEEP_ALIVE_TIMEOUT (65 s) applies: an idle connection is still usable after 6 s.

    With uvicorn's default of 5 s the server would have closed it, which is what makes an
    ALB (idle timeout 60 s) answer 502 on a reused connection.
    """
    request = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    with socket.create_connection(("127.0.0.1", running_server.port), timeout=10) as sock:
        sock.sendall(request)
        first = _read_response(sock)
        assert first.startswith(b"HTTP/1.1 200")
        assert b"server:" not in first.lower()  # no "uvicorn" banner
        time.sleep(6)  # sets up the idle period; the assertion does not depend on timing
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 200")


def _read_response(sock: socket.socket) -> bytes:
    """Read one HTTP/1.1 response (headers plus a Content-Length body) from ``sock``."""
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            if len(body) >= length:
                return data
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"server closed the connection after {data!r}")
        data += chunk


def test_test_routes_are_off_in_the_default_server(running_server):
    assert _get(f"{running_server.base_url}/_test/pid").status_code == 404


def test_container_healthcheck_exits_0_when_healthy_and_1_otherwise(running_server):
    def healthcheck(port: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.healthcheck"],
            cwd=APP_DIR,
            env=clean_env(PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert healthcheck(running_server.port).returncode == 0
    down = healthcheck(free_port())
    assert down.returncode == 1
    assert "did not answer 200" in down.stderr


def test_server_exits_nonzero_when_the_app_cannot_start(server_factory):
    server = server_factory("this is not a database url").start(wait_healthy=False)
    # The supervisor must give up (not restart a broken worker forever) and say so, so ECS
    # sees a failed task rather than a clean exit.
    assert server.proc.wait(timeout=30) == 3  # uvicorn's STARTUP_FAILURE
    assert "Application startup failed" in server.log()
