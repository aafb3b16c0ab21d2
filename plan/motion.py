"""What a change sets in motion in AWS, beyond the resources the diff names.

A diff shows which resources change; ``pulumi up`` then does more than update them:

* a changed task definition is a new *revision* (task definitions are immutable), so every
  service using it rolls out, task by task, and the release-phase migration (when migrations
  are on) runs first with the new revision. The plan says so, with the rollout time of
  ``plan.rollout``: "this change runs the migration and rolls out web: about 3 min 10 s";
* some input changes cannot be made in place: the provider deletes the resource and creates a
  new one. For a resource that holds data or a name users see (the database, the load
  balancer, the certificate, a DNS record) that is a warning of its own.

Which inputs force a replacement is not guessed: ``REPLACED_BY`` lists, for the resource types
this program creates, the inputs that the AWS provider marks ``ForceNew``. pulumi-aws is a
bridge of terraform-provider-aws and takes replacements from its schema; the cited files are
hashicorp/terraform-provider-aws ``internal/service/<service>/<file>.go``, each resource's
schema function. A test checks every name against the installed pulumi_aws's ``...Args``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from plan import rollout
from plan.document import Plan, resources_by_key
from plan.types import short_type

if TYPE_CHECKING:
    from plan.diff import PlanDiff, ResourceChange

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
MIGRATION = "pulumi-python:dynamic/migration:MigrationRun"

# Inputs whose change makes the provider replace the resource (ForceNew in the schema).
REPLACED_BY: dict[str, frozenset[str]] = {
    # internal/service/rds/instance.go, ResourceInstance: availability_zone,
    # character_set_name, custom_iam_instance_profile, db_name, engine, identifier,
    # identifier_prefix, kms_key_id, nchar_character_set_name, restore_to_point_in_time,
    # s3_import, snapshot_identifier, storage_encrypted, timezone, username.
    "aws:rds/instance:Instance": frozenset(
        {
            "availabilityZone",
            "characterSetName",
            "customIamInstanceProfile",
            "dbName",
            "engine",
            "identifier",
            "identifierPrefix",
            "kmsKeyId",
            "ncharCharacterSetName",
            "restoreToPointInTime",
            "s3Import",
            "snapshotIdentifier",
            "storageEncrypted",
            "timezone",
            "username",
        }
    ),
    # internal/service/elbv2/load_balancer.go, ResourceLoadBalancer: customer_owned_ipv4_pool,
    # internal, load_balancer_type, name, name_prefix.
    "aws:lb/loadBalancer:LoadBalancer": frozenset(
        {"customerOwnedIpv4Pool", "internal", "loadBalancerType", "name", "namePrefix"}
    ),
    # internal/service/elbv2/target_group.go, ResourceTargetGroup: ip_address_type, name,
    # name_prefix, port, protocol, protocol_version, target_type, vpc_id.
    "aws:lb/targetGroup:TargetGroup": frozenset(
        {
            "ipAddressType",
            "name",
            "namePrefix",
            "port",
            "protocol",
            "protocolVersion",
            "targetType",
            "vpcId",
        }
    ),
    # internal/service/acm/certificate.go, resourceCertificate: certificate_authority_arn,
    # domain_name, key_algorithm, subject_alternative_names, validation_method,
    # validation_option.
    "aws:acm/certificate:Certificate": frozenset(
        {
            "certificateAuthorityArn",
            "domainName",
            "keyAlgorithm",
            "subjectAlternativeNames",
            "validationMethod",
            "validationOptions",
        }
    ),
    # internal/service/route53/record.go, resourceRecord: name, zone_id (a changed type or
    # set_identifier is a delete and create inside one update, not a replacement).
    "aws:route53/record:Record": frozenset({"name", "zoneId"}),
    # internal/service/ecs/service.go, ResourceService: cluster, deployment_controller.type,
    # iam_role, launch_type, name, scheduling_strategy.
    "aws:ecs/service:Service": frozenset(
        {"cluster", "deploymentController", "iamRole", "launchType", "name", "schedulingStrategy"}
    ),
}

# internal/service/ecs/task_definition.go, ResourceTaskDefinition: every argument is ForceNew
# except these: any other change registers a new revision.
TASK_DEFINITION_IN_PLACE = frozenset({"skipDestroy", "tags", "trackLatest"})

# Why a replacement of these hurts, in the words of the warning.
HOLDS_WHAT: dict[str, str] = {
    "aws:rds/instance:Instance": "it holds the database: the new instance starts empty (RDS "
    "takes a final snapshot first unless skipFinalSnapshot is set; restoring it is by hand)",
    "aws:lb/loadBalancer:LoadBalancer": "its DNS name is where users' traffic goes: the new load "
    "balancer gets a new name, and requests fail until DNS follows it",
    "aws:acm/certificate:Certificate": "HTTPS depends on it: the new certificate must be "
    "validated again before the listener can use it",
    "aws:route53/record:Record": "it is a name users type: between the delete and the create "
    "the name does not resolve",
}

# An ECS service starts a new deployment (new tasks, old ones drained) when one of these
# changes: AWS ECS API reference, UpdateService ("When you update ... the task definition,
# network configuration, load balancers, capacity provider strategy or platform version,
# Amazon ECS starts new tasks with the new configuration").
SERVICE_REDEPLOYED_BY = frozenset(
    {
        "taskDefinition",
        "networkConfiguration",
        "loadBalancers",
        "capacityProviderStrategies",
        "platformVersion",
        "forceNewDeployment",
    }
)

_TOP = re.compile(r"^([^.\[]+)")


@dataclass(frozen=True)
class Replacement:
    resource: str
    type: str
    inputs: tuple[str, ...]
    why: str = ""
    """What a replacement of this resource costs users; empty for the ones that cost nothing."""


@dataclass(frozen=True)
class Consequences:
    """What ``pulumi up`` would set in motion for one diff."""

    revisions: list[str] = field(default_factory=list)
    """Task definitions that get a new revision."""
    migrations: list[str] = field(default_factory=list)
    """Migration runs that run again (before the rollout)."""
    rollouts: list[tuple[str, int | None, bool]] = field(default_factory=list)
    """(service, estimated seconds or None, whether a migration runs first)."""
    replacements: list[Replacement] = field(default_factory=list)

    @property
    def warnings(self) -> list[Replacement]:
        return [r for r in self.replacements if r.why]

    @property
    def empty(self) -> bool:
        return not (self.revisions or self.migrations or self.rollouts or self.replacements)

    def sentence(self) -> str:
        """ "this change runs the migration and rolls out web: about 3 min 10 s"."""
        if not self.rollouts and not self.migrations:
            return ""
        verbs = []
        if self.migrations:
            verbs.append(
                "runs the migration" if len(self.migrations) == 1 else "runs the migrations"
            )
        if self.rollouts:
            verbs.append("rolls out " + ", ".join(name for name, _, _ in self.rollouts))
        text = "this change " + " and ".join(verbs)
        times = [s for _, s, _ in self.rollouts]
        if self.rollouts and all(s is not None for s in times):
            text += f": about {rollout.duration(max(s for s in times if s is not None))}"
            if self.migrations:
                text += ", plus the migration's own time"
        elif self.rollouts:
            text += ": never finishes (the deployment percentages let ECS replace no task)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.sentence(),
            "new_task_definition_revisions": self.revisions,
            "migrations": self.migrations,
            "rollouts": [
                {"service": s, "estimated_seconds": t, "after_migration": m}
                for s, t, m in self.rollouts
            ],
            "replacements": [
                {"resource": r.resource, "type": r.type, "inputs": list(r.inputs), "warning": r.why}
                for r in self.replacements
            ],
        }


def changed_inputs(change: ResourceChange) -> set[str]:
    """The top-level inputs a change touches (``containerDefinitions[name=app].image`` ->
    ``containerDefinitions``); resource options, written "(waits for)", are not inputs."""
    found = set()
    for p in change.properties:
        if p.path.startswith("("):
            continue
        match = _TOP.match(p.path)
        if match:
            found.add(match[1])
    return found


def replaces(type_: str, inputs: set[str]) -> tuple[str, ...]:
    """The inputs among ``inputs`` that force a replacement of a ``type_`` resource."""
    if type_ == TASK_DEFINITION:
        return tuple(sorted(inputs - TASK_DEFINITION_IN_PLACE))
    return tuple(sorted(inputs & REPLACED_BY.get(type_, frozenset())))


def consequences(changes: PlanDiff, after: Plan) -> Consequences:
    """What applying ``changes`` (which end in the plan ``after``) sets in motion."""
    by_key = resources_by_key(after)
    changed = {r.key: r for r in changes.resources if r.change == "change"}
    replacements: list[Replacement] = []
    revisions: list[str] = []
    for key, change in changed.items():
        forcing = replaces(change.type, changed_inputs(change))
        if not forcing:
            continue
        if change.type == TASK_DEFINITION:
            revisions.append(key)
        else:
            replacements.append(
                Replacement(change.name, change.type, forcing, HOLDS_WHAT.get(change.type, ""))
            )
    new_definitions = set(revisions)

    migrations = [
        r["key"]
        for r in after["resources"]
        if r["type"] == MIGRATION
        and (r["key"] in changed or any(k in new_definitions for k in r["uses"]))
    ]
    estimates = {e.service: e for e in rollout.estimate(after)}
    rollouts: list[tuple[str, int | None, bool]] = []
    for r in after["resources"]:
        if r["type"] != SERVICE:
            continue
        redeployed = any(k in new_definitions for k in r["uses"]) or bool(
            r["key"] in changed and changed_inputs(changed[r["key"]]) & SERVICE_REDEPLOYED_BY
        )
        if not redeployed:
            continue
        waits_for_migration = any(k in migrations for k in r["waits_for"])
        estimate = estimates.get(r["name"])
        seconds = estimate.total if estimate is not None else None
        if estimate is not None and not waits_for_migration and estimate.migration:
            # The migration step is in the estimate only when the migration runs this time.
            seconds = _without_migration(estimate)
        rollouts.append((r["name"], seconds, waits_for_migration))
    return Consequences(
        revisions=[by_key[k]["name"] for k in revisions if k in by_key],
        migrations=[by_key[k]["name"] for k in migrations],
        rollouts=rollouts,
        replacements=replacements,
    )


def _without_migration(estimate: rollout.Rollout) -> int | None:
    total = estimate.total
    if total is None:
        return None
    return total - sum(s.seconds for s in estimate.steps if not s.per_wave)


def format_text(c: Consequences) -> str:
    """The sections under a text diff; empty when the change sets nothing in motion."""
    lines: list[str] = []
    if c.warnings:
        lines += ["Replaced, not updated (deleted and created anew):"]
        for r in c.warnings:
            lines.append(
                f"  ! {r.resource} [{short_type(r.type)}]: {_inputs(r.inputs)} cannot change in "
                f"place; {r.why}."
            )
        lines.append("")
    motion = _motion(c)
    if motion:
        lines += ["Sets in motion:", *(f"  - {m}" for m in motion)]
        sentence = c.sentence()
        if sentence:
            lines.append(f"  {sentence[0].upper()}{sentence[1:]}.")
        lines.append("")
    return "\n".join(lines)


def format_markdown(c: Consequences) -> str:
    """The same for a pull request comment: the warning first, as a GitHub alert."""
    parts: list[str] = []
    if c.warnings:
        parts += ["> [!WARNING]", "> **Replaced, not updated** (deleted and created anew):"]
        for r in c.warnings:
            parts.append(
                f"> - `{r.resource}` ({short_type(r.type)}): {_inputs(r.inputs)} cannot change in "
                f"place; {r.why}."
            )
        parts.append("")
    motion = _motion(c)
    if motion:
        sentence = c.sentence()
        head = f"**Sets in motion:** {sentence}." if sentence else "**Sets in motion:**"
        parts += [head, "", *(f"- {m}" for m in motion), ""]
    return "\n".join(parts)


def _motion(c: Consequences) -> list[str]:
    out = [
        f"{name}: a new task definition revision (a task definition cannot change in place)"
        for name in c.revisions
    ]
    out += [
        f"{name}: runs the migration with the new revision, before any new task serves"
        for name in c.migrations
    ]
    for name, seconds, after_migration in c.rollouts:
        first = " after the migration" if after_migration else ""
        out.append(
            f"{name}: a rolling deployment{first}, about {rollout.duration(seconds)}"
            if seconds is not None
            else f"{name}: a rolling deployment{first} that never finishes"
        )
    out += [
        f"{r.resource} [{short_type(r.type)}]: replaced ({_inputs(r.inputs)} cannot change in "
        "place)"
        for r in c.replacements
        if not r.why
    ]
    return out


def _inputs(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def types_in(plans: Sequence[Mapping[str, Any]]) -> set[str]:
    """Every resource type in these plans."""
    return {r["type"] for p in plans for r in p["resources"]}
