"""The one error the plan reports to its user: bad input, said plainly, exit status 2."""

from __future__ import annotations


class PlanError(Exception):
    """Input the plan cannot use (a stack, a file, a setting, a git ref); the message says why.

    The command line prints the message alone, without a traceback, and exits with status 2.
    """
