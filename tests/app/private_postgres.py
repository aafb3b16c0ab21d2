"""A PostgreSQL server of the tests' own, one that checks passwords.

The machine's server (``TEST_DATABASE_URL``) trusts every login from 127.0.0.1, so it cannot
show what the app does when a password is refused (after RDS rotates it, or someone changes
it by hand). Rather than edit that server's ``pg_hba.conf``, these tests start their own:
``initdb`` into a temporary directory, a ``pg_hba.conf`` that trusts only the superuser and
asks every other role for its SCRAM password, on a free port, stopped when the session ends.
About 2 to 3 seconds, paid only by the sessions that use it.

It needs the server binaries (``initdb``, ``pg_ctl``); where they are missing the tests that
use it skip, saying so. PostgreSQL refuses to run as root: as root, the cluster is made and run
as the ``postgres`` system user, which owns the temporary directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
DATABASE = "test"

HBA = f"""\
# Written by tests/app/private_postgres.py: the superuser is trusted, every other role
# must give its password (what RDS does for every login).
local all {SUPERUSER} trust
host all {SUPERUSER} 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


class UnavailableError(Exception):
    """This machine cannot start a private PostgreSQL; the message says why."""


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    # Debian/Ubuntu keep the server binaries out of PATH.
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise UnavailableError(
        f"`{name}` not found: install the PostgreSQL server binaries "
        "(Debian: apt-get install postgresql) to run the password-checking tests"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivatePostgres:
    """A running server; ``url`` is the superuser's SQLAlchemy URL to database ``test``."""

    directory: Path
    port: int
    _run_as: list[str]
    _pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @classmethod
    def start(cls) -> PrivatePostgres:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        run_as: list[str] = []
        directory = Path(tempfile.mkdtemp(prefix="private-postgres-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(directory)
                raise UnavailableError(
                    "running as root and no `postgres` user to run the server as"
                ) from None
            os.chown(directory, owner.pw_uid, owner.pw_gid)
            run_as = [
                "setpriv",
                f"--reuid={owner.pw_uid}",
                f"--regid={owner.pw_gid}",
                "--clear-groups",
            ]
        data = directory / "data"
        server = cls(directory, _free_port(), run_as, pg_ctl)
        try:
            server._run(initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8")
            (data / "pg_hba.conf").write_text(HBA)
            server._run(
                pg_ctl, "-D", str(data), "-w", "-l", str(directory / "server.log"), "start",
                "-o", f"-p {server.port} -h 127.0.0.1 -k {directory} -c fsync=off",
            )  # fmt: skip
            server._run(
                _binary("createdb"), "-h", "127.0.0.1", "-p", str(server.port), "-U", SUPERUSER,
                DATABASE,
            )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*self._run_as, self._pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._run_as, *command], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            log = self.directory / "server.log"
            detail = log.read_text() if log.exists() else ""
            raise UnavailableError(
                f"`{' '.join(command)}` failed: {result.stderr.strip() or result.stdout.strip()}"
                f"\n{detail}"
            )
