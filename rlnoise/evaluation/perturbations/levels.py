"""``levels``: play a set of procedurally generated levels — the training ones, or unseen ones.

For envs whose reset seed picks the level (MiniGrid, Procgen-like envs), a
run trained on a limited set of levels (:class:`rlnoise.wrappers.LevelSet`)
is tested on its **training levels** and on **unseen levels**, a disjoint set
by construction (:func:`~rlnoise.wrappers.training_levels` are even seeds,
:func:`~rlnoise.wrappers.unseen_levels` odd ones). The difference of the two
returns is the run's *generalisation gap* (the report's ``generalisation``
table, :mod:`rlnoise.evaluation.generalisation`).

Like ``dynamics`` this is an env change, not a per-step injector: the lanes'
envs are wrapped in ``LevelSet(env, levels, order="seed")``, so the episode
with reset seed ``s`` plays ``levels[s mod n]``. The evaluation's episode seeds
are consecutive (``seed + k``), so the episodes cover the set in passes and
every run and condition meets the same levels in the same order (common random
numbers). A run's own ``LevelSet`` is left out of its evaluation env
(:data:`rlnoise.wrappers.TRAINING_DATA_WRAPPERS`): the conditions decide the levels.

Grid::

    levels: {train: 10, unseen: 100, split_seed: 0}   # two conditions

Example:
    >>> [c.perturbation.label for c in LevelsPerturbation.from_grid(
    ...     "levels", {"train": 10, "unseen": 100}, None)]
    ['levels:train=10', 'levels:unseen=100']
    >>> LevelsPerturbation("unseen", 3).levels == unseen_levels(3)
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym

from rlnoise.core.checks import check_choice, check_int, check_keys, show
from rlnoise.evaluation.perturbations.base import GridItem, Injector, Lanes, Perturbation, fields
from rlnoise.wrappers.levels import LevelSet, training_levels, unseen_levels

__all__ = ["LEVEL_SPLITS", "LevelsPerturbation"]

#: The two level sets: the first ``count`` training levels, ``count`` unseen levels.
LEVEL_SPLITS = ("train", "unseen")


@dataclass(frozen=True)
class LevelsPerturbation(Perturbation):
    """Every episode on a level of one set, ``levels[reset seed mod count]``.

    Args:
        split: ``"train"`` (:func:`~rlnoise.wrappers.training_levels`: the
            levels a ``LevelSet(env, count, split_seed)`` trained on) or
            ``"unseen"`` (:func:`~rlnoise.wrappers.unseen_levels`, disjoint from
            every training set of ``split_seed``).
        count: How many levels.
        split_seed: The split (as the training ``LevelSet``'s ``split_seed``).

    Raises:
        ValueError: An unknown split, a count below 1, a negative split seed.
    """

    split: str
    count: int
    split_seed: int = 0
    type: ClassVar[str] = "levels"
    grid_keys: ClassVar[tuple[str, ...]] = ("levels",)
    # One env change per condition (the env is made once, with one change).
    exclusive: ClassVar[str | None] = "dynamics"
    #: An env change sets no attributes and passes no make kwargs (see ``EnvMaker.make``).
    attributes: ClassVar[tuple[()]] = ()
    make_kwargs_dict: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "split", check_choice("levels.split", self.split, LEVEL_SPLITS))
        set_(self, "count", check_int("levels.count", self.count, low=1))
        set_(self, "split_seed", check_int("levels.split_seed", self.split_seed, low=0))

    @property
    def levels(self) -> tuple[int, ...]:
        """The level seeds, in play order."""
        make = training_levels if self.split == "train" else unseen_levels
        return make(self.count, self.split_seed)

    @property
    def generalisation(self) -> tuple[str, str]:
        """``(family, split)``: the report pairs each test split with ``train`` of its family."""
        return f"levels:{self.split_seed}", self.split

    @property
    def env_change(self) -> LevelsPerturbation:
        return self

    def wrap_env(self, env: gym.Env) -> gym.Env:
        """``env`` playing this set: ``reset(seed=s)`` plays ``levels[s mod count]``."""
        return LevelSet(env, list(self.levels), order="seed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "split": self.split,
            "count": self.count,
            "split_seed": self.split_seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LevelsPerturbation:
        return cls(**fields("levels", data, ["split", "count", "split_seed"]))

    @property
    def label(self) -> str:
        seed = f":split_seed={self.split_seed}" if self.split_seed else ""
        return f"levels:{self.split}={self.count}{seed}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``{train: N, unseen: M, split_seed: s}`` (either count may be left out)."""
        if not isinstance(section, Mapping):
            raise ValueError(f"{key} must be like {{train: 10, unseen: 100}}, got {show(section)}")
        check_keys(key, section, [*LEVEL_SPLITS, "split_seed"])
        split_seed = section.get("split_seed", 0)
        items = [
            GridItem(cls(split, section[split], split_seed), "levels", None)
            for split in LEVEL_SPLITS
            if split in section
        ]
        if not items:
            raise ValueError(f"{key} needs a 'train' and/or an 'unseen' level count")
        return items

    def compile(self, lanes: Lanes) -> Injector:
        return Injector()  # acts when the lanes' envs are made, not during a step
