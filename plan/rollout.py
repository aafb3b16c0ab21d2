"""How long a rollout of the stack takes, step by step, next to the same stack at AWS's defaults.

A rollout of an ECS service behind a load balancer is a sequence of waits, most of them set by
the stack. For each ECS service in the plan:

0. before it, outside the rollout's total, the image: a stack that builds its own (a
   ``docker.Image`` in the plan) builds app/ and pushes it on the deploy runner (an assumed
   ``IMAGE_BUILD`` seconds); a stack that deploys a prebuilt or promoted image by digest
   (``image.promoteFrom``) builds nothing. ``Rollout.build`` holds it, ``deploy_total`` adds it;
1. the release-phase migration, when the service waits for one: a task of the new definition
   starts (an assumed ``MIGRATION_TASK_START`` seconds), then the migration itself runs; its
   own time depends on the migration and is not estimated;
2. the new tasks start: ENI, image pull, container start (an assumed ``TASK_START`` seconds);
3. they turn healthy: the target group admits a task after ``healthyThreshold`` passing checks
   ``interval`` seconds apart; the container's own health check runs meanwhile and first
   reports after one of its intervals, so the later of the two counts;
4. the old tasks drain: ECS deregisters them and waits out the target group's
   ``deregistrationDelay`` before it stops them;
5. the old tasks stop: SIGTERM, then at most the app's graceful window
   (``GRACEFUL_SHUTDOWN_TIMEOUT`` of the container) when it sets one shorter than
   ``stopTimeout``, else ``stopTimeout`` (SIGKILL comes then). An idle app exits sooner: this is
   the bound, not the typical time.

Steps 2 to 5 repeat once per wave. ECS may run up to ``deploymentMaximumPercent`` of the
desired count and must keep ``deploymentMinimumHealthyPercent`` of it healthy, so each wave
replaces (max - desired) + (desired - min) tasks, rounded as ECS rounds (max down, min up):
with 100 % / 200 % every task is replaced in one wave.

With ``deploymentConfiguration.strategy`` ``BLUE_GREEN`` (ECS's native blue/green) the new
tasks start all at once beside the old ones, in the alternate target group (one wave, whatever
the percentages); when they are healthy the production listener rule moves all traffic to them
at once; the old tasks stay registered for the bake time (``bakeTimeInMinutes``), ready to take
the traffic back when a deployment alarm fires, and only then drain and stop.

The health check grace period does not appear: it only keeps ECS from replacing a task the load
balancer has not found healthy yet, it never delays a healthy one. The comparison uses the same
stack with AWS's defaults for what the program tunes: health checks every 30 s, healthy after
5, deregistration delay 300 s, no graceful window (``stopTimeout`` 30 s), 100 % / 200 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plan.document import Plan, resources_by_key

# Assumptions, stated wherever the estimate is shown.
MIGRATION_TASK_START = 60
"""Seconds from run_task to the migration's first line: placement, ENI, image pull, start."""
TASK_START = 60
"""Seconds for a new Fargate task to pull the image and start the server."""
IMAGE_BUILD = 90
"""Seconds to build app/ and push it from a fresh deploy runner with no build cache (the deploy
workflow keeps none): Buildx setup and the base image pull (45 MB) about 20 s, the locked wheels'
install 26 s (measured: app/requirements.lock into an empty venv, no pip cache), byte-compiling
and exporting about 15 s, pushing the new layers (the venv, about 40 MB compressed) to ECR about
30 s. An arm64 image built on an amd64 runner runs under emulation and takes several times this."""

# What AWS does when the program leaves these settings out.
AWS_DEFAULTS = {
    "interval": 30,
    "healthy_threshold": 5,
    "deregistration_delay": 300,
    "stop_timeout": 30,
    "minimum_percent": 100,
    "maximum_percent": 200,
}

SERVICE = "aws:ecs/service:Service"
IMAGE_TYPES = ("docker:index/image:Image", "docker-build:index:Image")
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
MIGRATION = "pulumi-python:dynamic/migration:MigrationRun"
GRACEFUL_WINDOW = "GRACEFUL_SHUTDOWN_TIMEOUT"

Resource = Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    """One wait of a rollout: seconds with this stack and with AWS's defaults, and why."""

    name: str
    seconds: int
    defaults: int
    why: str
    defaults_why: str = ""
    per_wave: bool = True


@dataclass(frozen=True)
class Rollout:
    """The estimated rollout of one ECS service."""

    service: str
    tasks: int
    waves: int | None
    """None when the deployment percentages let ECS neither start nor stop a task."""
    defaults_waves: int
    minimum_percent: int
    maximum_percent: int
    steps: tuple[Step, ...]
    migration: bool
    migration_timeout: int | None = None
    strategy: str = "rolling"
    """rolling or blue-green."""
    alarms: bool = False
    """Whether deployment alarms can fail (and roll back) the release."""
    build: Step | None = None
    """The image build before the rollout (0 s when the stack builds nothing)."""

    @property
    def total(self) -> int | None:
        return _total(self.steps, self.waves, lambda s: s.seconds)

    @property
    def deploy_total(self) -> int | None:
        """The image build and the rollout: what a deploy of a new commit waits for."""
        build = self.build.seconds if self.build is not None else 0
        return None if self.total is None else build + self.total

    @property
    def defaults_total(self) -> int:
        total = _total(self.steps, self.defaults_waves, lambda s: s.defaults)
        assert total is not None
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "strategy": self.strategy,
            "tasks": self.tasks,
            "waves": self.waves,
            "minimum_healthy_percent": self.minimum_percent,
            "maximum_percent": self.maximum_percent,
            "total_seconds": self.total,
            "aws_defaults_total_seconds": self.defaults_total,
            "image_build_seconds": self.build.seconds if self.build is not None else None,
            "image_build_from": self.build.why if self.build is not None else None,
            "deploy_total_seconds": self.deploy_total,
            "plus_migration_time": self.migration,
            "migration_timeout_seconds": self.migration_timeout,
            "steps": [
                {
                    "step": s.name,
                    "seconds": s.seconds,
                    "aws_defaults_seconds": s.defaults,
                    "per_wave": s.per_wave,
                    "from": s.why,
                }
                for s in self.steps
            ],
        }


def _total(steps: Sequence[Step], waves: int | None, seconds: Any) -> int | None:
    if waves is None:
        return None
    once = sum(seconds(s) for s in steps if not s.per_wave)
    return once + waves * sum(seconds(s) for s in steps if s.per_wave)


def waves(tasks: int, minimum_percent: int, maximum_percent: int) -> int | None:
    """How many rounds ECS needs to replace ``tasks`` tasks; None if it cannot replace any."""
    if tasks <= 0:
        return 0
    above = math.floor(tasks * maximum_percent / 100) - tasks
    below = tasks - math.ceil(tasks * minimum_percent / 100)
    batch = max(above, 0) + max(below, 0)
    return math.ceil(tasks / batch) if batch > 0 else None


def estimate(plan: Plan) -> list[Rollout]:
    """The rollout of every ECS service in the plan, in plan order."""
    by_key = resources_by_key(plan)
    builds = [r for r in plan["resources"] if r["type"] in IMAGE_TYPES]
    return [_service(r, by_key, builds) for r in plan["resources"] if r["type"] == SERVICE]


def _image(builds: Sequence[Resource], container: Mapping[str, Any]) -> Step:
    if builds:
        why = (
            f"assumed: {IMAGE_BUILD} s to build app/ and push it (docker.Image {builds[0]['name']})"
        )
        return Step("image builds and pushes", IMAGE_BUILD, IMAGE_BUILD, why, per_wave=False)
    image = str(container.get("image") or "the task definition's image").rsplit("/", 1)[-1]
    name, at, digest = image.partition("@")
    shown = f"{name}@{digest[:19]}..." if at and len(digest) > 19 else image
    return Step(
        "image builds and pushes",
        0,
        0,
        f"nothing built: the tasks run {shown} (promoted or prebuilt)",
        per_wave=False,
    )


def _service(
    service: Resource, by_key: Mapping[str, Resource], builds: Sequence[Resource] = ()
) -> Rollout:
    i = service["inputs"]
    tasks = int(i.get("desiredCount") or 0)
    balancers = i.get("loadBalancers") or []
    container_name = balancers[0].get("containerName") if balancers else None
    target_group = _related(service, by_key, TARGET_GROUP, "uses")
    task = _related(service, by_key, TASK_DEFINITION, "uses")
    migration = _related(service, by_key, MIGRATION, "waits_for")
    container = _container(task, container_name)

    steps: list[Step] = []
    if migration is not None:
        steps.append(
            Step(
                "migration task starts",
                MIGRATION_TASK_START,
                MIGRATION_TASK_START,
                f"assumed: {MIGRATION_TASK_START} s to place, pull and start a task",
                per_wave=False,
            )
        )
    steps.append(
        Step(
            "new tasks start",
            TASK_START,
            TASK_START,
            f"assumed: {TASK_START} s to pull the image and start on Fargate",
        )
    )
    steps.append(_healthy(target_group, container))
    config = i.get("deploymentConfiguration") or {}
    blue_green = str(config.get("strategy") or "ROLLING").upper() == "BLUE_GREEN"
    if blue_green:
        steps += _blue_green(config)
    steps.append(_drain(target_group))
    steps.append(_stop(container))

    timeout = (migration or {}).get("inputs", {}).get("timeout_seconds")
    minimum = int(i.get("deploymentMinimumHealthyPercent", AWS_DEFAULTS["minimum_percent"]))
    maximum = int(i.get("deploymentMaximumPercent", AWS_DEFAULTS["maximum_percent"]))
    # Blue/green starts the whole new revision at once, whatever the percentages say.
    rollout_waves = (1 if tasks else 0) if blue_green else waves(tasks, minimum, maximum)
    default_waves = waves(tasks, AWS_DEFAULTS["minimum_percent"], AWS_DEFAULTS["maximum_percent"])
    return Rollout(
        service=service["name"],
        tasks=tasks,
        waves=rollout_waves,
        # At 100 % / 200 % ECS can always replace every task: never None.
        defaults_waves=(1 if tasks else 0) if blue_green else default_waves or 0,
        strategy="blue-green" if blue_green else "rolling",
        alarms=bool((i.get("alarms") or {}).get("enable")),
        minimum_percent=minimum,
        maximum_percent=maximum,
        steps=tuple(steps),
        migration=migration is not None,
        migration_timeout=int(timeout) if timeout is not None else None,
        build=_image(builds, container),
    )


def _blue_green(config: Mapping[str, Any]) -> list[Step]:
    """The waits blue/green adds between the new tasks' health and the old tasks' drain."""
    bake = int(config.get("bakeTimeInMinutes") or 0) * 60
    return [
        Step(
            "traffic moves to the new tasks",
            0,
            0,
            "blue/green: the production listener rule's weights change at once",
        ),
        Step(
            "bake time (old tasks kept)",
            bake,
            bake,
            f"bakeTimeInMinutes {bake // 60}: a deployment alarm moves traffic back at once",
            "the same bake time",
        ),
    ]


def _related(r: Resource, by_key: Mapping[str, Resource], type_: str, how: str) -> Resource | None:
    return next((by_key[k] for k in r[how] if k in by_key and by_key[k]["type"] == type_), None)


def _container(task: Resource | None, name: str | None) -> Mapping[str, Any]:
    definitions = (task or {}).get("inputs", {}).get("containerDefinitions")
    if not isinstance(definitions, list) or not definitions:
        return {}
    return next((c for c in definitions if c.get("name") == name), definitions[0])


def _healthy(target_group: Resource | None, container: Mapping[str, Any]) -> Step:
    check = container.get("healthCheck") or {}
    # Docker runs a container's first health check one interval after the start.
    own = int(check.get("interval") or 0)
    own_why = f"; the container's own check first reports after {own} s" if own else ""
    if target_group is None:
        why = (
            f"no target group in the plan: the container's own check, first after {own} s"
            if own
            else "no target group in the plan and no container health check: running is enough"
        )
        return Step("new tasks turn healthy", own, own, why)
    tg = target_group["inputs"].get("healthCheck") or {}
    interval = int(tg.get("interval") or AWS_DEFAULTS["interval"])
    threshold = int(tg.get("healthyThreshold") or AWS_DEFAULTS["healthy_threshold"])
    default_balancer = AWS_DEFAULTS["interval"] * AWS_DEFAULTS["healthy_threshold"]
    return Step(
        "new tasks turn healthy",
        max(interval * threshold, own),
        max(default_balancer, own),
        f"target group {target_group['name']}: {threshold} checks {interval} s apart" + own_why,
        f"{AWS_DEFAULTS['healthy_threshold']} checks {AWS_DEFAULTS['interval']} s apart",
    )


def _drain(target_group: Resource | None) -> Step:
    if target_group is None:
        return Step("old tasks drain", 0, 0, "no target group in the plan: nothing to drain")
    delay = target_group["inputs"].get("deregistrationDelay")
    seconds = AWS_DEFAULTS["deregistration_delay"] if delay is None else int(delay)
    return Step(
        "old tasks drain",
        seconds,
        AWS_DEFAULTS["deregistration_delay"],
        f"deregistration delay of target group {target_group['name']}",
    )


def _stop(container: Mapping[str, Any]) -> Step:
    stop_timeout = int(container.get("stopTimeout") or AWS_DEFAULTS["stop_timeout"])
    variables = {e.get("name"): e.get("value") for e in container.get("environment") or []}
    window = variables.get(GRACEFUL_WINDOW)
    defaults_why = f"no graceful window, stopTimeout {AWS_DEFAULTS['stop_timeout']} s"
    if isinstance(window, str) and window.isdigit() and int(window) < stop_timeout:
        return Step(
            "old tasks stop",
            int(window),
            AWS_DEFAULTS["stop_timeout"],
            f"at most the app's graceful window ({GRACEFUL_WINDOW}); stopTimeout is "
            f"{stop_timeout} s",
            defaults_why,
        )
    return Step(
        "old tasks stop",
        stop_timeout,
        AWS_DEFAULTS["stop_timeout"],
        "at most the container's stopTimeout (the app sets no shorter graceful window)",
        defaults_why,
    )


def duration(seconds: int | None) -> str:
    """``190`` -> ``3 min 10 s``; ``45`` -> ``45 s``; None -> ``never``."""
    if seconds is None:
        return "never"
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _plus(rollout: Rollout) -> str:
    return ", plus the migration's own time" if rollout.migration else ""


def headline(rollout: Rollout) -> str:
    """One sentence: this stack's rollout time next to AWS's defaults."""
    if rollout.waves is None:
        return (
            f"Estimated rollout of service {rollout.service}: never finishes: at min healthy "
            f"{rollout.minimum_percent} % and max {rollout.maximum_percent} %, ECS can neither "
            "start nor stop a task."
        )
    strategy = " (blue/green)" if rollout.strategy == "blue-green" else ""
    return (
        f"Estimated rollout of service {rollout.service}{strategy}: {duration(rollout.total)} "
        f"(AWS's defaults: {duration(rollout.defaults_total)}){_plus(rollout)}."
    )


def summary_lines(rollouts: Sequence[Rollout]) -> list[str]:
    """The headline of each service, for the top of the text plan."""
    return [headline(r) for r in rollouts]


def assumptions(rollout: Rollout) -> list[str]:
    """What the estimate takes for granted, in the words both formats print."""
    tasks = f"{rollout.tasks} {'task' if rollout.tasks == 1 else 'tasks'}"
    if rollout.strategy == "blue-green":
        first = (
            f"{tasks} (the service's desiredCount; autoscaling may change it), blue/green: the "
            f"new revision starts all at once beside the old one, so the stack needs room for "
            f"twice the tasks during a release."
        )
    else:
        first = (
            f"{tasks} (the service's desiredCount; autoscaling may change it) at min healthy "
            f"{rollout.minimum_percent} %, max {rollout.maximum_percent} %: "
            + (
                "ECS cannot replace any."
                if rollout.waves is None
                else f"replaced in {_count(rollout.waves, 'wave')}"
                + ("" if rollout.waves == 1 else "; the task steps repeat in every wave")
                + "."
            )
        )
    notes = [
        first,
        "A healthy image: a failing one ends with the circuit breaker instead, if the service "
        "has one. ECS's and Pulumi's own polling add some seconds.",
    ]
    if rollout.alarms and rollout.strategy == "rolling":
        notes.append(
            "With deployment alarms, ECS keeps watching them for a while after the last task "
            "is replaced (a bake time it derives from the alarms' periods; not estimated)."
        )
    if rollout.migration:
        limit = (
            f", and at most its timeout of {rollout.migration_timeout} s"
            if rollout.migration_timeout
            else ""
        )
        notes.append(
            "The migration's own time is not estimated: add it (it runs when the task "
            f"definition changes{limit})."
        )
    notes.append(
        "The health check grace period does not delay a healthy rollout. The stop step is a "
        "bound: an app with no requests left exits sooner."
    )
    return notes


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _from(step: Step) -> str:
    return step.why + (f" (AWS: {step.defaults_why})" if step.defaults_why else "")


def format_text(rollouts: Sequence[Rollout]) -> str:
    """Each service's rollout as an aligned table of steps, with its assumptions."""
    if not rollouts:
        return "Estimated rollout: the plan has no ECS service.\n"
    out: list[str] = []
    for rollout in rollouts:
        rows = [("step", "this stack", "AWS's defaults", "from")]
        rows += [(s.name, f"{s.seconds} s", f"{s.defaults} s", _from(s)) for s in rollout.steps]
        if rollout.migration:
            rows.append(("the migration itself", "?", "?", "not estimated"))
        rows.append(("total", duration(rollout.total), duration(rollout.defaults_total), ""))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        out += [headline(rollout)]
        for row in rows:
            cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2])]
            out.append(("  " + "  ".join(cells) + "  " + row[3]).rstrip())
        out += build_lines(rollout)
        out += ["Assumptions:", *(f"  - {a}" for a in assumptions(rollout))]
    return "\n".join(out) + "\n"


def format_change(before: Sequence[Rollout], after: Sequence[Rollout]) -> str:
    """One line per service of ``after``: its rollout time before -> after."""
    earlier = {r.service: r for r in before}
    lines = []
    for r in after:
        old = duration(earlier[r.service].total) if r.service in earlier else "(no service)"
        lines.append(f"Estimated rollout of service {r.service}: {old} -> {duration(r.total)}.")
    return "\n".join(lines) + "\n" if lines else ""


def build_lines(rollout: Rollout) -> list[str]:
    """The image build before the rollout, and the deploy's total with it."""
    if rollout.build is None:
        return []
    return [
        f"Image build before the rollout: {duration(rollout.build.seconds)} "
        f"({rollout.build.why}); a deploy of a new commit: {duration(rollout.deploy_total)}."
    ]


def format_markdown(rollouts: Sequence[Rollout], before: Sequence[Rollout] = ()) -> str:
    """The rollouts for a pull request comment; with ``before``, each total's change too."""
    if not rollouts:
        return "**Estimated rollout:** the plan has no ECS service.\n"
    earlier = {r.service: r for r in before}
    out: list[str] = []
    for rollout in rollouts:
        context = [f"AWS's defaults: {duration(rollout.defaults_total)}"]
        old = earlier.get(rollout.service)
        if old is not None:
            change = (
                f", {rollout.total - old.total:+d} s"
                if old.total is not None and rollout.total is not None
                else ""
            )
            context.insert(0, f"before: {duration(old.total)}{change}")
        out += [
            f"**Estimated rollout of `{rollout.service}`: {duration(rollout.total)}** "
            f"({'; '.join(context)}){_plus(rollout)}.",
            "",
            f"<details><summary>Rollout steps of {rollout.service}</summary>",
            "",
            "| step | this stack | AWS's defaults | from |",
            "|---|---:|---:|---|",
            *(f"| {s.name} | {s.seconds} s | {s.defaults} s | {_from(s)} |" for s in rollout.steps),
        ]
        if rollout.migration:
            out.append("| the migration itself | ? | ? | not estimated |")
        out += [
            f"| **total** | **{duration(rollout.total)}** | **{duration(rollout.defaults_total)}**"
            " | |",
            "",
            *build_lines(rollout),
            *([""] if rollout.build is not None else []),
            *(f"- {a}" for a in assumptions(rollout)),
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)
