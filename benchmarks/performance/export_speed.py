"""Acting speed of an exported policy (`hierarchy.bin.export`) against the library's own acting,
measured side by side in one process: repeats alternate (library, export batch 1, export batch B,
...), and the report gives each one's median actions/s and the paired ratios.

Both act deterministically on the same observation and context, at step 0 of an episode (every level
decides, the most work a step can take); the library's acting is `Agent.act` of an evaluation
episode (one environment at a time), the export's is `policy.action` on a batch.

    python -m benchmarks.performance.export_speed --root_dir runs/ant_maze --export_dir runs/ant_maze/policy \
        [--calls 2000 --repeats 5 --batch 64 --out benchmarks/results/export_speed.md]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root_dir", required=True, help="the trained run")
    p.add_argument("--export_dir", required=True, help="its export (hierarchy.bin.export)")
    p.add_argument("--calls", type=int, default=2000, help="acting calls per repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=64, help="the export's larger batch size")
    p.add_argument("--out", default="", help="Markdown report (and .json beside it)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import tensorflow as tf

    from hierarchy.agent import export
    from hierarchy.run import config
    from hierarchy.run.saved_run import restore_run

    config.parse_gin([os.path.join(args.root_dir, "config.gin")], [])
    env, agent, _, state = restore_run(args.root_dir, weights_only=True)
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    obs, _ = env.reset(seed=0)
    env.close()
    policy = tf.saved_model.load(args.export_dir)

    def library(calls):
        episode = agent.begin_episode(obs["observation"], obs["context"], training=False)
        start = time.perf_counter()
        for _ in range(calls):
            agent.act(episode)
        return calls / (time.perf_counter() - start)

    def exported(batch):
        observation = tf.constant(np.repeat(obs["observation"][None], batch, 0))
        context = tf.constant(np.repeat(obs["context"][None], batch, 0))
        state = policy.initial_state(tf.constant(batch))
        state = {k: state[k] for k in export.STATE_KEYS}

        def run(calls):
            start = time.perf_counter()
            for _ in range(calls):
                policy.action(observation, context, **state)["action"].numpy()
            return batch * calls / (time.perf_counter() - start)
        return run

    loops = {"library (batch 1)": library, "export, batch 1": exported(1),
             f"export, batch {args.batch}": exported(args.batch)}
    for run in loops.values():   # trace and warm up
        run(50)
    rates = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, run in loops.items():
            rates[name].append(run(args.calls))
    base = rates["library (batch 1)"]
    what = (f"a {agent.hierarchy.num_levels}-level {env_id} policy (checkpoint of step "
            f"{state.step})")
    lines = [f"Acting speed of {what}, {args.repeats} alternating repeats of {args.calls} calls "
             f"each, one process (TensorFlow {tf.__version__}).", "",
             "| acting | median actions/s | ratio to the library (paired median) | paired range |",
             "|---|---|---|---|"]
    for name, values in rates.items():
        ratios = [v / b for v, b in zip(values, base)]
        lines.append(f"| {name} | {statistics.median(values):.0f} | {statistics.median(ratios):.2f} | "
                     f"{min(ratios):.2f}-{max(ratios):.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        pathlib.Path(args.out).write_text(report)
        pathlib.Path(args.out).with_suffix(".json").write_text(json.dumps(
            {"policy": what, "calls": args.calls, "repeats": args.repeats, "rates": rates},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
