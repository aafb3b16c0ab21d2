"""The plan of the program as it is at another git revision (``--base origin/main``).

The revision is checked out into a temporary ``git worktree`` and planned by a subprocess of
the same interpreter, so its ``components`` never mix with the ones already imported here.
That subprocess runs *this* plan tool (copied next to the worktree) against the worktree's
program and stack files: the revision may predate the tool or hold an older one, and two plans
compare only when the same tool made them. The worktree is removed afterwards, whatever
happened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from plan.document import Plan, check_plan
from plan.errors import PlanError

TOOL = Path(__file__).resolve().parent
# Generous: the plan itself takes a few seconds; a cold interpreter and imports add some.
TIMEOUT_SECONDS = 300


def plan_at_revision(root: Path, ref: str, stack: str, stack_file: Path | None = None) -> Plan:
    """Plan ``stack`` with the program of ``ref``; ``PlanError`` if git or the plan fails.

    The stack file is the revision's own ``Pulumi.<stack>.yaml``, unless ``stack_file`` is
    given: one inside ``root`` is taken from the revision too, one outside it as it is.
    """
    with tempfile.TemporaryDirectory(prefix="plan-base-") as scratch:
        worktree = Path(scratch) / "tree"
        _git(root, "worktree", "add", "--detach", str(worktree), ref, what=f"--base {ref}")
        try:
            tool = Path(scratch) / "tool"
            shutil.copytree(TOOL, tool / "plan", ignore=shutil.ignore_patterns("__pycache__"))
            # The guardrails judge the change, not its base: --no-policy.
            command = [sys.executable, "-P", "-m", "plan", stack, "--json", "--no-policy"]
            command += ["--root", str(worktree)]
            if stack_file is not None:
                command += ["--stack-file", str(_in_worktree(stack_file, root, worktree))]
            # -P: not the current directory first; the copied tool first, then the program.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tool), str(worktree)])}
            result = subprocess.run(
                command,
                cwd=worktree,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        finally:
            _git(root, "worktree", "remove", "--force", str(worktree), what="cleanup")
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise PlanError(f"--base {ref}: the plan of that revision failed:\n{detail}")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise PlanError(f"--base {ref}: the plan of that revision printed no JSON") from None
    return check_plan(document, f"--base {ref}")


def _in_worktree(stack_file: Path, root: Path, worktree: Path) -> Path:
    resolved = stack_file.resolve()
    if resolved.is_relative_to(root.resolve()):
        return worktree / resolved.relative_to(root.resolve())
    return resolved


def _git(root: Path, *args: str, what: str) -> None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise PlanError(f"{what}: git is not installed") from None
    if result.returncode != 0:
        raise PlanError(f"{what}: git {' '.join(args[:2])} failed: {result.stderr.strip()}")
