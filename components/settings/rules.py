"""Rules that span settings, one function per concept, run once every single value is
valid; each problem names the setting, its value and the fix.

No resource is created here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.settings.base import (
    EXAMPLES,
    _key,
    _parent,
    _ranges,
    _set_command,
    _shell_word,
    _shown,
    inside_zone,
)
from components.settings.facts import (
    _ENV_NAME,
    APP_SECRETS_NAMESPACE,
    DATABASE_ENV_NAMES,
    FARGATE_SIZES,
    GENERATED_APP_SECRETS,
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
        nearest = min(allowed, key=lambda m: (m < svc.memory, abs(m - svc.memory)))
        cpus = [c for c, sizes in sorted(FARGATE_SIZES.items()) if svc.memory in sizes]
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: Fargate does not offer {svc.memory} MiB "
            f"with service.cpu = {svc.cpu} (it offers {_ranges(allowed)}). Fix: "
            f"{_set_command('service.memory', nearest)}"
            + (f", or {_set_command('service.cpu', cpus[0])}." if cpus else ".")
        )
    budget = svc.worker_count * svc.memory_per_worker + TASK_MEMORY_OVERHEAD_MIB
    if budget > svc.memory:
        fitting = [m for m in allowed if m >= budget]
        workers = max(1, (svc.memory - TASK_MEMORY_OVERHEAD_MIB) // svc.memory_per_worker)
        problems.append(
            f"{_key('service.memory')} = {svc.memory}: {svc.worker_count} workers x "
            f"{svc.memory_per_worker} MiB (service.memoryPerWorker) + {TASK_MEMORY_OVERHEAD_MIB} "
            f"MiB overhead = {budget} MiB do not fit; every worker holds its own copy of the "
            f"app. Fix: "
            + (f"{_set_command('service.memory', fitting[0])}, or " if fitting else "")
            + f"{_set_command('service.workers', workers)}."
        )
    if scaling.enabled:
        if scaling.min_count > scaling.max_count:
            problems.append(
                f"{_key('scaling.minCount')} = {scaling.min_count}: is above scaling.maxCount = "
                f"{scaling.max_count}. Fix: "
                f"{_set_command('scaling.maxCount', scaling.min_count)}, or "
                f"{_set_command('scaling.minCount', scaling.max_count)}."
            )
        elif not scaling.min_count <= svc.desired_count <= scaling.max_count:
            problems.append(
                f"{_key('service.desiredCount')} = {svc.desired_count}: outside scaling.minCount.."
                f"scaling.maxCount = {scaling.min_count}..{scaling.max_count}. Fix: "
                + _set_command(
                    "service.desiredCount",
                    min(max(svc.desired_count, scaling.min_count), scaling.max_count),
                )
                + ", or widen the range."
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
                f"the certificate's validation records and the alias record. Fix: "
                f"{_set_command('https.hostedZone', _parent(https.domain))} (the name of your "
                f"Route 53 zone that holds it)."
            )
        if https.hosted_zone is not None:
            zone = https.hosted_zone
            for field, name in [("domain", https.domain)] + [
                (f"extraNames[{i}]", n) for i, n in enumerate(https.extra_names)
            ]:
                if not inside_zone(name, zone):  # type: ignore[arg-type]
                    inside = f"{name.split('.', 1)[0]}.{zone}"  # type: ignore[union-attr]
                    other = (
                        f", or {_set_command('https.hostedZone', _parent(name))} (the zone that "
                        f"holds it)"
                        if field == "domain"
                        else ""
                    )
                    problems.append(
                        f"{_key('https.' + field.split('[')[0])} = {name}: is not inside the "
                        f"hosted zone https.hostedZone = {zone}, so no record can be made for it. "
                        f"Fix: {_set_command('https.' + field, inside)}{other}."
                    )
        repeats = [i for i, n in enumerate(https.extra_names) if n in https.names[: i + 1]]
        if repeats:
            removals = ", then ".join(
                f"`pulumi config rm --path {_shell_word(f'https.extraNames[{i}]')}`"
                for i in reversed(repeats)
            )
            problems.append(
                f"{_key('https.extraNames')} = {_shown(https.extra_names)}: repeats a name "
                f"(each name once, without the domain). Fix: {removals}."
            )
    else:
        for field, value in [
            ("hostedZone", https.hosted_zone),
            ("hostedZoneId", https.hosted_zone_id),
            ("certificateArn", https.certificate_arn),
            ("extraNames", https.extra_names or None),
        ]:
            if value is not None:
                domain = (
                    f"api.{https.hosted_zone}" if https.hosted_zone else EXAMPLES["https.domain"]
                )
                problems.append(
                    f"{_key('https.' + field)} = {_shown(value)}: needs https.domain. Fix: "
                    f"{_set_command('https.domain', domain)} (a name of yours), or "
                    f"`pulumi config rm --path https.{field}`."
                )
        if s.production:
            zone = https.hosted_zone or EXAMPLES["https.hostedZone"]
            problems.append(
                f"{_key('https.domain')}: is required on a production stack (production = true); "
                f"the HTTP-only mode is for a first try. Fix: "
                f"{_set_command('https.domain', f'api.{zone}')} and "
                f"{_set_command('https.hostedZone', zone)} (a name in a Route 53 zone you own)."
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
                    f"{_set_command('network.nat', 'single')}, or set network.publicSubnetIds."
                )
            problems.append(
                f"{_key('network.publicSubnetIds')} = {_shown(net.public_subnet_ids)}: an existing "
                f"VPC needs at least 2 public subnets in distinct availability zones for the load "
                f"balancer. Fix: "
                + _set_command(
                    f"network.publicSubnetIds[{len(net.public_subnet_ids)}]",
                    EXAMPLES["network.publicSubnetIds"],
                )
                + " (the id of a public subnet of network.vpcId in another zone)."
            )
        if net.nat != "none" and not net.private_subnet_ids:
            problems.append(
                f"{_key('network.privateSubnetIds')}: is required with network.vpcId and "
                f"network.nat = {net.nat}: tasks run in private subnets. Fix: "
                + _set_command("network.privateSubnetIds[0]", EXAMPLES["network.privateSubnetIds"])
                + " (the id of one of them; one per zone), or "
                + _set_command("network.nat", "none")
                + " (tasks in the public subnets)."
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
                    f"subnets of an existing VPC). Fix: "
                    f"{_set_command('network.vpcId', EXAMPLES['network.vpcId'])} (the id of that "
                    f"VPC), or `pulumi config rm --path network.{field}`."
                )
    return problems


def _environment_problems(s: Settings) -> list[str]:
    """Container variables set twice, or set where the stack sets them itself."""
    problems = []
    svc = s.service
    names = [*svc.environment_variables, *svc.secret_arns]
    reserved = reserved_env_names(s)
    for name in sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved)):
        # The entries to remove: every one of a reserved name, the repeats of another.
        entries = [
            (member, i)
            for member, listed in (("environment", svc.environment), ("secrets", svc.secrets))
            for i, entry in enumerate(listed)
            if entry.split("=", 1)[0] == name
        ]
        drop = entries if name in reserved else entries[1:]
        removals = ", then ".join(
            f"`pulumi config rm --path {_shell_word(f'service.{member}[{i}]')}`"
            for member, i in sorted(drop, key=lambda e: (e[0], -e[1]))
        )
        problems.append(
            f"{_key('service.environment')}: {name} is set twice or is set by the stack itself "
            f"(reserved: {', '.join(sorted(reserved))}); the stack derives the reserved ones "
            f"from other settings. Fix: {removals}."
        )
    for name in s.app_secret_names:
        if name not in reserved and name not in names:
            continue
        source = (
            "the stack itself" if name in reserved else "service.environment or service.secrets"
        )
        if name in svc.app_secrets and name not in GENERATED_APP_SECRETS:
            path = f"service.appSecrets[{svc.app_secrets.index(name)}]"
            problems.append(
                f"{_key('service.appSecrets')}: the container already gets {name} from {source} "
                f"(reserved: {', '.join(sorted(reserved))}). Fix: `pulumi config rm --path "
                f"{_shell_word(path)}` and use another name."
            )
        else:
            # One the stack has on its own (API_TOKEN): the plain setting is what must go.
            problems.append(
                f"{_key('service.environment')}: {name} is an app secret the stack creates "
                f"itself (the release phase generates it); set in {source} it would bypass "
                f"Secrets Manager. Fix: remove {name} there; to choose its value, "
                f"`.venv/bin/python -m ops <stack> secrets set {name}`."
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
            f"would overlap. Fix: "
            f"{_set_command('alarms.lowUtilization', min(50, alarms.high_utilization - 1))}."
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
                f"at least 2 availability zones. Fix: "
                + _set_command(
                    f"network.privateSubnetIds[{len(net.private_subnet_ids)}]",
                    EXAMPLES["network.privateSubnetIds"],
                )
                + " (a private subnet of network.vpcId in another zone), or "
                + _set_command("database.mode", "off")
                + "."
            )
        # RDS refuses a threshold less than 10 % above the allocated storage ("Invalid max
        # storage size"; RDS user guide, storage autoscaling), not only one below it.
        least = -(-db.allocated_storage * 11 // 10)
        if db.max_allocated_storage and db.max_allocated_storage == db.allocated_storage:
            # RDS takes a ceiling equal to the allocated storage as "autoscaling off", and the
            # provider suppresses the diff between the two (terraform-provider-aws
            # internal/service/rds/instance.go, ResourceInstance, max_allocated_storage).
            problems.append(
                f"{_key('database.maxAllocatedStorage')} = {db.max_allocated_storage}: equals "
                f"database.allocatedStorage, which RDS reads as storage autoscaling off. Fix: "
                f"{_set_command('database.maxAllocatedStorage', 0)} to turn it off on purpose, "
                f"or {_set_command('database.maxAllocatedStorage', db.allocated_storage * 2)}."
            )
        elif db.max_allocated_storage and db.max_allocated_storage < least:
            problems.append(
                f"{_key('database.maxAllocatedStorage')} = {db.max_allocated_storage}: is less "
                f"than 10 % above database.allocatedStorage = {db.allocated_storage}, which RDS "
                f"refuses. Fix: "
                f"{_set_command('database.maxAllocatedStorage', db.allocated_storage * 2)}, "
                f"or {_set_command('database.maxAllocatedStorage', 0)} (no storage autoscaling)."
            )
        # 7: the policy pack's production-backup-retention minimum, said before anything renders.
        if s.production and db.backup_retention_days < 7:
            problems.append(
                f"{_key('database.backupRetentionDays')} = {db.backup_retention_days}: a production "
                f"database needs at least a week of automated backups (and point-in-time "
                f"recovery), to undo a mistake found after a weekend. Fix: `pulumi config set "
                f"--path database.backupRetentionDays 7` (7 to 35)."
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
                f"{_set_command('database.host', EXAMPLES['database.host'])} (the host name of "
                f"your database)."
            )
        if db.secret_arn is None:
            problems.append(
                f"{_key('database.secretArn')}: is required with database.mode = external: the "
                f"tasks read the user name and password from it, never from config. Fix: store "
                f'{{"username": ..., "password": ...}} in a Secrets Manager secret, then '
                f"{_set_command('database.secretArn', EXAMPLES['database.secretArn'])} (its "
                f"full ARN, with the 6 characters after the name)."
            )
    return problems


def _app_secret_problems(
    app_secrets: Mapping[str, bool], listed: Sequence[str] | None, stack: str
) -> list[str]:
    """A value under ``app-secrets:`` (where app secrets were set before): refused, with the
    commands that move it out of Pulumi config and state; values are never read here.

    ``listed`` is service.appSecrets when it is known (None when the settings are invalid);
    names already there need no new entry.
    """
    problems = []
    listed = list(listed) if listed is not None else None
    added = 0
    for name in sorted(app_secrets):
        key = f"{APP_SECRETS_NAMESPACE}:{name}"
        if not _ENV_NAME.match(name):
            problems.append(
                f"{key}: app secret values no longer live in Pulumi config, and this name is not "
                f"an environment variable name either. Fix: `pulumi config rm {_shell_word(key)}`;"
                f" list the secret under a valid name in service.appSecrets and set it with "
                f"`.venv/bin/python -m ops {stack} secrets set <NAME>`."
            )
            continue
        steps = []
        if listed is None:
            steps.append(f"`pulumi config set --path 'service.appSecrets[<next index>]' {name}`")
        elif name not in listed:
            steps.append(
                f"`pulumi config set --path 'service.appSecrets[{len(listed) + added}]' {name}`"
            )
            added += 1
        steps += [f"`pulumi config rm {key}`", "`pulumi up`"]
        problems.append(
            f"{key}: app secret values no longer live in Pulumi config or state, where anyone "
            f"who can decrypt the stack (pull-request previews included) reads them. Move it: "
            f"{', '.join(steps)}. A value already deployed stays in its Secrets Manager secret "
            f"(only Pulumi's copy goes; check with "
            f"`.venv/bin/python -m ops {stack} secrets list`); one never deployed is asked for by "
            f"the release phase: `.venv/bin/python -m ops {stack} secrets set {name}`. If the stack file was shared, rotate the value."
        )
    return problems


def _image_problems(s: Settings) -> list[str]:
    """Promotion's settings go together, and exclude image.uri; a stack other stacks promote
    from keeps building."""
    image = s.image
    problems = []
    if image.pull_role_arns and not image.builds:
        # Only a building stack has an ECR repository (components/image.py): stopping the build
        # on a live stack deletes it (force_delete outside production: with every image, the
        # digests the promoting stacks run included), and the grant would be silently ignored.
        instead = (
            f"image.promoteFrom = {image.promote_from}"
            if image.promoted
            else f"image.uri = {image.uri}"
        )
        problems.append(
            f"{_key('image.pullRoleArns')} = {list(image.pull_role_arns)}: other stacks promote "
            f"this stack's images from its ECR repository, but with {instead} it builds none and "
            f"has no repository: `pulumi up` would delete the repository and its images, the "
            f"ones those stacks run included. Fix: move the promoting stacks' "
            f"image.sourceRepository to another stack's repository first, then `pulumi config rm "
            f"--path image.pullRoleArns`; or keep building here (`pulumi config rm --path "
            f"{'image.promoteFrom' if image.promoted else 'image.uri'}`)."
        )
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
