"""Acting of a 3-level hierarchy at every combination of levels that start a new step, against a
brute-force replay of the rule written out here.

The rule: level i decides at episode step t iff t % K_i == 0, K_i the product of the periods below it
(periods (2, 3): K = (6, 3, 1)). Steps 0..11 hold every combination: the bottom alone (t = 1, 2, 4,
...), the middle and the bottom (t = 3, 9), all three (t = 0, 6). The oracle replays the episode
step by step in numpy: a deciding level acts on its goal input through a direct call of its actor
(exploration off: an evaluation episode); a level whose parent decided now is handed the parent's
new action as its goal; any other level's goal is carried one step by the transition of
`hierarchy.core.goals` written out by hand (relative: g' = s[I] + g - s'[I]; absolute: g' = g), one step
at a time, whereas the library carries it in closed form from the decision's origin. Compared at
every step: the goal input of every level, every level's held decision, the environment action.
"""

import numpy as np
import pytest
from helpers import GOAL_INDICES, OBS, make_agent, make_hierarchy, randomize_last_layers

I = list(GOAL_INDICES)
PERIODS = (2, 3)
K = (PERIODS[0] * PERIODS[1], PERIODS[1], 1)     # environment steps per own step, top first
STEPS = 12                                          # ends two steps after t = 9
ALL_COMBINATIONS = {(False, False, True), (False, True, True), (True, True, True)}


def deciding(t):
    return tuple(t % k == 0 for k in K)


def carried(goal, state, next_state, relative):
    """One step of the goal transition, by hand."""
    return state[I] + goal - next_state[I] if relative else goal.copy()


class Replay:
    """The brute-force acting of the three levels, step by step."""

    def __init__(self, h, context, relative):
        self.levels, self.context, self.relative = h.levels, context, relative
        self.goal_inputs = [None] * 3
        self.decisions = [None] * 3

    def step(self, t, previous, state):
        decide = deciding(t)
        for i, lvl in enumerate(self.levels):
            if i == 0:
                self.goal_inputs[0] = self.context
            elif decide[i - 1]:
                self.goal_inputs[i] = self.decisions[i - 1].copy()
            else:
                self.goal_inputs[i] = carried(self.goal_inputs[i], previous, state, self.relative)
            if decide[i]:
                self.decisions[i] = lvl.policy(state[None], self.goal_inputs[i][None]).numpy()[0]
        return decide


def three_level_agent(relative):
    h = make_hierarchy(3, periods=list(PERIODS), relative_goals=relative)
    rng = np.random.default_rng(21)
    for lvl in h.levels:
        randomize_last_layers(lvl, rng, scale=0.7)
    return make_agent(h, batch_size=4, warmup_steps=0, seed=0), rng


@pytest.mark.parametrize("relative", [True, False])
def test_every_combination_of_deciding_levels_matches_the_brute_force_replay(relative):
    agent, rng = three_level_agent(relative)
    h = agent.hierarchy
    assert h.env_steps_per_step == list(K)
    traj = rng.normal(scale=2.0, size=(STEPS + 1, OBS)).astype(np.float32)
    context = np.array([1.5, -2.0], np.float32)
    episode = agent.begin_episode(traj[0], context, training=False)
    oracle = Replay(h, context, relative)
    seen = set()
    for t in range(STEPS):
        decide = oracle.step(t, traj[t - 1] if t else None, traj[t])
        seen.add(decide)
        inputs = agent.prepare_step(episode)
        np.testing.assert_array_equal(inputs.act.new_step > 0.5, decide)
        outputs = agent.compiled.call(inputs)
        action = agent.finish_step(episode, inputs, outputs)
        for i in range(3):
            np.testing.assert_allclose(outputs.goals[i], oracle.goal_inputs[i], atol=2e-5,
                                       err_msg=f"goal input of level {i} at t={t}")
            np.testing.assert_allclose(episode.actions[i], oracle.decisions[i], atol=2e-5,
                                       err_msg=f"decision held by level {i} at t={t}")
        np.testing.assert_allclose(action, oracle.decisions[2], atol=2e-5)
        agent.observe(episode, 0.0, traj[t + 1], False, t + 1 == STEPS)
    assert seen == ALL_COMBINATIONS
    # Power: the goals passed down move between decisions (relative) and differ from level to level.
    assert np.abs(oracle.decisions[0] - oracle.decisions[1]).max() > 0.1
    if relative:
        assert np.abs(oracle.goal_inputs[2] - oracle.decisions[1]).max() > 0.1


def test_the_middle_deciding_alone_is_handed_the_tops_carried_goal():
    """At t = 3 the middle decides and the top does not: the middle's goal input is the top's goal
    from t = 0 carried to s_3 (hand-computed), not the top's action recomputed at s_3."""
    agent, rng = three_level_agent(True)
    h = agent.hierarchy
    traj = rng.normal(scale=2.0, size=(5, OBS)).astype(np.float32)
    context = np.array([0.5, 1.0], np.float32)
    episode = agent.begin_episode(traj[0], context, training=False)
    top_goal = h.levels[0].policy(traj[0][None], context[None]).numpy()[0]
    for t in range(4):
        inputs = agent.prepare_step(episode)
        outputs = agent.compiled.call(inputs)
        agent.finish_step(episode, inputs, outputs)
        if t < 3:
            agent.observe(episode, 0.0, traj[t + 1], False, False)
    expected = traj[0][I] + top_goal - traj[3][I]
    np.testing.assert_allclose(outputs.goals[1], expected, atol=2e-5)
    recomputed = h.levels[0].policy(traj[3][None], context[None]).numpy()[0]
    assert np.abs(expected - recomputed).max() > 0.1
    assert np.abs(expected - top_goal).max() > 0.1
