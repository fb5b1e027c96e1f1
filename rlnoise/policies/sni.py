r"""Selective noise injection (SNI) for PPO and A2C (Igl et al., NeurIPS 2019).

Igl, Ciosek, Li, Tschiatschek, Zhang, Devlin and Hofmann, "Generalization in
Reinforcement Learning with Selective Noise Injection and Information
Bottleneck" (NeurIPS 2019, Sec. 4). Noise injected into the network (dropout,
weight or activation noise, NoisyNet) regularises, but applied naively it also
makes the *behaviour* policy noisy and the learning targets with it. SNI keeps
the regularising gradient and removes the rest:

1. rollouts are collected by the noise-free network :math:`\bar\pi_\theta`
   (every noise source is on in ``train`` only: checked by
   :func:`rlnoise.policies.options.check_sni`);
2. the update mixes the gradient of the noise-free and of the noisy network,
   both importance-weighted against the behaviour policy :math:`\bar\pi_\theta`:

.. math::

   \nabla_\theta J^{SNI} = \lambda\, G(\bar\pi_\theta, \bar\pi_\theta)
                         + (1 - \lambda)\, G(\bar\pi_\theta, \pi_\theta),
   \qquad
   G(\pi^r, \pi) = \hat{\mathbb{E}}_{a_t \sim \pi^r}\Big[\sum_t
       \frac{\pi(a_t|x_t)}{\pi^r(a_t|x_t)}\,\nabla_\theta \log\pi(a_t|x_t)\,\hat A_t\Big]

(the paper's importance-weighted actor-critic gradient, with :math:`\pi^r`
the rollout policy). With PPO the importance weight is PPO's ratio
:math:`\pi_\theta / \bar\pi_{\theta_{old}}`, clipped as PPO clips it: SB3's
``old_log_prob`` comes from the noise-free network that acted, so the noisy
term is PPO's loss on the noisy network's outputs, unchanged. With A2C
(one update per rollout, :math:`\bar\pi_{\theta_{old}} = \bar\pi_\theta`) the
noise-free term has weight 1 and the noisy term the weight
:math:`\pi_\theta / \bar\pi_\theta`. Value and entropy terms are mixed with the
same λ. λ = 1 is the noise-free update; λ = 0 trains the noisy network only
(rlnoise's default for regularising noise, which already acts noise-free).
The paper uses λ = 0.5.

The two losses, not the two networks' outputs, are mixed: PPO's clipped
objective is nonlinear in the log-probability. SB3 computes the first term
itself from what ``evaluate_actions`` returns; the second is added through
the extra-loss seam of :mod:`rlnoise.policies.losses` (the reasons for that
seam are given there).

Example:
    >>> from stable_baselines3 import PPO
    >>> from rlnoise.policies import NoisyActorCriticPolicy
    >>> model = PPO(NoisyActorCriticPolicy, "CartPole-v1", n_steps=64, batch_size=32,
    ...             n_epochs=1, seed=0, device="cpu", policy_kwargs={
    ...                 "activation_noise": "dropout:0.1,rescale=true", "weight_noise": None,
    ...                 "sni_lambda": 0.5})
    >>> _ = model.learn(64)
    >>> model.policy.noise_options.sni_lambda
    0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rlnoise.nn.control import NoiseControl
from rlnoise.policies.losses import Minibatch, attach_loss, on_policy_loss

__all__ = ["selective_noise_injection"]

Outputs = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


def selective_noise_injection(
    evaluate: Callable[[Any, torch.Tensor], Outputs],
    control: NoiseControl,
    observations: Any,
    actions: torch.Tensor,
    batch: Minibatch,
    sni_lambda: float,
) -> Outputs:
    """The outputs SB3's loss receives for one minibatch under SNI.

    The noise-free outputs, whose gradient is scaled by λ, carrying the noisy
    loss ``(1 − λ)·L(noisy)`` as an extra term: SB3's ``loss.backward()`` then
    accumulates the gradient of ``λ·L(noise-free) + (1 − λ)·L(noisy)``.

    Args:
        evaluate: The policy's SB3 ``evaluate_actions``.
        control: The policy's noise control (switched off for the noise-free pass).
        observations: The minibatch's observations.
        actions: Its actions (as SB3 passes them).
        batch: The minibatch and the algorithm's loss settings.
        sni_lambda: λ, the weight of the noise-free loss.
    """
    with control.suspended():
        values, log_prob, entropy = evaluate(observations, actions)
    noisy_values, noisy_log_prob, noisy_entropy = evaluate(observations, actions)
    noisy_loss = on_policy_loss(
        batch,
        noisy_values,
        noisy_log_prob,
        noisy_entropy,
        behaviour_log_prob=batch.samples.old_log_prob,
    )
    extra = (1.0 - sni_lambda) * noisy_loss
    return (
        attach_loss(values, sni_lambda),
        attach_loss(log_prob, sni_lambda, extra),
        None if entropy is None else attach_loss(entropy, sni_lambda),
    )
