"""``obs_delay`` and ``action_delay``: late observations and actions, by the wrappers' engine.

Compiled to :class:`~rlnoise.wrappers.delay.DelayLine` with one row per lane:
the engine under :class:`~rlnoise.wrappers.ObservationDelay` and
:class:`~rlnoise.wrappers.ActionDelay`, so a lane's episode sees what those
wrappers produce (the first steps repeat the reset observation / execute the
default action; a random delay is drawn from the episode's generator).

Reward noise has no evaluation condition on purpose: the policy never sees
the reward while it is evaluated, so noise on it would change only the
reported return, not the behaviour being measured.

Example:
    >>> ObservationDelayPerturbation(2).label, ActionDelayPerturbation([1, 3], "step").label
    ('obs_delay:2', 'action_delay:1-3/step')
    >>> perturbation = ActionDelayPerturbation.from_dict({"delay": [1, 3], "resample": "step"})
    >>> perturbation.to_dict()
    {'type': 'action_delay', 'delay': [1, 3], 'resample': 'step'}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rlnoise.core.checks import check_choice, check_keys, show
from rlnoise.core.random import make_rng
from rlnoise.evaluation.perturbations.base import (
    ActionInjector,
    GridItem,
    Lanes,
    ObservationInjector,
    Perturbation,
    fields,
)
from rlnoise.wrappers.delay import DELAY_RESAMPLE, DelayLine, check_delay, default_action

__all__ = ["ActionDelayPerturbation", "ObservationDelayPerturbation"]


@dataclass(frozen=True)
class _Delay(Perturbation):
    """What the two delays share: ``delay`` (k or [low, high]) and ``resample``."""

    delay: Any
    resample: str = "episode"
    exclusive: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "delay", check_delay(self.delay, f"{self.type}.delay"))
        check_choice(f"{self.type}.resample", self.resample, DELAY_RESAMPLE)

    def to_dict(self) -> dict[str, Any]:
        delay = list(self.delay) if isinstance(self.delay, tuple) else self.delay
        return {"type": self.type, "delay": delay, "resample": self.resample}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Perturbation:
        return cls(**fields(cls.type, data, ["delay", "resample"]))

    @property
    def label(self) -> str:
        if isinstance(self.delay, tuple):
            return f"{self.type}:{self.delay[0]}-{self.delay[1]}/{self.resample}"
        return f"{self.type}:{self.delay}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``obs_delay: [1, 2, 4]`` or ``{levels: [...], resample: step}``.

        A level is a delay: ``k`` or ``[low, high]``.
        """
        if isinstance(section, Mapping):
            options = dict(section)
            check_keys(key, options, ["levels", "resample"])
            if "levels" not in options:
                raise ValueError(f"{key} needs 'levels: [...]', got {show(options)}")
            levels = options.pop("levels")
        else:
            levels, options = section, {}
        if not isinstance(levels, list | tuple) or not levels:
            raise ValueError(f"{key} must be a non-empty list of delays, got {show(levels)}")
        items = []
        for level in levels:
            perturbation = cls(level, **options)
            value = perturbation.delay
            position = float(np.mean(value)) if isinstance(value, tuple) else float(value)
            items.append(GridItem(perturbation, cls.type, position))
        return items


@dataclass(frozen=True)
class ObservationDelayPerturbation(_Delay):
    """The policy sees the observation of ``delay`` steps ago (the reset one until then).

    Args:
        delay: ``k`` or ``[low, high]``.
        resample: ``"episode"`` or ``"step"``: when a random delay is redrawn.
    """

    type: ClassVar[str] = "obs_delay"
    grid_keys: ClassVar[tuple[str, ...]] = ("obs_delay",)

    def compile(self, lanes: Lanes) -> ObservationInjector:
        return _ObservationDelayInjector(self, lanes)


@dataclass(frozen=True)
class ActionDelayPerturbation(_Delay):
    """The env executes the action chosen ``delay`` steps ago (the default action until then).

    Args:
        delay: ``k`` or ``[low, high]``.
        resample: ``"episode"`` or ``"step"``.
    """

    type: ClassVar[str] = "action_delay"
    grid_keys: ClassVar[tuple[str, ...]] = ("action_delay",)

    def compile(self, lanes: Lanes) -> ActionInjector:
        return _ActionDelayInjector(self, lanes)


class _ObservationDelayInjector(ObservationInjector):
    """One :class:`DelayLine` row per lane over the policy's observation rows (raw space)."""

    def __init__(self, perturbation: ObservationDelayPerturbation, lanes: Lanes):
        self.perturbation = perturbation
        self.n_lanes = lanes.n_lanes
        self.line: DelayLine | None = None
        self.fresh = np.zeros(lanes.n_lanes, dtype=bool)
        self.seeds: dict[int, int] = {}

    def start(self, lane: int, seed: int) -> None:
        self.fresh[lane] = True
        self.seeds[lane] = seed

    def perturb(self, rows: np.ndarray) -> np.ndarray:
        if self.line is None:  # the rows' shape and dtype are known at the first step
            p = self.perturbation
            self.line = DelayLine(
                p.delay, p.resample, rows.shape[1:], rows.dtype, n_rows=self.n_lanes, seed_key=()
            )
        line = self.line
        fresh = np.flatnonzero(self.fresh)
        if fresh.size:  # episodes that start now: their reset observation fills the history
            line.reseed([make_rng(self.seeds.pop(int(lane))) for lane in fresh], fresh.tolist())
            line.start(rows[fresh], fresh.tolist())
            self.fresh[fresh] = False
        going = np.flatnonzero(~np.isin(np.arange(self.n_lanes), fresh))
        out = rows.copy()
        if going.size:
            out[going] = line.push(rows[going], going)
        return out


class _ActionDelayInjector(ActionInjector):
    order = 40  # after noise, replacement and repetition: the executed action is late

    def __init__(self, perturbation: ActionDelayPerturbation, lanes: Lanes):
        space = lanes.action_space
        try:
            self.initial = default_action(space)
        except ValueError as error:
            raise ValueError(f"{lanes.where}: {error}") from None
        self.line = DelayLine(
            perturbation.delay,
            perturbation.resample,
            tuple(space.shape or ()),
            space.dtype,
            n_rows=lanes.n_lanes,
            seed_key=(),
        )

    def start(self, lane: int, seed: int) -> None:
        self.line.reseed([make_rng(seed)], [lane])
        self.line.start(self.initial, [lane], first_push=0)

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        return self.line.push(actions, lanes)
