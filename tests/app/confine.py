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
And a second: the task's /tmp volume starts empty, but here the checkout or the virtualenv may
live under /tmp (``.ci/run`` makes its virtualenv with ``mktemp -d``). Those two trees are
carried into the fresh /tmp, read-only, as the image carries ``/app`` and ``/opt/venv``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

KEEP = ("/proc", "/sys", "/dev")
TMP = Path("/tmp")
# What the image holds outside /tmp: this checkout (app/ and these tools) and the virtualenv
# this script runs in.
IMAGE_TREES = (Path(__file__).resolve().parents[2], Path(sys.prefix).resolve())


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


def task_volume_on_tmp() -> None:
    """A fresh tmpfs on /tmp, with the image's trees that lived under it bound back read-only.

    The old /tmp is reached through a file descriptor opened before the tmpfs hides it
    (``mount --bind /proc/self/fd/N``), since no path names it afterwards; ``--no-canonicalize``
    because mount would otherwise resolve the descriptor to its path, now the empty tmpfs.
    """
    carried = [tree for tree in IMAGE_TREES if TMP in tree.parents]
    held = {tree: os.open(tree, os.O_PATH | os.O_DIRECTORY) for tree in carried}
    run("mount", "-t", "tmpfs", "-o", "mode=1777,size=64m", "task-volume", str(TMP))
    for tree, fd in held.items():
        tree.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "--no-canonicalize", "--bind", f"/proc/self/fd/{fd}", str(tree)],
            check=True,
            pass_fds=(fd,),
        )
        run("mount", "-o", "remount,bind,ro", str(tree))
        os.close(fd)


def main(argv: list[str]) -> None:
    uid, gid, home, separator, *command = argv
    assert separator == "--" and command, "usage: confine.py UID GID INTERPRETER_HOME -- ARGV..."
    expose_interpreter(Path(home))
    for point in mounts():
        run("mount", "-o", "remount,bind,ro", point)
    task_volume_on_tmp()
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
