#!/usr/bin/env bash
# The main job: set up .venv from scratch if needed, then a short real training of a two-level
# HRL-CG hierarchy on PointReach (15,000 steps, about a minute on 2 cores). Metrics (JSON lines),
# TensorBoard logs, checkpoints, learning_curve.png and trajectory plots (plots/) land in runs/demo/
# (or the directory given as $1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=2 MUJOCO_GL=egl
root="${1:-runs/demo}"
.venv/bin/python -m hierarchy.bin.train --root_dir="$root" --gin_file=demo/point_reach_hrl_cg.gin
echo "Done: see $root/eval_metrics.jsonl, $root/learning_curve.png, $root/plots/, $root/tensorboard/"
