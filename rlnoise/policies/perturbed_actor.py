"""What the noisy SAC and TD3 (DDPG) policies share: an actor explored by parameter noise.

Both are off-policy actor-critics on Box actions whose actor acts and whose
critics learn from the replay buffer. They take the same noise options with
the same defaults: adaptive parameter noise on the actor (Plappert et al.,
2018; :data:`DEFAULT_PARAM_NOISE`), unless NoisyNet is asked for; the distance
that adapts its sigma is the RMS between the clean and the perturbed actor's
deterministic actions (SB3's [-1, 1] action units), a new perturbation is
drawn per episode. What differs (target networks, which MLPs there are, how
SB3 builds the optimizers) stays in :mod:`rlnoise.policies.sac` and
:mod:`rlnoise.policies.td3`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import Schedule

from rlnoise.core.adaptive import AdaptiveScale
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike
from rlnoise.nn.noisy_net import NoisyNetConfig
from rlnoise.policies.base import NoisyPolicyMixin
from rlnoise.policies.options import DEFAULT, PARAM_NOISE_COMBINATIONS, PolicyDefault

__all__ = ["DEFAULT_PARAM_NOISE", "PerturbedActorMixin", "critic_networks"]

# Plappert et al.'s DDPG setting: target action distance 0.2, x/÷ 1.01.
DEFAULT_PARAM_NOISE = NoiseSpec("gaussian", scale=0.1, adaptive=AdaptiveScale(target=0.2))


def critic_networks(prefix: str, n_critics: int) -> list[tuple[str, bool, bool]]:
    """The Q-network MLPs of an SB3 ``ContinuousCritic`` named ``prefix``."""
    return [(f"{prefix}.qf{i}", True, False) for i in range(n_critics)]


class PerturbedActorMixin(NoisyPolicyMixin):
    """The noise options, defaults and parameter-noise wiring of SAC's and TD3's noisy policies.

    Put it first in the bases, before SB3's policy class. A concrete policy
    names itself in ``_policy_name`` (for error messages) and gives the
    actor's deterministic actions in :meth:`_actor_actions`.
    """

    _policy_name: ClassVar[str]
    _noisy_net_prefixes = ("actor",)
    _param_noise_prefixes = ("actor",)
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
        self._init_noise(
            weight_noise=weight_noise,
            activation_noise=activation_noise,
            noisy_net=noisy_net,
            param_noise=param_noise,  # type: ignore[arg-type]
            layer_norm=layer_norm,
            noise_seed=noise_seed,
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]

    def _check_param_noise(self) -> None:
        action_space = self.action_space  # type: ignore[attr-defined]
        if not isinstance(action_space, spaces.Box):
            raise ValueError(
                f"param_noise: {self._policy_name} needs Box actions, got {action_space}; "
                "parameter noise works with: " + "; ".join(PARAM_NOISE_COMBINATIONS)
            )

    def _actor_actions(self, obs: Any) -> torch.Tensor:
        """The actor's deterministic actions (what the RMS distance compares)."""
        raise NotImplementedError

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.actor.optimizer, self.critic.optimizer]  # type: ignore[attr-defined]

    def _param_noise_parts(self) -> dict[str, Any]:
        return {
            "output_fn": self._actor_actions,
            "distance": "rms",
            "recorder": self.actor,  # type: ignore[attr-defined]
            "default_target": 0.2,
            "default_resample": "episode",
        }
