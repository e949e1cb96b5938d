"""Analysis of the evidence report (benchmarks/analysis/compare.py): per evaluation target, lower levels'
intrinsic returns, HRL-CG against HRL on paired seeds, the lambda study, reference marks.

Reads the same run directories as benchmarks/analysis/aggregate.py (which gives the overall table and curves)
and, per run, the "per_context" entries of `eval_metrics.jsonl` and the "intrinsic_returns" of
`train_metrics.jsonl` (formats: `hierarchy.run.metrics`). Per environment:

- per evaluation target ("all": the row's overall numbers; then every evaluation context, e.g.
  (16, 0), (16, 16), (0, 16), where a task has more than one): a table per target across seeds,
  mean +/- 95% CI (t(0.975, n-1) s / sqrt(n)) of the final (last) and best evaluation success and
  return, steps to the success threshold (first evaluation at or above it; mean +/- CI over the seeds
  that reach it, and how many do); curves (`targets_<env>.png`, a panel per target);
- intrinsic returns of every level below the top: per seed, the training episodes binned by step
  (bin k holds the episodes that ended in ((k-1) w, k w], drawn at k w; w the evaluation interval
  unless --intrinsic_bin), mean and 95% band across seeds (`intrinsic_<env>.png`); the tables give
  the final-window mean (per seed, the episodes of its last w steps) across seeds and per seed;
- HRL-CG against HRL with the same number of levels, on the seeds both have (same seed = same
  evaluation seeds and start states): per seed the difference (HRL-CG minus HRL) of the final value
  and of the normalised area under the curve (trapezoid over the evaluation steps common to every
  paired run, divided by their range), per target, for success and return; the mean difference with
  a percentile bootstrap 95% CI (10,000 resamples of the seeds, generator seed 0);
- the lambda study, per number of levels with at least two lambdas (HRL = lambda 0): final return,
  success and intrinsic returns against lambda (`lambda_<env>_L<n>.png`, log x axis, lambda 0 at a
  marked position one decade left of the smallest lambda).
A reference file (--reference, e.g. benchmarks/paper_reference.json) adds the paper's
numbers as horizontal lines and bands on the curves of the matching env, group, target and metric,
and a table of them beside ours: best and final evaluation, and for the overall target the best
mean of a window of consecutive training episodes (`best_window_mean`, the paper's AntGather measure).

The report (markdown, JSON, figures) is written by benchmarks/analysis/compare.py.
"""

from __future__ import annotations

import json
import pathlib
import re
import shlex
from typing import Dict, List, Sequence

import numpy as np

from benchmarks.analysis import aggregate, stats
from benchmarks.sweeps import collect
from hierarchy.run.files import EVAL_METRICS, TRAIN_METRICS
from hierarchy.run.metrics import read_jsonl

ROOT = pathlib.Path(__file__).resolve().parents[2]   # the repository

ALL = "all"
KEYS = ("success", "return")
_GROUP = re.compile(r"^(flat|hrl_cg|hrl)_L(\d+)(?:_lam(.+))?$")


# --------------------------------------------------------------------------------------------------
# Reading runs.

def number(value) -> float:
    """A JSON number as a float; null as NaN."""
    return float("nan") if value is None else float(value)


def return_threshold(values: Sequence[str], env: str) -> float | None:
    """The return threshold of `env` from 'X' / 'env=X' options: 'env=X' beats a bare 'X'."""
    default = None
    for v in values:
        name, _, x = v.rpartition("=")
        if not name:
            default = float(x)
        elif name == env:
            return float(x)
    return default


def target_label(context) -> str:
    """'(16, 0)' for the context [16.0, 0.0]; '()' for an empty one or None."""
    return "(" + ", ".join(f"{float(c):g}" for c in (context or [])) + ")"


def describe_method(run: dict) -> dict:
    """{"method", "num_levels", "cg_lambda"} of a run: its cell.json, else its group's name
    (`<method>_L<n>[_lam<x>]`); None where neither tells. HRL has lambda 0."""
    match = _GROUP.match(str(run["group"]))
    method = run.get("method") or (match.group(1) if match else None)
    levels = run.get("num_levels", int(match.group(2)) if match else None)
    lam = run.get("cg_lambda")
    if lam is None and match and match.group(3):
        lam = float(match.group(3))
    if method == "hrl":
        lam = 0.0
    return {"method": method, "num_levels": levels, "cg_lambda": None if lam is None else float(lam)}


def per_target_series(rows: Sequence[dict], steps: np.ndarray) -> Dict[str, Dict[str, np.ndarray]]:
    """{target label: {"success", "return"}}: arrays over `steps` (NaN where a row lacks the target),
    from the rows' "per_context" entries; {} when the rows name fewer than two contexts."""
    labels = []
    for r in rows:
        for c in r.get("per_context") or []:
            if target_label(c.get("context")) not in labels:
                labels.append(target_label(c.get("context")))
    if len(labels) < 2:
        return {}
    index = {int(s): i for i, s in enumerate(steps)}
    out = {t: {k: np.full(len(steps), np.nan) for k in KEYS} for t in labels}
    for r in rows:
        i = index.get(int(r["step"]))
        if i is None:
            continue
        for c in r.get("per_context") or []:
            t = target_label(c.get("context"))
            out[t]["return"][i] = number(c.get("mean_return"))
            out[t]["success"][i] = number(c.get("success_rate"))
    return out


def intrinsic_series(rows: Sequence[dict]) -> Dict[str, Dict[str, np.ndarray]]:
    """{level name: {"steps", "values"}} of the training episodes' intrinsic returns (NaN for null)."""
    out: Dict[str, Dict[str, list]] = {}
    for r in sorted(rows, key=lambda r: r["step"]):
        for name, value in (r.get("intrinsic_returns") or {}).items():
            entry = out.setdefault(name, {"steps": [], "values": []})
            entry["steps"].append(float(r["step"]))
            entry["values"].append(number(value))
    return {n: {k: np.asarray(v, np.float64) for k, v in e.items()} for n, e in out.items()}


def training_series(rows: Sequence[dict]) -> Dict[str, np.ndarray]:
    """{"return", "success"}: the training episodes' environment return and success, in step order
    (NaN for null)."""
    rows = sorted(rows, key=lambda r: r["step"])
    return {"return": np.asarray([number(r.get("episode_return")) for r in rows], np.float64),
            "success": np.asarray([number(r.get("success")) for r in rows], np.float64)}


def best_window_mean(values: np.ndarray, window: int) -> float:
    """The highest mean of `window` consecutive episodes (NaNs left out first); NaN if there are
    fewer than `window`. The paper's AntGather numbers are this maximum with a window of 100."""
    v = stats.finite(values)
    if window < 1 or v.size < window:
        return float("nan")
    c = np.concatenate([[0.0], np.cumsum(v)])
    return float(np.max(c[window:] - c[:-window]) / window)


def training_rows_file(run_dir: pathlib.Path) -> pathlib.Path:
    """A run's training rows: `train_metrics.jsonl` in a run directory, `train_metrics.jsonl.gz`
    in a collected copy (`benchmarks.sweeps.collect` compresses them); the plain name if neither."""
    plain = run_dir / TRAIN_METRICS
    packed = run_dir / (TRAIN_METRICS + ".gz")
    return packed if packed.is_file() and not plain.is_file() else plain


def load_runs(roots: Sequence[str | pathlib.Path]) -> List[dict]:
    """aggregate.load_runs, plus per run: "targets" ({label: {"success", "return"}} over its
    steps, "all" first), "intrinsic" (intrinsic_series), "training" (training_series) and
    describe_method's fields."""
    runs = aggregate.load_runs(roots)
    for run in runs:
        run_dir = pathlib.Path(run["dir"])
        rows = sorted(read_jsonl(str(run_dir / EVAL_METRICS)), key=lambda r: r["step"])
        run["targets"] = {ALL: {k: run[k] for k in KEYS},
                          **per_target_series(rows, run["steps"])}
        train_rows = read_jsonl(str(training_rows_file(run_dir)))
        run["intrinsic"] = intrinsic_series(train_rows)
        run["training"] = training_series(train_rows)
        run.update(describe_method(run))
    return runs


# --------------------------------------------------------------------------------------------------
# Analysis.

def view(run: dict, target: str) -> dict:
    """The run seen through one target: {"steps", "success", "return", "seed"} (NaN if absent)."""
    series = run["targets"].get(target) or {k: np.full(len(run["steps"]), np.nan) for k in KEYS}
    return {"steps": run["steps"], "seed": run["seed"], **series}


def final_value(run: dict, key: str) -> float:
    v = run[key][np.isfinite(run[key])]
    return float(v[-1]) if v.size else float("nan")


def best_value(run: dict, key: str) -> float:
    v = run[key][np.isfinite(run[key])]
    return float(v.max()) if v.size else float("nan")


def target_row(runs: Sequence[dict], target: str, thresholds: Dict[str, float | None]) -> dict:
    """The table row of one group and target: ci95 of final/best success and return; steps to
    each threshold given (ci95 over the seeds that reach it, "reached", "of")."""
    views = [view(r, target) for r in runs]
    row = {"seeds": len(runs)}
    for key in KEYS:
        row[f"final_{key}"] = stats.ci95([final_value(v, key) for v in views])
        row[f"best_{key}"] = stats.ci95([best_value(v, key) for v in views])
        threshold = thresholds.get(key)
        if threshold is not None and row[f"final_{key}"][2]:
            hits = [aggregate.steps_to_threshold(v, key, threshold) for v in views]
            reached = [h for h in hits if h is not None]
            row[f"steps_to_{key}"] = {"threshold": threshold, "reached": len(reached),
                                      "of": len(runs), "steps": stats.ci95(reached)}
    return row


def eval_interval(runs: Sequence[dict]) -> float:
    """The smallest positive gap between evaluation steps of the runs (1 if none)."""
    gaps = [d for r in runs for d in np.diff(r["steps"]) if d > 0]
    return float(min(gaps)) if gaps else 1.0


def binned(steps: np.ndarray, values: np.ndarray, width: float) -> Dict[str, np.ndarray]:
    """Means of `values` per step bin: bin k holds steps in ((k-1) width, k width] (step 0 in bin
    0); returns {"steps": k * width of the non-empty bins, "values": their means}."""
    if width <= 0:
        raise ValueError(f"bin width must be > 0, got {width}")
    ok = np.isfinite(values)
    k = np.ceil(steps[ok] / width).astype(np.int64)
    bins = np.unique(k)
    means = np.asarray([values[ok][k == b].mean() for b in bins], np.float64)
    return {"steps": bins * float(width), "values": means}


def final_window(series: Dict[str, np.ndarray], width: float) -> float:
    """Mean of the values whose step is within `width` of the series' last step (NaN if none)."""
    ok = np.isfinite(series["values"])
    if not ok.any():
        return float("nan")
    s, v = series["steps"][ok], series["values"][ok]
    return float(v[s > s[-1] - width].mean())


def lower_levels(runs: Sequence[dict]) -> List[str]:
    """The level names with intrinsic returns in any run, in order of first appearance but "low"
    (the bottom level of every hierarchy) last."""
    names: List[str] = []
    for r in runs:
        names += [n for n in r["intrinsic"] if n not in names]
    return sorted(names, key=lambda n: n == "low")


def intrinsic_curve(runs: Sequence[dict], level: str, width: float) -> Dict[str, np.ndarray] | None:
    """aggregate.curve of the runs' binned intrinsic returns of `level` (None if no run has any)."""
    seen = [dict(binned(r["intrinsic"][level]["steps"], r["intrinsic"][level]["values"], width))
            for r in runs if level in r["intrinsic"]]
    seen = [{"steps": b["steps"], "intrinsic": b["values"]} for b in seen if b["steps"].size]
    return aggregate.curve(seen, "intrinsic") if seen else None


def intrinsic_per_seed(runs: Sequence[dict], levels: Sequence[str],
                       width: float) -> Dict[str, Dict[str, float]]:
    """{level: {seed (a string): the final-window mean intrinsic return}}, seeds in order; a run
    without the level's intrinsic returns is left out."""
    ordered = sorted(runs, key=lambda r: r["seed"])
    return {lvl: {str(r["seed"]): final_window(r["intrinsic"][lvl], width) for r in ordered
                  if lvl in r["intrinsic"]} for lvl in levels}


def intrinsic_row(runs: Sequence[dict], levels: Sequence[str], width: float) -> Dict[str, tuple]:
    """{level: ci95 over seeds of the final-window mean intrinsic return}."""
    return {lvl: stats.ci95(list(per.values()))
            for lvl, per in intrinsic_per_seed(runs, levels, width).items()}


def paired_comparison(cg_runs: Sequence[dict], hrl_runs: Sequence[dict], target: str, key: str,
                      *, resamples: int = 10000, seed: int = 0) -> dict | None:
    """HRL-CG minus HRL on the seeds both groups have, for one target and metric.

    Returns None if no paired seed has the metric; else {"seeds", "steps": [first, last common
    step], "final", "auc"}, each of the last two {"differences": per seed, "mean", "ci": (low,
    high) or None (fewer than 2 seeds), "higher" / "lower": the seeds where HRL-CG is above /
    below HRL}.
    """
    hrl = {r["seed"]: view(r, target) for r in hrl_runs}
    pairs = [(view(r, target), hrl[r["seed"]]) for r in cg_runs if r["seed"] in hrl]
    pairs = [(a, b) for a, b in pairs if np.isfinite(a[key]).any() and np.isfinite(b[key]).any()]
    if not pairs:
        return None
    common = None
    for a, b in pairs:
        for v in (a, b):
            s = set(v["steps"][np.isfinite(v[key])].tolist())
            common = s if common is None else common & s
    steps = np.asarray(sorted(common), np.float64)
    out = {"seeds": [a["seed"] for a, _ in pairs], "steps": steps[[0, -1]].tolist() if steps.size else []}

    def at(v):
        return np.interp(steps, v["steps"][np.isfinite(v[key])], v[key][np.isfinite(v[key])])

    measures = {"final": lambda v: float(at(v)[-1]) if steps.size else float("nan")}
    if steps.size >= 2:
        measures["auc"] = lambda v: stats.normalized_auc(steps, at(v))
    for name, fn in measures.items():
        diffs = [fn(a) - fn(b) for a, b in pairs]
        if not np.all(np.isfinite(diffs)):
            continue
        boot = stats.bootstrap_mean_ci(diffs, resamples=resamples, seed=seed)
        out[name] = {"differences": diffs, "mean": float(np.mean(diffs)),
                     "ci": None if boot is None else boot[1:],
                     "higher": int(sum(d > 0 for d in diffs)),
                     "lower": int(sum(d < 0 for d in diffs))}
    return out


def group_index(groups: Dict[tuple, List[dict]], env: str) -> Dict[str, dict]:
    """{group: {"runs", "method", "num_levels", "cg_lambda"}} of one env."""
    return {g: {"runs": runs, **{k: runs[0][k] for k in ("method", "num_levels", "cg_lambda")}}
            for (e, g), runs in groups.items() if e == env}


def cg_pairs(index: Dict[str, dict]) -> List[tuple]:
    """(HRL-CG group, HRL group) with the same number of levels, for every HRL-CG group."""
    hrl = {m["num_levels"]: g for g, m in index.items() if m["method"] == "hrl"}
    return [(g, hrl[m["num_levels"]]) for g, m in index.items()
            if m["method"] == "hrl_cg" and m["num_levels"] in hrl]


def group_variant(group: str, method: dict) -> str:
    """What a group's name adds to its method's own name (`<method>_L<n>[_lam<x>]`): '' for the
    sweep's own groups, 'reference' for 'hrl_cg_L2_lam0.01_reference' (compare.py --suffix)."""
    own = f"{method['method']}_L{method['num_levels']}"
    if method["method"] == "hrl_cg":
        own += f"_lam{method['cg_lambda']:g}"
    return group[len(own):].lstrip("_") if group.startswith(own) else ""


def lambda_rows(index: Dict[str, dict], levels: Sequence[str], width: float) -> Dict[int, list]:
    """{num_levels: rows sorted by lambda} for the level counts with >= 2 lambdas (HRL = 0); a row:
    {"group", "variant" (group_variant), "lambda", "seeds", "return", "success" (ci95 of finals),
    "intrinsic" (intrinsic_row)}."""
    out: Dict[int, list] = {}
    for g, m in index.items():
        if m["method"] in ("hrl", "hrl_cg") and m["cg_lambda"] is not None:
            runs = m["runs"]
            out.setdefault(m["num_levels"], []).append({
                "group": g, "variant": group_variant(g, m), "lambda": m["cg_lambda"],
                "seeds": len(runs),
                **{k: stats.ci95([final_value(r, k) for r in runs]) for k in KEYS},
                "intrinsic": intrinsic_row(runs, levels, width)})
    return {n: sorted(rows, key=lambda r: r["lambda"]) for n, rows in sorted(out.items())
            if len({r["lambda"] for r in rows}) >= 2}


# --------------------------------------------------------------------------------------------------
# Reference marks.

def load_reference(path: str | pathlib.Path | None) -> List[dict]:
    """The "marks" of a reference JSON: {"env", "group", "metric", "target", "value", "plus_minus",
    "label", "note"}; target null means "all", a list is a context ([16, 0] -> "(16, 0)")."""
    if not path:
        return []
    marks = json.loads(pathlib.Path(path).read_text()).get("marks")
    if not isinstance(marks, list):
        raise ValueError(f"{path}: needs a list 'marks'")
    out = []
    for i, m in enumerate(marks):
        missing = {"env", "group", "metric", "value", "label"} - set(m)
        if missing:
            raise ValueError(f"{path}: mark {i} lacks {sorted(missing)}")
        if m["metric"] not in KEYS:
            raise ValueError(f"{path}: mark {i} metric must be one of {KEYS}, got {m['metric']!r}")
        target = m.get("target")
        out.append(dict(m, target=ALL if target is None else target_label(target)))
    return out


RESULTS = "benchmarks/results"   # reports: their rewriting does not count as a code change


def provenance(argv: Sequence[str], module: str = "benchmarks.analysis.compare") -> dict:
    """The command that reproduces a report of `python -m <module>` and the git commit of the code
    that ran it ("with uncommitted changes" if tracked files outside benchmarks/results differ)."""
    command = shlex.join(["python", "-m", module, *argv])
    code = collect.git_commit_of(ROOT, exclude=[RESULTS])
    if code is None:
        commit = "unknown (not a git checkout)"
    else:
        commit = code["commit"] + (" (with uncommitted changes)" if code["dirty"] else "")
    return {"command": command, "commit": commit}
