r"""The state-adversarial (SA) regulariser of Zhang et al. (NeurIPS 2020), for SB3 algorithms.

Zhang, Chen, Xiao, Li, Liu, Boning and Hsieh, "Robust Deep Reinforcement
Learning against Adversarial Perturbations on State Observations" (SA-PPO,
SA-DDPG, SA-DQN). On every minibatch the loss gets

.. math::

   \kappa \cdot \frac{1}{n}\sum_i \max_{\|\delta_i\|_\infty \le \epsilon}
       D\big(\pi(s_i), \pi(s_i + \delta_i)\big)

with the inner maximum solved by ``K`` steps of PGD from a uniform random
start in the ball (:func:`~rlnoise.attacks.linf.linf_pgd`), keeping per row
the most damaging iterate (so the result is never worse than the start), and
``D`` by policy family:

- PPO/A2C: ``KL(π(s) ‖ π(s+δ))`` of the action distributions (SA-PPO);
- DQN: SA-DQN's hinge on the logit margin,
  ``max(max_{a≠a*} Q(s+δ, a) − Q(s+δ, a*), −c)`` with ``a* = argmax Q(s)``
  (the inner maximum maximises the margin itself);
- SAC/TD3/DDPG: ``‖μ(s) − μ(s+δ)‖²`` of the deterministic action (SA-DDPG).

Both sides of ``D`` carry gradient to the parameters (the clean side is held
fixed only inside the inner maximisation). κ and ε follow schedules over the
model's ``num_timesteps`` (or a shared clock, :meth:`SARegulariser.set_noise_step`).

The seam, and why. SB3 computes each algorithm's loss inline in ``train()``.
The regulariser needs (a) the minibatch, and (b) its gradient inside SB3's
``loss.backward()`` so that SB3's gradient clipping and optimizer step act on
``∇L_SB3 + κ∇R``. Both come from public torch/SB3 objects, for every
algorithm and any policy class:

(a) the buffer's own sampling method is replaced, on that buffer object only
    and for the duration of ``learn()``: PPO/A2C draw every minibatch from
    ``rollout_buffer.get`` (wrapped by a subclass of the noisy policies'
    :class:`~rlnoise.policies.binder.MinibatchCapture`, so selective noise
    injection keeps seeing its minibatch), DQN/SAC/TD3 from
    ``replay_buffer.sample``. When a minibatch is drawn, the parameters are
    those SB3's loss on it will use, so ``κ∇R`` is computed there;
(b) a post-accumulate-grad hook on each actor parameter (torch, as
    :class:`~rlnoise.callbacks.GradientNoiseCallback` uses) adds ``κ∇R`` to
    ``param.grad`` when SB3's ``backward()`` writes it, before clipping.

The loss seam of :mod:`rlnoise.policies.losses` (``attach_loss`` on
``evaluate_actions``) would do (b) too, but only for rlnoise's own PPO/A2C
policies: SA must also work with ``MlpPolicy`` and with DQN/SAC/TD3, whose
losses never call ``evaluate_actions``. An algorithm subclass would copy
SB3's ``train()`` per algorithm. Cost: ``K`` forward+backward passes of the
actor w.r.t. the observations, one forward without gradient and one
forward+backward w.r.t. the parameters per minibatch; TD3 computes it on every
sampled batch, also those whose actor update ``policy_delay`` skips.

Logged (SB3 logger, means over the update's minibatches): ``robust/sa_divergence``
(the mean ``D`` at the found δ), ``robust/sa_inner_gap`` (its gain over the random
start: how much the inner maximisation found), ``robust/sa_kappa``, ``robust/sa_eps``.

Example:
    >>> from stable_baselines3 import PPO
    >>> model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, n_epochs=1,
    ...             seed=0, device="cpu")
    >>> regulariser = SARegulariser(kappa=0.1, eps=0.1, steps=2, seed=0)
    >>> _ = model.learn(32, callback=regulariser)
    >>> regulariser.n_batches
    1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback

from rlnoise.attacks.linf import linf_pgd
from rlnoise.callbacks.sources import register_training_source, unregister_training_source
from rlnoise.core.checks import check_float, check_int
from rlnoise.core.random import derive_seed, make_torch_generator
from rlnoise.core.schedules import Schedule
from rlnoise.policies.binder import MinibatchCapture
from rlnoise.robust.adversarial import _schedule
from rlnoise.robust.heads import policy_head

__all__ = ["SARegulariser", "SATerm", "actor_parameters", "sa_term"]


@dataclass(frozen=True)
class SATerm:
    """The regulariser on one batch.

    Attributes:
        value: Mean ``D`` at the found δ, a scalar attached to the parameters.
        divergence: Per-row ``D`` at the found δ ``(n,)``, detached.
        start: Per-row ``D`` at the random start ``(n,)``, detached.
        attacked: The observations ``s + δ`` ``(n, *obs_shape)``.
    """

    value: torch.Tensor
    divergence: torch.Tensor
    start: torch.Tensor
    attacked: torch.Tensor


def _distributions(policy: Any, obs: torch.Tensor) -> list[Any]:
    # SB3 reuses one Distribution object per policy: keep the torch distribution(s) it holds.
    inner = policy.get_distribution(obs).distribution
    return list(inner) if isinstance(inner, list | tuple) else [inner]


def _kl(clean: list[Any], perturbed: list[Any]) -> torch.Tensor:
    total = None
    for p, q in zip(clean, perturbed, strict=True):
        kl = torch.distributions.kl_divergence(p, q)
        kl = kl.flatten(1).sum(1) if kl.dim() > 1 else kl
        total = kl if total is None else total + kl
    assert total is not None
    return total


def _margin(q_clean: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    best = q_clean.argmax(dim=1, keepdim=True)
    others = q.scatter(1, best, float("-inf")).amax(dim=1)
    return others - q.gather(1, best).squeeze(1)


def sa_term(
    policy: Any,
    obs: torch.Tensor,
    *,
    eps: float,
    steps: int,
    generator: torch.Generator,
    step_size: float | None = None,
    hinge: float = 1.0,
) -> SATerm:
    """Solve the inner maximum on ``obs`` and return the regulariser, attached to the parameters.

    Args:
        policy: An SB3 policy (see :mod:`rlnoise.robust.heads`).
        obs: Float observations ``(n, *obs_shape)`` as the policy takes them.
        eps: l_inf radius.
        steps: PGD steps ``K`` (0: the random start only).
        generator: Draws the random start (on ``obs``'s device).
        step_size: PGD step; ``None``: ``2.5 * eps / steps``.
        hinge: SA-DQN's ``c`` (DQN only).
    """
    obs = obs.detach()
    family = policy_head(policy).family
    outputs: Callable[[torch.Tensor], Any]
    inner: Callable[[Any, Any], torch.Tensor]
    if family == "actor_critic":

        def outputs(x: torch.Tensor) -> Any:
            return _distributions(policy, x)

        def inner(clean: Any, out: Any) -> torch.Tensor:
            return _kl(clean, out)

        outer = inner
    else:
        outputs = policy_head(policy).scores
        if family == "dqn":
            inner = _margin

            def outer(clean: Any, out: Any) -> torch.Tensor:
                return torch.clamp(_margin(clean, out), min=-hinge)
        else:

            def inner(clean: Any, out: Any) -> torch.Tensor:
                return (out - clean).pow(2).flatten(1).sum(1)

            outer = inner
    with torch.no_grad():
        reference = outputs(obs)
    start = (torch.rand(obs.shape, generator=generator, device=obs.device) * 2 - 1) * eps
    best_x = torch.clamp(obs + start, obs - eps, obs + eps)
    best = torch.full((len(obs),), float("-inf"), device=obs.device)
    first: list[torch.Tensor] = []

    def keep(x: torch.Tensor, value: torch.Tensor) -> None:
        nonlocal best_x, best
        if not first:
            first.append(value)
        better = value > best
        shape = (-1,) + (1,) * (x.dim() - 1)
        best_x = torch.where(better.reshape(shape), x, best_x)
        best = torch.where(better, value, best)

    def gradient(x: torch.Tensor) -> torch.Tensor:
        value = inner(reference, outputs(x))
        keep(x.detach(), value.detach())
        (grad,) = torch.autograd.grad(value.sum(), x)
        return grad

    size = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    last = linf_pgd(
        None, obs, eps=eps, steps=steps, step_size=size, start=start, gradient_fn=gradient
    )
    # One forward for the clean rows, the last iterate and the best earlier one (small
    # networks cost per call, not per row); keep per row the larger of the two iterates.
    n = len(obs)
    clean, at_last, at_best = _split(outputs(torch.cat([obs, last, best_x])), n)
    last_rows, best_rows = outer(clean, at_last), outer(clean, at_best)
    if not first:  # no PGD step: the start is the last iterate
        first.append(inner(reference, at_last).detach())
    better = inner(reference, at_last).detach() >= best
    rows = torch.where(better, last_rows, best_rows)
    shape = (-1,) + (1,) * (obs.dim() - 1)
    attacked = torch.where(better.reshape(shape), last, best_x)
    return SATerm(rows.mean(), rows.detach(), first[0], attacked)


def _split(out: Any, n: int) -> list[Any]:
    """Cut outputs of a batch of ``3n`` rows into three of ``n`` (tensors or distributions)."""
    if isinstance(out, torch.Tensor):
        return list(out.split(n))
    parts: list[list[Any]] = [[], [], []]
    for dist in out:
        for i, rows in enumerate((slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n))):
            if isinstance(dist, torch.distributions.Normal):
                parts[i].append(torch.distributions.Normal(dist.loc[rows], dist.scale[rows]))
            elif isinstance(dist, torch.distributions.Categorical | torch.distributions.Bernoulli):
                parts[i].append(type(dist)(logits=dist.logits[rows]))
            else:
                raise ValueError(f"SARegulariser: no KL for {type(dist).__name__} distributions")
    return parts


def actor_parameters(policy: Any) -> list[torch.nn.Parameter]:
    """Parameters the regulariser may reach: the policy (PPO/A2C), ``q_net`` or ``actor``.

    For PPO/A2C the value head is among them but gets no gradient from ``D``.
    """
    family = policy_head(policy).family
    module: Any = {"actor_critic": policy, "dqn": getattr(policy, "q_net", None)}.get(
        family, getattr(policy, "actor", None)
    )
    return [p for p in module.parameters() if p.requires_grad]


class _RegularisedGet(MinibatchCapture):
    """A rollout buffer's ``get`` that computes the regulariser as each minibatch is drawn."""

    __slots__ = ("on_batch",)

    def __init__(self, get: Any, on_batch: Any) -> None:
        super().__init__(get)
        self.on_batch = on_batch

    def __call__(self, batch_size: int | None = None) -> Any:
        for samples in self.get(batch_size):
            self.last = samples
            self.on_batch(samples.observations)
            yield samples
        self.last = None


class _RegularisedSample:
    """A replay buffer's ``sample`` that computes the regulariser on each batch it returns."""

    def __init__(self, sample: Any, on_batch: Any) -> None:
        self.sample = sample
        self.on_batch = on_batch

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        data = self.sample(*args, **kwargs)
        self.on_batch(data.observations)
        return data


class SARegulariser(BaseCallback):
    """Add ``κ · max_δ D(π(s), π(s+δ))`` to the loss of every minibatch (see the module doc).

    Args:
        kappa: κ at schedule factor 1 (SA-PPO tunes it in ~[0.003, 1]).
        eps: ε at schedule factor 1, in the units the policy sees.
        steps: PGD steps ``K`` of the inner maximum.
        step_size: PGD step; ``None``: ``2.5 * eps / steps``.
        kappa_schedule: Factor of κ over ``num_timesteps`` (Schedule or dict).
        eps_schedule: Factor of ε over ``num_timesteps``, e.g. a linear warm-up from 0.
        hinge: SA-DQN's ``c`` (DQN only).
        seed: Seed of the random starts; ``None``: from the model's seed.
        log: Record the ``robust/sa_*`` values.
        verbose: SB3 verbosity.

    Attributes:
        n_batches: Minibatches regularised so far.
    """

    def __init__(
        self,
        kappa: float = 0.1,
        eps: float = 0.1,
        steps: int = 5,
        step_size: float | None = None,
        kappa_schedule: Schedule | dict[str, Any] | None = None,
        eps_schedule: Schedule | dict[str, Any] | None = None,
        hinge: float = 1.0,
        seed: int | None = None,
        log: bool = True,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        self.kappa = check_float("kappa", kappa, low=0.0)
        self.eps = check_float("eps", eps, low=0.0)
        self.steps = check_int("steps", steps, low=0)
        self.step_size = None if step_size is None else check_float("step_size", step_size, low=0.0)
        self.kappa_schedule = _schedule(kappa_schedule, "kappa_schedule")
        self.eps_schedule = _schedule(eps_schedule, "eps_schedule")
        self.hinge = check_float("hinge", hinge, low=0.0)
        self.seed = None if seed is None else check_int("seed", seed)
        self.log = log
        self.n_batches = 0
        self._clock: int | None = None
        self._generator: torch.Generator | None = None
        self._pending: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._restore: list[tuple[Any, str, Any]] = []

    # -- the clock (rlnoise.core.clock.NoiseSource) -----------------------------------
    def set_noise_step(self, step: int) -> None:
        """Read the schedules at ``step`` instead of the model's ``num_timesteps``."""
        self._clock = int(step)

    def _step(self) -> int:
        if self._clock is not None:
            return self._clock
        return int(getattr(self.model, "num_timesteps", 0)) if self.model is not None else 0

    def noise_scales(self) -> dict[str, float]:
        """The current κ and ε."""
        return {"sa_kappa": self.current_kappa(), "sa_eps": self.current_eps()}

    def current_kappa(self) -> float:
        """κ times its schedule now."""
        return self.kappa * float(self.kappa_schedule(self._step()))

    def current_eps(self) -> float:
        """ε times its schedule now."""
        return self.eps * float(self.eps_schedule(self._step()))

    # -- learn() ---------------------------------------------------------------------
    def _on_training_start(self) -> None:
        policy = self.model.policy
        register_training_source(self.model, self)  # found by NoiseScheduleCallback's clock
        if self._generator is None:
            base = self.seed if self.seed is not None else getattr(self.model, "seed", None)
            seed = None if base is None else derive_seed(base, "sa-regulariser")
            self._generator = make_torch_generator(seed, policy.device)
        for parameter in actor_parameters(policy):
            self._handles.append(parameter.register_post_accumulate_grad_hook(self._add))
        buffer = getattr(self.model, "rollout_buffer", None)
        if buffer is not None:
            self._replace(buffer, "get", lambda get: _RegularisedGet(get, self._on_batch))
        buffer = getattr(self.model, "replay_buffer", None)
        if buffer is not None:
            self._replace(
                buffer, "sample", lambda sample: _RegularisedSample(sample, self._on_batch)
            )
        if not self._restore:
            raise ValueError(
                f"SARegulariser found no rollout_buffer or replay_buffer on "
                f"{type(self.model).__name__}"
            )

    def _replace(self, buffer: Any, name: str, wrap: Any) -> None:
        own = name in vars(buffer)
        self._restore.append((buffer, name, vars(buffer)[name] if own else None))
        setattr(buffer, name, wrap(getattr(buffer, name)))

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for buffer, name, previous in reversed(self._restore):
            if previous is None:
                delattr(buffer, name)
            else:
                setattr(buffer, name, previous)
        self._restore.clear()
        self._pending.clear()
        unregister_training_source(self.model, self)

    # -- per minibatch ---------------------------------------------------------------
    def _on_batch(self, obs: Any) -> None:
        self._pending.clear()
        kappa, eps = self.current_kappa(), self.current_eps()
        if kappa == 0.0 or eps == 0.0:
            return
        if not isinstance(obs, torch.Tensor) or not obs.is_floating_point():
            raise ValueError(
                f"SARegulariser needs float Box observations, got {type(obs).__name__}"
                + (f" of {obs.dtype}" if isinstance(obs, torch.Tensor) else "")
            )
        policy = self.model.policy
        assert self._generator is not None
        term = sa_term(
            policy, obs, eps=eps, steps=self.steps, generator=self._generator,
            step_size=self.step_size, hinge=self.hinge,
        )  # fmt: skip
        parameters = actor_parameters(policy)
        grads = torch.autograd.grad(kappa * term.value, parameters, allow_unused=True)
        for parameter, grad in zip(parameters, grads, strict=True):
            if grad is not None:
                self._pending[id(parameter)] = grad
        self.n_batches += 1
        if self.log:
            self.logger.record_mean("robust/sa_divergence", float(term.divergence.mean()))
            gap = float((term.divergence - term.start).mean())
            self.logger.record_mean("robust/sa_inner_gap", gap)
            self.logger.record("robust/sa_kappa", kappa)
            self.logger.record("robust/sa_eps", eps)

    def _add(self, parameter: torch.Tensor) -> None:
        # SB3's backward just wrote parameter.grad for this minibatch: add κ∇R before clipping.
        grad = self._pending.pop(id(parameter), None)
        if grad is not None and parameter.grad is not None:
            parameter.grad.add_(grad)
