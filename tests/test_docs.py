"""The docs cannot rot: every link resolves, and every offline command they show is run here.

Covers README.md, docs/*.md and the READMEs of app/, policy/ and bootstrap/. A command counts
as offline when it needs no AWS account, no Pulumi CLI and no Docker: the install-and-test
command and the offline plan (``python -m plan``). The install-and-test command must be what
``.ci/run`` does; every plan command is run here with the same arguments, so a command a reader
copies works; a command running part of the tests names test modules the full run collects.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    + [p for p in (ROOT / d / "README.md" for d in ("app", "policy", "bootstrap")) if p.exists()]
)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_PLAN = re.compile(r"(?:^|&&\s*|\s)(\.venv/bin/python -m plan\b[^\n#&|;]*)")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", page.read_text())
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        base = slug(heading)
        name, n = base, 1
        while name in found:  # GitHub numbers repeated headings: name, name-1, ...
            name, n = f"{base}-{n}", n + 1
        found.add(name)
    return found


def links(page: Path) -> list[str]:
    return _LINK.findall(_FENCE.sub("", page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_relative_link_and_anchor_resolves(page: Path):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {_name(path)}")
    assert not broken, f"{_name(page)} has broken links:\n" + "\n".join(broken)


def shell_blocks(page: Path) -> list[str]:
    return [body for lang, body in _FENCE.findall(page.read_text()) if lang in {"bash", "sh"}]


def plan_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in shell_blocks(page):
            for line in block.splitlines():
                for command in _PLAN.findall(line.split(" # ")[0]):
                    found.append((_name(page), command.strip()))
    return sorted(set(found))


def test_the_readme_starts_with_the_install_and_test_command_ci_runs():
    blocks = shell_blocks(ROOT / "README.md")
    assert blocks, "README.md shows no command"
    first = blocks[0].strip()
    assert first == (
        "python3 -m venv .venv && .venv/bin/pip install uv==0.13.9 "
        "&& .venv/bin/uv pip install -r requirements-dev.lock && .venv/bin/python -m pytest -n auto"
    )
    ci = (ROOT / ".ci" / "run").read_text()
    # The same steps, in a throw-away virtualenv.
    assert 'python3 -m venv "$venv"' in ci
    assert '"$venv/bin/pip" install --quiet uv==0.13.9' in ci
    assert 'VIRTUAL_ENV="$venv" "$venv/bin/uv" pip install --quiet -r requirements-dev.lock' in ci
    assert ci.rstrip().endswith('"$venv/bin/python" -m pytest -n auto')


def test_the_readmes_second_command_is_the_offline_plan():
    second = shell_blocks(ROOT / "README.md")[1].strip()
    assert second.startswith(".venv/bin/python -m plan ")


@pytest.mark.parametrize("page, command", plan_commands(), ids=lambda v: v)
def test_every_offline_plan_command_in_the_docs_runs(page: str, command: str):
    args = shlex.split(command)
    assert args[:3] == [".venv/bin/python", "-m", "plan"]
    result = subprocess.run(
        [sys.executable, *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{page}: `{command}` failed:\n{result.stdout}{result.stderr}"


_PYTEST = re.compile(r"(?:^|&&\s*|\s)\.venv/bin/python -m pytest\b([^\n#&|;]*)")


def pytest_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in shell_blocks(page):
            for line in block.splitlines():
                for args in _PYTEST.findall(line.split(" # ")[0]):
                    found.append((_name(page), args.strip()))
    return sorted(set(found))


_OPTIONS_WITH_A_VALUE = {"-n", "-k", "-m", "-p"}


def _paths(args: list[str]) -> list[str]:
    """The positional arguments of a pytest command line (``-n auto`` is an option's value)."""
    paths, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_A_VALUE:
            skip = True
        elif not arg.startswith("-"):
            paths.append(arg)
    return paths


def test_every_test_command_in_the_docs_names_tests_the_suite_runs():
    # A page may run part of the suite (`.venv/bin/python -m pytest tests/test_policies.py`):
    # every path it names must be a test module of tests/, which the full run collects.
    assert pytest_commands(), "no test command found: the pattern no longer matches the docs"
    wrong = [
        f"{page}: `{arg}`"
        for page, args in pytest_commands()
        for arg in _paths(shlex.split(args))
        if not (
            (ROOT / arg).is_file()
            and (ROOT / arg).parent == ROOT / "tests"
            and Path(arg).name.startswith("test_")
        )
    ]
    assert not wrong, "test commands naming what the suite does not run:\n" + "\n".join(wrong)
