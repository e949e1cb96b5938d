"""Learning tests, one per depth, with thresholds from known results, plus a 3-level run.

- One level (flat TD3) on gymnasium's Pendulum-v1: a random policy scores about -1200 per episode;
  TD3 reaches about -150 (Fujimoto et al., 2018 report solving it; tf-agents' and SB3's zoo runs
  reach -150 to -200 within 10-20k steps). Threshold: better than -400 within 10k steps.
- Two levels (HRL-CG) on PointReach: standing still scores about -283 on the evaluation targets
  (50 steps x distance 5.66); reaching the target in 6 steps scores about -18. Threshold: better
  than -120 and a final-step success rate of at least 0.5 within 8k steps.

These show that each depth learns; they do not separate HRL-CG from a broken or zeroed
connected-gradient term (plain HRL meets the PointReach threshold too), and they run one seed.
Measured with this test's settings (seed 0, evaluation after 2k/4k/6k/8k steps): HRL-CG (lambda
0.1) -278/-168/-56/-43, plain HRL (lambda 0) -391/-84/-41/-30, flat TD3 -23/-22/-17/-14; on
PointMaze (period 10, 10k/20k/30k/40k steps) HRL-CG -2211/-1325/-1096/-2467, HRL
-3437/-2683/-1627/-1210, flat -2897/-2426/-3169/-2571. Neither task separates the methods within a
budget a test can afford, so no learning test claims to.
The connected-gradient math is guarded by exact checks instead: finite differences in
test_connected.py, every pair of 3- and 4-level hierarchies in test_mutant_guards.py, and the
mutation check (scripts/mutation_check.py).
"""

import gin
import gymnasium as gym
import numpy as np
import pytest
from learning import evaluate, train

import envs
import hierarchy as H
from envs.wrappers import NoContext


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def small_levels(num_levels, batch_size=64, **extra):
    for scope in H.level_names(num_levels):
        for key, value in {"actor_hidden_sizes": (64, 64), "critic_hidden_sizes": (64, 64),
                           "actor_learning_rate": 1e-3, "critic_learning_rate": 1e-3,
                           **extra}.items():
            gin.bind_parameter(f"{scope}/Level.{key}", value)
        gin.bind_parameter(f"{scope}/ReplayBuffer.batch_size", batch_size)


def test_flat_td3_learns_pendulum():
    small_levels(1, critic_loss="squared")
    env, eval_env = NoContext(gym.make("Pendulum-v1")), NoContext(gym.make("Pendulum-v1"))
    agent = H.Agent(hierarchy=H.build_for_env(env, num_levels=1, seed=0), warmup_steps=1000,
                    seed=0)
    before, _ = evaluate(agent, eval_env, episodes=5)
    scores = []
    for chunk in range(5):
        train(agent, env, 2000, seed=chunk)
        if chunk >= 3:
            scores.append(evaluate(agent, eval_env, episodes=5)[0])
    assert before < -900
    assert max(scores) > -400, (before, scores)


def test_two_levels_learn_point_reach():
    small_levels(2)
    gin.bind_parameter("top/Level.reward_scale", 0.1)
    env, eval_env = gym.make("hierarchy/PointReach-v0"), gym.make("hierarchy/PointReach-v0")
    contexts = envs.task_spec(env).eval_contexts
    h = H.build_for_env(env, num_levels=2, seed=0, periods=5, cg_lambda=0.1)
    agent = H.Agent(hierarchy=h, warmup_steps=1000, seed=0)
    before, before_success = evaluate(agent, eval_env, contexts, episodes=2)
    train(agent, env, 8000)
    after, success = evaluate(agent, eval_env, contexts, episodes=2)
    assert before < -200 and before_success == 0.0
    assert after > -120 and success >= 0.5, (before, after, success)


def test_three_levels_build_act_and_train_with_connected_gradients():
    small_levels(3, batch_size=16)
    env = gym.make("hierarchy/PointReach-v0")
    h = H.build_for_env(env, num_levels=3, seed=0, periods=[2, 3], cg_lambda=[0.1, 0.2])
    assert [lvl.level_name for lvl in h.levels] == ["top", "mid1", "low"]
    assert h.env_steps_per_step == [6, 3, 1]
    agent = H.Agent(hierarchy=h, warmup_steps=100, seed=0)
    before = [v.numpy().copy() for lvl in h.levels for v in lvl.actor.trainable_variables]
    train(agent, env, 400)
    # Every level trained (critics at their own rate), both pairs' connected-gradient terms ran.
    assert agent.critic_updates == [50, 100, 300]
    assert np.all(agent.last_losses.cg[:2] != 0.0)
    np.testing.assert_allclose(agent.last_losses.cg_lambda[:2], [0.1, 0.2], rtol=1e-6)
    after = [v.numpy() for lvl in h.levels for v in lvl.actor.trainable_variables]
    assert all(np.abs(a - b).max() > 0 for a, b in zip(after, before))
