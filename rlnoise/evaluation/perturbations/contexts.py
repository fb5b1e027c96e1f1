"""``contexts``: play a set of dynamics contexts — the training ones, or unseen ones.

A run trained on a few dynamics contexts (:class:`rlnoise.wrappers.ContextSet`,
CARL-style: CartPole with three pole lengths, say) is tested on its
**training contexts** and on unseen ones, split by
:func:`~rlnoise.wrappers.context_split` into **interpolation** (within the
training range) and **extrapolation** (outside it), each a condition. The
report's ``generalisation`` table gives train minus each test set, per run
(:mod:`rlnoise.evaluation.generalisation`).

An env change like ``dynamics`` (whose code applies the settings,
:mod:`rlnoise.wrappers.dynamics`): the lanes' envs are wrapped in
``ContextSet(env, contexts, order="seed")``, so the episode with reset seed
``s`` plays context ``s mod n`` and the consecutive episode seeds cover the set
in passes, alike for every run and condition. A run's own ``ContextSet`` is left
out of its evaluation env (:data:`rlnoise.wrappers.TRAINING_DATA_WRAPPERS`).

Grid::

    contexts:
      train: [{attributes: {length: 0.3}}, {attributes: {length: 0.5}}, ...]
      test: [{attributes: {length: 0.4}}, {attributes: {length: 1.5}}, ...]

Example:
    >>> items = ContextsPerturbation.from_grid("contexts", {
    ...     "train": [{"attributes": {"length": v}} for v in (0.3, 0.7)],
    ...     "test": [{"attributes": {"length": v}} for v in (0.5, 1.5)]}, None)
    >>> [(i.perturbation.label, len(i.perturbation.contexts)) for i in items]
    [('contexts:train', 2), ('contexts:interpolation', 1), ('contexts:extrapolation', 1)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym

from rlnoise.core.checks import check_choice, check_keys, show
from rlnoise.evaluation.perturbations.base import GridItem, Injector, Lanes, Perturbation, fields
from rlnoise.wrappers.contexts import ContextSet, check_contexts, context_split

__all__ = ["CONTEXT_SPLITS", "ContextsPerturbation"]

#: The context sets: the training ones and the two kinds of unseen ones.
CONTEXT_SPLITS = ("train", "interpolation", "extrapolation")


@dataclass(frozen=True)
class ContextsPerturbation(Perturbation):
    """Every episode in one context of a set, context ``reset seed mod n``.

    Args:
        split: ``"train"``, ``"interpolation"`` or ``"extrapolation"`` (what
            the set is; the report pairs each test set with ``train``).
        contexts: Dynamics settings or ``{"attributes": ..., "make_kwargs": ...}``
            mappings.

    Raises:
        ValueError: An unknown split; contexts as :func:`~rlnoise.wrappers.contexts.check_contexts`.
    """

    split: str
    contexts: Any
    type: ClassVar[str] = "contexts"
    grid_keys: ClassVar[tuple[str, ...]] = ("contexts",)
    exclusive: ClassVar[str | None] = "dynamics"  # one env change per condition
    #: The contexts are applied by the ``ContextSet`` wrapper, not by ``EnvMaker.make``.
    attributes: ClassVar[tuple[()]] = ()
    make_kwargs_dict: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "split", check_choice("contexts.split", self.split, CONTEXT_SPLITS))
        set_(self, "contexts", check_contexts(self.contexts, "contexts.contexts"))

    @property
    def generalisation(self) -> tuple[str, str]:
        """``(family, split)``: the report pairs each test split with ``train`` of its family."""
        return "contexts", self.split

    @property
    def env_change(self) -> ContextsPerturbation:
        return self

    def wrap_env(self, env: gym.Env) -> gym.Env:
        """``env`` playing this set: ``reset(seed=s)`` plays context ``s mod n``."""
        return ContextSet(env, self.contexts, order="seed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "split": self.split,
            "contexts": [c.to_dict() for c in self.contexts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContextsPerturbation:
        return cls(**fields("contexts", data, ["split", "contexts"]))

    @property
    def label(self) -> str:
        return f"contexts:{self.split}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``{train: [...], test: [...]}``: train, interpolation and extrapolation conditions.

        The test contexts are checked disjoint from the training ones and
        sorted by :func:`~rlnoise.wrappers.context_split`; an empty set gives no condition.
        """
        if not isinstance(section, Mapping):
            raise ValueError(f"{key} must map 'train' and 'test' to contexts, got {show(section)}")
        check_keys(key, section, ["train", "test"])
        if "train" not in section or "test" not in section:
            raise ValueError(f"{key} needs both 'train' and 'test' context lists")
        try:
            split = context_split(section["train"], section["test"])
        except ValueError as error:
            raise ValueError(f"{key}: {error}") from None
        sets = {
            "train": split.train,
            "interpolation": split.interpolation,
            "extrapolation": split.extrapolation,
        }
        return [
            GridItem(cls(name, contexts), "contexts", None)
            for name, contexts in sets.items()
            if contexts
        ]

    def compile(self, lanes: Lanes) -> Injector:
        return Injector()  # acts when the lanes' envs are made, not during a step
