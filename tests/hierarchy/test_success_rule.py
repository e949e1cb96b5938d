"""The success rule of evaluation episodes: info["is_success"] at the final step or at any step, the
default of each kind of task, the gin override, and the rule named in every evaluation row."""

import gin
import numpy as np
import pytest
from helpers import make_agent, randomize_last_layers

import envs
from envs.task import TaskSpec
from hierarchy.agent import builder
from hierarchy.run import evaluation
from hierarchy.run.assembly import make_env, make_envs_and_agent
from hierarchy.run.config import ConfigurationError, parse_gin


@pytest.mark.parametrize("steps, final, any_step", [
    ([True, True, False], False, True),     # reached the goal, then left it
    ([False, False, True], True, True),
    ([False, False, False], False, False),
    ([None, True, False], False, True),     # a step without success info counts as nothing
    ([True, None], None, True),             # no success info at the final step
    ([None, None], None, None),
])
def test_episode_success_by_hand(steps, final, any_step):
    assert evaluation.episode_success(steps, "final_step") is final
    assert evaluation.episode_success(steps, "any_step") is any_step


def test_a_rule_that_does_not_exist_is_named():
    with pytest.raises(ValueError, match="success rule 'sometimes' is unknown"):
        evaluation.episode_success([True], "sometimes")
    with pytest.raises(ValueError, match="TaskSpec.success_rule 'last' is unknown; choose one of"):
        TaskSpec(goal_indices=(0,), goal_low=(-1,), goal_high=(1,), context_low=(), context_high=(),
                 eval_contexts=(), max_episode_steps=5, success_rule="last")


def test_each_kind_of_task_has_its_default():
    for env_id in ["hierarchy/PointReach-v0", "hierarchy/PointMaze-v0", "hierarchy/AntMaze-v0"]:
        env = make_env(env_id)
        assert envs.task_spec(env).success_rule == "final_step"
        assert evaluation.configured_success_rule(env) == "final_step"
        env.close()
    env = make_env("PointMaze_UMaze-v3")          # adapted: its episodes go on past the goal
    assert evaluation.configured_success_rule(env) == "any_step"
    env.close()
    env = make_env("Pendulum-v1")                 # no TaskSpec
    assert evaluation.configured_success_rule(env) == "final_step"
    env.close()


def test_gin_overrides_the_tasks_rule_and_a_bad_value_is_named():
    gin.clear_config()
    parse_gin(["envs/point_maze_robotics.gin", "methods/flat.gin"],
              ["success_rule.override = 'final_step'"])
    env = make_env("PointMaze_UMaze-v3")
    assert evaluation.configured_success_rule(env) == "final_step"
    env.close()
    gin.clear_config()
    parse_gin(["envs/point_reach.gin"], ["success_rule.override = 'at_the_end'"])
    with pytest.raises(ConfigurationError, match="success_rule.override 'at_the_end' is unknown"):
        make_envs_and_agent("hierarchy/PointReach-v0", max_episode_steps=None, seed=0, count=1)
    gin.clear_config()


def moving_agent(env):
    """A flat agent whose actor's outputs are large enough to move the point away from the goal."""
    h = builder.build_for_env(env, num_levels=1)
    randomize_last_layers(h.levels[0], np.random.default_rng(0), scale=0.5)
    return make_agent(h, warmup_steps=0)


def step_successes(agent, env, *, seed, options):
    """info["is_success"] after every step of an evaluation episode, rolled out by hand."""
    obs, _ = env.reset(seed=seed, options=options)
    episode = agent.begin_episode(obs["observation"], obs["context"], training=False)
    out = []
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.act(episode))
        agent.observe(episode, reward, obs["observation"], terminated, truncated)
        out.append(info["is_success"])
        if terminated or truncated:
            return out


def test_episodes_that_reach_the_goal_and_leave_it():
    # PointMaze, target (-1, 1) at the end of the U's top corridor: from the starts of the reset
    # seeds 0 and 1 the point runs through the target and comes to rest in the corner behind it,
    # (-1.4, 1.4), 0.56 from the target (success: within 0.45).
    env = make_env("PointMaze_UMaze-v3", max_episode_steps=60)
    agent = moving_agent(env)
    options = {"context": np.array([-1.0, 1.0], np.float32)}
    for seed in (0, 1):
        steps = step_successes(agent, env, seed=seed, options=options)
        assert any(steps) and not steps[-1] and len(steps) == 60, steps
        for rule, expected in [("any_step", True), ("final_step", False)]:
            _, success, _ = evaluation.run_episode(agent, env, context=options["context"], seed=seed,
                                                   success_rule=rule)
            assert success is expected, (seed, rule)
    # evaluate: episodes 0 and 1 of the context reset with seeds 0 and 1.
    rows = {rule: evaluation.evaluate(agent, env, episodes_per_context=2, contexts=[(-1.0, 1.0)],
                                      seed=0, success_rule=rule) for rule in (None, "final_step")}
    assert rows[None]["success_rule"] == "any_step"          # the adapted task's default
    assert rows[None]["success_rate"] == 1.0
    assert rows["final_step"]["success_rule"] == "final_step"
    assert rows["final_step"]["success_rate"] == 0.0
    env.close()


def test_evaluation_rows_count_by_the_rule_they_name():
    env = make_env("PointMaze_UMaze-v3", max_episode_steps=60)
    agent = moving_agent(env)
    contexts = [(0.0, 1.0), (1.0, 0.0)]
    rows = {rule: evaluation.evaluate(agent, env, episodes_per_context=2, contexts=contexts, seed=5,
                                      success_rule=rule) for rule in ("any_step", "final_step")}
    # The oracle: the same episodes rolled out by hand, their steps' success read by each rule.
    episodes = [step_successes(agent, env, seed=5 + 1000 * i + j,
                               options={"context": np.asarray(c, np.float32)})
                for i, c in enumerate(contexts) for j in range(2)]
    for rule, read in [("any_step", any), ("final_step", lambda e: e[-1])]:
        assert rows[rule]["success_rule"] == rule
        assert rows[rule]["success_rate"] == pytest.approx(np.mean([read(e) for e in episodes]))
    env.close()
