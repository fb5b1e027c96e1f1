"""Adversarial observation attacks in an l_inf ball: FGSM and PGD.

Each row is attacked independently: the loss is a sum of per-row losses, so
the gradient of row ``i`` depends on row ``i`` only, and results do not depend
on which other rows share the batch.

- Discrete actions: maximise the cross-entropy between the scores (logits or
  Q-values) of the perturbed observation and the greedy action of the clean
  one (Huang et al., 2017; Pattanaik et al., 2018).
- Continuous actions: maximise the squared l2 distance between the perturbed
  and the clean deterministic action (MAD, Zhang et al., 2020). That loss has
  zero gradient at the clean observation, hence a random start.

Example:
    >>> import torch
    >>> net = torch.nn.Linear(2, 3)
    >>> x = torch.zeros(4, 2)
    >>> x_adv = linf_attack(net, x, eps=0.1, steps=1, step_size=0.1, discrete=True)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-7)
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["cross_entropy_direction", "linf_attack", "linf_pgd"]


def linf_attack(
    scores_fn: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    discrete: bool,
    start: torch.Tensor | None = None,
    actions_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    low: torch.Tensor | None = None,
    high: torch.Tensor | None = None,
    fixed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Projected signed-gradient ascent on an attack loss, per row (FGSM: one step of ``eps``).

    Args:
        scores_fn: Observation batch ``(n, *obs_shape)`` -> scores ``(n, k)``,
            differentiable.
        obs: Clean observations ``(n, *obs_shape)``, floating point.
        eps: l_inf radius.
        steps: Gradient steps.
        step_size: Size of each signed step.
        discrete: Cross-entropy against the clean greedy action (True) or MAD
            action deviation (False).
        start: Offsets in ``[-eps, eps]`` to start from, shape of ``obs``
            (random start); ``None`` starts at the clean observation.
        actions_fn: Scores -> deterministic actions (continuous case); identity
            when ``None``.
        low: Lower bounds the attacked observation is clipped to (``None``: none).
        high: Upper bounds, as ``low``.
        fixed: Boolean mask (broadcast to ``obs``) of elements left unperturbed
            (``None``: none), e.g. the integer keys of a flattened Dict observation.

    Returns:
        Attacked observations, detached, with ``|x_adv - obs| <= eps``.
    """
    obs = obs.detach()
    if eps == 0.0:
        return obs.clone()
    with torch.no_grad():
        clean_scores = scores_fn(obs)
        if discrete:
            target = clean_scores.argmax(dim=1)
        else:
            reference = clean_scores if actions_fn is None else actions_fn(clean_scores)

    def gradient(x: torch.Tensor) -> torch.Tensor:
        scores = scores_fn(x)
        if discrete:
            (grad,) = torch.autograd.grad(
                scores, x, grad_outputs=cross_entropy_direction(scores.detach(), target)
            )
            return grad
        action = scores if actions_fn is None else actions_fn(scores)
        (grad,) = torch.autograd.grad((action - reference).pow(2).flatten(1).sum(), x)
        return grad

    return linf_pgd(
        None,
        obs,
        eps=eps,
        steps=steps,
        step_size=step_size,
        start=start,
        low=low,
        high=high,
        fixed=fixed,
        gradient_fn=gradient,
    )


def linf_pgd(
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None,
    obs: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor,
    start: torch.Tensor | None = None,
    low: torch.Tensor | None = None,
    high: torch.Tensor | None = None,
    fixed: torch.Tensor | None = None,
    gradient_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Maximise a per-row loss by projected signed-gradient ascent in an l_inf box.

    The generic engine under every gradient attack: the caller gives the
    objective, this function keeps the iterate inside ``[obs - eps, obs + eps]``
    (intersected with ``[low, high]``, with ``fixed`` elements pinned).

    Args:
        loss_fn: Observation batch ``(n, *obs_shape)`` -> per-row losses ``(n,)``
            to maximise (summed before the gradient, so rows stay independent
            when the loss of row ``i`` depends on row ``i`` only). Ignored when
            ``gradient_fn`` is given.
        obs: Clean observations ``(n, *obs_shape)``, floating point.
        eps: l_inf radius: a float, or a tensor broadcastable to ``obs``
            (a per-dimension budget, e.g. ``0.3 * state_std``).
        steps: Gradient steps (FGSM: one step with ``step_size = eps``).
        step_size: Size of each signed step; float or tensor as ``eps``.
        start: Offsets to start from, shape of ``obs`` (clipped into the box);
            ``None`` starts at the clean observation.
        low: Lower bounds of the attacked observation (``None``: none).
        high: Upper bounds, as ``low``.
        fixed: Boolean mask (broadcast to ``obs``) of elements left unperturbed.
        gradient_fn: Observation batch (requires grad) -> gradient of the
            objective; replaces ``loss_fn`` where the gradient is computed in a
            special way (e.g. a rescaled cross-entropy direction).

    Returns:
        Attacked observations, detached, within the box.

    Example:
        >>> import torch
        >>> w = torch.tensor([1.0, -2.0])
        >>> x = linf_pgd(lambda x: x @ w, torch.zeros(3, 2), eps=0.5, steps=1, step_size=0.5)
        >>> x[0].tolist()
        [0.5, -0.5]
    """
    obs = obs.detach()
    if loss_fn is None and gradient_fn is None:
        raise ValueError("linf_pgd needs loss_fn or gradient_fn, got neither")
    lower, upper = obs - eps, obs + eps
    if low is not None:
        lower = torch.maximum(lower, low)
    if high is not None:
        upper = torch.minimum(upper, high)
    if fixed is not None:
        lower, upper = torch.where(fixed, obs, lower), torch.where(fixed, obs, upper)
    x = obs.clone() if start is None else torch.clamp(obs + start, lower, upper)
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            if gradient_fn is not None:
                grad = gradient_fn(x)
            else:
                assert loss_fn is not None
                (grad,) = torch.autograd.grad(loss_fn(x).sum(), x)
        x = torch.clamp(x.detach() + step_size * grad.sign(), lower, upper)
    return x.detach()


def cross_entropy_direction(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient of the cross-entropy w.r.t. the scores, rescaled per row to max |.| = 1.

    The gradient is ``softmax(z) - onehot(y)``. A confident policy saturates
    float32 softmax (``p_y`` rounds to 1, the others to 0), which would zero
    the gradient and silently disable the attack. Computing it in float64 with
    ``p_y - 1 = -sum_{j != y} p_j`` and rescaling each row by a positive
    constant keeps its exact direction, and so the sign step, representable.

    Args:
        scores: Logits or Q-values ``(n, k)``.
        target: Clean greedy actions ``(n,)``.

    Returns:
        ``(n, k)`` in the dtype of ``scores``.
    """
    z = scores.to(torch.float64)
    p = torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))
    column = target.reshape(-1, 1)
    others = p.scatter(1, column, 0.0).sum(dim=1, keepdim=True)
    direction = p.scatter(1, column, -others)
    norm = direction.abs().amax(dim=1, keepdim=True)
    direction = torch.where(norm > 0, direction / torch.where(norm > 0, norm, 1.0), 0.0)
    return direction.to(scores.dtype)
