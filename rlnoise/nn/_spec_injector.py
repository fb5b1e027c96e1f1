"""What a spec decides for a network-noise injector: its phases and the scale in force.

Example:
    >>> from rlnoise.core.spec import NoiseSpec
    >>> from rlnoise.nn.control import NoiseControl
    >>> noise = SpecInjector(NoiseSpec.parse("dropout:0.3"), NoiseControl(), "drop")
    >>> noise.phases, noise.scales()
    (('train',), {'drop': 0.3})
"""

from __future__ import annotations

from collections.abc import Sequence

from rlnoise.core.spec import NoiseSpec
from rlnoise.nn.control import NoiseControl

__all__ = ["SpecInjector"]


class SpecInjector:
    """Base of :class:`~rlnoise.nn.ActivationNoise` and :class:`~rlnoise.nn.WeightNoise`.

    Both read the spec's phases (or the injection point's default) and its
    single-number scale times its schedule at the control's step, capped at 1
    when the scale is a probability (``dropout``).

    Args:
        spec: The validated spec.
        control: The phase/event control; its step is what the schedule reads.
        label: Key in :meth:`scales` and logs.
        default_phases: Phases used when the spec gives none.
    """

    def __init__(
        self,
        spec: NoiseSpec,
        control: NoiseControl,
        label: str,
        default_phases: Sequence[str] = ("train",),
    ) -> None:
        self.spec = spec
        self.control = control
        self.label = label
        self.phases = tuple(spec.phases if spec.phases is not None else default_phases)
        self._base_scale = float(spec.scale)  # type: ignore[arg-type]
        self._schedule = spec.schedule
        self._is_mask = spec.info.scale_is_probability

    @property
    def scale(self) -> float:
        """The scale in force now: base x schedule(step), a probability for masks."""
        scale = self._base_scale
        if not self._schedule.is_constant:
            scale *= self._schedule(self.control.step)
        return min(scale, 1.0) if self._is_mask else scale

    def scales(self) -> dict[str, float]:
        """``{label: scale}``, for logging."""
        return {self.label: self.scale}
