"""Whether the database's schema is at the Alembic head this build ships.

``/readyz`` answers ready only once the release phase (``python -m api.migrate``) has brought
the schema to the head revision of this image's ``migrations/``: before that, a request that
writes a note would fail on a missing table or column. The head revisions are read from the
migration scripts once per process; the database's are read from ``alembic_version``.

A positive answer is kept per engine: once at head, a running process stays at head (a
migration only ever moves the schema forward), so ``/readyz`` costs one ``SELECT 1`` from then
on. A newer release that migrates past this build leaves its already-ready tasks ready while
they drain; a task of this older build started afterwards reports the revision it does not
know, and is not ready.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

APP_DIR = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    return Config(str(APP_DIR / "alembic.ini"))


@lru_cache(maxsize=1)
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts shipped with this code."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def database_heads(connection: Connection) -> frozenset[str]:
    """The revision(s) recorded in the database's ``alembic_version`` (empty: never migrated)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


_at_head: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def schema_at_head(engine: Engine) -> bool:
    """True when the database behind ``engine`` is at this code's head; a yes is remembered.

    Connection errors propagate: the caller tells "database down" from "schema behind".
    """
    if engine in _at_head:
        return True
    with engine.connect() as connection:
        at_head = database_heads(connection) == expected_heads()
    if at_head:
        with _lock:
            _at_head.add(engine)
    return at_head


def forget(engine: Engine) -> None:
    """Drop the remembered answer for ``engine`` (tests that rebuild a schema use it)."""
    with _lock:
        _at_head.discard(engine)
