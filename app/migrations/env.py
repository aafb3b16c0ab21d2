"""Alembic environment.

The URL comes from ``api.settings.database_url()`` (never from alembic.ini). A caller may
pass an open connection in ``config.attributes["connection"]`` (the test suite does).

On PostgreSQL the migration transaction runs with ``lock_timeout`` (``DB_LOCK_TIMEOUT_MS``,
or ``config.attributes["lock_timeout_ms"]``): an ``ALTER TABLE`` that must wait for a long
reader gives up after that instead of queueing every app query on the table behind itself;
``api.migrate`` then retries the whole upgrade later. The offline SQL (``--sql``) sets it
too, so what a reviewer reads is what runs.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from api.migrate import migration_engine
from api.models import Base
from api.settings import database_url, lock_timeout_ms

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _configure(**kwargs) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kwargs)


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: emit SQL without connecting."""
    _configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        if context.get_context().dialect.name == "postgresql":
            # What _run_with sets online, rendered too: the SQL a reviewer (or squawk, in the
            # offline plan's --base) reads is the SQL the release phase runs.
            context.execute(f"SET LOCAL lock_timeout = {_lock_timeout()}")
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    engine = migration_engine(database_url())
    try:
        with engine.connect() as connection:
            _run_with(connection)
    finally:
        engine.dispose()


def _lock_timeout() -> int:
    timeout = config.attributes.get("lock_timeout_ms")
    return lock_timeout_ms() if timeout is None else int(timeout)


def _run_with(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    _configure(
        connection=connection,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        # SQLite reflects defaults as raw SQL text ('' vs ""): comparing them is noise there.
        compare_server_default=not sqlite,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # LOCAL: for this transaction only, so a caller's own connection is left as it was.
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {_lock_timeout()}")
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
