"""Figures of the evidence report (benchmarks/analysis/compare.py): curves per evaluation target, lower
levels' intrinsic returns, the lambda study; the reference marks drawn on the curves.

Every curve is the mean across seeds with its 95% band (`aggregate.curve`); every point of the lambda
study is the mean across seeds with its 95% interval (`stats.ci95`) as an error bar.
"""

from __future__ import annotations

import math
import pathlib
from typing import Dict, List, Sequence

import numpy as np

from benchmarks.analysis import aggregate, evidence

YLABEL = {"success": "evaluation success rate", "return": "evaluation return"}


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _rows(index: Dict[str, dict]) -> List[int]:
    """The hierarchical level counts of an env (a row each); [1] for an env with flat runs only."""
    return sorted({m["num_levels"] or 0 for m in index.values() if m["num_levels"] != 1}) or [1]


def _shown(index: Dict[str, dict], n_levels: int) -> Dict[str, dict]:
    return {g: m for g, m in index.items() if m["num_levels"] in (1, n_levels)}


def _band(ax, c, color, label, clip: bool) -> None:
    ok = np.isfinite(c["mean"])
    if not ok.any():
        return
    low, high = c["low"][ok], c["high"][ok]
    if clip:
        low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    ax.plot(c["steps"][ok], c["mean"][ok], color=color, label=label)
    ax.fill_between(c["steps"][ok], low, high, alpha=0.15, color=color, linewidth=0)


def draw_marks(ax, marks: Sequence[dict], groups: Sequence[str], colors: Dict[str, str]) -> None:
    """The reference marks of these groups (value and +/- band); marks without a value are skipped."""
    for m in marks:
        if m["group"] not in groups or m.get("value") is None:
            continue
        color = colors.get(m["group"], "k")
        ax.axhline(m["value"], color=color, linestyle="--", linewidth=1.2, label=m["label"])
        if m.get("plus_minus"):
            ax.axhspan(m["value"] - m["plus_minus"], m["value"] + m["plus_minus"], color=color,
                       alpha=0.08, linewidth=0)


def plot_targets(env: str, index: Dict[str, dict], marks: Sequence[dict], out_dir: pathlib.Path,
                 plt) -> str:
    """`targets_<env>.png`: a column per target, a row per (number of levels, metric)."""
    runs = [r for m in index.values() for r in m["runs"]]
    targets = list(dict.fromkeys(t for r in runs for t in r["targets"]))
    keys = [k for k in evidence.KEYS
            if any(np.isfinite(r["targets"][t][k]).any() for r in runs for t in r["targets"])]
    rows = [(n, k) for n in _rows(index) for k in keys]
    colors = {g: f"C{i % 10}" for i, g in enumerate(index)}
    fig, axes = plt.subplots(len(rows), len(targets), squeeze=False,
                             figsize=(4.6 * len(targets) + 2.5, 3.2 * len(rows)))
    for (n_levels, key), row in zip(rows, axes):
        shown = _shown(index, n_levels)
        for target, ax in zip(targets, row):
            for g, m in shown.items():
                views = [evidence.view(r, target) for r in m["runs"]]
                _band(ax, aggregate.curve(views, key), colors[g], f"{g} (n={len(views)})",
                      clip=key == "success")
            draw_marks(ax, [mk for mk in marks if mk["target"] == target and mk["metric"] == key],
                   list(shown), colors)
            ax.set_title(f"{target}, {n_levels} level(s)", fontsize=9)
            ax.set_xlabel("environment steps")
            ax.set_ylabel(YLABEL[key])
            if key == "success":
                ax.set_ylim(-0.05, 1.05)
            ax.grid(alpha=0.3)
        row[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{env} per evaluation target: mean and 95% band across seeds")
    return _save(fig, out_dir / f"targets_{env}.png", plt)


def plot_intrinsic(env: str, index: Dict[str, dict], levels: Sequence[str], width: float,
                   out_dir: pathlib.Path, plt) -> str | None:
    """`intrinsic_<env>.png`: a row per number of levels, a column per lower level; None if no run
    has intrinsic returns."""
    if not levels:
        return None
    rows = [n for n in _rows(index) if n >= 2]
    colors = {g: f"C{i % 10}" for i, g in enumerate(index)}
    fig, axes = plt.subplots(len(rows), len(levels), squeeze=False,
                             figsize=(5.0 * len(levels) + 2.5, 3.2 * len(rows)))
    for n_levels, row in zip(rows, axes):
        for level, ax in zip(levels, row):
            for g, m in index.items():
                c = evidence.intrinsic_curve(m["runs"], level, width) if m["num_levels"] == n_levels \
                    else None
                if c is not None:
                    _band(ax, c, colors[g], f"{g} (n={len(m['runs'])})", clip=False)
            ax.set_title(f"level '{level}', {n_levels} levels", fontsize=9)
            ax.set_xlabel(f"environment steps (bins of {width:,.0f})")
            ax.set_ylabel("intrinsic return per episode")
            ax.grid(alpha=0.3)
        row[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{env}: lower levels' intrinsic returns, mean and 95% band across seeds")
    return _save(fig, out_dir / f"intrinsic_{env}.png", plt)


def lambda_positions(lambdas: Sequence[float]) -> np.ndarray:
    """x positions on a log axis: lambda itself, and lambda 0 one decade left of the smallest
    positive lambda (1e-3 if there is none)."""
    positive = [x for x in lambdas if x > 0]
    zero_at = (min(positive) if positive else 1e-2) / 10.0
    return np.asarray([x if x > 0 else zero_at for x in lambdas], np.float64)


def plot_lambda(env: str, n_levels: int, rows: Sequence[dict], levels: Sequence[str],
                out_dir: pathlib.Path, plt) -> str:
    """`lambda_<env>_L<n>.png`: final return, success (where any) and intrinsic returns against
    lambda; lambda 0 (HRL, a square) at a tick labelled "0", cut off from the rest by a broken-axis
    mark and not joined to them; a line per variant of the groups' names (`evidence.group_variant`)."""
    x = lambda_positions([r["lambda"] for r in rows])
    panels = [("return", r"final evaluation return")]
    if any(r["success"][2] for r in rows):
        panels.append(("success", "final evaluation success rate"))
    panels += [(("intrinsic", lvl), f"final intrinsic return ('{lvl}')") for lvl in levels
               if any(r["intrinsic"].get(lvl, (0, 0, 0))[2] for r in rows)]
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(4.2 * len(panels), 3.4))
    for ax, (key, label) in zip(axes[0], panels):
        stats = [r["intrinsic"].get(key[1], (math.nan, math.nan, 0)) if isinstance(key, tuple)
                 else r[key] for r in rows]
        mean = np.asarray([s[0] for s in stats], np.float64)
        half = np.nan_to_num(np.asarray([s[1] for s in stats], np.float64))
        zero = np.asarray([r["lambda"] == 0 for r in rows])
        variants = list(dict.fromkeys(r.get("variant", "") for r in rows if r["lambda"] != 0))
        for k, variant in enumerate(variants):   # one line per variant (compare.py --suffix)
            sel = ~zero & np.asarray([r.get("variant", "") == variant for r in rows])
            ax.errorbar(x[sel], mean[sel], yerr=half[sel], marker="o" if k == 0 else "D", capsize=3,
                        color="C0" if k == 0 else f"C{k + 1}", label=variant or "HRL-CG")
        if len(variants) > 1:
            ax.legend(fontsize=7)
        if zero.any():   # HRL, not joined to the rest across the broken axis
            ax.errorbar(x[zero], mean[zero], yerr=half[zero], marker="s", capsize=3, color="C1",
                        linestyle="none")
        ax.set_xscale("log")
        ticks = sorted(set(x.tolist()))
        ax.set_xticks(ticks)
        ax.set_xticklabels([_tick(t, rows, x) for t in ticks], fontsize=7, rotation=45)
        ax.minorticks_off()
        if any(r["lambda"] == 0 for r in rows) and len(ticks) > 1:
            cut = math.sqrt(ticks[0] * ticks[1])
            ax.axvline(cut, color="0.5", linestyle=":", linewidth=1)
            ax.text(cut, 0.02, "//", transform=ax.get_xaxis_transform(), ha="center", fontsize=9)
        ax.set_xlabel("connected-gradient weight lambda (log; 0 = HRL)")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{env}, {n_levels} levels: mean and 95% CI across seeds against lambda")
    return _save(fig, out_dir / f"lambda_{env}_L{n_levels}.png", plt)


def _tick(position: float, rows: Sequence[dict], x: np.ndarray) -> str:
    """The label of a tick: the lambda drawn there."""
    for r, xi in zip(rows, x):
        if xi == position:
            return f"{r['lambda']:g}"
    return f"{position:g}"


def _save(fig, path: pathlib.Path, plt) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    return str(path)
