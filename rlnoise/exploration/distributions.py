"""Gaussian action distributions whose exploration draw comes from an :class:`ExplorationStreams`.

SAC and PPO/A2C explore by sampling their Gaussian policy,
``a = mu + sigma * eps`` with ``eps`` i.i.d. standard normal from torch's
global generator. The two classes here keep SB3's distributions
(:class:`~stable_baselines3.common.distributions.DiagGaussianDistribution`
for PPO/A2C, :class:`~stable_baselines3.common.distributions.SquashedDiagGaussianDistribution`
with ``tanh`` for SAC) and change one thing: when an action is *sampled to be
acted on* (``sample()``, reached through ``get_actions(deterministic=False)``
and ``actions_from_params``), ``eps`` is the next row of the streams (one row
per env, temporally correlated for ``ou`` and ``colored``). Everything else is
SB3's own:

- ``deterministic=True`` returns the mode, as before, and draws nothing;
- ``log_prob`` / ``entropy`` are the policy Gaussian's, so PPO stores (and
  recomputes in ``train()``) the log-probability of the executed action;
- ``log_prob_from_params`` — SAC's actor and critic targets in ``train()`` —
  keeps SB3's i.i.d. reparameterised sample: the actor's gradient estimates
  an expectation over the policy's Gaussian, which a batch sharing one
  correlated draw would not. (pink-noise-rl routes this through ``sample()``
  too, so its SAC update uses the colored draw, one for the whole batch, and
  advances the sequence three times per environment step.)

Example:
    >>> import torch
    >>> from rlnoise.exploration.streams import ExplorationStreams
    >>> dist = StreamDiagGaussian(2, ExplorationStreams("colored:1", 2, n_envs=3, seed=0))
    >>> actions = dist.actions_from_params(torch.zeros(3, 2), torch.zeros(2))
    >>> bool(torch.equal(actions, torch.as_tensor(dist.streams.last)))  # mu 0, sigma 1
    True
"""

from __future__ import annotations

import torch
from stable_baselines3.common.distributions import (
    DiagGaussianDistribution,
    SquashedDiagGaussianDistribution,
)

from rlnoise.exploration.streams import ExplorationStreams

__all__ = ["StreamDiagGaussian", "StreamSquashedDiagGaussian", "stream_epsilon"]


def stream_epsilon(streams: ExplorationStreams, mean: torch.Tensor) -> torch.Tensor:
    """The streams' next draw as a tensor like ``mean`` (one row per env).

    Raises:
        ValueError: ``mean`` is not ``(n_envs, action_dim)``: a stochastic
            ``predict`` of another batch size while the streams are installed.
    """
    expected = (streams.n_envs, streams.action_dim)
    if tuple(mean.shape) != expected:
        raise ValueError(
            f"exploration noise draws one row per env, shape {expected}, but the policy sampled "
            f"actions of shape {tuple(mean.shape)}; a stochastic predict() of another batch "
            "size is not possible while the exploration noise is installed (use "
            "deterministic=True, or predict after learn() returns)"
        )
    return torch.as_tensor(streams.sample(), device=mean.device, dtype=mean.dtype)


class StreamDiagGaussian(DiagGaussianDistribution):
    """SB3's diagonal Gaussian (PPO, A2C) acting with ``eps`` from ``streams``.

    Args:
        action_dim: Dimension of the action space.
        streams: Where the exploration draws come from.
    """

    def __init__(self, action_dim: int, streams: ExplorationStreams):
        super().__init__(action_dim)
        self.streams = streams

    def sample(self) -> torch.Tensor:
        """``mu + sigma * eps``, ``eps`` the streams' next draw (PPO stores its log-prob)."""
        mean, std = self.distribution.mean, self.distribution.stddev
        return mean + std * stream_epsilon(self.streams, mean)

    def log_prob_from_params(
        self, mean_actions: torch.Tensor, log_std: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SB3's reparameterised i.i.d. sample and its log-prob (a training-time call)."""
        self.proba_distribution(mean_actions, log_std)
        actions = DiagGaussianDistribution.sample(self)
        return actions, self.log_prob(actions)


class StreamSquashedDiagGaussian(SquashedDiagGaussianDistribution):
    """SB3's tanh-squashed diagonal Gaussian (SAC) acting with ``eps`` from ``streams``.

    Args:
        action_dim: Dimension of the action space.
        streams: Where the exploration draws come from.
        epsilon: SB3's guard against ``log(0)`` in the squash correction.
    """

    def __init__(self, action_dim: int, streams: ExplorationStreams, epsilon: float = 1e-6):
        super().__init__(action_dim, epsilon)
        self.streams = streams

    def sample(self) -> torch.Tensor:
        """``tanh(mu + sigma * eps)``, ``eps`` the streams' next draw."""
        mean, std = self.distribution.mean, self.distribution.stddev
        self.gaussian_actions = mean + std * stream_epsilon(self.streams, mean)
        return torch.tanh(self.gaussian_actions)

    def log_prob_from_params(
        self, mean_actions: torch.Tensor, log_std: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """SB3's reparameterised i.i.d. sample and its log-prob (SAC's update)."""
        self.proba_distribution(mean_actions, log_std)
        actions = SquashedDiagGaussianDistribution.sample(self)
        return actions, self.log_prob(actions, self.gaussian_actions)
