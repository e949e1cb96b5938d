"""hierarchy: goal-conditioned hierarchical reinforcement learning with connected gradients (HRL-CG).

The public API:
  Level            one goal-conditioned TD3 learner
  Hierarchy        a stack of N >= 1 levels, with connected gradients between every parent and child
  Agent            a hierarchy with replay buffers, update schedule and episode bookkeeping
  ReplayBuffer     a level's replay (capacity, batch size), of typed `Transition` rows
  GoalSpace        where goals live in the observation (indices) and whether they are relative
  build_hierarchy  N levels with matching specs from an environment's specs and goal space
  build_for_env    the same from an environment that publishes a `task_spec`
  configure_tensorflow  TensorFlow's thread settings for small networks on a CPU (call it first)
  train            the training run of the binary, configured with gin (`train.*`, ...)
  train_agent      the same run for an agent and environments built in code
  RunSettings      a run's settings (the `train.*` gin bindings) as one frozen value
  evaluate         deterministic evaluation episodes of an agent, per evaluation context
  evaluate_run     evaluating a saved run's checkpoint under its own configuration
"""

# First: imports TensorFlow with its start-up noise filtered out (hierarchy/runtime.py).
from hierarchy.runtime import configure_tensorflow  # noqa: I001

from hierarchy.agent.agent import Agent, Episode
from hierarchy.agent.builder import build_for_env, build_hierarchy, specs_from_env
from hierarchy.core.goals import GoalSpace
from hierarchy.core.stack import Hierarchy, level_names
from hierarchy.core.level import Level
from hierarchy.agent.replay import ReplayBuffer, Transition
from hierarchy.run.evaluation import evaluate
from hierarchy.run.runner import train, train_agent
from hierarchy.run.saved_run import evaluate_run
from hierarchy.run.settings import RunSettings

__all__ = ["Agent", "Episode", "GoalSpace", "Hierarchy", "Level", "ReplayBuffer", "RunSettings",
           "Transition", "build_for_env", "build_hierarchy", "configure_tensorflow", "evaluate",
           "evaluate_run", "level_names", "specs_from_env", "train", "train_agent"]
