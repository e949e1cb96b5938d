"""The one compiled call per step (`hierarchy.agent.compiled_step`): call paths, input checks, one graph per
due pattern, and compiled updates equal to the eager math."""

import numpy as np
import pytest
from helpers import make_agent, make_hierarchy, pack_rows, random_batch, variables_snapshot

from hierarchy.agent.compiled_step import ActInputs, CompiledStep


def compiled_step(h, batch_size=16):
    return CompiledStep(hierarchy=h, batch_sizes=[batch_size] * h.num_levels)


def act_inputs(h, rng, new_step):
    """Random acting inputs for hierarchy `h` (numpy)."""
    pieces = [rng.normal(size=shape).astype(np.float32) for shape in ActInputs.shapes(h)]
    act = ActInputs.from_pieces(pieces, h.num_levels)
    act.new_step[...] = new_step
    act.explore[...] = 0.0
    act.use_random[...] = 0.0
    return act


def packed(step, due, rng):
    """Random packed rows and draws of the levels `due` trains, with their unpacked batches."""
    h = step.hierarchy
    trained = h.trained_levels(due)
    batches = [random_batch(h, i, rng) for i in trained]
    rows = [pack_rows(step.row_layouts[i], b[0]) for i, b in zip(trained, batches)]
    draws = [pack_rows(step.draw_layouts[i], b[1]) for i, b in zip(trained, batches)]
    return rows, draws, batches


def test_fast_and_public_call_paths_agree():
    """`CompiledStep.call` calls the traced graph directly; it must equal the public tf.function
    call, for acting alone and with updates."""
    rng = np.random.default_rng(0)
    act = act_inputs(make_hierarchy(2, periods=3), rng, new_step=[1.0, 1.0])  # both levels start
    for due in ([[False, False], [False, False]], [[True, True], [True, False]]):
        fast = compiled_step(make_hierarchy(2, periods=3))
        public = compiled_step(make_hierarchy(2, periods=3))
        rows, draws, _ = packed(fast, due, rng)
        got = fast.step(due, rows, draws, act)
        want = public.call_public(public.inputs(due).fill(rows, draws, act))
        np.testing.assert_array_equal(got.losses.table(), want.losses.table())
        for a, b in zip(got.actions + got.goals, want.actions + want.goals):
            np.testing.assert_array_equal(a, b)


def test_step_inputs_are_checked():
    """The public step and update copy their arrays into the pattern's input vector: a wrong shape
    or count is an error naming the part, never a silent broadcast."""
    h = make_hierarchy(2, periods=3)
    step = compiled_step(h)
    rng = np.random.default_rng(0)
    due = [[False, False], [True, False]]
    (rows,), (draws,), _ = packed(step, due, rng)
    act = act_inputs(h, rng, new_step=[0.0, 0.0])
    with pytest.raises(ValueError, match=r"rows of level 1 has shape \(1, "):
        step.step(due, [rows[:1]], [draws], act)
    act.observation = act.observation[:3]
    with pytest.raises(ValueError, match=r"act.observation has shape \(3,\)"):
        step.step(due, [rows], [draws], act)
    with pytest.raises(ValueError, match=r"trains levels \[1\]: expected 1 row and draw arrays, got 2"):
        step.update(due, [rows, rows], [draws])
    with pytest.raises(ValueError, match="act inputs are required exactly when the step acts"):
        step.inputs(due, acting=False).fill([rows], [draws], act)
    other = compiled_step(make_hierarchy(2, periods=3))
    with pytest.raises(ValueError, match="another CompiledStep"):
        step.call(other.inputs(due))
    # The same inputs through the in-place path: the low critic ran, nothing else.
    inputs = step.inputs(due, acting=False)
    inputs.rows[0][...] = rows
    inputs.draws[0][...] = draws
    losses = step.call(inputs).losses.table()
    assert losses[1, 0] != 0
    np.testing.assert_array_equal(losses[1, 1:], 0.0)
    np.testing.assert_array_equal(losses[0], 0.0)


def test_one_graph_per_due_pattern():
    """Only the updates due are built: a step with the low critic due leaves every other variable
    untouched, and each pattern is traced once."""
    h = make_hierarchy(2, periods=3)
    agent = make_agent(h, warmup_steps=0, seed=0)
    obs = np.zeros(4, np.float32)
    for _ in range(4):
        ep = agent.begin_episode(obs, np.zeros(2, np.float32))
        for t in range(8):
            agent.act(ep)
            agent.observe(ep, 1.0, obs + t, False, t == 7)
    # Low: critic, or critic + actor; top: nothing, critic, or critic + actor (its steps fall on
    # alternate parities of the low's updates, so not every product occurs).
    counts = agent.compiled.tracing_counts()
    assert 2 <= len(counts) <= 6 and all(acting for _, acting in counts)
    assert set(counts.values()) == {1}
    assert (((False, False), (True, True)), True) in counts     # low critic + actor, top idle
    rng = np.random.default_rng(1)
    before = variables_snapshot(h.levels[0].critics.trainable_variables
                                + h.levels[1].actor.trainable_variables)
    due = [[False, False], [True, False]]
    rows, draws, _ = packed(agent.compiled, due, rng)
    agent.compiled.step(due, rows, draws, act_inputs(h, rng, new_step=[0.0, 0.0]))
    for b, v in zip(before, h.levels[0].critics.trainable_variables
                    + h.levels[1].actor.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())


def test_each_pattern_is_traced_once():
    h = make_hierarchy(2, periods=3)
    step = compiled_step(h)
    rng = np.random.default_rng(3)
    due = [[True, False], [True, True]]
    for _ in range(3):
        rows, draws, _ = packed(step, due, rng)
        step.update(due, rows, draws)
    assert step.inputs(due, acting=False) is step.inputs(due, acting=False)
    assert step.inputs(due, acting=False) is not step.inputs(due, acting=True)
    pattern = ((True, False), (True, True))
    assert step.tracing_counts() == {(pattern, False): 1, (pattern, True): 0}   # built, not run


def test_compiled_updates_alone_equal_the_eager_updates():
    rng = np.random.default_rng(2)
    due = [[True, True], [True, False]]
    compiled, eager = make_hierarchy(2, periods=3, cg_lambda=0.3), make_hierarchy(2, periods=3,
                                                                                  cg_lambda=0.3)
    step = compiled_step(compiled)
    rows, draws, batches = packed(step, due, rng)
    losses = step.update(due, rows, draws).table()
    np.testing.assert_allclose(losses, eager.train(batches, due).table(), rtol=1e-5, atol=1e-6)
    assert losses[0, 2] != 0 and losses[1, 1] == 0     # top: actor + CG ran; low: critic only
    for a, b in zip(compiled.trainable_variables, eager.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
