"""``NoisySACPolicy``: SAC with parameter-space exploration (default), NoisyNet, weight noise.

By default the actor that acts is perturbed in parameter space (Plappert et
al., 2018): ``sigma`` starts at 0.1 and is adapted (x/÷ 1.01) so that the RMS
distance between the perturbed and the clean actor's deterministic actions
(in SB3's squashed [-1, 1] action units) is 0.2; a new perturbation is drawn
per episode; layer norms go in the actor's hidden layers. The
perturbation is used for acting only: the SAC losses (and the critic targets)
use the clean actor, which is correct for an off-policy learner because the
replay buffer stores the actions actually taken. ``predict`` in evaluation is
clean.

Example:
    >>> from stable_baselines3 import SAC
    >>> model = SAC(NoisySACPolicy, "Pendulum-v1", learning_starts=32, batch_size=32,
    ...             policy_kwargs={"net_arch": [32, 32]}, seed=0, device="cpu")
    >>> _ = model.learn(96)
    >>> model.policy.noise_logs()["param_noise_target"]
    0.2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3.sac.policies import SACPolicy

from rlnoise.policies.options import CombinedExtractorByDefault, NatureCNNByDefault
from rlnoise.policies.perturbed_actor import (
    DEFAULT_PARAM_NOISE,
    PerturbedActorMixin,
    critic_networks,
)

__all__ = [
    "DEFAULT_PARAM_NOISE",
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "NoisySACCnnPolicy",
    "NoisySACMultiInputPolicy",
    "NoisySACPolicy",
]


class NoisySACPolicy(PerturbedActorMixin, SACPolicy):
    """SB3's ``SACPolicy`` with parameter noise, NoisyNet, weight and activation noise.

    Args:
        observation_space: As SB3.
        action_space: As SB3 (Box).
        lr_schedule: As SB3.
        param_noise: Adaptive parameter noise on the actor (default
            :data:`DEFAULT_PARAM_NOISE`, off when ``noisy_net`` is on); ``None``
            turns it off.
        noisy_net: ``True`` or a :class:`~rlnoise.nn.NoisyNetConfig` mapping:
            the actor's linear layers become noisy, resampled every acting step
            and every gradient update.
        weight_noise: Noise on the actor's and critics' weights (default off).
        activation_noise: Noise on their hidden activations (default off).
        layer_norm: LayerNorm in the hidden layers: ``True`` in actor and critics,
            ``"actor"`` in the actor only (the default with ``param_noise``).
        noise_seed: Seed of all noise draws (default: derived from the algorithm's seed).
        **kwargs: Every other ``SACPolicy`` argument.
    """

    _policy_name = "NoisySACPolicy"
    _target_prefixes = ("critic_target",)
    _target_pairs = (("critic", "critic_target"),)
    _param_noise_exclude = ("actor.log_std",)

    def _mlp_networks(self) -> list[tuple[str, bool, bool]]:
        n_critics: int = self.critic_kwargs["n_critics"]  # type: ignore[assignment]
        return [
            ("actor.latent_pi", False, True),
            *critic_networks("critic", n_critics),
            *critic_networks("critic_target", n_critics),
        ]

    def _rebuild_optimizers(self, lr_schedule: Callable[[float], float]) -> None:
        self.actor.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.actor.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )
        if self.share_features_extractor:
            critic_parameters = [
                param
                for name, param in self.critic.named_parameters()
                if "features_extractor" not in name
            ]
        else:
            critic_parameters = list(self.critic.parameters())
        self.critic.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            critic_parameters, lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _actor_actions(self, obs: Any) -> torch.Tensor:
        return self.actor(obs, deterministic=True)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        # SB3's SACPolicy leaves it out (its load falls back to the default, False).
        data["share_features_extractor"] = self.share_features_extractor
        return data


class NoisySACCnnPolicy(NatureCNNByDefault, NoisySACPolicy):
    """:class:`NoisySACPolicy` with SB3's ``NatureCNN`` extractor (image observations)."""


class NoisySACMultiInputPolicy(CombinedExtractorByDefault, NoisySACPolicy):
    """:class:`NoisySACPolicy` with SB3's ``CombinedExtractor`` (Dict observations)."""


MlpPolicy = NoisySACPolicy
CnnPolicy = NoisySACCnnPolicy
MultiInputPolicy = NoisySACMultiInputPolicy
