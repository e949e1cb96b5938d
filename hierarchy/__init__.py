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
"""

# First: imports TensorFlow with its start-up noise filtered out (hierarchy/runtime.py).
from hierarchy.runtime import configure_tensorflow  # noqa: I001

from hierarchy.agent.agent import Agent, Episode
from hierarchy.agent.builder import build_for_env, build_hierarchy, specs_from_env
from hierarchy.core.goals import GoalSpace
from hierarchy.core.stack import Hierarchy, level_names
from hierarchy.core.level import Level
from hierarchy.agent.replay import ReplayBuffer, Transition

__all__ = ["Agent", "Episode", "GoalSpace", "Hierarchy", "Level", "ReplayBuffer", "Transition",
           "build_for_env", "build_hierarchy", "configure_tensorflow", "level_names",
           "specs_from_env"]
