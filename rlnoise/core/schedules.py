"""Noise-scale schedules: a multiplier of a spec's ``scale`` as a function of a step count.

Every schedule is an immutable, hashable dataclass that maps a step ``t >= 0``
to a non-negative factor; the effective noise scale at step ``t`` is
``spec.scale * schedule(t)``. What ``t`` counts is decided by the injection
point (environment steps for wrappers, gradient updates for gradient noise) or
set from outside by a shared training clock.

Example:
    >>> from rlnoise.core.schedules import schedule_from_dict
    >>> sched = schedule_from_dict({"type": "linear", "start": 1.0, "end": 0.0, "steps": 100})
    >>> sched(0), sched(50), sched(100), sched(1000)
    (1.0, 0.5, 0.0, 0.0)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from rlnoise.core.checks import check_choice, check_float, check_int, check_keys, show

__all__ = [
    "SCHEDULES",
    "AnnealedSchedule",
    "ConstantSchedule",
    "CosineSchedule",
    "ExponentialSchedule",
    "LinearSchedule",
    "PiecewiseSchedule",
    "Schedule",
    "schedule_from_dict",
]


class Schedule:
    """Base class: a pure function of the step count, serialisable as a dict."""

    type_name: ClassVar[str] = ""

    def __call__(self, t: float) -> float:
        """Return the scale factor at step ``t``."""
        raise NotImplementedError

    @property
    def is_constant(self) -> bool:
        """True when the factor never changes (lets injectors skip per-step work)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        """Return a YAML/JSON-safe dict that :func:`schedule_from_dict` turns back into ``self``."""
        out: dict[str, Any] = {"type": self.type_name}
        for field in fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, tuple):
                value = [list(item) if isinstance(item, tuple) else item for item in value]
            out[field.name] = value
        return out


@dataclass(frozen=True)
class ConstantSchedule(Schedule):
    """A constant factor ``value`` (default 1: the spec's scale unchanged)."""

    type_name: ClassVar[str] = "constant"
    value: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_float("schedule.value", self.value, low=0.0))

    def __call__(self, t: float) -> float:
        return self.value

    @property
    def is_constant(self) -> bool:
        return True


def _check_steps(kind: str, steps: Any) -> int:
    if steps is None:
        # A default would be arbitrary, and one step silently switches the noise off.
        raise ValueError(
            f"schedule.steps is required for a {kind!r} schedule (how many steps it takes "
            f"from start to end), e.g. {{type: {kind}, start: 1.0, end: 0.0, steps: 100000}}"
        )
    return check_int("schedule.steps", steps, low=1)


@dataclass(frozen=True)
class LinearSchedule(Schedule):
    """Linear interpolation from ``start`` to ``end`` over ``steps``, after ``begin`` steps.

    ``steps`` has no default: it is the length of the schedule.

    Example:
        >>> LinearSchedule(start=1.0, end=0.5, steps=10, begin=10)(15)
        0.75
    """

    type_name: ClassVar[str] = "linear"
    start: float = 1.0
    end: float = 0.0
    steps: int = None  # type: ignore[assignment]  # required: checked in __post_init__
    begin: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", check_float("schedule.start", self.start, low=0.0))
        object.__setattr__(self, "end", check_float("schedule.end", self.end, low=0.0))
        object.__setattr__(self, "steps", _check_steps("linear", self.steps))
        object.__setattr__(self, "begin", check_int("schedule.begin", self.begin, low=0))

    def __call__(self, t: float) -> float:
        frac = min(max(t - self.begin, 0.0) / self.steps, 1.0)
        # Convex combination: exactly ``start`` at frac 0 and exactly ``end`` at 1.
        return self.start * (1.0 - frac) + self.end * frac


@dataclass(frozen=True)
class ExponentialSchedule(Schedule):
    """``start * decay_rate ** (t / transition_steps)``, bounded by ``end`` (as in optax).

    With ``staircase=True`` the exponent is ``floor(t / transition_steps)``.
    ``end`` is a floor when the schedule decays and a ceiling when it grows.

    Example:
        >>> ExponentialSchedule(start=1.0, decay_rate=0.5, transition_steps=10)(20)
        0.25
    """

    type_name: ClassVar[str] = "exponential"
    start: float = 1.0
    decay_rate: float = 0.99
    transition_steps: int = 1
    staircase: bool = False
    end: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", check_float("schedule.start", self.start, low=0.0))
        rate = check_float("schedule.decay_rate", self.decay_rate, low=0.0, low_open=True)
        object.__setattr__(self, "decay_rate", rate)
        steps = check_int("schedule.transition_steps", self.transition_steps, low=1)
        object.__setattr__(self, "transition_steps", steps)
        if not isinstance(self.staircase, bool):
            raise ValueError(
                f"schedule.staircase must be true or false, got {show(self.staircase)}"
            )
        if self.end is not None:
            object.__setattr__(self, "end", check_float("schedule.end", self.end, low=0.0))

    def __call__(self, t: float) -> float:
        exponent = t / self.transition_steps
        if self.staircase:
            exponent = math.floor(exponent)
        try:
            value = self.start * self.decay_rate**exponent
        except OverflowError:
            value = math.inf
        if self.end is not None:
            value = max(value, self.end) if self.decay_rate < 1 else min(value, self.end)
        return value


@dataclass(frozen=True)
class CosineSchedule(Schedule):
    """Half-cosine from ``start`` to ``end`` over ``steps`` (then constant at ``end``).

    ``steps`` has no default: it is the length of the schedule.

    Example:
        >>> CosineSchedule(start=1.0, end=0.0, steps=100)(50)
        0.5
    """

    type_name: ClassVar[str] = "cosine"
    start: float = 1.0
    end: float = 0.0
    steps: int = None  # type: ignore[assignment]  # required: checked in __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", check_float("schedule.start", self.start, low=0.0))
        object.__setattr__(self, "end", check_float("schedule.end", self.end, low=0.0))
        object.__setattr__(self, "steps", _check_steps("cosine", self.steps))

    def __call__(self, t: float) -> float:
        frac = min(max(t, 0.0) / self.steps, 1.0)
        return self.end + (self.start - self.end) * 0.5 * (1.0 + math.cos(math.pi * frac))


@dataclass(frozen=True)
class PiecewiseSchedule(Schedule):
    """Factor given at ``points`` ``[(t0, v0), (t1, v1), ...]``, steps strictly increasing.

    Between points the factor is linearly interpolated (``interpolation="linear"``)
    or held at the last point passed (``"step"``); before the first point it is
    ``v0``, after the last it is the last value.

    Example:
        >>> sched = PiecewiseSchedule(points=((0, 1.0), (100, 0.5)), interpolation="step")
        >>> sched(99), sched(100)
        (1.0, 0.5)
    """

    type_name: ClassVar[str] = "piecewise"
    points: tuple[tuple[float, float], ...] = ((0, 1.0),)
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        raw = self.points
        if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple) or not raw:
            raise ValueError(
                f"schedule.points must be a non-empty list of [step, value], got {show(raw)}"
            )
        points: list[tuple[float, float]] = []
        for i, point in enumerate(raw):
            if not isinstance(point, list | tuple) or len(point) != 2:
                raise ValueError(f"schedule.points[{i}] must be [step, value], got {show(point)}")
            step = check_float(f"schedule.points[{i}] step", point[0], low=0.0)
            value = check_float(f"schedule.points[{i}] value", point[1], low=0.0)
            if points and step <= points[-1][0]:
                raise ValueError(
                    f"schedule.points steps must increase strictly, got {show(step)} "
                    f"after {show(points[-1][0])}"
                )
            points.append((step, value))
        object.__setattr__(self, "points", tuple(points))
        check_choice("schedule.interpolation", self.interpolation, ("linear", "step"))

    def __call__(self, t: float) -> float:
        points = self.points
        if t <= points[0][0]:
            return points[0][1]
        for (t0, v0), (t1, v1) in itertools.pairwise(points):
            if t < t1:
                if self.interpolation == "step":
                    return v0
                return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
        return points[-1][1]


@dataclass(frozen=True)
class AnnealedSchedule(Schedule):
    """Neelakantan et al. (2015): ``sigma_t^2 = eta / (1 + t)^gamma``.

    ``eta`` scales the VARIANCE, as in the paper and in optax's
    ``add_noise``: the returned factor is the standard deviation
    ``sqrt(eta / (1 + t)^gamma)``. The paper uses ``eta`` in {0.01, 0.3, 1.0}
    and ``gamma = 0.55``.

    Example:
        >>> AnnealedSchedule(eta=0.01, gamma=0.55)(0)
        0.1
    """

    type_name: ClassVar[str] = "annealed"
    eta: float = 0.01
    gamma: float = 0.55

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_float("schedule.eta", self.eta, low=0.0))
        object.__setattr__(self, "gamma", check_float("schedule.gamma", self.gamma, low=0.0))

    def __call__(self, t: float) -> float:
        return math.sqrt(self.eta / (1.0 + max(t, 0.0)) ** self.gamma)


SCHEDULES: dict[str, type[Schedule]] = {
    cls.type_name: cls
    for cls in (
        ConstantSchedule,
        LinearSchedule,
        ExponentialSchedule,
        CosineSchedule,
        PiecewiseSchedule,
        AnnealedSchedule,
    )
}


def schedule_from_dict(data: Any) -> Schedule:
    """Build a schedule from a dict ``{"type": name, **params}``, a bare name, or a schedule.

    Args:
        data: A :class:`Schedule`, a schedule name such as ``"constant"``, or a
            mapping with a ``type`` key and that schedule's parameters.

    Raises:
        ValueError: Unknown type (the known ones are listed), unknown or invalid parameter.

    Example:
        >>> schedule_from_dict("annealed").to_dict()
        {'type': 'annealed', 'eta': 0.01, 'gamma': 0.55}
    """
    if isinstance(data, Schedule):
        return data
    if data is None:
        return ConstantSchedule()
    if isinstance(data, str):
        data = {"type": data}
    if not isinstance(data, Mapping):
        raise ValueError(
            f"schedule must be a name or a mapping with a 'type' key, got {show(data)}"
        )
    data = dict(data)
    kind = data.get("type", "constant")
    cls = SCHEDULES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"schedule.type must be one of {sorted(SCHEDULES)}, got {show(kind)}")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    check_keys(f"schedule ({kind})", data, ["type", *names])
    kwargs = {key: value for key, value in data.items() if key != "type"}
    if cls is PiecewiseSchedule and "points" in kwargs:
        points = kwargs["points"]
        if isinstance(points, list):
            kwargs["points"] = tuple(tuple(p) if isinstance(p, list) else p for p in points)
    return cls(**kwargs)
