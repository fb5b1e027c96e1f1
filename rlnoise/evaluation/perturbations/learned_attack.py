"""``rs``, ``rs_mad``, ``learned``: attacks that first learn from the model they attack.

- ``rs`` — Robust Sarsa (Zhang et al., 2020): a robust ``Q^pi`` of the fixed
  policy learned from its own rollouts, then PGD lowering ``Q(s, pi(x))``
  (:mod:`rlnoise.attacks.robust_sarsa`).
- ``rs_mad`` — the same objective plus ``mad_ratio`` of the policy's action
  change (KL for discrete actions, squared difference for continuous ones).
- ``learned`` — the learned optimal adversary (Zhang et al., 2021): an SB3 PPO
  trained against the fixed policy to pick the perturbation
  (:mod:`rlnoise.attacks.adversary`), applied deterministically.

They are :class:`ObservationAttackPerturbation` s (same ``eps``, ``steps``,
``step_size``, ``random_start``, ``space``, and the same :attr:`budget`, so
the report's worst-of-attacks compares them with FGSM and PGD), plus
``training``: overrides of the learner's budget
(:class:`~rlnoise.attacks.robust_sarsa.RobustSarsaConfig` fields for RS,
:class:`~rlnoise.attacks.adversary.AdversaryConfig` fields for ``learned``).

What is learned is cached per model (weights and ``VecNormalize`` digests) in
the evaluation's ``cells/`` store under ``learned_attacks/`` (a file per
critic or adversary, named by the hash of everything it depends on, written
atomically under a file lock), so a rerun of the grid does not retrain: the
RS critic once per (model, training settings), shared by every ``eps``; the
adversary once per (model, ``eps``, training settings), with its training
curve (``.csv``) and a ``.json`` record beside it. Without a store they are
kept in memory for the process.

Example:
    >>> attack = LearnedAttackPerturbation("rs_mad", 0.1)
    >>> attack.label, attack.budget, attack.mad_ratio
    ('rs_mad:0.1', 'eps=0.1', 0.5)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

from rlnoise.attacks.adversary import AdversaryConfig, adversary_perturb, train_adversary
from rlnoise.attacks.robust_sarsa import (
    RobustSarsaConfig,
    SarsaQNetwork,
    collect_transitions,
    robust_sarsa_attack,
    train_robust_sarsa,
)
from rlnoise.core.checks import check_choice, check_probability, show
from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from rlnoise.evaluation.perturbations.attack import ObservationAttackPerturbation, attack_radius
from rlnoise.evaluation.perturbations.base import (
    AttackInjector,
    GridItem,
    Lanes,
    json_safe_kwargs,
)
from rlnoise.runs.files import atomic_path, write_text

__all__ = ["LEARNED_METHODS", "LearnedAttackPerturbation"]

LEARNED_METHODS = ("rs", "rs_mad", "learned")
_OWN_KEYS = ("training", "mad_ratio")
#: What was learned in this process, by cache key (a grid compiles each cell twice).
_MEMORY: dict[str, Any] = {}


@dataclass(frozen=True)
class LearnedAttackPerturbation(ObservationAttackPerturbation):
    """An attack that learns a critic (``rs``, ``rs_mad``) or an adversary (``learned``) first.

    Args:
        method: ``"rs"``, ``"rs_mad"`` or ``"learned"``.
        eps: l_inf radius (in the units of ``space``).
        steps: PGD steps of ``rs`` / ``rs_mad`` (default 10; unused by ``learned``).
        step_size: PGD step (default ``2.5 * eps / steps``).
        random_start: As :class:`ObservationAttackPerturbation`.
        space: ``"raw"`` or ``"normalized"`` (``learned``: ``"raw"`` only; its
            adversary perturbs what the env returns).
        training: Overrides of the learner's settings (see the module docstring).
        mad_ratio: ``rs_mad``'s weight ``r`` of the action change in
            ``(1 - r) * (-Q) + r * MAD`` (default 0.5).
    """

    training: Any = None
    mad_ratio: float | None = None
    types: ClassVar[tuple[str, ...]] = LEARNED_METHODS
    grid_keys: ClassVar[tuple[str, ...]] = LEARNED_METHODS

    def __post_init__(self) -> None:
        method = check_choice("attack.method", self.method, LEARNED_METHODS)
        set_ = object.__setattr__
        # The parent validates eps, steps, step_size, random_start and space for the
        # method names it knows; a PGD is what RS runs, so it validates as one.
        set_(self, "method", "pgd")
        try:
            super().__post_init__()
        except ValueError as error:
            raise ValueError(str(error).replace("pgd", method)) from None
        finally:
            set_(self, "method", method)
        set_(self, "training", json_safe_kwargs(f"{method}.training", self.training))
        # Every setting, defaults included: the dict form keys the cells and seeds, so a
        # change of a library default is a different condition, never a stale cell.
        config = self.learner_config()  # unknown or invalid settings fail here
        set_(self, "training", json_safe_kwargs(f"{method}.training", config.to_dict()))
        if method == "rs_mad":
            ratio = 0.5 if self.mad_ratio is None else self.mad_ratio
            set_(self, "mad_ratio", check_probability("rs_mad.mad_ratio", ratio))
        elif self.mad_ratio is not None:
            raise ValueError(f"{method}.mad_ratio is for rs_mad only, got {show(self.mad_ratio)}")
        if method == "learned" and self.space != "raw":
            raise ValueError(
                f"learned.space must be 'raw' (the adversary perturbs what the "
                f"env returns), got {self.space!r}"
            )

    def learner_config(self) -> RobustSarsaConfig | AdversaryConfig:
        """The critic's or the adversary's settings: defaults updated by ``training``."""
        cls: Any = AdversaryConfig if self.method == "learned" else RobustSarsaConfig
        options = dict(self.training or ())
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(
                f"{self.method}.training has unknown keys {unknown}; valid keys are {sorted(names)}"
            )
        if "hidden" in options and isinstance(options["hidden"], list):
            options["hidden"] = tuple(options["hidden"])
        return cls(**options)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["training"] = dict(self.training)
        if self.mad_ratio is not None:
            out["mad_ratio"] = self.mad_ratio
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LearnedAttackPerturbation:
        own = {k: data[k] for k in _OWN_KEYS if isinstance(data, Mapping) and k in data}
        rest = {k: v for k, v in data.items() if k not in _OWN_KEYS}
        return _with(super().from_dict(rest), own)

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """As FGSM/PGD's grid entries, plus ``training: {...}`` and (``rs_mad``) ``mad_ratio``."""
        own: dict[str, Any] = {}
        if isinstance(section, Mapping):
            own = {k: section[k] for k in _OWN_KEYS if k in section}
            section = {k: v for k, v in section.items() if k not in _OWN_KEYS}
        items = super().from_grid(key, section, env_id)
        return [item._replace(perturbation=_with(item.perturbation, own)) for item in items]

    def compile(self, lanes: Lanes) -> AttackInjector:
        if self.method == "learned":
            return _AdversaryInjector(self, lanes)
        return _RobustSarsaInjector(self, lanes)


def _with(perturbation: Any, own: Mapping[str, Any]) -> LearnedAttackPerturbation:
    """``perturbation`` (built by the parent's parsers) with this class's own fields set."""
    assert isinstance(perturbation, LearnedAttackPerturbation)
    return dataclasses.replace(perturbation, **own)


# -- what is learned, cached per model ------------------------------------------------
def _context(attack: LearnedAttackPerturbation, lanes: Lanes) -> Any:
    adapter = lanes.adapter
    context = getattr(adapter, "context", None)
    if context is None:
        raise ValueError(
            f"{lanes.where}: {attack.method} learns from the run it attacks and needs the "
            "evaluation's run context (evaluate_robustness sets it)"
        )
    if adapter.layout is not None or not isinstance(adapter.input_space, spaces.Box):
        raise ValueError(
            f"{lanes.where}: {attack.method} needs a Box observation space, "
            f"got {adapter.observation_space}"
        )
    if not isinstance(adapter.action_space, spaces.Discrete | spaces.Box):
        raise ValueError(
            f"{lanes.where}: {attack.method} supports Discrete and Box actions, "
            f"got {adapter.action_space}"
        )
    adapter.check_gradient()
    return context


def _key(kind: str, context: Any, **what: Any) -> str:
    record = {"kind": kind, "model": context.digest, "env": context.maker.describe(), **what}
    text = json.dumps(record, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


@contextlib.contextmanager
def _global_rngs_kept() -> Iterator[None]:
    """Training seeds SB3's global RNGs (``set_random_seed``); the evaluation's caller keeps its."""
    python_state, numpy_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)  # noqa: NPY002


def _cached(context: Any, key: str, suffix: str, load: Any, train: Any, device: Any) -> Any:
    """``load(path)`` of the cached file, else ``train(path or None)`` (under a file lock)."""
    memory = f"{key}@{device}"
    if memory in _MEMORY:
        return _MEMORY[memory]
    directory: Path | None = context.directory
    if directory is None:
        with _global_rngs_kept():
            _MEMORY[memory] = value = train(None)
        return value
    from filelock import FileLock

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key}{suffix}"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            value = load(path)
        else:
            with _global_rngs_kept():
                value = train(path)
    _MEMORY[memory] = value
    return value


def _policy_fn(adapter: Any) -> Any:
    def act(rows: np.ndarray) -> np.ndarray:
        return adapter.actions(adapter.to_tensor(np.asarray(rows, dtype=np.float32)))

    return act


def robust_sarsa_critic(attack: LearnedAttackPerturbation, lanes: Lanes) -> SarsaQNetwork:
    """The run's RS critic (on the policy's device): loaded if cached, else trained and saved."""
    adapter = lanes.adapter
    context = _context(attack, lanes)
    config = attack.learner_config()
    assert isinstance(config, RobustSarsaConfig)
    key = _key("robust_sarsa", context, config=config.to_dict())

    def train(path: Path | None) -> SarsaQNetwork:
        started = time.perf_counter()
        data = collect_transitions(
            lambda: context.maker.make(None),
            _policy_fn(adapter),
            steps=config.rollout_steps,
            explore=config.explore,
            n_envs=config.n_envs,
            seed=config.seed,
            observe=adapter.normalize,
        )
        q, losses = train_robust_sarsa(data, config)
        if path is not None:
            seconds = time.perf_counter() - started
            record = {"config": config.to_dict(), "model": context.digest, "seconds": seconds}
            q.save(path, {**record, "td_loss": losses[-1]})
        return q.to(adapter.device)

    def load(path: Path) -> SarsaQNetwork:
        return SarsaQNetwork.load(path)[0].to(adapter.device)

    return _cached(context, key, ".pt", load, train, adapter.device)


def learned_adversary(attack: LearnedAttackPerturbation, lanes: Lanes) -> Any:
    """The run's PPO adversary for ``attack.eps``: loaded if cached, else trained and saved."""
    from stable_baselines3 import PPO

    adapter = lanes.adapter
    context = _context(attack, lanes)
    config = attack.learner_config()
    assert isinstance(config, AdversaryConfig)
    key = _key("adversary", context, eps=attack.eps, config=config.to_dict())
    act = _policy_fn(adapter)
    shape = tuple(adapter.input_space.shape)
    eps = attack_radius(attack, attack.eps, adapter.bounds("raw"), shape, lanes).cpu().numpy()

    def victim(obs: np.ndarray) -> Any:
        return act(adapter.normalize(obs))

    def train(path: Path | None) -> Any:
        started = time.perf_counter()
        curve = None if path is None else path.with_suffix(".csv")
        model, rows = train_adversary(
            lambda: context.maker.make(None), victim, eps, config, curve_path=curve
        )
        if path is not None:
            with atomic_path(path) as temporary:
                model.save(temporary)
            seconds = time.perf_counter() - started
            record = {
                "model": context.digest,
                "env": context.maker.describe(),
                "eps": attack.eps,
                "config": config.to_dict(),
                "episodes": len(rows),
                "seconds": seconds,
                "steps_per_second": config.timesteps / seconds,
            }
            write_text(path.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
        model.policy.to(adapter.device)
        return model.policy

    def load(path: Path) -> Any:
        return PPO.load(path, device=adapter.device).policy

    return _cached(context, key, ".zip", load, train, adapter.device)


# -- injectors ---------------------------------------------------------------------------
def _bounds(adapter: Any, space: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    bounds = adapter.bounds(space)
    if bounds is None:
        return None
    return (
        torch.as_tensor(bounds[0], dtype=torch.float32, device=adapter.device),
        torch.as_tensor(bounds[1], dtype=torch.float32, device=adapter.device),
    )


class _RobustSarsaInjector(AttackInjector):
    def __init__(self, attack: LearnedAttackPerturbation, lanes: Lanes):
        adapter = self.adapter = lanes.adapter
        self.attack_spec, self.space = attack, attack.space
        self.q = robust_sarsa_critic(attack, lanes)
        self.bounds = _bounds(adapter, attack.space)
        shape = tuple(adapter.input_space.shape)
        space_bounds = adapter.bounds(attack.space)
        self.eps = attack_radius(attack, attack.eps, space_bounds, shape, lanes)
        self.step = attack_radius(attack, attack.step_size or 0.0, space_bounds, shape, lanes)
        random_start = (
            (not adapter.discrete) if attack.random_start is None else attack.random_start
        )
        self.start_draws: NoiseStream | None = None
        if random_start and bool(self.eps.any()):
            # Unit-uniform draws scaled by the radius (scalar or one per dimension).
            rngs = [make_rng(0) for _ in range(lanes.n_lanes)]
            uniform = NoiseSpec("uniform", scale=1.0)
            self.start_draws = NoiseStream(uniform, shape, rngs, dtype=np.float32)
        space = adapter.action_space
        self.low = self.span = None
        bounded = isinstance(space, spaces.Box) and bool(
            np.isfinite(space.low).all() and np.isfinite(space.high).all()
        )
        if bounded and not adapter.policy.squash_output:
            device = adapter.device
            self.low = torch.as_tensor(space.low.reshape(-1), device=device)
            self.span = torch.as_tensor((space.high - space.low).reshape(-1), device=device)

    def start(self, lane: int, seed: int) -> None:
        if self.start_draws is not None:
            self.start_draws.reset([lane], [make_rng(seed)])

    def _action_vector(self, x: torch.Tensor) -> torch.Tensor:
        """The policy's action on policy inputs ``x`` as Q's differentiable action vector."""
        adapter = self.adapter
        scores = adapter.scores(x)
        if adapter.discrete:
            return torch.softmax(scores, dim=1)
        action = adapter.actions_from_scores(scores).flatten(1)
        if self.low is None or self.span is None:  # squashed: [-1, 1]-scaled already
            return action
        return (2.0 * (action - self.low) / self.span - 1.0).clamp(-1.0, 1.0)

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        attack, adapter = self.attack_spec, self.adapter
        raw = attack.space == "raw" and adapter.normalizes
        to_policy = adapter.normalize_torch if raw else (lambda x: x)
        true_state = to_policy(obs).detach()
        start = None
        if self.start_draws is not None:
            draws = self.start_draws.sample()[lanes]
            start = torch.as_tensor(draws, device=obs.device, dtype=obs.dtype) * self.eps

        def action_fn(x: torch.Tensor) -> torch.Tensor:
            return self._action_vector(to_policy(x))

        mad_fn = None
        if adapter.discrete:
            clean = torch.log_softmax(adapter.scores(true_state), dim=1).detach()

            def mad_fn(x: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
                log_p = torch.log_softmax(adapter.scores(to_policy(x)), dim=1)
                return F.kl_div(log_p, clean, log_target=True, reduction="none").sum(1)

        low, high = (None, None) if self.bounds is None else self.bounds
        x_adv = robust_sarsa_attack(
            self.q,
            action_fn,
            obs,
            state=true_state,
            eps=self.eps,
            steps=int(attack.steps or 1),
            step_size=self.step,
            mad_ratio=attack.mad_ratio or 0.0,
            mad_fn=mad_fn,
            start=start,
            low=low,
            high=high,
        )
        return to_policy(x_adv).detach()


class _AdversaryInjector(AttackInjector):
    def __init__(self, attack: LearnedAttackPerturbation, lanes: Lanes):
        self.adapter = lanes.adapter
        self.attack_spec, self.space = attack, attack.space
        self.policy = learned_adversary(attack, lanes)
        self.bounds = _bounds(self.adapter, "raw")
        shape = tuple(self.adapter.input_space.shape)
        self.eps = attack_radius(attack, attack.eps, self.adapter.bounds("raw"), shape, lanes)

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        low, high = (None, None) if self.bounds is None else self.bounds
        x_adv = adversary_perturb(self.policy, obs, self.eps, low=low, high=high)
        return self.adapter.normalize_torch(x_adv) if self.adapter.normalizes else x_adv
