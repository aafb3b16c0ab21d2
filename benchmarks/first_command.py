"""How long a newcomer's first command takes (a benchmark, not a test).

Clones this repository's committed HEAD into a temporary directory, as a fresh clone would be,
and runs the README's first command there, timing its install part (everything before the
test command) and its test part separately; with ``--ci`` it then runs ``.ci/run`` in another
fresh clone. Prints each time with the machine's load average before and after, since a busy
machine says more about the neighbours than about the project.

Aims (issue 27), on a quiet 2-core machine: install + test at most 4 minutes (tests at most
2.5 of them), ``.ci/run`` at most 5. Whatever the package caches hold counts as on a new
machine that has them: pass ``--cold`` to give uv and pip empty caches.

Usage (from the repository root; PostgreSQL on 127.0.0.1:5432 as the README says)::

    python3 benchmarks/first_command.py [--ci] [--cold]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def first_command() -> str:
    """The README's first shell block, as a newcomer copies it."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    if not block:
        sys.exit("README.md shows no shell command")
    return block[1].strip()


def split(command: str) -> tuple[str, str]:
    """(install part, test part): the test part is the last `&&` step, the pytest run."""
    install, _, test = command.rpartition(" && ")
    if "pytest" not in test:
        sys.exit(f"the README's first command does not end with pytest: {command}")
    return install, test


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def clone(into: Path) -> Path:
    target = into / "fastapi-fargate"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


def timed(label: str, command: str, cwd: Path, env: dict[str, str]) -> float:
    before = load()
    start = time.monotonic()
    result = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
    print(f"{label:<8} {elapsed:7.1f} s  exit {result.returncode}  load {before} -> {load()}")
    print(f"         {tail[0]}")
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ci", action="store_true", help="also time .ci/run in a fresh clone")
    parser.add_argument("--cold", action="store_true", help="empty uv and pip caches")
    args = parser.parse_args()

    install, test = split(first_command())
    print(f"CPUs {os.cpu_count()}, HEAD {subprocess.getoutput(f'git -C {ROOT} rev-parse --short HEAD')}")
    print(f"install: {install}\ntest:    {test}")
    with tempfile.TemporaryDirectory(prefix="first-command-") as scratch:
        env = {**os.environ, "TEST_DATABASE_URL": os.environ.get("TEST_DATABASE_URL", DATABASE)}
        if args.cold:
            env |= {"UV_CACHE_DIR": f"{scratch}/uv-cache", "PIP_NO_CACHE_DIR": "1"}
        env.pop("VIRTUAL_ENV", None)
        project = clone(Path(scratch) / "readme")
        took_install = timed("install", install, project, env)
        took_test = timed("test", test, project, env)
        print(f"{'total':<8} {took_install + took_test:7.1f} s  (aim: 240 s, tests 150 s)")
        if args.ci:
            timed(".ci/run", ".ci/run", clone(Path(scratch) / "ci"), env)


if __name__ == "__main__":
    main()
