"""The training loop (`hierarchy.run.runner`): resuming, divergence, configuration errors, other tasks."""

import json
import logging
import os

import gin
import numpy as np
import pytest
import tensorflow as tf
from run_helpers import NO_TRAINING, POINT, TINY, TRAINING, metric_rows

from hierarchy.agent.agent import Agent
from hierarchy.run import checkpointing, metrics
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import ConfigMismatchError, ConfigurationError, parse_gin
from hierarchy.run.failures import TrainingDivergedError
from hierarchy.run.runner import train


def steps_of(path):
    return [r["step"] for r in metrics.read_jsonl(path)]


def _run_in_process(root, total_steps, extra=(), schedule=TRAINING, extend=False):
    parse_gin(POINT, TINY + schedule + [
        f"train.total_steps = {total_steps}", "train.eval_interval = 200",
        "train.checkpoint_interval = 200", *extra])
    return train(root, extend=extend)


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

    _run_in_process(str(tmp_path / "straight"), 500)
    gin.clear_config()
    crashed = str(tmp_path / "crashed")
    _crash_at(monkeypatch, 370)
    with pytest.raises(KeyboardInterrupt):
        _run_in_process(crashed, 500)
    assert steps_of(os.path.join(crashed, "train_metrics.jsonl"))[-1] == 350
    gin.clear_config()
    _run_in_process(crashed, 500)

    for name in ["train_metrics.jsonl", "eval_metrics.jsonl"]:
        assert metric_rows(os.path.join(tmp_path, "straight"), name) == metric_rows(crashed, name), name
    assert metrics.read_jsonl(os.path.join(crashed, "train_metrics.jsonl"))[-1]["losses"]["top"][
        "critic"] > 0


def test_restart_before_the_first_checkpoint_writes_each_tensorboard_step_once(tmp_path, monkeypatch):
    """A run that dies before its first checkpoint starts over from step 0: the TensorBoard events it
    wrote, its step-0 evaluation included, are dropped by the restart marker."""
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
    parse_gin(["envs/ant_maze.gin", "methods/hrl_cg.gin"], TINY + [
        "Agent.warmup_steps = 50", "train.total_steps = 150", "train.max_episode_steps = 50",
        "train.eval_interval = 100", "train.checkpoint_interval = 100", "train.log_interval = 50",
        "train.eval_episodes_per_context = 1", "Hierarchy.cg_lambda = 0.005"])
    final = train(root)
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
    parse_gin(["base.gin", "methods/flat.gin"], TINY + NO_TRAINING + [
        "train.env_id = 'Pendulum-v1'", "train.total_steps = 400", "train.eval_interval = 400",
        "train.checkpoint_interval = 400"])
    final = train(root)
    assert final["final_eval"]["success_rate"] is None
    rows = metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))
    assert [r["step"] for r in rows] == [200, 400]
    assert rows[0]["success"] is None and rows[0]["intrinsic_returns"] == {}
    assert set(rows[0]["losses"]) == {"flat"}
    ev = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[-1]
    assert ev["per_context"][0]["context"] is None and ev["num_episodes"] == 1


def test_extending_a_finished_run_continues_exactly(tmp_path):
    """Runs of 200 and 250 steps extended to 500 write the training rows of a 500-step run (the
    totals end episodes of 50 steps); the total that is no multiple of eval_interval (250) keeps
    its final evaluation as one extra row, and nothing else differs."""
    straight = str(tmp_path / "straight")
    _run_in_process(straight, 500)
    for first in (200, 250):
        extended = str(tmp_path / f"extended{first}")
        gin.clear_config()
        _run_in_process(extended, first)
        first_final = metrics.read_jsonl(os.path.join(extended, "eval_metrics.jsonl"))[-1]
        gin.clear_config()
        final = _run_in_process(extended, 500, extend=True)

        assert final["step"] == 500 and json.load(open(os.path.join(extended, "finished.json"))) == final
        assert json.load(open(os.path.join(extended, f"finished_{first}.json")))["step"] == first
        assert metric_rows(straight, "train_metrics.jsonl") == metric_rows(extended, "train_metrics.jsonl")
        straight_evals = metric_rows(straight, "eval_metrics.jsonl")
        extended_evals = metric_rows(extended, "eval_metrics.jsonl")
        extra = [r for r in extended_evals if r not in straight_evals]
        assert [r for r in extended_evals if r not in extra] == straight_evals
        assert extra == ([] if first == 200 else [{k: v for k, v in first_final.items() if k != "time"}])
        assert "train.total_steps = 500" in open(os.path.join(extended, "config.gin")).read()
        gin.clear_config()
        assert _run_in_process(extended, 500) == final      # now an ordinary finished run


def test_extension_needs_the_flag_and_never_shortens(tmp_path):
    root = str(tmp_path / "run")
    _tiny_run(root)
    before = {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    with pytest.raises(ConfigMismatchError, match=r"\(100 -> 200\)(.|\n)*--extend"):
        _tiny_run(root, "train.total_steps = 200")
    with pytest.raises(ConfigMismatchError, match="never shortened"):
        _tiny_run(root, "train.total_steps = 50", extend=True)
    with pytest.raises(ConfigMismatchError, match=r"\+Hierarchy.cg_lambda = 0.5"):
        _tiny_run(root, "train.total_steps = 200", "Hierarchy.cg_lambda = 0.5", extend=True)
    assert before == {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    assert _tiny_run(root, "train.total_steps = 200", extend=True)["step"] == 200


def test_extending_a_run_cut_off_mid_episode_says_so(tmp_path, caplog):
    root = str(tmp_path / "run")
    _tiny_run(root, "train.total_steps = 120")        # episodes of 50 steps: cut off at 120
    with caplog.at_level(logging.WARNING):
        final = _tiny_run(root, "train.total_steps = 200", extend=True)
    assert final["step"] == 200
    assert "cut off mid-episode at step 120 (its last episode ended at step 100)" in caplog.text
    steps = steps_of(os.path.join(root, "train_metrics.jsonl"))
    assert steps == sorted(steps) and steps[-1] == 170      # a new episode from 120: 120 + 50


def _tiny_run(root, *bindings, extend=False):
    gin.clear_config()
    parse_gin(POINT, TINY + NO_TRAINING + ["train.total_steps = 100", "train.eval_interval = 100",
                                           "train.checkpoint_interval = 100", *bindings])
    return train(root, extend=extend)


def test_mismatched_config_in_existing_root_dir(tmp_path):
    root = str(tmp_path / "run")
    _tiny_run(root)
    before = {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    with pytest.raises(ConfigMismatchError,
                       match=r"different gin configuration(.|\n)*\+Hierarchy.cg_lambda = 0.5"):
        _tiny_run(root, "Hierarchy.cg_lambda = 0.5")
    assert before == {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    _tiny_run(root)   # the same configuration is fine (finished: nothing to do)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    root = str(tmp_path / "run")
    act = Agent.act

    def diverging_act(self, episode):
        if episode.training and self.env_steps == 260:
            raise FloatingPointError("non-finite loss after environment step 260 in level 1 ('low')")
        return act(self, episode)

    monkeypatch.setattr(Agent, "act", diverging_act)
    parse_gin(POINT, TINY + NO_TRAINING + ["train.total_steps = 1000", "train.eval_interval = 500",
                                           "train.checkpoint_interval = 100"])
    with pytest.raises(TrainingDivergedError,
                       match=r"diverged(.|\n)*step 260(.|\n)*ckpt-200 \(step 200\), is intact"):
        train(root)
    assert not os.path.exists(os.path.join(root, "finished.json"))
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    assert os.path.basename(ckpt.latest()) == "ckpt-200"
    assert sorted(os.listdir(ckpt.directory)) == ["ckpt-100", "ckpt-200", "latest"]
    # The checkpoint restores into a fresh agent.
    env = make_env("hierarchy/PointReach-v0")
    agent = build_agent(env, seed=0)
    state = ckpt.restore(ckpt.latest(), agent)
    assert state.step == 200 and agent.env_steps == 200
    assert metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))[-1]["step"] == 250


def test_non_finite_weight_is_never_checkpointed(tmp_path, monkeypatch):
    # A NaN written into an optimizer slot (no loss sees it: there are no updates) must still stop
    # the run at the next checkpoint, with the previous checkpoint left as the newest.
    root = str(tmp_path / "run")
    observe = Agent.observe

    def poisoning_observe(self, episode, *args, **kwargs):
        observe(self, episode, *args, **kwargs)
        if episode.training and self.env_steps == 150:
            slot = self.hierarchy.levels[1].critic_optimizer.m[0]
            slot.assign(tf.fill(slot.shape, float("nan")))

    monkeypatch.setattr(Agent, "observe", poisoning_observe)
    parse_gin(POINT, TINY + NO_TRAINING + ["train.total_steps = 400", "train.eval_interval = 400",
                                           "train.checkpoint_interval = 100"])
    with pytest.raises(TrainingDivergedError,
                       match=r"diverged(.|\n)*ckpt-200 was not written(.|\n)*"
                             r"hierarchy/levels/1/critic_optimizer/m/0 \(low/critic_adam/m(.|\n)*"
                             r"ckpt-100 \(step 100\), is intact"):
        train(root)
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    assert sorted(os.listdir(ckpt.directory)) == ["ckpt-100", "latest"]
    assert not os.path.exists(os.path.join(root, "finished.json"))
    env = make_env("hierarchy/PointReach-v0")
    agent = build_agent(env, seed=0)
    assert ckpt.restore(ckpt.latest(), agent).step == 100
    assert checkpointing.non_finite_variables(agent.tf_checkpoint()) == []
    env.close()


@pytest.mark.parametrize("value", ["0", "600.5", "True", "'600'"])
def test_bad_train_setting_is_a_configuration_error_before_root_dir_exists(tmp_path, value):
    root = tmp_path / "run"
    parse_gin(POINT, TINY + NO_TRAINING + [f"train.total_steps = {value}"])
    with pytest.raises(ConfigurationError, match="train.total_steps must be an integer >= 1"):
        train(str(root))
    assert not root.exists()


def test_a_whole_float_train_setting_is_accepted_as_an_integer():
    from hierarchy.run.runner import check_train_settings

    check_train_settings(total_steps=3e6, eval_interval=50_000)   # no error


def test_environment_without_a_horizon_is_a_configuration_error(tmp_path):
    import gymnasium as gym
    env_id = "test/PointReachNoHorizon-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=gym.spec("hierarchy/PointReach-v0").entry_point)
    root = tmp_path / "run"
    parse_gin(POINT, TINY + NO_TRAINING + [f"train.env_id = '{env_id}'", "train.max_episode_steps = None"])
    with pytest.raises(ConfigurationError, match="no episode horizon"):
        train(str(root))
    assert not root.exists()


def test_misspelled_level_scope_stops_the_run_before_root_dir_exists(tmp_path):
    root = tmp_path / "run"
    parse_gin(POINT, TINY + NO_TRAINING + ["tpo/Level.reward_scale = 5.0"])
    with pytest.raises(ConfigurationError,
                       match=r"tpo/Level.reward_scale: 'tpo/' is not the name of a level \(did you "
                             r"mean 'top/'\?\).*valid scopes of this 2-level hierarchy are top/, low/"):
        train(str(root))
    assert not root.exists()


@pytest.mark.slow
def test_demo_config_learns(tmp_path):
    """The README's demo: HRL-CG on PointReach goes from about -283 to better than -60 with success
    on at least 3 of the 4 evaluation targets (measured: about -22 and 1.0; ~1.5 min on 2 cores)."""
    root = str(tmp_path / "demo")
    parse_gin(["demo/point_reach_hrl_cg.gin"])
    final = train(root)
    first = metrics.read_jsonl(os.path.join(root, "eval_metrics.jsonl"))[0]
    assert first["step"] == 0 and first["mean_return"] < -250 and first["success_rate"] == 0.0
    assert final["final_eval"]["mean_return"] > -60, final
    assert final["final_eval"]["success_rate"] >= 0.75, final
