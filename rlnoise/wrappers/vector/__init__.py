"""Gymnasium vector-env wrappers, batched natively (one draw per step for all sub-envs)."""

from rlnoise.wrappers.vector.levels import LevelSet
from rlnoise.wrappers.vector.observation import ObservationNoise

__all__ = ["LevelSet", "ObservationNoise"]
