"""Adaptive noise scale for parameter-space noise (Plappert et al., 2018).

After each measurement of the distance between the perturbed and the clean
policy, the scale is divided by ``coefficient`` when the distance exceeds the
target and multiplied by it otherwise, so that the distance hovers around
``target``.

Example:
    >>> config = AdaptiveScale(target=0.2)
    >>> controller = AdaptiveScaleController(0.1, config)
    >>> controller.update(distance=0.5)  # too far: shrink
    0.09900990099009901
    >>> controller.update(distance=0.0)  # too close: grow
    0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rlnoise.core.checks import check_float, check_keys, show

__all__ = ["AdaptiveScale", "AdaptiveScaleController", "dqn_distance_target"]


@dataclass(frozen=True)
class AdaptiveScale:
    """Settings of the adaptive controller (part of a :class:`~rlnoise.NoiseSpec`).

    Args:
        target: Desired distance between perturbed and clean policy (> 0).
        coefficient: Multiplicative step (> 1); Plappert et al. use 1.01.
        min_scale: Lower bound on the adapted scale.
        max_scale: Upper bound on the adapted scale (``None``: unbounded).
    """

    target: float
    coefficient: float = 1.01
    min_scale: float = 0.0
    max_scale: float | None = None

    def __post_init__(self) -> None:
        target = check_float("adaptive.target", self.target, low=0.0, low_open=True)
        object.__setattr__(self, "target", target)
        coef = check_float("adaptive.coefficient", self.coefficient, low=1.0, low_open=True)
        object.__setattr__(self, "coefficient", coef)
        object.__setattr__(
            self, "min_scale", check_float("adaptive.min_scale", self.min_scale, low=0.0)
        )
        if self.max_scale is not None:
            high = check_float("adaptive.max_scale", self.max_scale, low=self.min_scale)
            object.__setattr__(self, "max_scale", high)

    def to_dict(self) -> dict[str, Any]:
        """YAML/JSON-safe form."""
        return {
            "target": self.target,
            "coefficient": self.coefficient,
            "min_scale": self.min_scale,
            "max_scale": self.max_scale,
        }

    @classmethod
    def from_value(cls, value: Any) -> AdaptiveScale | None:
        """Build from ``None``, a bare target number, a mapping, or an instance."""
        if value is None or isinstance(value, AdaptiveScale):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(target=value)
        if not isinstance(value, dict):
            raise ValueError(f"adaptive must be a target number or a mapping, got {show(value)}")
        check_keys("adaptive", value, ("target", "coefficient", "min_scale", "max_scale"))
        if "target" not in value:
            raise ValueError(f"adaptive needs a 'target' distance, got {show(value)}")
        return cls(**value)


class AdaptiveScaleController:
    """Stateful controller applying :class:`AdaptiveScale` to a current scale.

    Args:
        initial_scale: The scale before any adaptation.
        config: Target distance and coefficient.
    """

    def __init__(self, initial_scale: float, config: AdaptiveScale) -> None:
        self.scale = check_float("initial_scale", initial_scale, low=0.0)
        self.config = config
        self.last_distance: float | None = None

    def update(self, distance: float) -> float:
        """Record a measured distance and return the adapted scale."""
        distance = float(distance)
        if math.isnan(distance):
            raise ValueError("distance must not be NaN")
        self.last_distance = distance
        if distance > self.config.target:
            self.scale /= self.config.coefficient
        else:
            self.scale *= self.config.coefficient
        self.scale = max(self.scale, self.config.min_scale)
        if self.config.max_scale is not None:
            self.scale = min(self.scale, self.config.max_scale)
        return self.scale


def dqn_distance_target(epsilon: float, n_actions: int) -> float:
    """KL target for DQN parameter noise equivalent to epsilon-greedy (Plappert et al.).

    ``delta = -log(1 - eps + eps / |A|)``.

    Example:
        >>> round(dqn_distance_target(0.01, 2), 6)
        0.005013
    """
    eps = check_float("epsilon", epsilon, low=0.0, high=1.0)
    if n_actions < 1:
        raise ValueError(f"n_actions must be >= 1, got {n_actions}")
    return -math.log(1.0 - eps + eps / n_actions)
