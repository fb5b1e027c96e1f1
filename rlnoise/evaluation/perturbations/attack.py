"""``fgsm`` / ``pgd``: an adversarial observation in an l_inf ball (FGSM, PGD).

Discrete actions: maximise the cross-entropy of the logits (or Q-values)
against the clean greedy action. Continuous actions: maximise the squared
distance between the perturbed and the clean action mean (MAD-style). The
random start of a lane is drawn from its episode's generator.

Example:
    >>> attack = ObservationAttackPerturbation("pgd", 0.05)
    >>> attack.type, attack.steps, attack.step_size
    ('pgd', 10, 0.0125)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.attacks.linf import linf_attack
from rlnoise.core.checks import check_choice, check_float, check_int, check_keys, show
from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from rlnoise.evaluation.perturbations.base import (
    AttackInjector,
    GridItem,
    Lanes,
    Perturbation,
    fields,
    grid_levels,
    space_name,
)

__all__ = ["ATTACK_METHODS", "ObservationAttackPerturbation"]

ATTACK_METHODS = ("fgsm", "pgd")


@dataclass(frozen=True)
class ObservationAttackPerturbation(Perturbation):
    """Adversarial observation attack in an l_inf ball of radius ``eps``.

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
        space: ``"raw"`` or ``"normalized"`` (see :class:`ObservationNoisePerturbation`).
    """

    method: str
    eps: float
    steps: int | None = None
    step_size: float | None = None
    random_start: bool | None = None
    space: str = "raw"
    types: ClassVar[tuple[str, ...]] = ATTACK_METHODS
    grid_keys: ClassVar[tuple[str, ...]] = ATTACK_METHODS
    exclusive: ClassVar[str | None] = "observation attack"

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
        set_(self, "space", space_name(self.space))

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
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationAttackPerturbation:
        method = data.get("type", data.get("method"))
        kwargs = fields(
            str(method), data, ["method", "eps", "steps", "step_size", "random_start", "space"]
        )
        kwargs.pop("method", None)
        return cls(method=method, **kwargs)

    @property
    def label(self) -> str:
        suffix = "" if self.space == "raw" else "[normalized]"
        return f"{self.method}{suffix}:{self.eps:g}"

    @property
    def budget(self) -> str:
        """The attacker's budget (radius and its unit), the same for every attack method.

        The report's worst-of-attacks takes, per run, the minimum over the attack
        conditions that share a budget: two conditions with equal ``budget`` are
        attacks of the same strength.
        """
        suffix = "" if self.space == "raw" else "[normalized]"
        return f"eps{suffix}={self.eps:g}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``fgsm: [radii]`` or ``{levels|eps: [...], steps, step_size, random_start, space}``."""
        if isinstance(section, Mapping) and "eps" in section and "levels" not in section:
            section = {**section, "levels": section["eps"]}
            del section["eps"]
        levels, options = grid_levels(key, section)
        check_keys(key, options, ["steps", "step_size", "random_start", "space"])
        items = []
        for eps in levels:
            attack = cls(key, eps, **options)
            items.append(GridItem(attack, attack.label.rsplit(":", 1)[0], eps))
        return items

    def compile(self, lanes: Lanes) -> AttackInjector:
        return _AttackInjector(self, lanes)


class _AttackInjector(AttackInjector):
    def __init__(self, attack: ObservationAttackPerturbation, lanes: Lanes):
        adapter = self.adapter = lanes.adapter
        self.attack_spec, self.space = attack, attack.space
        if not isinstance(adapter.input_space, spaces.Box):
            raise ValueError(
                f"{lanes.where}: observation noise and attacks need a Box (or Dict of Box) "
                f"observation space, got {adapter.input_space}"
            )
        adapter.check_gradient()
        layout = adapter.layout
        self.fixed: torch.Tensor | None = None
        if layout is not None:
            if layout.integer.all():
                raise ValueError(
                    f"{lanes.where}: attacks perturb the float Box keys of a Dict observation, "
                    f"and {adapter.observation_space} has none"
                )
            if layout.integer.any():
                self.fixed = torch.as_tensor(layout.integer, device=adapter.device)
        if not isinstance(adapter.action_space, spaces.Discrete | spaces.Box):
            raise ValueError(
                f"{lanes.where}: attacks support Discrete and Box action spaces, "
                f"got {adapter.action_space}"
            )
        random_start = (
            (not adapter.discrete) if attack.random_start is None else attack.random_start
        )
        self.start_draws: NoiseStream | None = None
        if random_start and attack.eps > 0:
            shape = tuple(adapter.input_space.shape)
            rngs = [make_rng(0) for _ in range(lanes.n_lanes)]
            uniform = NoiseSpec("uniform", scale=attack.eps)
            self.start_draws = NoiseStream(uniform, shape, rngs, dtype=np.float32)
        bounds = adapter.bounds(attack.space)
        self.bounds: tuple[torch.Tensor, torch.Tensor] | None = None
        if bounds is not None:
            self.bounds = (
                torch.as_tensor(bounds[0], dtype=torch.float32, device=adapter.device),
                torch.as_tensor(bounds[1], dtype=torch.float32, device=adapter.device),
            )

    def start(self, lane: int, seed: int) -> None:
        if self.start_draws is not None:
            self.start_draws.reset([lane], [make_rng(seed)])

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        attack, adapter = self.attack_spec, self.adapter
        start = None
        if self.start_draws is not None:
            draws = self.start_draws.sample()[lanes]
            start = torch.as_tensor(draws, device=obs.device, dtype=obs.dtype)
        raw = attack.space == "raw" and adapter.normalizes

        def scores_fn(x: torch.Tensor) -> torch.Tensor:
            return adapter.scores(adapter.normalize_torch(x) if raw else x)

        low = high = None
        if self.bounds is not None:
            low, high = (b.to(obs.dtype) for b in self.bounds)
        x_adv = linf_attack(
            scores_fn,
            obs,
            eps=attack.eps,
            steps=int(attack.steps or 1),
            step_size=float(attack.step_size or 0.0),
            discrete=adapter.discrete,
            start=start,
            actions_fn=adapter.actions_from_scores,
            low=low,
            high=high,
            fixed=self.fixed,
        )
        return adapter.normalize_torch(x_adv) if raw else x_adv
