"""Sweep grids: a JSON config expanded into cells (environment x method x levels x lambda x seed).

The grid is a JSON file (see benchmarks/configs/); its keys:
  envs          {name: gin file (path, or name under gin/)}            required
  methods       subset of ["flat", "hrl", "hrl_cg"]                     required
  num_levels    levels of the hierarchical methods, e.g. [2, 3]        default [2]
  cg_lambda     lambdas of "hrl_cg" (each > 0), or {env name: lambdas}  default [0.01]
  seeds         list of seeds, or an int n for range(n)                 default [0]
  gin_files     extra gin files for every cell                          default []
  gin_bindings  extra bindings for every cell (after the grid's own)    default []
  env_gin_bindings  {env name: [bindings]} extra bindings per env       default {}
  exclude       groups to leave out, regexes matched against the whole  default []
                group name (`<method>_L<levels>[_lam<lambda>]`), e.g. "hrl_cg_L3_lam0.1"
Expansion: "flat" gives one cell per env and seed (1 level, no lambda); "hrl" one per levels >= 2 in
`num_levels` (lambda 0); "hrl_cg" one per levels >= 2 and lambda.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
from typing import List, Sequence

METHODS = ("flat", "hrl", "hrl_cg")
TOTAL_STEPS = "train.total_steps"       # the binding that sets a cell's training length
METHOD_GIN = {"flat": "methods/flat.gin", "hrl": "methods/hrl.gin", "hrl_cg": "methods/hrl_cg.gin"}
_CONFIG_KEYS = {"envs", "methods", "num_levels", "cg_lambda", "seeds", "gin_files", "gin_bindings",
                "env_gin_bindings", "exclude", "name", "description"}


def binding_name(binding: str) -> str:
    """The configurable a gin binding `name = value` sets, e.g. "train.total_steps"."""
    return binding.partition("=")[0].strip()


def without_total_steps(bindings: Sequence[str]) -> List[str]:
    """`bindings` without those that set `train.total_steps` (the one setting `--extend` may change)."""
    return [b for b in bindings if binding_name(b) != TOTAL_STEPS]


@dataclasses.dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    env: str
    method: str
    num_levels: int
    cg_lambda: float | None   # None for flat
    seed: int
    gin_files: tuple
    gin_bindings: tuple

    @property
    def group(self) -> str:
        """The cell's name without the seed: `<method>_L<levels>[_lam<lambda>]`."""
        name = f"{self.method}_L{self.num_levels}"
        if self.method == "hrl_cg":
            name += f"_lam{self.cg_lambda:g}"
        return name

    @property
    def cell_id(self) -> str:
        """Path of the cell's root_dir relative to the sweep root: `<env>/<group>/seed<seed>`."""
        return f"{self.env}/{self.group}/seed{self.seed}"

    def args(self, root_dir: pathlib.Path) -> List[str]:
        """The training binary's arguments."""
        out = ["--root_dir", str(root_dir / self.cell_id)]
        for f in self.gin_files:
            out += ["--gin_file", f]
        for b in self.gin_bindings:
            out += ["--gin_bindings", b]
        return out

    @property
    def total_steps(self) -> int | None:
        """The training length the cell's gin bindings set (the last `train.total_steps`), or None."""
        total = None
        for b in self.gin_bindings:
            if binding_name(b) == TOTAL_STEPS:
                value = b.partition("=")[2]
                try:
                    total = int(value.strip().replace("_", ""))
                except ValueError:
                    raise ValueError(f"{self.cell_id}: the binding {b!r} sets no integer") from None
        return total

    def metadata(self) -> dict:
        return {"env": self.env, "method": self.method, "num_levels": self.num_levels,
                "cg_lambda": self.cg_lambda, "seed": self.seed, "group": self.group,
                "gin_files": list(self.gin_files), "gin_bindings": list(self.gin_bindings)}


def _seeds(value) -> List[int]:
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"seeds: an int means range(n) and must be >= 1, got {value}")
        return list(range(value))
    if not isinstance(value, list) or not value or not all(isinstance(s, int) for s in value):
        raise ValueError(f"seeds must be a non-empty list of ints or an int, got {value!r}")
    return value


def load_config(path: str | os.PathLike) -> dict:
    with open(path) as f:
        config = json.load(f)
    validate_config(config)
    return config


def validate_config(config: dict) -> None:
    """Raises ValueError naming what is wrong with a grid config."""
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
    envs = config.get("envs")
    if not isinstance(envs, dict) or not envs:
        raise ValueError("config needs 'envs': {name: gin file} with at least one entry")
    for name in envs:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"env name {name!r} must be usable as a directory name")
    methods = config.get("methods")
    if not isinstance(methods, list) or not methods or set(methods) - set(METHODS):
        raise ValueError(f"config 'methods' must be a non-empty subset of {list(METHODS)}, got "
                         f"{methods!r}")
    levels = config.get("num_levels", [2])
    if not all(isinstance(n, int) and n >= 1 for n in levels):
        raise ValueError(f"num_levels must be ints >= 1, got {levels!r}")
    if {"hrl", "hrl_cg"} & set(methods) and not any(n >= 2 for n in levels):
        raise ValueError(f"methods hrl/hrl_cg need some num_levels >= 2, got {levels!r}")
    lambdas = config.get("cg_lambda", [0.01])
    if isinstance(lambdas, dict):
        if set(lambdas) != set(envs):
            raise ValueError(f"cg_lambda as a dict needs one entry per env {sorted(envs)}, got "
                             f"{sorted(lambdas)}")
        lambdas = [x for v in lambdas.values() for x in v]
    if not all(isinstance(x, (int, float)) and x > 0 for x in lambdas):
        raise ValueError(f"cg_lambda values must be > 0 (lambda 0 is method 'hrl'), got {lambdas!r}")
    _seeds(config.get("seeds", [0]))
    exclude = config.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise ValueError(f"exclude must be a list of regexes (strings), got {exclude!r}")
    for pattern in exclude:
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"exclude: {pattern!r} is not a regex ({e})") from None
    extra = config.get("env_gin_bindings", {})
    if set(extra) - set(envs):
        raise ValueError(f"env_gin_bindings names unknown envs {sorted(set(extra) - set(envs))}")


def expand_grid(config: dict) -> List[Cell]:
    """Every cell of the grid, in a stable order (env, method, levels, lambda, seed)."""
    validate_config(config)
    cells = []
    levels = sorted(set(config.get("num_levels", [2])))
    lambda_config = config.get("cg_lambda", [0.01])
    seeds = _seeds(config.get("seeds", [0]))
    extra_files = tuple(config.get("gin_files", []))
    extra_bindings = tuple(config.get("gin_bindings", []))
    exclude = [re.compile(x) for x in config.get("exclude", [])]
    for env, env_gin in config["envs"].items():
        env_bindings = tuple(config.get("env_gin_bindings", {}).get(env, []))
        lambdas = lambda_config[env] if isinstance(lambda_config, dict) else lambda_config
        lambdas = sorted(set(float(x) for x in lambdas))
        for method in METHODS:
            if method not in config["methods"]:
                continue
            if method == "flat":
                variants = [(1, None)]
            elif method == "hrl":
                variants = [(n, 0.0) for n in levels if n >= 2]
            else:
                variants = [(n, lam) for n in levels if n >= 2 for lam in lambdas]
            for n, lam in variants:
                group = Cell(env, method, n, lam, 0, (), ()).group
                if any(x.fullmatch(group) for x in exclude):
                    continue
                for seed in seeds:
                    bindings = [f"build_hierarchy.num_levels = {n}"]
                    if lam is not None:
                        bindings.append(f"Hierarchy.cg_lambda = {lam!r}")
                    bindings.append(f"train.seed = {seed}")
                    cells.append(Cell(env=env, method=method, num_levels=n, cg_lambda=lam, seed=seed,
                                      gin_files=(env_gin, METHOD_GIN[method], *extra_files),
                                      gin_bindings=(*bindings, *env_bindings, *extra_bindings)))
    return cells
