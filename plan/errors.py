"""The one error the plan reports to its user: bad input, said plainly, exit status 2."""

from __future__ import annotations


class PlanError(Exception):
    """Input the plan cannot use (a stack, a file, a setting, a git ref); the message says why.

    The command line prints the message alone, without a traceback, and exits with status 2.
    """


def settings_report(problems: list[str], hints: list[str]) -> str:
    """The report of bad settings, worded as the program words its ``SettingsError``
    (``components.settings.base.settings_report``, which the plan cannot import: it plans other
    revisions too): the count of problems, each problem, then hints, which count for none."""
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"  - {p}" for p in problems)
    text = f"The stack settings have {len(problems)} {noun}; nothing was created:\n{lines}"
    return text + "".join(f"\nHint: {h}" for h in hints)
