"""Differentiable access to an SB3 policy's heads: its action distribution, action and critic.

Attacks differentiate these with respect to the observation. Everything is
read through SB3's public policy API:

====================  ===============================  ===================================
family                action distribution / action     critic value of the policy's action
====================  ===============================  ===================================
``actor_critic``      ``get_distribution(obs)``        ``predict_values(obs)``: V(s)
(PPO, A2C, TRPO)      (Categorical or diagonal
                      Gaussian)
``q`` (DQN)           Boltzmann ``softmax(Q(s))``;     ``max_a Q(s, a)`` = Q(s, π(s))
                      action ``argmax Q``
``squashed_actor``    ``actor.get_action_dist_params``  ``min_i critic(s, tanh μ(s))_i``
(SAC, TQC)            (Gaussian before tanh)           (what SAC's actor maximises; TQC:
                                                       the mean of its quantiles)
``deterministic``     ``actor(obs)``                   ``critic.q1_forward(s, μ(s))``
(TD3, DDPG)                                            (what TD3's actor maximises)
====================  ===============================  ===================================

``prepare`` maps the rows an attack moves to the policy's input (VecNormalize
statistics, a Dict observation's unflattening); it must be differentiable.

Example:
    >>> import torch
    >>> from stable_baselines3 import PPO
    >>> heads = PolicyHeads(PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu").policy)
    >>> heads.family, heads.value(torch.zeros(2, 4)).shape
    ('actor_critic', torch.Size([2]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["FAMILIES", "PolicyHeads", "policy_family"]

FAMILIES = ("actor_critic", "q", "squashed_actor", "deterministic")


def policy_family(policy: Any) -> str:
    """The family of an SB3 policy (see the module table).

    Raises:
        ValueError: A policy of none of them (recurrent, action-masked, QR-DQN...).
    """
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy
    from stable_baselines3.td3.policies import TD3Policy

    name = type(policy).__name__
    if "Recurrent" in name or "Maskable" in name:
        raise ValueError(
            f"policy class {name} is recurrent or action-masked; it cannot be attacked"
        )
    if isinstance(policy, ActorCriticPolicy):
        return "actor_critic"
    if isinstance(policy, DQNPolicy):
        return "q"
    if isinstance(policy, TD3Policy):
        return "deterministic"
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "get_action_dist_params"):
        return "squashed_actor"
    raise ValueError(
        f"policy class {name} has no known heads (PPO/A2C/TRPO, DQN, SAC, TD3/DDPG policies)"
    )


class PolicyHeads:
    """The differentiable heads of one SB3 policy (see the module table).

    Args:
        policy: The model's policy (``model.policy``), in evaluation mode.
        prepare: Rows -> the policy's input, differentiable (``None``: identity).
    """

    def __init__(self, policy: Any, prepare: Callable[[torch.Tensor], Any] | None = None):
        self.policy = policy
        self.family = policy_family(policy)
        self.prepare = prepare or (lambda x: x)

    @property
    def stochastic(self) -> bool:
        """True when the policy acts from a distribution (KL-based MAD), False for TD3/DDPG."""
        return self.family != "deterministic"

    # -- the action distribution ---------------------------------------------------
    def distribution(self, x: torch.Tensor) -> torch.distributions.Distribution:
        """The policy's action distribution at rows ``x`` (a ``torch.distributions`` object).

        Categorical for discrete actor-critics and DQN (Boltzmann over Q), a
        per-dimension Normal for Gaussian actor-critics and SAC (before the
        tanh, which leaves KL divergences unchanged).

        Raises:
            ValueError: TD3/DDPG (deterministic) or another distribution type.
        """
        obs = self.prepare(x)
        policy = self.policy
        if self.family == "q":
            return torch.distributions.Categorical(logits=policy.q_net(obs))
        if self.family == "squashed_actor":
            mean, log_std, _ = policy.actor.get_action_dist_params(obs)
            return torch.distributions.Normal(mean, log_std.exp())
        if self.family == "actor_critic":
            inner = policy.get_distribution(obs).distribution
            if isinstance(inner, torch.distributions.Categorical | torch.distributions.Normal):
                return inner
            raise ValueError(
                f"{type(policy).__name__}: MAD supports Categorical and Gaussian action "
                f"distributions, got {type(inner).__name__}"
            )
        raise ValueError(f"{type(policy).__name__} is deterministic: it has no distribution")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised log-probabilities of a discrete policy (logits, or Q for DQN)."""
        dist = self.distribution(x)
        if not isinstance(dist, torch.distributions.Categorical):
            raise ValueError(f"{type(self.policy).__name__} has no discrete action distribution")
        return dist.logits

    def action(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic continuous action in the policy's scaled space, differentiable.

        TD3/DDPG: the actor's output; SAC: ``tanh(mean)``; Gaussian
        actor-critics: the mean.
        """
        obs = self.prepare(x)
        if self.family == "deterministic":
            return self.policy.actor(obs)
        if self.family == "squashed_actor":
            mean, _, _ = self.policy.actor.get_action_dist_params(obs)
            return torch.tanh(mean)
        dist = self.distribution(x)
        if isinstance(dist, torch.distributions.Normal):
            return dist.mean
        raise ValueError(f"{type(self.policy).__name__} has discrete actions")

    # -- the critic ---------------------------------------------------------------
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's value of the policy's own action at rows ``x``, per row ``(n,)``.

        PPO/A2C: ``V(x)``. DQN: ``Q(x, argmax Q(x)) = max_a Q(x, a)``. SAC:
        ``min_i Q_i(x, tanh μ(x))`` (TQC: the mean of every critic's quantiles).
        TD3/DDPG: ``Q_1(x, μ(x))``. The action is the one the policy takes at
        ``x`` itself, as in Pattanaik et al. (2018).
        """
        obs = self.prepare(x)
        policy = self.policy
        if self.family == "actor_critic":
            return policy.predict_values(obs).reshape(-1)
        if self.family == "q":
            return policy.q_net(obs).amax(dim=1)
        if self.family == "squashed_actor":
            mean, _, _ = policy.actor.get_action_dist_params(obs)
            q_values = policy.critic(obs, torch.tanh(mean))
            if isinstance(q_values, torch.Tensor):  # TQC: (n, critics, quantiles)
                return q_values.flatten(1).mean(dim=1)  # what TQC's actor maximises
            return torch.cat(q_values, dim=1).amin(dim=1)
        return policy.critic.q1_forward(obs, policy.actor(obs)).reshape(-1)
