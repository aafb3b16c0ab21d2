"""Whether the database's schema is at the Alembic head this build ships.

``/readyz`` answers ready only once the release phase (``python -m api.migrate``) has brought
the schema to the head revision of this image's ``migrations/``: before that, a request that
writes a note would fail on a missing table or column. The head revisions are read from the
migration scripts once per process; the database's are read from ``alembic_version``.

A database *past* this build is ready too: its revisions are ones this build's scripts do not
know, written by a newer release's migration. That is the previous version serving on the next
schema, which rolling migrations are written and checked to survive (docs/rolling-migrations.md:
squawk's refusals, the previous version's tests on the new schema). Refusing it would fail the
tasks of this build that a rollback of the newer release (the circuit breaker, or a redeploy of
the last good version) starts, wherever ``/readyz`` decides health (``service.healthCheckPath:
/readyz``, a monitor): the rollback could never become healthy. A database *behind* it
(empty, or at a revision this build knows but is not its head) is not ready: the release phase
has not run.

A positive answer is kept per engine: once ready, a running process stays ready (a migration
only ever moves the schema forward), so ``/readyz`` costs one ``SELECT 1`` from then on.
"""

from __future__ import annotations

import logging
import threading
import weakref
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

APP_DIR = Path(__file__).resolve().parent.parent
logger = logging.getLogger("api.schema_state")


def alembic_config() -> Config:
    return Config(str(APP_DIR / "alembic.ini"))


@lru_cache(maxsize=1)
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts shipped with this code."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def database_heads(connection: Connection) -> frozenset[str]:
    """The revision(s) recorded in the database's ``alembic_version`` (empty: never migrated)."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())


AT_HEAD = "at head"
AHEAD = "ahead of this build"
BEHIND = "not at head"

_ready: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision of the migration scripts shipped with this code."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(r.revision for r in script.walk_revisions())


def compare(heads: frozenset[str]) -> str:
    """Where the database's ``heads`` stand against this build: ``AT_HEAD``, ``AHEAD`` (only
    revisions this build does not know) or ``BEHIND`` (none, or ones it knows but not its
    heads)."""
    if heads == expected_heads():
        return AT_HEAD
    if heads and not heads & known_revisions():
        return AHEAD
    return BEHIND


def schema_state(engine: Engine) -> str:
    """``compare`` for the database behind ``engine``; a ready answer is remembered.

    Connection errors propagate: the caller tells "database down" from "schema behind".
    """
    if engine in _ready:
        return _ready[engine]
    with engine.connect() as connection:
        state = compare(database_heads(connection))
    if state == AHEAD:
        # Once per process and engine (the answer is kept): a newer release migrated past
        # this build, which serves on as its rollback or last tasks.
        logger.warning(
            "the schema is past this build's migrations (a newer release migrated it); "
            "serving on it, as rolling migrations keep the previous version working"
        )
    if state != BEHIND:
        with _lock:
            _ready[engine] = state
    return state


def forget(engine: Engine) -> None:
    """Drop the remembered answer for ``engine`` (tests that rebuild a schema use it)."""
    with _lock:
        _ready.pop(engine, None)
