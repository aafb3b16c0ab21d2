"""What a change sets in motion in AWS, beyond the resources the diff names.

A diff shows which resources change; ``pulumi up`` then does more than update them:

* a changed task definition is a new *revision* (task definitions are immutable), so every
  service using it rolls out, task by task, and the release-phase migration (when migrations
  are on) runs first with the new revision. The plan says so, with the rollout time of
  ``plan.rollout``: "this change runs the migration and rolls out web: about 3 min 10 s";
* some input changes cannot be made in place: the provider deletes the resource and creates a
  new one. For a resource that holds data or a name users see (the database, the load
  balancer, the certificate, a DNS record) that is a warning of its own.

Which inputs force a replacement is not guessed: ``plan.provider_rules`` ports the AWS
provider's schema (pulumi-aws bridges terraform-provider-aws), each rule cited, and predicts
per resource what ``pulumi up`` asks AWS to do, following a replacement to the resources that
name the replaced one. The same predictions say what a change will *not* do: an input the
provider ignores (a suppressed diff, an omitted Optional + Computed attribute) is "no change on
AWS", a warning when the settings asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plan import provider_rules, rollout
from plan.changes import PlanDiff, ResourceChange
from plan.document import Plan, resources_by_key
from plan.types import short_type

TASK_DEFINITION = provider_rules.TASK_DEFINITION
SERVICE = provider_rules.SERVICE
MIGRATION = "pulumi-python:dynamic/migration:MigrationRun"
# The migration run's own provider runs the migration again only when one of these changes
# (components/migration.py, RUN_TRIGGER_KEYS, MigrationRunProvider.update); another change
# (its timeout) is stored without a run.
MIGRATION_RUN_TRIGGERS = frozenset({"task_definition", "command", "nonce"})

# The one replacement table, kept in plan.provider_rules with its sources: inputs whose change
# makes the provider replace the resource, by type (those of task definitions: every input but
# TASK_DEFINITION_IN_PLACE).
REPLACED_BY: dict[str, frozenset[str]] = {
    t: schema.force_new
    for t, schema in provider_rules.SCHEMAS.items()
    if schema.force_new != provider_rules.ALL
}
TASK_DEFINITION_IN_PLACE = provider_rules.SCHEMAS[TASK_DEFINITION].in_place
HOLDS_WHAT = provider_rules.HOLDS_WHAT

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
# With forceNewDeployment set (components/service.py sets it), every update of the service
# starts a deployment: UpdateService carries it on each call (terraform-provider-aws
# internal/service/ecs/service.go, resourceServiceUpdate).

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
    not_on_aws: list[str] = field(default_factory=list)
    """Changes the provider will not carry out ("no change on AWS"), or refuses, one line each."""

    @property
    def warnings(self) -> list[Replacement]:
        return [r for r in self.replacements if r.why]

    @property
    def empty(self) -> bool:
        return not (
            self.revisions
            or self.migrations
            or self.rollouts
            or self.replacements
            or self.not_on_aws
        )

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
            "not_on_aws": self.not_on_aws,
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
    return provider_rules.forces_replacement(type_, inputs)


def consequences(changes: PlanDiff, after: Plan) -> Consequences:
    """What applying ``changes`` (which end in the plan ``after``) sets in motion, from the
    provider's predictions (``changes.predictions``; computed here for a diff without them)."""
    by_key = resources_by_key(after)
    predictions = changes.predictions
    changed = {r.key: r for r in changes.resources if r.change == "change"}
    if not predictions:
        predictions = _from_inputs(changed)
    replacements: list[Replacement] = []
    revisions: list[str] = []
    for key, p in predictions.items():
        if key not in by_key or p.action != "replace":
            continue
        if p.type == TASK_DEFINITION:
            revisions.append(key)
        else:
            why = provider_rules.holds_what(p.type, by_key[key]["inputs"])
            replacements.append(Replacement(p.name, p.type, p.replaced_by, why))
    new_definitions = set(revisions)

    migrations = [
        r["key"]
        for r in after["resources"]
        if r["type"] == MIGRATION
        and (
            (
                r["key"] in predictions
                and bool(set(predictions[r["key"]].updated) & MIGRATION_RUN_TRIGGERS)
            )
            or any(k in new_definitions for k in r["uses"])
        )
    ]
    estimates = {e.service: e for e in rollout.estimate(after)}
    rollouts: list[tuple[str, int | None, bool]] = []
    for r in after["resources"]:
        if r["type"] != SERVICE:
            continue
        p = predictions.get(r["key"])
        updated = set(p.updated) if p is not None and p.action in ("update", "replace") else set()
        redeployed = (
            any(k in new_definitions for k in r["uses"])
            or bool(updated & SERVICE_REDEPLOYED_BY)
            or bool(updated and r["inputs"].get("forceNewDeployment"))
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
        not_on_aws=[provider_rules.describe(p) for p in changes.not_on_aws()],
    )


def _from_inputs(changed: Mapping[str, ResourceChange]) -> dict[str, provider_rules.Prediction]:
    """Predictions from the changed property paths alone (a diff built without both plans)."""
    out = {}
    for key, change in changed.items():
        inputs = changed_inputs(change)
        forcing = replaces(change.type, inputs)
        out[key] = provider_rules.Prediction(
            key,
            change.name,
            change.type,
            "replace" if forcing else ("update" if inputs else "none"),
            updated=tuple(sorted(inputs)),
            replaced_by=forcing,
        )
    return out


def _without_migration(estimate: rollout.Rollout) -> int | None:
    total = estimate.total
    if total is None:
        return None
    return total - sum(s.seconds for s in estimate.steps if not s.per_wave)


def format_text(c: Consequences) -> str:
    """The sections under a text diff; empty when the change sets nothing in motion."""
    lines: list[str] = []
    if c.not_on_aws:
        # Each is a setting change that will not happen: a warning, before the rest.
        lines += ["Not carried out on AWS (the provider keeps what is there, or refuses):"]
        lines += [f"  ! {line}" for line in c.not_on_aws]
        lines.append("")
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
    if c.not_on_aws:
        parts += [
            "> [!WARNING]",
            "> **Not carried out on AWS** (the provider keeps what is there, or refuses):",
            *(f"> - {line}" for line in c.not_on_aws),
            "",
        ]
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
