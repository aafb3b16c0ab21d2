"""Migrations a rolling deploy survives: ``python -m plan STACK --base REV`` names the revisions a
change adds and lints their SQL with squawk; ``--check-migrations`` runs the previous version's
API tests on the schema they produce.

Every sample revision lives in a temporary git repository made from this checkout (never in the
real chain): a base commit, then the change under review. The squawk findings are the real
binary's (squawk-cli, pinned in requirements.lock) on the SQL Alembic renders offline; the
empirical check runs against real PostgreSQL (``TEST_DATABASE_URL``, skipped without it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.settings.data import DatabaseSettings
from plan import migration_check, migrations
from plan.cli import main
from plan.document import build_plan
from plan.stackfile import load_stack
from pulumi_harness import ROOT

BASE_HEAD = "8c1f4e2a9b3d"
VERSIONS = "app/migrations/versions"
NEEDS_PG = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="the migration check needs TEST_DATABASE_URL, e.g. "
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
)

REVISION = '''"""{message}

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None
{extra}

def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''

DROP_BODY = {
    "rev": "0b5e1c2d3f4a",
    "message": "drop body from notes",
    "upgrade": '    op.drop_column("notes", "body")',
    "downgrade": '    op.add_column("notes", sa.Column("body", sa.Text(), server_default="", '
    "nullable=False))",
}
# The expand/contract pair of docs/rolling-migrations.md (same operations, same declaration).
EXPAND = {
    "rev": "3f7a1c9e2b5d",
    "message": "add summary to notes",
    "upgrade": '    op.add_column("notes", sa.Column("summary", sa.Text(), nullable=True))',
    "downgrade": '    op.drop_column("notes", "summary")',
}
CONTRACT = {
    "rev": "9c4d2e7f1a6b",
    "message": "drop summary from notes",
    "extra": "\n# Read by the offline plan (docs/rolling-migrations.md): why this is safe anyway.\n"
    'rolling_deploy_safety = "column unused since release 2026.12.2: no version that can '
    'still run reads or writes notes.summary"\n',
    "upgrade": '    op.drop_column("notes", "summary")',
    "downgrade": '    op.add_column("notes", sa.Column("summary", sa.Text(), nullable=True))',
}
SUMMARY_MAPPING = "    summary: Mapped[str | None] = mapped_column(Text, nullable=True)\n"
MAINTENANCE = "maintenance window: the service is scaled to 0 for release 2026.12.3"


def revision_file(down: str = BASE_HEAD, extra: str = "", **sample: str) -> tuple[str, str]:
    slug = sample["message"].replace(" ", "_")
    name = f"{VERSIONS}/20261207_{sample['rev']}_{slug}.py"
    return name, REVISION.format(down=down, extra=extra, **sample)


def add_revision(repo: Path, down: str = BASE_HEAD, extra: str = "", **sample: str) -> str:
    """Write ``revision_file`` into ``repo``'s working tree (the plan reads it uncommitted);
    its path."""
    name, text = revision_file(down=down, extra=extra, **sample)
    (repo / name).write_text(text)
    return name


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's files as the first commit of a repository of their own."""
    repo = tmp_path_factory.mktemp("rolling") / "project"
    shutil.copytree(
        ROOT,
        repo,
        ignore=shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".pytest_cache"),
    )
    git(repo, "init", "-q")
    commit(repo, "base", {})
    return repo


@pytest.fixture
def change(project: Path, tmp_path: Path) -> Iterator[Path]:
    """A clone of the project to add a change to; ``--base`` names its first commit."""
    clone = tmp_path / "change"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    yield clone


def plan_cli(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``python -m plan`` as a user runs it: its own process, exit status and streams."""
    return subprocess.run(
        [sys.executable, "-m", "plan", *options, "--root", str(root), "--no-policy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


# --- Naming the revisions and linting their SQL --------------------------------------------


def test_a_dropped_column_is_named_by_squawk_and_refused_on_a_production_stack(change):
    name = add_revision(change, **DROP_BODY)  # not even committed: the plan reads the working tree
    done = plan_cli(change, "prod", "--base", "HEAD")
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert (
        f"Migrations added since HEAD (1): the release phase runs them before the rollout, "
        "while the previous version keeps serving.\n"
        f"  + 0b5e1c2d3f4a  drop body from notes  ({name})\n"
        "  squawk 2.70.0 (PostgreSQL 16): 1 finding, 1 refusing this production stack.\n"
        "    ! ban-drop-column in 0b5e1c2d3f4a: Dropping a column may break existing clients.\n"
        "      ALTER TABLE notes DROP COLUMN body;\n"
        "      refused: split it into expand and contract (docs/rolling-migrations.md) or "
        'declare why in the revision: rolling_deploy_safety = "..."\n'
    ) in out
    assert done.stderr == (
        "error: the guardrails refuse this stack (1 mandatory violation): migration "
        "0b5e1c2d3f4a: squawk ban-drop-column (ALTER TABLE notes DROP COLUMN body;)\n"
    )


def test_the_pull_request_comment_names_the_revision_the_rule_and_the_statement(change):
    name = add_revision(change, **DROP_BODY)
    markdown = migrations.review(change, "HEAD", production=False).format_markdown()
    assert f"| `0b5e1c2d3f4a` | drop body from notes | `{name}` |  |" in markdown
    assert (
        "| `0b5e1c2d3f4a` | [`ban-drop-column`](https://squawkhq.com/docs/ban-drop-column) | "
        "`ALTER TABLE notes DROP COLUMN body;` | refused on production stacks |"
    ) in markdown
    # A development stack is not refused, and says what production would do.
    assert "**Refused on this production stack.**" not in markdown


def test_a_declared_maintenance_window_turns_the_refusal_into_a_warning_the_plan_shows(change):
    name = add_revision(change, extra=f'\nrolling_deploy_safety = "{MAINTENANCE}"\n', **DROP_BODY)
    done = plan_cli(change, "prod", "--base", "HEAD")
    assert (done.returncode, done.stderr) == (0, "")
    assert f"      rolling_deploy_safety: {MAINTENANCE}\n" in done.stdout
    assert "  squawk 2.70.0 (PostgreSQL 16): 1 finding.\n" in done.stdout
    assert (
        "    ~ ban-drop-column in 0b5e1c2d3f4a: Dropping a column may break existing clients.\n"
        "      ALTER TABLE notes DROP COLUMN body;\n"
        f"      declared by the revision, so a warning: {MAINTENANCE}\n"
    ) in done.stdout
    markdown = migrations.review(change, "HEAD", production=True).format_markdown()
    assert f"| `0b5e1c2d3f4a` | drop body from notes | `{name}` | {MAINTENANCE} |" in markdown
    assert "`ALTER TABLE notes DROP COLUMN body;` | declared |" in markdown


def test_an_empty_declaration_declares_nothing_and_is_refused(change):
    add_revision(change, extra='\nrolling_deploy_safety = "  "\n', **DROP_BODY)
    review = migrations.review(change, "HEAD", production=True)
    assert [(f.rule, f.blocking) for f in review.findings] == [
        ("rolling_deploy_safety", True),
        ("ban-drop-column", True),
    ]
    assert len(review.refused()) == 2


def test_sql_that_cannot_be_rendered_offline_is_a_refusing_finding(change):
    add_revision(
        change,
        rev="4e1f0a2b3c5d",
        message="read the database while migrating",
        upgrade="    op.get_bind().execute(sa.text('SELECT 1')).scalar_one()",
        downgrade="    pass",
    )
    review = migrations.review(change, "HEAD", production=True)
    (finding,) = review.findings
    assert finding.rule == "offline-render" and finding.blocking
    assert finding.message.startswith("Its SQL cannot be rendered offline")
    assert review.refused() == ["migration 4e1f0a2b3c5d: squawk offline-render ()"]


def add_a_title_index(change: Path) -> None:
    """A revision that indexes the notes' titles (without CONCURRENTLY)."""
    add_revision(
        change,
        rev="6a2b3c4d5e6f",
        message="index titles",
        upgrade='    op.create_index("ix_notes_title", "notes", ["title"])',
        downgrade='    op.drop_index("ix_notes_title", "notes")',
    )


def test_the_rendered_sql_is_what_the_release_phase_runs_lock_timeout_included(change):
    add_a_title_index(change)
    (item,) = migrations.inspect(change, _base_dir(change))
    assert "SET LOCAL lock_timeout = 2000;" in item["sql"]
    assert "CREATE INDEX ix_notes_title ON notes (title);" in item["sql"]
    review = migrations.review(change, "HEAD", production=True)
    # require-lock-timeout does not fire: the rendered transaction sets it, as env.py does.
    assert [f.rule for f in review.findings] == ["require-concurrent-index-creation"]


def test_the_rendered_sql_sets_the_stacks_own_lock_timeout(change, tmp_path):
    add_a_title_index(change)
    # migration.lockTimeout 4 s (below the 5 s statement timeout) reaches the task definitions,
    # and from them the rendered SQL.
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config["fastapi-fargate:migration"] = {"lockTimeout": 4}
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    plan = build_plan(load_stack(ROOT, None, stack_file), policy=False)
    assert migrations.lock_timeout_of(plan) == 4000
    (item,) = migrations.inspect(change, _base_dir(change), migrations.lock_timeout_of(plan))
    assert "SET LOCAL lock_timeout = 4000;" in item["sql"]
    assert "SET LOCAL lock_timeout = 2000;" not in item["sql"]


def _base_dir(repo: Path) -> Path:
    """The base's scripts, as review() extracts them."""
    target = repo.parent / "base-scripts"
    return migrations._base_scripts(repo, "HEAD", target)


def test_a_change_without_migrations_adds_no_subprocess_and_says_so(change, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("nothing to inspect: no subprocess")

    monkeypatch.setattr(migrations, "inspect", refuse)
    review = migrations.review(change, "HEAD", production=True)
    assert review.revisions == [] and review.refused() == []
    assert review.format_text() == "Migrations: none added since HEAD.\n"
    assert review.format_markdown() == ""


def test_rules_squawk_adds_later_refuse_until_someone_classifies_them():
    assert migrations.blocking("ban-drop-column")
    assert migrations.blocking("a-rule-squawk-adds-next-year")
    assert not migrations.blocking("prefer-bigint-over-int")
    assert not migrations.BLOCKING & migrations.ADVISORY


def test_squawk_judges_for_the_stacks_default_postgresql_version():
    assert DatabaseSettings.model_fields["engine_version"].default == migrations.DEFAULT_PG_MAJOR
    plan = {"project": "p", "config": {"p:production": True, "p:database.engineVersion": "17"}}
    assert migrations.production_of(plan) == (True, "17")
    assert migrations.production_of({"project": "p", "config": {}}) == (False, "16")


def test_statement_at_returns_the_whole_statement_around_a_line():
    lines = ["BEGIN;", "", "CREATE TABLE t (", "    a INT,", "    b INT", ");", "COMMIT;"]
    assert migrations.statement_at(lines, 3) == "CREATE TABLE t ( a INT, b INT );"
    assert migrations.statement_at(lines, 0) == "BEGIN;"


def test_check_migrations_needs_a_base_and_a_database(capsys, monkeypatch):
    assert main(["dev", "--check-migrations"]) == 2
    assert "--check-migrations runs the previous version's tests: name it with --base" in (
        capsys.readouterr().err
    )
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    assert main(["dev", "--base", "HEAD", "--check-migrations"]) == 2
    assert "set TEST_DATABASE_URL, e.g. TEST_DATABASE_URL=postgresql+psycopg://" in (
        capsys.readouterr().err
    )


# --- The previous version on the new schema -------------------------------------------------


@pytest.fixture
def api_tests_only(monkeypatch):
    """Only the HTTP API tests: the same verdicts as the whole set, in a third of the time."""
    monkeypatch.setattr(migration_check, "API_TESTS", ("tests/app/test_api.py",))


def _databases() -> set[str]:
    from sqlalchemy import create_engine, pool, text

    engine = create_engine(os.environ["TEST_DATABASE_URL"], poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT datname FROM pg_database"))
            return {r[0] for r in rows if r[0].startswith("migration_check_")}
    finally:
        engine.dispose()


@NEEDS_PG
def test_the_previous_version_fails_on_a_schema_without_the_column_it_reads(change, api_tests_only):
    name, text = revision_file(**DROP_BODY)
    commit(change, "drop body", {name: text})
    before = _databases()
    result = migration_check.check(change, "HEAD~1")
    assert result.ran and not result.passed
    assert (
        "tests/app/test_api.py::test_create_returns_201_with_the_note_and_an_absolute_location"
        in (result.failures)
    )
    assert result.refused() == [
        f"migration check: the API tests of HEAD~1 fail on the new schema ({result.summary})"
    ]
    assert "failed" in result.summary
    # Everything it made is gone: its databases and its worktree.
    assert _databases() == before
    assert git(change, "worktree", "list").count("\n") == 0


@NEEDS_PG
def test_an_expand_then_contract_pair_passes_squawk_and_the_previous_versions_tests(
    change, api_tests_only, tmp_path
):
    a = git(change, "rev-parse", "HEAD")
    models = (change / "app/api/models.py").read_text()
    assert "    body: Mapped[str]" in models
    with_summary = models.replace(
        "    created_at: Mapped[datetime]", SUMMARY_MAPPING + "    created_at: Mapped[datetime]"
    )
    # Release N: expand (a nullable column) with the code that uses it.
    b = commit(
        change,
        "expand",
        {**dict([revision_file(**EXPAND)]), "app/api/models.py": with_summary},
    )
    # Release N+1: the code stops using the column; no migration.
    c = commit(change, "stop using summary", {"app/api/models.py": models})
    # Release N+2: contract, declared.
    d = commit(change, "contract", dict([revision_file(down=EXPAND["rev"], **CONTRACT)]))

    def at(sha: str) -> Path:
        path = tmp_path / sha[:8]
        git(change, "worktree", "add", "-q", "--detach", str(path), sha)
        return path

    expand, contract = at(b), at(d)

    review = migrations.review(expand, a, production=True)
    assert [r.revision for r in review.revisions] == [EXPAND["rev"]]
    assert review.findings == [] and review.refused() == []
    result = migration_check.check(expand, a)
    assert (result.ran, result.passed) == (True, True), result.format_text()

    review = migrations.review(contract, c, production=True)
    assert [(f.rule, review._verdict(f)) for f in review.findings] == [
        ("ban-drop-column", "declared")
    ]
    assert review.refused() == []
    result = migration_check.check(contract, c)
    assert (result.ran, result.passed) == (True, True), result.format_text()


def test_the_docs_show_exactly_the_expand_and_contract_pair_tested_here():
    page = (ROOT / "docs" / "rolling-migrations.md").read_text()
    for sample, down in ((EXPAND, BASE_HEAD), (CONTRACT, EXPAND["rev"])):
        _, text = revision_file(down=down, **sample)
        assert text in page


def test_the_json_plan_carries_the_review_and_the_check_and_the_chart_stays_a_chart():
    review = migrations.Review(
        base="origin/main",
        production=True,
        revisions=[migrations.Revision("0b5e1c2d3f4a", BASE_HEAD, "drop body", "f.py")],
        findings=[
            migrations.Finding("0b5e1c2d3f4a", "ban-drop-column", "m", "ALTER TABLE ...;", True)
        ],
        squawk="2.70.0",
    )
    document = json.loads(migrations.attach('{"changes": []}', review, "json"))
    assert document["migrations"]["findings"] == [
        {
            "revision": "0b5e1c2d3f4a",
            "rule": "ban-drop-column",
            "message": "m",
            "statement": "ALTER TABLE ...;",
            "blocking": True,
            "refuses": True,
        }
    ]
    check = migration_check.CheckResult(
        base="origin/main",
        ran=True,
        passed=False,
        tests=["tests/app/test_api.py"],
        summary="8 failed, 18 passed in 9.97s",
        failures=["tests/app/test_api.py::test_body_is_optional"],
        seconds={"checkout": 0.1, "migrate": 5.0, "tests": 17.1, "cleanup": 17.5},
    )
    document = json.loads(migration_check.attach(json.dumps(document), check, "json"))
    assert document["migration_check"]["passed"] is False
    assert migrations.attach("flowchart LR\n", review, "mermaid") == "flowchart LR\n"
    markdown = migration_check.attach("", check, "markdown")
    assert (
        "Migration check: FAILED in 39.7 s (checkout 0.1 s, migrate 5.0 s, tests 17.1 s, "
        "cleanup 17.5 s): the API tests of origin/main on PostgreSQL migrated by this checkout: "
        "8 failed, 18 passed in 9.97s."
    ) in markdown
    assert "- `tests/app/test_api.py::test_body_is_optional`" in markdown
    assert check.refused() == [
        "migration check: the API tests of origin/main fail on the new schema "
        "(8 failed, 18 passed in 9.97s)"
    ]
