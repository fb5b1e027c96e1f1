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
from gymnasium import spaces
from stable_baselines3.common.torch_layers import CombinedExtractor, NatureCNN
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.sac.policies import SACPolicy

from rlnoise.core.adaptive import AdaptiveScale
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike
from rlnoise.nn.noisy_net import NoisyNetConfig
from rlnoise.policies.base import (
    DEFAULT,
    PARAM_NOISE_COMBINATIONS,
    NoisyPolicyMixin,
    PolicyDefault,
    find_constructing_algorithm,
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

# Plappert et al.'s DDPG setting: target action distance 0.2, x/÷ 1.01.
DEFAULT_PARAM_NOISE = NoiseSpec("gaussian", scale=0.1, adaptive=AdaptiveScale(target=0.2))


def critic_networks(prefix: str, n_critics: int) -> list[tuple[str, bool, bool]]:
    """The Q-network MLPs of an SB3 ``ContinuousCritic`` named ``prefix``."""
    return [(f"{prefix}.qf{i}", True, False) for i in range(n_critics)]


class NoisySACPolicy(NoisyPolicyMixin, SACPolicy):
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

    _target_prefixes = ("critic_target",)
    _target_pairs = (("critic", "critic_target"),)
    _noisy_net_prefixes = ("actor",)
    _param_noise_prefixes = ("actor",)
    _param_noise_exclude = ("actor.log_std",)
    _output_modules = ("actor.mu",)

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        *,
        param_noise: NoiseSpecLike | PolicyDefault | None = DEFAULT,
        noisy_net: Any = False,
        weight_noise: NoiseSpecLike | None = None,
        activation_noise: NoiseSpecLike | None = None,
        layer_norm: bool | str | None = None,
        noise_seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if param_noise is DEFAULT:
            # With NoisyNet the actor explores through its noisy layers instead.
            noisy = NoisyNetConfig.from_value(noisy_net) is not None
            param_noise = None if noisy else DEFAULT_PARAM_NOISE
        self._init_noise_options(
            weight_noise=weight_noise,
            activation_noise=activation_noise,
            noisy_net=noisy_net,
            param_noise=param_noise,  # type: ignore[arg-type]
            layer_norm=layer_norm,
            noise_seed=noise_seed,
            algorithm=find_constructing_algorithm(),
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _check_param_noise(self) -> None:
        if not isinstance(self.action_space, spaces.Box):
            raise ValueError(
                f"param_noise: NoisySACPolicy needs Box actions, got {self.action_space}; "
                "parameter noise works with: " + "; ".join(PARAM_NOISE_COMBINATIONS)
            )

    # -- assembly ----------------------------------------------------------------
    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        self._install_noise(lr_schedule)

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

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.actor.optimizer, self.critic.optimizer]

    def _param_noise_parts(self) -> dict[str, Any]:
        return {
            "output_fn": lambda obs: self.actor(obs, deterministic=True),
            "distance": "rms",
            "recorder": self.actor,
            "default_target": 0.2,
            "default_resample": "episode",
        }

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._noise_constructor_parameters())
        data["share_features_extractor"] = self.share_features_extractor
        return data


class NoisySACCnnPolicy(NoisySACPolicy):
    """:class:`NoisySACPolicy` with SB3's ``NatureCNN`` extractor (image observations)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(*args, **kwargs)


class NoisySACMultiInputPolicy(NoisySACPolicy):
    """:class:`NoisySACPolicy` with SB3's ``CombinedExtractor`` (Dict observations)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", CombinedExtractor)
        super().__init__(*args, **kwargs)


MlpPolicy = NoisySACPolicy
CnnPolicy = NoisySACCnnPolicy
MultiInputPolicy = NoisySACMultiInputPolicy
