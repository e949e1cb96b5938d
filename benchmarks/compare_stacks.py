"""Training-loop speed of one checkout under two Python environments (e.g. two pinned stacks),
measured side by side: `throughput.py` runs alternately under each (A B A B ...), one repeat per
run, and the report gives each loop's median steps/s per stack and the paired ratios B / A (median
and range of the per-pair ratios), which cancel most of the machine's drift.

    python benchmarks/compare_stacks.py --python old=/path/old/bin/python \
        --python new=.venv/bin/python --pairs 5 --out benchmarks/results/stack_speed.md
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
THROUGHPUT = ROOT / "benchmarks" / "throughput.py"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--python", action="append", required=True,
                   help="NAME=INTERPRETER, exactly twice: the baseline first")
    p.add_argument("--pairs", type=int, default=5, help="alternations A B (one repeat each)")
    p.add_argument("--loops", default="flat,hrl_cg2")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--warmup_steps", type=int, default=2000)
    p.add_argument("--trace_steps", type=int, default=200)
    p.add_argument("--ceiling_calls", type=int, default=300)
    p.add_argument("--out", default="", help="Markdown report (and .json beside it)")
    args = p.parse_args(argv)
    if len(args.python) != 2 or any("=" not in s for s in args.python):
        p.error("give --python NAME=INTERPRETER exactly twice")
    args.python = [tuple(s.split("=", 1)) for s in args.python]
    return args


def one_run(python: str, args) -> dict:
    """One throughput.py run (one repeat) under `python`; its medians per loop."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [python, str(THROUGHPUT), "--loops", args.loops, "--repeats", "1", "--steps",
               str(args.steps), "--warmup_steps", str(args.warmup_steps), "--trace_steps",
               str(args.trace_steps), "--ceiling_calls", str(args.ceiling_calls),
               "--breakdown_steps", "0", "--out_dir", out]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"{python}: throughput.py failed:\n{proc.stderr[-3000:]}")
        record = json.loads((pathlib.Path(out) / "throughput.json").read_text())
    return record["medians"]


def versions(python: str) -> str:
    code = ("import sys, tensorflow as tf, numpy, gymnasium, mujoco; "
            "print(f'Python {sys.version.split()[0]}, TensorFlow {tf.__version__}, numpy "
            "{numpy.__version__}, gymnasium {gymnasium.__version__}, mujoco {mujoco.__version__}')")
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


def report(names, runs, stacks) -> str:
    a, b = names
    loops = list(runs[a][0])
    lines = [f"Side by side on one machine ({platform.machine()}): {len(runs[a])} alternating pairs "
             f"({a} then {b}), one repeat each.", ""]
    lines += [f"- {n}: {stacks[n]}" for n in names] + [""]
    lines += [f"| loop | quantity | {a} median | {b} median | {b} / {a} (paired median) | paired range |",
              "|---|---|---|---|---|---|"]
    for loop in loops:
        for q in ("loop", "ceiling"):
            xa = [r[loop][q] for r in runs[a]]
            xb = [r[loop][q] for r in runs[b]]
            ratios = [y / x for x, y in zip(xa, xb)]
            lines.append(f"| {loop} | {q} steps/s | {statistics.median(xa):.1f} | "
                         f"{statistics.median(xb):.1f} | {statistics.median(ratios):.3f} | "
                         f"{min(ratios):.3f}-{max(ratios):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    names = [n for n, _ in args.python]
    stacks = {n: versions(py) for n, py in args.python}
    runs = {n: [] for n in names}
    for i in range(args.pairs):
        for name, python in args.python:
            runs[name].append(one_run(python, args))
            loop = args.loops.split(",")[0]
            print(f"pair {i + 1}/{args.pairs} {name}: {loop} {runs[name][-1][loop]['loop']:.1f} steps/s",
                  flush=True)
    text = report(names, runs, stacks)
    print(text)
    if args.out:
        out = pathlib.Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        out.with_suffix(".json").write_text(json.dumps({"stacks": stacks, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
