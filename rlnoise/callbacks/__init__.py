"""Stable-Baselines3 callbacks: gradient noise and one shared clock for every noise schedule.

Example:
    >>> from rlnoise.callbacks import GradientNoiseCallback, NoiseScheduleCallback
    >>> GradientNoiseCallback(eta=0.3).spec.label
    'gaussian:1'
"""

from rlnoise.callbacks.dynamics_log import DynamicsLogCallback
from rlnoise.callbacks.gradient_noise import (
    POSITIONS,
    UPDATE_COUNT_KEY,
    GradientNoiseCallback,
    gradient_noise_spec,
)
from rlnoise.callbacks.schedule import NoiseScheduleCallback
from rlnoise.callbacks.sources import (
    NoiseSources,
    find_noise_sources,
    is_noise_source,
    register_training_source,
    training_sources,
    unregister_training_source,
)

__all__ = [
    "POSITIONS",
    "UPDATE_COUNT_KEY",
    "DynamicsLogCallback",
    "GradientNoiseCallback",
    "NoiseScheduleCallback",
    "NoiseSources",
    "find_noise_sources",
    "gradient_noise_spec",
    "is_noise_source",
    "register_training_source",
    "training_sources",
    "unregister_training_source",
]
