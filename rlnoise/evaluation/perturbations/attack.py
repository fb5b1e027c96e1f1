"""Observation attacks in an l_inf ball: FGSM, PGD, critic, MAD, and random noise in the same ball.

=====================  =============================================================
``method``             what it maximises (math in :mod:`rlnoise.attacks`)
=====================  =============================================================
``fgsm``, ``pgd``      discrete: cross-entropy against the clean greedy action;
                       continuous: ``‖a(s) − a(s + δ)‖²`` of the deterministic action
``critic``             ``−value(s + δ)``: the critic's value of the action the policy
                       takes at the perturbed observation (Pattanaik et al., 2018);
                       ``V(s + δ)`` for PPO/A2C (no action-value; SA-PPO's critic attack)
``mad``                ``KL(π(s) ‖ π(s + δ))`` (stochastic policies; DQN: Boltzmann over
                       Q), ``‖μ(s) − μ(s + δ)‖²`` (TD3/DDPG) (Zhang et al., 2020)
``random_uniform``     ``δ`` uniform in the ball (a fresh draw every step)
``random_sign``        ``δ = ±eps`` per dimension, uniformly (the ball's corners)
=====================  =============================================================

The radius ``eps`` is a float or one value per observation dimension, in
``unit`` (:mod:`rlnoise.attacks.budget`): ``absolute``, ``range`` of the
observation space, or ``std``: units of ONE state-std vector ``std`` shared by
every run (give it, or estimate it once with
:func:`~rlnoise.attacks.budget.estimate_state_std`); the vector is part of the
condition, so it is written into the report. Random starts and random noise
draw from the episode's generator.

Example:
    >>> attack = ObservationAttackPerturbation("pgd", 0.05)
    >>> attack.type, attack.steps, attack.step_size
    ('pgd', 10, 0.0125)
    >>> mad = ObservationAttackPerturbation("mad", 0.3, unit="std", std=(1.0, 2.0))
    >>> mad.label, mad.budget
    ('mad[std]:0.3', 'eps[std]=0.3')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.attacks.budget import UNITS, as_eps, radius
from rlnoise.attacks.heads import PolicyHeads
from rlnoise.attacks.linf import linf_attack, linf_pgd
from rlnoise.attacks.objectives import critic_objective, mad_objective
from rlnoise.core.checks import check_choice, check_int, check_keys, show
from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from rlnoise.evaluation.perturbations.base import (
    AttackInjector,
    GridItem,
    Lanes,
    Perturbation,
    fields,
    space_name,
)

__all__ = [
    "ATTACK_METHODS",
    "GRADIENT_METHODS",
    "RANDOM_METHODS",
    "ObservationAttackPerturbation",
    "attack_radius",
]

GRADIENT_METHODS = ("fgsm", "pgd", "critic", "mad")
RANDOM_METHODS = ("random_uniform", "random_sign")
ATTACK_METHODS = GRADIENT_METHODS + RANDOM_METHODS
_FIELDS = ["method", "eps", "steps", "step_size", "random_start", "space", "unit", "std"]

Eps = float | tuple[float, ...]


def _pgd_step(eps: Eps, steps: int) -> Eps:
    if isinstance(eps, float):
        return 2.5 * eps / steps
    return tuple(2.5 * e / steps for e in eps)


def _show_eps(eps: Eps) -> str:
    return f"{eps:g}" if isinstance(eps, float) else ",".join(f"{e:g}" for e in eps)


@dataclass(frozen=True)
class ObservationAttackPerturbation(Perturbation):
    """Adversarial (or random) observation perturbation in an l_inf ball of radius ``eps``.

    Gradient methods take ``steps`` signed steps of ``step_size`` and project
    back into the ball after each (FGSM: one step of ``eps``).

    Args:
        method: One of :data:`ATTACK_METHODS` (see the module table).
        eps: Radius, a float or one value per observation dimension, in ``unit``.
        steps: Gradient steps (FGSM: 1; PGD, critic, MAD: 10 by default;
            random methods: none).
        step_size: Step, in ``unit`` (float or per dimension); ``None``:
            ``eps`` for FGSM, ``2.5 * eps / steps`` otherwise.
        random_start: Start from a uniform point in the ball. ``None``: for
            MAD, and for FGSM/PGD on continuous actions (their losses have zero
            gradient at the clean observation); not for the critic attack.
        space: ``"raw"`` or ``"normalized"`` (see :class:`ObservationNoisePerturbation`).
        unit: ``"absolute"``, ``"range"`` or ``"std"`` (:mod:`rlnoise.attacks.budget`).
        std: The state-std vector of ``unit="std"``, in the units of ``space``.
    """

    method: str
    eps: Eps
    steps: int | None = None
    step_size: Eps | None = None
    random_start: bool | None = None
    space: str = "raw"
    unit: str = "absolute"
    std: tuple[float, ...] | tuple[tuple[str, Any], ...] | None = None
    types: ClassVar[tuple[str, ...]] = ATTACK_METHODS
    grid_keys: ClassVar[tuple[str, ...]] = ATTACK_METHODS
    exclusive: ClassVar[str | None] = "observation attack"

    @property
    def type(self) -> str:  # type: ignore[override]
        return self.method

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        method = check_choice("attack.method", self.method, ATTACK_METHODS)
        set_(self, "method", method)
        set_(self, "eps", as_eps(f"{method}.eps", self.eps))
        set_(self, "unit", check_choice(f"{method}.unit", self.unit, UNITS))
        if isinstance(self.std, Mapping) or _pending(self.std):
            set_(self, "std", _estimate_request(method, self.std))
        elif self.std is not None:
            std = as_eps(f"{method}.std", self.std)
            set_(self, "std", (std,) if isinstance(std, float) else std)
        if self.unit == "std" and self.std is None:  # no default: it must be one shared vector
            raise ValueError(
                f"{method}.unit 'std' needs the state-std vector {method}.std "
                "(estimate it once with rlnoise.attacks.budget.estimate_state_std)"
            )
        if self.unit != "std" and self.std is not None:
            raise ValueError(f"{method}.std is only used with unit 'std', got unit {self.unit!r}")
        if self.random_start is not None and not isinstance(self.random_start, bool):
            raise ValueError(
                f"{method}.random_start must be true, false or null, got {show(self.random_start)}"
            )
        set_(self, "space", space_name(self.space))
        if method in RANDOM_METHODS:
            for name in ("steps", "step_size", "random_start"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{method} draws its noise: it takes no {name}")
            return
        default_steps = 1 if method == "fgsm" else 10
        steps = check_int(
            f"{method}.steps", default_steps if self.steps is None else self.steps, low=1
        )
        set_(self, "steps", steps)
        if method == "fgsm" and steps != 1:
            raise ValueError(f"fgsm takes exactly one step, got steps={steps}")
        if self.step_size is None:
            step = self.eps if method == "fgsm" else _pgd_step(self.eps, steps)
        else:
            step = as_eps(f"{method}.step_size", self.step_size)
        set_(self, "step_size", step)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.method,
            "eps": list(self.eps) if isinstance(self.eps, tuple) else self.eps,
            "steps": self.steps,
            "step_size": list(self.step_size)
            if isinstance(self.step_size, tuple)
            else self.step_size,
            "random_start": self.random_start,
            "space": self.space,
        }
        # Only non-default units are written: the dicts (and so the seeds and cell
        # fingerprints) of absolute-unit attacks stay what they were.
        if self.unit != "absolute":
            out["unit"] = self.unit
        if _pending(self.std):
            out["std"] = dict(self.std)  # type: ignore[arg-type]
        elif self.std is not None:
            out["std"] = list(self.std)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationAttackPerturbation:
        method = data.get("type", data.get("method"))
        kwargs = fields(str(method), data, _FIELDS)
        kwargs.pop("method", None)
        return cls(method=method, **kwargs)

    def _tags(self) -> str:
        tags = [t for t in (self.space, self.unit) if t not in ("raw", "absolute")]
        return f"[{','.join(tags)}]" if tags else ""

    @property
    def label(self) -> str:
        """``method[tags]:eps``; tags name a non-raw space and a non-absolute unit."""
        return f"{self.method}{self._tags()}:{_show_eps(self.eps)}"

    @property
    def adversarial(self) -> bool:
        """Whether the perturbation is chosen to hurt (random noise in the ball is not).

        Worst-of-attacks takes the minimum over adversarial conditions only: random
        noise of the same budget is the baseline an attack table compares with.
        """
        return self.method not in RANDOM_METHODS

    @property
    def budget(self) -> str:
        """The attacker's budget (radius and its unit), the same for every attack method.

        The report's worst-of-attacks takes, per run, the minimum over the attack
        conditions that share a budget: two conditions with equal ``budget`` are
        attacks of the same strength. Random noise of the same ball shares it too.
        """
        return f"eps{self._tags()}={_show_eps(self.eps)}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """``KEY: [radii]`` or ``{levels|eps: [...], steps, step_size, random_start, space,
        unit, std}``; a radius may be a list (one value per observation dimension)."""
        if isinstance(section, Mapping):
            options = dict(section)
            if "eps" in options and "levels" not in options:
                options["levels"] = options.pop("eps")
            if "levels" not in options:
                raise ValueError(f"{key} needs 'levels: [...]', got {show(options)}")
            levels = options.pop("levels")
        else:
            levels, options = section, {}
        if isinstance(levels, int | float) and not isinstance(levels, bool):
            levels = [levels]
        if not isinstance(levels, list | tuple) or not levels:
            raise ValueError(f"{key} levels must be a non-empty list of radii, got {show(levels)}")
        check_keys(key, options, _FIELDS[2:])
        items = []
        for eps in levels:
            attack = cls(key, as_eps(f"{key} level", eps), **options)
            level = attack.eps if isinstance(attack.eps, float) else max(attack.eps)
            items.append(GridItem(attack, attack.label.rsplit(":", 1)[0], level))
        return items

    @property
    def std_request(self) -> dict[str, Any] | None:
        """The ``{estimate, episodes, seed}`` of a std still to estimate, else ``None``."""
        return dict(self.std) if _pending(self.std) else None  # type: ignore[arg-type]

    def compile(self, lanes: Lanes) -> AttackInjector:
        if _pending(self.std):
            raise ValueError(
                f"{lanes.where}: the state std {self.to_dict()['std']} is estimated by "
                "evaluate_robustness before any episode (resolve_state_std); pass the grid there"
            )
        return _AttackInjector(self, lanes)


def _pending(std: Any) -> bool:
    return isinstance(std, tuple) and bool(std) and isinstance(std[0], tuple)


def _estimate_request(method: str, value: Any) -> tuple[tuple[str, Any], ...]:
    """``{estimate: pooled|RUN, episodes: 10, seed: 0}`` as sorted pairs (hashable)."""
    request = dict(value)
    check_keys(f"{method}.std", request, ["estimate", "episodes", "seed"])
    target = request.get("estimate")
    if not isinstance(target, str) or not target:
        raise ValueError(
            f"{method}.std.estimate must be 'pooled' or a run name, got {show(target)}"
        )
    episodes = check_int(f"{method}.std.episodes", request.get("episodes", 10), low=1)
    seed = check_int(f"{method}.std.seed", request.get("seed", 0), low=0)
    return (("episodes", episodes), ("estimate", target), ("seed", seed))


class _AttackInjector(AttackInjector):
    def __init__(self, attack: ObservationAttackPerturbation, lanes: Lanes):
        adapter = self.adapter = lanes.adapter
        self.attack_spec, self.space = attack, attack.space
        if not isinstance(adapter.input_space, spaces.Box):
            raise ValueError(
                f"{lanes.where}: observation noise and attacks need a Box (or Dict of Box) "
                f"observation space, got {adapter.input_space}"
            )
        gradient = attack.method in GRADIENT_METHODS
        if gradient:
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
        if gradient and not isinstance(adapter.action_space, spaces.Discrete | spaces.Box):
            raise ValueError(
                f"{lanes.where}: attacks support Discrete and Box action spaces, "
                f"got {adapter.action_space}"
            )
        shape = tuple(adapter.input_space.shape)
        bounds = adapter.bounds(attack.space)
        self.eps = self._radius(attack.eps, bounds, shape, lanes)
        self.step = (
            None
            if attack.step_size is None
            else self._radius(attack.step_size, bounds, shape, lanes)
        )
        self.zero = not bool(self.eps.any())
        if attack.method in RANDOM_METHODS:
            random_start = True
        elif attack.random_start is not None:
            random_start = attack.random_start
        else:
            random_start = attack.method == "mad" or (
                attack.method in ("fgsm", "pgd") and not adapter.discrete
            )
        # Unit-uniform draws scaled by the radius: a per-dimension radius needs no new spec.
        self.draws: NoiseStream | None = None
        if random_start and not self.zero:
            rngs = [make_rng(0) for _ in range(lanes.n_lanes)]
            self.draws = NoiseStream(NoiseSpec("uniform", scale=1.0), shape, rngs, dtype=np.float32)
        self.bounds: tuple[torch.Tensor, torch.Tensor] | None = None
        if bounds is not None:
            self.bounds = (
                torch.as_tensor(bounds[0], dtype=torch.float32, device=adapter.device),
                torch.as_tensor(bounds[1], dtype=torch.float32, device=adapter.device),
            )
        self.heads: PolicyHeads | None = None
        if attack.method in ("critic", "mad"):
            try:
                self.heads = PolicyHeads(adapter.policy, self._prepare)
            except ValueError as error:
                raise ValueError(f"{lanes.where}: {error}") from None

    def _radius(
        self, value: Eps, bounds: Any, shape: tuple[int, ...], lanes: Lanes
    ) -> torch.Tensor:
        return attack_radius(self.attack_spec, value, bounds, shape, lanes)

    def _raw(self) -> bool:
        return self.attack_spec.space == "raw" and self.adapter.normalizes

    def _prepare(self, x: torch.Tensor) -> Any:
        adapter = self.adapter
        x = adapter.normalize_torch(x) if self._raw() else x
        return x if adapter.layout is None else adapter.layout.unflatten(x)

    def start(self, lane: int, seed: int) -> None:
        if self.draws is not None:
            self.draws.reset([lane], [make_rng(seed)])

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        x_adv = obs if self.zero else self._attack(obs, lanes)
        return self.adapter.normalize_torch(x_adv) if self._raw() else x_adv

    def _attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        attack, adapter = self.attack_spec, self.adapter
        eps = self.eps.to(obs.dtype)
        offset = None
        if self.draws is not None:
            unit = torch.as_tensor(self.draws.sample()[lanes], device=obs.device, dtype=obs.dtype)
            offset = (unit.sign() if attack.method == "random_sign" else unit) * eps
        low = high = None
        if self.bounds is not None:
            low, high = (b.to(obs.dtype) for b in self.bounds)
        if attack.method in RANDOM_METHODS:
            assert offset is not None  # zero-step projection of the random point
            return linf_pgd(
                lambda x: x.sum(), obs, eps=eps, steps=0, step_size=0.0, start=offset,
                low=low, high=high, fixed=self.fixed,
            )  # fmt: skip
        assert self.step is not None
        step = self.step.to(obs.dtype)
        steps = int(attack.steps or 1)
        if self.heads is not None:
            if attack.method == "critic":
                loss_fn, gradient_fn = critic_objective(self.heads)
            else:
                loss_fn, gradient_fn = mad_objective(self.heads, obs)
            return linf_pgd(
                loss_fn, obs, eps=eps, steps=steps, step_size=step, start=offset,
                low=low, high=high, fixed=self.fixed, gradient_fn=gradient_fn,
            )  # fmt: skip

        def scores_fn(x: torch.Tensor) -> torch.Tensor:
            return adapter.scores(adapter.normalize_torch(x) if self._raw() else x)

        return linf_attack(
            scores_fn, obs, eps=eps, steps=steps, step_size=step, discrete=adapter.discrete,
            start=offset, actions_fn=adapter.actions_from_scores, low=low, high=high,
            fixed=self.fixed,
        )  # fmt: skip


def attack_radius(
    attack: ObservationAttackPerturbation,
    value: Eps,
    bounds: Any,
    shape: tuple[int, ...],
    lanes: Lanes,
) -> torch.Tensor:
    """``value`` (a radius or step of ``attack``) in absolute units, on the policy's device.

    Args:
        attack: The condition whose ``unit`` and ``std`` convert ``value``.
        value: A radius, scalar or one per observation dimension, in ``attack.unit``.
        bounds: ``(low, high)`` of the attacked space (``unit="range"``), or ``None``.
        shape: The attacked observation's shape.
        lanes: The cell's lanes (the device, and how errors name the cell).

    Returns:
        A scalar-shaped ``(1,)`` tensor or one radius per element, shaped as ``shape``.
    """
    low, high = (None, None) if bounds is None else bounds
    std: Any = attack.std  # a vector here: compile() refuses a pending estimate
    try:
        flat = radius(value, attack.unit, low=low, high=high, std=std, where=attack.method)
    except ValueError as error:
        raise ValueError(f"{lanes.where}: {error}") from None
    size = int(np.prod(shape))
    if flat.size not in (1, size):
        raise ValueError(
            f"{lanes.where}: {attack.method} has {flat.size} radii per observation and the "
            f"observation has {size} dimensions; give one radius or one per dimension"
        )
    values = flat if flat.size == 1 else flat.reshape(shape)
    return torch.as_tensor(values, dtype=torch.float32, device=lanes.adapter.device)
