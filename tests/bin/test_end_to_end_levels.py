"""End to end through the train and evaluate binaries: absolute goals, every connected-gradient
estimator, 3 and 4 levels, and a learned lambda that resumes exactly after SIGKILL.

Every run is short (tiny networks, a 100-step warm-up, 300-400 steps): these check that each
configuration trains every level on schedule and writes consistent metrics, not that it learns.
The default run has the two 300-step runs (about 20 s each on an idle 2-core machine); the 4-level
SIGKILL resume is marked slow.
"""

import json
import os
import subprocess

import numpy as np
import pytest
from run_helpers import REPO, TINY, binary_command, binary_env, kill_after_checkpoint, metric_rows, run_binary

from hierarchy.run import checkpointing, metrics

POINT = "envs/point_reach.gin"
SHORT = TINY + ["Agent.warmup_steps = 100", "train.log_interval = 100",
                "train.eval_episodes_per_context = 1"]

CONFIGS = {
    # Two levels, absolute goals, the "reference" estimator (child actions from the buffer).
    "absolute_reference": (
        ["methods/hrl_cg.gin"],
        ["Hierarchy.relative_goals = False", "Hierarchy.cg_estimator = 'reference'",
         "Hierarchy.cg_lambda = 0.05"],
        ["top", "low"], [10, 1]),
    # Three levels, the "critic" estimator, one lambda per pair.
    "three_levels_critic": (
        ["methods/three_level_cg.gin"],
        ["Hierarchy.periods = [2, 5]", "Hierarchy.cg_estimator = 'critic'",
         "Hierarchy.cg_lambda = [0.05, 0.2]"],
        ["top", "mid1", "low"], [10, 5, 1]),
    # Four levels, the paper's estimator, learned lambdas.
    "four_levels_learned_lambda": (
        ["methods/hrl_cg.gin"],
        ["build_hierarchy.num_levels = 4", "Hierarchy.periods = [2, 2, 3]",
         "Hierarchy.cg_lambda = 0.1", "Hierarchy.learn_cg_lambda = True", "Hierarchy.cg_delta = 0.0",
         "Hierarchy.cg_lambda_learning_rate = 0.01"],
        ["top", "mid1", "mid2", "low"], [12, 6, 3, 1]),
}


def bindings_of(name, total_steps=300, checkpoint_interval=300):
    gin_files, bindings, _, _ = CONFIGS[name]
    return [POINT, *gin_files], SHORT + bindings + [
        f"train.total_steps = {total_steps}", f"train.eval_interval = {total_steps}",
        f"train.checkpoint_interval = {checkpoint_interval}"]


def train_run(root, name, **kwargs):
    gin_files, bindings = bindings_of(name, **kwargs)
    proc = run_binary("train", root, gin_files, bindings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))


def check_every_level_trained(root, rows, names, env_steps_per_step, total_steps, learned):
    """Every level's losses are in the last row, every parent's connected-gradient term ran, and the
    final checkpoint's critic-update counters are those of the schedule: level i updates at every
    multiple of K_i environment steps from the end of the 100-step warm-up on."""
    row = rows[-1]
    assert row["step"] == total_steps
    assert list(row["losses"]) == names
    assert set(row["intrinsic_returns"]) == set(names[1:])
    for name in names[1:]:
        assert np.isfinite(row["intrinsic_returns"][name]) and row["intrinsic_returns"][name] < 0
    for i, name in enumerate(names):
        losses = row["losses"][name]
        assert losses["critic"] > 0 and losses["actor"] != 0, (name, losses)
        if i < len(names) - 1:      # every parent's connected-gradient term ran, with its lambda
            assert losses["cg"] != 0, (name, losses)
            assert losses["lambda"] > 0
        else:
            assert losses["cg"] == 0 and losses["lambda"] == 0
    if learned:     # every pair's lambda moved from its initial 0.1
        assert all(abs(row["losses"][n]["lambda"] - 0.1) > 1e-4 for n in names[:-1]), row["losses"]
    latest = os.path.join(root, "checkpoints", f"ckpt-{total_steps}")
    with np.load(os.path.join(latest, checkpointing.AGENT_STATE)) as saved:
        assert saved["critic_updates"].tolist() == [
            sum(1 for t in range(100, total_steps) if t % k == 0) for k in env_steps_per_step]


@pytest.mark.parametrize("name", ["absolute_reference", "three_levels_critic"])
def test_configuration_trains_every_level(tmp_path, name):
    root = str(tmp_path / name)
    rows = train_run(root, name)
    _, _, names, per_step = CONFIGS[name]
    check_every_level_trained(root, rows, names, per_step, 300, learned=False)
    operative = open(os.path.join(root, "operative_config.gin")).read()
    for binding in CONFIGS[name][1]:
        if "[" not in binding:      # list values are formatted by gin in its own way
            assert binding in operative, binding
    final = json.load(open(os.path.join(root, "finished.json")))
    assert final["step"] == 300 and final["final_eval"]["num_episodes"] == 4


@pytest.mark.slow
def test_four_levels_with_learned_lambda_resume_exactly_after_sigkill(tmp_path):
    """4 levels, learned lambdas: a run killed by SIGKILL after its step-200 checkpoint and resumed
    writes the same training and evaluation rows (losses and learned lambdas included) as an
    uninterrupted run, and its final checkpoint evaluates with the evaluate binary.

    Four binary runs (about 2 CPU-minutes), so slow; the default run covers 4 levels with learned
    lambdas restored exactly through the `Agent` (tests/hierarchy/test_agent_configurations.py)."""
    name = "four_levels_learned_lambda"
    _, _, names, per_step = CONFIGS[name]
    straight = str(tmp_path / "straight")
    rows = train_run(straight, name, total_steps=400, checkpoint_interval=200)
    check_every_level_trained(straight, rows, names, per_step, 400, learned=True)

    killed = str(tmp_path / "killed")
    gin_files, bindings = bindings_of(name, total_steps=400, checkpoint_interval=200)
    proc = subprocess.Popen(binary_command("train", killed, gin_files, bindings), cwd=REPO,
                            env=binary_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    step = kill_after_checkpoint(proc, killed, 200)
    assert not os.path.exists(os.path.join(killed, "finished.json"))
    resumed = run_binary("train", killed, gin_files, bindings)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"(step {step}" in resumed.stderr

    for file in ("train_metrics.jsonl", "eval_metrics.jsonl"):
        assert metric_rows(straight, file) == metric_rows(killed, file), file
    evaluated = run_binary("evaluate", killed, extra=["--num_episodes=1"])
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    out = json.load(open(os.path.join(killed, "evaluation_400.json")))
    final_eval = metrics.read_jsonl(os.path.join(killed, "eval_metrics.jsonl"))[-1]
    assert [c["returns"][0] for c in out["per_context"]] == pytest.approx(
        [c["returns"][0] for c in final_eval["per_context"]], rel=1e-4)
