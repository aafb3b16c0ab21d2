"""The offline plan shows promotion: no build for a promoted stack, its source stack and digest,
the build's share of a deploy for a stack that builds, and the image-built-once guardrail at the
level each stack's policy config gives it (policy/config.<stack>.json, read as the CLI reads it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plan.cli import main
from plan.describe import describe_text
from plan.document import build_plan
from plan.engine_config import cli_edit, stack_config_from_document, stack_document
from plan.render import PROJECT, ROOT, stack_config
from plan.rollout import IMAGE_BUILD, estimate, format_text
from plan.stackfile import load_stack
from plan.summary import image_lines

UNPROMOTED = {"image.promoteFrom": None, "image.sourceRepository": None, "image.digest": None}


def stack_file(tmp_path: Path, name: str, base: str, **settings: Any) -> Path:
    """Pulumi.<base>.yaml as `pulumi config set --path` would leave it after ``settings``."""
    config = stack_config_from_document(stack_config(base), PROJECT)
    cli_edit(config, settings, PROJECT)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": stack_document(config)}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return build_plan(load_stack(ROOT, "prod"))


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return build_plan(load_stack(ROOT, "dev"))


def test_the_promoted_prod_plan_names_its_source_and_digest_and_builds_nothing(prod):
    text = "\n".join(image_lines(prod))
    digest = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"][f"{PROJECT}:image"][
        "digest"
    ]
    assert (
        f"Image: promoted from stack dev, app-repository-0a1b2c3@{digest}; nothing is built."
        in text.splitlines()
    )
    assert not [r for r in prod["resources"] if r["type"].startswith("docker")]
    (web,) = estimate(prod)
    assert web.build is not None and web.build.seconds == 0
    assert web.deploy_total == web.total


def test_the_dev_plan_shows_the_build_and_its_time_before_the_rollout(dev):
    text = "\n".join(image_lines(dev))
    assert (
        "Image: built from app/ by this stack, docker.Image app-image (image.buildReason: " in text
    )
    (web,) = estimate(dev)
    assert web.build is not None and web.build.seconds == IMAGE_BUILD
    assert web.deploy_total == web.total + IMAGE_BUILD
    assert "Image build before the rollout: 1 min 30 s" in format_text([web])
    assert web.as_dict()["image_build_seconds"] == IMAGE_BUILD


def test_promotion_takes_the_build_out_of_a_prod_deploy(prod, tmp_path):
    building = build_plan(
        load_stack(ROOT, None, stack_file(tmp_path, "prod", "prod", **UNPROMOTED))
    )
    (before,) = estimate(building)
    (after,) = estimate(prod)
    assert before.total == after.total  # the rollout itself is the same
    assert before.deploy_total - after.deploy_total == IMAGE_BUILD


def test_a_prod_stack_that_builds_without_a_reason_is_refused_by_the_plan(tmp_path, capsys):
    path = stack_file(tmp_path, "prod", "prod", **UNPROMOTED)
    code = main(["--stack-file", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "image-built-once" in out and "mandatory" in out


def test_the_same_stack_with_a_reason_passes(tmp_path, capsys):
    path = stack_file(tmp_path, "prod", "prod", **UNPROMOTED, **{"image.buildReason": "hotfix"})
    assert main(["--stack-file", str(path)]) == 0
    assert "image-built-once" not in capsys.readouterr().out


def test_the_summary_the_plan_prints_first_names_the_image(capsys):
    assert main(["prod"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Image: promoted from stack dev, ") for line in lines[:8])


def test_a_dev_stack_that_builds_without_a_reason_only_hears_advice(tmp_path, capsys):
    path = stack_file(tmp_path, "dev", "dev", **{"image.buildReason": None})
    assert main(["--stack-file", str(path)]) == 0
    out = capsys.readouterr().out
    assert "image-built-once" in out and "advisory" in out


def test_the_dev_plan_says_who_may_pull_its_repository(tmp_path):
    role = "arn:aws:iam::222222222222:role/fastapi-fargate-prod-execution"
    path = stack_file(tmp_path, "dev", "dev", **{"image.pullRoleArns": [role]})
    text = describe_text(build_plan(load_stack(ROOT, None, path)))
    assert (
        '"ecr:GetDownloadUrlForLayer"] to ["arn:aws:iam::222222222222:root"] when '
        'aws:PrincipalArn StringEquals ["arn:aws:iam::222222222222:role/fastapi-fargate-prod-execution"]'
    ) in text


def test_the_pull_request_comment_shows_the_build_too(dev):
    from plan.rollout import format_markdown

    assert "Image build before the rollout: 1 min 30 s" in format_markdown(estimate(dev))
