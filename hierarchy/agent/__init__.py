"""A hierarchy that acts and learns: replay, the update schedule, one compiled call per step.

  agent.py          `Agent`: replay buffers, the update schedule, episodes, acting
  compiled_step.py  `CompiledStep`: the due updates and acting as one `tf.function` call a step
  replay.py         typed `Transition` rows in float32 ring buffers
  builder.py        levels with matching specs from an environment
  export.py         a trained hierarchy as a SavedModel policy
"""

from hierarchy.agent.agent import Agent, Episode

__all__ = ["Agent", "Episode"]
