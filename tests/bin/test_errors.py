"""Each error of the training loop is raised before any harm, with a message that says why."""

import json
import os

import gin
import pytest
from bin_helpers import TINY, run_binary

from hierarchy import checkpointing, metrics, train_loop
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
