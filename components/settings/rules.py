"""Rules that span settings, one function per concept, run once every single value is
valid; each problem names the setting, its value and the fix.

No resource is created here.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.settings.base import _key, _parent, _ranges, _shell_word, _shown, inside_zone
from components.settings.facts import (
    _ENV_NAME,
    APP_SECRETS_NAMESPACE,
    DATABASE_ENV_NAMES,
    FARGATE_SIZES,
    STACK_ENV_NAMES,
    TASK_MEMORY_OVERHEAD_MIB,
)
from components.settings.model import Settings


def _combination_problems(s: Settings) -> list[str]:
    """Rules that need more than one setting; run once every single value is valid."""
    return [
        *_service_problems(s),
        *_https_problems(s),
        *_network_problems(s),
        *_database_problems(s),
        *_alarm_problems(s),
        *_environment_problems(s),
        *_image_problems(s),
    ]


def _service_problems(s: Settings) -> list[str]:
    """The task's size against Fargate's offer and its workers, and scaling's range."""
    problems = []
    svc, scaling = s.service, s.scaling
    allowed = FARGATE_SIZES[svc.cpu]
    if svc.memory not in allowed:
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: Fargate does not offer {svc.memory} MiB "
            f"with service.cpu = {svc.cpu}. Fix: `pulumi config set --path service.memory <one "
            f"of {_ranges(allowed)}>`, or change service.cpu."
        )
    budget = svc.worker_count * svc.memory_per_worker + TASK_MEMORY_OVERHEAD_MIB
    if budget > svc.memory:
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: {svc.worker_count} workers x "
            f"{svc.memory_per_worker} MiB (service.memoryPerWorker) + {TASK_MEMORY_OVERHEAD_MIB} "
            f"MiB overhead = {budget} MiB do not fit. Fix: raise service.memory, or lower "
            f"service.workers or service.memoryPerWorker; every worker holds its own copy of the app."
        )
    if scaling.enabled:
        if scaling.min_count > scaling.max_count:
            problems.append(
                f"{_key('scaling.minCount')} = {scaling.min_count}: is above scaling.maxCount = "
                f"{scaling.max_count}. Fix: make minCount <= maxCount."
            )
        elif not scaling.min_count <= svc.desired_count <= scaling.max_count:
            problems.append(
                f"{_key('service.desiredCount')} = {svc.desired_count}: outside scaling.minCount.."
                f"scaling.maxCount = {scaling.min_count}..{scaling.max_count}. Fix: set "
                f"service.desiredCount within that range, or widen it."
            )
        if svc.deployment_strategy == "blue-green" and scaling.requests_per_target:
            # The request-count policy tracks one target group (ALBRequestCountPerTarget's
            # resource label); after a blue/green switch the traffic is on the other one, and
            # that policy would stop seeing any.
            problems.append(
                f"{_key('scaling.requestsPerTarget')} = {scaling.requests_per_target}: request-"
                f"based scaling follows one target group, and service.deploymentStrategy = "
                f"blue-green moves the traffic to the other at every release. Fix: `pulumi config "
                f"set --path scaling.requestsPerTarget 0` (CPU and memory scaling keep working), or "
                f"use the rolling strategy."
            )
    return problems


def _https_problems(s: Settings) -> list[str]:
    """The domain against its hosted zone; the HTTPS members without a domain."""
    problems = []
    https = s.https
    if https.enabled:
        if https.hosted_zone is None and https.hosted_zone_id is None:
            problems.append(
                f"{_key('https.hostedZone')}: is required with https.domain = {https.domain}, for "
                f"the certificate's validation records and the alias record. Fix: `pulumi config "
                f"set --path https.hostedZone <zone name, like {_parent(https.domain)}>`."
            )
        if https.hosted_zone is not None:
            for field, name in [("domain", https.domain)] + [
                ("extraNames", n) for n in https.extra_names
            ]:
                if not inside_zone(name, https.hosted_zone):  # type: ignore[arg-type]
                    problems.append(
                        f"{_key('https.' + field)} = {name}: is not inside the hosted zone "
                        f"https.hostedZone = {https.hosted_zone}, so no record can be made for it. "
                        f"Fix: use a name ending in .{https.hosted_zone}, or the zone that holds it."
                    )
        if len(set(https.names)) != len(https.names):
            problems.append(
                f"{_key('https.extraNames')} = {_shown(https.extra_names)}: repeats a name. "
                f"Fix: list each name once, without the domain."
            )
    else:
        for field, value in [
            ("hostedZone", https.hosted_zone),
            ("hostedZoneId", https.hosted_zone_id),
            ("certificateArn", https.certificate_arn),
            ("extraNames", https.extra_names or None),
        ]:
            if value is not None:
                problems.append(
                    f"{_key('https.' + field)} = {_shown(value)}: needs https.domain. Fix: "
                    f"`pulumi config set --path https.domain <name>` or `pulumi config rm --path "
                    f"https.{field}`."
                )
        if s.production:
            problems.append(
                f"{_key('https.domain')}: is required on a production stack (production = true); "
                f"the HTTP-only mode is for a first try. Fix: `pulumi config set --path "
                f"https.domain <name>` and https.hostedZone."
            )

    return problems


def _network_problems(s: Settings) -> list[str]:
    """An existing VPC's subnets, or a new VPC's zones."""
    problems = []
    net = s.network
    if net.existing:
        if len(net.public_subnet_ids) < 2:
            if net.nat == "none" and net.private_subnet_ids:
                problems.append(
                    f"{_key('network.nat')} = none: with only private subnets the tasks have no "
                    f"route to pull their image and the load balancer has no public subnets. Fix: "
                    f"set network.publicSubnetIds, or network.nat to single/per-az."
                )
            problems.append(
                f"{_key('network.publicSubnetIds')} = {_shown(net.public_subnet_ids)}: an existing "
                f"VPC needs at least 2 public subnets in distinct availability zones for the load "
                f"balancer. Fix: `pulumi config set --path 'network.publicSubnetIds[0]' subnet-...`."
            )
        if net.nat != "none" and not net.private_subnet_ids:
            problems.append(
                f"{_key('network.privateSubnetIds')}: is required with network.vpcId and "
                f"network.nat = {net.nat}: tasks run in private subnets. Fix: list them, or set "
                f"network.nat to none to run tasks in the public subnets."
            )
        if net.zone_names:
            problems.append(
                f"{_key('network.zoneNames')} = {_shown(net.zone_names)}: an existing VPC's zones "
                f"are those of its subnets. Fix: `pulumi config rm --path network.zoneNames`."
            )
    else:
        if net.zone_names and len(net.zone_names) != net.availability_zones:
            problems.append(
                f"{_key('network.zoneNames')} = {_shown(net.zone_names)}: names "
                f"{len(net.zone_names)} zones, but network.availabilityZones = "
                f"{net.availability_zones}. Fix: `pulumi config set --path "
                f"network.availabilityZones {len(net.zone_names)}`, or name "
                f"{net.availability_zones} zones."
            )
        for field, value in [
            ("publicSubnetIds", net.public_subnet_ids),
            ("privateSubnetIds", net.private_subnet_ids),
        ]:
            if value:
                problems.append(
                    f"{_key('network.' + field)} = {_shown(value)}: needs network.vpcId (the "
                    f"subnets of an existing VPC). Fix: set network.vpcId, or remove network.{field}."
                )
    return problems


def _environment_problems(s: Settings) -> list[str]:
    """Container variables set twice, or set where the stack sets them itself."""
    problems = []
    svc = s.service
    names = [*svc.environment_variables, *svc.secret_arns]
    reserved = reserved_env_names(s)
    for name in sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved)):
        problems.append(
            f"{_key('service.environment')}: {name} is set twice or is set by the stack itself "
            f"(reserved: {', '.join(sorted(reserved))}). Fix: remove it from service.environment "
            f"or service.secrets; the stack derives the reserved ones from other settings."
        )
    for name in s.app_secret_names:
        if name in reserved or name in names:
            problems.append(
                f"{APP_SECRETS_NAMESPACE}:{name}: the container already gets {name} from "
                f"{'the stack itself' if name in reserved else 'service.environment or service.secrets'}"
                f" (reserved: {', '.join(sorted(reserved))}). Fix: `pulumi config rm "
                f"{APP_SECRETS_NAMESPACE}:{name}` and set the value under another name."
            )
    return problems


def _alarm_problems(s: Settings) -> list[str]:
    problems = []
    alarms = s.alarms
    if s.production and not alarms.enabled:
        problems.append(
            f"{_key('alarms.enabled')} = false: a production stack needs its alarms, and its "
            f"releases the deployment alarms that roll back a release answering errors. Fix: "
            f"`pulumi config set --path alarms.enabled true`."
        )
    if alarms.low_utilization >= alarms.high_utilization:
        problems.append(
            f"{_key('alarms.lowUtilization')} = {alarms.low_utilization}: is not below "
            f"alarms.highUtilization = {alarms.high_utilization}, so the waste and danger alarms "
            f"would overlap. Fix: keep the band apart, like 50 and 90."
        )
    if s.service.deployment_strategy == "blue-green" and not alarms.enabled:
        problems.append(
            f"{_key('service.deploymentStrategy')} = blue-green: needs alarms.enabled, since its "
            f"traffic moves back to the old tasks only when a deployment alarm fires. Fix: "
            f"`pulumi config set --path alarms.enabled true` or use rolling."
        )
    return problems


def reserved_env_names(s: Settings) -> frozenset[str]:
    """Variables the stack puts in the container itself, so no setting may set them."""
    return STACK_ENV_NAMES | (DATABASE_ENV_NAMES if s.database.enabled else frozenset())


def _database_problems(s: Settings) -> list[str]:
    db, net = s.database, s.network
    problems = []
    if db.mode == "managed":
        if net.existing and len(net.private_subnet_ids) < 2:
            problems.append(
                f"{_key('network.privateSubnetIds')} = {_shown(net.private_subnet_ids)}: the managed "
                f"database (database.mode = managed) runs in private subnets, and RDS needs them in "
                f"at least 2 availability zones. Fix: list 2+ private subnets of network.vpcId, or "
                f"set database.mode to external or off."
            )
        # RDS refuses a threshold less than 10 % above the allocated storage ("Invalid max
        # storage size"; RDS user guide, storage autoscaling), not only one below it.
        least = -(-db.allocated_storage * 11 // 10)
        if db.max_allocated_storage and db.max_allocated_storage < least:
            problems.append(
                f"{_key('database.maxAllocatedStorage')} = {db.max_allocated_storage}: is less "
                f"than 10 % above database.allocatedStorage = {db.allocated_storage}, which RDS "
                f"refuses. Fix: set it to {least} or more, or 0 to turn storage autoscaling off."
            )
        if s.production and db.backup_retention_days == 0:
            problems.append(
                f"{_key('database.backupRetentionDays')} = 0: a production database needs automated "
                f"backups (and point-in-time recovery). Fix: `pulumi config set "
                f"--path database.backupRetentionDays 7` (1 to 35)."
            )
    if db.enabled:
        if db.statement_timeout >= s.load_balancer.idle_timeout:
            problems.append(
                f"{_key('database.statementTimeout')} = {db.statement_timeout}: must be below "
                f"loadBalancer.idleTimeout = {s.load_balancer.idle_timeout}, or the load balancer "
                f"drops the request while its query still runs. Fix: `pulumi config set --path "
                f"database.statementTimeout {max(1, min(5, s.load_balancer.idle_timeout - 1))}`."
            )
        if s.migration.lock_timeout >= db.statement_timeout:
            problems.append(
                f"{_key('migration.lockTimeout')} = {s.migration.lock_timeout}: must be below "
                f"database.statementTimeout = {db.statement_timeout}: app queries queued behind a "
                f"migration waiting for its lock would be cancelled. Fix: `pulumi config set "
                f"--path migration.lockTimeout {max(1, db.statement_timeout // 2)}`."
            )
    if db.mode == "external":
        if db.host is None:
            problems.append(
                f"{_key('database.host')}: is required with database.mode = external. Fix: "
                f"`pulumi config set --path database.host <host name of the database>`."
            )
        if db.secret_arn is None:
            problems.append(
                f"{_key('database.secretArn')}: is required with database.mode = external: the "
                f"tasks read the user name and password from it, never from config. Fix: store "
                f'{{"username": ..., "password": ...}} in a Secrets Manager secret and `pulumi config '
                f"set --path database.secretArn <its full ARN>`."
            )
    return problems


def _app_secret_problems(app_secrets: Mapping[str, bool]) -> list[str]:
    """Problems with the names under ``app-secrets:``; values are never read here."""
    problems = []
    for name, is_secret in sorted(app_secrets.items()):
        key = f"{APP_SECRETS_NAMESPACE}:{name}"
        if not _ENV_NAME.match(name):
            problems.append(
                f"{key}: is not an environment variable name (letters, digits and underscores, "
                f"not starting with a digit). Fix: `pulumi config rm {_shell_word(key)}` and set it as "
                f"`pulumi config set --secret {APP_SECRETS_NAMESPACE}:<NAME> <value>`."
            )
        elif not is_secret:
            problems.append(
                f"{key}: is stored in plain text in the stack's config; app secrets must be "
                f"encrypted. Fix: `pulumi config set --secret {key} <value>` (it replaces the "
                f"plain value)."
            )
    return problems


def _image_problems(s: Settings) -> list[str]:
    """Promotion's settings go together, and exclude image.uri."""
    image = s.image
    problems = []
    if image.promoted:
        for field, value, what in [
            (
                "sourceRepository",
                image.source_repository,
                "<ARN: the source stack's image_repository_arn output>",
            ),
            ("digest", image.digest, "<sha256:...: the digest the source stack runs>"),
        ]:
            if value is None:
                problems.append(
                    f"{_key('image.' + field)}: is required with image.promoteFrom = "
                    f"{image.promote_from}. Fix: `pulumi config set --path image.{field} "
                    f"{what}` (the deploy workflow sets image.digest itself)."
                )
        if image.uri is not None:
            problems.append(
                f"{_key('image.uri')} = {image.uri}: and image.promoteFrom = {image.promote_from} "
                f"both name the image to deploy. Fix: `pulumi config rm --path image.uri` or "
                f"`pulumi config rm --path image.promoteFrom`."
            )
        if image.build_reason is not None:
            problems.append(
                f"{_key('image.buildReason')}: this stack builds nothing (image.promoteFrom = "
                f"{image.promote_from}). Fix: `pulumi config rm --path image.buildReason`."
            )
    else:
        for field, value in [
            ("sourceRepository", image.source_repository),
            ("digest", image.digest),
        ]:
            if value is not None:
                problems.append(
                    f"{_key('image.' + field)} = {value}: is only read with image.promoteFrom. "
                    f"Fix: `pulumi config set --path image.promoteFrom <source stack>`, or "
                    f"`pulumi config rm --path image.{field}`."
                )
    return problems
