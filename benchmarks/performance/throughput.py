"""Training-loop throughput: our flat TD3 level and 2/3-level hierarchies against tf-agents' TD3.

Every loop runs on the same environment with the same networks ((256, 256) ReLU actor and critics)
and batch size (256), in one process, and is measured in interleaved repeats (A B C D E A B C D E ...)
because this machine's speed drifts by 15-25% over minutes. For each loop these numbers are taken:

- loop: environment steps per second of the whole training loop (acting, stepping the environment,
  storing the transition, every update that is due), after a warm-up of random steps that fills the
  replay buffers (excluded from timing) and a few untimed learning steps (tracing).
- ceiling: the same number of compiled update calls on one fixed batch, with the loop's own update
  schedule, and nothing else (no acting, no environment, no replay sampling, no bookkeeping): the
  loop's upper bound. Ours: the compiled graph of the updates due alone (`CompiledStep.update`)
  called with `CompiledStep.call` on inputs filled once. tf-agents: `agent.train` (wrapped in
  `common.function`) on one fixed experience.
- fused (ours only): the one compiled call per environment step of our loop (`CompiledStep.step`'s
  graph: the updates due, then acting for every level), on the same fixed inputs. tf-agents acts in
  its driver, so it has no such number; its acting is part of its loop's overhead.
- bound (ours only): the leanest loop conceivable: the ceiling's call (the updates due, fixed
  inputs), then `env.step`, nothing else (no acting, no replay sampling, no random draws, no
  bookkeeping, no storing). Below the ceiling by what the environment step costs between updates:
  on a 2-core machine the update evicts the caches, so an environment step costs more there than
  alone ("env alone": the same steps with no training in between).

The loops:
  flat        our `Agent` with one `Level` (TD3).
  hrl2        two levels, cg_lambda 0 (independent levels, HRL).
  hrl_cg2     two levels, cg_lambda 0.01 (HRL-CG, paper estimator).
  hrl_cg3     three levels, cg_lambda 0.01 for both pairs.
  hiro2       hrl2 plus HIRO's off-policy correction of the top level's stored goals, inside the
              compiled update (10 candidates, docs/relabelling.md).
  tf_agents   tf-agents' `Td3Agent` trained as its TD3 example does it: `TFUniformReplayBuffer`,
              `DynamicStepDriver` (one step per iteration, `common.function`), the buffer's
              `as_dataset(sample_batch_size=256, num_steps=2)` iterator (3 parallel calls, prefetch 3)
              and `common.function(agent.train)`.

Environment: gymnasium's Ant-v5 without contact forces (`include_cfrc_ext_in_observation=False`:
27 observation dims, qpos[2:15] + qvel[:14]); `NoContext` gives it the {"observation", "context"}
layout with an empty context. Ant-v5 publishes no goal space, so the 2- and 3-level hierarchies set
goals on observation dims 0..12 (= qpos[2:15]: torso z, torso quaternion, 8 joint angles) with the
Ant tasks' sub-goal bounds for those coordinates, +/-[0.5, 1, 1, 1, 1, 0.5, 0.3, 0.5, 0.3, 0.5, 0.3,
0.5, 0.3] (`envs.ant.ANT_GOAL_HIGH` without x and y, which are not in Ant-v5's observation;
docs/environments.md, section 1).
`--env hierarchy/AntMaze-v0` (or any id whose environment publishes a `task_spec`) uses the
environment's own goal space instead; then tf-agents sees [observation, context] concatenated.

Update schedule (all loops): the bottom level's critics every environment step, its actor and targets
every 2 (tf-agents: actor_update_period=2, target_update_period=2); a parent every `period` (10)
steps of its child.

Usage (repository root):
  python -m benchmarks.performance.throughput                 # full measurement (~15-20 minutes)
  python -m benchmarks.performance.throughput --quick         # smoke run (tiny step counts)
  python -m benchmarks.performance.throughput --profile flat  # cProfile one loop, then exit

Writes a Markdown table to stdout and to `<out_dir>/throughput.md`, the raw numbers to
`<out_dir>/throughput.json`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pathlib
import platform
import pstats
import statistics
import sys
import time
from typing import Callable, Dict, List

from benchmarks.performance.loops import (  # noqa: F401  (the loops' names, as the benchmark's)
    BATCH_SIZE,
    CANDIDATES,
    DESCRIPTIONS,
    HAS_TF_AGENTS,
    HIDDEN,
    LOOPS,
    PERIOD,
    OurLoop,
    default_loops,
    make_loop,
    tf,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]   # the repository


# --------------------------------------------------------------------------------------------------
# Measurement and report.

def measure(loops: Dict[str, object], steps: int, ceiling_calls: int, repeats: int,
            log: Callable[[str], None] = print) -> Dict[str, Dict[str, List[float]]]:
    """Interleaved repeats; per loop the lists of loop steps/s, ceiling calls/s and, ours only,
    fused calls/s, the leanest loop's (`bound`) steps/s and the environment's steps/s alone."""
    results = {name: {"loop": [], "ceiling": []} for name in loops}
    for r in range(repeats):
        for name, loop in loops.items():
            results[name]["loop"].append(steps / loop.run(steps))
            results[name]["ceiling"].append(ceiling_calls / loop.ceiling(ceiling_calls))
            if hasattr(loop, "fused"):
                results[name].setdefault("fused", []).append(ceiling_calls / loop.fused(ceiling_calls))
                results[name].setdefault("bound", []).append(steps / loop.bound(steps))
                results[name].setdefault("env_alone", []).append(steps / loop.env_alone(steps))
        log(f"repeat {r + 1}/{repeats}: " + ", ".join(
            f"{n} {v['loop'][-1]:.0f}/{v['ceiling'][-1]:.0f}" for n, v in results.items()))
    return results


def _ratio(results, a: str, b: str) -> Dict[str, float]:
    """a / b from the medians, with the median and range of the per-repeat (paired) ratios.

    a and b are "loop:quantity" keys, e.g. "flat:loop" / "tf_agents:loop"."""
    (na, qa), (nb, qb) = a.split(":"), b.split(":")
    xs, ys = results[na][qa], results[nb][qb]
    paired = [x / y for x, y in zip(xs, ys)]
    return {"value": statistics.median(xs) / statistics.median(ys),
            "paired_median": statistics.median(paired), "paired_min": min(paired),
            "paired_max": max(paired)}


def summarize(results: Dict[str, Dict[str, List[float]]]) -> dict:
    """Medians and the ratios the benchmark reports."""
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    ratios = {}
    for n, m in med.items():
        ratios[f"{n} loop / own ceiling"] = _ratio(results, f"{n}:loop", f"{n}:ceiling")
        if "fused" in m:
            ratios[f"{n} loop / own fused call"] = _ratio(results, f"{n}:loop", f"{n}:fused")
        if "bound" in m:
            ratios[f"{n} bound / own ceiling"] = _ratio(results, f"{n}:bound", f"{n}:ceiling")
            ratios[f"{n} loop / own bound"] = _ratio(results, f"{n}:loop", f"{n}:bound")
    if "tf_agents" in med:
        for n in med:
            if n != "tf_agents":
                ratios[f"{n} loop / tf_agents loop"] = _ratio(results, f"{n}:loop", "tf_agents:loop")
        if "flat" in med:
            ratios["flat ceiling / tf_agents ceiling"] = _ratio(results, "flat:ceiling",
                                                                "tf_agents:ceiling")
    if "flat" in med:
        for n in ("hrl2", "hrl_cg2", "hrl_cg3"):
            if n in med:
                ratios[f"{n} loop / flat loop"] = _ratio(results, f"{n}:loop", "flat:loop")
    if "hiro2" in med and "hrl2" in med:
        ratios["hiro2 loop / hrl2 loop"] = _ratio(results, "hiro2:loop", "hrl2:loop")
    return {"medians": med, "ratios": ratios}


TARGETS = {  # (ratio key, minimum) from the project's goals, for information
    "flat loop / tf_agents loop": 1.5,
    "flat loop / own ceiling": 0.85,
    "hrl_cg2 loop / flat loop": 0.85,
    "hiro2 loop / hrl2 loop": 0.9,
}


def markdown(summary: dict, results: dict, config: dict) -> str:
    med, ratios = summary["medians"], summary["ratios"]
    lines = [
        "# Training-loop throughput",
        "",
        f"Environment `{config['env']}`, networks {'x'.join(map(str, config['hidden']))}, batch "
        f"{config['batch_size']}; "
        f"{config['steps']} timed learning steps per repeat after {config['warmup_steps']} random "
        f"warm-up steps; {config['ceiling_calls']} ceiling calls; {config['repeats']} interleaved "
        f"repeats, medians. {config['when']}, {config['machine']}, TensorFlow intra-op threads "
        f"{config.get('intra_op_threads') or 'default'} (every loop).",
        "",
        f"Command: `{config['command']}`",
        "",
        "| loop | what | loop steps/s | min-max | update ceiling calls/s | min-max | fused call/s "
        "| bound steps/s | env alone steps/s | loop / ceiling | bound / ceiling |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, m in med.items():
        lo, ce = results[n]["loop"], results[n]["ceiling"]
        cell = {k: f"{m[k]:.0f}" if k in m else "-" for k in ("fused", "bound", "env_alone")}
        bound = f"{m['bound'] / m['ceiling']:.3f}" if "bound" in m else "-"
        lines.append(f"| {n} | {DESCRIPTIONS.get(n, n)} | {m['loop']:.0f} | {min(lo):.0f}-{max(lo):.0f} "
                     f"| {m['ceiling']:.0f} | {min(ce):.0f}-{max(ce):.0f} | {cell['fused']} "
                     f"| {cell['bound']} | {cell['env_alone']} | {m['loop'] / m['ceiling']:.3f} "
                     f"| {bound} |")
    lines += ["", "Ratios: of the medians, and the median and range of the per-repeat (paired) ratios.",
              "", "| ratio | of medians | paired median | paired min-max | target |",
              "|---|---:|---:|---:|---|"]
    for k, r in ratios.items():
        target = TARGETS.get(k)
        mark = "" if target is None else f">= {target}" + (" (met)" if r["value"] >= target
                                                           else " (NOT met)")
        lines.append(f"| {k} | {r['value']:.3f} | {r['paired_median']:.3f} "
                     f"| {r['paired_min']:.3f}-{r['paired_max']:.3f} | {mark} |")
    lines += ["", "Per-step cost (1 / median calls/s, ms): " + "; ".join(
        f"{n}: " + ", ".join(f"{k} {1e3 / v:.2f}" for k, v in m.items()) for n, m in med.items())]
    if summary.get("breakdown_ms"):
        lines += ["", "Where a loop step's time goes (one instrumented pass after the repeats, ms per "
                  "step; timers add a few us):", "", "| loop | parts | total |", "|---|---|---:|"]
        for n, parts in summary["breakdown_ms"].items():
            text = ", ".join(f"{k} {v:.3f}" for k, v in parts.items())
            lines.append(f"| {n} | {text} | {sum(parts.values()):.3f} |")
    return "\n".join(lines) + "\n"


def profile(loop, steps: int, out_path: pathlib.Path | None, top: int = 30) -> str:
    """cProfile of `steps` loop steps; returns (and writes) the top functions by total time."""
    prof = cProfile.Profile()
    prof.enable()
    loop.run(steps)
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    report = text.getvalue()
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(report)
    return report


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="Ant-v5", help="Ant-v5 (default) or an id with a task_spec")
    p.add_argument("--loops", default=",".join(default_loops()),
                   help="comma-separated subset of " + ",".join(LOOPS) +
                        " (default: every loop of LOOPS; tf_agents where tf-agents is installed)")
    p.add_argument("--warmup_steps", type=int, default=2000, help="random steps filling the buffers")
    p.add_argument("--trace_steps", type=int, default=200, help="untimed learning steps (tracing)")
    p.add_argument("--steps", type=int, default=2000, help="timed learning steps per repeat")
    p.add_argument("--ceiling_calls", type=int, default=1000, help="update calls per ceiling repeat")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--breakdown_steps", type=int, default=1000,
                   help="after the repeats, steps of one instrumented pass per loop that splits the "
                        "per-step time into its parts (0: none)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(HIDDEN),
                   help="hidden layer sizes of every network (the comparison uses 256 256; tiny "
                        "networks isolate the loops' fixed per-step overhead)")
    p.add_argument("--batch_size", type=int, default=BATCH_SIZE)
    p.add_argument("--intra_op_threads", type=int, default=1,
                   help="TensorFlow's intra-op threads for every loop (hierarchy.runtime; the "
                        "training binary's default is 1); 0 keeps TensorFlow's default")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 300 warm-up, 20 trace, 100 steps, 60 ceiling calls, 2 repeats")
    p.add_argument("--profile", default="", help="cProfile this loop (e.g. flat) for --steps and exit")
    p.add_argument("--out_dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--no_write", action="store_true", help="print only, write no files")
    args = p.parse_args(argv)
    if args.quick:
        args.warmup_steps, args.trace_steps, args.steps = 300, 20, 100
        args.ceiling_calls, args.repeats, args.breakdown_steps = 60, 2, 50
    names = [n.strip() for n in args.loops.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOOPS]
    if unknown:
        p.error(f"unknown loops {unknown}; choose from {list(LOOPS)}")
    if "tf_agents" in names and not HAS_TF_AGENTS:
        p.error("the tf_agents loop needs tf-agents, the optional extra: pip install --no-deps -r "
                "requirements-tf-agents.txt (or leave it out with --loops)")
    args.loops = names
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from hierarchy import runtime
    intra_op = runtime.configure_tensorflow(intra_op_threads=args.intra_op_threads or None)
    out_dir = pathlib.Path(args.out_dir)
    if args.profile:
        loop = make_loop(args.profile, args.env, args.warmup_steps, args.seed, args.hidden,
                         args.batch_size)
        loop.prepare(args.trace_steps)
        path = None if args.no_write else out_dir / f"profile_{args.profile}.txt"
        print(profile(loop, args.steps, path))
        return {}

    loops = {}
    for name in args.loops:
        t0 = time.perf_counter()
        loops[name] = make_loop(name, args.env, args.warmup_steps, args.seed, args.hidden,
                                args.batch_size)
        loops[name].prepare(args.trace_steps)
        print(f"prepared {name} in {time.perf_counter() - t0:.1f} s", flush=True)
    results = measure(loops, args.steps, args.ceiling_calls, args.repeats,
                      log=lambda s: print(s, flush=True))
    summary = summarize(results)
    if args.breakdown_steps > 0:
        summary["breakdown_ms"] = {n: loop.breakdown(args.breakdown_steps) for n, loop in loops.items()}
    config = {"env": args.env, "warmup_steps": args.warmup_steps, "trace_steps": args.trace_steps,
              "steps": args.steps, "ceiling_calls": args.ceiling_calls, "repeats": args.repeats,
              "seed": args.seed, "quick": args.quick, "hidden": list(args.hidden),
              "batch_size": args.batch_size, "intra_op_threads": intra_op,
              "when": time.strftime("%Y-%m-%d %H:%M"),
              "command": " ".join(["python -m benchmarks.performance.throughput",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, TF {tf.__version__}"}
    text = markdown(summary, results, config)
    print(text)
    record = {"config": config, "loops": {n: loop.describe() for n, loop in loops.items()},
              "results": results, **summary}
    if not args.no_write:
        out_dir.mkdir(parents=True, exist_ok=True)
        suffix = "_quick" if args.quick else ""
        (out_dir / f"throughput{suffix}.md").write_text(text)
        (out_dir / f"throughput{suffix}.json").write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    main()
