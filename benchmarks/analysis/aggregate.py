"""Aggregates a sweep: learning curves with 95% confidence bands and a final table across seeds.

Reads every run directory under the given roots that holds `eval_metrics.jsonl` (one JSON row per
evaluation: "step", "mean_return", "success_rate" (null for tasks without success); see
`hierarchy.run.metrics`). A run is described by its `cell.json` (written by benchmarks/sweeps/sweep.py: env,
method, num_levels, cg_lambda, seed); a run without one is named by its path: `<env>/<group>/<seed dir>`
relative to the root, or its parent directory.

Runs of the same env and group (method, levels, lambda) are the seeds of one curve:
- curves: at every evaluation step of the group, mean across seeds and a 95% confidence band for the
  mean, mean +/- t(0.975, n-1) * std / sqrt(n) (sample std, ddof=1; no band with one seed). A seed
  that has no evaluation at some step is linearly interpolated between its neighbours there, and
  left out beyond its last evaluation (an unfinished run);
- table: across seeds, mean +/- sample std of the final evaluation (each seed's last row) and of the
  best one (each seed's maximum), for the return and the success rate; steps to threshold: per seed
  the first evaluation step whose value is >= the threshold, mean +/- std over the seeds that reach
  it, and how many reach it.

Writes to --out_dir: `summary.md` (also printed), `summary.json`, and per environment `curves_<env>.png`
(a row of panels per number of levels, flat TD3 in each) and `summary_<env>.png` (the table).

Usage (repository root): python -m benchmarks.analysis.aggregate runs/paper --out_dir
  runs/paper/summary [--success_threshold 0.5] [--return_threshold ant_gather=3.0]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np

from benchmarks.analysis.stats import t95
from hierarchy.run.files import EVAL_METRICS, FINISHED
from hierarchy.run.metrics import jsonable, read_jsonl

CELL_FILE = "cell.json"   # a sweep cell's description, written by benchmarks/sweeps/sweep.py
METRICS = {"return": "mean_return", "success": "success_rate"}

# --------------------------------------------------------------------------------------------------
# Reading runs.

def _value(v) -> float:
    return float("nan") if v is None else float(v)


def cell_code(run_dir: str | pathlib.Path) -> dict | None:
    """The "code" record ({"commit", "dirty"}) a sweep cell trained on, from its cell.json: None
    without a readable cell.json, {} when it records none."""
    try:
        return json.loads((pathlib.Path(run_dir) / CELL_FILE).read_text()).get("code") or {}
    except (OSError, ValueError):
        return None


def describe_run(run_dir: pathlib.Path, root: pathlib.Path) -> dict:
    """The run's cell description (cell.json), or one made from its path."""
    cell_path = run_dir / CELL_FILE
    if cell_path.exists():
        meta = json.loads(cell_path.read_text())
        meta.setdefault("group", meta.get("method", run_dir.parent.name))
        return meta
    rel = run_dir.relative_to(root).parts if run_dir != root else (run_dir.name,)
    if len(rel) >= 3:
        env, group, seed = rel[-3], rel[-2], rel[-1]
    elif len(rel) == 2:
        env, group, seed = root.name, rel[0], rel[1]
    else:
        env, group, seed = root.name, rel[0], "0"
    digits = "".join(c for c in seed if c.isdigit())
    return {"env": env, "group": group, "seed": int(digits) if digits else seed}


def load_runs(roots: Sequence[str | pathlib.Path]) -> List[dict]:
    """Every run under `roots`: its description plus "steps", "return", "success" arrays (sorted by
    step; success NaN where null) and "finished"."""
    runs = []
    for root in roots:
        root = pathlib.Path(root)
        for path in sorted(root.rglob(EVAL_METRICS)):
            rows = read_jsonl(path)
            if not rows:
                continue
            rows.sort(key=lambda r: r["step"])
            run = describe_run(path.parent, root)
            run["dir"] = str(path.parent)
            run["finished"] = (path.parent / FINISHED).exists()
            run["steps"] = np.asarray([r["step"] for r in rows], np.int64)
            for key, field in METRICS.items():
                run[key] = np.asarray([_value(r.get(field)) for r in rows], np.float64)
            runs.append(run)
    return runs


def group_runs(runs: Sequence[dict]) -> Dict[Tuple[str, str], List[dict]]:
    """(env, group) -> its runs sorted by seed.

    Raises:
      ValueError: two runs claim the same env, group and seed (e.g. two sweep roots that hold the
        same cell, which would otherwise be averaged as two seeds).
    """
    groups: Dict[Tuple[str, str], List[dict]] = {}
    seen: Dict[Tuple[str, str, str], str] = {}
    for run in runs:
        key = (str(run["env"]), str(run["group"]), str(run["seed"]))
        if key in seen:
            raise ValueError(f"two runs are {key[0]}/{key[1]} seed {key[2]}: {seen[key]} and "
                             f"{run.get('dir', '?')}; compare them under different group names "
                             "(compare.py --suffix) or drop one root")
        seen[key] = str(run.get("dir", "?"))
        groups.setdefault((str(run["env"]), str(run["group"])), []).append(run)
    for key in groups:
        groups[key].sort(key=lambda r: str(r["seed"]))
    return dict(sorted(groups.items()))


# --------------------------------------------------------------------------------------------------
# Statistics.

def mean_std(values: Sequence[float]) -> Tuple[float, float, int]:
    """(mean, sample std (ddof=1; 0 for one value), n) over the finite values; NaNs if none."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def curve(runs: Sequence[dict], key: str) -> Dict[str, np.ndarray]:
    """Mean and 95% band of metric `key` across runs at the union of their evaluation steps.

    Returns:
      {"steps", "mean", "low", "high", "n"}: arrays over the steps; low/high equal the mean where
      fewer than two seeds have a value; NaN where none has.
    """
    steps = np.unique(np.concatenate([r["steps"] for r in runs]))
    values = np.full((len(runs), len(steps)), np.nan)
    for i, r in enumerate(runs):
        ok = np.isfinite(r[key])
        if not ok.any():
            continue
        s, v = r["steps"][ok], r[key][ok]
        inside = (steps >= s[0]) & (steps <= s[-1])
        values[i, inside] = np.interp(steps[inside], s, v)
    n = np.isfinite(values).sum(axis=0)
    mean = np.full(len(steps), np.nan)
    half = np.zeros(len(steps))
    for j in range(len(steps)):
        col = values[:, j][np.isfinite(values[:, j])]
        if col.size:
            mean[j] = col.mean()
        if col.size > 1:
            half[j] = t95(col.size - 1) * col.std(ddof=1) / math.sqrt(col.size)
    return {"steps": steps, "mean": mean, "low": mean - half, "high": mean + half, "n": n}


def steps_to_threshold(run: dict, key: str, threshold: float) -> float | None:
    """The first evaluation step whose value of `key` is >= threshold, or None."""
    hit = np.flatnonzero(np.nan_to_num(run[key], nan=-np.inf) >= threshold)
    return float(run["steps"][hit[0]]) if hit.size else None


def summarize_group(runs: Sequence[dict], thresholds: Dict[str, float | None]) -> dict:
    """The table row of one group (see the module docstring)."""
    out = {"seeds": len(runs), "finished": sum(bool(r["finished"]) for r in runs),
           "last_step": mean_std([float(r["steps"][-1]) for r in runs])[0]}
    for key in METRICS:
        finals, bests = [], []
        for r in runs:
            v = r[key][np.isfinite(r[key])]
            if v.size:
                finals.append(float(v[-1]))
                bests.append(float(v.max()))
        out[f"final_{key}"] = mean_std(finals)
        out[f"best_{key}"] = mean_std(bests)
        threshold = thresholds.get(key)
        if threshold is not None and finals:
            hits = [steps_to_threshold(r, key, threshold) for r in runs]
            reached = [h for h in hits if h is not None]
            out[f"steps_to_{key}"] = {"threshold": threshold, "reached": len(reached),
                                      "of": len(runs), "steps": mean_std(reached)}
    return out


# --------------------------------------------------------------------------------------------------
# Output.

def _fmt(stat, digits: int = 2) -> str:
    mean, std, n = stat
    if n == 0:
        return "-"
    return f"{mean:.{digits}f} +/- {std:.{digits}f}"


def _fmt_steps(entry) -> str:
    if entry is None:
        return "-"
    mean, std, n = entry["steps"]
    if n == 0:
        return f"never (0/{entry['of']})"
    return f"{mean:,.0f} +/- {std:,.0f} ({entry['reached']}/{entry['of']})"


def markdown(summary: Dict[Tuple[str, str], dict]) -> str:
    lines = ["# Sweep summary", "",
             "Across seeds: mean +/- sample std (ddof=1). final: each seed's last evaluation; best: "
             "each seed's best evaluation; steps to threshold: mean +/- std over the seeds that "
             "reach it (reached/seeds).", ""]
    envs = sorted({env for env, _ in summary})
    for env in envs:
        rows = {g: s for (e, g), s in summary.items() if e == env}
        has_success = any(s["final_success"][2] > 0 for s in rows.values())
        thresholds = {k: next((s[f"steps_to_{k}"]["threshold"] for s in rows.values()
                               if f"steps_to_{k}" in s), None) for k in METRICS}
        header = ["group", "seeds (finished)", "last step", "final return", "best return"]
        if has_success:
            header += ["final success", "best success"]
        for k in METRICS:
            if thresholds[k] is not None and (k == "return" or has_success):
                header.append(f"steps to {k} >= {thresholds[k]:g}")
        lines += [f"## {env}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        for group, s in rows.items():
            cells = [group, f"{s['seeds']} ({s['finished']})", f"{s['last_step']:,.0f}",
                     _fmt(s["final_return"]), _fmt(s["best_return"])]
            if has_success:
                cells += [_fmt(s["final_success"]), _fmt(s["best_success"])]
            for k in METRICS:
                if thresholds[k] is not None and (k == "return" or has_success):
                    cells.append(_fmt_steps(s.get(f"steps_to_{k}")))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _num_levels(group: str, runs: Sequence[dict]) -> int:
    """The number of levels of a group: from cell.json, else the `_L<n>` of its name, else 0."""
    levels = runs[0].get("num_levels")
    if levels is None:
        match = re.search(r"_L(\d+)", group)
        levels = int(match.group(1)) if match else 0
    return int(levels)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(groups: Dict[Tuple[str, str], List[dict]], out_dir: pathlib.Path) -> List[str]:
    """One PNG per environment: a row of panels per number of levels (the 1-level groups, flat TD3,
    drawn in every row as the baseline), a column per metric (return, and success rate where any),
    mean and 95% band per group; success bands are clipped to [0, 1]. Returns the paths written."""
    plt = _pyplot()
    paths = []
    for env in sorted({env for env, _ in groups}):
        members = {g: runs for (e, g), runs in groups.items() if e == env}
        keys = ["return"] + (["success"] if any(np.isfinite(r["success"]).any()
                                                  for runs in members.values() for r in runs) else [])
        levels = {g: _num_levels(g, runs) for g, runs in members.items()}
        rows = sorted({n for n in levels.values() if n != 1}) or [1]
        colors = {g: f"C{i % 10}" for i, g in enumerate(members)}
        fig, axes = plt.subplots(len(rows), len(keys), figsize=(6 * len(keys) + 2.5, 3.6 * len(rows)),
                                 squeeze=False)
        for row, n_levels in zip(axes, rows):
            shown = {g: runs for g, runs in members.items() if levels[g] in (1, n_levels)}
            for ax, key in zip(row, keys):
                for group, runs in shown.items():
                    c = curve(runs, key)
                    ok = np.isfinite(c["mean"])
                    if not ok.any():
                        continue
                    low, high = c["low"][ok], c["high"][ok]
                    if key == "success":
                        low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
                    ax.plot(c["steps"][ok], c["mean"][ok], color=colors[group],
                            label=f"{group} (n={len(runs)})")
                    ax.fill_between(c["steps"][ok], low, high, alpha=0.15, color=colors[group],
                                    linewidth=0)
                ax.set_xlabel("environment steps")
                ax.set_ylabel("evaluation success rate" if key == "success" else "evaluation return")
                if key == "success":
                    ax.set_ylim(-0.05, 1.05)
                ax.set_title(f"{n_levels} level(s)" if n_levels else "all groups", fontsize=10)
                ax.grid(alpha=0.3)
            row[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"{env}: mean and 95% confidence band across seeds")
        fig.tight_layout()
        path = out_dir / f"curves_{env}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(str(path))
    return paths


def plot_table(markdown_text: str, out_dir: pathlib.Path) -> List[str]:
    """The Markdown summary's tables as one PNG per environment (`summary_<env>.png`)."""
    plt = _pyplot()
    paths = []
    for section in markdown_text.split("\n## ")[1:]:
        env, *lines = section.strip().splitlines()
        table = [[c.strip() for c in line.strip().strip("|").split("|")]
                 for line in lines if line.startswith("|") and not line.startswith("|---")]
        if len(table) < 2:
            continue
        header, body = table[0], table[1:]
        fig, ax = plt.subplots(figsize=(1.9 * len(header), 0.45 * (len(body) + 2)))
        ax.axis("off")
        t = ax.table(cellText=body, colLabels=header, loc="center", cellLoc="center")
        t.auto_set_font_size(False)
        t.set_fontsize(8)
        t.scale(1.0, 1.4)
        for (r, _), cell in t.get_celld().items():
            if r == 0:
                cell.set_text_props(weight="bold", wrap=True)
        ax.set_title(f"{env}: mean +/- std across seeds", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"summary_{env}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        paths.append(str(path))
    return paths


def _thresholds(values: Sequence[str], env: str) -> float | None:
    """The value of --return_threshold for `env`: 'env=X' beats a bare 'X'."""
    default = None
    for v in values:
        if "=" in v:
            name, x = v.split("=", 1)
            if name == env:
                return float(x)
        else:
            default = float(v)
    return default


def aggregate(roots: Sequence[str], out_dir: str | pathlib.Path, *, success_threshold: float | None = 0.5,
              return_thresholds: Sequence[str] = (), plot: bool = True) -> dict:
    """Reads the runs, writes summary.md, summary.json and the curves; returns the summary."""
    out_dir = pathlib.Path(out_dir)
    runs = load_runs(roots)
    if not runs:
        raise FileNotFoundError(f"no {EVAL_METRICS} found under {list(roots)}")
    groups = group_runs(runs)
    summary = {}
    for (env, group), members in groups.items():
        thresholds = {"return": _thresholds(return_thresholds, env), "success": success_threshold}
        summary[(env, group)] = summarize_group(members, thresholds)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = markdown(summary)
    (out_dir / "summary.md").write_text(text)
    record = {"groups": [{"env": env, "group": group, **s,
                          "runs": [m["dir"] for m in groups[(env, group)]],
                          "curves": {k: {kk: vv.tolist() for kk, vv in curve(groups[(env, group)], k)
                                         .items()} for k in METRICS}}
                         for (env, group), s in summary.items()]}
    (out_dir / "summary.json").write_text(json.dumps(jsonable(record), indent=1))
    paths = plot_curves(groups, out_dir) + plot_table(text, out_dir) if plot else []
    return {"summary": summary, "markdown": text, "plots": paths}


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of every report of run directories: roots, --out_dir, thresholds, --no_plots."""
    p.add_argument("roots", nargs="+", help="sweep roots (or single run dirs)")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--success_threshold", type=float, default=0.5,
                   help="success rate for 'steps to threshold' (negative: none)")
    p.add_argument("--return_threshold", action="append", default=[],
                   help="'X' or 'env=X' (repeatable): return for 'steps to threshold'")
    p.add_argument("--no_plots", action="store_true")


def print_report(result: dict) -> int:
    """Prints a report's Markdown and the figures it wrote; returns the exit status 0."""
    print(result["markdown"])
    for path in result["plots"]:
        print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(p)
    args = p.parse_args(argv)
    success = None if args.success_threshold < 0 else args.success_threshold
    return print_report(aggregate(args.roots, args.out_dir, success_threshold=success,
                                  return_thresholds=args.return_threshold, plot=not args.no_plots))


if __name__ == "__main__":
    sys.exit(main())
