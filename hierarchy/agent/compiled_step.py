"""One compiled TensorFlow call per environment step: every update that is due, then acting.

Calling a `tf.function` has a fixed cost per call that is large next to a small network's forward
pass, so the agent makes at most one call per environment step. `CompiledStep` keeps one graph per
pattern of due updates (a `[N, 2]` bool array: critic update, actor + target update, per level), each
with a fixed input signature: ONE float32 vector that holds the sampled replay rows and draws of the
levels trained, and, when the step acts, the acting inputs. `StepInputs` owns that vector and typed
numpy views into it, which the caller fills in place; the graph unpacks the same layout into
`replay.Transition` / `replay.Draws` / `ActInputs` records of tensors. The output is one vector too,
read back through `StepOutputs`. See docs/compiled_step.md.

The math is `Hierarchy.train` and `Hierarchy.act`; this module only packs, compiles and calls.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Sequence

import numpy as np
import tensorflow as tf

from hierarchy.agent.replay import RowLayout
from hierarchy.core.losses import Losses
from hierarchy.core.stack import Hierarchy


class _Segments:
    """Consecutive pieces of one float32 vector, each of a fixed shape."""

    def __init__(self, shapes: Sequence[tuple]):
        self.shapes = [tuple(int(d) for d in shape) for shape in shapes]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.width = self.offsets[-1]

    def views(self, vector: np.ndarray) -> List[np.ndarray]:
        """Numpy views of `vector`, one per piece (writing a view writes the vector)."""
        return [vector[a:b].reshape(shape)
                for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)]

    def tensors(self, vector: tf.Tensor) -> List[tf.Tensor]:
        """The graph's side: the pieces of `vector` as tensors."""
        return [tf.reshape(vector[a:b], shape)
                for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)]


@dataclasses.dataclass
class ActInputs:
    """What acting reads (numpy views on the caller's side, tensors in the graph).

    Attributes:
      observation: `[obs_dim]`, s_t.
      context: `[context_dim]`.
      origin_states: `[N, obs_dim]`; row i (i > 0): the state where level i's goal was set.
      origin_goals: `[N, goal_dim]`; row i (i > 0): the goal level i - 1 set there.
      noise: per level `[A_i]`, standard normal exploration draws (zeros: no noise).
      random_actions: per level `[A_i]`, the warm-up's uniform actions.
      new_step: `[N]`, 1.0 where level i starts one of its own steps now.
      explore: `[1]`, 1.0 to add exploration noise.
      use_random: `[1]`, 1.0 to take `random_actions` (warm-up).
    """

    observation: Any
    context: Any
    origin_states: Any
    origin_goals: Any
    noise: List[Any]
    random_actions: List[Any]
    new_step: Any
    explore: Any
    use_random: Any

    @staticmethod
    def shapes(hierarchy: Hierarchy) -> List[tuple]:
        """The shapes of the fields in declaration order, `noise` and `random_actions` per level."""
        n, levels = hierarchy.num_levels, hierarchy.levels
        obs_dim, actions = levels[0].obs_dim, [(lvl.action_dim,) for lvl in levels]
        return [(obs_dim,), (levels[0].goal_dim,), (n, obs_dim), (n, hierarchy.goal_dim),
                *actions, *actions, (n,), (1,), (1,)]

    @classmethod
    def from_pieces(cls, pieces: Sequence, num_levels: int) -> ActInputs:
        n = num_levels
        return cls(*pieces[:4], list(pieces[4:4 + n]), list(pieces[4 + n:4 + 2 * n]),
                   *pieces[4 + 2 * n:])

    def pieces(self) -> list:
        return [self.observation, self.context, self.origin_states, self.origin_goals,
                *self.noise, *self.random_actions, self.new_step, self.explore, self.use_random]


@dataclasses.dataclass
class StepOutputs:
    """One compiled call's results (numpy views into its output vector).

    Attributes:
      losses: the updates' `Losses` (numpy `[N]` each; zeros where no update ran).
      actions: per level `[A_i]` (None when the call did not act).
      goals: per level `[G_i]`, the conditioning input it acted on (None when the call did not act).
    """

    losses: Losses
    actions: List[np.ndarray] | None = None
    goals: List[np.ndarray] | None = None


class StepInputs:
    """The one input vector of a compiled step for one pattern of due updates, and typed numpy views
    into it that callers fill in place (no packing, one tensor conversion per call).

    Attributes:
      due: `[N, 2]` bools, the pattern.
      acting: whether the step acts after its updates.
      levels: the levels trained (`Hierarchy.trained_levels(due)`), in order.
      vector: `[width]` float32, everything the graph reads.
      rows, draws: per trained level, views `[B_i, row width]` and `[B_i, draw width]` (packed
        `Transition` and `Draws` rows; see the level's layouts).
      act: `ActInputs` of views, None without acting.
      transitions, draw_records: per trained level, the same rows and draws as records of views
        (`replay.Transition` / `replay.Draws`, fields `[B_i, ...]`), set by `CompiledStep`.
    """

    def __init__(self, *, due: np.ndarray, acting: bool, levels: List[int], row_shapes, draw_shapes,
                 act_shapes, key: tuple):
        self.due, self.acting, self.levels, self.key = due, acting, levels, key
        self.segments = _Segments(list(row_shapes) + list(draw_shapes) + (act_shapes if acting else []))
        self.vector = np.zeros(self.segments.width, np.float32)
        views = self.segments.views(self.vector)
        k = len(levels)
        self.rows, self.draws = views[:k], views[k:2 * k]
        self.num_levels = len(due)
        self.act = ActInputs.from_pieces(views[2 * k:], self.num_levels) if acting else None

    def fill(self, rows: Sequence[np.ndarray], draws: Sequence[np.ndarray],
             act: ActInputs | None = None) -> StepInputs:
        """Copies caller-given arrays into the views, checking every shape (no silent broadcast).

        Args:
          rows, draws: packed rows and draws of each trained level, in `levels` order.
          act: the acting inputs (numpy), required exactly when the step acts.
        """
        k = len(self.levels)
        if len(rows) != k or len(draws) != k:
            raise ValueError(f"the due pattern trains levels {self.levels}: expected {k} row and "
                             f"draw arrays, got {len(rows)} and {len(draws)}")
        if (act is not None) != self.acting:
            raise ValueError("act inputs are required exactly when the step acts "
                             f"(this step {'acts' if self.acting else 'does not act'})")
        pairs = [(f"rows of level {i}", x, v) for i, x, v in zip(self.levels, rows, self.rows)]
        pairs += [(f"draws of level {i}", x, v) for i, x, v in zip(self.levels, draws, self.draws)]
        if self.acting:
            n = self.num_levels
            if len(act.noise) != n or len(act.random_actions) != n:
                raise ValueError(f"act needs one noise and one random action per level ({n}), got "
                                 f"{len(act.noise)} and {len(act.random_actions)}")
            labels = ["act.observation", "act.context", "act.origin_states", "act.origin_goals",
                      *[f"act.noise[{i}]" for i in range(n)],
                      *[f"act.random_actions[{i}]" for i in range(n)],
                      "act.new_step", "act.explore", "act.use_random"]
            pairs += list(zip(labels, act.pieces(), self.act.pieces()))
        for what, x, view in pairs:
            x = np.asarray(x, np.float32)
            if x.shape != view.shape:
                raise ValueError(f"{what} has shape {x.shape}, expected {view.shape}")
            view[...] = x
        return self


@dataclasses.dataclass
class _Compiled:
    """One due pattern's graph: the tf.function, its concrete function once traced, its inputs."""

    function: Any
    inputs: StepInputs
    concrete: Any = None


class CompiledStep:
    """Runs a hierarchy's updates and acting as one compiled call per environment step.

    Args:
      hierarchy: the `Hierarchy`.
      batch_sizes: per level, the rows of its sampled batch.

    Each due pattern gets its own graph with a fixed input signature, built on first use: no
    conditionals and no retracing. A schedule visits few patterns, so few graphs are built (flat TD3
    with the paper's schedule: critic, and critic + actor; two levels: four, plus acting alone during
    the warm-up).
    """

    def __init__(self, *, hierarchy: Hierarchy, batch_sizes: Sequence[int]):
        n = hierarchy.num_levels
        if len(batch_sizes) != n:
            raise ValueError(f"batch_sizes has {len(batch_sizes)} entries, the hierarchy {n} levels")
        self.hierarchy = hierarchy
        self.batch_sizes = [int(b) for b in batch_sizes]
        self.row_layouts: List[RowLayout] = [hierarchy.transition_layout(i) for i in range(n)]
        self.draw_layouts: List[RowLayout] = [hierarchy.draws_layout(i) for i in range(n)]
        self._act_shapes = ActInputs.shapes(hierarchy)
        self._out = _Segments([(n, 4)] + [(lvl.action_dim,) for lvl in hierarchy.levels]
                              + [(lvl.goal_dim,) for lvl in hierarchy.levels])
        self._by_pattern: Dict[tuple, _Compiled] = {}

    def _graph(self, inputs: StepInputs, vector: tf.Tensor) -> tf.Tensor:
        """The updates in `inputs.due`, then (if acting) acting; returns the packed output vector."""
        h, due, n = self.hierarchy, inputs.due, self.hierarchy.num_levels
        pieces = inputs.segments.tensors(vector)
        k = len(inputs.levels)
        batches: List[Any] = [None] * n
        for j, i in enumerate(inputs.levels):
            batches[i] = (self.row_layouts[i].unpack(pieces[j]),
                          self.draw_layouts[i].unpack(pieces[k + j]))
        losses = h.train(batches, due).packed() if due.any() else Losses.packed_zeros(n)
        if not inputs.acting:
            return losses
        act = ActInputs.from_pieces(pieces[2 * k:], n)
        with tf.control_dependencies([losses]):
            actions, goal_inputs = h.act(
                observation=act.observation, context=act.context, origin_states=act.origin_states,
                origin_goals=act.origin_goals, new_step=act.new_step > 0.5,
                explore=act.explore[0] > 0.5, use_random=act.use_random[0] > 0.5, noise=act.noise,
                random_actions=act.random_actions)
        return tf.concat([losses, *actions, *goal_inputs], axis=0)

    def _entry(self, due, acting: bool) -> _Compiled:
        due = self.hierarchy.static_due(due)
        key = (due.tobytes(), acting)
        entry = self._by_pattern.get(key)
        if entry is None:
            trained = self.hierarchy.trained_levels(due)
            inputs = StepInputs(
                due=due, acting=acting, levels=trained,
                row_shapes=[(self.batch_sizes[i], self.row_layouts[i].width) for i in trained],
                draw_shapes=[(self.batch_sizes[i], self.draw_layouts[i].width) for i in trained],
                act_shapes=self._act_shapes, key=key)
            inputs.transitions = [self.row_layouts[i].views(r) for i, r in zip(trained, inputs.rows)]
            inputs.draw_records = [self.draw_layouts[i].views(d)
                                   for i, d in zip(trained, inputs.draws)]
            fn = tf.function(lambda vector: self._graph(inputs, vector),
                             input_signature=[tf.TensorSpec([inputs.vector.size], tf.float32)],
                             autograph=False)
            entry = self._by_pattern[key] = _Compiled(function=fn, inputs=inputs)
        return entry

    def tracing_counts(self) -> Dict[tuple, int]:
        """{(due pattern `[N, 2]` as a tuple of tuples, acting): how often its graph was traced} of
        every pattern built so far (1 each: no retracing)."""
        n = self.hierarchy.num_levels
        return {(tuple(map(tuple, np.frombuffer(due, bool).reshape(n, 2).tolist())), acting):
                entry.function.experimental_get_tracing_count()
                for (due, acting), entry in self._by_pattern.items()}

    def inputs(self, due, *, acting: bool = True) -> StepInputs:
        """The input buffers of the compiled step for `due` (the same object for every call with that
        pattern): fill its views in place, then `call(inputs)`."""
        return self._entry(due, acting).inputs

    def _outputs(self, inputs: StepInputs, out: np.ndarray) -> StepOutputs:
        n = self.hierarchy.num_levels
        if not inputs.acting:
            return StepOutputs(losses=Losses.unpack(out, n))
        pieces = self._out.views(out)
        return StepOutputs(losses=Losses.unpack(pieces[0], n), actions=pieces[1:1 + n],
                           goals=pieces[1 + n:])

    def call(self, inputs: StepInputs) -> StepOutputs:
        """Runs the compiled step of `inputs`' pattern on its vector.

        Calls the traced graph directly with one tensor (`ConcreteFunction._call_flat`, stable in the
        pinned TensorFlow 2.15): that skips the per-call signature binding of `tf.function`, which
        costs more than the rest of the call's Python side (see benchmarks/README.md).
        """
        entry = self._by_pattern.get(inputs.key)
        if entry is None or entry.inputs is not inputs:
            raise ValueError("these StepInputs belong to another CompiledStep; use inputs()")
        if entry.concrete is None:
            entry.concrete = entry.function.get_concrete_function()
        fn = entry.concrete
        out = fn._call_flat([tf.convert_to_tensor(inputs.vector)], fn.captured_inputs).numpy()
        return self._outputs(inputs, out)

    def call_public(self, inputs: StepInputs) -> StepOutputs:
        """`call` through tf.function's public call path (a reference for tests)."""
        entry = self._entry(inputs.due, inputs.acting)
        return self._outputs(inputs, entry.function(inputs.vector).numpy())

    def step(self, due, rows, draws, act: ActInputs) -> StepOutputs:
        """The compiled step on caller-given arrays: the updates in `due`, then acting.

        Args:
          due: `[N, 2]` bools: (critic, actor + targets) update due per level.
          rows, draws: packed rows and draws of the levels in `Hierarchy.trained_levels(due)`, in
            order (empty when nothing is due).
          act: the acting inputs (numpy arrays).
        """
        return self.call(self.inputs(due).fill(rows, draws, act))

    def update(self, due, rows, draws) -> np.ndarray:
        """The updates in `due` alone, compiled (no acting): e.g. extra updates per environment
        step, or training from a filled buffer. Returns the `Losses` (see `Hierarchy.train`)."""
        return self.call(self.inputs(due, acting=False).fill(rows, draws)).losses
