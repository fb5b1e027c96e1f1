"""Deprecated location of the owned torch randomness, now in :mod:`rlnoise.core.random`.

``resolve_seed`` and ``DeviceGenerators`` moved to the core; block draws are
:class:`rlnoise.core.blocks.UnitBlock`. Kept so that older imports still work.
"""

from rlnoise.core.random import DeviceGenerators, resolve_seed

__all__ = ["DeviceGenerators", "resolve_seed"]
