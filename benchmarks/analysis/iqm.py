"""The evidence report's aggregate statistics in the manner of rliable (Agarwal et al., 2021): per
group, the interquartile mean (IQM) of the seeds' final evaluations with a stratified bootstrap 95%
interval, and, for every HRL-CG group against the HRL group of the same number of levels, the
probability of improvement P(HRL-CG > HRL) with its interval (statistics: `stats`).

Scores are the runs' final evaluation values (each seed's last evaluation), per metric (success,
return):
- "all": the overall evaluation, one task;
- "targets": where a task has several evaluation targets, each target is a task of a (runs x
  targets) matrix; the stratified bootstrap resamples the seeds within each target, and the
  probability of improvement is averaged over the targets. A run without a value for some target is
  left out of this column.
Both bootstraps are percentile intervals with a fixed number of resamples and generator seed, so a
report is reproduced exactly by its command.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np

from benchmarks.analysis import evidence, stats

# Resamples of the stratified bootstrap: rliable resamples in a Python loop (about 1 ms each on 2
# shared cores), so fewer than the paired bootstrap's vectorised 10,000.
RESAMPLES = 2000


def scores(runs: Sequence[dict], targets: Sequence[str], key: str) -> Dict[str, np.ndarray]:
    """{"all": [runs] final values of the overall target, "targets": [runs, targets] of the
    per-context targets (only where there are several)}; runs without a finite value are left out."""
    overall = np.asarray([evidence.final_value(evidence.view(r, evidence.ALL), key) for r in runs])
    out = {"all": overall[np.isfinite(overall)]}
    contexts = [t for t in targets if t != evidence.ALL]
    if len(contexts) > 1:
        matrix = np.asarray([[evidence.final_value(evidence.view(r, t), key) for t in contexts]
                             for r in runs]).reshape(len(runs), len(contexts))
        out["targets"] = matrix[np.all(np.isfinite(matrix), axis=1)]
    return out


def section(index: Dict[str, dict], targets: Sequence[str], keys: Sequence[str], *,
            resamples: int, seed: int) -> dict:
    """{"resamples", "seed", "targets" (the per-context targets, where several), "iqm": {group:
    {key: {scope: (iqm, low, high, n) or None}}}, "improvement": [{"hrl_cg", "hrl", key: {scope:
    (probability, low, high, n_cg, n_hrl) or None}}]}."""
    contexts = [t for t in targets if t != evidence.ALL]
    out = {"resamples": resamples, "seed": seed, "targets": contexts if len(contexts) > 1 else [],
           "iqm": {}, "improvement": []}
    per_group = {g: {k: scores(m["runs"], targets, k) for k in keys} for g, m in index.items()}
    for g, by_key in per_group.items():
        out["iqm"][g] = {k: {scope: _with_n(stats.iqm_interval(s, resamples=resamples, seed=seed), s)
                             for scope, s in by_scope.items()} for k, by_scope in by_key.items()}
    for cg, hrl in evidence.cg_pairs(index):
        row = {"hrl_cg": cg, "hrl": hrl}
        for k in keys:
            row[k] = {}
            for scope, x in per_group[cg][k].items():
                y = per_group[hrl][k].get(scope)
                p = None if y is None else stats.improvement_probability(
                    x, y, resamples=resamples, seed=seed)
                row[k][scope] = None if p is None else (*p, len(x), len(y))
        out["improvement"].append(row)
    return out


def _with_n(estimate, s: np.ndarray):
    return None if estimate is None else (*estimate, len(s))


def _interval(entry, digits: int = 2) -> str:
    """'v [low, high] (n=...)' of an IQM (v, low, high, n) or a probability (v, low, high, n_x,
    n_y); '-' for None."""
    if entry is None:
        return "-"
    value, low, high, *counts = entry
    if counts == [1]:
        return f"{value:.{digits}f} (n=1)"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}] (n={'/'.join(map(str, counts))})"


def markdown(a: dict, keys: Sequence[str], table: Callable[..., List[str]]) -> List[str]:
    """The Markdown lines of one environment's section; `table(header, rows)` renders a table."""
    scopes = ["all"] + (["targets"] if a["targets"] else [])
    names = {"all": "target all", "targets": f"over the {len(a['targets'])} targets"}
    boot = (f"stratified bootstrap 95% interval in brackets ({a['resamples']} resamples, NumPy "
            f"generator seed {a['seed']}; rliable)")
    lines = ["### Interquartile mean and probability of improvement", "",
             "Final evaluation (each seed's last). IQM: the mean of the middle half of the seeds "
             "(int(n/4) cut from each end; with fewer than 4 seeds, the mean); " + boot + "."
             + (" Over the targets: each target a task, seeds resampled within each target."
                if a["targets"] else ""), ""]
    header = ["group"] + [f"IQM final {k}, {names[s]}" for k in keys for s in scopes]
    lines += table(header, [[g] + [_interval(v[k][s]) if s in v[k] else "-" for k in keys
                                    for s in scopes] for g, v in a["iqm"].items()])
    if a["improvement"]:
        lines += ["P(HRL-CG > HRL): the probability that an HRL-CG seed's final evaluation is above "
                  "an HRL seed's (Mann-Whitney U / (n_cg n_hrl), ties count one half"
                  + ("; over the targets, averaged over them" if a["targets"] else "")
                  + "); n = HRL-CG seeds / HRL seeds.", ""]
        header = ["HRL-CG", "HRL"] + [f"P(improvement) final {k}, {names[s]}" for k in keys
                                      for s in scopes]
        lines += table(header, [[r["hrl_cg"], r["hrl"]] + [
            _interval(r[k].get(s)) if r[k].get(s) is not None else stats.NOT_ENOUGH
            for k in keys for s in scopes] for r in a["improvement"]])
    return lines
