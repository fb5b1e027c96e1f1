"""``obs_noise``: noise on the observation the policy sees, through the wrappers' engine.

Compiled to :class:`~rlnoise.wrappers.engines.BoxNoise` with one row per lane:
the engine under :class:`~rlnoise.wrappers.ObservationNoise` and
:class:`~rlnoise.wrappers.VecObservationNoise`, so an episode's noise is what
those wrappers draw from the same generator (rounded and clipped for integer
observations, held for ``resample="episode"``, stateful kinds restarted with
each episode). Dict observations are perturbed as their flat rows
(:mod:`rlnoise.evaluation.observations`), one spec over every key, in float.

Example:
    >>> noise = ObservationNoisePerturbation("gaussian:0.1", space="normalised")
    >>> noise.label, noise.to_dict()["space"]
    ('obs[normalized]:gaussian:0.1', 'normalized')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from rlnoise.core.kinds import KINDS
from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.evaluation.perturbations.base import (
    GridItem,
    Lanes,
    ObservationInjector,
    Perturbation,
    evaluation_spec,
    fields,
    noise_family,
    space_name,
)
from rlnoise.wrappers.engines import BoxNoise, check_env_spec

__all__ = ["ObservationNoisePerturbation"]


@dataclass(frozen=True)
class ObservationNoisePerturbation(Perturbation):
    """Noise on the observation the policy sees.

    Several compose in one condition (raw ones first, then normalised ones).

    Args:
        noise: Any noise spec that an env wrapper takes (stateful kinds restart
            every episode; ``resample="episode"`` holds one draw per episode).
        space: ``"raw"`` (the env's observation) or ``"normalized"`` (after the
            model's ``VecNormalize`` statistics; the same as raw without them).
    """

    noise: NoiseSpec
    space: str = "raw"
    type: ClassVar[str] = "obs_noise"
    grid_keys: ClassVar[tuple[str, ...]] = ("observation_noise", *KINDS)

    def __post_init__(self) -> None:
        spec = evaluation_spec("obs_noise.noise", self.noise)
        check_env_spec(spec, "obs_noise.noise")
        object.__setattr__(self, "noise", spec)
        object.__setattr__(self, "space", space_name(self.space))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict(), "space": self.space}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationNoisePerturbation:
        return cls(**fields("obs_noise", data, ["noise", "space"]))

    @property
    def label(self) -> str:
        prefix = "obs" if self.space == "raw" else "obs[normalized]"
        return f"{prefix}:{self.noise.label}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``observation_noise: {kind: levels}``; a bare kind (``gaussian: levels``) is the same.

        The grid builder hands every bare kind over at once, as ``key="grid"``.
        """
        items = []
        for _, level, spec, extra in noise_family(key, section, ("space",)):
            perturbation = cls(spec, space=extra.get("space", "raw"))
            items.append(GridItem(perturbation, perturbation.label.rsplit(":", 1)[0], level))
        return items

    def compile(self, lanes: Lanes) -> ObservationInjector:
        return _NoiseInjector(self, lanes)


class _NoiseInjector(ObservationInjector):
    """One :class:`BoxNoise` row per lane over the space the rows live in."""

    def __init__(self, perturbation: ObservationNoisePerturbation, lanes: Lanes):
        adapter = lanes.adapter
        self.space = perturbation.space
        rows_space = adapter.input_space  # Dict observations: the Box of their flat rows
        if not isinstance(rows_space, spaces.Box):
            raise ValueError(
                f"{lanes.where}: observation noise and attacks need a Box (or Dict of Box) "
                f"observation space, got {rows_space}"
            )
        low, high = adapter.bounds(self.space)  # type: ignore[misc]
        dtype = lanes.observation_dtype
        integer = not np.issubdtype(rows_space.dtype, np.floating)
        if self.space == "raw" and integer and not adapter.normalizes and adapter.layout is None:
            # Integer observations (images) stay integers, as ObservationNoise keeps them.
            box = rows_space
        else:
            box = spaces.Box(
                np.asarray(low, dtype=dtype), np.asarray(high, dtype=dtype), dtype=dtype
            )
        self.dtype = box.dtype
        try:
            self.noise = BoxNoise(
                "obs_noise",
                box,
                [perturbation.noise] * lanes.n_lanes,
                n_rows=lanes.n_lanes,
                seed_key=(),
            )
        except ValueError as error:
            raise ValueError(f"{lanes.where}: {error}") from None

    def start(self, lane: int, seed: int) -> None:
        self.noise.reseed([make_rng(seed)], [lane])

    def perturb(self, rows: np.ndarray) -> np.ndarray:
        return self.noise.apply(rows.astype(self.dtype, copy=False))
