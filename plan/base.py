"""The plan of the program as it is at another git revision (``--base origin/main``).

The revision is checked out into a temporary ``git worktree`` and planned by a subprocess of
the same interpreter, so its ``components`` never mix with the ones already imported here.
That subprocess runs *this* plan tool (copied next to the worktree) against the worktree's
program and stack files: the revision may predate the tool or hold an older one, and two plans
compare only when the same tool made them. It runs while the caller renders its own stack
(``BasePlan``), so a diff against a revision takes little longer than one plan on a machine with
two cores. The worktree is removed afterwards, whatever happened.
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


class BasePlan:
    """The plan of ``stack`` with the program of ``ref``, made by a subprocess that runs while
    this one works; ``PlanError`` if git or that plan fails.

    The stack file is the revision's own ``Pulumi.<stack>.yaml``, unless ``stack_file`` is
    given: one inside ``root`` is taken from the revision too, one outside it as it is.

    ``with BasePlan(...) as pending:`` checks the revision out and starts its plan; the caller
    renders its own stack meanwhile (the machine's second core does the other), then
    ``pending.result()`` waits for it. Leaving the block removes the worktree, and stops the
    subprocess if its plan was never collected.
    """

    def __init__(self, root: Path, ref: str, stack: str, stack_file: Path | None = None) -> None:
        self.root, self.ref, self.stack, self.stack_file = root, ref, stack, stack_file
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._worktree: Path | None = None
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> BasePlan:
        self._scratch = tempfile.TemporaryDirectory(prefix="plan-base-")
        scratch = Path(self._scratch.name)
        worktree = scratch / "tree"
        try:
            git(
                self.root,
                "worktree",
                "add",
                "--detach",
                str(worktree),
                self.ref,
                what=f"--base {self.ref}",
            )
        except BaseException:
            self._scratch.cleanup()
            raise
        self._worktree = worktree
        try:
            tool = scratch / "tool"
            # With its bytecode caches: copytree keeps the files' times, which is what Python
            # checks a cache against, so the subprocess does not compile the tool again.
            shutil.copytree(TOOL, tool / "plan")
            # The guardrails and AWS's request rules judge the change, not its base.
            command = [sys.executable, "-P", "-m", "plan", self.stack, "--json", "--as-base"]
            command += ["--root", str(worktree)]
            if self.stack_file is not None:
                command += ["--stack-file", str(_in_worktree(self.stack_file, self.root, worktree))]
            # -P: not the current directory first; the copied tool first, then the program.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tool), str(worktree)])}
            self._process = subprocess.Popen(
                command,
                cwd=worktree,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def result(self) -> Plan:
        """The revision's plan; ``PlanError`` if its plan failed or printed no plan."""
        assert self._process is not None, "use BasePlan in a with block"
        try:
            stdout, stderr = self._process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            raise PlanError(
                f"--base {self.ref}: the plan of that revision took over {TIMEOUT_SECONDS} s"
            ) from None
        if self._process.returncode != 0:
            detail = (stderr or stdout).strip()
            raise PlanError(f"--base {self.ref}: the plan of that revision failed:\n{detail}")
        try:
            document = json.loads(stdout)
        except ValueError:
            raise PlanError(
                f"--base {self.ref}: the plan of that revision printed no JSON"
            ) from None
        return check_plan(document, f"--base {self.ref}")

    def __exit__(self, *_: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.communicate()
        try:
            if self._worktree is not None:
                git(self.root, "worktree", "remove", "--force", str(self._worktree), what="cleanup")
        finally:
            if self._scratch is not None:
                self._scratch.cleanup()


def _in_worktree(stack_file: Path, root: Path, worktree: Path) -> Path:
    resolved = stack_file.resolve()
    if resolved.is_relative_to(root.resolve()):
        return worktree / resolved.relative_to(root.resolve())
    return resolved


def git(root: Path, *args: str, what: str) -> None:
    """Run git in ``root``; a failure is a PlanError naming ``what`` and git's own words."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise PlanError(f"{what}: git is not installed") from None
    if result.returncode != 0:
        raise PlanError(f"{what}: git {' '.join(args[:2])} failed: {result.stderr.strip()}")
