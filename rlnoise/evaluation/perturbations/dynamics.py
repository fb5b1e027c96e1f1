"""``dynamics``: changed environment dynamics (env attributes, ``gym.make`` keyword arguments).

A dynamics change is an env change, not a per-step injector: the runner makes
the lanes' envs with it (:class:`~rlnoise.evaluation.envs.EnvMaker`), and cells
whose conditions change the env alike share envs
(:func:`~rlnoise.evaluation.envs.env_key`).

Example:
    >>> change = DynamicsPerturbation(attributes={"length": 1.0})
    >>> change.label, change.make_kwargs_dict
    ('dynamics:length=1.0', {})
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rlnoise.core.checks import check_keys, show
from rlnoise.evaluation.perturbations.base import (
    GridItem,
    Injector,
    Lanes,
    Perturbation,
    fields,
    json_safe_kwargs,
)

__all__ = ["DynamicsPerturbation"]


@dataclass(frozen=True)
class DynamicsPerturbation(Perturbation):
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
    grid_keys: ClassVar[tuple[str, ...]] = ("dynamics",)
    exclusive: ClassVar[str | None] = "dynamics"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "attributes", json_safe_kwargs("dynamics.attributes", self.attributes))
        set_(self, "make_kwargs", json_safe_kwargs("dynamics.make_kwargs", self.make_kwargs))
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

    @property
    def env_change(self) -> DynamicsPerturbation:
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "attributes": self.attribute_dict,
            "make_kwargs": self.make_kwargs_dict,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DynamicsPerturbation:
        return cls(**fields("dynamics", data, ["attributes", "make_kwargs"]))

    @property
    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in (*self.make_kwargs, *self.attributes)]
        return "dynamics:" + ",".join(parts)

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """A mapping (or a list of them) with ``attributes`` / ``make_kwargs``: name -> values.

        An entry naming another ``env`` is skipped; ``product: true`` gives the
        full factorial grid, otherwise one name changes at a time.
        """
        entries = section if isinstance(section, list | tuple) else [section]
        out: list[GridItem] = []
        for i, entry in enumerate(entries):
            where = f"dynamics[{i}]"
            if not isinstance(entry, Mapping):
                raise ValueError(f"{where} must be a mapping, got {show(entry)}")
            check_keys(where, entry, ["env", "attributes", "make_kwargs", "product"])
            target = entry.get("env")
            if target is not None and env_id is not None and target != env_id:
                continue  # this entry describes another environment
            axes = _axes(where, entry)
            if entry.get("product", False):
                for combo in itertools.product(*(levels for _, _, levels in axes)):
                    chosen: dict[str, dict[str, Any]] = {"attributes": {}, "make_kwargs": {}}
                    for (field, name, _), value in zip(axes, combo, strict=True):
                        chosen[field][name] = value
                    out.append(GridItem(cls(**chosen), "dynamics", None))
                continue
            for field, name, levels in axes:
                for value in levels:
                    level = float(value) if isinstance(value, int | float) else None
                    out.append(GridItem(cls(**{field: {name: value}}), f"dynamics:{name}", level))
        return out

    def compile(self, lanes: Lanes) -> Injector:
        return Injector()  # acts when the lanes' envs are made, not during a step


def _axes(where: str, entry: Mapping[str, Any]) -> list[tuple[str, str, list[Any]]]:
    axes: list[tuple[str, str, list[Any]]] = []
    for field in ("attributes", "make_kwargs"):
        values = entry.get(field) or {}
        if not isinstance(values, Mapping):
            raise ValueError(f"{where}.{field} must map names to lists of values")
        for name, levels in values.items():
            if not isinstance(levels, list | tuple) or not levels:
                raise ValueError(
                    f"{where}.{field}.{name} must be a non-empty list, got {show(levels)}"
                )
            axes.append((field, str(name), list(levels)))
    if not axes:
        raise ValueError(f"{where} needs attributes or make_kwargs")
    return axes
