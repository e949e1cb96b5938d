"""The train binary: what a run writes, re-running a finished run, resuming after SIGKILL."""

import glob
import json
import os
import re
import subprocess

import numpy as np
import pytest
from run_helpers import (
    NO_TRAINING,
    POINT,
    REPO,
    TINY,
    TRAINING,
    binary_command,
    binary_env,
    kill_after_checkpoint,
    run_binary,
)

from hierarchy.run import checkpointing, metrics
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import parse_gin
from hierarchy.run.runner import train


def steps_of(path):
    return [r["step"] for r in metrics.read_jsonl(path)]


def test_train_binary_writes_everything(point_run):
    root, proc = point_run
    for name in ["config.gin", "operative_config.gin", "train_metrics.jsonl", "eval_metrics.jsonl",
                 "learning_curve.png", "finished.json"]:
        assert os.path.getsize(os.path.join(root, name)) > 0, name
    assert glob.glob(os.path.join(root, "tensorboard", "events.out.tfevents.*.v2"))
    # Progress lines with rate and ETA: none from the warm-up's rate (steps 0-100), then one.
    assert "steps/s" in proc.stderr
    assert "step 100/300 (33.3%)" in proc.stderr and "ETA once learning has run" in proc.stderr
    assert re.search(r"step 200/300 .* ETA \d+m\d\ds", proc.stderr)
    # Operative config: what was used, defaults included.
    operative = open(os.path.join(root, "operative_config.gin")).read()
    # The tiny batch (16) replaced base.gin's 128 for every level.
    assert re.search(r"^(\w+/)?ReplayBuffer\.batch_size = 16$", operative, re.M), operative
    assert "batch_size = 128" not in operative
    assert "Hierarchy.cg_lambda = 0.01" in operative

    train_rows = metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))
    assert [r["step"] for r in train_rows] == [50, 100, 150, 200, 250, 300]
    assert [r["episode"] for r in train_rows] == [1, 2, 3, 4, 5, 6]
    row = train_rows[-1]
    assert set(row) == {"step", "episode", "episode_return", "episode_length", "success",
                        "intrinsic_returns", "losses", "time"}
    assert set(row["intrinsic_returns"]) == {"low"}
    assert set(row["losses"]) == {"top", "low"}
    assert set(row["losses"]["low"]) == {"critic", "actor", "cg", "lambda"}
    assert row["losses"]["low"]["critic"] > 0          # trained after the 100-step warm-up
    assert row["losses"]["top"]["lambda"] == pytest.approx(0.01)
    assert isinstance(row["success"], bool)

    eval_rows = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))
    assert [r["step"] for r in eval_rows] == [0, 150, 300]
    ev = eval_rows[-1]
    assert set(ev) == {"step", "mean_return", "success_rate", "success_rule", "num_episodes",
                       "per_context", "time"}
    assert ev["success_rule"] == "final_step"          # the default of this package's tasks
    assert ev["num_episodes"] == 4 and len(ev["per_context"]) == 4
    assert ev["per_context"][0]["context"] == [4.0, 4.0]
    assert set(ev["per_context"][0]) == {"context", "mean_return", "success_rate", "returns"}

    final = json.load(open(os.path.join(root, "finished.json")))
    assert final["step"] == 300 and final["final_eval"]["step"] == 300
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    assert os.path.basename(ckpt.latest()) == "ckpt-300"
    assert sorted(os.listdir(os.path.join(root, "checkpoints"))) == ["ckpt-200", "ckpt-300", "latest"]


def test_rerunning_a_finished_run_does_nothing(point_run):
    root, _ = point_run
    parse_gin([os.path.join(root, "config.gin")])
    before = {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    final = train(root)
    assert final == json.load(open(os.path.join(root, "finished.json")))
    assert before == {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}


def test_extend_flag_trains_a_finished_run_longer(tmp_path):
    root = str(tmp_path / "run")
    bindings = TINY + NO_TRAINING + ["train.eval_interval = 100", "train.checkpoint_interval = 100"]
    first = run_binary("train", root, POINT, bindings + ["train.total_steps = 100"])
    assert first.returncode == 0, first.stderr[-3000:]
    longer = run_binary("train", root, POINT, bindings + ["train.total_steps = 200"], extra=["--extend"])
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "Extending the run" in longer.stderr
    assert json.load(open(os.path.join(root, "finished.json")))["step"] == 200
    assert json.load(open(os.path.join(root, "finished_100.json")))["step"] == 100
    assert steps_of(os.path.join(root, "eval_metrics.jsonl")) == [0, 100, 200]


def restore_final_checkpoint(root):
    """A fresh agent restored from the run's newest checkpoint (its full state), and its loop state."""
    parse_gin([os.path.join(root, "config.gin")])
    env = make_env("hierarchy/PointReach-v0", max_episode_steps=50)
    agent = build_agent(env, seed=0)
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    state = ckpt.restore(ckpt.latest(), agent)
    env.close()
    return agent, state


def test_sigkill_then_resume_gives_consistent_metrics(tmp_path):
    """Killed with SIGKILL after real updates; the resumed run continues the replay buffers, the
    optimizers and the counters, and its checkpoint evaluates with the evaluate binary."""
    root = str(tmp_path / "run")
    bindings = TINY + TRAINING + ["train.total_steps = 1000", "train.eval_interval = 250",
                                  "train.checkpoint_interval = 300"]
    cmd = binary_command("train", root, POINT, bindings)
    proc = subprocess.Popen(cmd, cwd=REPO, env=binary_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    train_path = os.path.join(root, "train_metrics.jsonl")
    pointer = os.path.join(root, "checkpoints", "latest")
    # Killed once a checkpoint at step >= 300 exists AND rows newer than it were written (they must
    # be dropped): the polling follows the run's progress, with no deadline tied to machine speed.
    kill_after_checkpoint(proc, root, 300)
    killed_steps = steps_of(train_path)
    assert not os.path.exists(os.path.join(root, "finished.json"))
    # The checkpoint the run resumes from was taken after real updates (warm-up: 100 steps; the
    # bottom level updates every step after it, the top every 10 steps).
    resumed_from = os.path.join(root, "checkpoints", open(pointer).read().strip())
    with np.load(os.path.join(resumed_from, checkpointing.AGENT_STATE)) as saved:
        saved_step = int(saved["env_steps"])
        assert saved_step == checkpointing.Checkpointer.read_loop_state(resumed_from).step >= 300
        assert saved["critic_updates"].tolist() == [(saved_step - 100) // 10, saved_step - 100]

    done = run_binary("train", root, POINT, bindings)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resuming from {resumed_from} (step {saved_step}" in done.stderr
    train_rows = metrics.read_jsonl(train_path)
    assert [r["step"] for r in train_rows] == list(range(50, 1001, 50))     # none missing or twice
    assert [r["episode"] for r in train_rows] == list(range(1, 21))
    assert steps_of(os.path.join(root, "eval_metrics.jsonl")) == [0, 250, 500, 750, 1000]
    assert len(killed_steps) < len(train_rows)
    times = [r["time"] for r in train_rows]
    assert times == sorted(times)   # wall time continues across the restart
    assert all(r["losses"][name]["critic"] > 0 for r in train_rows[2:] for name in ("top", "low"))
    assert json.load(open(os.path.join(root, "finished.json")))["step"] == 1000
    # Replay buffers, optimizers and counters continued from the checkpoint: the final state is that
    # of 1000 uninterrupted steps (900 bottom and 90 top critic updates, actors every second one).
    agent, state = restore_final_checkpoint(root)
    assert state.step == agent.env_steps == 1000 and state.episodes == 20
    assert agent.critic_updates == [90, 900]
    assert [len(buffer) for buffer in agent.buffers] == [100, 1000]
    top, low = agent.hierarchy.levels
    assert [int(opt.iterations.numpy()) for opt in (top.critic_optimizer, low.critic_optimizer,
                                                    top.actor_optimizer, low.actor_optimizer)] \
        == [90, 900, 45, 450]
    # TensorBoard drops the events the killed run wrote after its checkpoint: each step once.
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    acc = EventAccumulator(os.path.join(root, "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("train/episode_return")] == list(range(50, 1001, 50))
    # The resumed run's checkpoint evaluates like the run's own final evaluation (same episodes).
    evaluated = run_binary("evaluate", root, extra=["--num_episodes=1"])
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    out = json.load(open(os.path.join(root, "evaluation_1000.json")))
    assert out["step"] == 1000 and out["checkpoint"].endswith("ckpt-1000")
    final_eval = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    assert [c["returns"][0] for c in out["per_context"]] == pytest.approx(
        [c["returns"][0] for c in final_eval["per_context"]], rel=1e-4)


