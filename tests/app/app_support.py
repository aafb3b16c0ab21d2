"""Helpers for the app tests (tests/app): run the real commands as subprocesses, poll.

A uniquely named module rather than ``conftest`` so that ``from app_support import ...``
can never pick up another directory's conftest.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:  # starlette prefers httpx2 (the maintained successor); plain httpx works too
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx
import pytest

APP_DIR = Path(__file__).resolve().parents[2] / "app"

PG_SKIP_REASON = (
    "PostgreSQL tests need TEST_DATABASE_URL, e.g. "
    "TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test (.ci/run sets it)"
)

# Variables that would change which database or settings a child process picks up.
_APP_ENV_VARS = (
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_SSLMODE",
    "DB_SECRET_ARN",
    "PORT",
    "HOST",
    "WEB_CONCURRENCY",
    "KEEP_ALIVE_TIMEOUT",
    "GRACEFUL_SHUTDOWN_TIMEOUT",
    "FORWARDED_ALLOW_IPS",
    "LOG_LEVEL",
    "APP_ENABLE_TEST_ROUTES",
    "APP_TEST_STATE_DIR",
    "MIGRATION_LOCK_TIMEOUT",
    "MAX_BODY_BYTES",
    "BODY_READ_TIMEOUT",
    "MAX_HEADER_BYTES",
    "HEADER_READ_TIMEOUT",
    "ADMISSION_WAIT_MS",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_SSLROOTCERT",
    "DB_LOCK_TIMEOUT_MS",
    "DB_APP_ROLE",
    "DB_APP_SECRET_ARN",
    "HEALTH_CHECK_PATH",
    "HEALTHCHECK_TIMEOUT",
    "API_AUTH",
    "API_TOKEN",
    "API_DOCS",
)

# The servers these tests start are closed, as a deployed one is (api.auth): they get this
# token, and requests to anything but the health checks carry it (``AUTH``, ``AUTH_LINE``).
TEST_API_TOKEN = "test-token-" + "x" * 32
AUTH = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
AUTH_LINE = f"Authorization: Bearer {TEST_API_TOKEN}\r\n".encode()


# --- The container's confinement, without Docker (how: confine.py) ---------------------------

CONFINE = Path(__file__).resolve().parent / "confine.py"


def image_user() -> tuple[int, int]:
    """The uid:gid of the image's ``USER`` line (its runtime stage), as ECS runs it."""
    runtime = (APP_DIR / "Dockerfile").read_text().split("AS runtime", 1)[1]
    users = [line.split()[1] for line in runtime.splitlines() if line.startswith("USER ")]
    uid, gid = users[-1].split(":")
    return int(uid), int(gid)


def confinement_unavailable() -> str | None:
    """Why ``confined`` cannot run here (a reason to skip), or None."""
    if os.geteuid() != 0:
        return "confining a process (mount namespace, setpriv) needs root; ran as uid " + str(
            os.geteuid()
        )
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"no mount namespaces here: {probe.stderr.strip()}"
    return None


def confined(argv: list[str]) -> list[str]:
    """``argv`` run as the container runs it: read-only root, /tmp writable, the image's user,
    no capability (``confine.py``)."""
    uid, gid = image_user()
    return [
        "unshare", "--mount", "--propagation", "private", "--",
        sys.executable, str(CONFINE), str(uid), str(gid), sys.base_prefix, "--", *argv,
    ]  # fmt: skip


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = ""
) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _APP_ENV_VARS}
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_migrate(
    env: dict[str, str], timeout: float = 60, wrap: Callable[[list[str]], list[str]] = list
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        wrap([sys.executable, "-m", "api.migrate"]),
        cwd=APP_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def child_pids(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (from /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry.name))
    return children


def worker_pids(supervisor_pid: int) -> set[int]:
    """uvicorn workers are multiprocessing 'spawn' children (the resource tracker is not)."""
    workers = set()
    for pid in child_pids(supervisor_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.add(pid)
    return workers


class ServerProcess:
    """``python -m api.serve`` on a free loopback port, output captured to a log file; closed
    with ``TEST_API_TOKEN`` unless ``env`` says otherwise."""

    def __init__(
        self,
        tmp_dir: Path,
        database_url: str,
        wrap: Callable[[list[str]], list[str]] = list,
        **env: str,
    ) -> None:
        self.wrap = wrap
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_dir / f"server-{self.port}.log"
        self.state_dir = tmp_dir
        self.env = clean_env(
            DATABASE_URL=database_url,
            HOST="127.0.0.1",
            PORT=str(self.port),
            APP_TEST_STATE_DIR=str(tmp_dir),
            **{"API_TOKEN": TEST_API_TOKEN, **env},
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_healthy: bool = True) -> ServerProcess:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.wrap([sys.executable, "-m", "api.serve"]),
                cwd=APP_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait_healthy:
            wait_until(self._healthy, timeout=30, interval=0.1, what="GET /healthz == 200")
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            pytest.fail(f"server exited early with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def workers(self) -> set[int]:
        return worker_pids(self.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in self.workers():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(timeout=10)


def read_http_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response from ``sock``: status, headers (lower-case names), body.

    Reads a Content-Length body; a response without one ends when the server closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed the connection after {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def connection_closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (waits up to the socket's timeout)."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
