"""``NoisyDQNPolicy``: DQN exploring with NoisyNet (default) or parameter-space noise.

NoisyNet replaces epsilon-greedy (Fortunato et al., 2018). Built inside a
``DQN``, the policy sets the algorithm's ``exploration_initial_eps`` and
``exploration_final_eps`` to 0 (pass ``noisy_net={"keep_epsilon": True}`` to
keep them; the change is made, and documented, in
:func:`rlnoise.policies.binder.replace_epsilon_greedy`); built elsewhere, give
``DQN(..., exploration_initial_eps=0, exploration_final_eps=0)`` yourself.
All linear layers of the Q-network become noisy (the features extractor's
too, as in the paper's Atari network); the online network draws a new sample
for every acting step and every gradient update, the target network an
independent one for every update. ``predict``
in evaluation uses the means.

Parameter-space noise (``param_noise=...``, Plappert et al., 2018) perturbs
the online Q-network for acting only (greedy on the perturbed Q), once per
episode; sigma is adapted so that ``KL(softmax(Q) || softmax(Q~))`` matches
``-log(1 - eps + eps/|A|)`` for the epsilon the DQN's exploration schedule
would have used at that point of training (the schedule the user gave, kept
before epsilon is set to 0). Layer norms go in the hidden layers by default.

Example:
    >>> from stable_baselines3 import DQN
    >>> model = DQN(NoisyDQNPolicy, "CartPole-v1", learning_starts=0, seed=0, device="cpu")
    >>> model.exploration_initial_eps, model.exploration_final_eps
    (0.0, 0.0)
    >>> _ = model.learn(64)
    >>> round(model.policy.noise_scales()["noisy_net_sigma"], 3) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.dqn.policies import DQNPolicy

from rlnoise.core.adaptive import dqn_distance_target
from rlnoise.core.spec import NoiseSpecLike
from rlnoise.policies.base import NoisyPolicyMixin
from rlnoise.policies.binder import replace_epsilon_greedy
from rlnoise.policies.options import (
    DEFAULT,
    PARAM_NOISE_COMBINATIONS,
    CombinedExtractorByDefault,
    NatureCNNByDefault,
)

__all__ = [
    "CnnPolicy",
    "MlpPolicy",
    "MultiInputPolicy",
    "NoisyDQNCnnPolicy",
    "NoisyDQNMultiInputPolicy",
    "NoisyDQNPolicy",
]

# SB3's DQN defaults, used for the epsilon-equivalent target when no DQN is bound.
_SB3_EPSILON = (1.0, 0.05, 0.1)


def linear_epsilon(schedule: tuple[float, float, float], progress_remaining: float) -> float:
    """SB3's linear exploration schedule ``(start, end, fraction)`` at ``progress_remaining``.

    Example:
        >>> round(linear_epsilon((1.0, 0.05, 0.1), 0.95), 6)
        0.525
    """
    start, end, fraction = schedule
    progress = 1.0 - progress_remaining
    if fraction <= 0 or progress > fraction:
        return end
    return start + progress * (end - start) / fraction


class NoisyDQNPolicy(NoisyPolicyMixin, DQNPolicy):
    """SB3's ``DQNPolicy`` with NoisyNet, parameter noise, weight and activation noise.

    Args:
        observation_space: As SB3.
        action_space: As SB3 (Discrete).
        lr_schedule: As SB3.
        noisy_net: ``True`` (the default, unless ``param_noise`` is given),
            ``False``, or a :class:`~rlnoise.nn.NoisyNetConfig` mapping.
        param_noise: Adaptive parameter-space noise on the online Q-network
            (``scale`` is the initial sigma; ``adaptive`` overrides the
            epsilon-equivalent KL target). Resampled per episode by default.
        weight_noise: Noise on the online network's weights (default off).
        activation_noise: Noise on the online network's hidden activations (default off).
        layer_norm: LayerNorm in the hidden layers of the Q-networks (default: on
            with ``param_noise``).
        noise_seed: Seed of all noise draws (default: derived from the algorithm's seed).
        **kwargs: Every other ``DQNPolicy`` argument.
    """

    _target_prefixes = ("q_net_target",)
    _target_pairs = (("q_net", "q_net_target"),)
    _noisy_net_prefixes = ("q_net",)
    _param_noise_prefixes = ("q_net",)

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        *,
        noisy_net: Any = DEFAULT,
        param_noise: NoiseSpecLike | None = None,
        weight_noise: NoiseSpecLike | None = None,
        activation_noise: NoiseSpecLike | None = None,
        layer_norm: bool | str | None = None,
        noise_seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if noisy_net is DEFAULT:
            # NoisyNet is the default exploration, unless parameter noise is asked for.
            noisy_net = param_noise is None
        self._init_noise(
            weight_noise=weight_noise,
            activation_noise=activation_noise,
            noisy_net=noisy_net,
            param_noise=param_noise,
            layer_norm=layer_norm,
            noise_seed=noise_seed,
        )
        # The DQN's own epsilon schedule (start, end, fraction), kept for parameter noise's
        # target; None when no DQN built this policy or epsilon-greedy is kept.
        self._epsilon_schedule: tuple[float, float, float] | None = None
        options = self.noise_options
        explores = options.param_noise is not None or (
            options.noisy_net is not None and not options.noisy_net.keep_epsilon
        )
        algorithm = self.bound_algorithm
        if explores and algorithm is not None:
            self._epsilon_schedule = replace_epsilon_greedy(algorithm)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _check_param_noise(self) -> None:
        if not isinstance(self.action_space, spaces.Discrete):
            raise ValueError(
                f"param_noise: NoisyDQNPolicy needs Discrete actions, got {self.action_space}; "
                "parameter noise works with: " + "; ".join(PARAM_NOISE_COMBINATIONS)
            )

    # -- assembly ----------------------------------------------------------------
    def _mlp_networks(self) -> list[tuple[str, bool, bool]]:
        return [("q_net.q_net", True, True), ("q_net_target.q_net", True, True)]

    def _rebuild_optimizers(self, lr_schedule: Callable[[float], float]) -> None:
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.q_net.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer]

    def _epsilon_now(self) -> float:
        progress = self._binding.progress_remaining()
        if progress is None or self._epsilon_schedule is None:
            return _SB3_EPSILON[1]
        return linear_epsilon(self._epsilon_schedule, progress)

    def _q_values(self, obs: Any) -> torch.Tensor:
        return self.q_net(obs)

    def _kl_target(self) -> float:
        n_actions = int(self.action_space.n)  # type: ignore[attr-defined]
        return dqn_distance_target(self._epsilon_now(), n_actions)

    def _param_noise_parts(self) -> dict[str, Any]:
        # Bound methods, not lambdas: a deep copy of the policy must call its own networks.
        return {
            "output_fn": self._q_values,
            "distance": "kl",
            "recorder": self.q_net,
            "default_target": self._kl_target,
            "default_resample": "episode",
        }


class NoisyDQNCnnPolicy(NatureCNNByDefault, NoisyDQNPolicy):
    """:class:`NoisyDQNPolicy` with SB3's ``NatureCNN`` extractor (image observations)."""


class NoisyDQNMultiInputPolicy(CombinedExtractorByDefault, NoisyDQNPolicy):
    """:class:`NoisyDQNPolicy` with SB3's ``CombinedExtractor`` (Dict observations)."""


MlpPolicy = NoisyDQNPolicy
CnnPolicy = NoisyDQNCnnPolicy
MultiInputPolicy = NoisyDQNMultiInputPolicy
