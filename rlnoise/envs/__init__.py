"""Small environments and observation renderers that need no downloads."""

from rlnoise.envs.pixels import CartPolePixels

__all__ = ["CartPolePixels"]
