"""Configuration read from the environment (twelve-factor style).

Database selection, first match wins:

1. ``DATABASE_URL``: a full SQLAlchemy URL (local runs, tests).
2. ``DB_HOST`` (+ ``DB_PORT``, ``DB_NAME``, ``DB_USER``, ``DB_PASSWORD``, optional
   ``DB_SSLMODE`` and ``DB_SSLROOTCERT``): the cloud setup, where the stack sets
   ``verify-full`` and the RDS CA bundle the image ships, so libpq checks the server's
   certificate and name instead of only encrypting. The infrastructure injects the password as a secret and
   never assembles a URL containing it; we build the URL here with ``URL.create`` so special
   characters are escaped, and SQLAlchemy's ``repr``/``str`` of a URL masks the password.
   ``DB_SECRET_ARN`` names the Secrets Manager secret they came from, so the app can read
   them again after a rotation (``credentials_secret_arn``).
3. Neither: a local SQLite file, so a bare local run needs nothing else.
"""

from __future__ import annotations

import os

from sqlalchemy import URL, make_url

DEFAULT_SQLITE_URL = "sqlite:///./app.db"


def database_url(environ: os._Environ[str] | dict[str, str] | None = None) -> URL:
    env = os.environ if environ is None else environ
    explicit = env.get("DATABASE_URL", "").strip()
    if explicit:
        return make_url(explicit)
    host = env.get("DB_HOST", "").strip()
    if host:
        query = {}
        sslmode = env.get("DB_SSLMODE", "").strip()
        if sslmode:
            query["sslmode"] = sslmode
        sslrootcert = env.get("DB_SSLROOTCERT", "").strip()
        if sslrootcert:
            query["sslrootcert"] = sslrootcert
        return URL.create(
            "postgresql+psycopg",
            username=env.get("DB_USER") or None,
            password=env.get("DB_PASSWORD") or None,
            host=host,
            port=int(env.get("DB_PORT") or 5432),
            database=env.get("DB_NAME") or None,
            query=query,
        )
    return make_url(DEFAULT_SQLITE_URL)


def credentials_secret_arn(environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    """``DB_SECRET_ARN``, when the URL comes from the ``DB_*`` variables; otherwise None.

    A ``DATABASE_URL`` carries its own credentials: the secret never overrides those.
    """
    env = os.environ if environ is None else environ
    if env.get("DATABASE_URL", "").strip() or not env.get("DB_HOST", "").strip():
        return None
    return env.get("DB_SECRET_ARN", "").strip() or None


def safe_url(url: URL) -> str:
    """The URL as text with the password masked: the only form that may be logged."""
    return url.render_as_string(hide_password=True)


def env_flag(name: str, environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# 2 s, the stack's migration.lockTimeout default: while a migration's ALTER waits for its table
# lock, every app query on that table queues behind it, so the wait must stay well below the
# app's statement timeout (5 s).
DEFAULT_LOCK_TIMEOUT_MS = 2000


def env_int(
    name: str,
    default: int,
    *,
    minimum: int = 0,
    environ: os._Environ[str] | dict[str, str] | None = None,
) -> int:
    """A whole-number variable (``default`` when unset or empty); ValueError naming it when it
    is not a number or below ``minimum``."""
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def lock_timeout_ms(environ: os._Environ[str] | dict[str, str] | None = None) -> int:
    """``DB_LOCK_TIMEOUT_MS``: how long one migration statement waits for a lock (0 = forever)."""
    return env_int("DB_LOCK_TIMEOUT_MS", DEFAULT_LOCK_TIMEOUT_MS, environ=environ)
