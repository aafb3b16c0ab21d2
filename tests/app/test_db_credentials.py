"""After the database secret rotates, a running process still opens new connections.

ECS hands the task ``DB_USER``/``DB_PASSWORD`` once, at start; RDS rotates the password in
Secrets Manager every 7 days. With ``DB_SECRET_ARN`` set, a connection refused for its
credentials reads them again from the secret and retries. Against real PostgreSQL
(``TEST_DATABASE_URL``) and moto's Secrets Manager. Each test gets its own login role
``rotated_<random>`` (dropped afterwards) and then rotates it, in one of two ways:

* ``password``: a new password for the same user, what RDS does to its master user. It needs a
  server that checks passwords: the machine's test server trusts every local connection, so
  this case runs on the tests' own server (``tests/app/private_postgres.py``), which does;
* ``user``: a new user name and password (the role is renamed), what an "alternating users"
  rotation of an external database's secret does. The server refuses the old name under any
  authentication method, so this case runs on ``TEST_DATABASE_URL``'s server.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import psycopg
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from moto import mock_aws
from psycopg import sql
from sqlalchemy import URL, Engine, create_engine, exc, make_url, pool, text

from api import credentials, migrate
from api.credentials import is_authentication_failure, region_of
from api.db import create_db_engine
from api.main import create_app
from api.settings import credentials_secret_arn, database_url
from app_support import PG_SKIP_REASON

REGION = "eu-west-1"
REFRESHED = "database credentials refreshed from Secrets Manager"


def admin_sql(conninfo: str, *statements: sql.Composable) -> None:
    """Run DDL as the test superuser, through psycopg alone.

    Not through SQLAlchemy: its engine logger would log the ALTER ROLE ... PASSWORD text, and
    the tests assert that no password reaches the captured logs.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@dataclass
class RotatingUser:
    """A login role whose credentials sit in a moto secret, as RDS keeps the master user's."""

    admin: str
    """libpq connection string of the test superuser."""
    server: URL
    secret_arn: str
    schema: str
    user: str
    password: str
    passwords: list[str] = field(default_factory=list)
    """Every password this role has had: none may appear in any output."""

    def environment(self, with_secret: bool = True) -> dict[str, str]:
        """What ECS gives the task when it starts."""
        env = {
            "DB_HOST": self.server.host or "127.0.0.1",
            "DB_PORT": str(self.server.port or 5432),
            "DB_NAME": self.server.database or "",
            "DB_USER": self.user,
            "DB_PASSWORD": self.password,
        }
        if with_secret:
            env["DB_SECRET_ARN"] = self.secret_arn
        return env

    def rotate(self, kind: str, update_secret: bool = True) -> None:
        """Change the credentials in the database, then in the secret (RDS's order)."""
        old_user, new_password = self.user, secrets.token_urlsafe(18)
        if kind == "user":
            self.user = f"{old_user}_b"
            admin_sql(
                self.admin,
                sql.SQL("ALTER ROLE {} RENAME TO {}").format(
                    sql.Identifier(old_user), sql.Identifier(self.user)
                ),
            )
        admin_sql(
            self.admin,
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(self.user), sql.Literal(new_password)
            ),
        )
        self.password = new_password
        self.passwords.append(new_password)
        if update_secret:
            boto3.client("secretsmanager", region_name=REGION).put_secret_value(
                SecretId=self.secret_arn,
                SecretString=json.dumps({"username": self.user, "password": self.password}),
            )

    def checks_passwords(self) -> bool:
        engine = create_engine(
            self.server.set(username=self.user, password="not-the-password"),
            poolclass=pool.NullPool,
        )
        try:
            engine.connect().close()
        except exc.OperationalError:
            return True
        finally:
            engine.dispose()
        return False


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    # Fake credentials: nothing may reach real AWS, whatever the machine has configured.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


@pytest.fixture(params=["password", "user"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def rotating_user(aws, kind, request) -> Iterator[RotatingUser]:
    if kind == "password":
        base = request.getfixturevalue("password_checking_postgres").url
    else:
        base = os.environ.get("TEST_DATABASE_URL")
        if not base:
            pytest.skip(PG_SKIP_REASON)
    server = make_url(base).set(username=None, password=None)
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    user, password = f"rotated_{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(18)
    role = sql.Identifier(user)
    admin_sql(
        admin,
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)),
        # Its own schema, first on its search_path: the migration test builds tables there.
        sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(role, role),
        sql.SQL("ALTER ROLE {} SET search_path = {}").format(role, role),
    )
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=f"rds!db-{uuid.uuid4()}",
        SecretString=json.dumps({"username": user, "password": password}),
    )["ARN"]
    rotating = RotatingUser(admin, server, arn, user, user, password, passwords=[password])
    try:
        if kind == "password":
            assert rotating.checks_passwords(), "the private server must refuse a wrong password"
        yield rotating
    finally:
        admin_sql(
            admin,
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(role),
            sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(rotating.user)),
        )


@pytest.fixture
def logs(caplog) -> pytest.LogCaptureFixture:
    # Everything our code path can log, down to DEBUG: the app, SQLAlchemy and the driver.
    for name in ("api", "sqlalchemy", "psycopg"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def app_engine(env: dict[str, str]) -> Engine:
    """The engine the app makes at startup from this environment."""
    return create_db_engine(database_url(env), credentials_secret_arn(env))


def connected_as(engine: Engine) -> str:
    """Open a new connection (the pool is emptied first) and say which user it logged in as."""
    engine.dispose()
    with engine.connect() as conn:
        return conn.execute(text("SELECT current_user")).scalar_one()


def assert_no_password_shown(
    rotating_user: RotatingUser, logs: pytest.LogCaptureFixture, capsys
) -> None:
    captured = capsys.readouterr()
    shown = logs.text + captured.out + captured.err
    # User names may appear (the server's refusal names the user); passwords never.
    for password in rotating_user.passwords:
        assert password not in shown


class TestRotation:
    def test_new_connections_use_the_credentials_from_the_secret(
        self, rotating_user, kind, logs, capsys
    ):
        engine = app_engine(rotating_user.environment())
        try:
            assert connected_as(engine) == rotating_user.user
            rotating_user.rotate(kind)
            # The pool refills after the rotation: the environment's credentials are refused,
            # the secret's are read and work.
            assert connected_as(engine) == rotating_user.user
            assert credentials.for_secret(rotating_user.secret_arn).reads == 1
            # Later connections use the credentials already read.
            assert connected_as(engine) == rotating_user.user
            assert credentials.for_secret(rotating_user.secret_arn).reads == 1
        finally:
            engine.dispose()
        assert [r.getMessage() for r in logs.records if r.name == "api.db"] == [REFRESHED]
        assert_no_password_shown(rotating_user, logs, capsys)

    def test_without_the_secret_arn_new_connections_are_refused(self, rotating_user, kind):
        engine = app_engine(rotating_user.environment(with_secret=False))
        try:
            assert connected_as(engine) == rotating_user.user
            rotating_user.rotate(kind)
            with pytest.raises(exc.OperationalError) as refused:
                connected_as(engine)
        finally:
            engine.dispose()
        # The real server's refusal is what the app recognises as an authentication failure.
        assert is_authentication_failure(refused.value.orig)

    def test_the_app_stays_ready_across_a_rotation(self, rotating_user, kind, monkeypatch):
        for name, value in rotating_user.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("APP_ENABLE_TEST_ROUTES", raising=False)
        # Ready means migrated too (api.schema_state): the release phase has run.
        config = migrate.alembic_config()
        config.attributes["configure_logger"] = False
        migrate.upgrade_to_head(database_url(), config)
        with TestClient(create_app()) as client:
            assert client.get("/readyz").status_code == 200
            rotating_user.rotate(kind)
            client.app.state.engine.dispose()
            assert client.get("/readyz").status_code == 200

    def test_the_release_phase_migrates_after_a_rotation(self, rotating_user, kind, monkeypatch):
        # The task's environment is the one from before the rotation, as for a retried
        # release task whose definition was registered earlier.
        for name, value in rotating_user.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DATABASE_URL", raising=False)
        rotating_user.rotate(kind)
        config = migrate.alembic_config()
        config.attributes["configure_logger"] = False
        url = database_url()

        migrate.upgrade_to_head(url, config)

        head = ScriptDirectory.from_config(config).get_current_head()
        assert migrate.current_heads(url) == (head,)
        with psycopg.connect(rotating_user.admin) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [rotating_user.schema],
            ).fetchall()
        assert {"notes", "alembic_version"} <= {name for (name,) in tables}


class TestSecretNotUsable:
    @pytest.fixture(params=["user"])
    def kind(self, request) -> str:
        return request.param

    def test_a_secret_not_yet_rotated_surfaces_the_refusal_and_is_read_once(
        self, rotating_user, kind
    ):
        engine = app_engine(rotating_user.environment())
        try:
            rotating_user.rotate(kind, update_secret=False)
            for _ in range(3):
                with pytest.raises(exc.OperationalError):
                    connected_as(engine)
        finally:
            engine.dispose()
        # The secret still holds what was refused: no retry with it, and within
        # MIN_SECONDS_BETWEEN_READS no new read either.
        assert credentials.for_secret(rotating_user.secret_arn).reads == 1

    def test_an_unreadable_secret_surfaces_the_refusal_and_a_warning(
        self, rotating_user, kind, logs, capsys
    ):
        engine = app_engine(rotating_user.environment())
        try:
            rotating_user.rotate(kind)
            boto3.client("secretsmanager", region_name=REGION).delete_secret(
                SecretId=rotating_user.secret_arn, ForceDeleteWithoutRecovery=True
            )
            with pytest.raises(exc.OperationalError) as refused:
                connected_as(engine)
        finally:
            engine.dispose()
        assert is_authentication_failure(refused.value.orig)
        (warning,) = [r for r in logs.records if r.name == "api.db"]
        assert warning.getMessage().startswith(
            "could not read database credentials from Secrets Manager: ResourceNotFoundException"
        )
        assert_no_password_shown(rotating_user, logs, capsys)


class TestWhenItApplies:
    ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-AbCdEf"

    def test_the_secret_arn_counts_only_with_the_db_variables(self):
        assert credentials_secret_arn({"DB_HOST": "db", "DB_SECRET_ARN": self.ARN}) == self.ARN
        # A DATABASE_URL carries its own credentials; the secret never replaces them.
        env = {"DATABASE_URL": "postgresql+psycopg://u:p@db/x", "DB_SECRET_ARN": self.ARN}
        assert credentials_secret_arn({**env, "DB_HOST": "db"}) is None
        assert credentials_secret_arn({"DB_SECRET_ARN": self.ARN}) is None
        assert credentials_secret_arn({"DB_HOST": "db", "DB_SECRET_ARN": " "}) is None

    def test_the_client_talks_to_the_secrets_region(self):
        assert region_of(self.ARN) == "eu-west-1"
        with pytest.raises(ValueError, match="full ARN"):
            region_of("rds!db-1")

    @pytest.mark.parametrize(
        "message",
        [
            'connection to server at "db" failed: FATAL:  database "x" does not exist',
            'connection to server at "db", port 5432 failed: Connection refused',
            'connection to server at "db" failed: timeout expired',
        ],
    )
    def test_other_connection_failures_are_not_taken_for_stale_credentials(self, message):
        assert not is_authentication_failure(Exception(message))
