#!/usr/bin/env bash
# Interleaved throughput of two checkouts of this repository (e.g. before and after a change):
# runs benchmarks/throughput.py in each, alternately (A B A B ...), in separate processes, and
# prints every run's table lines for the chosen loops. Usage:
#   bash benchmarks/compare_commits.sh <checkout A> <checkout B> <rounds> [throughput.py flags...]
# Each checkout must be a directory holding this repository at some commit (git worktree add).
set -euo pipefail
a="$1"; b="$2"; rounds="$3"; shift 3
py="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for tree in "$a" "$b"; do
    echo "=== round $r: $tree ($(git -C "$tree" rev-parse --short HEAD))"
    (cd "$tree" && TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. "$py" benchmarks/throughput.py --no_write \
        --breakdown_steps 0 --repeats 1 "$@" 2>/dev/null | grep -E '^\| (flat|hrl|hiro)[a-z_0-9]* \|')
  done
done
