"""Throughput and memory of the shipped server command (a benchmark, not a test).

Starts ``python -m api.serve`` (the container's CMD) on a free loopback port with
``WEB_CONCURRENCY`` = 1 and 2, drives load on ``GET /healthz`` (no database) and on the
database-backed ``GET /notes?limit=20``, then reads the resident memory of each worker
process from /proc.

Load generator: ``wrk`` when it is on PATH (Debian: ``apt-get install -y wrk``), else a small
asyncio HTTP/1.1 keep-alive generator. Both are bounded: each run lasts ``--duration``
seconds, and the Python generator also stops after ``--max-requests``. Loopback only.

Usage (from the repository root)::

    python benchmarks/app_throughput.py                      # SQLite file in a temp dir
    python benchmarks/app_throughput.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/app_throughput.py --json results.json

With a PostgreSQL URL the benchmark works in a fresh schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "app"
PAGE = "/notes?limit=20"


@dataclass
class LoadResult:
    path: str
    requests: int
    seconds: float
    rps: float
    errors: int
    tool: str


@dataclass
class RunResult:
    workers: int
    results: list[LoadResult] = field(default_factory=list)
    worker_rss_mib: list[float] = field(default_factory=list)
    worker_pss_mib: list[float] = field(default_factory=list)
    supervisor_rss_mib: float = 0.0
    task_rss_mib: float = 0.0  # supervisor + every child (workers, resource tracker)


# --- process helpers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == parent:
                pids.append(int(entry.name))
    return pids


def _spin(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def parallel_capacity(seconds: float = 1.0) -> float:
    """How many cores' worth of work two busy processes get here (2.0 on 2 free cores)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0.1, 0.1])  # start-up
        one = pool.apply(_spin, (seconds,))
        two = sum(pool.map(_spin, [seconds, seconds]))
    return two / one


def worker_pids(supervisor: int) -> list[int]:
    """The supervisor's multiprocessing 'spawn' children (not the resource tracker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        if ppid == supervisor and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def http_get(url: str, timeout: float = 2) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status
    except OSError:
        return 0


def http_post_json(url: str, payload: dict) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with opener.open(request, timeout=5) as response:
        return response.status


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def base_env(database_url: str) -> dict[str, str]:
    names = ("DATABASE_URL", "DB_HOST", "APP_ENABLE_TEST_ROUTES", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["DATABASE_URL"] = database_url
    return env


@contextmanager
def server(database_url: str, workers: int, log_path: Path):
    port = free_port()
    env = base_env(database_url)
    env.update(HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY=str(workers))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.serve"],
            cwd=APP_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http_get(f"{base}/healthz") == 200, 30, "the server to answer")
        wait_for(lambda: len(worker_pids(proc.pid)) == workers, 30, f"{workers} workers")
        yield base, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- load generators -----------------------------------------------------------------------


def run_wrk(url: str, duration: int, connections: int, threads: int) -> LoadResult:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not total or not rps:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    seconds = float(total.group(2)) * {"ms": 0.001, "s": 1, "m": 60}.get(total.group(3), 1)
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    path = "/" + url.split("/", 3)[3]
    return LoadResult(path, int(total.group(1)), seconds, float(rps.group(1)), errors, "wrk")


async def _python_load(
    host: str, port: int, path: str, duration: float, connections: int, max_requests: int
) -> tuple[int, int, float]:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    done = 0
    errors = 0
    start = time.perf_counter()
    deadline = start + duration

    async def one_connection() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline and done + errors < max_requests:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200"):
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return done, errors, time.perf_counter() - start


def run_python(
    base: str, path: str, duration: int, connections: int, max_requests: int
) -> LoadResult:
    host, port = base.removeprefix("http://").split(":")
    done, errors, seconds = asyncio.run(
        _python_load(host, int(port), path, duration, connections, max_requests)
    )
    return LoadResult(path, done, seconds, done / seconds, errors, "python-asyncio")


# --- database setup ------------------------------------------------------------------------


@contextmanager
def database(database_url: str | None, tmp: Path):
    if not database_url:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    sys.path.insert(0, str(APP_DIR))
    from sqlalchemy import create_engine, make_url, pool, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, poolclass=pool.NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def migrate_and_seed(database_url: str, log_path: Path, notes: int) -> None:
    with open(log_path, "ab") as log:
        subprocess.run(
            [sys.executable, "-m", "api.migrate"],
            cwd=APP_DIR,
            env=base_env(database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )
    with server(database_url, 1, log_path) as (base, _proc):
        for i in range(notes):
            http_post_json(f"{base}/notes", {"title": f"note {i}", "body": "x" * 200})


# --- main ----------------------------------------------------------------------------------


def measure(args: argparse.Namespace, database_url: str, workers: int, log: Path) -> RunResult:
    result = RunResult(workers=workers)
    use_wrk = shutil.which("wrk") is not None and not args.python_load

    def load(base: str, path: str, duration: int) -> LoadResult:
        if use_wrk:
            return run_wrk(base + path, duration, args.connections, args.wrk_threads)
        return run_python(base, path, duration, args.connections, args.max_requests)

    with server(database_url, workers, log) as (base, proc):
        for path in ("/healthz", PAGE):  # warm-up: imports, pools, caches
            load(base, path, args.warmup)
        for path in ("/healthz", PAGE):
            result.results.append(load(base, path, args.duration))
        pids = worker_pids(proc.pid)
        result.worker_rss_mib = [round(_status_kib(p, "VmRSS") / 1024, 1) for p in pids]
        result.worker_pss_mib = [round(_pss_kib(p) / 1024, 1) for p in pids]
        result.supervisor_rss_mib = round(_status_kib(proc.pid, "VmRSS") / 1024, 1)
        everything = [proc.pid, *children(proc.pid)]
        result.task_rss_mib = round(sum(_status_kib(p, "VmRSS") for p in everything) / 1024, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per path")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=500_000, help="python generator")
    parser.add_argument("--python-load", action="store_true", help="ignore wrk if installed")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--notes", type=int, default=20, help="rows seeded for GET /notes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    capacity = parallel_capacity()
    with tempfile.TemporaryDirectory(prefix="app-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "server.log"
        with database(args.database_url, tmp) as database_url:
            backend = database_url.split(":", 1)[0]
            migrate_and_seed(database_url, log, args.notes)
            runs = [measure(args, database_url, n, log) for n in args.workers]

    print(
        f"cpus={os.cpu_count()} (2 busy processes get {capacity:.2f} cores' worth) "
        f"python={sys.version.split()[0]} database={backend} "
        f"connections={args.connections} duration={args.duration}s"
    )
    print(f"{'workers':>7}  {'path':<18} {'req/s':>9} {'requests':>9} {'errors':>6}  tool")
    for run in runs:
        for r in run.results:
            print(
                f"{run.workers:>7}  {r.path:<18} {r.rps:>9.0f} {r.requests:>9} {r.errors:>6}"
                f"  {r.tool}"
            )
    for run in runs:
        print(
            f"workers={run.workers}: worker RSS MiB {run.worker_rss_mib} "
            f"(PSS {run.worker_pss_mib}), supervisor RSS {run.supervisor_rss_mib} MiB, "
            f"whole process tree RSS {run.task_rss_mib} MiB"
        )
    if args.json:
        payload = {
            "database": backend,
            "cpus": os.cpu_count(),
            "parallel_capacity": round(capacity, 2),
            "runs": [asdict(run) for run in runs],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
