"""The benchmark suite of this repository (not part of the installed library; run from the
repository root as `python -m benchmarks.<part>.<module>`), in three parts:

- `benchmarks.sweeps`: grids of training runs on Ray (the grid, the cell runner, the sweep, and the
  collection of finished cells into a results directory);
- `benchmarks.analysis`: reports from run directories (aggregate tables and curves, the evidence
  report with its paired and aggregate statistics, connected-gradient diagnostics);
- `benchmarks.performance`: speed measurements (training loops, environments, exported policies).
"""
