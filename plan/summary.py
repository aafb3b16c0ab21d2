"""What a plan adds up to, said first: the answer a reader wants before any resource.

For one stack: how much it creates, what it costs a month, how long a rollout takes, what the
guardrails say and what the program warns about. For a change (``--against``, ``--base``): what
changes, what is replaced rather than updated, what the change sets in motion, and how the cost
and the rollout time move. A couple of dozen lines at most; the detail follows on request
(``--details``, ``--cost``, ``--rollout``), and in a pull request comment it is folded away.
"""

from __future__ import annotations

from collections.abc import Sequence

from plan import policies, rollout
from plan.cost import Estimate
from plan.describe import count
from plan.document import Plan, top_level
from plan.motion import Consequences
from plan.motion import format_text as motion_text
from plan.rollout import Rollout

# Where the rest is, for the reader of the summary.
TEXT_MORE = (
    "More: --details (every resource, setting and output), --cost (each price), --rollout "
    "(each step), --markdown (a pull request comment)."
)


def _cost(estimate: Estimate, change: str = "") -> str:
    return (
        f"{estimate.total:.2f} USD a month{change}, priced at {estimate.basis} ({estimate.as_of})"
    )


def _guardrails_text(plan: Plan) -> list[str]:
    return policies.format_text(plan["guardrails"]) if plan.get("guardrails") else []


def _warnings_text(plan: Plan) -> list[str]:
    return [f"! {warning}" for warning in plan["warnings"]]


def image_lines(plan: Plan) -> list[str]:
    """Where the tasks' image comes from: built by this stack, or promoted from another one by
    digest (``image.promoteFrom``), in which case nothing is built."""
    setting = f"{plan['project']}:image."
    config = plan["config"]
    source = config.get(setting + "promoteFrom")
    if source:
        repository = str(config.get(setting + "sourceRepository") or "").rsplit("/", 1)[-1]
        return [
            f"Image: promoted from stack {source}, {repository}@{config.get(setting + 'digest')}; "
            "nothing is built."
        ]
    builds = [r for r in plan["resources"] if r["type"] in rollout.IMAGE_TYPES]
    if not builds:
        return []
    reason = config.get(setting + "buildReason")
    why = f" (image.buildReason: {reason})" if reason else " (no image.buildReason)"
    return [f"Image: built from app/ by this stack, docker.Image {builds[0]['name']}{why}."]


def plan_text(plan: Plan, estimate: Estimate, rollouts: Sequence[Rollout]) -> list[str]:
    """The first lines of ``python -m plan STACK``."""
    return [
        f"Offline plan of stack {plan['stack']} ({plan['project']}, {plan['region']}): "
        f"{count(len(plan['resources']), 'resource')} in {count(len(top_level(plan)), 'group')}, "
        "what a first `pulumi up` creates.",
        f"Estimated cost: {_cost(estimate)}.",
        *rollout.summary_lines(rollouts),
        *_guardrails_text(plan),
        *_warnings_text(plan),
        *image_lines(plan),
    ]


def plan_markdown(plan: Plan, estimate: Estimate, rollouts: Sequence[Rollout]) -> str:
    """The top of a pull request comment for one stack: a small table, then the verdicts."""
    rows = [
        ("resources", f"{len(plan['resources'])} in {count(len(top_level(plan)), 'group')}"),
        ("monthly cost", f"**{estimate.total:.2f} USD**, priced at {estimate.basis} "
                         f"({estimate.as_of})"),
        *(("rollout", rollout.headline(r).removeprefix("Estimated rollout of ")) for r in rollouts),
        *(("image", line.removeprefix("Image: ")) for line in image_lines(plan)),
    ]  # fmt: skip
    parts = [
        f"### Offline plan: stack `{plan['stack']}` ({plan['region']})",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]
    if plan.get("guardrails"):
        parts.append(policies.format_markdown(plan["guardrails"]))
    if plan["warnings"]:
        parts += ["**Warnings from the program:**", *(f"- {w}" for w in plan["warnings"]), ""]
    return "\n".join(parts)


def diff_text(
    headline: str,
    moves: Consequences,
    after: Plan,
    estimates: tuple[Estimate, Estimate],
    rollouts: Sequence[Rollout],
) -> list[str]:
    """The first lines of a diff: what changes, what it sets in motion, cost and time."""
    before_cost, after_cost = estimates
    delta = after_cost.total - before_cost.total
    return [
        headline,
        # Its own paragraphs, each followed by a blank line: what is replaced, what moves.
        *(motion_text(moves).split("\n") if not moves.empty else []),
        f"Estimated cost: {before_cost.total:.2f} -> {_cost(after_cost, f' ({delta:+.2f})')}.",
        *rollout.summary_lines(rollouts),
        *_guardrails_text(after),
        *_warnings_text(after),
    ]
