"""``weight_noise``: the policy's weights perturbed once per episode, by ``rlnoise.nn``.

Compiled to :class:`~rlnoise.nn.row_weights.RowWeightNoise` over the policy's
action-path parameters: lane ``i`` holds the weights that
:class:`~rlnoise.nn.WeightNoise`, seeded with the episode's seed and holding
its draw, puts in the forward pass; the runner acts with every lane's weights
in one vmapped forward (:func:`~rlnoise.nn.row_weights.call_with_rows`).

Example:
    >>> WeightNoisePerturbation("gaussian:0.01,where=action_net.*").label
    'weights:gaussian:0.01'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from rlnoise.core.spec import NoiseSpec
from rlnoise.evaluation.perturbations.base import (
    GridItem,
    Lanes,
    Perturbation,
    WeightInjector,
    evaluation_spec,
    fields,
    noise_family,
)
from rlnoise.nn.row_weights import RowWeightNoise
from rlnoise.nn.weight_noise import check_weight_spec

__all__ = ["WeightNoisePerturbation"]


@dataclass(frozen=True)
class WeightNoisePerturbation(Perturbation):
    """Test-time perturbation of the policy's weights, drawn afresh for every episode.

    Args:
        noise: A weight-noise spec (``rlnoise.nn.WeightNoise`` kinds:
            gaussian, uniform, laplace, dropout; e.g. ``"gaussian:0.01"`` adds
            N(0, 0.01^2) to every weight, ``mode="multiplicative"`` scales
            relative to each weight, ``relative_to="std"`` by each tensor's
            std). ``noise.where`` (globs over ``policy.named_parameters()``
            names) selects parameters; empty: every parameter on the action path.
    """

    noise: NoiseSpec
    type: ClassVar[str] = "weight_noise"
    grid_keys: ClassVar[tuple[str, ...]] = ("weight_noise",)
    exclusive: ClassVar[str | None] = "weight_noise"

    def __post_init__(self) -> None:
        spec = evaluation_spec("weight_noise.noise", self.noise)
        if spec.info.stateful:
            raise ValueError(
                f"weight_noise.noise must be a stateless kind (one draw per episode), "
                f"got {spec.kind!r}"
            )
        check_weight_spec(spec, "weight_noise.noise")
        if spec.resample not in (None, "episode"):
            raise ValueError(
                "weight_noise.noise is drawn once per episode; resample must be unset or "
                f"'episode', got {spec.resample!r}"
            )
        object.__setattr__(self, "noise", spec)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "noise": self.noise.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightNoisePerturbation:
        return cls(**fields("weight_noise", data, ["noise"]))

    @property
    def label(self) -> str:
        return f"weights:{self.noise.label}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``weight_noise: {kind: levels}`` (spec options such as ``where`` beside the levels)."""
        items = []
        for kind, level, spec, _ in noise_family(key, section):
            items.append(GridItem(cls(spec), f"weights:{kind}", level))
        return items

    def compile(self, lanes: Lanes) -> WeightInjector:
        return _WeightInjector(self, lanes)


class _WeightInjector(WeightInjector):
    def __init__(self, perturbation: WeightNoisePerturbation, lanes: Lanes):
        adapter = lanes.adapter
        names = sorted(adapter.action_parameters(perturbation.noise.where))
        self.n_lanes = lanes.n_lanes
        try:
            self.rows = RowWeightNoise(
                adapter.policy, perturbation.noise, names=names, n_rows=lanes.n_lanes
            )
        except ValueError as error:
            raise ValueError(f"{lanes.where}: {error}") from None

    def start(self, lane: int, seed: int) -> None:
        self.rows.start(lane, seed)

    def weights(self, lanes: np.ndarray | None) -> dict[str, torch.Tensor]:
        if lanes is None or lanes.size == self.n_lanes:
            return self.rows.weights
        return self.rows.rows(lanes)  # some lanes retired: their weights drop out
