"""Extra loss terms per minibatch for PPO and A2C, without replacing SB3's ``train()``.

SB3 computes PPO's and A2C's loss inline in ``train()`` from what
``policy.evaluate_actions(observations, actions)`` returns, and offers no hook
to change it. Selective noise injection needs ``λ·L(noise-free) + (1 − λ)·L(noisy)``
— a mixture of two *losses*: PPO's clipped ratio makes the loss nonlinear in
the log-probability, so mixing the log-probabilities instead
(``L(λ·a + (1 − λ)·b)``) would be another objective. The state-adversarial
regulariser (``+ κ·D(π(s), π(s + δ))``) is another extra term of the same shape.

The seam: the policy's ``evaluate_actions`` returns SB3 its usual tensors,
passed through :func:`attach_loss`, an identity in the forward pass whose
backward (a) multiplies the gradient SB3's loss sends into them by a
``scale`` and (b) sends a gradient of exactly 1 into an ``extra`` scalar loss
computed by the policy. One ``loss.backward()`` in SB3 then accumulates
``scale·∇L_SB3 + ∇extra`` — the gradient of ``scale·L_SB3 + extra`` — and SB3's
gradient clipping and optimizer step act on that sum, exactly as if the loss
had been written so. The extra term needs the minibatch's rollout data (old
log-probabilities, advantages, returns, old values) and the algorithm's
settings: :class:`Minibatch`, captured by the binder
(:meth:`rlnoise.policies.binder.AlgorithmBinding.minibatch`), and
:func:`on_policy_loss` computes SB3's own formula on any outputs.

Why this seam and not the alternatives:

- an algorithm subclass overriding ``train()`` copies SB3's 100-line loop per
  algorithm (PPO, A2C) and drifts from it with every SB3 release; configs would
  have to name the subclass instead of ``algo: PPO``;
- a callback cannot reach the loss (SB3 calls none inside ``train()``), and
  torch hooks on the parameters would need the extra term's gradient computed
  in a second backward pass, outside SB3's gradient clipping;
- mixing the policy's outputs changes the objective (the nonlinearity above).

What SB3 logs (``train/loss``, ``train/approx_kl``, the clip fraction) is
computed from the tensors it was given, i.e. without the extra term.

Example:
    >>> import torch
    >>> x = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> extra = (3.0 * x).sum()  # an extra term, d/dx = 3
    >>> out = attach_loss(x * 1.0, scale=0.5, extra=extra)
    >>> out.sum().backward()  # SB3's loss: d/dx = 1, scaled to 0.5
    >>> x.grad.tolist()
    [3.5, 3.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["Minibatch", "attach_loss", "on_policy_loss"]


@dataclass(frozen=True)
class Minibatch:
    """One PPO/A2C minibatch and the algorithm settings its loss needs.

    Attributes:
        samples: SB3's ``RolloutBufferSamples`` (observations, actions,
            old_values, old_log_prob, advantages, returns).
        algorithm: ``"ppo"`` or ``"a2c"`` (which formula SB3 uses).
        clip_range: PPO's current clip range (``None`` for A2C).
        clip_range_vf: PPO's current value clip range, or ``None``.
        normalize_advantage: Whether SB3 normalises the advantages.
        ent_coef: Entropy coefficient.
        vf_coef: Value-loss coefficient.
    """

    samples: Any
    algorithm: str
    clip_range: float | None
    clip_range_vf: float | None
    normalize_advantage: bool
    ent_coef: float
    vf_coef: float


def on_policy_loss(
    batch: Minibatch,
    values: torch.Tensor,
    log_prob: torch.Tensor,
    entropy: torch.Tensor | None,
    behaviour_log_prob: torch.Tensor | None = None,
) -> torch.Tensor:
    """SB3's PPO or A2C loss on ``batch`` for the given policy outputs.

    PPO (``stable_baselines3/ppo/ppo.py``, ``train``): clipped surrogate with the
    ratio ``exp(log_prob − old_log_prob)`` and optional value clipping, plus
    ``ent_coef·entropy_loss + vf_coef·value_loss``. A2C
    (``stable_baselines3/a2c/a2c.py``): ``−mean(advantages · log_prob)``; with
    ``behaviour_log_prob`` given, the importance-weighted form
    ``−mean(advantages · exp(log_prob − behaviour_log_prob))``, whose gradient is
    ``−mean(advantages · π/π_b · ∇log π)`` (the policy gradient of ``π`` from
    samples of ``π_b``).

    Args:
        batch: The minibatch and settings.
        values: Value predictions, any shape that flattens to the batch.
        log_prob: Log-probabilities of the taken actions.
        entropy: Entropies, or ``None`` (estimated from ``log_prob`` as SB3 does).
        behaviour_log_prob: A2C only: the behaviour policy's log-probabilities
            for importance weighting (PPO's ratio uses ``old_log_prob``).

    Returns:
        The scalar loss.
    """
    samples = batch.samples
    values = values.flatten()
    advantages = samples.advantages
    if batch.normalize_advantage and (batch.algorithm == "a2c" or len(advantages) > 1):
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    if batch.algorithm == "ppo":
        assert batch.clip_range is not None
        ratio = torch.exp(log_prob - samples.old_log_prob)
        clipped = torch.clamp(ratio, 1 - batch.clip_range, 1 + batch.clip_range)
        policy_loss = -torch.min(advantages * ratio, advantages * clipped).mean()
        if batch.clip_range_vf is None:
            values_pred = values
        else:
            values_pred = samples.old_values + torch.clamp(
                values - samples.old_values, -batch.clip_range_vf, batch.clip_range_vf
            )
    else:
        if behaviour_log_prob is None:
            policy_loss = -(advantages * log_prob).mean()
        else:
            policy_loss = -(advantages * torch.exp(log_prob - behaviour_log_prob)).mean()
        values_pred = values
    value_loss = F.mse_loss(samples.returns, values_pred)
    entropy_loss = -torch.mean(-log_prob) if entropy is None else -torch.mean(entropy)
    return policy_loss + batch.ent_coef * entropy_loss + batch.vf_coef * value_loss


class _AttachLoss(torch.autograd.Function):
    """Identity forward; backward scales the incoming gradient and adds ``extra``'s."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, scale: float, extra: torch.Tensor) -> torch.Tensor:
        ctx.scale = scale
        ctx.extra_shape = extra.shape
        ctx.extra_dtype = extra.dtype
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, torch.Tensor]:
        # d(scale·L + extra)/d(extra) = 1, whatever gradient L sends into the tensor.
        ones = torch.ones(ctx.extra_shape, dtype=ctx.extra_dtype, device=grad.device)
        return grad * ctx.scale, None, ones


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.scale, None


def attach_loss(
    tensor: torch.Tensor, scale: float = 1.0, extra: torch.Tensor | None = None
) -> torch.Tensor:
    """``tensor`` unchanged, with a backward that scales its gradient and adds ``extra``'s.

    Whatever loss ``L`` is computed from the returned tensor, ``L.backward()``
    accumulates ``scale·∇L + ∇extra`` in the parameters. Attach ``extra`` to
    one output only, one the loss always uses (PPO/A2C: the log-probabilities).

    Args:
        tensor: A policy output (values, log-probabilities, entropies).
        scale: Weight of the gradient that flows back into ``tensor``.
        extra: A scalar loss whose gradient is added, or ``None``.
    """
    if extra is None:
        return tensor if scale == 1.0 else _ScaleGrad.apply(tensor, float(scale))
    return _AttachLoss.apply(tensor, float(scale), extra)
