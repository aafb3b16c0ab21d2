"""The app runs as its hardened task definition runs it (issue 25): the release phase's
migration, the server and the container health check, each with a read-only root filesystem, a
writable /tmp only, as the image's unprivileged user with no capabilities
(``app_support.confined``: a mount namespace and ``setpriv``, no Docker needed).

The migration and the server use PostgreSQL (``TEST_DATABASE_URL``): a SQLite file would need a
writable directory, which a deployed task does not have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app_support import (
    APP_DIR,
    AUTH,
    ServerProcess,
    clean_env,
    confined,
    confinement_unavailable,
    image_user,
    run_migrate,
)

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

pytestmark = pytest.mark.skipif(
    confinement_unavailable() is not None, reason=str(confinement_unavailable())
)

# What a deployed task's environment says about the process (the image sets these too).
IMAGE_ENV = {"HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}

PROBE = """
import os, sys
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
print("ids", os.getuid(), os.getgid(), os.getgroups())
print("caps", status["CapEff"].strip(), status["CapPrm"].strip(), status["CapBnd"].strip())
print("nonewprivs", status["NoNewPrivs"].strip())
for path in sys.argv[1:]:
    try:
        with open(os.path.join(path, ".write-probe"), "w") as f:
            f.write("x")
        os.unlink(os.path.join(path, ".write-probe"))
        print("writable", path)
    except OSError as error:
        print("refused", path, error.strerror)
"""


def test_the_confinement_is_what_the_task_definition_asks_for():
    """Read-only everywhere but /tmp, the image's uid:gid with no groups, no capability, and
    no way to gain one (the checks the other tests in this module rely on)."""
    venv = Path(sys.executable).parent
    paths = [str(APP_DIR), "/", str(venv), "/tmp"]
    result = subprocess.run(
        confined([sys.executable, "-c", PROBE, *paths]),
        env=clean_env(**IMAGE_ENV),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    uid, gid = image_user()
    assert lines[:3] == [
        f"ids {uid} {gid} []",
        "caps 0000000000000000 0000000000000000 0000000000000000",
        "nonewprivs 1",
    ]
    assert lines[3:] == [
        f"refused {APP_DIR} Read-only file system",
        "refused / Read-only file system",
        f"refused {venv} Read-only file system",
        "writable /tmp",
    ]


def test_the_migration_the_server_and_the_health_check_run_read_only_as_the_image_user(
    tmp_path, pg_url
):
    migrated = run_migrate(clean_env(DATABASE_URL=pg_url, **IMAGE_ENV), wrap=confined)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    server = ServerProcess(tmp_path, pg_url, wrap=confined, **IMAGE_ENV)
    try:
        server.start()
        # The server really is the confined process: its uid, and / read-only in its mounts.
        status = Path(f"/proc/{server.pid}/status").read_text()
        uid, _ = image_user()
        assert f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}" in status
        root = next(
            line.split()
            for line in Path(f"/proc/{server.pid}/mountinfo").read_text().splitlines()
            if line.split()[4] == "/"
        )
        assert "ro" in root[5].split(",")

        created = httpx.post(
            f"{server.base_url}/notes", json={"title": "read-only"}, headers=AUTH, timeout=10
        )
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200

        check = subprocess.run(
            confined([sys.executable, "-m", "api.healthcheck"]),
            cwd=APP_DIR,
            env=clean_env(PORT=str(server.port), **IMAGE_ENV),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        server.stop()
    # A clean drain after SIGTERM, as ECS stops it.
    assert server.proc is not None and server.proc.returncode == 0, server.log()
    assert "Read-only file system" not in server.log()
