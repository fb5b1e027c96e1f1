"""Evaluation conditions: clean, or a named set of perturbations.

A :class:`Condition` is a name, an optional curve position (``group`` and
``level``) and a tuple of perturbations. Each perturbation is a small frozen
dataclass that serialises to a JSON/YAML-safe dict with a ``type`` key:

=================  ==========================================================
``type``           what it does at evaluation time
=================  ==========================================================
``obs_noise``      observation noise of any :class:`~rlnoise.NoiseSpec` kind,
                   in the raw env space or in the policy's normalised space
``action_noise``   noise added to continuous actions (clipped to the bounds)
``random_action``  with probability ``p`` the action is replaced by a uniform
                   random action of the action space
``sticky_action``  with probability ``p`` the previous action is repeated
                   (``gymnasium.wrappers.StickyAction``'s definition)
``dynamics``       env attributes and/or ``gym.make`` keyword arguments
``weight_noise``   policy weights perturbed by a noise spec, one draw per
                   episode
``fgsm``, ``pgd``  adversarial observation attack in an l_inf ball
=================  ==========================================================

Within one condition the perturbations act in a fixed order, whatever order
they are listed in: raw observation noise, raw-space attack, normalisation,
normalised-space noise, normalised-space attack, the (possibly perturbed)
policy, action noise, random action replacement, sticky actions, and the
(possibly changed) environment.

Example:
    >>> condition = Condition("obs 0.1", (ObservationNoise("gaussian:0.1"),))
    >>> condition.to_dict()["perturbations"][0]["noise"]["scale"]
    0.1
    >>> Condition.from_dict(condition.to_dict()) == condition
    True
    >>> Condition.from_dict({"name": "x", "perturbations": [{"type": "wind"}]})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown perturbation type 'wind'; known types are ['action_noise', ...]
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlnoise.core.checks import check_choice, check_float, check_int, check_keys, show
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec

__all__ = [
    "PERTURBATION_TYPES",
    "SPACES",
    "ActionNoise",
    "Condition",
    "Dynamics",
    "ObservationAttack",
    "ObservationNoise",
    "Perturbation",
    "RandomAction",
    "StickyAction",
    "WeightNoise",
    "as_condition",
]

SPACES = ("raw", "normalized")
_SPACE_ALIASES = {"raw": "raw", "normalized": "normalized", "normalised": "normalized"}


def _space(value: Any) -> str:
    if isinstance(value, str) and value in _SPACE_ALIASES:
        return _SPACE_ALIASES[value]
    return check_choice("space", value, SPACES)


def _evaluation_spec(field_name: str, value: NoiseSpecLike) -> NoiseSpec:
    try:
        spec = as_noise_spec(value)
    except ValueError as error:
        raise ValueError(f"{field_name}: {error}") from None
    if not spec.schedule.is_constant:
        raise ValueError(
            f"{field_name} must have a constant schedule in an evaluation condition "
            f"(a condition is one noise level), got {spec.schedule.to_dict()}"
        )
    if spec.adaptive is not None:
        raise ValueError(f"{field_name} cannot be adaptive in an evaluation condition")
    return spec


def _plain(value: Any) -> Any:
    """JSON-safe copy of a value (tuples to lists, numpy scalars to Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


class Perturbation:
    """Base of every perturbation: a ``type`` name and a dict form."""

    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict with a ``type`` key."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Perturbation:
        """Build the perturbation from its dict form (``type`` key optional)."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Short human label."""
        raise NotImplementedError


def _fields(where: str, data: Mapping[str, Any], valid: Sequence[str]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {show(data)}")
    check_keys(where, data, ["type", *valid])
    return {k: v for k, v in data.items() if k != "type"}


@dataclass(frozen=True)
class ObservationNoise(Perturbation):
    """Noise on the observation the policy sees.

    Args:
        noise: Any noise spec (stateful kinds restart every episode).
        space: ``"raw"`` (the env's observation) or ``"normalized"`` (after the
            model's ``VecNormalize`` statistics; the same as raw without them).
    """

    noise: NoiseSpec
    space: str = "raw"
    type: ClassVar[str] = "obs_noise"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", _evaluation_spec("obs_noise.noise", self.noise))
        object.__setattr__(self, "space", _space(self.space))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict(), "space": self.space}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationNoise:
        return cls(**_fields("obs_noise", data, ["noise", "space"]))

    @property
    def label(self) -> str:
        prefix = "obs" if self.space == "raw" else "obs[normalized]"
        return f"{prefix}:{self.noise.label}"


@dataclass(frozen=True)
class ActionNoise(Perturbation):
    """Noise on continuous (Box) actions, clipped back to the action bounds.

    For discrete actions use :class:`RandomAction`.
    """

    noise: NoiseSpec
    type: ClassVar[str] = "action_noise"

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", _evaluation_spec("action_noise.noise", self.noise))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ActionNoise:
        return cls(**_fields("action_noise", data, ["noise"]))

    @property
    def label(self) -> str:
        return f"action:{self.noise.label}"


@dataclass(frozen=True)
class RandomAction(Perturbation):
    """With ``probability`` the action is replaced by a uniform draw from the action space."""

    probability: float
    type: ClassVar[str] = "random_action"

    def __post_init__(self) -> None:
        value = check_float("random_action.probability", self.probability, low=0.0, high=1.0)
        object.__setattr__(self, "probability", value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "probability": self.probability}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RandomAction:
        return cls(**_fields("random_action", data, ["probability"]))

    @property
    def label(self) -> str:
        return f"random_action:{self.probability:g}"


@dataclass(frozen=True)
class StickyAction(Perturbation):
    """The previous action is repeated with ``probability`` (Machado et al., 2018).

    Follows the definition of ``gymnasium.wrappers.StickyAction`` draw for draw
    (one uniform per step while not repeating; a duration drawn when a repeat
    starts), from the condition's own generator instead of the env's.

    Args:
        probability: Chance in [0, 1) that a repeat starts at a step.
        duration: Steps a repeat lasts: an int, or ``[low, high]`` drawn uniformly.
    """

    probability: float
    duration: int | tuple[int, int] = 1
    type: ClassVar[str] = "sticky_action"

    def __post_init__(self) -> None:
        value = check_float("sticky_action.probability", self.probability, low=0.0)
        if value >= 1.0:
            raise ValueError(f"sticky_action.probability must be < 1, got {show(value)}")
        object.__setattr__(self, "probability", value)
        duration = self.duration
        if isinstance(duration, list | tuple):
            if len(duration) != 2:
                raise ValueError(
                    f"sticky_action.duration must be an int or [low, high], got {show(duration)}"
                )
            low = check_int("sticky_action.duration[0]", duration[0], low=1)
            high = check_int("sticky_action.duration[1]", duration[1], low=low)
            object.__setattr__(self, "duration", (low, high))
        else:
            object.__setattr__(
                self, "duration", check_int("sticky_action.duration", duration, low=1)
            )

    @property
    def duration_range(self) -> tuple[int, int]:
        """``(low, high)`` bounds of the repeat duration (inclusive)."""
        d = self.duration
        return (d, d) if isinstance(d, int) else d

    def to_dict(self) -> dict[str, Any]:
        duration = list(self.duration) if isinstance(self.duration, tuple) else self.duration
        return {"type": self.type, "probability": self.probability, "duration": duration}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StickyAction:
        return cls(**_fields("sticky_action", data, ["probability", "duration"]))

    @property
    def label(self) -> str:
        return f"sticky_action:{self.probability:g}"


def _kwargs(name: str, value: Any) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of names to values, got {show(value)}")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{name} keys must be identifiers, got {show(key)}")
    try:
        json.dumps(_plain(value))
    except (TypeError, ValueError):
        raise ValueError(f"{name} values must be JSON-safe, got {show(value)}") from None
    return tuple(sorted((k, _plain(v)) for k, v in value.items()))


@dataclass(frozen=True)
class Dynamics(Perturbation):
    """Changed environment dynamics.

    Args:
        attributes: Attributes set on ``env.unwrapped`` after it is made
            (e.g. CartPole ``length``, ``masscart``, ``force_mag``). Quantities
            the env derives from them in its constructor are refreshed for the
            envs rlnoise knows (CartPole's ``total_mass``, ``polemass_length``).
        make_kwargs: Keyword arguments of ``gym.make`` (e.g. Pendulum ``g``).
    """

    attributes: Any = ()
    make_kwargs: Any = ()
    type: ClassVar[str] = "dynamics"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _kwargs("dynamics.attributes", self.attributes))
        object.__setattr__(self, "make_kwargs", _kwargs("dynamics.make_kwargs", self.make_kwargs))
        if not self.attributes and not self.make_kwargs:
            raise ValueError("dynamics needs at least one of attributes or make_kwargs")

    @property
    def attribute_dict(self) -> dict[str, Any]:
        """The attributes as a dict."""
        return dict(self.attributes)

    @property
    def make_kwargs_dict(self) -> dict[str, Any]:
        """The make kwargs as a dict."""
        return dict(self.make_kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "attributes": self.attribute_dict,
            "make_kwargs": self.make_kwargs_dict,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dynamics:
        return cls(**_fields("dynamics", data, ["attributes", "make_kwargs"]))

    @property
    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in (*self.make_kwargs, *self.attributes)]
        return "dynamics:" + ",".join(parts)


@dataclass(frozen=True)
class WeightNoise(Perturbation):
    """Test-time perturbation of the policy's weights, drawn afresh for every episode.

    Args:
        noise: A stateless noise spec (e.g. ``"gaussian:0.01"`` adds N(0, 0.01^2)
            to every weight; ``mode="multiplicative"`` scales relative to each
            weight). ``noise.where`` (globs over ``policy.named_parameters()``
            names) selects parameters; empty: every parameter on the action path.
    """

    noise: NoiseSpec
    type: ClassVar[str] = "weight_noise"

    def __post_init__(self) -> None:
        spec = _evaluation_spec("weight_noise.noise", self.noise)
        if spec.info.stateful:
            raise ValueError(
                f"weight_noise.noise must be a stateless kind (one draw per episode), "
                f"got {spec.kind!r}"
            )
        object.__setattr__(self, "noise", spec)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightNoise:
        return cls(**_fields("weight_noise", data, ["noise"]))

    @property
    def label(self) -> str:
        return f"weights:{self.noise.label}"


ATTACK_METHODS = ("fgsm", "pgd")


@dataclass(frozen=True)
class ObservationAttack(Perturbation):
    """Adversarial observation attack in an l_inf ball of radius ``eps``.

    Discrete actions: maximise the cross-entropy of the logits (or Q-values)
    against the clean greedy action. Continuous actions: maximise the squared
    distance between the perturbed and the clean action mean (MAD-style).
    FGSM is one signed-gradient step of size ``eps``; PGD takes ``steps`` steps
    of ``step_size`` and projects back into the ball after each.

    Args:
        method: ``"fgsm"`` or ``"pgd"``.
        eps: Radius of the l_inf ball (in the units of ``space``).
        steps: Gradient steps (FGSM: 1).
        step_size: PGD step; ``None``: ``2.5 * eps / steps``.
        random_start: Start from a uniform point in the ball. ``None``: only for
            continuous actions, whose MAD loss has zero gradient at the clean
            observation.
        space: ``"raw"`` or ``"normalized"`` (see :class:`ObservationNoise`).
    """

    method: str
    eps: float
    steps: int | None = None
    step_size: float | None = None
    random_start: bool | None = None
    space: str = "raw"

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.method

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "method", check_choice("attack.method", self.method, ATTACK_METHODS))
        set_(self, "eps", check_float(f"{self.method}.eps", self.eps, low=0.0))
        default_steps = 1 if self.method == "fgsm" else 10
        steps = check_int(
            f"{self.method}.steps", default_steps if self.steps is None else self.steps, low=1
        )
        set_(self, "steps", steps)
        if self.method == "fgsm" and steps != 1:
            raise ValueError(f"fgsm takes exactly one step, got steps={steps}")
        if self.step_size is None:
            step = self.eps if self.method == "fgsm" else 2.5 * self.eps / steps
        else:
            step = check_float(f"{self.method}.step_size", self.step_size, low=0.0)
        set_(self, "step_size", step)
        if self.random_start is not None and not isinstance(self.random_start, bool):
            raise ValueError(
                f"{self.method}.random_start must be true, false or null, "
                f"got {show(self.random_start)}"
            )
        set_(self, "space", _space(self.space))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.method,
            "eps": self.eps,
            "steps": self.steps,
            "step_size": self.step_size,
            "random_start": self.random_start,
            "space": self.space,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationAttack:
        method = data.get("type", data.get("method"))
        kwargs = _fields(
            str(method), data, ["method", "eps", "steps", "step_size", "random_start", "space"]
        )
        kwargs.pop("method", None)
        return cls(method=method, **kwargs)

    @property
    def label(self) -> str:
        suffix = "" if self.space == "raw" else "[normalized]"
        return f"{self.method}{suffix}:{self.eps:g}"


PERTURBATION_TYPES: dict[str, type[Perturbation]] = {
    "obs_noise": ObservationNoise,
    "action_noise": ActionNoise,
    "random_action": RandomAction,
    "sticky_action": StickyAction,
    "dynamics": Dynamics,
    "weight_noise": WeightNoise,
    "fgsm": ObservationAttack,
    "pgd": ObservationAttack,
}


def perturbation_from_dict(data: Mapping[str, Any]) -> Perturbation:
    """Build any perturbation from its dict form (dispatch on ``type``)."""
    if isinstance(data, Perturbation):
        return data
    if not isinstance(data, Mapping) or "type" not in data:
        raise ValueError(
            f"a perturbation is a mapping with a 'type' (one of {sorted(PERTURBATION_TYPES)}), "
            f"got {show(data)}"
        )
    kind = data["type"]
    cls = PERTURBATION_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"unknown perturbation type {show(kind)}; known types are {sorted(PERTURBATION_TYPES)}"
        )
    return cls.from_dict(data)


# Each perturbation type may appear at most once per condition, except observation
# noise (several sources compose).
_SINGLE = ("action_noise", "random_action", "sticky_action", "dynamics", "weight_noise")


@dataclass(frozen=True)
class Condition:
    """One evaluation condition: a name and the perturbations that define it.

    Args:
        name: Unique label in a grid (table rows, file names of cached results).
        perturbations: The perturbations; empty for the clean condition.
        group: Curve or grid the condition belongs to (e.g. ``"obs:gaussian"``);
            ``None``: unordered (bar chart).
        level: Position on the group's curve (noise scale, probability, eps, or
            the changed value); ``None`` for unordered conditions.
    """

    name: str
    perturbations: tuple[Perturbation, ...] = ()
    group: str | None = None
    level: float | None = None
    _key: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"condition name must be a non-empty string, got {show(self.name)}")
        items: Any = self.perturbations
        if isinstance(items, Perturbation | Mapping):
            items = (items,)
        if not isinstance(items, list | tuple):
            raise ValueError(
                f"condition {self.name!r}: perturbations must be a list, got {show(items)}"
            )
        perturbations: tuple[Perturbation, ...] = ()
        for item in items:
            perturbation = perturbation_from_dict(item)
            if any(perturbation is p for p in perturbations):
                # The same object listed twice is two sources: each needs its own identity
                # (random streams are keyed by position).
                perturbation = copy.copy(perturbation)
            perturbations += (perturbation,)
        seen: set[str] = set()
        attacks = 0
        for p in perturbations:
            if p.type in _SINGLE and p.type in seen:
                raise ValueError(f"condition {self.name!r} has more than one {p.type!r}")
            seen.add(p.type)
            attacks += isinstance(p, ObservationAttack)
        if attacks > 1:
            raise ValueError(f"condition {self.name!r} has more than one observation attack")
        object.__setattr__(self, "perturbations", perturbations)
        if self.group is not None and (not isinstance(self.group, str) or not self.group):
            raise ValueError(f"condition {self.name!r}: group must be a non-empty string or null")
        if self.level is not None:
            object.__setattr__(self, "level", check_float(f"{self.name}.level", self.level))
        canonical = json.dumps([p.to_dict() for p in perturbations], sort_keys=True)
        object.__setattr__(self, "_key", hashlib.sha256(canonical.encode()).hexdigest())

    @classmethod
    def clean(cls, name: str = "clean") -> Condition:
        """The unperturbed condition."""
        return cls(name, (), group=None, level=0.0)

    @property
    def is_clean(self) -> bool:
        """True when the condition perturbs nothing."""
        return not self.perturbations

    @property
    def key(self) -> str:
        """Stable hash of the perturbations (not the name): seeds and cache keys."""
        return self._key

    def find(self, cls: type[Perturbation]) -> list[Any]:
        """The perturbations of type ``cls``, in listed order."""
        return [p for p in self.perturbations if isinstance(p, cls)]

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict; ``Condition.from_dict(c.to_dict()) == c``."""
        level = self.level
        return {
            "name": self.name,
            "group": self.group,
            "level": None if level is None or not math.isfinite(level) else level,
            "perturbations": [p.to_dict() for p in self.perturbations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """Build a condition from its dict form.

        Raises:
            ValueError: Unknown key or perturbation type (the known ones are listed).
        """
        fields_ = _fields("condition", data, ["name", "group", "level", "perturbations"])
        if "name" not in fields_:
            raise ValueError(f"a condition needs a 'name', got {show(dict(data))}")
        return cls(
            name=fields_["name"],
            perturbations=tuple(fields_.get("perturbations") or ()),
            group=fields_.get("group"),
            level=fields_.get("level"),
        )


def as_condition(value: Condition | Mapping[str, Any] | str) -> Condition:
    """A :class:`Condition` from itself, its dict form, or ``"clean"``.

    Example:
        >>> as_condition("clean").is_clean
        True
    """
    if isinstance(value, Condition):
        return value
    if value == "clean":
        return Condition.clean()
    if isinstance(value, Mapping):
        return Condition.from_dict(value)
    raise ValueError(f"a condition must be a Condition, a dict or 'clean', got {show(value)}")
