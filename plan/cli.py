"""The command line of the offline plan: ``python -m plan STACK [options]``.

Prints the plan of a stack (text, ``--json``, ``--markdown`` or ``--mermaid``). Text and
Markdown start with the summary (``plan.summary``: what it creates or changes, the monthly cost,
the rollout time, the guardrails); the text adds every resource with ``--details``
(``--full`` for long inputs), each price with ``--cost`` and each rollout step with
``--rollout``; Markdown folds them. Or the diff against another stack
(``--against``), a saved JSON plan (``--against-file``) or the program at a git revision
(``--base``). With ``--base``, the Alembic revisions the change adds are named and their SQL
linted (``plan.migrations``); ``--check-migrations`` also runs the previous version's API tests
on the schema they produce (``plan.migration_check``). The project's policy pack runs on the plan as ``pulumi preview --policy-pack
policy`` would run it (``--no-policy`` skips it): a mandatory violation prints the plan, names
each violation and exits with status 1. Bad input (an unknown stack, invalid settings, an
unreadable file, a bad git ref) prints one clear message and exits with status 2; a diff exits
0 whether or not something changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plan import describe, policies, rollout, summary
from plan.document import Plan, build_plan, check_plan
from plan.errors import PlanError
from plan.render import ROOT
from plan.stackfile import StackFile, load_stack

if TYPE_CHECKING:
    from plan.diff import PlanDiff

# The modules only some options need (cost, diff, mermaid, motion, base) are imported where
# they are used: a plain `python -m plan dev` should cost little more than its imports.

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=".venv/bin/python -m plan",
        description="Render, describe, diff and cost a stack offline: no AWS credentials, no "
        "Pulumi CLI, no state.",
    )
    p.add_argument("stack", nargs="?", help="the stack to plan: reads Pulumi.STACK.yaml")
    p.add_argument(
        "--stack-file",
        type=Path,
        metavar="PATH",
        help="read the stack's config from this file instead (the stack name defaults to "
        "the X of Pulumi.X.yaml)",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="the project directory to plan (default: this checkout)",
    )
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON (stable key order)")
    output.add_argument(
        "--markdown", action="store_true", help="print Markdown, as for a pull request comment"
    )
    output.add_argument("--mermaid", action="store_true", help="print only the Mermaid chart")
    p.add_argument(
        "--details",
        action="store_true",
        help="after the summary, every resource with what a reviewer checks, the settings and "
        "the outputs (a diff always lists what changed)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="with --details, print long inputs (a dashboard's body, an alarm's metric queries) "
        "instead of summarizing them",
    )
    p.add_argument("--cost", action="store_true", help="add each line of the monthly cost")
    p.add_argument(
        "--no-policy",
        action="store_true",
        help="skip the guardrails (the policy pack in policy/, with policy/config.STACK.json)",
    )
    # Internal: how plan.base plans a --base revision (no guardrails, no AWS request check).
    p.add_argument("--as-base", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--rollout",
        action="store_true",
        help="add how long a rollout takes, step by step, next to AWS's defaults (the text "
        "summary and --markdown always show the total)",
    )
    against = p.add_mutually_exclusive_group()
    against.add_argument("--against", metavar="STACK", help="diff against another stack's plan")
    against.add_argument(
        "--against-file", type=Path, metavar="PLAN.json", help="diff against a saved --json plan"
    )
    against.add_argument(
        "--base",
        metavar="GIT_REF",
        help="diff against the program at this git revision (like origin/main); also names "
        "the migrations the change adds and lints their SQL with squawk",
    )
    p.add_argument(
        "--check-migrations",
        action="store_true",
        help="with --base: run the base revision's API tests on a PostgreSQL database migrated "
        "by this checkout (TEST_DATABASE_URL), as the previous version serves during a rollout",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        output, refused = run(args)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(output)
    if refused:
        print(
            f"error: the guardrails refuse this stack ({len(refused)} mandatory "
            f"{'violation' if len(refused) == 1 else 'violations'}): " + "; ".join(refused),
            file=sys.stderr,
        )
        return EXIT_REFUSED
    return 0


def run(args: argparse.Namespace) -> tuple[str, list[str]]:
    """The text the command prints and the mandatory violations; ``PlanError`` for bad input."""
    if args.mermaid and (args.cost or args.rollout):
        dropped = " and ".join(
            f for f, on in (("--cost", args.cost), ("--rollout", args.rollout)) if on
        )
        raise PlanError(
            f"--mermaid prints only the chart, so {dropped} would be lost. Use --markdown for the "
            f"chart with the rollout time and the cost, or drop {dropped}."
        )
    if args.check_migrations and not args.base:
        raise PlanError(
            "--check-migrations runs the previous version's tests: name it with --base "
            "(like --base origin/main)"
        )
    if args.check_migrations:
        from plan.migration_check import server_url

        server_url()  # unset: say so now, not after the plans
    root: Path = args.root.resolve()
    stack = load_stack(root, args.stack, args.stack_file)
    if args.base:
        from plan.base import BasePlan

        # The base revision's plan runs in a subprocess while this one renders.
        with BasePlan(root, args.base, stack.stack, args.stack_file) as pending:
            current = build_plan(stack, root, policy=not args.no_policy)
            base = pending.result(), f"stack {stack.stack} at {args.base}"
    else:
        current = build_plan(stack, root, policy=not args.no_policy, judge=not args.as_base)
        base = None
    answer, rest = _output(args, root, stack, current, base)
    refused = policies.refused(current)
    if args.base:
        # What the release runs on the database belongs with the answer, before the detail.
        answer, more = _migrations(args, root, current, answer)
        refused += more
    return answer + rest, refused


def _migrations(
    args: argparse.Namespace, root: Path, current: Plan, output: str
) -> tuple[str, list[str]]:
    """The migrations the change adds (and, with --check-migrations, the previous version's
    tests on their schema) added to ``output``, and what of them refuses the stack."""
    from plan import migrations

    production, major = migrations.production_of(current)
    review = migrations.review(
        root,
        args.base,
        production=production,
        pg_major=major,
        lock_timeout_ms=migrations.lock_timeout_of(current),
    )
    form = next((f for f in ("json", "markdown", "mermaid") if getattr(args, f)), "text")
    output = migrations.attach(output, review, form)
    refused = review.refused()
    if args.check_migrations:
        from plan import migration_check

        result = migration_check.check(root, args.base, pending=bool(review.revisions))
        output = migration_check.attach(output, result, form)
        refused += result.refused()
    return output, refused


def _output(
    args: argparse.Namespace,
    root: Path,
    stack: StackFile,
    current: Plan,
    base: tuple[Plan, str] | None,
) -> tuple[str, str]:
    """The output in two parts: the answer (the summary, or the whole of a JSON document or
    chart) and the detail that follows it."""
    if args.against or args.against_file or base:
        from plan import diff

        before, label = base or _before(args, root)
        after_label = f"stack {stack.stack}"
        if args.stack_file:
            after_label += f" ({args.stack_file})"
        if args.base:
            after_label += " (this revision)"
        return _diff_output(
            args, diff.diff_plans(before, current, label, after_label), before, current
        )
    return _plan_output(args, current)


def _plan_output(args: argparse.Namespace, plan: Plan) -> tuple[str, str]:
    from plan import cost, mermaid

    if args.mermaid:
        return mermaid.flowchart(plan), ""
    if args.json:
        document: dict[str, Any] = dict(plan)
        if args.cost:
            document["cost"] = cost.estimate(plan).as_dict()
        if args.rollout:
            document["rollout"] = [r.as_dict() for r in rollout.estimate(plan)]
        return _json(document), ""
    estimate, rollouts = cost.estimate(plan), rollout.estimate(plan)
    if args.markdown:
        return summary.plan_markdown(plan, estimate, rollouts), "\n".join(
            [
                "<details><summary>Every resource, the chart, the rollout steps and the cost"
                "</summary>",
                "",
                describe.describe_markdown(plan),
                "```mermaid",
                mermaid.flowchart(plan).rstrip("\n"),
                "```",
                "",
                rollout.format_markdown(rollouts),
                cost.format_markdown(estimate),
                "</details>",
                "",
            ]
        )
    answer, text = "\n".join(summary.plan_text(plan, estimate, rollouts)) + "\n", ""
    if args.details:
        text += "\n" + describe.describe_text(plan, full=args.full)
    if args.rollout:
        text += "\n" + rollout.format_text(rollouts)
    if args.cost:
        text += "\n" + cost.format_text(estimate)
    if not (args.details and args.cost and args.rollout):
        text += "\n" + summary.TEXT_MORE + "\n"
    return answer, text


def _diff_output(
    args: argparse.Namespace, changes: PlanDiff, before: Plan, after: Plan
) -> tuple[str, str]:
    from plan import cost, diff, mermaid, motion

    if args.mermaid:
        return mermaid.flowchart(after, diff.touched_components(changes, after)), ""
    if args.json:
        document = changes.as_dict()
        document["sets_in_motion"] = motion.consequences(changes, after).as_dict()
        if args.cost:
            document["cost"] = {
                "before": cost.estimate(before).as_dict(),
                "after": cost.estimate(after).as_dict(),
            }
        if args.rollout:
            document["rollout"] = {
                "before": [r.as_dict() for r in rollout.estimate(before)],
                "after": [r.as_dict() for r in rollout.estimate(after)],
            }
        return _json(document), ""
    if args.markdown:
        comment = diff.format_markdown(
            changes,
            after,
            cost.estimate(after),
            cost.estimate(before),
            rollout_after=rollout.estimate(after),
            rollout_before=rollout.estimate(before),
        )
        fold = comment.find(diff.FOLD)
        return comment[:fold], comment[fold:]
    estimates = cost.estimate(before), cost.estimate(after)
    rollouts = rollout.estimate(after)
    moves = motion.consequences(changes, after)
    lines = summary.diff_text(diff.headline(changes), moves, after, estimates, rollouts)
    answer, text = "\n".join(lines) + "\n", diff.format_details(changes)
    if args.rollout:
        text += "\n" + rollout.format_change(rollout.estimate(before), rollouts)
        text += "\n" + rollout.format_text(rollouts)
    if args.cost:
        text += "\n" + cost.format_text(estimates[1])
    return answer, text


def _before(args: argparse.Namespace, root: Path) -> tuple[Plan, str]:
    if args.against:
        before = build_plan(load_stack(root, args.against), root, policy=False)
        return before, f"stack {args.against}"
    if args.against_file:
        path: Path = args.against_file
        try:
            document = json.loads(path.read_text())
        except OSError as exc:
            raise PlanError(f"--against-file {path}: cannot be read: {exc.strerror}") from None
        except ValueError as exc:
            raise PlanError(f"--against-file {path}: is not JSON: {exc}") from None
    return check_plan(document, f"--against-file {path}"), f"{path.name}"


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
