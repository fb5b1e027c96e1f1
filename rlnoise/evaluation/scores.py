"""A policy's differentiable action scores and its deterministic action, by policy family.

SB3's ``predict(obs, deterministic=True)`` builds a ``torch.distributions``
object and takes its mode. For the families below rlnoise computes the same
numbers from the pre-distribution output (the *scores*: logits, Q-values or
action means), which is what observation attacks differentiate and what the
per-row weights of test-time weight noise are vmapped through.

==========================  ========================  ===========================
family                      policies                  scores
==========================  ========================  ===========================
``actor_critic``            PPO, A2C, TRPO            ``action_net`` output
``q``                       DQN                       Q-values
``squashed_actor``          SAC (and TQC's)           the actor's mean (pre-tanh)
``deterministic_actor``     TD3, DDPG                 the actor's output
==========================  ========================  ===========================

Other feed-forward policies (QR-DQN, ARS, CrossQ) have no family: they act
through SB3's own method and run every condition but attacks and weight noise.

Example:
    >>> import torch
    >>> categorical_mode(torch.tensor([[0.0, 2.0, 1.0]])).tolist()
    [1]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlnoise.evaluation.observations import DictLayout

__all__ = [
    "ACTION_PATH",
    "DictScores",
    "Scores",
    "actions_from_scores",
    "categorical_mode",
    "categorical_mode_numpy",
    "policy_family",
]

#: Parameters that influence the action, by policy family (prefixes of named_parameters()).
ACTION_PATH = {
    "actor_critic": (
        "features_extractor.",
        "pi_features_extractor.",
        "mlp_extractor.policy_net.",
        "action_net.",
    ),
    "q": ("q_net.",),
    "squashed_actor": ("actor.",),
    "deterministic_actor": ("actor.",),
}


def policy_family(policy: Any) -> str | None:
    """Which score function applies: ``actor_critic``, ``q``, ``squashed_actor``,
    ``deterministic_actor``, ``unsupported`` (recurrent or action-masked), or
    ``None`` (SB3's own prediction only)."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy
    from stable_baselines3.td3.policies import TD3Policy

    name = type(policy).__name__
    if "Recurrent" in name or "Maskable" in name:
        return "unsupported"
    if isinstance(policy, ActorCriticPolicy):
        return "actor_critic"
    if isinstance(policy, DQNPolicy):
        return "q"
    if isinstance(policy, TD3Policy):
        return "deterministic_actor"
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "get_action_dist_params"):
        return "squashed_actor"
    return None


# Below this gap between the two largest logits (relative to their size) float rounding in
# softmax(logits - logsumexp(logits)) could tie or swap them; far above the ~1e-7 it can reach.
_TIE_GAP = 1e-4


def categorical_mode(logits: torch.Tensor) -> torch.Tensor:
    """``Categorical(logits=logits).probs.argmax(dim=1)``, SB3's deterministic discrete action.

    ``argmax(probs)`` equals ``argmax(logits)`` unless the two largest logits are so
    close that rounding in the softmax makes their probabilities tie (then the
    first index wins). Rows with such a near-tie take the exact path (the same
    operations ``torch.distributions.Categorical`` performs); the others skip
    the softmax. Each row's result depends on that row alone.
    """
    fast = logits.argmax(dim=1)
    if logits.shape[1] < 2:
        return fast
    top = logits.topk(2, dim=1).values
    close = (top[:, 0] - top[:, 1]) <= _TIE_GAP * (1.0 + top[:, 0].abs())
    if bool(close.any()):
        rows = logits[close]
        normalized = rows - rows.logsumexp(dim=-1, keepdim=True)
        fast[close] = F.softmax(normalized, dim=-1).argmax(dim=1)
    return fast


def categorical_mode_numpy(logits: torch.Tensor) -> np.ndarray:
    """:func:`categorical_mode` with the cheap part in numpy (tiny arrays: less overhead)."""
    values = logits.detach().cpu().numpy()
    mode = values.argmax(axis=1)
    n_actions = values.shape[1]
    if n_actions < 2:
        return mode
    top = np.partition(values, n_actions - 2, axis=1)[:, n_actions - 2 :]  # [second, first]
    close = (top[:, 1] - top[:, 0]) <= _TIE_GAP * (1.0 + np.abs(top[:, 1]))
    if close.any():
        rows = np.flatnonzero(close)
        picked = logits[torch.as_tensor(rows, device=logits.device)]
        normalized = picked - picked.logsumexp(dim=-1, keepdim=True)
        mode[rows] = F.softmax(normalized, dim=-1).argmax(dim=1).cpu().numpy()
    return mode


def actions_from_scores(policy: Any, family: str | None, scores: torch.Tensor) -> torch.Tensor:
    """Deterministic actions from a family's scores, as the policy's distribution's mode."""
    if family == "q":
        return scores.argmax(dim=1).reshape(-1)
    if family == "squashed_actor":
        return torch.tanh(scores)
    if family == "deterministic_actor":
        return scores
    from stable_baselines3.common import distributions as d

    dist = policy.action_dist
    if isinstance(dist, d.CategoricalDistribution):
        return categorical_mode(scores)
    if isinstance(dist, d.MultiCategoricalDistribution):
        parts = torch.split(scores, list(dist.action_dims), dim=1)
        return torch.stack([categorical_mode(p) for p in parts], dim=1)
    if isinstance(dist, d.BernoulliDistribution):
        return torch.round(torch.sigmoid(scores))  # Bernoulli(logits=...).probs
    if isinstance(dist, d.SquashedDiagGaussianDistribution):
        return torch.tanh(scores)
    if isinstance(dist, d.StateDependentNoiseDistribution) and dist.bijector is not None:
        return dist.bijector.forward(scores)
    return scores


class Scores(nn.Module):
    """Differentiable pre-distribution output of a policy, as a module (for ``functional_call``).

    Its parameters are the policy's, named ``policy.<name>``.
    """

    def __init__(self, policy: Any, family: str):
        super().__init__()
        self.policy = policy
        self.family = family

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        policy = self.policy
        if self.family == "actor_critic":
            from stable_baselines3.common.policies import BaseModel

            features = BaseModel.extract_features(policy, obs, policy.pi_features_extractor)
            return policy.action_net(policy.mlp_extractor.forward_actor(features))
        if self.family == "q":
            return policy.q_net(obs)
        if self.family == "squashed_actor":
            mean_actions, _, _ = policy.actor.get_action_dist_params(obs)
            return mean_actions
        return policy.actor(obs)


class DictScores(Scores):
    """:class:`Scores` of a Dict-observation policy, fed flat rows (see :class:`DictLayout`)."""

    def __init__(self, policy: Any, family: str, layout: DictLayout):
        super().__init__(policy, family)
        self.layout = layout

    def forward(self, obs: torch.Tensor) -> Any:
        return super().forward(self.layout.unflatten(obs))  # type: ignore[arg-type]
