"""Run a command confined as the hardened task definition confines the app, without Docker.

Usage (as root, inside a private mount namespace: ``app_support.confined`` builds the line)::

    unshare --mount --propagation private -- python confine.py UID GID INTERPRETER_HOME -- ARGV...

What the task definition asks of ECS (``components/task.py``), done with the kernel's own tools:

* every mount but ``/proc``, ``/sys`` and ``/dev`` (which Docker keeps as they are under
  ``--read-only`` too) is remounted read-only: ``readonlyRootFilesystem``;
* a fresh, empty tmpfs on ``/tmp``: the task volume mounted there;
* ``setpriv`` to the image's uid:gid with no supplementary groups, no capability (empty
  bounding set, nothing inheritable) and ``no_new_privs``: ``user`` and
  ``linuxParameters.capabilities.drop: ["ALL"]``, never privileged.

One difference from the image has to be bridged: here the Python interpreter may live under a
directory other users cannot enter (pyenv under root's 0700 home), while the image's
``/opt/venv`` is world-readable. So before anything is made read-only, the first such ancestor
of ``INTERPRETER_HOME`` is replaced, in this namespace only, by an empty directory that holds
just the interpreter's tree: the app's user can run Python and nothing else of that home.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

KEEP = ("/proc", "/sys", "/dev")


def run(*argv: str) -> None:
    subprocess.run(argv, check=True)


def expose_interpreter(home: Path) -> None:
    """Make ``home`` reachable for any user if an ancestor is closed to others (0700)."""
    for ancestor in [*reversed(home.parents), home]:
        if os.stat(ancestor).st_mode & 0o001:
            continue
        child = home.relative_to(ancestor).parts[0]
        staging = tempfile.mkdtemp(prefix="confine-")
        run("mount", "--bind", str(ancestor), staging)
        run("mount", "-t", "tmpfs", "-o", "mode=0755", "interpreter-view", str(ancestor))
        (ancestor / child).mkdir()
        run("mount", "--bind", str(Path(staging) / child), str(ancestor / child))
        run("umount", "--lazy", staging)
        os.rmdir(staging)
        return


def mounts() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point in points or any(point == k or point.startswith(k + "/") for k in KEEP):
            continue
        points.append(point)
    return points


def main(argv: list[str]) -> None:
    uid, gid, home, separator, *command = argv
    assert separator == "--" and command, "usage: confine.py UID GID INTERPRETER_HOME -- ARGV..."
    expose_interpreter(Path(home))
    for point in mounts():
        run("mount", "-o", "remount,bind,ro", point)
    run("mount", "-t", "tmpfs", "-o", "mode=1777,size=64m", "task-volume", "/tmp")
    os.execvp(
        "setpriv",
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *command,
        ],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
