"""How long app queries wait while a migration's ALTER TABLE waits behind a long reader.

A benchmark, not a test (timings vary with the machine). Against PostgreSQL (a fresh schema,
dropped afterwards): a reader holds ACCESS SHARE on ``notes`` for ``--reader-seconds``; a
migration adding a column starts behind it through ``api.migrate.upgrade_to_head``; meanwhile
an app loop runs ``SELECT count(*) FROM notes`` until the migration is done and records each
query's latency. Run twice: with ``lock_timeout`` (the stack's default, 2 s) and without (0:
wait forever, the old behaviour). Prints, per run: app queries, their p50/p99/max latency, how
many failed, and how many attempts the migration needed.

Usage (from the repository root)::

    python benchmarks/migration_lock_wait.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from sqlalchemy import create_engine, make_url, pool, text  # noqa: E402

from api import migrate, schema_state  # noqa: E402

ADD_COLUMN = '''"""add pinned
Revision ID: bench0000001
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = "bench0000001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("notes", sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column("notes", "pinned")
'''


def config(scripts: Path, extra: bool):
    if scripts.exists():
        shutil.rmtree(scripts)
    shutil.copytree(
        ROOT / "app" / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__")
    )
    if extra:
        (down,) = schema_state.expected_heads()
        (scripts / "versions" / "zz_bench.py").write_text(ADD_COLUMN.format(down=down))
    cfg = migrate.alembic_config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["configure_logger"] = False
    return cfg


def run(base_url: str, lock_timeout_ms: int, reader_seconds: float, tmp: Path) -> dict:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, poolclass=pool.NullPool)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    engine = create_engine(url, poolclass=pool.NullPool)
    attempts: list[int] = []
    latencies: list[float] = []
    failures = 0
    try:
        migrate.upgrade_to_head(url, config(tmp / "base", False))
        cfg = config(tmp / "next", True)

        def pause(seconds: float) -> None:
            attempts.append(1)
            time.sleep(seconds)

        done = threading.Event()

        def migration() -> None:
            try:
                migrate.upgrade_to_head(url, cfg, lock_timeout=lock_timeout_ms, sleep=pause)
            finally:
                done.set()

        with engine.connect() as reader, engine.connect() as app:
            reader.execute(text("SELECT count(*) FROM notes"))
            # The reader ends on its own clock, whatever the app loop is stuck in.
            release = threading.Timer(reader_seconds, reader.rollback)
            release.start()
            app.execute(text("SET statement_timeout = 60000"))
            app.commit()
            thread = threading.Thread(target=migration)
            thread.start()
            while not done.is_set():
                start = time.monotonic()
                try:
                    app.execute(text("SELECT count(*) FROM notes"))
                    app.commit()
                except Exception:
                    app.rollback()
                    failures += 1
                latencies.append(time.monotonic() - start)
                time.sleep(0.01)
            release.join()
            thread.join(timeout=300)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    latencies.sort()
    return {
        "lock_timeout_ms": lock_timeout_ms,
        "queries": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "failed": failures,
        "migration_attempts": len(attempts) + 1,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--reader-seconds", type=float, default=10.0)
    parser.add_argument("--lock-timeout-ms", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for timeout in (args.lock_timeout_ms, 0):
            result = run(args.database_url, timeout, args.reader_seconds, Path(tmp))
            print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
