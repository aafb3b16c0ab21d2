"""Promotion in the deploy workflow: which stack a stack takes its image from, and whether that
stack really ran it.

Creates no resource. ``.github/workflows/deploy.yml`` runs two commands:

* ``python -m ops.promotion target STACK``: the stack file's ``image.promoteFrom`` (no AWS, no
  Pulumi CLI), written as ``from=<source stack>`` to ``$GITHUB_OUTPUT`` (empty: the stack builds);
* ``python -m ops.promotion source --target STACK --outputs F --history F --commit SHA``: with
  the source stack's ``pulumi stack output --json`` and ``pulumi stack history --json``, and
  credentials of the source's account, the image to promote, or a clear refusal. The checks:

  1. the source's repository is the one the target pulls from (``image.sourceRepository``);
  2. its last update (``pulumi stack history``: ``result``, ``environment["git.head"]``, kinds
     and keys as ``pulumi/automation/_stack.py`` ``history`` reads them) is of this commit,
     from a clean checkout, and succeeded: the program's rollout check
     (``components/rollout_check.py``) fails the update when the rollout did not complete, so a
     succeeded update is a passed rollout check;
  3. the source's ECS service still runs that image now: one PRIMARY deployment, ``COMPLETED``,
     whose task definition's container is the exported image (a later rollback or a manual
     change would show here).

  ``--digest`` (the workflow's manual override) names the digest instead: checks 2 and 3 are
  skipped (rolling prod back to an older digest is its use), and the image must exist in the
  source repository (ECR ``DescribeImages``).

The image, digest and where it came from go to ``$GITHUB_OUTPUT``; a Markdown account of the
checks to ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ops.stack import ROOT

PROJECT = "fastapi-fargate"
CONTAINER_NAME = "app"  # components.task.CONTAINER_NAME (not imported: no Pulumi SDK needed here)
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
REPOSITORY_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"repository/(?P<name>\S+)$"
)


class PromotionError(Exception):
    """Why this image may not be promoted, and what to do; printed without a traceback."""


@dataclass(frozen=True)
class Promotion:
    source_stack: str
    repository_arn: str
    image: str
    """``<registry>/<repository>@sha256:...``: what the target's task definitions will run."""
    digest: str
    origin: str
    """Where the digest came from, one line for the job summary."""
    checks: tuple[str, ...]


def promoted_from(stack: str, root: Path = ROOT) -> tuple[str | None, str | None]:
    """``(image.promoteFrom, image.sourceRepository)`` of Pulumi.<stack>.yaml, or Nones."""
    path = root / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise PromotionError(f"{path.name}: no such stack file.") from None
    image = (document.get("config") or {}).get(f"{PROJECT}:image") or {}
    if not isinstance(image, Mapping):
        return None, None
    return image.get("promoteFrom") or None, image.get("sourceRepository") or None


def repository_url(repository_arn: str) -> str:
    match = REPOSITORY_ARN.match(repository_arn)
    if not match:
        raise PromotionError(f"{repository_arn} is not an ECR repository ARN.")
    suffix = "amazonaws.com.cn" if match["partition"] == "aws-cn" else "amazonaws.com"
    return f"{match['account']}.dkr.ecr.{match['region']}.{suffix}/{match['name']}"


def _require(outputs: Mapping[str, Any], key: str, source: str) -> str:
    value = outputs.get(key)
    if not isinstance(value, str) or not value:
        raise PromotionError(
            f"stack {source} has no output {key!r}: it was deployed by an older version of this "
            f"program. Deploy {source} from this commit first."
        )
    return value


def last_update(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest ``update`` or ``destroy`` (refreshes change no image)."""
    changes = [h for h in history if h.get("kind") in ("update", "destroy")]
    if not changes:
        return None
    return max(changes, key=lambda h: (h.get("version") or 0, h.get("startTime") or ""))


def check_history(history: Sequence[Mapping[str, Any]], commit: str, source: str) -> str:
    update = last_update(history)
    if update is None:
        raise PromotionError(f"stack {source} has never been deployed: nothing to promote.")
    environment = update.get("environment") or {}
    head = environment.get("git.head")
    version = update.get("version")
    if update.get("kind") != "update":
        raise PromotionError(f"stack {source}'s last operation (version {version}) was a destroy.")
    if head != commit:
        raise PromotionError(
            f"stack {source}'s last deploy (version {version}) is of commit {head or 'unknown'}, "
            f"not {commit}: deploy {source} from {commit} first (a push to main does), or "
            "promote the commit it runs."
        )
    if environment.get("git.dirty") == "true":
        raise PromotionError(
            f"stack {source}'s last deploy (version {version}) was made from a checkout with "
            "uncommitted changes: its image may not be the commit's. Deploy it from CI."
        )
    if update.get("result") != "succeeded":
        raise PromotionError(
            f"stack {source}'s last deploy of {commit} (version {version}) "
            f"{update.get('result') or 'has no result'}: its rollout check did not pass, so "
            "there is nothing tested to promote."
        )
    return f"{source}'s last deploy (version {version}) is of {commit[:12]} and succeeded"


def check_running(ecs: Any, cluster: str, service: str, image: str, source: str) -> str:
    """The source's service runs ``image`` now, its rollout complete."""
    found = ecs.describe_services(cluster=cluster, services=[service])
    services = found.get("services") or []
    if not services or services[0].get("status") != "ACTIVE":
        raise PromotionError(f"stack {source}'s ECS service {service} in {cluster} is not active.")
    deployments = services[0].get("deployments") or []
    primary = [d for d in deployments if d.get("status") == "PRIMARY"]
    if len(deployments) != 1 or len(primary) != 1:
        raise PromotionError(
            f"stack {source}'s service {service} is in the middle of a deployment "
            f"({len(deployments)} deployments): wait until it settles, then run this again."
        )
    (deployment,) = primary
    state = deployment.get("rolloutState")
    if state not in (None, "COMPLETED"):
        raise PromotionError(
            f"stack {source}'s service {service}: rollout {state} "
            f"({deployment.get('rolloutStateReason') or 'no reason given'})."
        )
    definition = ecs.describe_task_definition(taskDefinition=deployment["taskDefinition"])
    containers = definition["taskDefinition"].get("containerDefinitions") or []
    running = next((c.get("image") for c in containers if c.get("name") == CONTAINER_NAME), None)
    if running != image:
        raise PromotionError(
            f"stack {source}'s service {service} runs {running}, not {image} that its last "
            "deploy exported: it was rolled back or changed since. Redeploy it, then promote."
        )
    return f"{source}'s service {service} runs this image, rollout {state or 'steady'}"


def check_present(ecr: Any, repository_arn: str, digest: str) -> str:
    match = REPOSITORY_ARN.match(repository_arn)
    assert match
    try:
        ecr.describe_images(
            registryId=match["account"],
            repositoryName=match["name"],
            imageIds=[{"imageDigest": digest}],
        )
    except ecr.exceptions.ImageNotFoundException:
        raise PromotionError(f"{digest} is not in {repository_arn}: check the digest.") from None
    return f"{digest} is in {match['name']}"


def source_image(
    *,
    target: str,
    outputs: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    commit: str,
    session: Any,
    override: str = "",
    actor: str = "",
    root: Path = ROOT,
) -> Promotion:
    """The image ``target`` may promote from its source stack, every check passed."""
    source, configured = promoted_from(target, root)
    if source is None:
        raise PromotionError(
            f"stack {target} does not promote an image (no image.promoteFrom in "
            f"Pulumi.{target}.yaml): it builds its own."
        )
    repository_arn = _require(outputs, "image_repository_arn", source)
    if configured != repository_arn:
        raise PromotionError(
            f"Pulumi.{target}.yaml pulls from image.sourceRepository = {configured}, but stack "
            f"{source}'s repository is {repository_arn}. Fix: `pulumi config set --path "
            f"image.sourceRepository {repository_arn} --stack {target}` and deploy {source}'s "
            "image.pullRoleArns to match."
        )
    url = repository_url(repository_arn)
    region = REPOSITORY_ARN.match(repository_arn)["region"]  # type: ignore[index]
    if override:
        if not DIGEST.match(override):
            raise PromotionError(f"digest {override!r} is not sha256: and 64 lowercase hex digits.")
        ecr = session.client("ecr", region_name=region)
        checks = (check_present(ecr, repository_arn, override),)
        origin = (
            f"manual override{f' by {actor}' if actor else ''}; {source}'s deploy history and "
            "rollout not consulted"
        )
        return Promotion(source, repository_arn, f"{url}@{override}", override, origin, checks)
    image = _require(outputs, "image", source)
    repository, _, digest = image.partition("@")
    if repository != url or not DIGEST.match(digest):
        raise PromotionError(
            f"stack {source}'s image output {image} is not an image of {url} by digest: it "
            "deploys image.uri or promotes itself; promote from the stack that builds."
        )
    history_check = check_history(history, commit, source)
    ecs = session.client("ecs", region_name=_require(outputs, "region", source))
    running = check_running(
        ecs, _require(outputs, "cluster_name", source), _require(outputs, "service_name", source),
        image, source,
    )  # fmt: skip
    origin = f"what {source} runs: its deploy of {commit[:12]}, rollout check passed"
    return Promotion(source, repository_arn, image, digest, origin, (history_check, running))


def summary(promotion: Promotion, target: str) -> str:
    lines = [
        f"### Promotion to {target}",
        "",
        "| | |",
        "|---|---|",
        f"| image | `{promotion.image}` |",
        f"| digest | `{promotion.digest}` |",
        f"| from | stack `{promotion.source_stack}`: {promotion.origin} |",
        *[f"| checked | {c} |" for c in promotion.checks],
        "",
        f"Nothing is built for {target}: its task definitions run this digest.",
    ]
    return "\n".join(lines) + "\n"


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.promotion")
    commands = parser.add_subparsers(dest="command", required=True)
    target = commands.add_parser("target", help="the stack's image.promoteFrom, for the workflow")
    target.add_argument("stack")
    source = commands.add_parser("source", help="check and name the image to promote")
    source.add_argument("--target", required=True, help="the stack that promotes (prod)")
    source.add_argument("--outputs", type=Path, required=True, help="the source's stack outputs")
    source.add_argument("--history", type=Path, required=True, help="the source's stack history")
    source.add_argument("--commit", required=True, help="the commit being deployed")
    source.add_argument("--digest", default="", help="a manual override (sha256:...)")
    source.add_argument("--actor", default="", help="who asked for the override")
    options = parser.parse_args(argv)
    output, step_summary = os.environ.get("GITHUB_OUTPUT"), os.environ.get("GITHUB_STEP_SUMMARY")
    try:
        if options.command == "target":
            stack_from, _ = promoted_from(options.stack)
            print(
                f"stack {options.stack}: "
                + (f"promotes from {stack_from}" if stack_from else "builds")
            )
            _append(output, f"from={stack_from or ''}\n")
            return 0
        try:
            outputs = json.loads(options.outputs.read_text())
            history = json.loads(options.history.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PromotionError(
                f"cannot read the source stack's outputs or history: {exc}"
            ) from None
        if session is None:
            import boto3

            session = boto3.Session()
        promotion = source_image(
            target=options.target,
            outputs=outputs,
            history=history,
            commit=options.commit,
            session=session,
            override=options.digest.strip(),
            actor=options.actor,
        )
    except PromotionError as exc:
        print(f"promotion refused: {exc}", file=sys.stderr)
        _append(step_summary, f"### Promotion refused\n\n{exc}\n")
        return 1
    text = summary(promotion, options.target)
    print(text)
    _append(step_summary, text)
    _append(
        output,
        f"image={promotion.image}\ndigest={promotion.digest}\n"
        f"source={promotion.source_stack}: {promotion.origin}\n",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
