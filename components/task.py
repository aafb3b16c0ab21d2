"""What one copy of the app is: its task definition, with the roles and logs it needs.

Creates a CloudWatch log group (with retention), an execution role (the AWS managed
task-execution policy, plus reading exactly the secrets the container gets), a task role (no
permissions unless settings name policies or the app reads a secret itself, like the database
credentials after a rotation), and a Fargate task definition with one container.
The web service and the migration run both use this task definition, so the migration runs the
very image, environment and secrets that are about to serve.

The container is hardened: a read-only root filesystem with one task volume at ``/tmp``, the
image's non-root user (``APP_USER``), every Linux capability dropped, never privileged. The
app gets ``API_AUTH``/``API_DOCS`` from ``service.publicApi``/``service.apiDocs`` (a public API is
warned about on every run).

Besides what the settings say, the container gets what other components hand over in
``AppTaskArgs``: plain variables (the database's host, port and name) and secrets (the database
credentials, the app secrets), each secret only as a reference that ECS resolves at start.
It also learns which peers may set ``X-Forwarded-*`` headers (``FORWARDED_ALLOW_IPS``: the
VPC's CIDR blocks, where the load balancer's nodes live; read from AWS for an existing VPC)
and the largest request body it accepts (``MAX_BODY_BYTES``).

A promoted stack (``image.promoteFrom``) runs an image from another account's repository: its
execution role gets a fixed name (``promoted_execution_role_name``), which that repository's
policy names, and, instead of the AWS managed task-execution policy (which allows pulling from
every repository), a policy of its own: pull from that one repository, get an ECR login token,
write to its log group.

With ``AppTaskArgs.migration`` (the database has an app role), the release phase gets a task
definition of its own: the same image and variables, but the database's master credentials
instead of the app role's, and a task role of its own that may also write the app role's
secret. The web tasks' role can read only the app role's secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.naming import ECS_FAMILY, IAM_ROLE_NAME, stack_name
from components.settings import NetworkSettings, Settings

CONTAINER_NAME = "app"
LOG_STREAM_PREFIX = "app"
EXECUTION_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

# The shipped app's own commands (see app/README.md): the server, and a health probe in
# Python because the slim image has no curl.
SERVER_COMMAND = ["python", "-m", "api.serve"]
HEALTH_CHECK_COMMAND = ["CMD", "python", "-m", "api.healthcheck"]

ARCHITECTURES = {"linux/amd64": "X86_64", "linux/arm64": "ARM64"}

# The image's non-root user and group (app/Dockerfile: `groupadd --gid 10001`, `useradd --uid
# 10001`, `USER 10001:10001`; tests/test_web_service.py checks they agree). Said again in the task
# definition because ECS and the AWS Config rule Security Hub uses
# (ecs-task-definition-linux-user-non-root: no `user` is NON_COMPLIANT) read the task
# definition, not the image; and a task definition that names the user keeps the app
# unprivileged even if a later image forgot its USER line.
APP_USER = "10001:10001"
# The one writable path of a read-only root filesystem: a task volume (ephemeral storage, empty
# at start, gone with the task). Fargate has no tmpfs (linuxParameters.tmpfs is EC2-only), so it
# is a bind mount with no host path; the image declares VOLUME /tmp owned by APP_USER, which
# Fargate copies onto the volume (AWS ECS guide, "Use bind mounts with Amazon ECS").
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"
# ECS Exec's agent (run by ECS inside the container, as root) writes under these paths, and
# fails on a read-only root: with exec on, each gets a task volume too, the workaround of
# aws/containers-roadmap#1359 (ECS Exec has no read-only-root support of its own).
EXEC_WRITABLE_PATHS = {
    "exec-managed-agents": "/managed-agents",
    "exec-ssm-lib": "/var/lib/amazon/ssm",
    "exec-ssm-log": "/var/log/amazon/ssm",
}


def writable_volumes(settings: Settings) -> dict[str, str]:
    """The task volumes of the read-only container, by name: where each is mounted."""
    volumes = {TMP_VOLUME: TMP_PATH}
    if settings.exec_enabled:
        volumes |= EXEC_WRITABLE_PATHS
    return volumes


# What pulling from ECR takes on the repository (AWS ECR user guide, "Private repository
# policies": the pull actions) and what a Fargate task's awslogs driver writes.
ECR_PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


def promoted_execution_role_name(project: str, stack: str) -> str:
    """The execution role's name on a promoted stack: the source stack's repository policy
    names it (``image.pullRoleArns``), so it must be known before the role exists:
    ``<project>-<stack>-execution``, fitted to IAM's rule by ``components.naming`` (a stack name
    IAM cannot take gets a hashed name; the plan and the ``execution_role_arn`` output show it)."""
    return stack_name(IAM_ROLE_NAME, project, stack, "execution")


def promoted_execution_policy(repository_arn: str, log_group_arn: str) -> str:
    """Pull from exactly the source repository, log in to ECR, write the task's logs."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PullThePromotedImage",
                    "Effect": "Allow",
                    "Action": ECR_PULL_ACTIONS,
                    "Resource": repository_arn,
                },
                {
                    # Account-level: GetAuthorizationToken takes no resource (AWS Service
                    # Authorization Reference, Amazon ECR actions).
                    "Sid": "EcrLogin",
                    "Effect": "Allow",
                    "Action": "ecr:GetAuthorizationToken",
                    "Resource": "*",
                },
                {
                    "Sid": "WriteTheTaskLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                },
            ],
        }
    )


def assume_role_policy(account_id: str, region: str | None = None) -> str:
    """Trust ECS tasks; with a region, only tasks of this account and region.

    The task role carries the confused-deputy conditions AWS documents for task roles. The
    execution role keeps the plain trust of AWS's own ecsTaskExecutionRole: ECS assumes it to
    pull the image before the task exists, and a condition it does not send would stop every
    task from starting.
    """
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if region is not None:
        statement["Condition"] = {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{account_id}:*"},
        }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def secret_resource_arn(value_from: str) -> str:
    """The ARN IAM knows for a container secret's ``valueFrom``.

    ECS picks a JSON key of a Secrets Manager secret with ``<secret ARN>:<key>:<stage>:<id>``
    (AWS ECS developer guide, "Pass Secrets Manager secrets through environment variables");
    IAM grants access to the secret's own ARN, the first seven colon-separated fields.
    """
    if ":secretsmanager:" in value_from:
        return ":".join(value_from.split(":")[:7])
    return value_from


def secrets_read_policy(secret_arns: list[str], writable_arns: Sequence[str] = ()) -> str:
    """Read exactly these Secrets Manager secrets and SSM parameters, nothing else.

    ``secret_arns`` may be ``valueFrom`` references with a JSON key; the policy names the secret.
    ``writable_arns`` may also get a new value (``PutSecretValue``), and nothing more.
    """
    statements = []
    arns = {secret_resource_arn(a) for a in secret_arns}
    secrets = sorted(a for a in arns if ":secretsmanager:" in a)
    parameters = sorted(a for a in arns if ":ssm:" in a)
    if secrets:
        statements.append(
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets}
        )
    if parameters:
        statements.append(
            {"Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": parameters}
        )
    if writable_arns:
        statements.append(
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:PutSecretValue"],
                "Resource": sorted({secret_resource_arn(a) for a in writable_arns}),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def public_api_warning() -> str:
    return (
        "service.publicApi is true: the app serves every route without a token (API_AUTH=none), "
        "so anyone who finds the URL can read, create and delete its data. Fix, unless that is "
        "the point: `pulumi config set --path service.publicApi false`."
    )


def trusted_proxy_cidrs(network: NetworkSettings) -> list[str]:
    """The VPC's IPv4 CIDR blocks: the load balancer's nodes take their addresses from them.

    A new VPC has ``network.cidr``; an existing one is asked (``aws.ec2.get_vpc``), with every
    associated block, since its public subnets may sit in a secondary one.
    """
    if not network.existing:
        return [network.cidr]
    vpc = aws.ec2.get_vpc(id=network.vpc_id)
    blocks = [
        a.cidr_block
        for a in vpc.cidr_block_associations or []
        if a.cidr_block and a.state in (None, "", "associated")
    ]
    return sorted(set(blocks or [vpc.cidr_block]))


def container_definitions(
    settings: Settings,
    image: str,
    log_group: str,
    region: str,
    secret_arns: Mapping[str, str],
    extra_environment: Mapping[str, str] | None = None,
    trusted_proxies: Sequence[str] = (),
) -> str:
    """The container definitions JSON of the task: one exec-form container.

    ``secret_arns`` maps each secret variable to its ``valueFrom``; ``extra_environment`` adds
    plain variables handed over by other components (settings keep their names apart).
    """
    service = settings.service
    environment = {
        **service.environment_variables,
        **(extra_environment or {}),
        "PORT": str(service.container_port),
        "WEB_CONCURRENCY": str(service.worker_count),
        # Shorter than stopTimeout, so the app finishes its requests before SIGKILL.
        "GRACEFUL_SHUTDOWN_TIMEOUT": str(service.graceful_shutdown_timeout),
        # Longer than the ALB idle timeout, so the ALB never reuses a connection the app closed.
        "KEEP_ALIVE_TIMEOUT": str(settings.load_balancer.idle_timeout + 5),
        "HEALTH_CHECK_PATH": service.health_check_path,
        "MAX_BODY_BYTES": str(service.max_body_bytes),
        # Closed by default: the app refuses to start without API_TOKEN (an ECS secret) unless
        # the stack says the API is public on purpose (app/api/auth.py).
        "API_AUTH": "none" if service.public_api else "bearer",
        "API_DOCS": "on" if settings.api_docs_enabled else "off",
    }
    if trusted_proxies:
        # Only the load balancer's addresses may set X-Forwarded-For/-Proto; anything reaching
        # the task directly gets its own address taken at face value.
        environment["FORWARDED_ALLOW_IPS"] = ",".join(trusted_proxies)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "command": SERVER_COMMAND,
        "portMappings": [
            {"containerPort": service.container_port, "protocol": "tcp", "name": "http"}
        ],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secret_arns.items())],
        "healthCheck": {
            "command": HEALTH_CHECK_COMMAND,
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": min(service.health_check_grace_period, 300),
        },
        "stopTimeout": service.stop_timeout,
        # Hardened (AWS Config ecs-containers-readonly-access, ecs-task-definition-linux-user-
        # non-root, ecs-containers-nonprivileged): nothing in the image can change at run time,
        # the app runs as the image's unprivileged user and keeps no Linux capability (none is
        # needed to serve HTTP on a port above 1024). `privileged` stays unset: Fargate
        # refuses true, and unset is not privileged.
        "readonlyRootFilesystem": True,
        "user": APP_USER,
        "mountPoints": [
            {"sourceVolume": name, "containerPath": path, "readOnly": False}
            for name, path in writable_volumes(settings).items()
        ],
        "linuxParameters": {
            # An init process at PID 1 reaps zombies and forwards SIGTERM to the server.
            "initProcessEnabled": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": LOG_STREAM_PREFIX,
                # A CloudWatch hiccup must never block the app's writes to stdout.
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }
    return json.dumps([container])


def _all_by_name(inputs: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[dict[str, str]]:
    # Output.all() of no inputs is a list, not a dict.
    if not inputs:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**inputs)  # type: ignore[return-value]


@dataclass
class AppTaskArgs:
    settings: Settings
    image_ref: pulumi.Input[str]
    account_id: str
    region: str
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain variables from other components, like the database host; never a secret."""
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret variables from other components: name -> ``valueFrom`` (an ARN, or an ARN with
    a JSON key). The execution role may read exactly these and ``service.secrets``."""
    task_secret_arns: Sequence[pulumi.Input[str]] = field(default_factory=list)
    """Secrets Manager secrets the app reads itself while it runs (the database credentials
    after a rotation). The task role may read exactly these; none, no task role policy."""
    migration: MigrationTaskArgs | None = None
    """What the release phase's own task definition gets instead of the web one's; None: the
    migration runs the web task definition."""


@dataclass
class MigrationTaskArgs:
    """The migration's differences from the web task (the database's ``migration_wiring``)."""

    environment: Mapping[str, pulumi.Input[str]]
    """Plain variables added to, or replacing, the web task's."""
    secrets: Mapping[str, pulumi.Input[str]]
    """Secret variables replacing the web task's of the same name (the master credentials)."""
    task_secret_arns: Sequence[pulumi.Input[str]]
    """Secrets its task role may read."""
    task_writable_secret_arns: Sequence[pulumi.Input[str]] = ()
    """Secrets its task role may also write (the app role's password)."""


class AppTask(pulumi.ComponentResource):
    """The web service's task definition, which the migration run shares unless it has its own."""

    task_definition_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    task_role_name: pulumi.Output[str]
    execution_role_ready: list[pulumi.Resource]
    """The execution role's permissions (pull the image, write logs, read the secrets): ECS
    uses them to start a task, so nothing may start one before they are attached."""
    migration_task_definition_arn: pulumi.Output[str]
    """The release phase's task definition: its own with an app role, else the web one."""
    container_name: str = CONTAINER_NAME
    log_stream_prefix: str = LOG_STREAM_PREFIX

    def __init__(self, name: str, args: AppTaskArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("fastapi-fargate:task:AppTask", name, None, opts)
        settings, service = args.settings, args.settings.service
        child = pulumi.ResourceOptions(parent=self)
        if service.public_api:
            pulumi.log.warn(public_api_warning())

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            aws.cloudwatch.LogGroupArgs(retention_in_days=service.log_retention_days),
            child,
        )
        image = settings.image
        execution_role = aws.iam.Role(
            f"{name}-execution",
            aws.iam.RoleArgs(
                name=(
                    promoted_execution_role_name(pulumi.get_project(), pulumi.get_stack())
                    if image.promoted
                    else None
                ),
                assume_role_policy=assume_role_policy(args.account_id),
                description="Lets ECS pull the image, write logs and read the app's secrets.",
            ),
            child,
        )
        execution_managed: pulumi.Resource
        if image.promoted and image.source_repository is not None:
            execution_managed = aws.iam.RolePolicy(
                f"{name}-execution-pull",
                aws.iam.RolePolicyArgs(
                    role=execution_role.name,
                    policy=log_group.arn.apply(
                        lambda arn: promoted_execution_policy(image.source_repository, arn)  # type: ignore[arg-type]
                    ),
                ),
                child,
            )
        else:
            execution_managed = aws.iam.RolePolicyAttachment(
                f"{name}-execution-managed",
                aws.iam.RolePolicyAttachmentArgs(
                    role=execution_role.name, policy_arn=EXECUTION_POLICY_ARN
                ),
                child,
            )
        # Names are known now, values (ARNs of resources made in this run) only later.
        secret_refs = _all_by_name({**service.secret_arns, **args.secrets})
        environment = _all_by_name(args.environment)
        migration = args.migration
        migration_refs = (
            _all_by_name({**service.secret_arns, **args.secrets, **migration.secrets})
            if migration
            else None
        )
        secrets_policy = None
        if service.secret_arns or args.secrets:
            # One execution role for both task definitions: ECS uses it to inject the secrets
            # before the container runs; the app's code never holds its credentials.
            every_ref = (
                pulumi.Output.all(secret_refs, migration_refs).apply(
                    lambda both: [*both[0].values(), *both[1].values()]
                )
                if migration_refs is not None
                else secret_refs.apply(lambda refs: list(refs.values()))
            )
            secrets_policy = aws.iam.RolePolicy(
                f"{name}-execution-secrets",
                aws.iam.RolePolicyArgs(
                    role=execution_role.name,
                    policy=every_ref.apply(secrets_read_policy),
                ),
                child,
            )
        execution_role_ready: list[pulumi.Resource] = [execution_managed]
        if secrets_policy is not None:
            execution_role_ready.append(secrets_policy)
        trusted_proxies = trusted_proxy_cidrs(settings.network)

        task_definition, task_role = self._definition(
            name,
            args,
            execution_role,
            log_group,
            execution_role_ready,
            trusted_proxies,
            family=stack_name(ECS_FAMILY, pulumi.get_project(), pulumi.get_stack()),
            secret_refs=secret_refs,
            environment=environment,
            task_secret_arns=args.task_secret_arns,
            writable_secret_arns=(),
            description=(
                "The app's own AWS permissions: reading the secrets it fetches itself, "
                "plus service.taskPolicyArns."
                if args.task_secret_arns
                else "The app's own AWS permissions: none unless service.taskPolicyArns."
            ),
        )
        self.migration_task_definition_arn = task_definition.arn
        if migration is not None and migration_refs is not None:
            migration_definition, _ = self._definition(
                f"{name}-migration",
                args,
                execution_role,
                log_group,
                execution_role_ready,
                trusted_proxies,
                family=stack_name(
                    ECS_FAMILY, pulumi.get_project(), pulumi.get_stack(), "migration"
                ),
                secret_refs=migration_refs,
                environment=_all_by_name({**args.environment, **migration.environment}),
                task_secret_arns=migration.task_secret_arns,
                writable_secret_arns=migration.task_writable_secret_arns,
                description="The release phase's AWS permissions: reading the database "
                "credentials and storing the app role's password, plus service.taskPolicyArns.",
            )
            self.migration_task_definition_arn = migration_definition.arn
        self.task_definition_arn = task_definition.arn
        self.log_group_name = log_group.name
        self.execution_role_arn = execution_role.arn
        self.task_role_arn = task_role.arn
        self.task_role_name = task_role.name
        self.execution_role_ready = execution_role_ready
        self.register_outputs(
            {
                "task_definition_arn": self.task_definition_arn,
                "migration_task_definition_arn": self.migration_task_definition_arn,
                "log_group_name": self.log_group_name,
            }
        )

    def _definition(
        self,
        name: str,
        args: AppTaskArgs,
        execution_role: aws.iam.Role,
        log_group: aws.cloudwatch.LogGroup,
        execution_role_ready: Sequence[pulumi.Resource],
        trusted_proxies: Sequence[str],
        *,
        family: str,
        secret_refs: pulumi.Output[dict[str, str]],
        environment: pulumi.Output[dict[str, str]],
        task_secret_arns: Sequence[pulumi.Input[str]],
        writable_secret_arns: Sequence[pulumi.Input[str]],
        description: str,
    ) -> tuple[aws.ecs.TaskDefinition, aws.iam.Role]:
        """A task role (with its secrets policy) and a task definition using it."""
        settings, service = args.settings, args.settings.service
        child = pulumi.ResourceOptions(parent=self)
        task_role = aws.iam.Role(
            f"{name}-task",
            aws.iam.RoleArgs(
                assume_role_policy=assume_role_policy(args.account_id, args.region),
                description=description,
            ),
            child,
        )
        task_secrets_policy = None
        if task_secret_arns:
            # Not on the execution role: that one is ECS's, used before the app runs; what the
            # app's code calls goes through the task role.
            count = len(task_secret_arns)
            task_secrets_policy = aws.iam.RolePolicy(
                f"{name}-task-secrets",
                aws.iam.RolePolicyArgs(
                    role=task_role.name,
                    policy=pulumi.Output.all(*task_secret_arns, *writable_secret_arns).apply(
                        lambda arns: secrets_read_policy(list(arns[:count]), arns[count:])
                    ),
                ),
                child,
            )
        task_ready: list[pulumi.Resource] = (
            [task_secrets_policy] if task_secrets_policy is not None else []
        )
        for index, policy_arn in enumerate(service.task_policy_arns):
            # Waited for like the secrets policy: the migration may call AWS as it starts.
            task_ready.append(
                aws.iam.RolePolicyAttachment(
                    f"{name}-task-policy-{index}",
                    aws.iam.RolePolicyAttachmentArgs(role=task_role.name, policy_arn=policy_arn),
                    child,
                )
            )
        definitions = pulumi.Output.all(
            args.image_ref, log_group.name, secret_refs, environment
        ).apply(
            lambda values: container_definitions(
                settings, values[0], values[1], args.region, values[2], values[3], trusted_proxies
            )
        )
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-definition",
            aws.ecs.TaskDefinitionArgs(
                family=family,
                cpu=str(service.cpu),
                memory=str(service.memory),
                network_mode="awsvpc",
                requires_compatibilities=["FARGATE"],
                runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                    operating_system_family="LINUX",
                    cpu_architecture=ARCHITECTURES[settings.image.platform],
                ),
                execution_role_arn=execution_role.arn,
                task_role_arn=task_role.arn,
                container_definitions=definitions,
                # The container's writable paths (no host path: the task's ephemeral storage).
                volumes=[
                    aws.ecs.TaskDefinitionVolumeArgs(name=name)
                    for name in writable_volumes(settings)
                ],
            ),
            # The image, logs and secrets must be reachable before a task of this revision
            # can start.
            pulumi.ResourceOptions(parent=self, depends_on=[*execution_role_ready, *task_ready]),
        )
        return task_definition, task_role
