"""Entry point of ``python -m plan``; the command line is in ``plan.cli``.

The process is short-lived and most of what it allocates lives to the end: the classes of the
pulumi_aws modules the program loads (about 250,000 objects the cyclic garbage collector
tracks). The collector's full passes walk all of them again each time the heap grows by a
quarter, and once more while the interpreter shuts down: about half of the CPU time of a plain
``python -m plan dev`` (``benchmarks/plan_speed.py``). So this entry point, and only it (the
tests call ``plan.cli.main`` in their own process), keeps the young generations collected, so
short-lived cycles are still freed, skips the full passes, and freezes what is left before
exiting instead of collecting it: the memory goes back to the system with the process.
"""

import gc

gc.set_threshold(700, 10, 1_000_000_000)

from plan.cli import main  # noqa: E402 (after the collector's settings, which the imports feel)

code = main()
gc.freeze()
raise SystemExit(code)
