"""The project's install story: one virtualenv, made from lock files that match the ranges."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# requirement file -> the lock made from it (scripts/lock)
LOCKS = {
    "requirements.txt": "requirements.lock",
    "policy/requirements.txt": "requirements.lock",
    "bootstrap/requirements.txt": "requirements.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "app/requirements.txt": "app/requirements.lock",
}


def _requirements(path: Path) -> list[Requirement]:
    """Every requirement of a file, following ``-r`` includes like pip does."""
    found = []
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            found += _requirements(ROOT / line.removeprefix("-r ").strip())
        else:
            found.append(Requirement(line))
    return found


def _locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (pinned version, number of hashes) of a lock file."""
    pins = {}
    # One entry per requirement line; its hashes follow on continuation lines.
    for entry in re.split(r"\n(?=\S)", path.read_text()):
        match = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", entry)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], entry.count("--hash=sha256:"))
    return pins


@pytest.mark.parametrize("source, lock", LOCKS.items())
def test_every_requirement_is_locked_within_its_range_with_hashes(source: str, lock: str):
    pins = _locked(ROOT / lock)
    stale = []
    for requirement in _requirements(ROOT / source):
        name = canonicalize_name(requirement.name)
        if name not in pins:
            stale.append(f"{requirement} is not in {lock}")
            continue
        version, hashes = pins[name]
        if not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{lock} pins {name}=={version}, outside {requirement}")
        if hashes == 0:
            stale.append(f"{lock} pins {name} without a hash")
    assert not stale, "Run scripts/lock after changing requirements:\n" + "\n".join(stale)


def test_every_locked_package_has_a_hash():
    # pip's hash-checking mode refuses the whole file if one package lacks a hash.
    for lock in LOCKS.values():
        assert all(hashes for _, hashes in _locked(ROOT / lock).values()), lock


def test_the_program_the_policy_pack_and_the_bootstrap_share_one_virtualenv():
    venvs = {}
    for project_file in ("Pulumi.yaml", "policy/PulumiPolicy.yaml", "bootstrap/Pulumi.yaml"):
        path = ROOT / project_file
        options = yaml.safe_load(path.read_text())["runtime"]["options"]
        # The CLI joins a relative virtualenv to the project's own folder
        # (pulumi/pulumi sdk/python/toolchain/pip.go, resolveVirtualEnvironmentPath).
        venvs[project_file] = (path.parent / options["virtualenv"]).resolve()
        assert options["toolchain"] == "pip", project_file
    assert set(venvs.values()) == {ROOT / ".venv"}, venvs


def test_the_image_installs_the_app_lock_with_hashes_and_wheels_only():
    dockerfile = (ROOT / "app" / "Dockerfile").read_text()
    assert "COPY requirements.lock /tmp/requirements.lock" in dockerfile
    assert re.search(
        r"install --only-binary=:all: --require-hashes \\\s+-r /tmp/requirements.lock", dockerfile
    )


def test_ci_and_the_readme_install_from_the_developers_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'uv" pip install --quiet -r requirements-dev.lock' in ci
    assert "rm -rf" in ci and "trap" in ci
    assert "uv pip install -r requirements-dev.lock" in (ROOT / "README.md").read_text()


def test_the_developers_lock_holds_what_deploys_at_the_same_versions():
    deploy, dev = _locked(ROOT / "requirements.lock"), _locked(ROOT / "requirements-dev.lock")
    differing = {
        name: (version, dev.get(name, (None,))[0])
        for name, (version, _) in deploy.items()
        if dev.get(name, (None,))[0] != version
    }
    assert not differing, f"run scripts/lock: deploy vs developers' versions differ: {differing}"
    # What deploys carries no test tool.
    assert not {"pytest", "moto", "schemathesis", "ruff", "zizmor"} & deploy.keys()
