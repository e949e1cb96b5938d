"""The update schedule, counted update by update: critic, actor AND target updates of every level of a
2- and a 3-level hierarchy, against a brute-force replay of the rule written out here.

The rule (docs/model.md, section 5): before global training step e, level i updates its critics iff
e >= warm-up, e % K_i == 0 and its replay holds a row (a level stores a row when its own step ends:
every K_i steps of the episode, or at the episode's end); its actor and then its targets are updated
at its 1st, (p_i + 1)-th, (2 p_i + 1)-th, ... critic update (p_i = its `actor_update_period`). Each
level has its own p_i here, so reading another level's period fails.

What ran is read from public state only: the critic and actor optimizers' `iterations` counters,
and, since nothing counts target updates, whether any target weight changed during the step.
"""

import numpy as np
import pytest
from helpers import GOAL_INDICES, OBS, make_agent, make_levels

from hierarchy import Hierarchy


def hierarchy_with(periods, actor_update_periods):
    """Levels that differ in their actor update period (each built as `make_levels` builds it)."""
    n = len(actor_update_periods)
    levels = [make_levels(n, actor_update_period=p)[i] for i, p in enumerate(actor_update_periods)]
    return Hierarchy(levels=levels, periods=periods, goal_indices=GOAL_INDICES)


def expected_schedule(K, actor_periods, warmup, episode_lengths):
    """Per global step, per level: (critic update, actor + target update), by brute force."""
    n = len(K)
    stored, critic_count, due = [0] * n, [0] * n, []
    for length in episode_lengths:
        for t in range(length):
            e = len(due)
            step = np.zeros((n, 2), bool)
            for i in range(n):
                if e >= warmup and e % K[i] == 0 and stored[i] > 0:
                    step[i] = True, critic_count[i] % actor_periods[i] == 0
                    critic_count[i] += 1
            due.append(step)
            for i in range(n):                      # rows stored after the step
                if (t + 1) % K[i] == 0 or t + 1 == length:
                    stored[i] += 1
    return np.array(due)


def targets_of(level):
    return [v.numpy().copy() for v in (*level.target_actor.trainable_variables,
                                       *level.target_critics.trainable_variables)]


def run_and_count(agent, episode_lengths, seed=0):
    """Per global step, per level: (critic optimizer steps, actor optimizer steps, targets moved)."""
    h = agent.hierarchy
    rng = np.random.default_rng(seed)
    counted = []
    for length in episode_lengths:
        traj = rng.normal(size=(length + 1, OBS)).astype(np.float32)
        episode = agent.begin_episode(traj[0], np.array([0.5, -1.0], np.float32))
        for t in range(length):
            before = [(int(lvl.critic_optimizer.iterations), int(lvl.actor_optimizer.iterations),
                       targets_of(lvl)) for lvl in h.levels]
            agent.act(episode)
            step = []
            for lvl, (critic, actor, targets) in zip(h.levels, before):
                moved = any(not np.array_equal(a, b) for a, b in zip(targets, targets_of(lvl)))
                step.append((int(lvl.critic_optimizer.iterations) - critic,
                             int(lvl.actor_optimizer.iterations) - actor, int(moved)))
            counted.append(step)
            agent.observe(episode, 1.0, traj[t + 1], False, t + 1 == length)
    return np.array(counted)


CASES = {
    "two levels": dict(periods=3, actor_update_periods=(3, 2), warmup=5, episodes=(11, 13)),
    "three levels": dict(periods=[2, 3], actor_update_periods=(2, 3, 2), warmup=4,
                         episodes=(14, 22)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_critic_actor_and_target_updates_follow_the_schedule(case):
    c = CASES[case]
    h = hierarchy_with(c["periods"], c["actor_update_periods"])
    agent = make_agent(h, batch_size=4, warmup_steps=c["warmup"], seed=0)
    K = h.env_steps_per_step
    due = expected_schedule(K, c["actor_update_periods"], c["warmup"], c["episodes"])
    counted = run_and_count(agent, c["episodes"])
    assert counted.shape == (sum(c["episodes"]), h.num_levels, 3)
    for i in range(h.num_levels):
        np.testing.assert_array_equal(counted[:, i, 0], due[:, i, 0], err_msg=f"critic, level {i}")
        np.testing.assert_array_equal(counted[:, i, 1], due[:, i, 1], err_msg=f"actor, level {i}")
        np.testing.assert_array_equal(counted[:, i, 2], due[:, i, 1], err_msg=f"targets, level {i}")
    np.testing.assert_array_equal(agent.critic_updates, due[:, :, 0].sum(axis=0))
    # Power: every level made several critic updates and at least two actor updates, and the actor
    # counts differ from those of a shared period.
    totals = due.sum(axis=0)
    assert np.all(totals[:, 0] >= 3) and np.all(totals[:, 1] >= 2), totals
    for i, p in enumerate(c["actor_update_periods"]):
        assert totals[i, 1] == -(-totals[i, 0] // p)          # ceil(critic updates / p_i)
    shared = [-(-totals[i, 0] // c["actor_update_periods"][0]) for i in range(h.num_levels)]
    assert list(totals[:, 1]) != shared
