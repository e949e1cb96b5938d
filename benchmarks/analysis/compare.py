"""The evidence report of a sweep: per evaluation target, lower levels' intrinsic returns, HRL-CG
against HRL on paired seeds, the lambda study, and reference numbers (the paper's) on the curves.

Complements `aggregate` (overall table and curves) on the same run directories; what is computed
and how: `evidence` (statistics: `stats`). Across seeds every table gives mean +/- the half-width of
a 95% confidence interval for the mean (t(0.975, n-1) x sample std / sqrt(n)); "(n=1)" where one
seed has the value. Beside them, per group, the interquartile mean of the seeds' final evaluations
with a stratified bootstrap interval, and for HRL-CG against HRL the probability of improvement
(`iqm`, after rliable).

Writes to --out_dir: `compare.md` (also printed), `compare.json` (tables, curve numbers, the command
and the git commit it ran on), and per environment `targets_<env>.png`, `intrinsic_<env>.png` (where
runs have intrinsic returns) and `lambda_<env>_L<n>.png` (where a level count has >= 2 lambdas).

With `--planned CONFIG` (a sweep grid, repeatable) the report starts with the campaign's status: how
many of the planned cells finished, which did not (by group and seed), and the commits the finished
cells trained on (their `cell.json`), so that a partial campaign says what it lacks.

`--suffix ROOT=NAME` (repeatable) appends `_NAME` to the group of every run read from ROOT, one of
the roots given: two sweeps whose cells share group names (the same method under another setting,
e.g. another connected-gradient estimator) are then compared side by side, each against the same
HRL cells. Without it two runs with the same env, group and seed stop the report with an error.

Usage (repository root):
  python -m benchmarks.analysis.compare runs/point_maze --out_dir runs/point_maze/summary \
      [--planned benchmarks/configs/point_maze_suite.json] \
      [--success_threshold 0.5] [--return_threshold ant_gather=3.0] \
      [--reference benchmarks/paper_reference.json] [--intrinsic_bin 50000] \
      [--suffix runs/other_sweep=variant] \
      [--resamples 10000] [--bootstrap_seed 0] [--no_plots]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import re
import sys
from typing import Dict, List, Sequence

import numpy as np

from benchmarks.analysis import aggregate, evidence, iqm, stats
from benchmarks.sweeps import grid
from hierarchy.run.metrics import jsonable

NAMES = {"final": "final", "auc": "area under curve"}


def _ci(stat, digits: int = 2) -> str:
    mean, half, n = stat
    if n == 0:
        return "-"
    if n == 1 or not math.isfinite(half):
        return f"{mean:.{digits}f} (n=1)"
    return f"{mean:.{digits}f} +/- {half:.{digits}f}"


def _steps(entry) -> str:
    if entry is None:
        return "-"
    mean, half, n = entry["steps"]
    reached = f"({entry['reached']}/{entry['of']})"
    if n == 0:
        return f"never {reached}"
    if n == 1:
        return f"{mean:,.0f} {reached}"
    return f"{mean:,.0f} +/- {half:,.0f} {reached}"


def _number(x: float) -> str:
    return "-" if not np.isfinite(x) else (f"{x:.2f}" if abs(x) < 10 else f"{x:,.0f}")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows] + [""])


def analyse_env(env: str, index: Dict[str, dict], *, thresholds: Dict[str, float | None],
                bin_width: float | None, marks: Sequence[dict], resamples: int, seed: int,
                train_window: int = 100, iqm_resamples: int = iqm.RESAMPLES) -> dict:
    """Every table of one environment (see benchmarks/analysis/evidence.py)."""
    runs = [r for m in index.values() for r in m["runs"]]
    targets = list(dict.fromkeys(t for r in runs for t in r["targets"]))
    keys = [k for k in evidence.KEYS if any(np.isfinite(r[k]).any() for r in runs)]
    width = float(bin_width) if bin_width else evidence.eval_interval(runs)
    levels = evidence.lower_levels(runs)
    out = {"targets": targets, "keys": keys, "bin": width, "levels": levels, "tables": {},
           "curves": {}, "intrinsic": {}, "paired": [], "lambda": {}, "reference": [],
           "train_window": train_window}
    for t in targets:
        out["tables"][t] = {g: dict(evidence.target_row(m["runs"], t, thresholds),
                                    finished=sum(bool(r["finished"]) for r in m["runs"]))
                            for g, m in index.items()}
        out["curves"][t] = {g: {k: aggregate.curve([evidence.view(r, t) for r in m["runs"]], k)
                                for k in keys} for g, m in index.items()}
    for g, m in index.items():
        if any(r["intrinsic"] for r in m["runs"]):
            out["intrinsic"][g] = {"final_window": evidence.intrinsic_row(m["runs"], levels, width),
                                   "per_seed": evidence.intrinsic_per_seed(m["runs"], levels, width),
                                   "curves": {lvl: evidence.intrinsic_curve(m["runs"], lvl, width)
                                              for lvl in levels}}
    for cg, hrl in evidence.cg_pairs(index):
        comparisons = {(t, k): evidence.paired_comparison(index[cg]["runs"], index[hrl]["runs"], t, k,
                                                          resamples=resamples, seed=seed)
                       for t in targets for k in keys}
        out["paired"].append({"hrl_cg": cg, "hrl": hrl, "rows": [
            {"target": t, "metric": k, **c} for (t, k), c in comparisons.items() if c is not None]})
    out["lambda"] = evidence.lambda_rows(index, levels, width)
    out["iqm"] = iqm.section(index, targets, keys, resamples=iqm_resamples, seed=seed)
    out["per_seed"] = {g: {str(r["seed"]): {k: evidence.final_value(evidence.view(r, targets[0]), k)
                                            for k in keys}
                           for r in sorted(m["runs"], key=lambda r: r["seed"])}
                       for g, m in index.items()} if targets else {}
    for mk in marks:
        if mk["env"] != env:
            continue
        row = out["tables"].get(mk["target"], {}).get(mk["group"])
        # Training episodes have no evaluation target: a training figure for the overall one only.
        training = None if row is None or mk["target"] != evidence.ALL else stats.ci95([
            evidence.best_window_mean(r["training"][mk["metric"]], train_window)
            for r in index[mk["group"]]["runs"]])
        out["reference"].append(dict(mk, ours=None if row is None else {
            "best": row[f"best_{mk['metric']}"], "final": row[f"final_{mk['metric']}"],
            "training_best": training}))
    return out


def markdown_env(env: str, a: dict) -> List[str]:
    """The Markdown section of one environment."""
    lines = [f"## {env}", "", "### Per evaluation target", ""]
    for t in a["targets"]:
        rows = a["tables"][t]
        some = next(iter(rows.values()))
        header = ["group", "seeds (finished)"]
        for k in a["keys"]:
            header += [f"final {k}", f"best {k}"]
        steps = [k for k in a["keys"] if f"steps_to_{k}" in some]
        header += [f"steps to {k} >= {some[f'steps_to_{k}']['threshold']:g}" for k in steps]
        body = [[g, f"{r['seeds']} ({r['finished']})"]
                + [_ci(r[f"{w}_{k}"]) for k in a["keys"] for w in ("final", "best")]
                + [_steps(r.get(f"steps_to_{k}")) for k in steps] for g, r in rows.items()]
        lines += [f"#### target {t}", ""] + _table(header, body)
    if a["per_seed"]:
        seeds = sorted({int(s) for v in a["per_seed"].values() for s in v})
        lines += [f"### Final evaluation per seed, target {a['targets'][0]}", "",
                  "Each seed's last evaluation: " + " / ".join(a["keys"]) + "; '-' where the seed "
                  "has no run.", ""]
        lines += _table(["group"] + [f"seed {s}" for s in seeds], [
            [g] + [" / ".join(_number(v[str(s)][k]) for k in a["keys"]) if str(s) in v else "-"
                   for s in seeds] for g, v in a["per_seed"].items()])
    lines += ["### Lower levels' intrinsic returns", ""]
    if a["intrinsic"]:
        lines += [f"Final window: per seed, the mean over the training episodes of its last "
                  f"{a['bin']:,.0f} steps; curves in bins of {a['bin']:,.0f} steps.", ""]
        lines += _table(["group"] + [f"final {lvl}" for lvl in a["levels"]],
                        [[g, *(_ci(v["final_window"][lvl]) for lvl in a["levels"])]
                         for g, v in a["intrinsic"].items()])
        seeds = sorted({int(s) for v in a["intrinsic"].values() for per in v["per_seed"].values()
                        for s in per})
        lines += ["Per seed, the same final window; '-' where the seed has no run or the level no "
                  "intrinsic returns.", ""]
        lines += _table(["group", "level"] + [f"seed {s}" for s in seeds], [
            [g, lvl] + [_number(per[str(s)]) if str(s) in per else "-" for s in seeds]
            for g, v in a["intrinsic"].items() for lvl, per in v["per_seed"].items() if per])
    else:
        lines += ["No run has intrinsic returns (train_metrics.jsonl).", ""]
    lines += ["### HRL-CG against HRL on paired seeds", ""]
    if not a["paired"]:
        lines += ["No HRL-CG group with an HRL group of the same number of levels.", ""]
    for p in a["paired"]:
        first = p["rows"][0] if p["rows"] else {"seeds": [], "steps": []}
        span = "-".join(f"{s:,.0f}" for s in first["steps"])
        lines += [f"#### {p['hrl_cg']} minus {p['hrl']}: seeds {', '.join(map(str, first['seeds']))}"
                  f"; common evaluation steps {span or '-'}", ""]
        body = []
        for r in p["rows"]:
            for name, label in NAMES.items():
                if name not in r:
                    continue
                m = r[name]
                ci = stats.NOT_ENOUGH if m["ci"] is None else f"[{m['ci'][0]:+.3f}, {m['ci'][1]:+.3f}]"
                per_seed = ", ".join(f"{s}: {d:+.3f}" for s, d in zip(r["seeds"], m["differences"]))
                body.append([r["target"], f"{label} {r['metric']}", f"{m['mean']:+.3f}", ci,
                             f"{m['higher']} / {m['lower']} / {len(m['differences'])}", per_seed])
        lines += _table(["target", "measure", "mean difference", "95% bootstrap CI",
                         "HRL-CG higher / lower / seeds", "per seed (seed: difference)"], body)
    lines += iqm.markdown(a["iqm"], a["keys"], _table)
    for n, rows in a["lambda"].items():
        lines += [f"### Lambda study, {n} levels", ""]
        header = ["lambda", "group", "seeds", "final return"] + (
            ["final success"] if "success" in a["keys"] else []) + [
            f"final intrinsic {lvl}" for lvl in a["levels"]]
        lines += _table(header, [[f"{r['lambda']:g}", r["group"], str(r["seeds"]), _ci(r["return"])]
                                 + ([_ci(r["success"])] if "success" in a["keys"] else [])
                                 + [_ci(r["intrinsic"].get(lvl, (0, 0, 0))) for lvl in a["levels"]]
                                 for r in rows])
    if a["reference"]:
        lines += ["### Reference numbers", ""]
        body = []
        for mk in a["reference"]:
            paper = "-" if mk["value"] is None else (
                f"{mk['value']:g}" + (f" +/- {mk['plus_minus']:g}" if mk.get("plus_minus") else ""))
            ours = mk["ours"]
            training = "no runs" if ours is None else (
                "-" if ours["training_best"] is None else _ci(ours["training_best"]))
            body.append([mk["group"], mk["target"], mk["metric"], paper,
                         "no runs" if ours is None else _ci(ours["best"]),
                         "no runs" if ours is None else _ci(ours["final"]), training,
                         mk.get("note", "")])
        window = a["train_window"]
        lines += [f"ours: best and final evaluation; ours: training, the highest mean of {window} "
                  "consecutive training episodes (exploration noise included), over the seeds with "
                  "that many episodes, for the overall target only.", ""]
        lines += _table(["group", "target", "metric", "reference", "ours: best", "ours: final",
                         f"ours: training, best {window}-episode mean", "note"], body)
    return lines


def compare(roots: Sequence[str], out_dir: str | pathlib.Path, *, success_threshold: float | None = 0.5,
            return_thresholds: Sequence[str] = (), reference: str | None = None,
            bin_width: float | None = None, resamples: int = 10000, seed: int = 0,
            plot: bool = True, argv: Sequence[str] = (), planned: Sequence[str] = (),
            suffixes: Dict[str, str] | None = None, train_window: int = 100,
            iqm_resamples: int = iqm.RESAMPLES) -> dict:
    """Reads the runs, writes compare.md, compare.json and the figures; returns the analysis.
    `planned`: grid configs whose cells the report's status section accounts for. `suffixes`:
    {root: name}, `_name` appended to the groups of the runs read from that root."""
    out_dir = pathlib.Path(out_dir)
    suffixes = dict(suffixes or {})
    unknown = sorted(set(suffixes) - {str(r) for r in roots})
    if unknown:
        raise ValueError(f"--suffix names {unknown}, which are not among the roots {list(roots)}")
    runs = []
    for root in roots:
        loaded = evidence.load_runs([root])
        if str(root) in suffixes:
            for run in loaded:
                run["group"] = f"{run['group']}_{suffixes[str(root)]}"
        runs += loaded
    if not runs:
        raise FileNotFoundError(f"no {aggregate.EVAL_METRICS} found under {list(roots)}")
    marks = evidence.load_reference(reference)
    groups = aggregate.group_runs(runs)
    envs = sorted({env for env, _ in groups})
    prov = evidence.provenance(argv)
    analysis = {}
    for env in envs:
        thresholds = {"success": success_threshold,
                      "return": evidence.return_threshold(return_thresholds, env)}
        analysis[env] = analyse_env(env, evidence.group_index(groups, env), thresholds=thresholds,
                                    bin_width=bin_width, marks=marks, resamples=resamples, seed=seed,
                                    train_window=train_window, iqm_resamples=iqm_resamples)
    lines = ["# Evidence report", "", f"Command: `{prov['command']}`", "",
             f"Code: commit {prov['commit']}", "",
             "Across seeds: mean +/- half-width of the 95% confidence interval for the mean "
             "(t(0.975, n-1) x sample std / sqrt(n)). final: each seed's last evaluation; best: its "
             "best; steps to threshold: first evaluation at or above it, over the seeds that reach it "
             "(reached/seeds). Paired differences: HRL-CG minus HRL on the same seed; area under curve "
             "= trapezoid over the evaluation steps common to every paired run / their range; CI: "
             f"percentile bootstrap over seeds ({resamples} resamples, generator seed {seed}; scipy). "
             "Interquartile means and probabilities of improvement: stratified bootstrap "
             f"({iqm_resamples} resamples, generator seed {seed}; rliable).", ""]
    status = campaign_status(roots, planned) if planned else None
    lines += markdown_status(status) if status else []
    for env in envs:
        lines += markdown_env(env, analysis[env])
    text = "\n".join(lines)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compare.md").write_text(text)
    (out_dir / "compare.json").write_text(json.dumps(jsonable(
        {"provenance": prov, "status": status, "envs": analysis}), indent=1))
    paths = _plots(groups, envs, analysis, marks, out_dir) if plot else []
    return {"analysis": analysis, "markdown": text, "plots": paths}


def campaign_status(roots: Sequence[str | pathlib.Path], configs: Sequence[str]) -> dict:
    """The planned cells of the grid configs (each once, in grid order) against the run directories
    under `roots`: {"configs", "planned", "finished", "unfinished" (evaluation rows but no
    finished.json), "missing" (cell ids), "commits" {commit: finished cells trained on it}}."""
    planned = []
    for config in configs:
        for cell in grid.expand_grid(grid.load_config(config)):
            if cell.cell_id not in planned:
                planned.append(cell.cell_id)
    status = {"configs": list(configs), "planned": len(planned), "finished": [], "unfinished": [],
              "missing": [], "commits": {}}
    for cell_id in planned:
        dirs = [pathlib.Path(root) / cell_id for root in roots]
        done = [d for d in dirs if (d / "finished.json").is_file()]
        if done:
            status["finished"].append(cell_id)
            code = aggregate.cell_code(done[0]) or {}
            commit = code.get("commit", "unknown")[:10] + (" (dirty)" if code.get("dirty") else "")
            status["commits"][commit] = status["commits"].get(commit, 0) + 1
        elif any((d / aggregate.EVAL_METRICS).is_file() for d in dirs):
            status["unfinished"].append(cell_id)
        else:
            status["missing"].append(cell_id)
    return status


def markdown_status(status: dict) -> List[str]:
    """The campaign-status section of compare.md."""
    def by_group(cell_ids):
        groups: Dict[str, List[str]] = {}
        for cell_id in cell_ids:
            env_group, seed = cell_id.rsplit("/", 1)
            groups.setdefault(env_group, []).append(seed.replace("seed", ""))
        return "; ".join(f"{g}: seeds {', '.join(s)}" for g, s in groups.items()) or "none"

    commits = ", ".join(f"{c} ({n} cells)" for c, n in status["commits"].items()) or "none"
    return ["## Campaign status", "",
            f"Planned by {', '.join(f'`{c}`' for c in status['configs'])}: {status['planned']} cells. "
            f"Finished: {len(status['finished'])}. Unfinished: {len(status['unfinished'])} "
            f"({by_group(status['unfinished'])}). Without rows here (not started, or running elsewhere): "
            f"{len(status['missing'])} "
            f"({by_group(status['missing'])}).", "",
            f"Finished cells trained on commit(s): {commits}.", ""]


def _plots(groups, envs, analysis, marks, out_dir: pathlib.Path) -> List[str]:
    from benchmarks.analysis import evidence_plots

    plt = evidence_plots.pyplot()
    paths = []
    for env in envs:
        index = evidence.group_index(groups, env)
        env_marks = [m for m in marks if m["env"] == env]
        a = analysis[env]
        paths.append(evidence_plots.plot_targets(env, index, env_marks, out_dir, plt))
        path = evidence_plots.plot_intrinsic(env, index, a["levels"], a["bin"], out_dir, plt)
        paths += [path] if path else []
        for n, rows in a["lambda"].items():
            paths.append(evidence_plots.plot_lambda(env, n, rows, a["levels"], out_dir, plt))
    return paths


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    aggregate.add_report_arguments(p)
    p.add_argument("--reference", default="", help="JSON of reference marks (paper numbers)")
    p.add_argument("--train_window", type=int, default=100,
                   help="training episodes averaged for the reference table's training column")
    p.add_argument("--planned", action="append", default=[],
                   help="sweep grid config(s) of the campaign: report which cells are not finished")
    p.add_argument("--intrinsic_bin", type=float, default=0.0,
                   help="bin width (steps) of intrinsic returns (0: the evaluation interval)")
    p.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples")
    p.add_argument("--iqm_resamples", type=int, default=iqm.RESAMPLES,
                   help="stratified bootstrap resamples of the IQM and probability-of-improvement "
                        "intervals")
    p.add_argument("--bootstrap_seed", type=int, default=0, help="seed of every bootstrap")
    p.add_argument("--suffix", action="append", default=[], metavar="ROOT=NAME",
                   help="append _NAME to the groups of the runs under ROOT (one of the roots)")
    args = p.parse_args(argv)
    suffixes = {}
    for item in args.suffix:
        root, sep, name = item.rpartition("=")
        if not sep or not root or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            p.error(f"--suffix takes ROOT=NAME, NAME of letters, digits, '_', '.', '-'; got {item!r}")
        suffixes[root] = name
    try:
        result = compare(
            args.roots, args.out_dir,
            success_threshold=None if args.success_threshold < 0 else args.success_threshold,
            return_thresholds=args.return_threshold, reference=args.reference or None,
            bin_width=args.intrinsic_bin or None, resamples=args.resamples, seed=args.bootstrap_seed,
            plot=not args.no_plots, argv=argv, planned=args.planned, suffixes=suffixes,
            train_window=args.train_window, iqm_resamples=args.iqm_resamples)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"compare: {e}") from None
    return aggregate.print_report(result)


if __name__ == "__main__":
    sys.exit(main())
