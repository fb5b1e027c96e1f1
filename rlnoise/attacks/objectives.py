"""What an attack maximises: per-row objectives of the perturbed observation, for ``linf_pgd``.

- :func:`critic_objective` — the critic attack (Pattanaik et al., 2018):
  ``-value(s + δ)``, the critic's value of the action the policy takes at the
  perturbed observation (:meth:`~rlnoise.attacks.heads.PolicyHeads.value`).
  For PPO/A2C it is ``-V(s + δ)``: they have no action-value, their advantage
  needs the next state (a model of the env), and ``V`` is what the critic
  attack of SA-PPO (Zhang et al., 2020) descends.
- :func:`mad_objective` — MAD, maximal action difference (Zhang et al.,
  2020): ``KL(π(s) ‖ π(s + δ))`` for stochastic policies (Categorical,
  Gaussian; Boltzmann over Q for DQN), ``‖μ(s) − μ(s + δ)‖²`` for deterministic
  ones (TD3/DDPG). Its gradient is zero at ``δ = 0``: start it from a random
  point of the ball.

Each returns ``(loss_fn, gradient_fn)`` for :func:`~rlnoise.attacks.linf.linf_pgd`
(one of them ``None``): the categorical KL uses a rescaled gradient
(as :func:`~rlnoise.attacks.linf.cross_entropy_direction`) so that a confident
policy, whose float32 softmax saturates, is still attacked.

Example:
    >>> import torch
    >>> from stable_baselines3 import TD3
    >>> from rlnoise.attacks.heads import PolicyHeads
    >>> from rlnoise.attacks.linf import linf_pgd
    >>> heads = PolicyHeads(TD3("MlpPolicy", "Pendulum-v1", seed=0, device="cpu").policy)
    >>> obs = torch.zeros(4, 3)
    >>> loss_fn, gradient_fn = mad_objective(heads, obs)
    >>> x = linf_pgd(loss_fn, obs, eps=0.1, steps=3, step_size=0.05,
    ...              start=torch.full_like(obs, 0.01), gradient_fn=gradient_fn)
    >>> bool(loss_fn(x).min() > 0)
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rlnoise.attacks.heads import PolicyHeads

__all__ = ["Objective", "categorical_kl_direction", "critic_objective", "mad_objective"]

Loss = Callable[[torch.Tensor], torch.Tensor]
#: ``(loss_fn, gradient_fn)``: the arguments of the same names of ``linf_pgd``.
Objective = tuple[Loss | None, Loss | None]


def critic_objective(heads: PolicyHeads) -> Objective:
    """The critic attack: maximise ``-value(x)`` (the critic's value of the policy's action)."""
    return (lambda x: -heads.value(x)), None


def mad_objective(heads: PolicyHeads, obs: torch.Tensor) -> Objective:
    """MAD against the clean rows ``obs`` (see the module docstring)."""
    with torch.no_grad():
        if not heads.stochastic:
            reference = heads.action(obs)
        else:
            clean = heads.distribution(obs)
    if not heads.stochastic:
        return (lambda x: (heads.action(x) - reference).pow(2).flatten(1).sum(dim=1)), None
    if isinstance(clean, torch.distributions.Categorical):
        clean_logits = clean.logits

        def gradient(x: torch.Tensor) -> torch.Tensor:
            logits = heads.logits(x)
            direction = categorical_kl_direction(logits.detach(), clean_logits)
            (grad,) = torch.autograd.grad(logits, x, grad_outputs=direction)
            return grad

        def kl(x: torch.Tensor) -> torch.Tensor:
            return categorical_kl(clean_logits, heads.logits(x))

        return kl, gradient
    assert isinstance(clean, torch.distributions.Normal)
    mean, std = clean.mean, clean.stddev

    def gaussian(x: torch.Tensor) -> torch.Tensor:
        dist = heads.distribution(x)
        kl = torch.distributions.kl_divergence(torch.distributions.Normal(mean, std), dist)
        return kl.flatten(1).sum(dim=1)

    return gaussian, None


def categorical_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(p) ‖ softmax(q))`` per row, in float64."""
    log_p = torch.log_softmax(p_logits.to(torch.float64), dim=1)
    log_q = torch.log_softmax(q_logits.to(torch.float64), dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def categorical_kl_direction(logits: torch.Tensor, clean_logits: torch.Tensor) -> torch.Tensor:
    """Gradient of ``KL(softmax(clean) ‖ softmax(logits))`` w.r.t. ``logits``, rescaled per row.

    The gradient is ``softmax(logits) − softmax(clean)``. Computed in float64
    and divided by its per-row max ``|.|`` (a positive factor: the sign step is
    unchanged), it stays representable when float32 probabilities saturate.

    Example:
        >>> import torch
        >>> d = categorical_kl_direction(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 2.0]]))
        >>> d.tolist()
        [[1.0, -1.0]]
    """
    p = torch.softmax(logits.to(torch.float64), dim=1)
    p_clean = torch.softmax(clean_logits.to(torch.float64), dim=1)
    direction = p - p_clean
    # The entries sum to 0; the largest probability rounds (1 - tiny -> 1), so take its entry
    # from the others, which keep their precision: -sum_{j != k} (p_j - p_clean_j).
    column = p.argmax(dim=1, keepdim=True)
    others = direction.scatter(1, column, 0.0).sum(dim=1, keepdim=True)
    direction = direction.scatter(1, column, -others)
    norm = direction.abs().amax(dim=1, keepdim=True)
    direction = torch.where(norm > 0, direction / torch.where(norm > 0, norm, 1.0), 0.0)
    return direction.to(logits.dtype)
