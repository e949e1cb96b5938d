"""The relabelling method files combine with every environment file and with three levels; a
relabelling setting the hierarchy cannot honour stops the binary with status 2, writing nothing."""

import gin
import pytest
from run_helpers import TINY, metric_rows, run_binary

from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import available_gin_files, parse_gin
from hierarchy.run.runner import train
from hierarchy.run.settings import RunSettings

METHODS = ["methods/hiro.gin", "methods/hrl_cg_correction.gin", "methods/hindsight.gin"]
ENVS = [f for f in available_gin_files() if f.startswith("envs/")]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("env_file", ENVS)
@pytest.mark.parametrize("num_levels", [2, 3])
def test_method_builds_with_every_environment_and_depth(method, env_file, num_levels):
    parse_gin([env_file, method], [f"build_hierarchy.num_levels = {num_levels}"])
    settings = RunSettings()
    env = make_env(settings.env_id, max_episode_steps=settings.max_episode_steps)
    try:
        agent = build_agent(env, seed=0)
    finally:
        env.close()
    h = agent.hierarchy
    assert h.num_levels == num_levels
    pairs = range(num_levels - 1)
    if "hindsight" in method:
        assert h.hindsight_actions == [0.5] * (num_levels - 1) + [0.0]
        assert agent.hindsight_goals == [0.0] + [0.5] * (num_levels - 1)
    else:
        assert all(h.corrections[i].num_candidates == 10 for i in pairs)
        assert all(h.uses_child_actions(i) for i in pairs)
        assert h.cg_lambda == pytest.approx([0.01 if "cg" in method else 0.0] * len(pairs))
    gin.clear_config()


@pytest.mark.parametrize("files, binding, problem", [
    (["envs/point_reach.gin", "methods/hiro.gin"], "Hierarchy.correction_candidates = 0",
     "correction_candidates must be an integer >= 1, got 0"),
    (["envs/point_reach.gin", "methods/hindsight.gin"], "Agent.hindsight_strategy = 'final'",
     "hindsight_strategy 'final' is unknown"),
    (["envs/ant_gather.gin", "methods/hindsight.gin"], "Agent.hindsight_context = 0.5",
     "hindsight_context (hindsight goals for the top level) needs a task that publishes a reward "
     "function of the context"),
    (["envs/point_maze.gin", "methods/hindsight.gin"],
     ["Agent.hindsight_context = 0.5", "build_hierarchy.num_levels = 3"],
     "needs a top whose child steps once per environment step"),
])
def test_binary_stops_on_a_relabelling_setting_it_cannot_honour(tmp_path, files, binding, problem):
    root = tmp_path / "run"
    proc = run_binary("train", str(root), files,
                      TINY + ([binding] if isinstance(binding, str) else binding))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "Invalid configuration" in line]
    assert len(lines) == 1 and problem in lines[0], proc.stderr[-3000:]
    assert not root.exists()


def test_relabelled_run_resumes_exactly(tmp_path, monkeypatch):
    """A run with every relabelling rule on (correction, hindsight actions, "future" hindsight goals
    at both levels), interrupted and resumed, writes the same rows, losses included, as an
    uninterrupted one: the episode bookkeeping of the replay and the draws are restored."""
    import os

    from hierarchy.agent.agent import Agent
    from hierarchy.run import metrics

    def run(root):
        gin.clear_config()
        parse_gin(["envs/point_reach.gin", "methods/hindsight.gin"], TINY + [
            "Hierarchy.off_policy_correction = True", "Hierarchy.cg_lambda = 0.01",
            "Agent.hindsight_context = 0.5",
            "Agent.warmup_steps = 100", "train.log_interval = 100",
            "train.eval_episodes_per_context = 1", "train.total_steps = 400",
            "train.eval_interval = 200", "train.checkpoint_interval = 200"])
        return train(root)

    run(str(tmp_path / "straight"))
    observe = Agent.observe

    def crash(self, episode, *args, **kwargs):
        observe(self, episode, *args, **kwargs)
        if self.env_steps == 270:
            monkeypatch.setattr(Agent, "observe", observe)
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(Agent, "observe", crash)
    crashed = str(tmp_path / "crashed")
    with pytest.raises(KeyboardInterrupt):
        run(crashed)
    run(crashed)
    gin.clear_config()
    for name in ["train_metrics.jsonl", "eval_metrics.jsonl"]:
        assert metric_rows(str(tmp_path / "straight"), name) == metric_rows(crashed, name), name
    rows = metrics.read_jsonl(os.path.join(crashed, "train_metrics.jsonl"))
    assert rows[-1]["losses"]["top"]["critic"] > 0 and rows[-1]["losses"]["top"]["cg"] != 0
