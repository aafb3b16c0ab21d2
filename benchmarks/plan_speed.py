"""How fast the offline plan is (a benchmark, not a test).

Two figures:

* end to end: ``python -m plan STACK`` in a fresh interpreter, ``--runs`` times, as a developer
  or the pull request workflow runs it: interpreter start, imports (the Pulumi SDK and
  pulumi_aws are most of it), the rendering under mocks, the text. Wall time min and median,
  and each run's peak resident memory (from ``os.wait4``, so one run's peak does not hide
  another's);
* in process: ``build_plan`` alone, with everything already imported, ``--runs`` times after
  one warm-up; then ``describe_text`` on the result. This is the part the plan's own code can
  speed up; the rest is Python and the SDK starting.

The target is under 2 s end to end. Usage (from the repository root)::

    python benchmarks/plan_speed.py                 # the dev stack, 5 runs
    python benchmarks/plan_speed.py --stack prod --runs 10 --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0


def end_to_end(stack: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall seconds and peak RSS (MiB) of each ``python -m plan STACK`` run."""
    walls, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "plan", stack],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # wait4 instead of wait: the child's own rusage, not the maximum over all children.
        _, status, usage = os.wait4(child.pid, 0)
        walls.append(time.perf_counter() - start)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            error = child.stderr.read().decode() if child.stderr else ""
            raise SystemExit(f"python -m plan {stack} failed ({child.returncode}):\n{error}")
        if child.stderr:
            child.stderr.close()
        # Linux reports ru_maxrss in KiB, macOS in bytes.
        divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
        peaks.append(usage.ru_maxrss / divisor)
    return walls, peaks


def in_process(stack: str, runs: int) -> tuple[float, list[float], float]:
    """Seconds of the first ``build_plan`` (imports included), of the next ones, and of describe."""
    sys.path.insert(0, str(REPO))
    start = time.perf_counter()
    from plan.describe import describe_text
    from plan.document import build_plan
    from plan.stackfile import load_stack

    plan = build_plan(load_stack(REPO, stack))
    first = time.perf_counter() - start
    renders = []
    for _ in range(runs):
        start = time.perf_counter()
        plan = build_plan(load_stack(REPO, stack))
        renders.append(time.perf_counter() - start)
    start = time.perf_counter()
    describe_text(plan)
    describe = time.perf_counter() - start
    return first, renders, describe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()

    walls, peaks = end_to_end(args.stack, args.runs)
    first, renders, describe = in_process(args.stack, args.runs)
    results = {
        "stack": args.stack,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "end_to_end_seconds": {"min": min(walls), "median": statistics.median(walls)},
        "peak_rss_mib": {"min": min(peaks), "max": max(peaks)},
        "in_process_seconds": {
            "first_build_plan_with_imports": first,
            "build_plan_min": min(renders),
            "build_plan_median": statistics.median(renders),
            "describe_text": describe,
        },
    }
    e2e = results["end_to_end_seconds"]
    print(f"python -m plan {args.stack}, {args.runs} fresh runs (Python {results['python']}):")
    print(f"  wall time: min {e2e['min']:.2f} s, median {e2e['median']:.2f} s")
    print(f"  peak RSS: {min(peaks):.0f}-{max(peaks):.0f} MiB")
    print("in process:")
    print(f"  first build_plan, imports included: {first:.2f} s")
    print(
        f"  build_plan (render, placeholders, document): min {min(renders):.2f} s, "
        f"median {statistics.median(renders):.2f} s"
    )
    print(f"  describe_text: {describe * 1000:.1f} ms")
    verdict = "within" if e2e["median"] < TARGET_SECONDS else "OVER"
    print(f"median {verdict} the {TARGET_SECONDS:g} s target")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
