"""Entry point of ``python -m plan``; the command line is in ``plan.cli``."""

from plan.cli import main

raise SystemExit(main())
