"""The shipped server command under bounded overload (a benchmark, not a test).

Starts ``python -m api.serve`` (the container's CMD) on a free loopback port with
``WEB_CONCURRENCY`` = 1 and 2 against PostgreSQL (or SQLite without ``--database-url``), and
for each concurrency level (default 10, 100, 300, 1000 keep-alive connections) drives
``GET /notes?limit=20`` for ``--duration`` seconds while two threads outside the load each
send a request ten times a second on a fresh connection: ``GET /healthz`` (what the load
balancer's checks see) and the same notes page (what a newcomer arriving during the overload
sees, its time to a 503 free of the load generator's own queueing). Each level runs twice,
with two kinds of client (``--clients``): *immediate* ones re-send at once after a 503 (a
retry storm, the worst case) and *polite* ones wait the answer's ``Retry-After`` first. Prints, per level:
requests/s, served (2xx) requests/s (the goodput), p50/p99 of the served requests, p99 of
the shed 503s both as the client saw it and as the server reports it (``Server-Timing:
shed;dur=``, the time the worker held the request before refusing it: the difference is
time spent queued in the kernel and the client), answers by status, connection errors, the
probes' p99s, and each worker's RSS. Then one ``--soak`` run (60 s by default) samples every
worker's RSS every 5 s to show whether memory grows.

Aims (issue 16): no 5xx other than shed 503s (with ``Retry-After``), each within 100 ms; p99
of served requests under 1 s; ``/healthz`` p99 under 1 s; RSS per worker bounded (no growth
over the soak). The ``cpu srv/cli`` column says whose core was full: near 100 % for the load
generator, its own latencies include its own queueing.

Load generator: a small asyncio HTTP/1.1 keep-alive client in its own process (pure Python,
nothing to install), which records each answer's status and latency. Everything is bounded:
each level lasts ``--duration`` seconds and stops after ``--max-requests``; loopback only.
(``wrk`` - ``apt-get install -y wrk`` on Debian - drives more load per core but cannot split
latency by status, which is what the aims are about.)

Usage (from the repository root, in the project's virtualenv)::

    python benchmarks/app_throughput.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    # 1 worker on CPU 0, the load generator on CPU 1, so neither takes the other's time:
    python benchmarks/app_throughput.py --database-url ... --workers 1 --server-cpus 0 --client-cpus 1
    python benchmarks/app_throughput.py --levels 10 100 --duration 5 --soak 0   # quicker
    python benchmarks/app_throughput.py --json results.json

With a PostgreSQL URL the benchmark works in a fresh schema and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_DIR = REPO / "app"
PAGE = "/notes?limit=20"


@dataclass
class LevelResult:
    workers: int
    connections: int
    clients: str
    seconds: float
    rps: float
    served_rps: float
    statuses: dict[str, int]
    connection_errors: int
    served_p50_ms: float
    served_p99_ms: float
    shed_p99_ms: float
    shed_server_p99_ms: float
    healthz_p99_ms: float
    healthz_failures: int
    # The notes page probed from outside the load (Probe): p99 of its 503s and of its 200s.
    newcomer_shed_p99_ms: float
    newcomer_served_p99_ms: float
    # Share of one core used during the level, by all server workers / by the load generator:
    # near 100 % per core the server (or the client) is the bottleneck, and its latencies
    # include its own queueing.
    server_cpu_pct: float
    client_cpu_pct: float
    worker_rss_mib: list[float] = field(default_factory=list)


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


def _stat_fields(pid: int) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: field 3 (state) is index 0."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (all their threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def _spin(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def parallel_capacity(seconds: float = 1.0) -> float:
    """How many cores' worth of work two busy processes get here (2.0 on 2 free cores)."""
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
            ppid = int(_stat_fields(int(entry.name))[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == supervisor and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def http_get(url: str, timeout: float = 2) -> int:
    """The answer's status (503 included), or 0 when there was no answer."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Authorization": AUTHORIZATION})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def http_post_json(url: str, payload: dict) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": AUTHORIZATION},
    )
    with opener.open(request, timeout=5) as response:
        return response.status


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


# The app is closed by default (app/api/auth.py): the benchmark runs it so, and every request
# but the health checks carries this token, as a real client's do.
API_TOKEN = secrets.token_urlsafe(32)
AUTHORIZATION = f"Bearer {API_TOKEN}"


def base_env(database_url: str) -> dict[str, str]:
    names = ("DATABASE_URL", "DB_HOST", "APP_ENABLE_TEST_ROUTES", "PYTHONPATH", "API_AUTH")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env["DATABASE_URL"] = database_url
    env["API_TOKEN"] = API_TOKEN
    return env


def pinned(cpus: set[int] | None):
    """A ``preexec_fn`` that pins the child (and what it spawns) to ``cpus``, or None."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextmanager
def server(database_url: str, workers: int, log_path: Path, cpus: set[int] | None = None):
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
            preexec_fn=pinned(cpus),
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


# --- load generator ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(
    port: int, path: str, duration: float, connections: int, max_requests: int, polite: bool
) -> dict:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {AUTHORIZATION}\r\n\r\n"
    ).encode()
    # (status, client-observed seconds, server-side ms from Server-Timing or -1)
    samples: list[tuple[int, float, float]] = []
    errors = Counter()
    start = time.perf_counter()
    deadline = start + duration

    async def one_connection() -> None:
        reader = writer = None
        while time.perf_counter() < deadline and len(samples) < max_requests:
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port), 10
                    )
                sent = time.perf_counter()
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = 0
                close = False
                retry_after = None
                server_ms = -1.0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and b"close" in value.lower():
                        close = True
                    elif name == b"retry-after":
                        retry_after = float(value)
                    elif name == b"server-timing" and b"dur=" in value:
                        server_ms = float(value.split(b"dur=", 1)[1].split(b";")[0])
                await reader.readexactly(length)
                status = int(head.split(b" ", 2)[1])
                if status == 503 and retry_after is None:
                    status = 599  # a 503 that is not a shed answer
                samples.append((status, time.perf_counter() - sent, server_ms))
                if close:
                    writer.close()
                    reader = writer = None
                if polite and status == 503:
                    # A polite client waits as long as Retry-After says (never past the end).
                    await asyncio.sleep(min(retry_after, max(0.0, deadline - time.perf_counter())))
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.05)
        if writer is not None:
            writer.close()

    cpu_before = time.process_time()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return {
        "samples": samples,
        "errors": dict(errors),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_before,
    }


def _drive_in_process(args: tuple, queue: multiprocessing.Queue) -> None:
    # Spawned children inherit the benchmark's own CPU affinity (--client-cpus).
    queue.put(asyncio.run(_drive(*args)))


def drive(
    port: int, path: str, duration: float, connections: int, max_requests: int, polite=False
) -> dict:
    """The load, in its own process so the probe thread below is not starved by it."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(
        target=_drive_in_process,
        args=((port, path, duration, connections, max_requests, polite), queue),
    )
    proc.start()
    result = queue.get(timeout=duration + 120)
    proc.join(timeout=30)
    return result


class Probe(threading.Thread):
    """GET ``path`` every 100 ms on a fresh connection, from outside the load: for /healthz
    what the ALB's checks see; for the notes page, what a newcomer arriving during the
    overload sees (its time to a 503 is not inflated by the load generator's own queue)."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}{path}"
        self.answers: list[tuple[int, float]] = []  # (status, seconds); 0 = no answer
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            start = time.perf_counter()
            status = http_get(self.url, timeout=5)
            self.answers.append((status, time.perf_counter() - start))
            self.stop.wait(0.1)

    def p99_ms(self, status: int) -> float:
        latencies = [seconds for got, seconds in self.answers if got == status]
        return round(percentile(latencies, 0.99) * 1000, 1)

    def failures(self, expected: set[int]) -> int:
        return sum(1 for got, _ in self.answers if got not in expected)


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


def rss_mib(pids: list[int]) -> list[float]:
    return [round(_status_kib(p, "VmRSS") / 1024, 1) for p in pids]


def measure_level(
    base: str, proc, workers: int, connections: int, clients: str, args
) -> LevelResult:
    port = int(base.rsplit(":", 1)[1])
    probes = Probe(port, "/healthz"), Probe(port, PAGE)
    for probe in probes:
        probe.start()
    polite = clients == "polite"
    workers_now = worker_pids(proc.pid)
    server_cpu = cpu_seconds(workers_now)
    result = drive(port, PAGE, args.duration, connections, args.max_requests, polite)
    server_cpu = cpu_seconds(workers_now) - server_cpu
    for probe in probes:
        probe.stop.set()
        probe.join(timeout=10)
    health, newcomer = probes
    samples = result["samples"]
    statuses = Counter(str(status) for status, _, _ in samples)
    served = [latency for status, latency, _ in samples if 200 <= status < 300]
    shed = [latency for status, latency, _ in samples if status == 503]
    shed_server = [server for status, _, server in samples if status == 503 and server >= 0]
    ms = 1000
    return LevelResult(
        workers=workers,
        connections=connections,
        clients=clients,
        seconds=round(result["seconds"], 2),
        rps=round(len(samples) / result["seconds"], 1),
        served_rps=round(len(served) / result["seconds"], 1),
        statuses=dict(sorted(statuses.items())),
        connection_errors=sum(result["errors"].values()),
        served_p50_ms=round(percentile(served, 0.50) * ms, 1),
        served_p99_ms=round(percentile(served, 0.99) * ms, 1),
        shed_p99_ms=round(percentile(shed, 0.99) * ms, 1),
        shed_server_p99_ms=round(percentile(shed_server, 0.99), 1),
        healthz_p99_ms=health.p99_ms(200),
        healthz_failures=health.failures({200}),
        newcomer_shed_p99_ms=newcomer.p99_ms(503),
        newcomer_served_p99_ms=newcomer.p99_ms(200),
        server_cpu_pct=round(100 * server_cpu / result["seconds"]),
        client_cpu_pct=round(100 * result["cpu_seconds"] / result["seconds"]),
        worker_rss_mib=rss_mib(worker_pids(proc.pid)),
    )


def soak(database_url: str, workers: int, seconds: int, connections: int, log: Path, args):
    """RSS of each worker every 5 s under steady load: growth means a leak."""
    samples: list[tuple[float, list[float]]] = []
    with server(database_url, workers, log, args.server_cpus) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        pids = worker_pids(proc.pid)
        drive(port, PAGE, 5, connections, args.max_requests)  # warm-up
        done = threading.Event()
        outcome: dict = {}

        def load() -> None:
            outcome.update(drive(port, PAGE, seconds, connections, 10**9))
            done.set()

        threading.Thread(target=load, daemon=True).start()
        start = time.monotonic()
        while not done.wait(5):
            samples.append((round(time.monotonic() - start), rss_mib(pids)))
        samples.append((round(time.monotonic() - start), rss_mib(pids)))
    statuses = Counter(str(status) for status, _, _ in outcome.get("samples", []))
    return samples, dict(statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--levels", type=int, nargs="+", default=[10, 100, 300, 1000])
    parser.add_argument("--duration", type=int, default=10, help="seconds per level")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per level")
    parser.add_argument("--soak", type=int, default=60, help="seconds of the RSS run (0: skip)")
    parser.add_argument("--soak-connections", type=int, default=100)
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=["immediate", "polite"],
        default=["immediate", "polite"],
        help="immediate: re-send at once after a 503 (a retry storm); "
        "polite: wait Retry-After seconds first, as a well-behaved client does",
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--notes", type=int, default=20, help="rows seeded for GET /notes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--server-cpus",
        type=_cpus,
        help="pin the server (supervisor and workers) to these CPUs, e.g. 0",
    )
    parser.add_argument(
        "--client-cpus",
        type=_cpus,
        help="pin the load generator and the health probe to these CPUs, e.g. 1; with "
        "--server-cpus 0 the server's time is not taken by the load it is measured under",
    )
    args = parser.parse_args()

    capacity = parallel_capacity()
    # Without --server-cpus the server keeps every CPU (not the client's pinning, which a
    # child would otherwise inherit).
    args.server_cpus = args.server_cpus or os.sched_getaffinity(0)
    if args.client_cpus:
        os.sched_setaffinity(0, args.client_cpus)
    load_before = os.getloadavg()
    levels: list[LevelResult] = []
    with tempfile.TemporaryDirectory(prefix="app-bench-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "server.log"
        with database(args.database_url, tmp) as database_url:
            backend = database_url.split(":", 1)[0]
            migrate_and_seed(database_url, log, args.notes)
            for workers in args.workers:
                with server(database_url, workers, log, args.server_cpus) as (base, proc):
                    drive(int(base.rsplit(":", 1)[1]), PAGE, 2, 10, 10_000)  # warm-up
                    for clients in args.clients:
                        for connections in args.levels:
                            levels.append(
                                measure_level(base, proc, workers, connections, clients, args)
                            )
                            print(_row(levels[-1]), flush=True)
            soak_samples, soak_statuses = (
                soak(database_url, max(args.workers), args.soak, args.soak_connections, log, args)
                if args.soak
                else ([], {})
            )
        server_errors = [
            line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line
        ]

    print()
    print(
        f"cpus={os.cpu_count()} (2 busy processes get {capacity:.2f} cores' worth) "
        f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} "
        f"python={sys.version.split()[0]} database={backend} duration={args.duration}s per level"
    )
    print(
        f"server CPUs {sorted(args.server_cpus)}, "
        f"load generator CPUs {sorted(args.client_cpus or os.sched_getaffinity(0))} "
        "(PostgreSQL is not pinned)"
    )
    print(HEADER)
    for level in levels:
        print(_row(level))
    if soak_samples:
        first = soak_samples[0][1]
        last = soak_samples[-1][1]
        print(
            f"soak: {max(args.workers)} worker(s), {args.soak_connections} connections, "
            f"{args.soak} s, answers {soak_statuses}"
        )
        print("  RSS MiB per worker every 5 s: " + "; ".join(f"{t}s {r}" for t, r in soak_samples))
        print(
            f"  growth first->last sample: {[round(b - a, 1) for a, b in zip(first, last, strict=False)]} MiB"
        )
    print(f"server log ERROR lines: {len(server_errors)}")
    for line in server_errors[:5]:
        print("  " + line)
    if args.json:
        payload = {
            "database": backend,
            "cpus": os.cpu_count(),
            "parallel_capacity": round(capacity, 2),
            "levels": [asdict(level) for level in levels],
            "soak": {"samples": soak_samples, "statuses": soak_statuses},
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


def _cpus(text: str) -> set[int]:
    """``0`` or ``0,1``: a set of CPU numbers for sched_setaffinity, each one this process may
    use (a wrong one would otherwise fail in the server's child process)."""
    available = os.sched_getaffinity(0)
    try:
        cpus = {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        cpus = set()
    if not cpus or not cpus <= available:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give CPU numbers separated by commas, from {sorted(available)}"
        )
    return cpus


HEADER = (
    f"{'workers':>7} {'clients':>9} {'conns':>5} {'req/s':>7} {'served/s':>8} "
    f"{'served p50/p99 ms':>18} {'shed p99 client/server':>22} "
    f"{'healthz p99':>11} {'newcomer 503/200 p99':>20} {'cpu srv/cli %':>13}  answers by status (conn errors)  worker RSS MiB"
)


def _row(level: LevelResult) -> str:
    return (
        f"{level.workers:>7} {level.clients:>9} {level.connections:>5} {level.rps:>7.0f} "
        f"{level.served_rps:>8.0f} "
        f"{level.served_p50_ms:>8} / {level.served_p99_ms:<7} "
        f"{level.shed_p99_ms:>10} / {level.shed_server_p99_ms:<9} "
        f"{level.healthz_p99_ms:>11} "
        f"{level.newcomer_shed_p99_ms:>9} / {level.newcomer_served_p99_ms:<8} "
        f"{level.server_cpu_pct:>6} / {level.client_cpu_pct:<4}"
        f"  {level.statuses} ({level.connection_errors}"
        f"{', healthz failures ' + str(level.healthz_failures) if level.healthz_failures else ''})"
        f"  {level.worker_rss_mib}"
    )


if __name__ == "__main__":
    sys.exit(main())
