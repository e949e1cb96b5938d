"""The gin configuration (`hierarchy.run.config`): locating and parsing gin files, the scope check, and
the check of a run directory's configuration."""

import os
import re

import gin
import pytest
from run_helpers import POINT, TINY

from hierarchy.run import config
from hierarchy.run.assembly import build_agent, make_env
from hierarchy.run.config import ConfigMismatchError, check_gin_scopes, parse_gin

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_gin_dir_of_a_checkout_is_the_top_level_gin_folder():
    assert config.gin_dir() == os.path.join(REPO, "gin")
    assert "paper/ant_maze_hrl_cg.gin" in config.available_gin_files()


def test_include_paths_resolve_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parse_gin(["paper/ant_gather_hrl_cg.gin"])
    assert gin.query_parameter("train.env_id") == "hierarchy/AntGather-v0"
    assert gin.query_parameter("build_hierarchy.task_reward_scale") == 10.0


def test_unknown_gin_file_lists_the_packaged_ones():
    with pytest.raises(FileNotFoundError, match="methods/hrl_cg.gin"):
        parse_gin(["methods/hrl_cgg.gin"])


@pytest.mark.parametrize("binding, name", [("low/Level.batchsize = 3", "batchsize"),
                                           ("Hierarchy.cg_lamda = 0.1", "cg_lamda"),
                                           ("train.total_step = 10", "total_step")])
def test_misspelled_parameter_is_named(binding, name):
    with pytest.raises(ValueError, match=f"doesn't have a parameter named '{name}'"):
        parse_gin(POINT, [binding])


def test_misspelled_parameter_in_a_file_names_file_and_line(tmp_path):
    path = tmp_path / "typo.gin"
    path.write_text("include 'envs/point_reach.gin'\n\nLevel.actor_hiden_sizes = (8, 8)\n")
    with pytest.raises(ValueError, match=r"actor_hiden_sizes(.|\n)*typo.gin(.|\n)*line 3"):
        parse_gin([str(path)])


def test_misspelled_build_hierarchy_parameter_fails_at_parse_time():
    # build_hierarchy's gin allowlist rejects names it does not take, before anything runs.
    with pytest.raises(ValueError, match="num_level"):
        parse_gin(POINT, TINY + ["build_hierarchy.num_level = 3"])


def test_a_run_directory_of_another_configuration_is_refused(tmp_path):
    root = str(tmp_path)
    config.check_config_unchanged(root, "a = 1\n")          # nothing there yet: fine
    (tmp_path / "config.gin").write_text("a = 1\nb = 2\n")
    config.check_config_unchanged(root, "a = 1\nb = 2\n")   # the same text: fine
    with pytest.raises(ConfigMismatchError, match=r"different gin configuration(.|\n)*-b = 2\n\+b = 3"):
        config.check_config_unchanged(root, "a = 1\nb = 3\n")
    os.remove(tmp_path / "config.gin")
    os.makedirs(tmp_path / "checkpoints")
    with pytest.raises(ConfigMismatchError, match="holds checkpoints but no config.gin"):
        config.check_config_unchanged(root, "a = 1\n")


def test_total_steps_change_ignores_comments_and_needs_everything_else_equal():
    a = "# Parameters for train:\ntrain.seed = 0\ntrain.total_steps = 200\n"
    assert config.total_steps_change(a, a.replace("200", "500")) == (200, 500)
    assert config.total_steps_change(a, a.replace("200", "1_000")) == (200, 1000)
    assert config.total_steps_change(a, a.replace("200", "50")) == (200, 50)
    assert config.total_steps_change(a, a.replace("= 0", "= 1")) is None        # another value
    assert config.total_steps_change(a, a + "train.env_id = 'x'\n") is None    # another binding
    # A text that does not bind it runs with train's default; without a default, no answer.
    unbound = "# Parameters for train:\ntrain.seed = 0\n"
    assert config.total_steps_change(unbound, a, default=100) == (100, 200)
    assert config.total_steps_change(unbound, a) is None
    assert config.total_steps_change(a, a.replace("200", "'many'")) is None


def test_only_an_extension_may_change_total_steps(tmp_path):
    root = str(tmp_path)
    (tmp_path / "config.gin").write_text("a = 1\ntrain.total_steps = 200\n")
    longer = "a = 1\ntrain.total_steps = 500\n"
    with pytest.raises(ConfigMismatchError, match=r"\(200 -> 500\)(.|\n)*--extend"):
        config.check_config_unchanged(root, longer)
    assert config.check_config_unchanged(root, longer, extend=True) == 200
    assert config.check_config_unchanged(root, "a = 1\ntrain.total_steps = 200\n", extend=True) is None
    with pytest.raises(ConfigMismatchError, match=r"smaller \(200 -> 100\)(.|\n)*never shortened"):
        config.check_config_unchanged(root, "a = 1\ntrain.total_steps = 100\n", extend=True)
    with pytest.raises(ConfigMismatchError, match=r"same gin files and bindings(.|\n)*\+a = 2"):
        config.check_config_unchanged(root, "a = 2\ntrain.total_steps = 500\n", extend=True)


# --------------------------------------------------------------------------------------------------
# Gin scopes: a binding gin would silently ignore is an error; one for another depth is allowed.

def test_scoped_bindings_lists_every_scoped_binding_and_nothing_else():
    parse_gin([], ["Level.tau = 0.1", "top/Level.tau = 0.2", "top/Level.gamma = 0.9",
                   "low/ReplayBuffer.batch_size = 3", "top/low/Level.tau = 0.3",
                   "Hierarchy.cg_lambda = 0.1",
                   "SOME_MACRO = 4", "top/Hierarchy.cg_lambda = %SOME_MACRO",
                   "low/Agent.warmup_steps = 5"])
    from hierarchy.agent.agent import Agent
    from hierarchy.agent.replay import ReplayBuffer
    from hierarchy.core.level import Level
    from hierarchy.core.stack import Hierarchy

    assert config.scoped_bindings() == {
        ("top", "Level"): (["gamma", "tau"], Level),
        ("low", "ReplayBuffer"): (["batch_size"], ReplayBuffer),
        ("top/low", "Level"): (["tau"], Level), ("top", "Hierarchy"): (["cg_lambda"], Hierarchy),
        ("low", "Agent"): (["warmup_steps"], Agent)}


@pytest.mark.parametrize("binding, problem", [
    ("tpo/Level.reward_scale = 5.0", "'tpo/' is not the name of a level"),
    ("top/low/Level.tau = 0.1", "'top/low/' is not the name of a level"),
    ("lowest/ReplayBuffer.batch_size = 7", "'lowest/' is not the name of a level"),
    ("top/Hierarchy.cg_lambda = 0.1", "Hierarchy is never built inside a scope"),
    ("low/Agent.warmup_steps = 5", "Agent is never built inside a scope"),
])
def test_scopes_that_gin_would_ignore_are_named(binding, problem):
    parse_gin(POINT, [binding])
    key = binding.split(" = ")[0]
    with pytest.raises(ValueError, match=re.escape(f"{key}: {problem}")):
        check_gin_scopes(["top", "low"])


@pytest.mark.parametrize("bindings, names, bad", [
    (["mid1/ReplayBuffer.batch_size = 7"], ["top", "low"], "mid1"),
    (["mid2/Level.tau = 0.5"], ["top", "mid1", "low"], "mid2"),
    (["flat/Level.tau = 0.5"], ["top", "low"], "flat"),
    (["top/Level.tau = 0.5"], ["flat"], "top"),
])
def test_scopes_of_levels_this_run_does_not_have_are_errors(bindings, names, bad):
    parse_gin(POINT, TINY + bindings)
    with pytest.raises(ValueError, match=re.escape(
            f"'{bad}/' names no level of this {len(names)}-level hierarchy")):
        check_gin_scopes(names)
    # A saved run's configuration, written under older rules, may still be restored.
    assert check_gin_scopes(names, other_depths="allow") == [bindings[0].split(" = ")[0]]


def test_a_middle_levels_name_means_the_same_level_at_every_depth():
    for depth, batch_sizes in ((3, [16, 7, 16]), (4, [16, 7, 16, 16])):
        gin.clear_config()
        parse_gin(["envs/point_reach.gin", "methods/three_level_cg.gin"],
                  TINY + [f"build_hierarchy.num_levels = {depth}", "mid1/ReplayBuffer.batch_size = 7"])
        env = make_env("hierarchy/PointReach-v0")
        agent = build_agent(env, seed=0)
        assert [buf.batch_size for buf in agent.buffers] == batch_sizes
        env.close()


def test_level_names_of_every_depth():
    for name in ["flat", "top", "low", "mid1", "mid2", "mid17"]:
        assert config.is_level_name(name), name
    for name in ["tpo", "mid", "mid0", "mid01", "middle", "Top", "top/low", ""]:
        assert not config.is_level_name(name), name


def test_the_task_reward_scale_reaches_the_top_at_every_depth_and_a_flat_runs_one_level():
    for depth in (1, 2, 3, 4):
        gin.clear_config()
        parse_gin(["envs/ant_gather.gin", "methods/hrl_cg.gin"],
                  TINY + [f"build_hierarchy.num_levels = {depth}"])
        env = make_env("hierarchy/PointReach-v0")
        agent = build_agent(env, seed=0)
        assert [lvl.reward_scale for lvl in agent.hierarchy.levels] == [10.0] + [1.0] * (depth - 1)
        env.close()


@pytest.mark.parametrize("kwargs, bindings, problem", [
    (dict(reward_scales={"mid1": 2.0}), [], "reward_scales names level 'mid1', but this 2-level"),
    (dict(task_reward_scale=0.1, reward_scales={"top": 0.2}), [],
     "top level's reward scale is given twice: by task_reward_scale and by reward_scales['top']"),
    (dict(task_reward_scale=0.1), ["top/Level.reward_scale = 0.3"],
     "reward scale of level 'top' is given twice: by task_reward_scale and by the gin binding"),
    (dict(reward_scales={"low": 2.0}), ["Level.reward_scale = 0.3"],
     "reward scale of level 'low' is given twice: by reward_scales['low'] and by the gin binding"),
])
def test_a_reward_scale_given_twice_or_for_no_level_is_refused(kwargs, bindings, problem):
    from hierarchy import build_for_env
    parse_gin([], bindings)
    env = make_env("hierarchy/PointReach-v0")
    with pytest.raises(ValueError, match=re.escape(problem)):
        build_for_env(env, num_levels=2, **kwargs)
    env.close()


def test_reward_scales_by_name_in_code():
    from hierarchy import build_for_env
    env = make_env("hierarchy/PointReach-v0")
    h = build_for_env(env, num_levels=3, task_reward_scale=0.1, reward_scales={"mid1": 2.0, "low": 0.5})
    assert [lvl.reward_scale for lvl in h.levels] == [0.1, 2.0, 0.5]
    env.close()
