"""rlnoise: noise injection and robustness evaluation for Stable-Baselines3 agents.

Noise at the four places a network can be perturbed (observations, weights,
activations, gradients), described by one :class:`NoiseSpec`, and batched
robustness evaluation of trained agents.

Example:
    >>> import rlnoise
    >>> rlnoise.NoiseSpec.parse("gaussian:0.1").to_dict()["scale"]
    0.1
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it. Imported on first access so that
# `import rlnoise` stays light; SB3 and gymnasium load only when needed.
_EXPORTS: dict[str, str] = {
    "NoiseSpec": "rlnoise.core.spec",
    "NoiseSpecLike": "rlnoise.core.spec",
    "as_noise_spec": "rlnoise.core.spec",
    "NoiseStream": "rlnoise.core.stream",
    "ObservationNoise": "rlnoise.wrappers.observation",
    "ActionNoise": "rlnoise.wrappers.action",
    "RandomActionReplacement": "rlnoise.wrappers.action",
    "VecObservationNoise": "rlnoise.wrappers.vec_env",
    "noise_disabled": "rlnoise.nn.control",
    "noise_phase": "rlnoise.nn.control",
    "NoisyLinear": "rlnoise.nn.noisy_linear",
    "NoisyActorCriticPolicy": "rlnoise.policies.actor_critic",
    "NoisyDQNPolicy": "rlnoise.policies.dqn",
    "NoisySACPolicy": "rlnoise.policies.sac",
    "NoisyTD3Policy": "rlnoise.policies.td3",
    "GradientNoiseCallback": "rlnoise.callbacks",
    "NoiseScheduleCallback": "rlnoise.callbacks",
    "SpecActionNoise": "rlnoise.exploration.action_noise",
    "ExplorationNoiseCallback": "rlnoise.exploration.callback",
    "evaluate_robustness": "rlnoise.evaluation.runner",
    "RobustnessReport": "rlnoise.evaluation.report",
    "Condition": "rlnoise.evaluation.conditions",
    "build_grid": "rlnoise.evaluation.grid",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from rlnoise.callbacks import GradientNoiseCallback as GradientNoiseCallback
    from rlnoise.callbacks import NoiseScheduleCallback as NoiseScheduleCallback
    from rlnoise.core.spec import NoiseSpec as NoiseSpec
    from rlnoise.core.spec import NoiseSpecLike as NoiseSpecLike
    from rlnoise.core.spec import as_noise_spec as as_noise_spec
    from rlnoise.core.stream import NoiseStream as NoiseStream
    from rlnoise.evaluation.conditions import Condition as Condition
    from rlnoise.evaluation.grid import build_grid as build_grid
    from rlnoise.evaluation.report import RobustnessReport as RobustnessReport
    from rlnoise.evaluation.runner import evaluate_robustness as evaluate_robustness
    from rlnoise.exploration.action_noise import SpecActionNoise as SpecActionNoise
    from rlnoise.exploration.callback import ExplorationNoiseCallback as ExplorationNoiseCallback
    from rlnoise.nn.control import noise_disabled as noise_disabled
    from rlnoise.nn.control import noise_phase as noise_phase
    from rlnoise.nn.noisy_linear import NoisyLinear as NoisyLinear
    from rlnoise.policies.actor_critic import NoisyActorCriticPolicy as NoisyActorCriticPolicy
    from rlnoise.policies.dqn import NoisyDQNPolicy as NoisyDQNPolicy
    from rlnoise.policies.sac import NoisySACPolicy as NoisySACPolicy
    from rlnoise.policies.td3 import NoisyTD3Policy as NoisyTD3Policy
    from rlnoise.wrappers.action import ActionNoise as ActionNoise
    from rlnoise.wrappers.action import RandomActionReplacement as RandomActionReplacement
    from rlnoise.wrappers.observation import ObservationNoise as ObservationNoise
    from rlnoise.wrappers.vec_env import VecObservationNoise as VecObservationNoise


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlnoise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
