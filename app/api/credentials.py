"""Database credentials that follow a rotation of their Secrets Manager secret.

ECS puts ``DB_USER`` and ``DB_PASSWORD`` into the environment once, when the task starts. RDS
rotates the master password it keeps in Secrets Manager (every 7 days by default), so a task
that outlives a rotation would fail every new connection (a pool refill, a restarted worker)
until it is replaced. With ``DB_SECRET_ARN`` set, a connection that the server refuses for
its credentials makes the process read ``{"username", "password"}`` from that secret, keep
them, and retry once; later connections use the kept credentials.

The credentials never reach a log, a message or an exception raised here: the one log line
says only that they were refreshed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

from sqlalchemy import Engine, event

logger = logging.getLogger("api.db")

# libpq reports no SQLSTATE for a connection it could not open (psycopg's ``sqlstate`` is None
# there), so besides the code, when a driver gives one, we recognise the server's refusal by its
# message: 28P01 "password authentication failed", 28000 'role "..." does not exist' (the secret
# now names another user), and libpq's own "no password supplied". PostgreSQL words them in
# lc_messages, which is English on RDS unless a parameter group changes it.
AUTH_FAILURE_SQLSTATES = frozenset({"28P01", "28000"})
_AUTH_FAILURE_MESSAGE = re.compile(
    r"password authentication failed|authentication failed for user|"
    r'role ".*" does not exist|no password supplied',
)
# At most one read per interval: a wrong secret must not turn every failing connection attempt
# (each request, each pre-ping) into a Secrets Manager call. Short, because right after a
# rotation the secret holds the new value within seconds.
MIN_SECONDS_BETWEEN_READS = 5.0


def is_authentication_failure(exc: BaseException) -> bool:
    """Whether the database refused the connection because of the user name or password."""
    if getattr(exc, "sqlstate", None) in AUTH_FAILURE_SQLSTATES:
        return True
    return bool(_AUTH_FAILURE_MESSAGE.search(str(exc)))


def region_of(arn: str) -> str:
    """``arn:aws:secretsmanager:<region>:<account>:secret:<name>`` -> ``<region>``."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "secretsmanager" or not parts[3]:
        raise ValueError("DB_SECRET_ARN must be the full ARN of a Secrets Manager secret")
    return parts[3]


class SecretCredentials:
    """The user name and password last read from one secret, shared by the whole process."""

    def __init__(self, secret_arn: str) -> None:
        self.secret_arn = secret_arn
        self.region = region_of(secret_arn)
        self.reads = 0
        self._lock = threading.Lock()
        self._client: Any = None
        self._credentials: tuple[str, str] | None = None
        self._last_read = float("-inf")

    def current(self) -> tuple[str, str] | None:
        """The credentials read from the secret, or None while the environment's still work."""
        return self._credentials

    def refresh(self, failed: tuple[str | None, str | None]) -> tuple[str, str] | None:
        """Credentials worth one more attempt after ``failed`` was refused, or None.

        When several connections fail at once (a pool refilling after a rotation), the first
        reads the secret and the others take what it read.
        """
        with self._lock:
            if self._credentials is not None and self._credentials != failed:
                return self._credentials
            if time.monotonic() - self._last_read < MIN_SECONDS_BETWEEN_READS:
                return None
            self._last_read = time.monotonic()
            fresh = self._read()
            self._credentials = fresh
        logger.info("database credentials refreshed from Secrets Manager")
        return fresh if fresh != failed else None

    def _read(self) -> tuple[str, str]:
        if self._client is None:
            # Imported and built on first use: boto3 costs a worker tens of MiB, and a task
            # whose credentials never rotate under it never needs it.
            import boto3
            from botocore.config import Config

            self._client = boto3.session.Session().client(
                "secretsmanager",
                region_name=self.region,
                # A request thread waits on this read: seconds, like the database's own connect
                # timeout, instead of botocore's 60 s per attempt.
                config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2}),
            )
        self.reads += 1
        response = self._client.get_secret_value(SecretId=self.secret_arn)
        try:
            document = json.loads(response["SecretString"])
            return str(document["username"]), str(document["password"])
        except (KeyError, TypeError, ValueError):
            # Say what is wrong with the secret, never what it holds.
            raise ValueError(
                "the database secret must be JSON with string keys username and password"
            ) from None


_by_arn: dict[str, SecretCredentials] = {}
_by_arn_lock = threading.Lock()


def for_secret(secret_arn: str) -> SecretCredentials:
    """The process's one ``SecretCredentials`` for this secret (every engine shares it)."""
    with _by_arn_lock:
        if secret_arn not in _by_arn:
            _by_arn[secret_arn] = SecretCredentials(secret_arn)
        return _by_arn[secret_arn]


def refresh_on_authentication_failure(engine: Engine, secret_arn: str) -> SecretCredentials:
    """Make ``engine`` connect with the secret's credentials once the environment's are refused.

    Uses the ``do_connect`` event, which sees the driver's keyword arguments: the engine's URL
    (and so every URL rendered in logs) never changes.
    """
    credentials = for_secret(secret_arn)
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _connection_record, cargs, cparams):
        known = credentials.current()
        if known is not None:
            cparams["user"], cparams["password"] = known
        try:
            return dialect.connect(*cargs, **cparams)
        except dbapi_error as exc:
            if not is_authentication_failure(exc):
                raise
            try:
                fresh = credentials.refresh((cparams.get("user"), cparams.get("password")))
            except Exception as read_error:
                # The database's refusal is what the caller needs to see; the secret read only
                # gets a line (its class and AWS's message, which names no value).
                logger.warning(
                    "could not read database credentials from Secrets Manager: %s: %s",
                    type(read_error).__name__,
                    read_error,
                )
                raise exc from None
            if fresh is None:
                raise
        cparams["user"], cparams["password"] = fresh
        return dialect.connect(*cargs, **cparams)

    return credentials
