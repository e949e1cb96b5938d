"""Each error of the training loop is raised before any harm, with a message that says why."""

import json
import os
import re

import gin
import pytest
import tensorflow as tf
from bin_helpers import TINY, run_binary

from hierarchy import builder, checkpointing, metrics, train_loop
from hierarchy.agent import Agent

POINT = ["envs/point_reach.gin", "methods/hrl_cg.gin"]
NO_TRAINING = TINY + ["Agent.warmup_steps = 100000", "train.eval_episodes_per_context = 1",
                      "train.log_interval = 100"]


def test_binary_rejects_unknown_binding_and_runs_nothing(tmp_path):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), POINT, ["Foo.bar = 1"])
    assert proc.returncode == 2
    assert "Invalid gin configuration" in proc.stderr and "No configurable matching 'Foo'" in proc.stderr
    assert not root.exists()


@pytest.mark.parametrize("binding, name", [("low/Level.batchsize = 3", "batchsize"),
                                           ("Hierarchy.cg_lamda = 0.1", "cg_lamda"),
                                           ("train.total_step = 10", "total_step")])
def test_misspelled_parameter_is_named(binding, name):
    with pytest.raises(ValueError, match=f"doesn't have a parameter named '{name}'"):
        train_loop.parse_gin(POINT, [binding])


def test_misspelled_parameter_in_a_file_names_file_and_line(tmp_path):
    path = tmp_path / "typo.gin"
    path.write_text("include 'envs/point_reach.gin'\n\nLevel.actor_hiden_sizes = (8, 8)\n")
    with pytest.raises(ValueError, match=r"actor_hiden_sizes(.|\n)*typo.gin(.|\n)*line 3"):
        train_loop.parse_gin([str(path)])


def test_misspelled_build_hierarchy_parameter_fails_at_parse_time(tmp_path):
    # build_hierarchy's gin allowlist rejects names it does not take, before anything runs.
    with pytest.raises(ValueError, match="num_level"):
        train_loop.parse_gin(POINT, NO_TRAINING + ["build_hierarchy.num_level = 3"])
    assert not (tmp_path / "run").exists()


def _tiny_run(root, *bindings):
    gin.clear_config()
    train_loop.parse_gin(POINT, NO_TRAINING + ["train.total_steps = 100", "train.eval_interval = 100",
                                               "train.checkpoint_interval = 100", *bindings])
    return train_loop.train(root)


def test_mismatched_config_in_existing_root_dir(tmp_path):
    root = str(tmp_path / "run")
    _tiny_run(root)
    before = {n: os.path.getmtime(os.path.join(root, n)) for n in os.listdir(root)}
    with pytest.raises(train_loop.ConfigMismatchError,
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
    train_loop.parse_gin(POINT, NO_TRAINING + ["train.total_steps = 1000", "train.eval_interval = 500",
                                               "train.checkpoint_interval = 100"])
    with pytest.raises(train_loop.TrainingDivergedError,
                       match=r"diverged(.|\n)*step 260(.|\n)*ckpt-200 \(step 200\), is intact"):
        train_loop.train(root)
    assert not os.path.exists(os.path.join(root, "finished.json"))
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    assert os.path.basename(ckpt.latest()) == "ckpt-200"
    assert sorted(os.listdir(ckpt.directory)) == ["ckpt-100", "ckpt-200", "latest"]
    # The checkpoint restores into a fresh agent.
    env = train_loop.make_env("hierarchy/PointReach-v0")
    agent = train_loop.build_agent(env, seed=0)
    state = ckpt.restore(ckpt.latest(), agent)
    assert state["step"] == 200 and agent.env_steps == 200
    assert metrics.read_jsonl(os.path.join(root, "train_metrics.jsonl"))[-1]["step"] == 250


def test_real_nan_loss_through_the_binary(tmp_path):
    # A reward scale of 1e38 overflows float32 in the top level's TD targets at its first update.
    root = str(tmp_path / "run")
    proc = run_binary("train", root, POINT, TINY + [
        "Agent.warmup_steps = 100", "train.total_steps = 400", "train.checkpoint_interval = 50",
        "train.eval_interval = 1000", "train.eval_episodes_per_context = 1",
        "top/Level.reward_scale = 1e38"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Training diverged" in proc.stderr and "is intact" in proc.stderr
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    state = json.load(open(os.path.join(ckpt.latest(), checkpointing.LOOP_STATE)))
    assert state["step"] == 100
    assert not os.path.exists(os.path.join(root, "finished.json"))


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
    train_loop.parse_gin(POINT, NO_TRAINING + ["train.total_steps = 400", "train.eval_interval = 400",
                                               "train.checkpoint_interval = 100"])
    with pytest.raises(train_loop.TrainingDivergedError,
                       match=r"diverged(.|\n)*ckpt-200 was not written(.|\n)*"
                             r"hierarchy/levels/1/critic_optimizer/m/0 \(low/critic_adam/m(.|\n)*"
                             r"ckpt-100 \(step 100\), is intact"):
        train_loop.train(root)
    ckpt = checkpointing.Checkpointer(os.path.join(root, "checkpoints"))
    assert sorted(os.listdir(ckpt.directory)) == ["ckpt-100", "latest"]
    assert not os.path.exists(os.path.join(root, "finished.json"))
    env = train_loop.make_env("hierarchy/PointReach-v0")
    agent = train_loop.build_agent(env, seed=0)
    assert ckpt.restore(ckpt.latest(), agent)["step"] == 100
    assert checkpointing.non_finite_variables(agent.tf_checkpoint()) == []
    env.close()


@pytest.mark.parametrize("binding, problem", [
    ("ReplayBuffer.batch_size = 0", "level 'top': replay batch_size must be >= 1, got 0"),
    ("train.env_id = 'hierarchy/Nope-v0'", "Environment `Nope` doesn't exist in namespace hierarchy"),
])
def test_binary_reports_a_bad_value_in_one_paragraph_and_writes_nothing(tmp_path, binding, problem):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), POINT, TINY + [binding])
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "Invalid configuration" in line]
    assert len(lines) == 1 and problem in lines[0], proc.stderr[-3000:]
    assert f"nothing was written to {root}" in lines[0]
    assert not root.exists()


def test_bad_train_setting_is_a_configuration_error_before_root_dir_exists(tmp_path):
    root = tmp_path / "run"
    train_loop.parse_gin(POINT, NO_TRAINING + ["train.total_steps = 0"])
    with pytest.raises(train_loop.ConfigurationError, match="train.total_steps must be an integer >= 1"):
        train_loop.train(str(root))
    assert not root.exists()


def test_environment_without_a_horizon_needs_max_episode_steps(tmp_path):
    import gymnasium as gym
    env_id = "test/PointReachNoHorizon-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=gym.spec("hierarchy/PointReach-v0").entry_point)
    with pytest.raises(ValueError, match="registers no episode horizon: set train.max_episode_steps"):
        train_loop.make_env(env_id)
    env = train_loop.make_env(env_id, max_episode_steps=7)
    assert env.spec.max_episode_steps == 7
    env.close()
    root = tmp_path / "run"
    train_loop.parse_gin(POINT, NO_TRAINING + [f"train.env_id = '{env_id}'",
                                               "train.max_episode_steps = None"])
    with pytest.raises(train_loop.ConfigurationError, match="no episode horizon"):
        train_loop.train(str(root))
    assert not root.exists()


# --------------------------------------------------------------------------------------------------
# Gin scopes: a binding gin would silently ignore is an error; one for another depth is allowed.

def test_misspelled_level_scope_stops_the_run_before_root_dir_exists(tmp_path):
    root = tmp_path / "run"
    train_loop.parse_gin(POINT, NO_TRAINING + ["tpo/Level.reward_scale = 5.0"])
    with pytest.raises(train_loop.ConfigurationError,
                       match=r"tpo/Level.reward_scale: 'tpo/' is not the name of a level \(did you "
                             r"mean 'top/'\?\).*valid scopes of this 2-level hierarchy are top/, low/"):
        train_loop.train(str(root))
    assert not root.exists()


@pytest.mark.parametrize("binding, problem", [
    ("tpo/Level.reward_scale = 5.0", "'tpo/' is not the name of a level"),
    ("top/low/Level.tau = 0.1", "'top/low/' is not the name of a level"),
    ("lowest/ReplayBuffer.batch_size = 7", "'lowest/' is not the name of a level"),
    ("top/Hierarchy.cg_lambda = 0.1", "Hierarchy is never built inside a scope"),
    ("low/Agent.warmup_steps = 5", "Agent is never built inside a scope"),
])
def test_scopes_that_gin_would_ignore_are_named(binding, problem):
    train_loop.parse_gin(POINT, [binding])
    key = binding.split(" = ")[0]
    with pytest.raises(ValueError, match=re.escape(f"{key}: {problem}")):
        builder.check_gin_scopes(["top", "low"])


def test_scopes_of_levels_at_other_depths_are_allowed_but_unused(tmp_path):
    # The environment files bind `top/` and `flat/`; `mid/` is the middle level of a 3-level run.
    train_loop.parse_gin(POINT, TINY + ["mid/ReplayBuffer.batch_size = 7", "mid3/Level.tau = 0.5"])
    env = train_loop.make_env("hierarchy/PointReach-v0")
    agent = train_loop.build_agent(env, seed=0)
    assert [buf.batch_size for buf in agent.buffers] == [16, 16]
    assert builder.check_gin_scopes(["top", "low"]) == [
        "flat/Level.reward_scale", "mid/ReplayBuffer.batch_size", "mid3/Level.tau"]
    env.close()
    gin.clear_config()
    train_loop.parse_gin(["envs/point_reach.gin", "methods/three_level_cg.gin"],
                         TINY + ["mid/ReplayBuffer.batch_size = 7"])
    env = train_loop.make_env("hierarchy/PointReach-v0")
    agent = train_loop.build_agent(env, seed=0)
    assert [buf.batch_size for buf in agent.buffers] == [16, 7, 16]
    assert builder.check_gin_scopes(["top", "mid", "low"]) == ["flat/Level.reward_scale"]
    env.close()


def test_level_names_of_every_depth():
    for name in ["flat", "top", "mid", "low", "mid1", "mid2", "mid17"]:
        assert builder.is_level_name(name), name
    for name in ["tpo", "mid0", "mid01", "middle", "Top", "top/low", ""]:
        assert not builder.is_level_name(name), name
