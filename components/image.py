"""The app's container image: an ECR repository and the image of ``app/`` built and pushed to it.

Creates an ECR repository (scan on push, immutable tags, a lifecycle policy that keeps the last
N images, ``force_delete`` only outside production) and a ``docker.Image`` built for the
configured platform. The task definition refers to the pushed image by digest, so a new build
is a new revision and an unchanged one changes nothing.

Every input of the ``docker.Image`` is the same from any checkout and machine, so a deploy
from a laptop and then from CI builds nothing new when ``app/`` has not changed:

* the build context and Dockerfile are paths relative to the project directory, where the
  CLI runs the program and the docker provider (see ``BUILD_CONTEXT``); an absolute path
  would differ between checkouts and make the provider rebuild and re-push;
* the tag is the provider's own ``build.contextDigest`` (``components.docker_context``) with
  the platform, so it changes exactly when the provider would rebuild: never the same tag
  for another build (the repository's immutable tags would refuse the push), never a new
  tag for the same build.

The push logs in to ECR with the Docker config of the machine that runs ``pulumi up`` (``aws
ecr get-login-password | docker login --username AWS --password-stdin <registry>`` before it):
no registry credential is an input of the ``docker.Image``, so none is in the stack's state,
which dev's pull-request preview role can decrypt (see ``PUSH_CREDENTIALS``).

With ``image.uri`` set, nothing is built or created: a CI pipeline that builds its own image
deploys it as given.

Promotion (``image.promoteFrom``): a stack deploys the image another stack built and ran, by
its digest in that stack's repository (``image.sourceRepository``, ``image.digest``): nothing is
built and no repository is created; ``components.task`` lets the execution role pull that one
repository. The source stack's side is ``image.pullRoleArns``: a repository policy that lets
exactly those roles (the promoted stacks' execution roles, in their own accounts) pull its
images, and nothing else. The build happens once, in the first stage; every later stage runs
the bytes the first one tested.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.docker_context import ContextError, context_digest
from components.settings import ImageSettings

# Relative to the project directory. The CLI runs the program there and starts the docker
# provider there too (pulumi/pulumi pkg/engine/project.go getPwdMain: pwd is the directory of
# Pulumi.yaml; sdk/python/cmd/pulumi-language-python-exec: os.chdir(args.pwd);
# sdk/go/common/resource/plugin/plugin.go ExecPlugin: cmd.Dir = pwd), and pulumi-docker's
# Check opens both paths and hashes the context relative to its working directory
# (provider/provider.go Check, hashContext).
BUILD_CONTEXT = "app"
DOCKERFILE = "app/Dockerfile"

# PUSH_CREDENTIALS: the push logs in to ECR with the Docker config of the machine that runs
# `pulumi up` (`aws ecr get-login-password | docker login --username AWS --password-stdin
# <registry>` first: README, docs/first-deploy.md, .github/workflows/deploy.yml), never with a
# password among the image's inputs. pulumi-docker keeps every input of a docker.Image in its
# state (provider/provider.go Create/Update: checkpointObject writes them under `__inputs`,
# encrypted as a secret but decryptable by whoever reads the state, such as dev's preview role);
# an ECR token there would let its reader push to every repository of the account for 12 hours.
#
# Why a server without username and password still pushes (pulumi/pulumi-docker at tag v5.1.0
# and at master 237b7899, the newest snapshot, whose provider/*.go differ from v5.1.0 only by
# one import path in provider.go and serve.go; the installed pulumi_docker is 5.2.0, a tag the
# snapshot lacks):
# * provider/image.go dockerBuild: `getDefaultDockerConfig()` loads the CLI's config
#   (`config.Load(config.Dir())`: $DOCKER_CONFIG or ~/.docker/config.json, with its credsStore or
#   the platform's default helper from `credentials.DetectDefaultStore`); when pushing it calls
#   `getRegistryAuth(img, cfg)` and sends that AuthConfig with `docker.ImagePush`
#   (`imgtypes.PushOptions{RegistryAuth: ...}`).
# * provider/image.go getRegistryAuth: only when both `Registry.Username` and
#   `Registry.Password` are set are they used; otherwise (our case) it returns
#   `cfg.GetAuthConfig(registryServer)`, what `docker login` stored for that host (docker/cli
#   cli/config/configfile/file.go GetAuthConfig: the host's credHelpers entry, the credsStore,
#   or the file's `auths`). A username without a password, or the reverse, falls back the same
#   way with a warning.
# * provider/image.go getRegistryAddrForAuth: the host is `credentials.ConvertToHostname(server)`
#   (the repository URL without its path: `<account>.dkr.ecr.<region>.amazonaws.com`, the host
#   `docker login` was given); with no `registry` at all (marshalRegistry leaves Server empty) it
#   is the image name's domain (getRegistryAddrFromImage, `reference.Domain`): the same host.
# The server is kept anyway: provider/provider.go Diff/diffUpdates ignores changes to
# `registry.username`/`registry.password` but not to the rest of `registry`, so dropping those
# two leaves the diff empty and an existing stack rebuilds and pushes nothing, while removing
# `registry` (a deleted input) would rebuild and push the same tag again into a repository of
# immutable tags.


def image_tag(platform: str, project_dir: Path | None = None) -> str:
    """The build's tag: the provider's context digest with the platform.

    The same files built for another platform are another image, and the repository's
    immutable tags would refuse it under the old tag. ``project_dir`` defaults to the working
    directory, which is the project directory under the CLI.
    """
    project_dir = Path.cwd() if project_dir is None else project_dir
    if not (project_dir / DOCKERFILE).is_file():
        raise pulumi.RunError(
            f"image: {DOCKERFILE} not found in {project_dir}. Run pulumi in the project "
            "directory (where Pulumi.yaml is), or set image.uri to deploy a prebuilt image."
        )
    try:
        digest = context_digest(BUILD_CONTEXT, DOCKERFILE, project_dir)
    except ContextError as exc:
        raise pulumi.RunError(
            f"image: the build context {BUILD_CONTEXT}/ cannot be read as Docker would: {exc}. "
            f"Fix {BUILD_CONTEXT}/.dockerignore or the file it names."
        ) from None
    return hashlib.sha256(f"{digest}|{platform}".encode()).hexdigest()[:16]


# What pulling an image from ECR takes, besides ecr:GetAuthorizationToken (an account-level
# call with no resource: the execution role gets it in its own account). AWS ECR user guide,
# "Private repository policy examples": allow another account to pull.
PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def pull_policy(role_arns: list[str]) -> str:
    """A repository policy letting exactly these roles pull its images.

    The principal is each role's account, narrowed by ``aws:PrincipalArn`` to the role: IAM
    turns a role named as a principal into its unique id when the policy is saved (IAM User
    Guide, "AWS JSON policy elements: Principal", IAM role principals), so a role replaced
    later, or created after this policy, would not match it; and ECR refuses a policy naming a
    role that does not exist yet. The condition matches the role by its ARN, whenever it is
    created.
    """
    # (partition, account) of each role: the principal is that account's root.
    accounts = sorted({(arn.split(":")[1], arn.split(":")[4]) for arn in role_arns})
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PromotedStacksPull",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{p}:iam::{a}:root" for p, a in accounts]},
                    "Action": PULL_ACTIONS,
                    "Condition": {"StringEquals": {"aws:PrincipalArn": sorted(role_arns)}},
                }
            ],
        }
    )


@dataclass
class AppImageArgs:
    settings: ImageSettings
    production: bool


class AppImage(pulumi.ComponentResource):
    """The image the service and the migration run: built from app/ or given as a URI."""

    image_ref: pulumi.Output[str]
    """The image by digest (repository@sha256:...), or image.uri as configured."""
    repository_url: pulumi.Output[str] | None
    repository_arn: pulumi.Output[str] | None
    """The repository this stack builds into; None when it builds nothing."""

    def __init__(self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:image:AppImage", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)

        if settings.uri is not None or settings.promoted:
            self.repository_url = None
            self.repository_arn = None
            image = settings.uri if settings.uri is not None else settings.promoted_image
            assert image is not None  # the settings' rules require digest and repository
            self.image_ref = pulumi.Output.from_input(image)
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
        if settings.pull_role_arns:
            aws.ecr.RepositoryPolicy(
                f"{name}-promotion-pull",
                aws.ecr.RepositoryPolicyArgs(
                    repository=repository.name, policy=pull_policy(list(settings.pull_role_arns))
                ),
                child,
            )
        tag = image_tag(settings.platform)
        image = docker.Image(
            f"{name}-image",
            docker.ImageArgs(
                image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
                build=docker.DockerBuildArgs(
                    context=BUILD_CONTEXT,
                    dockerfile=DOCKERFILE,
                    platform=settings.platform,
                ),
                # A preview must not need a Docker engine or push anything.
                build_on_preview=False,
                # The server only: the push authenticates with the Docker config of whoever
                # runs `pulumi up` (see PUSH_CREDENTIALS), so no registry credential is an input,
                # and none reaches the state.
                registry=docker.RegistryArgs(server=repository.repository_url),
            ),
            child,
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.image_ref = image.repo_digest
        self.register_outputs(
            {
                "image_ref": self.image_ref,
                "repository_url": self.repository_url,
                "repository_arn": self.repository_arn,
            }
        )
