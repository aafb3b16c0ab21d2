"""The deploy workflow's promotion check (``ops.promotion``), against moto's ECS and ECR.

The source stack's outputs and history are what ``pulumi stack output --json`` and ``pulumi
stack history --json`` print (keys as ``pulumi/automation/_stack.py`` ``history`` reads them;
``git.head``/``git.dirty`` as the CLI records them: ``pkg/backend/updates.go`` ``GitHead``);
its ECS service and ECR repository live in moto, as the source account would hold them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import ecs_backends

from ops import promotion
from ops.promotion import PromotionError, source_image

REGION = "us-east-1"
COMMIT = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
REPOSITORY_ARN = f"arn:aws:ecr:{REGION}:{DEFAULT_ACCOUNT_ID}:repository/app-repository-0a1b2c3"
URL = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/app-repository-0a1b2c3"
ROOT = Path(__file__).resolve().parent.parent


def update(result: str = "succeeded", head: str = COMMIT, version: int = 7, **env: str) -> dict:
    return {
        "kind": "update",
        "startTime": f"2026-12-07T10:{version:02d}:00.000Z",
        "message": "",
        "environment": {"git.head": head, "git.dirty": "false", **env},
        "config": {},
        "result": result,
        "endTime": f"2026-12-07T10:{version:02d}:30.000Z",
        "version": version,
    }


@dataclass
class SourceAccount:
    session: boto3.Session
    digest: str
    root: Path
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def image(self) -> str:
        return f"{URL}@{self.digest}"

    def outputs(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "image_repository_arn": REPOSITORY_ARN,
            "cluster_name": "app-cluster",
            "service_name": "web",
            "region": REGION,
        }

    def run(self, image: str) -> str:
        ecs = self.session.client("ecs")
        arn = ecs.register_task_definition(
            family="fastapi-fargate-dev",
            containerDefinitions=[{"name": "app", "image": image, "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
        services = ecs.describe_services(cluster="app-cluster", services=["web"])["services"]
        if services and services[0]["status"] == "ACTIVE":
            ecs.update_service(cluster="app-cluster", service="web", taskDefinition=arn)
            # Real ECS makes a new PRIMARY deployment of the new revision and, once it completes,
            # drops the old one; moto keeps the first deployment's revision: set it.
            backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].services["app-cluster:web"]
            backend.deployments[0]["taskDefinition"] = arn
        else:
            ecs.create_service(
                cluster="app-cluster", serviceName="web", taskDefinition=arn, desiredCount=0
            )
        return arn

    def check(self, **kwargs: Any) -> promotion.Promotion:
        return source_image(
            target="prod",
            outputs=kwargs.pop("outputs", self.outputs()),
            history=kwargs.pop("history", self.history),
            commit=kwargs.pop("commit", COMMIT),
            session=self.session,
            root=self.root,
            **kwargs,
        )


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SourceAccount]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    (tmp_path / "Pulumi.prod.yaml").write_text(
        "config:\n  fastapi-fargate:image:\n    promoteFrom: dev\n"
        f"    sourceRepository: {REPOSITORY_ARN}\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        ecr = session.client("ecr")
        ecr.create_repository(repositoryName="app-repository-0a1b2c3")
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {},
                "layers": [],
            }
        )
        pushed = ecr.put_image(
            repositoryName="app-repository-0a1b2c3", imageManifest=manifest, imageTag="a1b2"
        )
        digest = pushed["image"]["imageId"]["imageDigest"]
        session.client("ecs").create_cluster(clusterName="app-cluster")
        account = SourceAccount(
            session, digest, tmp_path, [update(version=6, head="0" * 40), update()]
        )
        account.run(account.image)
        yield account


def test_the_image_dev_runs_after_a_passed_deploy_of_this_commit_is_promoted(source):
    promoted = source.check()
    assert promoted.image == source.image
    assert promoted.digest == source.digest
    assert promoted.source_stack == "dev"
    assert "rollout check passed" in promoted.origin
    text = promotion.summary(promoted, "prod")
    assert source.digest in text and "stack `dev`" in text


@pytest.mark.parametrize(
    ("history", "refusal"),
    [
        ([], "never been deployed"),
        ([update(result="failed")], "failed: its rollout check did not pass"),
        ([update(result="in-progress")], "in-progress"),
        ([update(head="b" * 40)], f"is of commit {'b' * 40}, not {COMMIT}"),
        ([update(), update(version=8, head="b" * 40)], "not " + COMMIT),
        ([update(**{"git.dirty": "true"})], "uncommitted changes"),
        ([update(), {**update(version=8), "kind": "destroy"}], "was a destroy"),
    ],
)
def test_a_deploy_of_dev_that_is_not_a_passed_deploy_of_this_commit_is_refused(
    source, history, refusal
):
    with pytest.raises(PromotionError, match=refusal):
        source.check(history=history)


def test_a_refresh_after_the_deploy_does_not_hide_it(source):
    refresh = {**update(version=8, head="c" * 40), "kind": "refresh"}
    assert source.check(history=[update(), refresh]).digest == source.digest


def test_a_dev_service_rolled_back_since_its_deploy_is_refused(source):
    source.run(f"{URL}@sha256:{'d' * 64}")
    with pytest.raises(PromotionError, match="rolled back or changed since"):
        source.check()


def test_a_dev_service_in_the_middle_of_a_rollout_is_refused(source):
    service = ecs_backends[DEFAULT_ACCOUNT_ID][REGION].services["app-cluster:web"]
    service.deployments[0]["rolloutState"] = "IN_PROGRESS"
    with pytest.raises(PromotionError, match="rollout IN_PROGRESS"):
        source.check()
    service.deployments.append({**service.deployments[0], "status": "ACTIVE"})
    with pytest.raises(PromotionError, match="middle of a deployment"):
        source.check()


def test_a_repository_other_than_the_one_prod_pulls_from_is_refused(source):
    other = REPOSITORY_ARN.replace("app-repository-0a1b2c3", "other")
    with pytest.raises(PromotionError, match=r"image\.sourceRepository") as refused:
        source.check(outputs={**source.outputs(), "image_repository_arn": other})
    assert f"pulumi config set --path image.sourceRepository {other} --stack prod" in str(
        refused.value
    )


def test_an_image_output_from_another_repository_is_refused(source):
    with pytest.raises(PromotionError, match="not an image of"):
        source.check(outputs={**source.outputs(), "image": "public.ecr.aws/x/y:latest"})


def test_a_dev_deployed_before_promotion_existed_is_told_to_deploy_again(source):
    outputs = source.outputs()
    del outputs["image_repository_arn"]
    with pytest.raises(PromotionError, match="no output 'image_repository_arn'"):
        source.check(outputs=outputs)


def test_a_manual_digest_in_the_repository_is_promoted_without_the_deploy_checks(source):
    promoted = source.check(override=source.digest, history=[update(result="failed")], actor="ann")
    assert promoted.image == source.image
    assert promoted.origin.startswith("manual override by ann")
    assert "not consulted" in promoted.origin


def test_a_manual_digest_not_in_the_repository_is_refused(source):
    missing = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()
    with pytest.raises(PromotionError, match="is not in"):
        source.check(override=missing)
    with pytest.raises(PromotionError, match="64 lowercase hex"):
        source.check(override="latest")


def test_a_stack_that_builds_is_not_promoted(source):
    with pytest.raises(PromotionError, match="builds its own"):
        source_image(
            target="dev", outputs={}, history=[], commit=COMMIT, session=None, root=source.root
        )


def test_the_command_writes_the_image_and_its_source_for_the_next_job(
    source, tmp_path, monkeypatch
):
    outputs, history = tmp_path / "outputs.json", tmp_path / "history.json"
    outputs.write_text(json.dumps(source.outputs()))
    history.write_text(json.dumps(source.history))
    github_output, step_summary = tmp_path / "output", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    monkeypatch.setattr(promotion, "ROOT", source.root)
    monkeypatch.setattr(
        promotion, "promoted_from", lambda stack, root=source.root: (
            ("dev", REPOSITORY_ARN) if stack == "prod" else (None, None)
        ),
    )  # fmt: skip
    argv = ["source", "--target", "prod", "--outputs", str(outputs), "--history", str(history)]
    assert promotion.main([*argv, "--commit", COMMIT], session=source.session) == 0
    lines = github_output.read_text().splitlines()
    assert f"image={source.image}" in lines
    assert f"digest={source.digest}" in lines
    assert any(line.startswith("source=dev: what dev runs") for line in lines)
    assert source.digest in step_summary.read_text()

    assert promotion.main([*argv, "--commit", "e" * 40], session=source.session) == 1
    assert "Promotion refused" in step_summary.read_text()


@pytest.mark.parametrize(("stack", "line"), [("prod", "from=dev"), ("dev", "from=")])
def test_the_committed_stacks_say_who_promotes(stack, line, tmp_path, monkeypatch):
    github_output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    assert promotion.main(["target", stack]) == 0
    assert github_output.read_text().splitlines() == [line]
