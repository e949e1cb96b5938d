r"""How large the connected-gradient part of a parent's actor update is, in trained runs.

    python -m benchmarks.analysis.cg_gradients RUN_DIR [RUN_DIR ...] [--batches 20] [--seed 0]
        [--estimator paper|reference|critic ...]
        [--out cg_gradients.md] [--json cg_gradients.json] [--plot cg_gradients.png]

For each run directory written by `hierarchy.bin.train` it restores the newest complete checkpoint
(`--checkpoint` names another; `--every_checkpoint` takes each in turn), replay buffers included,
under the run's own config.gin; draws `--batches` batches from each parent level's replay the way
that level's actor update draws them (relabelling included); and splits the parent's actor gradient
on each batch into the TD3 part, the gradient of -mean Q_p, and the weighted connected-gradient
part, the gradient of lambda * L_cg (`hierarchy.core.diagnostics`). Per run, checkpoint and parent level
it reports the median and range over batches of the two norms, their ratio |cg| / |td3| and the
cosine between them.

A second table looks at the same terms as gradients in the parent's action a (the goal it sets),
per sample (`diagnostics.action_gradient_parts`): the TD3 gradient dQ_p/da next to the weighted
connected-gradient term split into the estimator's reward term (lambda * dr_c/da) and value term
(lambda * dV_c/da), the cosine of their sum with dQ_p/da and with -a ('toward 0': +1 where the term
only shrinks the goal). Medians over each batch's samples, then median and range over batches.
A third table opens Eq. 14's value term (`diagnostics.child_actor_path`): how often the child's
actions sit at their bounds, the child critic's slope in its action and the child policy's slope
in its goal, whose product the term is.
A fourth table reports the goals every parent level sets (`diagnostics.parent_goals`), with or
without connected gradients, so HRL's goals sit beside HRL-CG's.
`--estimator` evaluates the checkpoint's networks under another estimator than the one it trained
with ('reference' needs the child's actions in the replay, so a run trained with it or with the
off-policy correction); given several times, each checkpoint is reported under each, on the same
batches.

A ratio of a few percent means the connected gradient hardly moves the parent's policy: HRL-CG then
updates like HRL. Runs without connected gradients (flat, HRL) have no parent level to report in
the first table and are listed as such; HRL's parents appear in the fourth. The batches come from
a generator seeded by `--seed`, so a rerun on the same checkpoints prints the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Dict, List, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gin  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.analysis import aggregate, evidence  # noqa: E402
from hierarchy.core import connected_gradients, diagnostics  # noqa: E402
from hierarchy.run import checkpointing, files  # noqa: E402
from hierarchy.run.config import parse_gin  # noqa: E402
from hierarchy.run.files import atomic_write_text  # noqa: E402
from hierarchy.run.saved_run import restore_run  # noqa: E402
from hierarchy.run.settings import RunSettings  # noqa: E402

MEASURES = ("td3_norm", "cg_norm", "ratio", "cosine")
ACTION_MEASURES = ("td3_norm", "reward_norm", "value_norm", "cg_norm", "ratio", "cosine",
                   "toward_zero", "goal_norm")
CHILD_MEASURES = ("saturated", "critic_slope", "policy_slope")
GOAL_MEASURES = ("goal_norm", "at_bound")


def analyse_run(root_dir: str, *, batches: int = 20, seed: int = 0,
                checkpoint: str | None = None, estimator: str | None = None) -> Dict:
    """The gradient split of every parent level with connected gradients in one run.

    Args:
      estimator: evaluate under this connected-gradient estimator (default: the run's own).

    Raises:
      FileNotFoundError: the directory has no config.gin or no complete checkpoint.
      ValueError: bad batches or estimator, or 'reference' on a replay without the child's actions.
    """
    if batches < 1:
        raise ValueError(f"batches must be >= 1, got {batches}")
    config = os.path.join(root_dir, files.CONFIG_FILE)
    if not os.path.isfile(config):
        raise FileNotFoundError(f"{config} not found: is {root_dir} a run directory?")
    gin.clear_config()
    parse_gin([config])
    env, agent, path, state = restore_run(root_dir, checkpoint=checkpoint)
    env.close()
    agent.rng = np.random.default_rng(seed)
    h = agent.hierarchy
    if estimator is not None:
        use_estimator(h, estimator)
    levels, goals = [], []
    for i in range(h.num_levels - 1):
        cg = h.has_cg(i)
        due = np.zeros((h.num_levels, 2), bool)
        due[i, 1] = True
        rows, action_rows, child_rows, goal_rows = [], [], [], []
        for _ in range(batches):
            inputs = agent.sample_update(due)
            k = inputs.levels.index(i)
            batch = (diagnostics.as_tensors(inputs.transitions[k]),
                     diagnostics.as_tensors(inputs.draw_records[k]))
            goal_rows.append(diagnostics.goal_statistics(diagnostics.parent_goals(h, i, *batch)))
            if not cg:
                continue
            rows.append(diagnostics.gradient_statistics(diagnostics.actor_gradient_parts(h, i, *batch)))
            action_rows.append(diagnostics.action_statistics(
                diagnostics.action_gradient_parts(h, i, *batch)))
            child_rows.append(diagnostics.child_path_statistics(
                diagnostics.child_actor_path(h, i, *batch)))
        goals.append({"level": i, "name": h.levels[i].level_name, "child": h.levels[i + 1].level_name,
                      "lambda": float(h.cg_lambda_value(i)),
                      "summary": summarise(goal_rows, GOAL_MEASURES), "batches": goal_rows})
        if not cg:
            continue
        levels.append({"level": i, "name": h.levels[i].level_name,
                       "child": h.levels[i + 1].level_name,
                       "lambda": float(h.cg_lambda_value(i)), "estimator": h.cg_estimator,
                       "batch_size": int(inputs.transitions[k].goal.shape[0]),
                       "summary": summarise(rows, MEASURES), "batches": rows,
                       "action_summary": summarise(action_rows, ACTION_MEASURES),
                       "action_batches": action_rows,
                       "child_summary": summarise(child_rows, CHILD_MEASURES),
                       "child_batches": child_rows})
    return {"run": root_dir, "checkpoint": os.path.relpath(path, root_dir),
            "step": int(state.step), "env_id": RunSettings().env_id, "batches": batches,
            "seed": seed, "levels": levels, "goals": goals}


def use_estimator(h, estimator: str) -> None:
    """Switches a restored hierarchy to another connected-gradient estimator, refusing 'reference'
    where a parent's replay holds no child actions (the estimator reads them)."""
    if estimator not in connected_gradients.estimator_names():
        raise ValueError(f"unknown estimator {estimator!r}; choose one of "
                         f"{connected_gradients.estimator_names()}")
    if estimator == "reference":
        missing = [h.levels[i].level_name for i in range(h.num_levels)
                   if h.has_cg(i) and not h.uses_child_actions(i)]
        if missing:
            raise ValueError(f"the 'reference' estimator needs the child's actions, which the replay "
                             f"of {missing} does not hold (the run trained with estimator "
                             f"{h.cg_estimator!r} and no off-policy correction)")
    h.cg_estimator = estimator


def summarise(rows: Sequence[Dict[str, float]],
              measures: Sequence[str] = MEASURES) -> Dict[str, Dict[str, float]]:
    """Median, min and max over batches of every measure (nan batches left out)."""
    out = {}
    for m in measures:
        values = np.array([r[m] for r in rows], np.float64)
        values = values[~np.isnan(values)]
        out[m] = ({"median": float(np.median(values)), "min": float(values.min()),
                   "max": float(values.max())} if values.size else
                  dict.fromkeys(("median", "min", "max"), float("nan")))
    return out


def _cell(stat: Dict[str, float], fmt: str) -> str:
    return f"{stat['median']:{fmt}} ({stat['min']:{fmt}} to {stat['max']:{fmt}})"


def trained_on(run: str) -> str:
    """The commit a sweep cell trained on (its cell.json), or 'unknown' for another run."""
    code = aggregate.cell_code(run)
    if code is None:
        return "unknown (no cell.json)"
    if not code.get("commit"):
        return "unknown (no commit in cell.json)"
    return code["commit"][:10] + (" (with uncommitted changes)" if code.get("dirty") else "")


def markdown(results: Sequence[Dict], *, command: str, commit: str = "unknown") -> str:
    runs: Dict[str, List[str]] = {}
    for r in results:
        names = runs.setdefault(trained_on(r["run"]), [])
        if r["run"] not in names:
            names.append(r["run"])
    lines = ["# Connected gradient against TD3 gradient in the parents' actor updates", "",
             f"Command: `{command}`", "", f"Code: commit {commit}", "",
             "Runs trained on: " + "; ".join(f"{c} ({len(n)} run{'s' * (len(n) > 1)})"
                                            for c, n in sorted(runs.items())) + ".", "",
             "Per run and parent level: the parent's actor gradient on replay batches, split into the "
             "TD3 part (gradient of -mean Q_p) and the weighted connected-gradient part (gradient of "
             "lambda * L_cg). Median (min to max) over the batches.", "",
             "| run | step | level <- child | lambda | estimator | batches x size | abs td3 | abs cg "
             "| ratio cg / td3 | cosine |",
             "|---|---:|---|---:|---|---|---:|---:|---:|---:|"]
    for r in results:
        name = "/".join(pathlib.PurePath(r["run"]).parts[-3:])   # env/group/seed of a sweep cell
        if not r["levels"]:
            lines.append(f"| {name} | {r['step']:,} | no connected gradients | - | - | - | - | - | - "
                         f"| - |")
        for lv in r["levels"]:
            s = lv["summary"]
            lines.append(
                f"| {name} | {r['step']:,} | {lv['name']} <- {lv['child']} | {lv['lambda']:g} | "
                f"{lv['estimator']} | {r['batches']} x {lv['batch_size']} | {_cell(s['td3_norm'], '.3g')} | "
                f"{_cell(s['cg_norm'], '.3g')} | {_cell(s['ratio'], '.3f')} | {_cell(s['cosine'], '.2f')} |")
    lines += ["", "## In the parent's action space", "",
              "The same two objectives differentiated in the parent's action a (the goal it sets), per "
              "sample: the TD3 gradient dQ_p/da, and the weighted connected-gradient term split into the "
              "estimator's reward term (lambda * dr_c/da) and value term (lambda * dV_c/da). Ratio: "
              "|reward + value| / |dQ_p/da|; cosines of reward + value with dQ_p/da and with -a ('toward "
              "0': +1 where the term only shrinks the goal); abs a: the size of the goals the parent sets. "
              "Medians over each batch's samples, then median (min to max) over the batches.", "",
              "| run | step | level <- child | lambda | estimator | abs dQp/da | abs reward term "
              "| abs value term | ratio | cosine with dQp/da | cosine with -a | abs a |",
              "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += _level_rows(results, lambda lv, s: [
        f"{lv['lambda']:g}", lv["estimator"], _cell(s["td3_norm"], ".3g"),
        _cell(s["reward_norm"], ".3g"), _cell(s["value_norm"], ".3g"), _cell(s["ratio"], ".3f"),
        _cell(s["cosine"], ".2f"), _cell(s["toward_zero"], ".2f"), _cell(s["goal_norm"], ".3g")],
        "action_summary")
    lines += ["", "## The child's actor path", "",
              "Eq. 14's value term reaches the goal only through the child's actor: dQ_c/da_c . "
              "da_c/dg at a_c = pi_c(s, g). Per sample at the drawn child step: the fraction of the "
              "child's action components within 1% of the range of a bound (where a tanh policy is "
              "flat), |dQ_c/da_c| and the Frobenius norm of da_c/dg. Medians over each batch's "
              "samples, then median (min to max) over the batches.", "",
              "| run | step | level <- child | saturated fraction | abs dQc/dac | abs dac/dg |",
              "|---|---:|---|---:|---:|---:|"]
    lines += _level_rows(results, lambda lv, s: [
        _cell(s["saturated"], ".2f"), _cell(s["critic_slope"], ".3g"),
        _cell(s["policy_slope"], ".3g")], "child_summary")
    lines += ["", "## The goals each parent sets", "",
              "Every level with a child, connected gradients or not (so HRL's parents are here too): "
              "the goal a = pi_p(s, g) it sets on the same kind of replay batch, |a| and the fraction "
              "of a's components within 1% of the range of a bound. Medians over each batch's "
              "samples, then median (min to max) over the batches. The goals do not depend on the "
              "estimator: one row per checkpoint.", "",
              "| run | step | level <- child | lambda | abs a | fraction at a bound |",
              "|---|---:|---|---:|---:|---:|"]
    first: Dict[tuple, Dict] = {}
    for r in results:
        first.setdefault((r["run"], r["step"]), r)
    lines += _level_rows(list(first.values()), lambda lv, s: [
        f"{lv['lambda']:g}", _cell(s["goal_norm"], ".3g"), _cell(s["at_bound"], ".2f")],
        "summary", key="goals")
    return "\n".join(lines) + "\n"


def _level_rows(results: Sequence[Dict], cells, summary: str, key: str = "levels") -> List[str]:
    """A table row per run and entry of `run[key]` (its parent levels): run, step, pair, then
    `cells(level, level[summary])`."""
    rows = []
    for r in results:
        name = "/".join(pathlib.PurePath(r["run"]).parts[-3:])   # env/group/seed of a sweep cell
        for lv in r.get(key, ()):
            rows.append(" | ".join([f"| {name}", f"{r['step']:,}", f"{lv['name']} <- {lv['child']}",
                                    *cells(lv, lv[summary])]) + " |")
    return rows


def plot(results: Sequence[Dict], path: str) -> None:
    """Writes `figure(results)` to `path`."""
    import matplotlib.pyplot as plt

    fig = figure(results)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure(results: Sequence[Dict]):
    """Ratio |cg| / |td3| (log axis) and cosine against lambda, or against the training step where
    the results span several checkpoints (`--every_checkpoint`): one point per run, checkpoint and
    parent pair (median over batches, bars from min to max), a series per pair name and depth.
    Returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    by_step = len({r["step"] for r in results}) > 1
    series: Dict[str, List] = {}
    for r in results:
        depth = len(r["levels"]) + 1
        for lv in r["levels"]:
            series.setdefault(f"{lv['name']} <- {lv['child']} ({depth} levels)", []).append(
                (r["step"], lv))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, (label, points) in enumerate(sorted(series.items())):
        if by_step:
            x = np.array([step for step, _ in points], np.float64)
        else:
            x = np.array([lv["lambda"] for _, lv in points]) * (1 + 0.04 * k)   # side by side
        for ax, m in zip(axes, ("ratio", "cosine")):
            med = np.array([lv["summary"][m]["median"] for _, lv in points])
            lo = med - np.array([lv["summary"][m]["min"] for _, lv in points])
            hi = np.array([lv["summary"][m]["max"] for _, lv in points]) - med
            ax.errorbar(x, med, yerr=[lo, hi], fmt="o-" if by_step else "o", ms=4, capsize=2,
                        label=label)
    xaxis = dict(xlabel="training step") if by_step else dict(xscale="log", xlabel="lambda")
    axes[0].set(yscale="log", ylabel="|cg gradient| / |td3 gradient|", **xaxis)
    axes[0].axhline(1.0, color="grey", lw=0.8, ls=":")
    axes[1].set(ylabel="cosine(cg, td3)", ylim=(-1.05, 1.05), **xaxis)
    axes[1].axhline(0.0, color="grey", lw=0.8, ls=":")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_minor_formatter(NullFormatter())   # one lambda: no crowded minor labels
    axes[0].legend(fontsize=8)
    fig.suptitle("Parent actor gradient: connected-gradient part against TD3 part "
                 "(per run: median, min-max over batches)", fontsize=10)
    fig.tight_layout()
    return fig


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories written by hierarchy.bin.train")
    p.add_argument("--batches", type=int, default=20, help="batches per parent level")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch draws")
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint directory (one run only; default: each run's newest)")
    p.add_argument("--every_checkpoint", action="store_true",
                   help="analyse every complete checkpoint of each run (oldest first), not the newest")
    p.add_argument("--estimator", action="append", default=None,
                   choices=connected_gradients.estimator_names(),
                   help="evaluate under this connected-gradient estimator (default: each run's own); "
                        "repeat it to report each checkpoint under several, on the same batches")
    p.add_argument("--out", default=None, help="write the markdown table here")
    p.add_argument("--json", default=None, help="write every batch's figures here")
    p.add_argument("--plot", default=None, help="draw ratio and cosine against lambda into this PNG")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.checkpoint and len(args.runs) > 1:
        raise SystemExit("--checkpoint names one checkpoint: give one run directory with it")
    if args.checkpoint and args.every_checkpoint:
        raise SystemExit("--checkpoint and --every_checkpoint exclude each other")
    results: List[Dict] = []
    for run in args.runs:
        checkpoints = [args.checkpoint]
        if args.every_checkpoint:
            checkpoints = [path for _, path in checkpointing.Checkpointer(
                os.path.join(run, files.CHECKPOINTS)).complete()]
            if not checkpoints:
                raise SystemExit(f"{run}: no complete checkpoint in {files.CHECKPOINTS}/")
        for checkpoint in checkpoints:
            for estimator in args.estimator or [None]:
                try:
                    results.append(analyse_run(run, batches=args.batches, seed=args.seed,
                                               checkpoint=checkpoint, estimator=estimator))
                except (FileNotFoundError, ValueError) as e:
                    raise SystemExit(f"{run}: {e}") from None
    prov = evidence.provenance(argv if argv is not None else sys.argv[1:],
                               module="benchmarks.analysis.cg_gradients")
    text = markdown(results, command=prov["command"], commit=prov["commit"])
    print(text, end="")
    if args.out:
        atomic_write_text(args.out, text)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1) + "\n")
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
