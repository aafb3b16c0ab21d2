"""What runs: ``image``, ``service`` (task size, workers, environment, rollout) and
``scaling`` settings groups.

No resource is created here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from components.settings.base import _Group
from components.settings.facts import (
    _ECR_REPOSITORY_ARN,
    _ENV_NAME,
    _IMAGE_DIGEST,
    _POLICY_ARN,
    _ROLE_ARN,
    _SECRET_ARN,
    FARGATE_SIZES,
    LOG_RETENTION_DAYS,
)

# The policy pack's IAM judgement, one for both (pure Python: no pulumi_policy needed).
from policy.guardrails import iam_grants


class ImageSettings(_Group):
    uri: str | None = Field(
        None,
        description="Deploy this prebuilt image (registry/repo@sha256:... or :tag) instead of "
        "building app/ with Docker.",
    )
    platform: Literal["linux/amd64", "linux/arm64"] = Field(
        "linux/amd64",
        description="CPU architecture of the image and tasks; linux/arm64 (Graviton) costs about 20% less.",
    )
    keep_last: int = Field(
        10,
        ge=1,
        le=1000,
        description="How many images the ECR repository keeps; older ones expire.",
    )
    promote_from: str | None = Field(
        None,
        description="Deploy the image another stack built and ran (its name, like dev) by "
        "digest, instead of building: needs image.sourceRepository and image.digest.",
    )
    source_repository: str | None = Field(
        None,
        description="With image.promoteFrom: ARN of that stack's ECR repository (its "
        "image_repository_arn output); the execution role may pull from it and nothing else.",
    )
    digest: str | None = Field(
        None,
        description="With image.promoteFrom: the image's digest (sha256:...) in that repository; "
        "the deploy workflow sets the one the source stack runs.",
    )
    pull_role_arns: list[str] = Field(
        default_factory=list,
        description="Execution roles of stacks that promote this stack's image (their "
        "execution_role_arn output): the repository policy lets exactly these pull.",
    )
    build_reason: str | None = Field(
        None,
        description="Why this stack builds its own image; a production stack that builds "
        "without one breaks the image-built-once guardrail.",
    )

    @field_validator("source_repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not _ECR_REPOSITORY_ARN.match(value):
            raise ValueError(
                "is not an ECR repository ARN (arn:aws:ecr:REGION:ACCOUNT:repository/NAME, "
                "the source stack's image_repository_arn output)"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE_DIGEST.match(value):
            raise ValueError("is not an image digest (sha256: and 64 lowercase hex digits)")
        return value

    @field_validator("pull_role_arns")
    @classmethod
    def _pull_roles(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not _ROLE_ARN.match(a)]
        if bad:
            raise ValueError(
                f"{bad} are not IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME, no wildcards)"
            )
        return arns

    @property
    def promoted(self) -> bool:
        """Whether this stack deploys another stack's image instead of building one."""
        return self.promote_from is not None

    @property
    def builds(self) -> bool:
        """Whether this stack builds app/ with Docker (neither image.uri nor promotion)."""
        return self.uri is None and not self.promoted

    @property
    def promoted_image(self) -> str | None:
        """``<registry>/<repository>@sha256:...`` of the promoted image, as ECS pulls it."""
        if not self.promoted or self.source_repository is None or self.digest is None:
            return None
        match = _ECR_REPOSITORY_ARN.match(self.source_repository)
        assert match
        partition, _, region, account = self.source_repository.split(":")[1:5]
        suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        return f"{account}.dkr.ecr.{region}.{suffix}/{match['name']}@{self.digest}"


class ServiceSettings(_Group):
    container_port: int = Field(8000, ge=1024, le=65535, description="Port the app listens on.")
    health_check_path: str = Field(
        "/healthz",
        description="Liveness path the load balancer and the container health check call.",
    )
    cpu: int = Field(256, description="Task CPU units (1024 = 1 vCPU); a valid Fargate size.")
    memory: int = Field(512, description="Task memory in MiB; must pair with cpu on Fargate.")
    desired_count: int = Field(
        2, ge=0, le=1000, description="Tasks to run; 2+ spreads them over availability zones."
    )
    workers: int = Field(
        0, ge=0, le=64,
        description="Server worker processes per task (WEB_CONCURRENCY); 0: one per vCPU, at least 1.",
    )  # fmt: skip
    memory_per_worker: int = Field(
        256, ge=32, le=65536,
        description="MiB each worker may use; workers x this + 64 MiB must fit in memory.",
    )  # fmt: skip
    health_check_grace_period: int = Field(
        60, ge=0, le=1800,
        description="Seconds ECS ignores load balancer health checks after a task starts.",
    )  # fmt: skip
    stop_timeout: int = Field(
        30, ge=15, le=120,
        description="Seconds between SIGTERM and SIGKILL; the app gets this minus 10 to shut down.",
    )  # fmt: skip
    log_retention_days: int = Field(30, description="Days CloudWatch keeps the app's logs.")
    container_insights: bool = Field(
        False, description="Turn on CloudWatch Container Insights for the cluster (extra cost)."
    )
    fargate_spot_percent: int = Field(
        0, ge=0, le=100,
        description="Share of tasks on FARGATE_SPOT (about 70% cheaper, can be interrupted).",
    )  # fmt: skip
    environment: list[str] = Field(
        default_factory=list,
        description="Plain environment variables, each NAME=value (no secrets).",
    )
    secrets: list[str] = Field(
        default_factory=list,
        description="Secret variables, each NAME=ARN of a Secrets Manager secret or SSM parameter.",
    )
    app_secrets: list[str] = Field(
        default_factory=list,
        description="Names of the app's own secrets (API keys and the like), besides API_TOKEN, "
        "the sample API's bearer token, which the stack always has and the release phase "
        "generates. The stack creates a Secrets Manager secret for each and the container gets "
        "it as that variable; values never pass through Pulumi config or state: `python -m ops "
        "STACK secrets set NAME`. A rollout waits until each has a value.",
    )
    task_policy_arns: list[str] = Field(
        default_factory=list,
        description="IAM policy ARNs the app's task role gets (none by default); dangerous AWS "
        "managed ones (AdministratorAccess, IAMFullAccess, ReadOnlyAccess, any ...FullAccess) are refused.",
    )
    deployment_strategy: Literal["rolling", "blue-green"] = Field(
        "rolling",
        description="How a release replaces the tasks: rolling (new tasks join the target group "
        "beside the old ones; no second target group needed) or blue-green (ECS starts the new "
        "tasks in a second target group, moves all traffic at once, keeps the old tasks for "
        "bakeTime minutes and moves traffic back at once when a deployment alarm fires).",
    )
    bake_time: int = Field(
        5, ge=0, le=1440,
        description="Blue-green: minutes the old tasks stay ready to take traffic back after "
        "the switch; 5 covers the 3-minute error and latency alarms with a margin.",
    )  # fmt: skip
    exec: Literal["auto", "on", "off"] = Field(
        "auto",
        description="ECS Exec (`python -m ops STACK exec`): a shell in a running task. auto: on "
        "for development stacks, off for production (anyone with ecs:ExecuteCommand gets a "
        "shell next to the app's secrets); on/off force it.",
    )
    public_api: bool = Field(
        False,
        description="Serve the API without a token, on purpose (the plan warns). false: every "
        "route but the health checks needs `Authorization: Bearer <API_TOKEN>`, the app secret "
        "`python -m ops STACK secrets get API_TOKEN` prints.",
    )
    api_docs: Literal["auto", "on", "off"] = Field(
        "auto",
        description="The app's interactive docs (/docs, /openapi.json). auto: on for development "
        "stacks, off for production (they map every route for whoever finds the URL); on/off "
        "force it.",
    )
    max_body_bytes: int = Field(
        1048576, ge=1024, le=104857600,
        description="Largest request body the app accepts (413 beyond, before it is buffered); "
        "1 MiB holds any note many times over, while the ALB caps no body and a worker holds a "
        "body in memory.",
    )  # fmt: skip

    @field_validator("health_check_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value) or len(value) > 1024:
            raise ValueError("must be a URL path starting with / (like /healthz)")
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: int) -> int:
        if value not in FARGATE_SIZES:
            raise ValueError(f"is not a Fargate CPU size; use one of {sorted(FARGATE_SIZES)}")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int) -> int:
        if not any(value in sizes for sizes in FARGATE_SIZES.values()):
            raise ValueError("is not a Fargate memory size (512, 1024, 2048, ... MiB)")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"is not a CloudWatch retention period; use one of {list(LOG_RETENTION_DAYS)}"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, sep, _ = entry.partition("=")
            if not sep or not _ENV_NAME.match(name):
                raise ValueError(f"entry {entry.split('=')[0]!r} is not NAME=value")
        return entries

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, entries: list[str]) -> list[str]:
        for entry in entries:
            name, sep, arn = entry.partition("=")
            if not sep or not _ENV_NAME.match(name) or not _SECRET_ARN.match(arn):
                raise ValueError(
                    f"entry {entry!r} is not NAME=arn:aws:secretsmanager:... or NAME=arn:aws:ssm:..."
                )
        return entries

    @field_validator("app_secrets")
    @classmethod
    def _app_secrets(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _ENV_NAME.match(n)]
        if bad:
            raise ValueError(
                f"{bad} are not environment variable names (letters, digits and underscores, "
                "not starting with a digit)"
            )
        if len(set(names)) != len(names):
            raise ValueError("names a secret twice")
        return names

    @field_validator("exec", "api_docs", mode="before")
    @classmethod
    def _exec(cls, value: Any) -> Any:
        # `pulumi config set --path service.exec true` reads as on, false as off.
        if isinstance(value, bool | str):
            return {True: "on", False: "off", "true": "on", "false": "off"}.get(value, value)
        return value

    @field_validator("task_policy_arns")
    @classmethod
    def _policies(cls, arns: list[str]) -> list[str]:
        bad = [a for a in arns if not _POLICY_ARN.match(a)]
        if bad:
            raise ValueError(f"{bad} are not IAM policy ARNs (arn:aws:iam::ACCOUNT:policy/NAME)")
        # Judged like the policy pack judges attachments (iam-no-wildcard-actions), so a
        # dangerous AWS managed policy stops the run here, before anything is created.
        # Customer-managed documents live in the account, out of the program's sight.
        judge = iam_grants.managed_policy_grants
        dangerous = [f"{a} ({judge(a)})" for a in arns if judge(a)]
        if dangerous:
            raise ValueError(
                f"{'; '.join(dangerous)}: too broad for the app's task role. Fix: a "
                "customer-managed policy listing the actions the app calls on its own resources"
            )
        return arns

    @property
    def worker_count(self) -> int:
        return self.workers or max(1, self.cpu // 1024)

    @property
    def environment_variables(self) -> dict[str, str]:
        return dict(entry.split("=", 1) for entry in self.environment)

    @property
    def secret_arns(self) -> dict[str, str]:
        return dict(entry.split("=", 1) for entry in self.secrets)

    @property
    def graceful_shutdown_timeout(self) -> int:
        """What the app gets to finish requests after SIGTERM: well inside stopTimeout."""
        return self.stop_timeout - 10


class ScalingSettings(_Group):
    enabled: bool = Field(True, description="Scale the task count between minCount and maxCount.")
    min_count: int = Field(2, ge=1, le=1000, description="Fewest tasks autoscaling leaves running.")
    max_count: int = Field(4, ge=1, le=1000, description="Most tasks autoscaling starts.")
    cpu_target: int = Field(
        70, ge=50, le=90,
        description="Average CPU % to hold; 50-90 keeps headroom without paying for idle tasks.",
    )  # fmt: skip
    memory_target: int = Field(
        0, description="Average memory % to hold (50-90); 0: memory does not drive scaling."
    )
    requests_per_target: int = Field(
        0, ge=0, le=1000000,
        description="ALB requests per task per minute to hold; 0: requests do not drive scaling.",
    )  # fmt: skip

    @field_validator("memory_target")
    @classmethod
    def _memory_target(cls, value: int) -> int:
        if value != 0 and not 50 <= value <= 90:
            raise ValueError("must be 0 (off) or a percentage from 50 to 90")
        return value

    scale_out_cooldown: int = Field(
        60, ge=0, le=3600, description="Seconds after a scale-out before the next one."
    )
    scale_in_cooldown: int = Field(
        300, ge=0, le=3600, description="Seconds after a scale-in before the next one."
    )
