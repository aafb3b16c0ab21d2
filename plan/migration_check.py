"""The previous version on the new schema: ``python -m plan STACK --base REV --check-migrations``.

squawk (``plan.migrations``) reads the SQL; this runs it. During a rollout the tasks of the
previous version serve on the schema the release phase just migrated, so the check:

1. checks ``REV``'s tree out into a temporary ``git worktree`` (the previous version's ``app/``
   and its tests);
2. creates a fresh PostgreSQL database on the server of ``TEST_DATABASE_URL`` and migrates it to
   the new head with *this* checkout's entrypoint (``python -m api.migrate`` in ``app/``, what
   the release phase runs);
3. runs the previous version's API tests (``API_TESTS``: the HTTP API, bad input and its
   schemathesis run) with every database they ask for (the ``migrated_sqlite_url`` and
   ``migrated_database`` fixtures of its ``tests/app/conftest.py``) a copy of that database
   (``CREATE DATABASE ... TEMPLATE``), so each test starts from the migrated schema as before.

The previous version is handed the new revision scripts (``app/migrations/versions`` only, not
its code): its tasks that were serving when the release phase ran keep answering ready (its
``/readyz`` remembers a yes, ``api.schema_state``), and its tests see the new head as theirs.
Everything it creates (the migrated database and the tests' copies of it, the worktree) is
removed afterwards, whatever happened. The database server must let
the URL's user create databases (the CI service and a local ``postgres`` superuser do).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plan.base import git
from plan.errors import PlanError

API_TESTS = (
    "tests/app/test_api.py",
    "tests/app/test_bad_input.py",
    "tests/app/test_openapi_fuzz.py",
)
CONFTEST = "tests/app/conftest.py"
FIXTURES = ("migrated_sqlite_url", "migrated_database")
VERSIONS = "app/migrations/versions"
MIGRATE_TIMEOUT_SECONDS = 300
TESTS_TIMEOUT_SECONDS = 900
DROP_WORKERS = 16
# Environment variables that would point the migration or the tests at another database.
_DATABASE_VARIABLES = ("DATABASE_URL", "PYTHONPATH")
_DATABASE_PREFIX = "DB_"

# Appended to the previous version's tests/app/conftest.py in the temporary worktree: later
# definitions of a name win, so its tests get these fixtures instead of its own.
OVERRIDE = """

# ---- added by plan.migration_check (the previous version on the new schema) ----
import contextlib as _check_contextlib
import os as _check_os
import uuid as _check_uuid

import pytest as _check_pytest


@_check_contextlib.contextmanager
def _check_copy_of_the_migrated_database():
    from sqlalchemy import create_engine, make_url, pool, text

    admin_url = make_url(_check_os.environ["TEST_DATABASE_URL"])
    template = _check_os.environ["MIGRATION_CHECK_TEMPLATE"]
    name = f"{template}_{_check_uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    # Dropped with the template when the check ends: a drop per test costs as much as a copy.
    yield admin_url.set(database=name).render_as_string(hide_password=False)


@_check_pytest.fixture
def migrated_sqlite_url():
    with _check_copy_of_the_migrated_database() as url:
        yield url


@_check_pytest.fixture(scope="module")
def migrated_database():
    with _check_copy_of_the_migrated_database() as url:
        yield url
"""


@dataclass
class CheckResult:
    """What the check did: skipped (no new revision), passed or failed, and how long."""

    base: str
    ran: bool = False
    passed: bool = True
    tests: list[str] = field(default_factory=list)
    summary: str = ""
    failures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    detail: str = ""

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def refused(self) -> list[str]:
        if self.passed:
            return []
        return [
            f"migration check: the API tests of {self.base} fail on the new schema "
            f"({self.summary or 'see the output'})"
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "ran": self.ran,
            "passed": self.passed,
            "tests": self.tests,
            "summary": self.summary,
            "failures": self.failures,
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }

    def _headline(self) -> str:
        if not self.ran:
            return f"Migration check: no revision added since {self.base}, nothing to run."
        verdict = "passed" if self.passed else "FAILED"
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return (
            f"Migration check: {verdict} in {self.total:.1f} s ({phases}): the API tests of "
            f"{self.base} on PostgreSQL migrated by this checkout: {self.summary}."
        )

    def format_text(self) -> str:
        lines = [self._headline()]
        if self.ran:
            lines.append(f"  tests: {' '.join(self.tests)}")
        for failure in self.failures:
            lines.append(f"    ! {failure}")
        if not self.passed:
            lines.append(
                "  The previous version breaks while it serves on the new schema during the "
                "rollout: split the change into expand and contract (docs/rolling-migrations.md)."
            )
            if self.detail:
                lines += ["", self.detail]
        return "\n".join(lines) + "\n"

    def format_markdown(self) -> str:
        lines = ["### Migration check", "", self._headline()]
        if self.failures:
            lines += [""] + [f"- `{f}`" for f in self.failures]
        if self.ran and not self.passed:
            lines += [
                "",
                "The previous version breaks while it serves on the new schema during the "
                "rollout: split the change into expand and contract "
                "(`docs/rolling-migrations.md`).",
            ]
        return "\n".join(lines) + "\n"


def attach(output: str, result: CheckResult, form: str) -> str:
    """``output`` with the check's result: a ``migration_check`` key, or a section."""
    if form == "json":
        import json

        document = json.loads(output)
        document["migration_check"] = result.as_dict()
        return json.dumps(document, indent=2, sort_keys=True) + "\n"
    if form == "markdown":
        return output + "\n" + result.format_markdown()
    if form == "mermaid":
        return output
    return output + "\n" + result.format_text()


def server_url() -> str:
    """The server the check creates its databases on (``TEST_DATABASE_URL``); ``PlanError``
    naming the variable when it is unset, before anything runs."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        raise PlanError(
            "--check-migrations needs a PostgreSQL server where it may create databases: set "
            "TEST_DATABASE_URL, e.g. TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:"
            "5432/test"
        )
    return url


def check(
    root: Path, ref: str, *, pending: bool = True, database_url: str | None = None
) -> CheckResult:
    """Run ``ref``'s API tests on a database this checkout migrated; ``PlanError`` when it
    cannot run (no database, a bad ref, a base without the tests' fixtures)."""
    result = CheckResult(base=ref)
    if not pending:
        return result
    url = database_url or server_url()
    result.ran = True
    template = f"migration_check_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="plan-migration-check-") as scratch:
        tree = Path(scratch) / "tree"
        started = time.monotonic()
        git(root, "worktree", "add", "--detach", str(tree), ref, what=f"--base {ref}")
        try:
            result.seconds["checkout"] = time.monotonic() - started
            _run(root, tree, url, template, result)
        finally:
            started = time.monotonic()
            _drop_database(url, template)
            git(root, "worktree", "remove", "--force", str(tree), what="cleanup")
            result.seconds["cleanup"] = time.monotonic() - started
    return result


def _run(root: Path, tree: Path, url: str, template: str, result: CheckResult) -> None:
    conftest = tree / CONFTEST
    text = conftest.read_text() if conftest.is_file() else ""
    missing = [f for f in FIXTURES if f"def {f}(" not in text]
    if missing:
        raise PlanError(
            f"--check-migrations: {result.base}'s {CONFTEST} has no fixture "
            f"{', '.join(missing)}: its API tests cannot be pointed at the migrated database"
        )
    result.tests = [t for t in API_TESTS if (tree / t).is_file()]
    if not result.tests:
        raise PlanError(f"--check-migrations: {result.base} has none of {', '.join(API_TESTS)}")

    started = time.monotonic()
    _create_database(url, template)
    migrated = subprocess.run(
        [sys.executable, "-m", "api.migrate"],
        cwd=root / "app",
        env=_env(DATABASE_URL=_with_database(url, template)),
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_SECONDS,
        check=False,
    )
    result.seconds["migrate"] = time.monotonic() - started
    if migrated.returncode != 0:
        result.passed = False
        result.summary = "the new migrations fail on a fresh database"
        result.detail = (migrated.stdout + migrated.stderr).strip()[-2000:]
        return

    # The previous version, with the new revision scripts (see the module's docstring).
    shutil.rmtree(tree / VERSIONS)
    shutil.copytree(root / VERSIONS, tree / VERSIONS, ignore=shutil.ignore_patterns("__pycache__"))
    conftest.write_text(text + OVERRIDE)

    started = time.monotonic()
    try:
        tested = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *result.tests],
            cwd=tree,
            env=_env(TEST_DATABASE_URL=url, MIGRATION_CHECK_TEMPLATE=template),
            capture_output=True,
            text=True,
            timeout=TESTS_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        result.seconds["tests"] = time.monotonic() - started
        result.passed = False
        result.summary = f"the tests took over {TESTS_TIMEOUT_SECONDS} s"
        return
    result.seconds["tests"] = time.monotonic() - started
    output = tested.stdout + tested.stderr
    result.summary = _summary(output) or f"pytest exited with {tested.returncode}"
    result.failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", output, re.M)
    result.passed = tested.returncode == 0
    if not result.passed:
        result.detail = _failure_detail(output)


def _summary(output: str) -> str:
    """pytest's closing line without its decoration: ``3 failed, 32 passed in 9.1s``."""
    found = re.findall(r"^=*\s*(\d+ (?:passed|failed|error).*?)\s*=*$", output, re.M)
    return found[-1] if found else ""


def _failure_detail(output: str) -> str:
    """What broke: the database errors the output names (``psycopg.errors.UndefinedColumn:
    column notes.body does not exist``), then the first assertion lines (``E   ...``)."""
    database = list(dict.fromkeys(re.findall(r"psycopg\.errors\.\w+: [^\n]*", output)))
    asserted = [line for line in output.splitlines() if line.startswith("E ")]
    return "\n".join(database[:5] + asserted[:8])


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DATABASE_VARIABLES and not k.startswith(_DATABASE_PREFIX)
    }
    env.pop("TEST_DATABASE_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _with_database(url: str, name: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str):  # -> sqlalchemy Engine; imported here: only this option needs it
    from sqlalchemy import create_engine, pool

    return create_engine(url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")


def _create_database(url: str, name: str) -> None:
    from sqlalchemy import exc, text

    engine = _admin(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except exc.SQLAlchemyError as error:
        raise PlanError(
            f"--check-migrations: cannot create a database on TEST_DATABASE_URL's server: "
            f"{type(error.orig or error).__name__}: {str(error.orig or error).strip()}"
        ) from None
    finally:
        engine.dispose()


def _drop_database(url: str, name: str) -> None:
    """Drop the template and the tests' copies of it (``OVERRIDE`` names them
    ``<template>_<hex>``). Side by side: PostgreSQL makes each drop wait for a checkpoint, and
    drops that run together share one (3 drops: 9 s one by one, 2.5 s together, on a busy
    2-vCPU machine)."""
    from sqlalchemy import exc, text

    engine = _admin(url)

    def drop(database: str) -> None:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    try:
        with engine.connect() as conn:
            copies = list(
                conn.execute(
                    text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                    {"prefix": f"{name}_"},
                ).scalars()
            )
        with ThreadPoolExecutor(max_workers=DROP_WORKERS) as pool:
            list(pool.map(drop, copies))
        drop(name)
    except exc.SQLAlchemyError:
        pass  # the server is gone: nothing to drop it from; the creation already said why
    finally:
        engine.dispose()
