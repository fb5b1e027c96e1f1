"""Gymnasium and Stable-Baselines3 wrappers that add noise to observations and actions.

Single env: :class:`ObservationNoise`, :class:`ActionNoise`,
:class:`RandomActionReplacement`. Vector envs, batched natively:
:class:`rlnoise.wrappers.vector.ObservationNoise` (Gymnasium) and
:class:`VecObservationNoise` (SB3). Sticky actions are Gymnasium's own
``gymnasium.wrappers.StickyAction``.

Every wrapper owns its random generator, seeded from the env's reset seed
through :func:`rlnoise.core.random.derive_seed`, and implements the
:class:`rlnoise.core.clock.NoiseSource` protocol (``set_noise_step``,
``noise_scales``) and a ``noise_enabled`` switch.
"""

from rlnoise.wrappers.action import ActionNoise, RandomActionReplacement
from rlnoise.wrappers.observation import ObservationNoise
from rlnoise.wrappers.vec_env import VecObservationNoise

#: The Gymnasium wrappers that inject noise (``rlnoise evaluate`` leaves them out of a run's env).
NOISE_WRAPPERS = (ActionNoise, ObservationNoise, RandomActionReplacement)

__all__ = [
    "NOISE_WRAPPERS",
    "ActionNoise",
    "ObservationNoise",
    "RandomActionReplacement",
    "VecObservationNoise",
]
