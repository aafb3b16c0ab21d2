"""The app's own database role: it reads and writes rows, and can do nothing else.

The release phase connects with the database's master credentials; the web tasks should not:
a bug or an injection in the app must not be able to drop a table, create one, or read the
master password. ``ensure_app_role`` (run by ``api.migrate`` after the upgrade, under the
migration lock) makes sure that a login role exists with exactly these rights in the current
database and schema:

* ``CONNECT`` on the database and ``USAGE`` on the schema (no ``CREATE``);
* ``SELECT, INSERT, UPDATE, DELETE`` on every table, ``USAGE, SELECT`` on every sequence, and
  the same by default on what later migrations create (``ALTER DEFAULT PRIVILEGES``);
* on ``alembic_version`` only ``SELECT`` (``/readyz`` reads it; only migrations write it).

Its password lives in a Secrets Manager secret (``{"username", "password"}``, the shape of
RDS's own secret, so ``api.credentials`` re-reads it the same way). The stack creates the
secret empty; this module generates the password (``secrets.token_urlsafe``, 256 bits) and
stores it with ``PutSecretValue``, so it never passes through Pulumi config or state. It is
sent to PostgreSQL only as a SCRAM-SHA-256 verifier computed on this side (libpq's
``PQencryptPasswordConn``, what psql's ``\\password`` uses), so it is not in the server's
statement log either. A password is made only when the secret has none or the one it holds no
longer logs in; otherwise every run leaves it alone, and running tasks are never disturbed.
The role change and the secret write happen in one transaction: if the write fails, the
password change is rolled back.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, exc, pool, text

from api.credentials import is_authentication_failure, region_of

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TABLE_RIGHTS = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_RIGHTS = "USAGE, SELECT"
VERSION_TABLE = "alembic_version"


class AppRoleError(Exception):
    pass


def _secrets_client(secret_arn: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "secretsmanager",
        region_name=region_of(secret_arn),
        config=Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"}),
    )


def stored_credentials(client: Any, secret_arn: str) -> tuple[str, str] | None:
    """The secret's current ``(username, password)``; None while it has no value yet."""
    try:
        response = client.get_secret_value(SecretId=secret_arn)
    except client.exceptions.ResourceNotFoundException:
        # The stack creates the secret without a version: the first run fills it.
        return None
    try:
        document = json.loads(response["SecretString"])
        return str(document["username"]), str(document["password"])
    except (KeyError, TypeError, ValueError):
        # Say what is wrong, never what it holds; a new password replaces it.
        return None


def _logs_in(engine: Engine, role: str, password: str) -> bool:
    """Whether the role can log in with this password (any other failure propagates)."""
    url = engine.url.set(username=role, password=password)
    candidate = create_engine(
        url, poolclass=pool.NullPool, hide_parameters=True, connect_args={"connect_timeout": 10}
    )
    try:
        with candidate.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except exc.OperationalError as error:
        if is_authentication_failure(error.orig):
            return False
        raise
    finally:
        candidate.dispose()


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote_identifier(name)


def _scram_verifier(conn: Connection, role: str, password: str) -> str:
    pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    return pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def grant_rights(conn: Connection, role: str) -> str | None:
    """Give ``role`` exactly the app's rights in the current database and schema.

    Returns a warning when the role can still create objects in the schema (a right it can
    only hold through PUBLIC or another role, which this user may not be able to revoke).
    """
    database, schema = conn.execute(text("SELECT current_database(), current_schema()")).one()
    r, d, s = _quote(conn, role), _quote(conn, database), _quote(conn, schema)
    for statement in (
        f"GRANT CONNECT ON DATABASE {d} TO {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT {TABLE_RIGHTS} ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT {SEQUENCE_RIGHTS} ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        # For the tables and sequences later migrations create (as this same user).
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {TABLE_RIGHTS} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {SEQUENCE_RIGHTS} ON SEQUENCES TO {r}",
    ):
        conn.exec_driver_sql(statement)
    if conn.execute(text("SELECT to_regclass(:t)"), {"t": f"{schema}.{VERSION_TABLE}"}).scalar():
        conn.exec_driver_sql(f"REVOKE INSERT, UPDATE, DELETE ON {s}.{VERSION_TABLE} FROM {r}")
    can_create = text("SELECT has_schema_privilege(:role, :schema, 'CREATE')")
    if conn.execute(can_create, {"role": role, "schema": schema}).scalar():
        # PostgreSQL before 15 lets PUBLIC create in the public schema (CVE-2018-1058); the
        # fix PostgreSQL 15 made the default, and what AWS advises for RDS.
        conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC")
        if conn.execute(can_create, {"role": role, "schema": schema}).scalar():
            # Not fatal: the deploy goes on with a role that still cannot drop or alter the
            # app's tables (it owns none); the line says how to close the gap.
            return (
                f"warning: role {role} can still CREATE in schema {schema} (through PUBLIC or "
                f"another role); as the schema's owner run REVOKE CREATE ON SCHEMA {schema} "
                "FROM PUBLIC"
            )
    return None


def ensure_app_role(engine: Engine, role: str, secret_arn: str, client: Any = None) -> str:
    """Create or check the role and its secret; return one line saying what was done."""
    if not ROLE_NAME.match(role):
        raise AppRoleError(f"DB_APP_ROLE {role!r} is not a plain lower-case role name")
    client = client or _secrets_client(secret_arn)
    stored = stored_credentials(client, secret_arn)
    password = stored[1] if stored and stored[0] == role else None
    with engine.begin() as conn:
        if role == conn.execute(text("SELECT current_user")).scalar_one():
            raise AppRoleError(f"DB_APP_ROLE {role} is the migration's own user; pick another")
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        ).scalar()
        fresh = None
        if password is None or (exists and not _logs_in(engine, role, password)):
            fresh = secrets.token_urlsafe(32)
        r = _quote(conn, role)
        attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
        if exists and fresh is None:
            conn.exec_driver_sql(f"ALTER ROLE {r} {attributes}")
        else:
            # A new role takes the stored password if the secret has one for it (tasks already
            # read it), else the fresh one. The verifier is hex and base64 between '$' and ':':
            # nothing to escape.
            verifier = _scram_verifier(conn, role, fresh or password)  # type: ignore[arg-type]
            verb = "ALTER" if exists else "CREATE"
            conn.exec_driver_sql(f"{verb} ROLE {r} {attributes} PASSWORD '{verifier}'")
        warning = grant_rights(conn, role)
        if fresh is not None:
            client.put_secret_value(
                SecretId=secret_arn,
                SecretString=json.dumps({"username": role, "password": fresh}),
            )
    if not exists:
        done = f"app role {role}: created; password stored in its secret"
    elif fresh is not None:
        done = f"app role {role}: new password stored in its secret (the old one did not log in)"
    else:
        done = f"app role {role}: rights checked"
    return f"{done}\n{warning}" if warning else done
