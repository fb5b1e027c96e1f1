"""``NoisyTD3Policy``: TD3 and DDPG exploring with parameter-space noise (default) or NoisyNet.

Plappert et al. (2018) replace DDPG's action noise by a perturbed actor: here
the acting actor is the learning actor plus ``sigma * eps``, ``eps`` drawn per
episode, ``sigma`` adapted (x/÷ 1.01) so that the RMS distance between the
perturbed and the clean actions (SB3's [-1, 1] action units) is 0.2; layer
norms go in the actor's hidden layers. Learning (actor loss, critic targets through
``actor_target``) uses the clean networks; ``predict`` in evaluation is
clean. Use it without ``action_noise`` (or with, if you want both).

Example:
    >>> from stable_baselines3 import TD3
    >>> model = TD3(NoisyTD3Policy, "Pendulum-v1", learning_starts=32, batch_size=32,
    ...             policy_kwargs={"net_arch": [32, 32]}, seed=0, device="cpu")
    >>> _ = model.learn(96)
    >>> model.policy.noise_logs()["param_noise"] > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3.td3.policies import TD3Policy

from rlnoise.policies.options import CombinedExtractorByDefault, NatureCNNByDefault
from rlnoise.policies.perturbed_actor import PerturbedActorMixin, critic_networks

__all__ = [
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "NoisyTD3CnnPolicy",
    "NoisyTD3MultiInputPolicy",
    "NoisyTD3Policy",
]


class NoisyTD3Policy(PerturbedActorMixin, TD3Policy):
    """SB3's ``TD3Policy`` (TD3, DDPG) with parameter noise, NoisyNet, weight and activation noise.

    Args:
        observation_space: As SB3.
        action_space: As SB3 (Box).
        lr_schedule: As SB3.
        param_noise: Adaptive parameter noise on the actor (default
            :data:`rlnoise.policies.sac.DEFAULT_PARAM_NOISE`, off when
            ``noisy_net`` is on); ``None``: off.
        noisy_net: ``True`` or a :class:`~rlnoise.nn.NoisyNetConfig` mapping:
            the actor's linear layers (and the target actor's, with independent
            noise) become noisy; online resampled every acting step and update,
            target every update.
        weight_noise: Noise on the actor's and critics' weights (default off).
        activation_noise: Noise on their hidden activations (default off).
        layer_norm: LayerNorm in the hidden layers: ``True`` in actor and critics,
            ``"actor"`` in the actors only (the default with ``param_noise``).
        noise_seed: Seed of all noise draws (default: derived from the algorithm's seed).
        **kwargs: Every other ``TD3Policy`` argument.
    """

    _policy_name = "NoisyTD3Policy"
    _target_prefixes = ("actor_target", "critic_target")
    _target_pairs = (("actor", "actor_target"), ("critic", "critic_target"))

    def _mlp_networks(self) -> list[tuple[str, bool, bool]]:
        n_critics: int = self.critic_kwargs["n_critics"]  # type: ignore[assignment]
        return [
            ("actor.mu", True, True),
            ("actor_target.mu", True, True),
            *critic_networks("critic", n_critics),
            *critic_networks("critic_target", n_critics),
        ]

    def _rebuild_optimizers(self, lr_schedule: Callable[[float], float]) -> None:
        self.actor.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.actor.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )
        self.critic.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.critic.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _actor_actions(self, obs: Any) -> torch.Tensor:
        return self.actor(obs)


class NoisyTD3CnnPolicy(NatureCNNByDefault, NoisyTD3Policy):
    """:class:`NoisyTD3Policy` with SB3's ``NatureCNN`` extractor (image observations)."""


class NoisyTD3MultiInputPolicy(CombinedExtractorByDefault, NoisyTD3Policy):
    """:class:`NoisyTD3Policy` with SB3's ``CombinedExtractor`` (Dict observations)."""


MlpPolicy = NoisyTD3Policy
CnnPolicy = NoisyTD3CnnPolicy
MultiInputPolicy = NoisyTD3MultiInputPolicy
