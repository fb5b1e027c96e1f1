"""The differentiable output of an SB3 policy that attacks and regularisers act on.

=================================  =====================  ===========================
policy                             scores                 discrete
=================================  =====================  ===========================
``ActorCriticPolicy`` (PPO, A2C)   logits / action mean   ``Discrete`` action space
``DQNPolicy``                      Q-values (``q_net``)   yes
``SACPolicy``                      ``tanh`` of the mean   no
``TD3Policy`` (TD3, DDPG)          ``actor(obs)``         no
=================================  =====================  ===========================

Example:
    >>> import torch
    >>> from stable_baselines3 import PPO
    >>> head = policy_head(PPO("MlpPolicy", "CartPole-v1", device="cpu").policy)
    >>> head.discrete, tuple(head.scores(torch.zeros(2, 4)).shape)
    (True, (2, 2))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

__all__ = ["PolicyHead", "policy_head"]


@dataclass(frozen=True)
class PolicyHead:
    """A policy's scores as a function of (preprocessed float) observations.

    Attributes:
        scores: ``(n, *obs_shape) -> (n, k)``, differentiable in the observations
            and the parameters.
        discrete: Scores are logits or Q-values of a ``Discrete`` action space.
        family: ``"actor_critic"``, ``"dqn"``, ``"sac"`` or ``"td3"``.
    """

    scores: Callable[[torch.Tensor], torch.Tensor]
    discrete: bool
    family: str


def policy_head(policy: Any) -> PolicyHead:
    """The :class:`PolicyHead` of an SB3 policy (see the module table).

    Raises:
        ValueError: A policy family or action space the table does not cover.
    """
    if isinstance(policy, ActorCriticPolicy):
        discrete = isinstance(policy.action_space, spaces.Discrete)
        if not discrete and not isinstance(policy.action_space, spaces.Box):
            raise ValueError(
                f"robust training supports Discrete and Box actions, got {policy.action_space}"
            )

        def actor_critic(obs: torch.Tensor) -> torch.Tensor:
            distribution: Any = policy.get_distribution(obs).distribution
            return distribution.logits if discrete else distribution.mean

        return PolicyHead(actor_critic, discrete, "actor_critic")
    q_net = getattr(policy, "q_net", None)
    if isinstance(q_net, torch.nn.Module):
        return PolicyHead(q_net, True, "dqn")
    actor = getattr(policy, "actor", None)
    if isinstance(actor, torch.nn.Module):
        if hasattr(actor, "action_dist"):  # SAC's squashed Gaussian: its deterministic action

            def sac(obs: torch.Tensor) -> torch.Tensor:
                return actor(obs, deterministic=True)

            return PolicyHead(sac, False, "sac")
        return PolicyHead(actor, False, "td3")
    raise ValueError(
        f"robust training supports PPO/A2C, DQN, SAC and TD3/DDPG policies, got "
        f"{type(policy).__name__}"
    )
