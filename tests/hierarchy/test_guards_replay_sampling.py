"""Replay sampling reaches every stored row, the newest included, and nothing else: what an off-by-one
in a refactored buffer (sampling from `size - 1`, a ring that holds one row less) breaks.

The oracle is a plain Python list of what was added (each row's content is its serial number), with
the ring's rule written out here: the last `capacity` rows added are held. Sampling 400 batches with a
fixed seed reaches every held row with probability 1 - capacity * (1 - 1/capacity)^(400 B), i.e. for
certain at these sizes; the newest row is checked right after it is added. For the episode-aware
`future_indices` (hindsight), the oracle is the list of (episode, position) of each added row: from
row r, the reachable rows are r itself and its episode's later rows that are still held, the
episode's last stored row included, and never a row of another episode.
"""

import numpy as np
import pytest

from hierarchy.agent.replay import ReplayBuffer, Transition, transition_layout

LAYOUT = transition_layout(obs_dim=1, goal_dim=1, action_dim=1, child_steps=1)
DRAWS = 400


def row(serial):
    return Transition(observations=np.full((2, 1), serial, np.float32), num_steps=1,
                      goal=np.zeros(1, np.float32), action=np.full(1, serial, np.float32),
                      reward=0.0, discount=1.0)


def serials(buf, indices):
    return LAYOUT.views(buf.gather(indices)).action[:, 0].astype(int)


def held(added, capacity):
    """The rows a ring of `capacity` holds after `added` rows: the newest `capacity` ones."""
    return set(range(max(0, added - capacity), added))


def sampled(buf, rng, batch_size):
    """(indices, serials) reached by DRAWS batches of `sample_into` (the agent's path)."""
    out = np.zeros((batch_size, LAYOUT.width), np.float32)
    indices, contents = set(), set()
    for _ in range(DRAWS):
        indices |= set(buf.sample_into(rng, out).tolist())
        contents |= set(LAYOUT.views(out).action[:, 0].astype(int).tolist())
    return indices, contents


@pytest.mark.parametrize("capacity, batch_size", [(5, 3), (7, 1)])
def test_sampling_reaches_every_stored_row_and_no_other_through_wrap_around(capacity, batch_size):
    buf = ReplayBuffer(layout=LAYOUT, capacity=capacity, batch_size=batch_size)
    rng = np.random.default_rng(0)
    for added in range(1, 3 * capacity + 2):      # fills, then wraps the ring twice
        buf.add(row(added - 1))
        expected = held(added, capacity)
        indices, contents = sampled(buf, rng, batch_size)
        assert indices == set(range(min(added, capacity))), (added, indices)
        assert contents == expected, (added, contents, expected)
        assert added - 1 in contents                  # the newest row, right after it was added
        # The default batch size and `sample_indices` reach the same rows.
        more = np.concatenate([buf.sample_indices(rng) for _ in range(DRAWS)])
        assert set(more.tolist()) == indices and more.shape == (DRAWS * batch_size,)


def test_a_single_stored_row_is_sampled():
    buf = ReplayBuffer(layout=LAYOUT, capacity=4, batch_size=2)
    buf.add(row(41))
    rng = np.random.default_rng(1)
    assert serials(buf, buf.sample_indices(rng, 6)).tolist() == [41] * 6


def add_episodes(buf, lengths):
    """Adds episodes of the given lengths; returns per added row its (episode, position)."""
    origin = []
    for episode, length in enumerate(lengths):
        for t in range(length):
            buf.add(row(len(origin)), new_episode=t == 0)
            origin.append((episode, t))
    return origin


@pytest.mark.parametrize("capacity", [64, 6])
def test_future_rows_stay_in_the_episode_and_reach_itself_and_its_last_stored_row(capacity):
    buf = ReplayBuffer(layout=LAYOUT, capacity=capacity, batch_size=2)
    buf.track_episodes()
    origin = add_episodes(buf, [4, 1, 5, 3])          # 13 rows: capacity 6 wraps twice
    held_serials = held(len(origin), capacity)
    rng = np.random.default_rng(2)
    index_of = {int(s): k for k, s in enumerate(serials(buf, np.arange(len(buf))))}
    for serial in sorted(held_serials):
        episode, t = origin[serial]
        expected = {s for s in held_serials if origin[s][0] == episode and origin[s][1] >= t}
        reached = set(serials(buf, buf.future_indices(rng, np.full(300, index_of[serial]))).tolist())
        assert reached == expected, (serial, reached, expected)
        assert serial in reached and max(expected) in reached     # itself; its last stored row


def test_future_rows_of_the_open_episode_reach_its_newest_row_right_after_it_is_added():
    buf = ReplayBuffer(layout=LAYOUT, capacity=5, batch_size=2)
    buf.track_episodes()
    origin = add_episodes(buf, [2])
    rng = np.random.default_rng(3)
    for serial in range(len(origin), len(origin) + 7):   # one long open episode through the ring
        buf.add(row(serial))
        origin.append((0, serial))
        first_held = min(held(len(origin), 5))
        index = int(np.flatnonzero(serials(buf, np.arange(5)) == first_held)[0])
        reached = set(serials(buf, buf.future_indices(rng, np.full(200, index))).tolist())
        assert reached == held(len(origin), 5), (serial, reached)
