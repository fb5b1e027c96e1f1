"""Torch building blocks for network noise: NoisyNet layers, weight, activation and parameter noise.

Everything here is plain torch on top of :mod:`rlnoise.core`; the SB3 policies
in :mod:`rlnoise.policies` assemble these pieces.

- :class:`NoisyLinear` — Fortunato et al.'s noisy layer (factorised or independent).
- :class:`NoisyNet` / :class:`NoisyNetConfig` — a network's linear layers made noisy.
- :class:`WeightNoise` — a spec's noise on chosen parameters (fresh or held).
- :class:`ActivationNoise` — a spec's noise on chosen modules' outputs.
- :class:`ParameterNoise` — Plappert et al.'s adaptive parameter-space exploration.
- :class:`NoiseControl`, :func:`noise_disabled`, :func:`noise_phase` — when noise is on.
"""

from rlnoise.nn.activation_noise import ActivationNoise
from rlnoise.nn.control import NoiseControl, ResampleRule, noise_disabled, noise_phase
from rlnoise.nn.layer_norm import insert_layer_norm
from rlnoise.nn.noisy_linear import NoisyLinear
from rlnoise.nn.noisy_net import NoisyNet, NoisyNetConfig
from rlnoise.nn.param_noise import ParameterNoise, action_rms_distance, softmax_kl_distance
from rlnoise.nn.weight_noise import WeightNoise

__all__ = [
    "ActivationNoise",
    "NoiseControl",
    "NoisyLinear",
    "NoisyNet",
    "NoisyNetConfig",
    "ParameterNoise",
    "ResampleRule",
    "WeightNoise",
    "action_rms_distance",
    "insert_layer_norm",
    "noise_disabled",
    "noise_phase",
    "softmax_kl_distance",
]
