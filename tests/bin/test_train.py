"""The train and evaluate binaries and the training loop: outputs, resume after SIGKILL, evaluation."""

import glob
import json
import os
import re
import subprocess

import numpy as np
import pytest
from bin_helpers import REPO, TINY, binary_command, binary_env, kill_after_checkpoint, run_binary

from hierarchy import checkpointing, metrics, train_loop
from hierarchy.agent import Agent

POINT = ["envs/point_reach.gin", "methods/hrl_cg.gin"]
# Warm-up longer than the run: acting only, no compiled training step to trace (fast).
NO_TRAINING = ["Agent.warmup_steps = 100000", "train.log_interval = 100",
               "train.eval_episodes_per_context = 1"]
# A 100-step warm-up, then every level updates on schedule (tiny networks: still fast).
TRAINING = ["Agent.warmup_steps = 100", "train.log_interval = 100", "train.eval_episodes_per_context = 1"]


def steps_of(path):
    return [r["step"] for r in metrics.read_jsonl(path)]


@pytest.fixture(scope="module")
def point_run(tmp_path_factory):
    """A few hundred steps of 2-level HRL-CG on PointReach through the train binary."""
    root = str(tmp_path_factory.mktemp("point") / "run")
    bindings = TINY + ["Agent.warmup_steps = 100", "train.total_steps = 300", "train.eval_interval = 150",
                       "train.checkpoint_interval = 100", "train.log_interval = 100",
                       "train.eval_episodes_per_context = 1"]
    proc = run_binary("train", root, POINT, bindings)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, proc


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
    assert re.search(r"^(\w+/)?Level\.batch_size = 16$", operative, re.M), operative
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
    assert set(ev) == {"step", "mean_return", "success_rate", "num_episodes", "per_context", "time"}
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
    train_loop.parse_gin([os.path.join(root, "config.gin")])
    before = {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    final = train_loop.train(root)
    assert final == json.load(open(os.path.join(root, "finished.json")))
    assert before == {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}


def test_evaluate_binary(point_run):
    root, _ = point_run
    video = os.path.join(root, "eval.gif")
    proc = run_binary("evaluate", root, extra=["--num_episodes=2", f"--video={video}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.load(open(os.path.join(root, "evaluation_300.json")))
    assert out["step"] == 300 and out["num_episodes"] == 8 and len(out["per_context"]) == 4
    assert out["checkpoint"].endswith("ckpt-300")
    assert json.loads(proc.stdout) == out
    # Same weights, same seeds: the final in-training evaluation's first episodes agree.
    final_eval = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    for a, b in zip(out["per_context"], final_eval["per_context"]):
        assert a["returns"][0] == pytest.approx(b["returns"][0], rel=1e-4)
    assert os.path.getsize(video) > 0
    # Evaluating an older checkpoint writes its own file and leaves the newer one as it was.
    train_loop.parse_gin([os.path.join(root, "config.gin")])
    older = train_loop.evaluate_run(root, episodes_per_context=1,
                                    checkpoint=os.path.join(root, "checkpoints", "ckpt-200"))
    assert older["step"] == 200 and older["num_episodes"] == 4
    assert json.load(open(os.path.join(root, "evaluation_200.json"))) == older
    assert json.load(open(os.path.join(root, "evaluation_300.json"))) == out
    # A binding that cannot be built is a configuration error there too, and writes nothing.
    import gin

    gin.clear_config()
    train_loop.parse_gin([os.path.join(root, "config.gin")], ["low/Level.replay_capacity = 0"])
    with pytest.raises(train_loop.ConfigurationError, match="Level 'low': replay_capacity must be >= 1"):
        train_loop.evaluate_run(root, checkpoint=os.path.join(root, "checkpoints", "ckpt-200"))
    assert sorted(glob.glob(os.path.join(root, "evaluation*.json"))) == [
        os.path.join(root, "evaluation_200.json"), os.path.join(root, "evaluation_300.json")]


def restore_final_checkpoint(root):
    """A fresh agent restored from the run's newest checkpoint (its full state), and its loop state."""
    train_loop.parse_gin([os.path.join(root, "config.gin")])
    env = train_loop.make_env("hierarchy/PointReach-v0", max_episode_steps=50)
    agent = train_loop.build_agent(env, seed=0)
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
        assert saved_step == checkpointing.Checkpointer.read_loop_state(resumed_from)["step"] >= 300
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
    assert state["step"] == agent.env_steps == 1000 and state["episodes"] == 20
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


def _run_in_process(root, total_steps, extra=(), schedule=TRAINING):
    train_loop.parse_gin(POINT, TINY + schedule + [
        f"train.total_steps = {total_steps}", "train.eval_interval = 200",
        "train.checkpoint_interval = 200", *extra])
    return train_loop.train(root)


def _crash_at(monkeypatch, env_steps):
    """Makes the next training run raise KeyboardInterrupt once it has taken `env_steps` steps."""
    observe = Agent.observe

    def crash(self, episode, *args, **kwargs):
        observe(self, episode, *args, **kwargs)
        if self.env_steps == env_steps:
            monkeypatch.setattr(Agent, "observe", observe)
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(Agent, "observe", crash)


def test_resume_continues_exactly(tmp_path, monkeypatch):
    """An interrupted and resumed run writes the same rows as an uninterrupted one, losses included
    (updates from step 100 on): the weights, the optimizers, the replay buffers, the agent's and the
    environment's random generators and the counters are restored."""
    import gin

    _run_in_process(str(tmp_path / "straight"), 500)
    gin.clear_config()
    crashed = str(tmp_path / "crashed")
    _crash_at(monkeypatch, 370)
    with pytest.raises(KeyboardInterrupt):
        _run_in_process(crashed, 500)
    assert steps_of(os.path.join(crashed, "train_metrics.jsonl"))[-1] == 350
    gin.clear_config()
    _run_in_process(crashed, 500)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time"} for r in rows]

    for name in ["train_metrics.jsonl", "eval_metrics.jsonl"]:
        a = metrics.read_jsonl(os.path.join(tmp_path, "straight", name))
        b = metrics.read_jsonl(os.path.join(crashed, name))
        assert strip(a) == strip(b), name
    assert metrics.read_jsonl(os.path.join(crashed, "train_metrics.jsonl"))[-1]["losses"]["top"][
        "critic"] > 0


def test_restart_before_the_first_checkpoint_writes_each_tensorboard_step_once(tmp_path, monkeypatch):
    """A run that dies before its first checkpoint starts over from step 0: the TensorBoard events it
    wrote, its step-0 evaluation included, are dropped by the restart marker."""
    import gin
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    root = str(tmp_path / "run")
    _crash_at(monkeypatch, 130)
    with pytest.raises(KeyboardInterrupt):
        _run_in_process(root, 200, ["train.eval_interval = 100"], schedule=NO_TRAINING)
    assert not os.path.exists(os.path.join(root, "checkpoints", "latest"))
    assert steps_of(os.path.join(root, "eval_metrics.jsonl")) == [0, 100]
    gin.clear_config()
    _run_in_process(root, 200, ["train.eval_interval = 100"], schedule=NO_TRAINING)
    assert steps_of(os.path.join(root, "eval_metrics.jsonl")) == [0, 100, 200]
    acc = EventAccumulator(os.path.join(root, "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("eval/mean_return")] == [0, 100, 200]
    assert [e.step for e in acc.Tensors("train/episode_return")] == [50, 100, 150, 200]


def test_short_ant_maze_run(tmp_path):
    root = str(tmp_path / "ant")
    train_loop.parse_gin(["envs/ant_maze.gin", "methods/hrl_cg.gin"], TINY + [
        "Agent.warmup_steps = 50", "train.total_steps = 150", "train.max_episode_steps = 50",
        "train.eval_interval = 100", "train.checkpoint_interval = 100", "train.log_interval = 50",
        "train.eval_episodes_per_context = 1", "Hierarchy.cg_lambda = 0.005"])
    final = train_loop.train(root)
    assert final["step"] == 150
    rows = metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))
    assert [r["step"] for r in rows] == [50, 100, 150]
    assert rows[-1]["losses"]["low"]["critic"] > 0
    low_return = rows[-1]["intrinsic_returns"]["low"]     # a sum of negative distances
    assert np.isfinite(low_return) and low_return < 0, low_return
    ev = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))
    assert [r["step"] for r in ev] == [0, 100, 150]
    assert [c["context"] for c in ev[-1]["per_context"]] == [[16.0, 0.0], [16.0, 16.0], [0.0, 16.0]]
    assert os.path.exists(os.path.join(root, "learning_curve.png"))
    assert os.path.basename(checkpointing.Checkpointer(os.path.join(root, "checkpoints")).latest()) \
        == "ckpt-150"


def test_flat_run_on_a_plain_gymnasium_task(tmp_path):
    """One level on Pendulum-v1 (wrapped in NoContext): no context, no success metric."""
    root = str(tmp_path / "pendulum")
    train_loop.parse_gin(["base.gin", "methods/flat.gin"], TINY + NO_TRAINING + [
        "train.env_id = 'Pendulum-v1'", "train.total_steps = 400", "train.eval_interval = 400",
        "train.checkpoint_interval = 400"])
    final = train_loop.train(root)
    assert final["final_eval"]["success_rate"] is None
    rows = metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))
    assert [r["step"] for r in rows] == [200, 400]
    assert rows[0]["success"] is None and rows[0]["intrinsic_returns"] == {}
    assert set(rows[0]["losses"]) == {"flat"}
    ev = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    assert ev["per_context"][0]["context"] is None and ev["num_episodes"] == 1


@pytest.mark.slow
def test_demo_config_learns(tmp_path):
    """The README's demo: HRL-CG on PointReach goes from about -283 to better than -60 with success
    on at least 3 of the 4 evaluation targets (measured: about -22 and 1.0; ~1.5 min on 2 cores)."""
    root = str(tmp_path / "demo")
    train_loop.parse_gin(["demo/point_reach_hrl_cg.gin"])
    final = train_loop.train(root)
    first = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[0]
    assert first["step"] == 0 and first["mean_return"] < -250 and first["success_rate"] == 0.0
    assert final["final_eval"]["mean_return"] > -60, final
    assert final["final_eval"]["success_rate"] >= 0.75, final
