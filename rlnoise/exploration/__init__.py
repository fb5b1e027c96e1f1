"""Exploration noise from a noise spec: SB3 action noise and Gaussian policies' sampling noise.

- :class:`SpecActionNoise` — an SB3 ``ActionNoise`` for TD3/DDPG (``action_noise=``);
- :class:`ExplorationNoiseCallback` — any algorithm for the length of a ``learn()``:
  SAC's and PPO/A2C's Gaussian draws come from the spec's stream, TD3/DDPG get a
  ``SpecActionNoise``;
- :class:`ExplorationStreams` — the engine under both: one seeded
  :class:`~rlnoise.core.stream.NoiseStream` row per env, restarted per episode;
- :class:`StreamDiagGaussian`, :class:`StreamSquashedDiagGaussian` — SB3's
  Gaussian distributions acting with the streams' draws.

Example:
    >>> from rlnoise.exploration import ExplorationNoiseCallback, SpecActionNoise
    >>> SpecActionNoise("ou:0.2", action_dim=3, n_envs=2, seed=0)().shape
    (2, 3)
    >>> ExplorationNoiseCallback("colored:1,beta=2").spec.param_dict["beta"]
    2.0
"""

from rlnoise.exploration.action_noise import SpecActionNoise, action_dim_of
from rlnoise.exploration.callback import ExplorationNoiseCallback
from rlnoise.exploration.distributions import (
    StreamDiagGaussian,
    StreamSquashedDiagGaussian,
    stream_epsilon,
)
from rlnoise.exploration.streams import SEED_KEY, ExplorationStreams, check_exploration_spec

__all__ = [
    "SEED_KEY",
    "ExplorationNoiseCallback",
    "ExplorationStreams",
    "SpecActionNoise",
    "StreamDiagGaussian",
    "StreamSquashedDiagGaussian",
    "action_dim_of",
    "check_exploration_spec",
    "stream_epsilon",
]
