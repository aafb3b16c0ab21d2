"""How fast the offline plan is next to its floor (a benchmark, not a test).

The floor is what no plan of this program can avoid: importing the pulumi_aws and
pulumi_docker modules the program uses (each ``pulumi_aws`` submodule loads all of its
resource classes on first use). A fresh interpreter imports exactly those and touches one
class in each; the module list is taken from a plan of the stack itself, so it follows the
program. Then, interleaved so that the machine's load hits them alike, ``--runs`` times each:

* the floor;
* ``python -m plan STACK`` (text, guardrails included), as a developer runs it;
* ``python -m plan STACK --base REF`` (default ``HEAD~1``): the diff against another revision,
  as the pull request workflow runs it.

It prints each one's wall time (min and median), its CPU time (user + system, which a busy
machine disturbs less than the wall time), peak resident memory (from ``os.wait4``, so one
run's peak does not hide another's), and the ratio of the wall-time medians to the floor's,
against the targets: the plan at most 1.25x the floor, the ``--base`` diff at most 2.2x (its
base revision renders on the second core meanwhile).

Python writes bytecode caches by default, and site-packages holds them for the floor's
modules. A shell with ``PYTHONDONTWRITEBYTECODE`` set would make every plan recompile the
program and the tool while the floor never does; the children run without it (``--as-is``
keeps the environment) after one warm-up run each.

Usage (from the repository root)::

    python benchmarks/plan_speed.py                 # the dev stack, 5 runs each
    python benchmarks/plan_speed.py --runs 9 --json results.json
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
PLAN_TARGET = 1.25
BASE_TARGET = 2.2

# Run inside a child: plan the stack, then name each pulumi_aws resource package that was really
# loaded (not a lazy placeholder) and one class in it. pulumi_docker loads all of its modules
# on import, so touching one of its classes covers it.
_MODULES_USED = """
import contextlib, importlib.util, io, json, sys
from plan.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main([sys.argv[1], "--no-policy"])
found = {}
for name, module in sorted(sys.modules.items()):
    parts = name.split(".")
    if len(parts) != 2 or parts[0] != "pulumi_aws" or not hasattr(module, "__path__"):
        continue
    if type(module).__name__ == "_LazyModule":
        continue
    classes = [k for k, v in vars(module).items() if isinstance(v, type) and v.__module__.startswith(name)]
    if classes:
        found[name] = sorted(classes)[0]
if "pulumi_docker" in sys.modules:
    found["pulumi_docker"] = "Image"
print(json.dumps(found))
"""


def modules_used(stack: str, env: dict[str, str]) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", _MODULES_USED, stack],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def floor_script(modules: dict[str, str], *, plan_gc: bool = False) -> str:
    """The floor's imports; with ``plan_gc``, under the collector settings that ``python -m
    plan`` itself uses (plan/__main__.py), for a like-for-like comparison."""
    lines = ["import importlib"]
    if plan_gc:
        lines = ["import gc", "gc.set_threshold(700, 10, 1_000_000_000)", *lines]
    for module, cls in modules.items():
        # Attribute access, as the program does (`aws.ecs.Service`): that loads the module.
        lines.append(f"getattr(importlib.import_module({module!r}), {cls!r})")
    if plan_gc:
        lines.append("gc.freeze()")
    return "\n".join(lines)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, its reaped subprocesses included) and peak
    RSS (MiB) of one run; exits if the command fails."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    # wait4 instead of wait: the child's own rusage, not the maximum over all children.
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode() if child.stderr else ""
    if child.stderr:
        child.stderr.close()
    if code != 0:
        raise SystemExit(f"{' '.join(command[1:])} failed ({code}):\n{error}")
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / divisor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--base", default="HEAD~1", metavar="REF")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--as-is", action="store_true", help="keep PYTHONDONTWRITEBYTECODE")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()

    env = dict(os.environ)
    if not args.as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    modules = modules_used(args.stack, env)
    commands = {
        "floor": [sys.executable, "-c", floor_script(modules)],
        "floor_plan_gc": [sys.executable, "-c", floor_script(modules, plan_gc=True)],
        "plan": [sys.executable, "-m", "plan", args.stack],
        "base": [sys.executable, "-m", "plan", args.stack, "--base", args.base],
    }
    for command in commands.values():
        timed(command, env)  # warm-up: bytecode caches, the page cache
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    peaks: dict[str, list[float]] = {k: [] for k in commands}
    load_before = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, command in commands.items():
            wall, cpu, peak = timed(command, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            peaks[name].append(peak)
    load_after = os.getloadavg()[0]

    medians = {k: statistics.median(v) for k, v in walls.items()}
    results = {
        "stack": args.stack,
        "base": args.base,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": load_before, "after": load_after},
        "floor_modules": sorted(modules),
        "seconds": {k: {"min": min(v), "median": medians[k], "all": v} for k, v in walls.items()},
        "cpu_seconds": {k: {"median": statistics.median(v), "all": v} for k, v in cpus.items()},
        "peak_rss_mib": {k: {"min": min(v), "max": max(v)} for k, v in peaks.items()},
        "ratio_to_floor": {
            "plan": medians["plan"] / medians["floor"],
            "base": medians["base"] / medians["floor"],
        },
        "ratio_to_floor_with_plan_gc": {
            "plan": medians["plan"] / medians["floor_plan_gc"],
            "base": medians["base"] / medians["floor_plan_gc"],
        },
    }
    print(
        f"{args.runs} runs each, interleaved (Python {results['python']}, {os.cpu_count()} CPUs, "
        f"load {load_before:.2f} -> {load_after:.2f}):"
    )
    labels = {
        "floor": f"floor ({len(modules)} pulumi_aws/pulumi_docker modules, one class each)",
        "floor_plan_gc": "the same floor under the plan's collector settings (information)",
        "plan": f"python -m plan {args.stack}",
        "base": f"python -m plan {args.stack} --base {args.base}",
    }
    targets = {"plan": PLAN_TARGET, "base": BASE_TARGET}
    for name, label in labels.items():
        line = (
            f"  {label}: min {min(walls[name]):.2f} s, median {medians[name]:.2f} s "
            f"(CPU {statistics.median(cpus[name]):.2f} s), peak RSS {max(peaks[name]):.0f} MiB"
        )
        if name in targets:
            ratio = medians[name] / medians["floor"]
            verdict = "within" if ratio <= targets[name] else "OVER"
            line += f", {ratio:.2f}x the floor ({verdict} {targets[name]:g}x)"
        print(line)
    like = medians["plan"] / medians["floor_plan_gc"]
    print(
        f"  like for like (both without full collections): the plan is {like:.2f}x its floor, "
        f"--base {medians['base'] / medians['floor_plan_gc']:.2f}x"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
