"""A FastAPI app on ECS Fargate behind HTTPS, with every deployment concept made explicit.

Each block below realizes one concept of the README's table; the components say how.
"""

import pulumi
import pulumi_aws as aws

from components.alarms import ReleaseAlarms, ReleaseAlarmsArgs, ServiceAlarms, ServiceAlarmsArgs
from components.app_secrets import AppSecrets, AppSecretsArgs
from components.autoscaling import Autoscaling, AutoscalingArgs
from components.aws_session import identity_from_config
from components.cluster import Cluster, ClusterArgs
from components.dashboard import Dashboard, DashboardArgs
from components.database import Database, DatabaseArgs
from components.edge import build_edge
from components.image import AppImage, AppImageArgs
from components.migration import MigrationRun, MigrationRunArgs
from components.service import WebService, WebServiceArgs
from components.settings import GENERATED_APP_SECRETS, load_settings
from components.task import AppTask, AppTaskArgs, MigrationTaskArgs
from components.vpc_guard import VpcGuard, VpcGuardArgs
from components.waf import WebFirewall, WebFirewallArgs

# Bad input stops here, with every problem named, before anything is created.
settings = load_settings()
account_id = aws.get_caller_identity().account_id
region = aws.get_region().region
# The release phase and the rollout check call AWS themselves with the AWS provider's identity
# (aws:profile, static keys, aws:assumeRoles: the engine hands them the stack config) and only in
# its account; settings they cannot honour stop here, before anything is created.
identity_from_config(pulumi.runtime.get_config)

# Security, HTTPS: network, load balancer, validated certificate, redirect, DNS.
edge = build_edge(settings)
# Security, audit: the VPC's flow logs and its default security group closed; in production a
# WAF web ACL (AWS managed rules, a per-address rate limit) in front of the load balancer.
vpc_guard = VpcGuard(
    "network-guard",
    VpcGuardArgs(
        settings=settings, vpc_id=edge.network.vpc_id, account_id=account_id, region=region
    ),
)
if settings.waf_enabled:
    WebFirewall(
        "edge-waf",
        WebFirewallArgs(settings=settings, load_balancer_arn=edge.load_balancer.arn),
    )

# Data: the database only the tasks can reach, and the app's secrets; the container gets
# both as environment and as secret references, never as secret values.
environment: dict[str, pulumi.Input[str]] = {}
secrets: dict[str, pulumi.Input[str]] = {}
task_secret_arns: list[pulumi.Input[str]] = []
migration_task = None
database = None
if settings.database.enabled:
    database = Database(
        "data",
        DatabaseArgs(
            settings=settings,
            vpc_id=edge.network.vpc_id,
            subnet_ids=edge.network.private_subnet_ids,
            task_security_group_id=edge.load_balancer.task_security_group_id,
        ),
    )
    wiring = database.container_wiring
    environment |= wiring.environment
    secrets |= wiring.secrets
    task_secret_arns += wiring.task_secret_arns
    # With an app role, the release phase keeps the master credentials in a task of its own.
    if (migration_wiring := database.migration_wiring) is not None:
        migration_task = MigrationTaskArgs(
            environment=migration_wiring.environment,
            secrets=migration_wiring.secrets,
            task_secret_arns=migration_wiring.task_secret_arns,
            task_writable_secret_arns=migration_wiring.task_writable_secret_arns,
        )
# The app's own secrets: names in config, values only in Secrets Manager (`python -m ops STACK
# secrets set NAME`), checked (and API_TOKEN generated) by the release phase.
app_secret_arns: dict[str, pulumi.Output[str]] = {}
if settings.app_secret_names:
    app_secrets = AppSecrets(
        "app-secrets",
        AppSecretsArgs(
            names=settings.app_secret_names,
            production=settings.production,
            protect=settings.protects("secrets"),
        ),
    )
    app_secret_arns = app_secrets.arns
    secrets |= app_secret_arns
    if not settings.migration.enabled:
        # The release phase is what generates API_TOKEN and waits for the other values.
        pulumi.log.warn(
            f"migration.enabled is false, so no release phase checks the app secrets "
            f"({', '.join(settings.app_secret_names)}) or generates API_TOKEN: tasks fail to "
            f"start while one has no value. Set each with `python -m ops {pulumi.get_stack()} "
            f"secrets set NAME`."
        )

# Memory, resource utilization: what one copy of the app is and what it may use.
image = AppImage("app", AppImageArgs(settings=settings.image, production=settings.production))
task = AppTask(
    "app",
    AppTaskArgs(
        settings=settings,
        image_ref=image.image_ref,
        account_id=account_id,
        region=region,
        environment=environment,
        secrets=secrets,
        task_secret_arns=task_secret_arns,
        migration=migration_task,
    ),
)
cluster = Cluster("app", ClusterArgs(settings=settings.service))

# A task reaches ECR, CloudWatch Logs, Secrets Manager and the database only once its routes,
# its security group rules and its execution role's permissions exist. Nothing in the task's
# inputs waits for them (subnet and group ids exist before their routes and rules), so
# whatever starts a task waits for them explicitly.
task_can_start: list[pulumi.Resource] = [
    *edge.network.egress_ready,
    edge.load_balancer.task_egress_rule,
    *task.execution_role_ready,
    *(database.access_rules if database is not None else []),
]

# Previous steps: the migration runs once, in the new task definition, before the rollout.
rollout_waits_for: list[pulumi.Resource] = [
    edge.load_balancer.serving_listener,
    cluster.capacity_providers,
    *task_can_start,
    # New tasks pass their health checks only once the load balancer can reach them.
    *edge.load_balancer.task_traffic_rules,
]
migration_run = None
if settings.migration.enabled:
    migration_run = MigrationRun(
        "migration-run",
        MigrationRunArgs(
            cluster=cluster.cluster_name,
            task_definition=task.migration_task_definition_arn,
            container_name=task.container_name,
            command=settings.migration.command,
            subnets=edge.network.task_subnet_ids,
            security_groups=[edge.load_balancer.task_security_group_id],
            assign_public_ip=edge.network.assign_public_ip,
            log_group=task.log_group_name,
            log_stream_prefix=task.log_stream_prefix,
            timeout_seconds=settings.migration.timeout,
            nonce=settings.migration.nonce,
            app_secrets=app_secret_arns,
            generated_secrets=sorted(GENERATED_APP_SECRETS & set(app_secret_arns)),
            region=region,
            account_id=account_id,
        ),
        pulumi.ResourceOptions(depends_on=[cluster.capacity_providers, *task_can_start]),
    )
    rollout_waits_for.append(migration_run)

# Watching what runs: the load balancer's alarms exist before the service, which rolls a
# release back when the 5xx rate or the latency alarm fires.
load_balancer = edge.load_balancer
target_group_suffixes = [load_balancer.target_group_arn_suffix]
if load_balancer.alternate_target_group_arn_suffix is not None:
    target_group_suffixes.append(load_balancer.alternate_target_group_arn_suffix)
# With alarms off only the two deployment alarms stay, notifying nobody: the service names them
# in a disabled block (components/alarms.py, ReleaseAlarms, says why).
release_alarms = ReleaseAlarms(
    "alarms",
    ReleaseAlarmsArgs(
        settings=settings,
        load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
        target_group_arn_suffixes=target_group_suffixes,
    ),
)

# Run on startup, restarts: the service keeps the tasks running and rolls out safely.
web = WebService(
    "web",
    WebServiceArgs(
        settings=settings,
        cluster_arn=cluster.cluster_arn,
        cluster_name=cluster.cluster_name,
        task_definition_arn=task.task_definition_arn,
        container_name=task.container_name,
        subnet_ids=edge.network.task_subnet_ids,
        security_group_id=edge.load_balancer.task_security_group_id,
        assign_public_ip=edge.network.assign_public_ip,
        target_group_arn=edge.load_balancer.target_group_arn,
        region=region,
        account_id=account_id,
        wait_for=rollout_waits_for,
        deployment_alarm_names=release_alarms.deployment_alarm_names,
        deployment_alarms_enabled=settings.alarms.enabled,
        task_role_name=task.task_role_name,
        listener_arn=load_balancer.serving_listener.arn,
        alternate_target_group_arn=load_balancer.alternate_target_group_arn,
    ),
)

# Replication: the task count follows the load.
if settings.scaling.enabled:
    Autoscaling(
        "web-scaling",
        AutoscalingArgs(
            settings=settings.scaling,
            cluster_name=cluster.cluster_name,
            service_name=web.service_name,
            load_balancer_arn_suffix=edge.load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffix=edge.load_balancer.target_group_arn_suffix,
        ),
        pulumi.ResourceOptions(depends_on=[web]),
    )

# The service's and the database's alarms, and a dashboard of all of it.
alarm_arns: list[pulumi.Output[str]] = []
if settings.alarms.enabled:
    service_alarms = ServiceAlarms(
        "service-alarms",
        ServiceAlarmsArgs(
            settings=settings,
            topic_arn=release_alarms.topic_arn,
            load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
            target_group_arn_suffixes=target_group_suffixes,
            cluster_name=cluster.cluster_name,
            service_name=web.service_name,
            database_id=database.instance_id if database is not None else None,
        ),
    )
    alarm_arns = release_alarms.alarm_arns + service_alarms.alarm_arns
    pulumi.export("alarm_topic_arn", release_alarms.topic_arn)
dashboard = Dashboard(
    "dashboard",
    DashboardArgs(
        settings=settings,
        region=region,
        load_balancer_arn_suffix=load_balancer.load_balancer_arn_suffix,
        target_group_arn_suffixes=target_group_suffixes,
        cluster_name=cluster.cluster_name,
        service_name=web.service_name,
        alarm_arns=alarm_arns,
        database_id=database.instance_id if database is not None else None,
    ),
)

pulumi.export("url", edge.load_balancer.url)
pulumi.export("load_balancer_dns_name", edge.load_balancer.dns_name)
pulumi.export("certificate_arn", edge.load_balancer.certificate_arn)
pulumi.export("cluster_name", cluster.cluster_name)
pulumi.export("service_name", web.service_name)
pulumi.export("log_group_name", task.log_group_name)
pulumi.export("image", image.image_ref)
if image.repository_arn is not None:
    # What a promoted stack sets as image.sourceRepository.
    pulumi.export("image_repository_arn", image.repository_arn)
# What a source stack lists in image.pullRoleArns for this stack to promote its image.
pulumi.export("execution_role_arn", task.execution_role_arn)
pulumi.export("region", region)
pulumi.export("dashboard_url", dashboard.url)
pulumi.export("exec_enabled", settings.exec_enabled)
# The 50-90 % band `python -m ops STACK status` measures the last hour against.
pulumi.export(
    "utilization_band",
    {"low": settings.alarms.low_utilization, "high": settings.alarms.high_utilization},
)
if database is not None:
    # Where the database is; its credentials stay in Secrets Manager.
    pulumi.export("database", {"host": database.host, "port": database.port, "name": database.name})
if migration_run is not None:
    pulumi.export(
        "migration",
        {
            "task_arn": migration_run.task_arn,
            "exit_code": migration_run.exit_code,
            "duration_seconds": migration_run.duration_seconds,
            "log_stream": migration_run.log_stream,
        },
    )
