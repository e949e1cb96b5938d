"""Plain `tf.Module` networks: an MLP that may hold an ensemble of members.

The twin critics of TD3 are one `MLP` with `ensemble_size=2`: their kernels are stacked on a leading
axis `[E, in, out]` so both critics run as one batched matmul. An input `[B, in]` is broadcast to every
member; the output is `[E, B, out]`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

# tf-agents' actor and critic networks initialise their last layer uniformly in +/-0.003
# (tf_agents/agents/ddpg/actor_network.py, critic_network.py), as did DDPG (Lillicrap et al., 2016).
LAST_LAYER_INIT = 3e-3


def _glorot_uniform(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """Keras' default kernel initialiser, drawn from a numpy generator for reproducibility."""
    fan_in, fan_out = shape[-2], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


class MLP(tf.Module):
    """A ReLU multilayer perceptron with an optional ensemble axis.

    Args:
      input_dim: size of the last input axis.
      hidden_sizes: widths of the hidden ReLU layers, e.g. (256, 256).
      output_dim: width of the linear output layer.
      ensemble_size: number of independent members; 0 means a plain network without the axis.
      last_layer_init: half-width of the uniform initialiser of the output layer.
      seed: seed of the numpy generator that draws the initial weights.
      name: module name.
    """

    def __init__(
        self,
        *,
        input_dim: int,
        hidden_sizes: Sequence[int],
        output_dim: int,
        ensemble_size: int = 0,
        last_layer_init: float = LAST_LAYER_INIT,
        seed: int = 0,
        name: str = "mlp",
    ):
        super().__init__(name=name)
        if input_dim < 1 or output_dim < 1:
            raise ValueError(f"{name}: input_dim and output_dim must be >= 1, got {input_dim}, "
                             f"{output_dim}")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.ensemble_size = int(ensemble_size)
        rng = np.random.default_rng(seed)
        lead = (self.ensemble_size,) if self.ensemble_size else ()
        sizes = [self.input_dim, *[int(h) for h in hidden_sizes], self.output_dim]
        self.kernels, self.biases = [], []
        with self.name_scope:
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                last = i == len(sizes) - 2
                shape = (*lead, fan_in, fan_out)
                if last:
                    init = rng.uniform(-last_layer_init, last_layer_init, size=shape)
                else:
                    init = _glorot_uniform(rng, shape)
                self.kernels.append(tf.Variable(init.astype(np.float32), name=f"kernel_{i}"))
                self.biases.append(
                    tf.Variable(np.zeros((*lead, 1, fan_out) if lead else (fan_out,), np.float32),
                                name=f"bias_{i}"))

    def __call__(self, x: tf.Tensor, member: int | None = None) -> tf.Tensor:
        """Applies the network.

        Args:
          x: `[B, input_dim]`, or `[E, B, input_dim]` for an ensemble.
          member: for an ensemble, run only this member: `x` is `[B, input_dim]`, output `[B, out]`.

        Returns:
          `[B, output_dim]`, or `[E, B, output_dim]` for an ensemble called without `member`.
        """
        if member is not None:
            return self._forward(x, [w[member] for w in self.kernels],
                                 [b[member] for b in self.biases])
        return self._forward(x, self.kernels, self.biases)

    @staticmethod
    def _forward(x, kernels, biases):
        n = len(kernels)
        for i, (w, b) in enumerate(zip(kernels, biases)):
            x = tf.matmul(x, w) + b
            if i < n - 1:
                x = tf.nn.relu(x)
        return x


def soft_update(targets: Sequence[tf.Variable], sources: Sequence[tf.Variable], tau: float) -> None:
    """Polyak averaging: target <- (1 - tau) * target + tau * source, for each pair."""
    for t, s in zip(targets, sources):
        t.assign((1.0 - tau) * t + tau * s)


def copy_weights(targets: Sequence[tf.Variable], sources: Sequence[tf.Variable]) -> None:
    """Hard copy of variable values."""
    for t, s in zip(targets, sources):
        t.assign(s)
