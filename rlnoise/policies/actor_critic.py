"""``NoisyActorCriticPolicy``: PPO and A2C with weight, activation and NoisyNet noise.

By default the policy regularises with multiplicative Gaussian weight noise
and Gaussian activation noise on the hidden layers of the actor and the
critic, both in the ``train`` phase only. What each phase sees, and why:

- regularising weight/activation noise (fresh per forward, ``train``): acting
  and the stored log-probabilities use the clean network, which *is* the
  behaviour policy, so PPO's ratio ``pi_noisy / pi_behaviour`` has the right
  denominator; the loss is averaged over fresh noise at every update (as with
  dropout), and ``predict`` is clean (with ``target_kl``, note that the noise
  adds to the KL estimate PPO stops on);
- NoisyNet (``noisy_net=True``; NoisyNet-A3C): one sample drawn at the start
  of each rollout, held while acting and reused by every epoch and minibatch
  of the loss, so the log-probabilities stored at rollout time are exactly
  those the update recomputes (ratio 1 before the first step); ``predict``
  uses the means;
- held weight noise (``resample="rollout"``): as NoisyNet; with
  ``resample="step"``/``"episode"`` only acting is noisy and the loss sees the
  clean network, PPO's ratio then correcting for the noisy behaviour policy.

Parameter-space noise is not offered here (see
:data:`rlnoise.policies.options.PARAM_NOISE_COMBINATIONS`): PPO's clipped ratio
between a perturbed behaviour policy and the learner is the job NoisyNet's
shared sample does without bias.

Example:
    >>> from stable_baselines3 import PPO
    >>> model = PPO(NoisyActorCriticPolicy, "CartPole-v1", n_steps=64, batch_size=32,
    ...             n_epochs=1, seed=0, device="cpu")
    >>> _ = model.learn(64)
    >>> sorted(model.policy.noise_scales())
    ['activation_noise', 'weight_noise']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule

from rlnoise.core.spec import NoiseSpecLike
from rlnoise.nn.noisy_net import NoisyNetConfig
from rlnoise.policies.base import NoisyPolicyMixin
from rlnoise.policies.options import (
    DEFAULT,
    PARAM_NOISE_COMBINATIONS,
    CombinedExtractorByDefault,
    NatureCNNByDefault,
    PolicyDefault,
)
from rlnoise.policies.sni import selective_noise_injection

__all__ = [
    "DEFAULT_ACTIVATION_NOISE",
    "DEFAULT_WEIGHT_NOISE",
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "NoisyActorCriticCnnPolicy",
    "NoisyActorCriticPolicy",
    "NoisyMultiInputActorCriticPolicy",
]

DEFAULT_WEIGHT_NOISE = "gaussian:0.05,mode=multiplicative"
DEFAULT_ACTIVATION_NOISE = "gaussian:0.05"


class NoisyActorCriticPolicy(NoisyPolicyMixin, ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` (PPO, A2C) with network noise.

    Supports Box, Discrete and MultiDiscrete (and MultiBinary) actions, MLP and
    CNN feature extractors.

    Args:
        observation_space: As SB3.
        action_space: As SB3.
        lr_schedule: As SB3.
        weight_noise: Noise on the weights of the linear/conv layers (biases,
            norms excluded unless named in ``where``); fresh per forward in
            ``train`` by default. ``None`` turns it off; with ``noisy_net`` on
            every linear layer there is nothing left for it by default.
        activation_noise: Noise on the hidden activations of the actor and
            critic; fresh per forward in ``train`` by default. Default
            :data:`DEFAULT_ACTIVATION_NOISE`; ``None``: off.
        noisy_net: ``True`` or a :class:`~rlnoise.nn.NoisyNetConfig` mapping:
            every linear layer becomes a NoisyLinear, one sample per rollout
            reused by the loss.
        param_noise: Not supported for PPO/A2C (raises ``ValueError``).
        layer_norm: LayerNorm after each hidden linear layer: ``True`` in actor and
            critic, ``"actor"`` in the actor only.
        noise_seed: Seed of all noise draws (default: derived from the algorithm's seed).
        sni_lambda: Selective noise injection (:mod:`rlnoise.policies.sni`): act
            with the noise-free network and train on ``λ·L(noise-free) +
            (1 − λ)·L(noisy)``; ``None`` (default): off. PPO and A2C.
        **kwargs: Every other ``ActorCriticPolicy`` argument.
    """

    _on_policy = True

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        *,
        weight_noise: NoiseSpecLike | PolicyDefault | None = DEFAULT,
        activation_noise: NoiseSpecLike | PolicyDefault | None = DEFAULT,
        noisy_net: Any = False,
        param_noise: NoiseSpecLike | None = None,
        layer_norm: bool | str | None = None,
        noise_seed: int | None = None,
        sni_lambda: float | None = None,
        **kwargs: Any,
    ) -> None:
        if weight_noise is DEFAULT:
            # With NoisyNet the linear layers carry noise already: no default weight noise.
            noisy = NoisyNetConfig.from_value(noisy_net) is not None
            weight_noise = None if noisy else DEFAULT_WEIGHT_NOISE
        if activation_noise is DEFAULT:
            activation_noise = DEFAULT_ACTIVATION_NOISE
        self._init_noise(
            weight_noise=weight_noise,  # type: ignore[arg-type]
            activation_noise=activation_noise,  # type: ignore[arg-type]
            noisy_net=noisy_net,
            param_noise=param_noise,
            layer_norm=layer_norm,
            noise_seed=noise_seed,
        )
        self.noise_options = self.noise_options.with_sni(sni_lambda)
        if self.noise_options.param_noise is not None:
            self._check_param_noise()
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _check_param_noise(self) -> None:
        raise ValueError(
            "param_noise is not available for PPO/A2C (NoisyActorCriticPolicy); it works with: "
            + "; ".join(PARAM_NOISE_COMBINATIONS)
            + ". For exploration in weight space with PPO/A2C use noisy_net=True (one sample "
            "per rollout, reused by the loss) or weight_noise with resample='rollout'"
        )

    # -- assembly ----------------------------------------------------------------
    def _mlp_networks(self) -> list[tuple[str, bool, bool]]:
        return [
            ("mlp_extractor.policy_net", False, True),
            ("mlp_extractor.value_net", False, False),
        ]

    def _rebuild_optimizers(self, lr_schedule: Callable[[float], float]) -> None:
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    # -- phases ------------------------------------------------------------------
    def forward(
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SB3's rollout step: outside training this is acting (phase ``rollout``)."""
        if not self.training:
            rows = int(obs.shape[0]) if isinstance(obs, torch.Tensor) else 1
            self._binding.on_policy_step(self.noise_control, rows)
        return super().forward(obs, deterministic)

    def predict_values(self, obs: PyTorchObs) -> torch.Tensor:
        """Values for bootstrapping during rollouts: the acting network's critic."""
        if not self.training and not self.noise_control.acting:
            self.noise_control.set_acting(True)
        return super().predict_values(obs)

    def set_training_mode(self, mode: bool) -> None:
        options = self.__dict__.get("noise_options")
        if mode and options is not None and options.sni_lambda is not None:
            self._binding.capture_minibatches()  # train() starts: its minibatches come next
        super().set_training_mode(mode)

    def evaluate_actions(
        self, obs: PyTorchObs, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """SB3's outputs; under SNI, those of PPO's/A2C's minibatch carry the noisy loss."""
        if not self.training and self.noise_control.acting:
            self.noise_control.set_acting(False)
        sni_lambda = self.noise_options.sni_lambda
        if sni_lambda is not None and self.training:
            batch = self._binding.minibatch(obs)
            if batch is not None:
                return selective_noise_injection(
                    super().evaluate_actions, self.noise_control, obs, actions, batch, sni_lambda
                )
        return super().evaluate_actions(obs, actions)


class NoisyActorCriticCnnPolicy(NatureCNNByDefault, NoisyActorCriticPolicy):
    """:class:`NoisyActorCriticPolicy` with SB3's ``NatureCNN`` extractor (image observations)."""


class NoisyMultiInputActorCriticPolicy(CombinedExtractorByDefault, NoisyActorCriticPolicy):
    """:class:`NoisyActorCriticPolicy` with SB3's ``CombinedExtractor`` (Dict observations)."""


MlpPolicy = NoisyActorCriticPolicy
CnnPolicy = NoisyActorCriticCnnPolicy
MultiInputPolicy = NoisyMultiInputActorCriticPolicy
