"""Gymnasium and Stable-Baselines3 wrappers that add noise to observations and actions.

Single env: :class:`ObservationNoise`, :class:`ActionNoise`,
:class:`RandomActionReplacement`. Vector envs, batched natively:
:class:`rlnoise.wrappers.vector.ObservationNoise` (Gymnasium) and
:class:`VecObservationNoise` (SB3). Sticky actions are Gymnasium's own
``gymnasium.wrappers.StickyAction``. Limited training data: :class:`LevelSet`
plays a fixed set of levels (:func:`training_levels`; test on the disjoint
:func:`unseen_levels`; vector envs: :class:`rlnoise.wrappers.vector.LevelSet`,
:class:`VecLevelSet`); :class:`ContextSet` a fixed set of dynamics contexts
(:func:`context_split`: training, interpolation and extrapolation contexts),
applied by :mod:`rlnoise.wrappers.dynamics`.

Every noise wrapper owns its random generator, seeded from the env's reset seed
through :func:`rlnoise.core.random.derive_seed`, and implements the
:class:`rlnoise.core.clock.NoiseSource` protocol (``set_noise_step``,
``noise_scales``) and a ``noise_enabled`` switch.
"""

from rlnoise.wrappers.action import ActionNoise, RandomActionReplacement
from rlnoise.wrappers.contexts import ContextSet, ContextSplit, context_split
from rlnoise.wrappers.dynamics import DynamicsSetting
from rlnoise.wrappers.levels import LevelSet, training_levels, unseen_levels
from rlnoise.wrappers.observation import ObservationNoise
from rlnoise.wrappers.vec_env import VecObservationNoise
from rlnoise.wrappers.vec_levels import VecLevelSet

#: The Gymnasium wrappers that inject noise (``rlnoise evaluate`` leaves them out of a run's env).
NOISE_WRAPPERS = (ActionNoise, ObservationNoise, RandomActionReplacement)

__all__ = [
    "NOISE_WRAPPERS",
    "ActionNoise",
    "ContextSet",
    "ContextSplit",
    "DynamicsSetting",
    "LevelSet",
    "ObservationNoise",
    "RandomActionReplacement",
    "VecLevelSet",
    "VecObservationNoise",
    "context_split",
    "training_levels",
    "unseen_levels",
]
