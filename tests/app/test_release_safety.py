"""The release phase against real PostgreSQL: it neither stalls the app nor leaks what it touches.

* A migration's ``ALTER TABLE`` behind a long reader gives up after ``lock_timeout`` and
  retries, instead of queueing every app query on the table behind itself.
* A failing data migration's message names the error, never the row or the bound values.
* ``/readyz`` of the real server is 503 until the schema is at head, 200 after migrating.
* The app's role can read and write notes and nothing more; its password goes to Secrets
  Manager (moto), never to the output.

PostgreSQL tests need ``TEST_DATABASE_URL`` (see PG_SKIP_REASON); each gets a fresh schema.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import sql
from sqlalchemy import create_engine, exc, inspect, make_url, pool, text

from api import migrate, schema_state
from app_support import APP_DIR

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

REGION = "eu-west-1"
SECRET_VALUE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HEAD = schema_state.expected_heads()

ADD_COLUMN = '''"""add pinned to notes

Revision ID: a1b2c3d4e5f6
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "a1b2c3d4e5f6"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("notes", sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column("notes", "pinned")
'''

FAILING_DATA_MIGRATION = '''"""webhooks with a secret that breaks a check

Revision ID: b2c3d4e5f6a7
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "b2c3d4e5f6a7"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signing_secret", sa.Text(), nullable=False),
        sa.CheckConstraint("length(signing_secret) < 10", name="short_secret"),
    )
    op.get_bind().execute(
        sa.text("INSERT INTO webhooks (url, signing_secret) VALUES (:url, :secret)"),
        {{"url": "https://hooks.example.com/in", "secret": "{secret}"}},
    )


def downgrade():
    op.drop_table("webhooks")
'''


def config_with(tmp_path: Path, revision: str | None = None):
    """The app's Alembic config on a copy of its migrations, plus one more revision."""
    scripts = tmp_path / "migrations"
    shutil.copytree(APP_DIR / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    if revision is not None:
        (down,) = HEAD
        (scripts / "versions" / "zz_extra.py").write_text(
            revision.format(down=down, secret=SECRET_VALUE)
        )
    config = migrate.alembic_config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["configure_logger"] = False
    return config


def columns(url: str, table: str = "notes") -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return {c["name"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


# --- lock_timeout ---------------------------------------------------------------------------


def _watch_for_waits(engine, pid: int, stop: threading.Event, seen: list[int]) -> None:
    """Count the times the backend ``pid`` is seen waiting for a lock, until ``stop``."""
    with engine.connect() as monitor:
        while not stop.is_set():
            waiting = monitor.execute(
                text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                {"pid": pid},
            ).scalar_one()
            monitor.commit()
            if waiting:
                seen.append(pid)


def test_an_add_column_behind_a_long_reader_retries_instead_of_blocking_app_queries(
    pg_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    url = make_url(pg_url)
    migrate.upgrade_to_head(url, config_with(tmp_path / "base"))
    config = config_with(tmp_path / "next", ADD_COLUMN)
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    retries: list[int] = []
    outcome: dict[str, object] = {}

    def pause(_seconds: float) -> None:
        retries.append(len(retries) + 1)
        threading.Event().wait(0.1)

    def run() -> None:
        try:
            outcome["applied"] = migrate.upgrade_to_head(
                url, config, lock_timeout=200, sleep=pause, delay=lambda _attempt: 0.1
            )
        except Exception as error:  # reported by the assertions below
            outcome["error"] = error

    migration = threading.Thread(target=run)
    stop, app_waits = threading.Event(), []
    watcher = threading.Thread(target=_watch_for_waits, args=(engine, -1, stop, app_waits))
    app_queries = 0
    try:
        with engine.connect() as reader, engine.connect() as app:
            # A long report: its open transaction holds ACCESS SHARE on notes.
            reader.execute(text("SELECT count(*) FROM notes"))
            # The app's queries give up after 1 s: far longer than the 200 ms lock_timeout,
            # far shorter than the reader (held until the migration has retried 3 times).
            app.execute(text("SET statement_timeout = 1000"))
            app_pid = app.execute(text("SELECT pg_backend_pid()")).scalar_one()
            app.commit()
            watcher = threading.Thread(
                target=_watch_for_waits, args=(engine, app_pid, stop, app_waits)
            )
            watcher.start()
            migration.start()
            while len(retries) < 3:
                assert migration.is_alive(), outcome
                app.execute(text("SELECT count(*) FROM notes"))
                app.commit()
                app_queries += 1
            reader.rollback()
        migration.join(timeout=60)
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(timeout=10)
        engine.dispose()

    assert "error" not in outcome, outcome
    assert outcome["applied"] == ["a1b2c3d4e5f6 (add pinned to notes)"]
    assert "pinned" in columns(pg_url)
    # App queries queued behind the waiting ALTER (seen waiting for their lock), and each went
    # through once the ALTER gave up: none reached its 1 s statement timeout.
    assert app_queries > 0 and app_waits


def test_the_migration_gives_up_after_its_attempts_with_a_message_that_names_the_fix(
    pg_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    url = make_url(pg_url)
    migrate.upgrade_to_head(url, config_with(tmp_path / "base"))
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as reader:
            reader.execute(text("SELECT count(*) FROM notes"))
            with pytest.raises(migrate.MigrationError) as raised:
                migrate.upgrade_to_head(
                    url,
                    config_with(tmp_path / "next", ADD_COLUMN),
                    lock_timeout=100,
                    attempts=2,
                    sleep=lambda _s: None,
                )
            reader.rollback()
    finally:
        engine.dispose()
    assert "gave up after 2 attempts" in str(raised.value)
    assert "migration.lockTimeout" in str(raised.value)
    assert "pinned" not in columns(pg_url)


# --- what a failing migration prints --------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_failing_data_migration_names_the_error_but_never_the_values(
    backend, request, tmp_path, monkeypatch, capsys
):
    url = (
        request.getfixturevalue("pg_url")
        if backend == "postgresql"
        else request.getfixturevalue("sqlite_url")
    )
    monkeypatch.setenv("DATABASE_URL", url)
    config = config_with(tmp_path, FAILING_DATA_MIGRATION)
    monkeypatch.setattr(migrate, "alembic_config", lambda: config)

    assert migrate.main() == 1

    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert SECRET_VALUE not in shown
    assert "hooks.example.com" not in shown
    (failure,) = [line for line in captured.err.splitlines() if "migration failed" in line]
    assert "IntegrityError" in failure
    if backend == "postgresql":
        assert "SQLSTATE 23514" in failure
        assert "table webhooks" in failure and "constraint ck_webhooks_short_secret" in failure
    else:
        assert "SQLITE_CONSTRAINT_CHECK" in failure


# --- /readyz --------------------------------------------------------------------------------


def test_readyz_of_the_real_server_is_503_until_the_schema_is_at_head(
    pg_url, server_factory, monkeypatch
):
    url = pg_url
    monkeypatch.setenv("DATABASE_URL", url)
    server = server_factory(url, WEB_CONCURRENCY="1").start()

    before = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert before.status_code == 503
    assert before.json() == {"status": "unavailable", "database": "ok", "schema": "not at head"}
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200

    migrate.upgrade_to_head(make_url(url), config_with_default())

    after = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert after.status_code == 200
    assert after.json() == {"status": "ok", "database": "ok", "schema": "at head"}


# --- the app's role -------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@contextlib.contextmanager
def created_app_role(pg_url: str, monkeypatch) -> Iterator[tuple[str, str]]:
    """A role name unique to the test and an empty secret, as the stack creates it."""
    role = f"app_rw_{uuid.uuid4().hex[:10]}"
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"fastapi-fargate/test/{role}"
    )["ARN"]
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("DB_APP_ROLE", role)
    monkeypatch.setenv("DB_APP_SECRET_ARN", arn)
    admin = make_url(pg_url).set(drivername="postgresql", query={})
    try:
        yield role, arn
    finally:
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
            if c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                c.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def app_role(pg_url, aws, monkeypatch) -> Iterator[tuple[str, str]]:
    with created_app_role(pg_url, monkeypatch) as role_and_secret:
        yield role_and_secret


def stored(arn: str) -> dict:
    client = boto3.client("secretsmanager", region_name=REGION)
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


def as_role(pg_url: str, role: str, password: str):
    return create_engine(
        make_url(pg_url).set(username=role, password=password), poolclass=pool.NullPool
    )


def test_the_app_role_reads_and_writes_notes_and_can_change_no_schema(
    pg_url, app_role, tmp_path, capsys
):
    role, arn = app_role
    # As PostgreSQL 14 (still an allowed engine version) does for the public schema.
    schema = make_url(pg_url).query["options"].removeprefix("-csearch_path=")
    admin_url = make_url(pg_url).set(drivername="postgresql", query={})
    with psycopg.connect(admin_url.render_as_string(False), autocommit=True) as admin:
        admin.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO PUBLIC").format(sql.Identifier(schema)))
    assert migrate.main() == 0
    credentials = stored(arn)
    assert credentials["username"] == role
    assert len(credentials["password"]) >= 40
    captured = capsys.readouterr()
    assert f"app role {role}: created" in captured.out
    assert credentials["password"] not in captured.out + captured.err

    engine = as_role(pg_url, role, credentials["password"])
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == role
            note_id = conn.execute(
                text("INSERT INTO notes (title, body) VALUES ('t', 'b') RETURNING id")
            ).scalar_one()
            conn.execute(text("UPDATE notes SET body = 'c' WHERE id = :i"), {"i": note_id})
            assert conn.execute(text("SELECT body FROM notes")).scalar_one() == "c"
            conn.execute(text("DELETE FROM notes WHERE id = :i"), {"i": note_id})
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        for statement in (
            "DROP TABLE notes",
            "CREATE TABLE stolen (x int)",
            "ALTER TABLE notes ADD COLUMN x int",
            "TRUNCATE notes",
            "UPDATE alembic_version SET version_num = 'x'",
            "CREATE ROLE other",
        ):
            with pytest.raises(exc.ProgrammingError) as refused, engine.begin() as conn:
                conn.execute(text(statement))
            assert refused.value.orig.sqlstate == "42501", statement  # insufficient_privilege
    finally:
        engine.dispose()

    with psycopg.connect(
        make_url(pg_url).set(drivername="postgresql", query={}).render_as_string(False)
    ) as admin:
        attributes = admin.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword "
            "FROM pg_authid WHERE rolname = %s",
            [role],
        ).fetchone()
    assert attributes[:4] == (False, False, False, True)
    # Only a SCRAM verifier reached the server, never the password itself.
    assert attributes[4].startswith("SCRAM-SHA-256$")


def test_a_later_run_keeps_the_password_and_covers_new_tables(pg_url, app_role, tmp_path, capsys):
    role, arn = app_role
    assert migrate.main() == 0
    first = stored(arn)
    capsys.readouterr()
    # A later migration creates a table (as the migration's user); the role may use it
    # without another grant, through the default privileges.
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE tags (id serial PRIMARY KEY, name text)"))
    finally:
        engine.dispose()

    assert migrate.main() == 0
    assert f"app role {role}: rights checked" in capsys.readouterr().out
    assert stored(arn) == first
    versions = boto3.client("secretsmanager", region_name=REGION).list_secret_version_ids(
        SecretId=arn
    )["Versions"]
    assert len(versions) == 1

    engine = as_role(pg_url, role, first["password"])
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tags (name) VALUES ('x')"))
            assert conn.execute(text("SELECT count(*) FROM tags")).scalar_one() == 1
    finally:
        engine.dispose()


def test_readiness_reads_the_schema_until_it_is_at_head_then_keeps_that_answer(pg_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        assert schema_state.schema_state(engine) == schema_state.BEHIND
        migrate.upgrade_to_head(make_url(pg_url), config_with_default())
        assert schema_state.schema_state(engine) == schema_state.AT_HEAD
        # Kept: no more reads of alembic_version for this engine (a fresh one reads again).
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        assert schema_state.schema_state(engine) == schema_state.AT_HEAD
        other = create_engine(pg_url, poolclass=pool.NullPool)
        assert schema_state.schema_state(other) == schema_state.BEHIND
        other.dispose()
    finally:
        engine.dispose()


# A revision a newer release's scripts add: this build has never seen it.
NEWER = "f0e1d2c3b4a5"


@pytest.mark.parametrize(
    ("heads", "state"),
    [
        (HEAD, schema_state.AT_HEAD),
        (frozenset({NEWER}), schema_state.AHEAD),
        # Never migrated: the release phase has not run yet.
        (frozenset(), schema_state.BEHIND),
        # Part known, part not: nothing a release of this app writes; not ready.
        (HEAD | {NEWER}, schema_state.BEHIND),
    ],
    ids=["at-head", "newer", "empty", "mixed"],
)
def test_the_schema_is_compared_with_this_builds_revisions(heads, state):
    assert schema_state.known_revisions() >= HEAD
    assert NEWER not in schema_state.known_revisions()
    assert schema_state.compare(heads) == state


def test_a_known_revision_below_the_head_is_behind(monkeypatch):
    # This build ships one revision; a second, later one makes the first "known, not head".
    monkeypatch.setattr(schema_state, "expected_heads", lambda: frozenset({NEWER}))
    monkeypatch.setattr(schema_state, "known_revisions", lambda: HEAD | {NEWER})
    assert schema_state.compare(HEAD) == schema_state.BEHIND


def test_a_rollbacks_task_of_the_previous_build_is_ready_on_the_newer_schema(
    pg_url, server_factory, monkeypatch
):
    """The circuit breaker rolls a failed release back to the previous task definition after
    its migration ran: where /readyz is the health check (service.healthCheckPath), that
    build's new tasks must pass it on the schema they do not know, or the rollback never
    becomes healthy."""
    monkeypatch.setenv("DATABASE_URL", pg_url)
    migrate.upgrade_to_head(make_url(pg_url), config_with_default())
    engine = create_engine(pg_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    finally:
        engine.dispose()
    server = server_factory(pg_url, WEB_CONCURRENCY="1").start()
    ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "schema": "ahead of this build"}
    assert "the schema is past this build's migrations" in server.log()


def config_with_default():
    config = migrate.alembic_config()
    config.attributes["configure_logger"] = False
    return config


def test_a_password_that_no_longer_logs_in_is_replaced_and_stored(
    password_checked_pg_url, aws, monkeypatch, capsys
):
    # On the tests' own server, which checks passwords (tests/app/private_postgres.py).
    pg_url = password_checked_pg_url
    admin_url = make_url(pg_url).set(drivername="postgresql", query={})
    with created_app_role(pg_url, monkeypatch) as (role, arn):
        assert migrate.main() == 0
        first = stored(arn)["password"]
        wrong = as_role(pg_url, role, "not-the-password")
        with pytest.raises(exc.OperationalError, match="password authentication failed"):
            wrong.connect().close()
        wrong.dispose()
        # The password the release stored logs in for real.
        engine = as_role(pg_url, role, first)
        engine.connect().close()
        engine.dispose()

        # Someone changes it behind the stack's back: the next release notices and repairs it.
        with psycopg.connect(admin_url.render_as_string(False), autocommit=True) as admin:
            admin.execute(
                sql.SQL("ALTER ROLE {} PASSWORD 'changed-by-hand'").format(sql.Identifier(role))
            )
        capsys.readouterr()
        assert migrate.main() == 0
        captured = capsys.readouterr()
        assert f"app role {role}: new password stored" in captured.out
        second = stored(arn)["password"]
        assert second != first and second not in captured.out + captured.err
        engine = as_role(pg_url, role, second)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT current_user")).scalar_one() == role
        finally:
            engine.dispose()
