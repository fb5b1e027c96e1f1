"""Evaluation conditions: clean, or a named set of perturbations.

A :class:`Condition` is a name, an optional curve position (``group`` and
``level``) and a tuple of perturbations. Each perturbation is a small frozen
dataclass of one of the types in :mod:`rlnoise.evaluation.perturbations`
(observation noise, action noise, random and sticky actions, weight noise,
FGSM/PGD, dynamics) and serialises to a JSON/YAML-safe dict with a ``type``
key. Within one condition the perturbations act in a fixed order, whatever
order they are listed in (:mod:`rlnoise.evaluation.perturbations.base`).

The perturbation classes end in ``Perturbation``
(:class:`~rlnoise.evaluation.perturbations.ObservationNoisePerturbation`...):
``rlnoise.ObservationNoise`` and ``rlnoise.ActionNoise`` are env wrappers and
``rlnoise.nn.WeightNoise`` is a torch injector, and a condition's perturbation
compiles to those injectors rather than being one. The names these classes had
before (``ObservationNoise``, ``ActionNoise``, ``WeightNoise``,
``RandomAction``, ``StickyAction``, ``Dynamics``, ``ObservationAttack``) still
import from here, with a ``DeprecationWarning``.

Example:
    >>> from rlnoise.evaluation.perturbations import ObservationNoisePerturbation
    >>> condition = Condition("obs 0.1", (ObservationNoisePerturbation("gaussian:0.1"),))
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
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlnoise.core.checks import check_float, show
from rlnoise.evaluation.perturbations import (
    PERTURBATION_TYPES,
    ActionNoisePerturbation,
    DynamicsPerturbation,
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
    Perturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
    WeightNoisePerturbation,
    perturbation_from_dict,
)
from rlnoise.evaluation.perturbations.base import SPACES, fields

__all__ = [
    "PERTURBATION_TYPES",
    "SPACES",
    "Condition",
    "Perturbation",
    "as_condition",
    "perturbation_from_dict",
]

#: The names the perturbation classes had before they were renamed.
_RENAMED: dict[str, type[Perturbation]] = {
    "ObservationNoise": ObservationNoisePerturbation,
    "ActionNoise": ActionNoisePerturbation,
    "WeightNoise": WeightNoisePerturbation,
    "RandomAction": RandomActionPerturbation,
    "StickyAction": StickyActionPerturbation,
    "Dynamics": DynamicsPerturbation,
    "ObservationAttack": ObservationAttackPerturbation,
}


def __getattr__(name: str) -> Any:
    cls = _RENAMED.get(name)
    if cls is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"{name} is now rlnoise.evaluation.perturbations.{cls.__name__} (perturbation "
        "classes end in Perturbation: rlnoise.ObservationNoise, rlnoise.ActionNoise and "
        "rlnoise.nn.WeightNoise are injectors); the old name will be removed",
        DeprecationWarning,
        stacklevel=2,
    )
    return cls


@dataclass(frozen=True)
class Condition:
    """One evaluation condition: a name and the perturbations that define it.

    Args:
        name: Unique label in a grid (table rows, file names of cached results).
        perturbations: The perturbations (objects or dict forms); empty for
            the clean condition.
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
        for p in perturbations:
            if p.exclusive is None:
                continue
            if p.exclusive in seen:
                what = repr(p.type) if p.exclusive == p.type else p.exclusive
                raise ValueError(f"condition {self.name!r} has more than one {what}")
            seen.add(p.exclusive)
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

    @property
    def env_change(self) -> Any:
        """What the condition changes in the env (a dynamics change), or ``None``."""
        return next((p.env_change for p in self.perturbations if p.env_change is not None), None)

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
        fields_ = fields("condition", data, ["name", "group", "level", "perturbations"])
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
