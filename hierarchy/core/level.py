"""`Level`: one goal-conditioned TD3 learner (Fujimoto et al., 2018).

A level maps an observation and a conditioning input (the environment's context at the top, a goal
set by the parent below it) to an action (an environment action at the bottom, a goal for the child
above it). It owns an actor, twin critics, their targets and two Adam optimizers. Its methods are
pieces of a compiled training step; the `Hierarchy` decides what a level is trained on and when.

Every hyperparameter is a keyword argument; the defaults are the paper's (docs/model.md,
"Hyperparameters"). Replay settings (capacity, batch size) live with the replay buffer.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import gin
import numpy as np
import tensorflow as tf

from hierarchy.core import networks, optimizers, specs

CRITIC_LOSSES = ("huber", "squared")


def _flat_dim(spec, what: str, name: str) -> int:
    if len(spec.shape) != 1:
        raise ValueError(f"Level '{name}': {what} must be a vector spec [dim], got shape {spec.shape}")
    return int(spec.shape[0])


def td_loss(kind: str, targets: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
    """Elementwise TD loss: Huber with delta 1 (as tf-agents' default) or squared error.

    Args:
      targets: `[B]`; predictions: `[..., B]`.

    Returns:
      `[..., B]`.
    """
    error = predictions - targets
    if kind == "squared":
        return tf.square(error)
    abs_error = tf.abs(error)
    quadratic = tf.minimum(abs_error, 1.0)
    return 0.5 * tf.square(quadratic) + (abs_error - quadratic)


@gin.configurable
class Level(tf.Module):
    """One goal-conditioned TD3 learner.

    Args:
      observation_spec: `TensorSpec([obs_dim])` of the environment observation.
      goal_spec: `TensorSpec([goal_dim])` of the conditioning input (context or goal). May have
        goal_dim 0 (no conditioning, e.g. flat TD3 on a task without context).
      action_spec: `BoundedTensorSpec([action_dim])`; the actor's tanh output is scaled to its bounds.
      actor_hidden_sizes: hidden ReLU layers of the actor.
      critic_hidden_sizes: hidden ReLU layers of each critic (input: [obs, goal, action]).
      actor_learning_rate: Adam learning rate of the actor (Adam as Keras', see `optimizers`).
      critic_learning_rate: Adam learning rate of the twin critics.
      gamma: discount per step of this level.
      tau: soft target update rate.
      actor_update_period: the actor and the targets are updated once per this many critic updates
        (TD3's delayed policy update).
      critic_loss: "huber" (delta 1) or "squared".
      target_noise: std of target policy smoothing noise, in units of the action half-range.
      target_noise_clip: clip of that noise, in units of the action half-range.
      exploration_noise: std of Gaussian exploration noise, in units of the action half-range
        (TD3's N(0, 0.1 max_action)).
      reward_scale: multiplies this level's reward (environment reward at the top, intrinsic below);
        applied by `scale_reward`, the one place any reward is scaled.
      seed: seed of the initial weights.
      name: the level's name (also its gin scope when built by `build_hierarchy`).
    """

    def __init__(
        self,
        *,
        observation_spec,
        goal_spec,
        action_spec,
        actor_hidden_sizes: Sequence[int] = (256, 256),
        critic_hidden_sizes: Sequence[int] = (256, 256),
        actor_learning_rate: float = 3e-4,
        critic_learning_rate: float = 3e-4,
        gamma: float = 0.99,
        tau: float = 5e-3,
        actor_update_period: int = 2,
        critic_loss: str = "huber",
        target_noise: float = 0.2,
        target_noise_clip: float = 0.5,
        exploration_noise: float = 0.1,
        reward_scale: float = 1.0,
        seed: int = 0,
        name: str = "level",
    ):
        super().__init__(name=name)
        self.level_name = name
        if not specs.is_bounded(action_spec):
            raise TypeError(f"Level '{name}': action_spec must be a BoundedTensorSpec, got "
                            f"{action_spec!r}")
        for key, value in (("actor_learning_rate", actor_learning_rate),
                           ("critic_learning_rate", critic_learning_rate)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"Level '{name}': {key} must be a finite number > 0, got {value!r}")
        if critic_loss not in CRITIC_LOSSES:
            raise ValueError(f"Level '{name}': critic_loss must be one of {CRITIC_LOSSES}, got "
                             f"{critic_loss!r}")
        if int(actor_update_period) < 1:
            raise ValueError(f"Level '{name}': actor_update_period must be >= 1, got "
                             f"{actor_update_period}")
        if not 0.0 <= gamma <= 1.0 or not 0.0 < tau <= 1.0:
            raise ValueError(f"Level '{name}': need 0 <= gamma <= 1 and 0 < tau <= 1, got "
                             f"gamma={gamma}, tau={tau}")
        for key, value in (("target_noise", target_noise), ("target_noise_clip", target_noise_clip),
                           ("exploration_noise", exploration_noise)):
            if value < 0:
                raise ValueError(f"Level '{name}': {key} must be >= 0, got {value}")
        self.observation_spec = observation_spec
        self.goal_spec = goal_spec
        self.action_spec = action_spec
        self.obs_dim = _flat_dim(observation_spec, "observation_spec", name)
        self.goal_dim = _flat_dim(goal_spec, "goal_spec", name)
        self.action_dim = _flat_dim(action_spec, "action_spec", name)
        low = np.broadcast_to(np.asarray(action_spec.minimum, np.float32), [self.action_dim])
        high = np.broadcast_to(np.asarray(action_spec.maximum, np.float32), [self.action_dim])
        if not np.all(np.isfinite(low)) or not np.all(high > low):
            raise ValueError(f"Level '{name}': action bounds must be finite with high > low, got "
                             f"{low}, {high}")
        self.action_low, self.action_high = low, high
        self.action_mid = (high + low) / 2.0
        self.action_half_range = (high - low) / 2.0

        self.gamma = float(gamma)
        self.tau = float(tau)
        self.actor_update_period = int(actor_update_period)
        self.critic_loss_kind = critic_loss
        self.target_noise = float(target_noise)
        self.target_noise_clip = float(target_noise_clip)
        self.exploration_noise = float(exploration_noise)
        self.reward_scale = float(reward_scale)

        in_actor = self.obs_dim + self.goal_dim
        in_critic = in_actor + self.action_dim
        with self.name_scope:
            mlp, twin = networks.MLP, networks.Ensemble
            self.actor = mlp(input_dim=in_actor, hidden_sizes=actor_hidden_sizes,
                             output_dim=self.action_dim, seed=seed, name="actor")
            self.critics = twin(size=2, input_dim=in_critic, hidden_sizes=critic_hidden_sizes,
                                output_dim=1, seed=seed + 1, name="critics")
            self.target_actor = mlp(input_dim=in_actor, hidden_sizes=actor_hidden_sizes,
                                    output_dim=self.action_dim, seed=seed, name="target_actor")
            self.target_critics = twin(size=2, input_dim=in_critic, hidden_sizes=critic_hidden_sizes,
                                       output_dim=1, seed=seed + 1, name="target_critics")
            self.actor_optimizer = optimizers.Adam(self.actor.trainable_variables,
                                                   learning_rate=actor_learning_rate,
                                                   name="actor_adam")
            self.critic_optimizer = optimizers.Adam(self.critics.trainable_variables,
                                                    learning_rate=critic_learning_rate,
                                                    name="critic_adam")

    # ----------------------------------------------------------------------------------------------
    # Forward passes.

    @staticmethod
    def _concat(*parts) -> tf.Tensor:
        return tf.concat([tf.convert_to_tensor(p, tf.float32) for p in parts], axis=-1)

    def _scale(self, pre_activation: tf.Tensor) -> tf.Tensor:
        return self.action_mid + self.action_half_range * tf.tanh(pre_activation)

    def policy(self, observation, goal) -> tf.Tensor:
        """The deterministic policy pi(s, g): `[B, obs_dim], [B, goal_dim] -> [B, action_dim]`."""
        return self._scale(self.actor(self._concat(observation, goal)))

    def target_policy(self, observation, goal) -> tf.Tensor:
        """The target policy: `[B, obs_dim], [B, goal_dim] -> [B, action_dim]`."""
        return self._scale(self.target_actor(self._concat(observation, goal)))

    def q_values(self, observation, goal, action) -> tf.Tensor:
        """Both critics: `-> [2, B]`."""
        return self.critics(self._concat(observation, goal, action))[..., 0]

    def q1(self, observation, goal, action) -> tf.Tensor:
        """The first critic only, as TD3's actor loss uses: `-> [B]`."""
        return self.critics(self._concat(observation, goal, action), member=0)[..., 0]

    # ----------------------------------------------------------------------------------------------
    # Losses (pure given the variables).

    def scale_reward(self, reward) -> tf.Tensor:
        """This level's reward as its critics learn it: reward_scale * reward (any shape)."""
        return self.reward_scale * tf.convert_to_tensor(reward, tf.float32)

    def smoothed_target_action(self, next_observation, next_goal, noise) -> tf.Tensor:
        """Target policy smoothing: pi'(s', g') + clip(sigma * noise, -c, c), clipped to the bounds.

        Args:
          noise: `[B, action_dim]` standard normal draws (zeros for no smoothing).
        """
        eps = tf.clip_by_value(self.target_noise * self.action_half_range * noise,
                               -self.target_noise_clip * self.action_half_range,
                               self.target_noise_clip * self.action_half_range)
        action = self.target_policy(next_observation, next_goal) + eps
        return tf.clip_by_value(action, self.action_low, self.action_high)

    def td_targets(self, reward, discount, next_observation, next_goal, noise) -> tf.Tensor:
        """y = reward_scale * r + gamma * discount * min_k Q'_k(s', g', a~'): `-> [B]`.

        Args:
          reward: `[B]` unscaled reward; discount: `[B]`, 0 where the episode terminated.
        """
        next_action = self.smoothed_target_action(next_observation, next_goal, noise)
        target_q = tf.reduce_min(
            self.target_critics(self._concat(next_observation, next_goal, next_action))[..., 0],
            axis=0)
        return tf.stop_gradient(self.scale_reward(reward)
                                + self.gamma * tf.convert_to_tensor(discount, tf.float32) * target_q)

    def critic_loss(self, observation, goal, action, reward, discount, next_observation, next_goal,
                    noise) -> tf.Tensor:
        """TD3's critic loss, the sum of both critics' mean TD losses: `-> []`."""
        targets = self.td_targets(reward, discount, next_observation, next_goal, noise)
        predictions = self.q_values(observation, goal, action)
        return tf.reduce_mean(tf.reduce_sum(td_loss(self.critic_loss_kind, targets, predictions),
                                            axis=0))

    def actor_loss(self, observation, goal) -> tf.Tensor:
        """-mean Q1(s, g, pi(s, g)): `-> []`."""
        return -tf.reduce_mean(self.q1(observation, goal, self.policy(observation, goal)))

    # ----------------------------------------------------------------------------------------------
    # Updates (called inside compiled steps).

    def train_critic(self, observation, goal, action, reward, discount, next_observation, next_goal,
                     noise) -> tf.Tensor:
        """One Adam step on both critics; returns the loss before the step."""
        variables = self.critics.trainable_variables
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            loss = self.critic_loss(observation, goal, action, reward, discount, next_observation,
                                    next_goal, noise)
        self.critic_optimizer.apply_gradients(tape.gradient(loss, variables))
        return loss

    def actor_gradients(self, observation, goal,
                        extra_loss: Callable[[tf.Tensor], tf.Tensor] | None = None):
        """Gradients of the actor loss (plus an extra term) with respect to the actor variables.

        Args:
          extra_loss: maps this level's fresh actions pi(s, g) `[B, action_dim]` to a scalar added to
            the actor loss (the connected-gradient term). Only this level's actor variables are
            differentiated, so nothing else can move.

        Returns:
          (actor loss, extra loss, gradients aligned with `self.actor.trainable_variables`); the
          extra loss is 0 when absent.
        """
        variables = self.actor.trainable_variables
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            action = self.policy(observation, goal)
            loss = -tf.reduce_mean(self.q1(observation, goal, action))
            extra = extra_loss(action) if extra_loss is not None else tf.constant(0.0)
            total = loss + extra
        return loss, extra, tape.gradient(total, variables)

    def apply_actor_gradients(self, gradients) -> None:
        """One Adam step on the actor, then a soft update of all targets (TD3's delayed update)."""
        self.actor_optimizer.apply_gradients(gradients)
        self.update_targets()

    def train_actor(self, observation, goal,
                    extra_loss: Callable[[tf.Tensor], tf.Tensor] | None = None):
        """`actor_gradients` then `apply_actor_gradients`; returns (actor loss, extra loss)."""
        loss, extra, grads = self.actor_gradients(observation, goal, extra_loss)
        self.apply_actor_gradients(grads)
        return loss, extra

    def update_targets(self, tau: float | None = None) -> None:
        """Soft update of the target actor and critics (tau=1 copies)."""
        tau = self.tau if tau is None else tau
        networks.soft_update(self.target_actor.trainable_variables,
                             self.actor.trainable_variables, tau)
        networks.soft_update(self.target_critics.trainable_variables,
                             self.critics.trainable_variables, tau)

    # ----------------------------------------------------------------------------------------------
    # Acting helpers.

    def explore(self, action, noise) -> tf.Tensor:
        """Adds Gaussian exploration noise (standard normal `noise` scaled) and clips to the bounds."""
        return tf.clip_by_value(action + self.exploration_noise * self.action_half_range * noise,
                                self.action_low, self.action_high)

    def random_action(self, rng: np.random.Generator, batch_shape=()) -> np.ndarray:
        """Uniform random actions within the bounds (the warm-up policy): `[*batch_shape, A]`."""
        return rng.uniform(self.action_low, self.action_high,
                           size=(*batch_shape, self.action_dim)).astype(np.float32)
