"""The app's container image: an ECR repository and the image of ``app/`` built and pushed to it.

Creates an ECR repository (scan on push, immutable tags, a lifecycle policy that keeps the last
N images, ``force_delete`` only outside production) and a ``docker.Image`` built for the
configured platform. The tag is a hash of the build context, so tags stay immutable and an
unchanged ``app/`` builds nothing new; the task definition refers to the pushed image by digest,
so a new build is a new revision and an unchanged one changes nothing.

With ``image.uri`` set, nothing is built or created: a CI pipeline that builds its own image
deploys it as given.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.settings import ImageSettings

APP_DIR = Path(__file__).resolve().parent.parent / "app"


def context_hash(context: Path = APP_DIR) -> str:
    """A hash of every file the build sends, so the tag changes exactly when the image may."""
    ignored = _dockerignore(context)
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context)
        if any(relative.match(pattern) or pattern in relative.parts for pattern in ignored):
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def image_tag(platform: str) -> str:
    """The build's tag: the same files built for another platform are another image, and
    the repository's immutable tags would refuse it under the old tag."""
    return hashlib.sha256(f"{context_hash()}|{platform}".encode()).hexdigest()[:16]


def _dockerignore(context: Path) -> list[str]:
    ignore_file = context / ".dockerignore"
    if not ignore_file.exists():
        return []
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line.rstrip("/").removeprefix("**/") for line in lines if line and line[0] != "#"]


@dataclass
class AppImageArgs:
    settings: ImageSettings
    production: bool


class AppImage(pulumi.ComponentResource):
    """The image the service and the migration run: built from app/ or given as a URI."""

    image_ref: pulumi.Output[str]
    """The image by digest (repository@sha256:...), or image.uri as configured."""
    repository_url: pulumi.Output[str] | None

    def __init__(self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:image:AppImage", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        if settings.uri is not None:
            self.repository_url = None
            self.image_ref = pulumi.Output.from_input(settings.uri)
            self.register_outputs({"image_ref": self.image_ref})
            return

        repository = aws.ecr.Repository(
            f"{name}-repository",
            aws.ecr.RepositoryArgs(
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                # A production repository must never take its images with it on destroy.
                force_delete=not args.production,
            ),
            child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            aws.ecr.LifecyclePolicyArgs(
                repository=repository.name,
                policy=json.dumps(
                    {
                        "rules": [
                            {
                                "rulePriority": 1,
                                "description": f"Keep the last {settings.keep_last} images",
                                "selection": {
                                    "tagStatus": "any",
                                    "countType": "imageCountMoreThan",
                                    "countNumber": settings.keep_last,
                                },
                                "action": {"type": "expire"},
                            }
                        ]
                    }
                ),
            ),
            child,
        )
        tag = image_tag(settings.platform)
        credentials = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        image = docker.Image(
            f"{name}-image",
            docker.ImageArgs(
                image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
                build=docker.DockerBuildArgs(
                    context=str(APP_DIR),
                    dockerfile=str(APP_DIR / "Dockerfile"),
                    platform=settings.platform,
                ),
                # A preview must not need a Docker engine or push anything.
                build_on_preview=False,
                registry=docker.RegistryArgs(
                    server=repository.repository_url,
                    username=credentials.user_name,
                    password=pulumi.Output.secret(credentials.password),
                ),
            ),
            child,
        )
        self.repository_url = repository.repository_url
        self.image_ref = image.repo_digest
        self.register_outputs({"image_ref": self.image_ref, "repository_url": self.repository_url})
