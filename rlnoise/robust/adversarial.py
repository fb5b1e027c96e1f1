"""Adversarial observation training (Pattanaik et al., 2018), for any SB3 algorithm.

During rollouts a fraction ``p`` of observations (per step, or whole episodes)
is replaced by an observation attacked against the *current* policy, inside
an l_inf ball whose radius ``eps`` follows a schedule (warm-up from 0, as
the papers do). The agent acts on, stores and learns from the perturbed
observation.

The seam, and why. SB3 takes the observations it acts on and stores from
what its ``VecEnv`` returns (``reset``/``step_wait``): PPO/A2C put
``_last_obs`` in the rollout buffer, DQN/SAC/TD3 put ``_last_obs`` and the
next observation (``terminal_observation`` at episode ends) in the replay
buffer. A ``VecEnvWrapper`` that attacks what it returns is therefore the one
place that changes what every algorithm sees and stores, without touching
SB3's collection loops: :class:`AdversarialObservations`. It holds a weak
reference to the model and reads ``model.policy`` at every step, so the attack
is always against the current policy (also after ``load``). Sitting outside
``VecNormalize`` it attacks the observation the policy sees, so ``eps`` is in
the policy's units. A callback cannot do this (SB3 calls ``on_step`` after the
action was chosen); neither can a Gymnasium wrapper (no batched policy
forward, and no reference to the model in subprocesses).

:class:`AdversarialTraining` is the user-facing piece (Python and YAML
``callbacks:``): when ``learn()`` initialises it, it wraps the model's env once
(``set_env(..., force_reset=False)``) and attacks the observation SB3 already
reset to (``model._last_obs``, read through
:func:`rlnoise.policies.binder.last_observation`, in place: that reset happened
before any callback exists), so from the first step on every stored observation went
through the attack draw.

Attacks are callables ``attack(policy, obs, eps, generator) -> obs_adv``
(:data:`Attack`); ``"fgsm"``, ``"pgd"`` and ``"random"`` are built in and
:func:`register_attack` adds others by name (``critic`` and ``mad`` are the
evaluation's objectives, :mod:`rlnoise.attacks.objectives`) so that YAML can
name them. Randomness (which rows are attacked, random starts) comes from
generators the wrapper owns, seeded from ``seed`` (or the model's seed).

Example:
    >>> from stable_baselines3 import PPO
    >>> model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, n_epochs=1,
    ...             seed=0, device="cpu")
    >>> callback = AdversarialTraining(attack="fgsm", eps=0.1, fraction=0.5, seed=0)
    >>> _ = model.learn(64, callback=callback)
    >>> type(model.get_env()).__name__
    'AdversarialObservations'
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from rlnoise.attacks.heads import PolicyHeads
from rlnoise.attacks.linf import cross_entropy_direction, linf_attack, linf_pgd
from rlnoise.attacks.objectives import critic_objective, mad_objective
from rlnoise.core.checks import check_choice, check_float, check_int, show
from rlnoise.core.random import derive_seed, make_rng, make_torch_generator
from rlnoise.core.schedules import ConstantSchedule, Schedule, schedule_from_dict
from rlnoise.policies.binder import last_observation
from rlnoise.robust.heads import policy_head

__all__ = [
    "ATTACKS",
    "PER",
    "AdversarialObservations",
    "AdversarialTraining",
    "Attack",
    "make_attack",
    "register_attack",
]

#: ``attack(policy, obs, eps, generator) -> attacked obs`` (detached, ``|obs_adv - obs| <= eps``).
Attack = Callable[[Any, torch.Tensor, float, torch.Generator], torch.Tensor]

PER = ("step", "episode")


def _gradient_attack(steps: int, step_size: float | None) -> Attack:
    def attack(policy: Any, obs: torch.Tensor, eps: float, generator: torch.Generator) -> Any:
        head = policy_head(policy)
        if steps == 1 and head.discrete:
            return _fgsm_discrete(head.scores, obs, eps)
        size = eps if steps == 1 else (2.5 * eps / steps if step_size is None else step_size)
        start = None
        if not head.discrete:  # MAD's loss has zero gradient at the clean observation
            start = (torch.rand(obs.shape, generator=generator, device=obs.device) * 2 - 1) * eps
        return linf_attack(
            head.scores, obs, eps=eps, steps=steps, step_size=size, discrete=head.discrete,
            start=start,
        )  # fmt: skip

    return attack


def _fgsm_discrete(
    scores_fn: Callable[[torch.Tensor], torch.Tensor], obs: torch.Tensor, eps: float
) -> torch.Tensor:
    """FGSM as :func:`~rlnoise.attacks.linf.linf_attack` computes it, in one forward, not two.

    At the clean observation the forward that gives the gradient also gives the
    clean greedy action, so the separate no-grad forward is skipped: on every
    rollout step of a small policy that forward is a third of the attack's cost.
    """
    x = obs.detach().requires_grad_(True)
    with torch.enable_grad():
        scores = scores_fn(x)
        detached = scores.detach()
        direction = cross_entropy_direction(detached, detached.argmax(dim=1))
        (grad,) = torch.autograd.grad(scores, x, grad_outputs=direction)
    return (obs + eps * grad.sign()).detach()


def _random_attack(policy: Any, obs: torch.Tensor, eps: float, generator: torch.Generator) -> Any:
    noise = torch.rand(obs.shape, generator=generator, device=obs.device) * 2 - 1
    return obs + eps * noise


def _objective_attack(kind: str) -> Callable[[int, float | None], Attack]:
    """The evaluation's ``critic`` / ``mad`` objectives (:mod:`rlnoise.attacks.objectives`)."""

    def factory(steps: int, step_size: float | None) -> Attack:
        def attack(policy: Any, obs: torch.Tensor, eps: float, generator: torch.Generator) -> Any:
            heads = PolicyHeads(policy)
            if kind == "critic":
                loss_fn, gradient_fn = critic_objective(heads)
                start = None
            else:  # MAD's loss has zero gradient at the clean observation: a random start
                loss_fn, gradient_fn = mad_objective(heads, obs)
                unit = torch.rand(obs.shape, generator=generator, device=obs.device) * 2 - 1
                start = unit * eps
            size = eps if steps == 1 else (2.5 * eps / steps if step_size is None else step_size)
            return linf_pgd(
                loss_fn, obs, eps=eps, steps=steps, step_size=size, start=start,
                gradient_fn=gradient_fn,
            )  # fmt: skip

        return attack

    return factory


#: Attack factories by name: ``factory(steps, step_size) -> Attack``.
ATTACKS: dict[str, Callable[[int, float | None], Attack]] = {
    "fgsm": lambda steps, step_size: _gradient_attack(1, None),
    "pgd": _gradient_attack,
    "critic": _objective_attack("critic"),
    "mad": _objective_attack("mad"),
    "random": lambda steps, step_size: _random_attack,
}


def register_attack(name: str, factory: Callable[[int, float | None], Attack]) -> None:
    """Make ``name`` usable as ``attack=`` (YAML too): ``factory(steps, step_size) -> Attack``."""
    ATTACKS[name] = factory


def make_attack(attack: str | Attack, steps: int = 10, step_size: float | None = None) -> Attack:
    """The attack callable for a name in :data:`ATTACKS`, or ``attack`` itself.

    Example:
        >>> make_attack("fgsm").__name__
        'attack'
        >>> make_attack("cw")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: attack must be one of ['critic', 'fgsm', ...] or a callable, got 'cw'
    """
    if callable(attack):
        return attack
    if attack not in ATTACKS:
        raise ValueError(
            f"attack must be one of {sorted(ATTACKS)} or a callable, got {show(attack)}"
        )
    return ATTACKS[attack](steps, step_size)


def _schedule(schedule: Schedule | dict[str, Any] | None, name: str) -> Schedule:
    if schedule is None:
        return ConstantSchedule()
    if isinstance(schedule, Schedule):
        return schedule
    try:
        return schedule_from_dict(schedule)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


class AdversarialObservations(VecEnvWrapper):
    """Replace a fraction of a VecEnv's observations by attacked ones, against a model's policy.

    Args:
        venv: The vector env (a Box observation space).
        model: The SB3 algorithm whose current ``policy`` is attacked (held weakly);
            ``None`` until :meth:`attach`.
        attack: A name in :data:`ATTACKS` or an :data:`Attack` callable.
        eps: l_inf radius at schedule factor 1, in the units the policy sees.
        fraction: Probability that a row (``per="step"``) or an episode
            (``per="episode"``) is attacked.
        per: ``"step"`` (a fresh draw per row and step) or ``"episode"``.
        schedule: Factor of ``eps`` over the model's ``num_timesteps`` (a
            :class:`~rlnoise.core.schedules.Schedule` or its dict), e.g.
            ``{type: linear, start: 0, end: 1, steps: 20000}`` for a warm-up.
        steps: PGD steps (``pgd`` and registered attacks that use it).
        step_size: PGD step; ``None``: ``2.5 * eps / steps``.
        seed: Seed of the wrapper's generators; ``None``: from the model's seed.

    Attributes:
        attacked: Rows drawn for attack so far (attacked with the radius of their step).
        seen: Rows returned so far.
    """

    def __init__(
        self,
        venv: VecEnv,
        model: Any = None,
        *,
        attack: str | Attack = "pgd",
        eps: float = 0.1,
        fraction: float = 1.0,
        per: str = "step",
        schedule: Schedule | dict[str, Any] | None = None,
        steps: int = 10,
        step_size: float | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(venv)
        space = venv.observation_space
        if not isinstance(space, spaces.Box) or not np.issubdtype(space.dtype, np.floating):
            raise ValueError(
                f"adversarial observations need a float Box observation space, got {space}"
            )
        self.eps = check_float("eps", eps, low=0.0)
        self.fraction = check_float("fraction", fraction, low=0.0, high=1.0)
        self.per = check_choice("per", per, PER)
        self.steps = check_int("steps", steps, low=1)
        self.step_size = None if step_size is None else check_float("step_size", step_size, low=0.0)
        self.schedule = _schedule(schedule, "schedule")
        self.attack = make_attack(attack, self.steps, self.step_size)
        # Not ``self.seed``: that is VecEnv.seed(), the envs' own seeding.
        self.attack_seed = None if seed is None else check_int("seed", seed)
        self._model: weakref.ref[Any] | None = None
        self._clock: int | None = None
        self._rng: np.random.Generator | None = None
        self._generator: torch.Generator | None = None
        self._episode_attacked = np.zeros(self.num_envs, dtype=bool)
        self._low = np.where(np.isfinite(space.low), space.low, -np.inf).astype(np.float32)
        self._high = np.where(np.isfinite(space.high), space.high, np.inf).astype(np.float32)
        self.attacked = 0
        self.seen = 0
        if model is not None:
            self.attach(model)

    def attach(self, model: Any) -> None:
        """Attack ``model``'s current policy from now on (seeds the generators on first use)."""
        self._model = weakref.ref(model)
        if self._rng is None:
            base = (
                self.attack_seed if self.attack_seed is not None else getattr(model, "seed", None)
            )
            seed = None if base is None else derive_seed(base, "adversarial-observations")
            self._rng = make_rng(seed)
            self._generator = make_torch_generator(None if seed is None else seed + 1)

    # -- the clock (rlnoise.core.clock.NoiseSource) -----------------------------------
    def set_noise_step(self, step: int) -> None:
        """Read the schedule at ``step`` instead of the model's ``num_timesteps``."""
        self._clock = int(step)

    def noise_scales(self) -> dict[str, float]:
        """The current attack radius."""
        return {"adversarial_eps": self.current_eps()}

    def current_eps(self) -> float:
        """``eps`` times the schedule at the current step."""
        model = None if self._model is None else self._model()
        step = self._clock if self._clock is not None else getattr(model, "num_timesteps", 0)
        return self.eps * float(self.schedule(step))

    # -- VecEnv ----------------------------------------------------------------------
    def reset(self) -> Any:
        return self.start(self.venv.reset())  # type: ignore[arg-type]  # a Box space: an array

    def start(self, obs: np.ndarray) -> np.ndarray:
        """Attack observations just reset to (what :meth:`reset` does after the inner reset)."""
        self._episode_attacked = self._draw(self.num_envs)
        return self.perturb(obs, self._episode_attacked if self.per == "episode" else None)

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        if self.per == "episode":
            ending = self._episode_attacked.copy()
            starting = self._draw(self.num_envs)
            self._episode_attacked = np.where(dones, starting, self._episode_attacked)
            mask = self._episode_attacked
        else:
            mask = ending = self._draw(self.num_envs)
        for i in np.flatnonzero(dones):  # the stored next observation of a finished episode
            terminal = infos[i].get("terminal_observation")
            if terminal is not None and ending[i]:  # the row's draw of this step: no new draw
                infos[i]["terminal_observation"] = self._apply(terminal[None], ending[i : i + 1])[0]
        return self.perturb(obs, mask), rewards, dones, infos  # type: ignore[arg-type]

    def _draw(self, n: int) -> np.ndarray:
        if self._rng is None:
            raise ValueError("AdversarialObservations has no model: call attach(model) first")
        return self._rng.random(n) < self.fraction

    def perturb(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Attack the rows of ``obs`` where ``mask`` is set (a fresh draw when ``None``)."""
        mask = self._draw(len(obs)) if mask is None else np.asarray(mask, dtype=bool)
        self.seen += len(obs)
        self.attacked += int(mask.sum())
        return self._apply(obs, mask)

    def _apply(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        eps = self.current_eps()
        if eps == 0.0 or not mask.any():
            return obs
        model = None if self._model is None else self._model()
        if model is None:
            raise ValueError("AdversarialObservations lost its model (deleted); attach a new one")
        policy = model.policy
        assert self._generator is not None
        rows = np.flatnonzero(mask)
        with torch.no_grad():
            clean = torch.as_tensor(obs[rows], dtype=torch.float32, device=policy.device)
        attacked = self.attack(policy, clean, eps, self._generator).detach().cpu().numpy()
        out = np.array(obs, copy=True)
        out[rows] = np.clip(attacked, self._low, self._high).astype(out.dtype)
        return out


class AdversarialTraining(BaseCallback):
    """Train on attacked observations: wraps the model's env in :class:`AdversarialObservations`.

    Takes the wrapper's keywords (``attack``, ``eps``, ``fraction``, ``per``,
    ``schedule``, ``steps``, ``step_size``, ``seed``). The wrapper stays on the
    model after ``learn()`` (a later ``learn`` reuses it); ``model.save`` does
    not save envs, so a loaded model trains clean unless given the callback again.

    Args:
        attack: See :class:`AdversarialObservations`.
        eps: See :class:`AdversarialObservations`.
        fraction: See :class:`AdversarialObservations`.
        per: See :class:`AdversarialObservations`.
        schedule: See :class:`AdversarialObservations`.
        steps: See :class:`AdversarialObservations`.
        step_size: See :class:`AdversarialObservations`.
        seed: See :class:`AdversarialObservations`.
        log: Record ``robust/adversarial_eps`` and ``robust/adversarial_fraction``.
        verbose: SB3 verbosity.
    """

    def __init__(
        self,
        attack: str | Attack = "pgd",
        eps: float = 0.1,
        fraction: float = 1.0,
        per: str = "step",
        schedule: Schedule | dict[str, Any] | None = None,
        steps: int = 10,
        step_size: float | None = None,
        seed: int | None = None,
        log: bool = True,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        self.options = dict(
            attack=attack, eps=eps, fraction=fraction, per=per, schedule=schedule,
            steps=steps, step_size=step_size, seed=seed,
        )  # fmt: skip
        # Fail at construction, not at learn(): build a throwaway check of the options.
        check_float("eps", eps, low=0.0)
        check_float("fraction", fraction, low=0.0, high=1.0)
        check_choice("per", per, PER)
        check_int("steps", steps, low=1)
        _schedule(schedule, "schedule")
        make_attack(attack, steps, step_size)
        self.log = log
        self.wrapper: AdversarialObservations | None = None

    def _init_callback(self) -> None:
        env = self.model.get_env()
        if isinstance(env, AdversarialObservations):
            self.wrapper = env
            env.attach(self.model)
            return
        assert env is not None
        self.wrapper = AdversarialObservations(env, self.model, **self.options)  # type: ignore[arg-type]
        self.model.set_env(self.wrapper, force_reset=False)
        # SB3 reset the env in _setup_learn, before callbacks exist: attack that observation too.
        last = last_observation(self.model)
        if isinstance(last, np.ndarray):
            last[...] = self.wrapper.start(last)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.log and self.wrapper is not None:
            self.logger.record("robust/adversarial_eps", self.wrapper.current_eps())
            seen = max(self.wrapper.seen, 1)
            self.logger.record("robust/adversarial_fraction", self.wrapper.attacked / seen)
