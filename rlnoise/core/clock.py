"""The protocol every rlnoise noise source speaks, so one training clock can drive them all.

Observation/action wrappers, noisy policies and the gradient-noise callback
each own their noise and, by default, their own step counter. A shared clock
(the schedule callback) calls :meth:`NoiseSource.set_noise_step` on each of
them with the same count, so that a schedule written once in a config means
the same thing at every injection point, and reads :meth:`noise_scales` to log
what each source is currently using.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["NoiseSource"]


@runtime_checkable
class NoiseSource(Protocol):
    """Anything that owns noise with a schedule.

    Example:
        >>> class Constant:
        ...     def set_noise_step(self, step: int) -> None:
        ...         self.step = step
        ...     def noise_scales(self) -> dict[str, float]:
        ...         return {"obs": 0.1}
        >>> isinstance(Constant(), NoiseSource)
        True
    """

    def set_noise_step(self, step: int) -> None:
        """Set the step count that the source's schedules read (stops its own counting)."""

    def noise_scales(self) -> dict[str, float]:
        """Current effective scale of each noise the source owns, keyed by a short name."""
