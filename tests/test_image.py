"""The app image: the same inputs from every checkout, a tag that moves only when the build does.

pulumi-docker (``provider/provider.go`` ``Check``/``Diff``, ``provider/image.go`` ``Update``)
rebuilds and pushes the image again whenever any ``build`` input differs from the state: an
absolute context path from another checkout would re-push the same tag into the repository's
immutable tags, and ECR refuses it. These tests copy the project to directories at other
paths, as a laptop and a CI runner would have it, and render each copy in its own directory,
as the CLI runs a program (``render(root=...)``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pulumi_harness import ROOT, render

IMAGE = "docker:index/image:Image"
_SKIP = shutil.ignore_patterns(
    ".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules"
)


def copy_project(destination: Path) -> Path:
    shutil.copytree(ROOT, destination, ignore=_SKIP, symlinks=True)
    return destination


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """One copy of the project that tests may change (each test restores what it changes)."""
    return copy_project(tmp_path_factory.mktemp("checkout") / "fastapi-fargate")


def image_name(project: Path) -> str:
    return render(root=project).one(IMAGE)["imageName"]


class TestTheSameCommitFromTwoCheckouts:
    def test_every_image_input_is_the_same_from_two_paths_on_two_machines(self, tmp_path):
        laptop = copy_project(tmp_path / "home/dev/src/fastapi-fargate")
        runner = copy_project(tmp_path / "runner/work/repo/repo")
        # Another machine: other modification times and another umask for new directories;
        # neither is part of what Docker builds, so neither may change an input.
        for path in runner.rglob("*"):
            os.utime(path, (1_000_000_000, 1_000_000_000), follow_symlinks=False)
        os.chmod(runner / "app" / "api", 0o700)

        with_laptop = render(root=laptop).one(IMAGE).inputs
        with_runner = render(root=runner).one(IMAGE).inputs

        assert with_laptop == with_runner
        assert with_laptop["build"] == {
            "context": "app",
            "dockerfile": "app/Dockerfile",
            "platform": "linux/amd64",
        }
        for text in strings_in(with_laptop):
            assert not text.startswith("/"), f"absolute path in the image's inputs: {text}"
            assert str(tmp_path) not in text and str(ROOT) not in text

    def test_the_tag_is_the_same_as_in_the_main_checkout(self, project):
        assert image_name(project) == render().one(IMAGE)["imageName"]


class TestTheTagMovesExactlyWhenTheProviderWouldRebuild:
    def test_a_file_mode_change_changes_the_tag(self, project):
        script = project / "app" / "alembic.ini"
        before = image_name(project)
        mode = script.stat().st_mode
        try:
            script.chmod(0o755)
            after = image_name(project)
        finally:
            script.chmod(mode)
        assert after != before
        assert image_name(project) == before

    def test_a_change_to_a_dockerignored_file_keeps_the_tag(self, project):
        before = image_name(project)
        readme = project / "app" / "README.md"
        original = readme.read_bytes()
        cache = project / "app" / "api" / "__pycache__"
        try:
            readme.write_text("Edited, and never part of the image.\n")
            cache.mkdir()
            (cache / "main.cpython-311.pyc").write_bytes(b"\0compiled")
            (project / "app" / "tests").mkdir()
            (project / "app" / "tests" / "test_new.py").write_text("def test(): pass\n")
            after = image_name(project)
        finally:
            readme.write_bytes(original)
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(project / "app" / "tests", ignore_errors=True)
        assert after == before

    def test_a_file_under_api_tests_is_built_so_it_changes_the_tag(self, project):
        """`tests` in .dockerignore is anchored at the context root: app/tests is left out,
        app/api/tests is sent to Docker (as Docker's matcher decides), so it counts."""
        before = image_name(project)
        nested = project / "app" / "api" / "tests"
        try:
            nested.mkdir()
            (nested / "fixture.json").write_text("{}\n")
            after = image_name(project)
        finally:
            shutil.rmtree(nested)
        assert after != before

    def test_another_platform_is_another_tag(self, project):
        arm = render({"image.platform": "linux/arm64"}, root=project).one(IMAGE)
        assert arm["imageName"] != image_name(project)
        assert arm["build"]["platform"] == "linux/arm64"

    def test_a_broken_dockerignore_stops_the_program_with_a_clear_error(self, project):
        ignore = project / "app" / ".dockerignore"
        original = ignore.read_bytes()
        try:
            ignore.write_bytes(original + b"[\n")
            with pytest.raises(Exception, match=r"app/\.dockerignore") as raised:
                image_name(project)
        finally:
            ignore.write_bytes(original)
        assert "syntax error in pattern" in str(raised.value)


# The data source the program used to read an ECR login token with before each push.
ECR_TOKEN_LOOKUP = "aws:ecr/getAuthorizationToken:getAuthorizationToken"


class TestNoRegistryCredentialReachesTheState:
    """pulumi-docker keeps every input of a docker.Image in the state (provider/provider.go
    Create/Update, checkpointObject) and dev's preview role decrypts that state, so the image
    must push with the Docker config's login (components/image.py PUSH_CREDENTIALS), never with
    a credential among its inputs."""

    def test_the_image_names_its_registry_server_and_no_credential(self):
        """The server stays, the same as before: provider/provider.go diffUpdates ignores a
        change of registry.username/password but not of the rest of `registry`, so an existing
        stack's first deploy without the credentials rebuilds and re-pushes nothing."""
        rendered = render()
        image = rendered.one(IMAGE)
        repository = rendered.one("aws:ecr/repository:Repository")
        assert image["registry"] == {"server": rendered.outputs_of(repository)["repositoryUrl"]}
        assert image.secret_inputs == set()
        for text in strings_in(image.inputs):
            assert "password" not in text.lower() and "token" not in text.lower(), text

    def test_no_ecr_login_token_is_read_by_the_program(self):
        rendered = render()
        assert rendered.all(IMAGE), "dev builds an image: the check below would prove nothing"
        assert [token for token, _ in rendered.invokes if token == ECR_TOKEN_LOOKUP] == []
