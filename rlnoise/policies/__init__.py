"""Noisy Stable-Baselines3 policies, chosen the way you choose ``MlpPolicy``.

==============================  ============  =================================
policy (Mlp / Cnn / MultiInput)  algorithms    default noise
==============================  ============  =================================
:class:`NoisyActorCriticPolicy`  PPO, A2C      weight + activation noise (train)
:class:`NoisyDQNPolicy`          DQN           NoisyNet (epsilon set to 0)
:class:`NoisySACPolicy`          SAC           adaptive parameter noise
:class:`NoisyTD3Policy`          TD3, DDPG     adaptive parameter noise
==============================  ============  =================================

Every policy takes ``weight_noise``, ``activation_noise`` (a NoiseSpec, dict
or compact string, or ``None``), ``noisy_net`` (bool or options),
``param_noise`` (a spec, where supported), ``layer_norm`` and ``noise_seed``;
is a :class:`~rlnoise.core.clock.NoiseSource`; logs ``noise/*`` to SB3's
logger; and survives ``model.save()`` / ``Algorithm.load()``.

Example:
    >>> from stable_baselines3 import PPO
    >>> from rlnoise.policies import NoisyActorCriticPolicy, noise_disabled
    >>> model = PPO(NoisyActorCriticPolicy, "CartPole-v1", device="cpu",
    ...             policy_kwargs={"weight_noise": "gaussian:0.02", "activation_noise": None})
    >>> with noise_disabled(model):
    ...     action, _ = model.predict(model.env.reset(), deterministic=True)
"""

from rlnoise.nn.control import noise_disabled, noise_phase
from rlnoise.policies.actor_critic import (
    NoisyActorCriticCnnPolicy,
    NoisyActorCriticPolicy,
    NoisyMultiInputActorCriticPolicy,
)
from rlnoise.policies.base import PARAM_NOISE_COMBINATIONS, NoisyPolicyMixin
from rlnoise.policies.dqn import NoisyDQNCnnPolicy, NoisyDQNMultiInputPolicy, NoisyDQNPolicy
from rlnoise.policies.sac import NoisySACCnnPolicy, NoisySACMultiInputPolicy, NoisySACPolicy
from rlnoise.policies.td3 import NoisyTD3CnnPolicy, NoisyTD3MultiInputPolicy, NoisyTD3Policy

__all__ = [
    "PARAM_NOISE_COMBINATIONS",
    "NoisyActorCriticCnnPolicy",
    "NoisyActorCriticPolicy",
    "NoisyDQNCnnPolicy",
    "NoisyDQNMultiInputPolicy",
    "NoisyDQNPolicy",
    "NoisyMultiInputActorCriticPolicy",
    "NoisyPolicyMixin",
    "NoisySACCnnPolicy",
    "NoisySACMultiInputPolicy",
    "NoisySACPolicy",
    "NoisyTD3CnnPolicy",
    "NoisyTD3MultiInputPolicy",
    "NoisyTD3Policy",
    "noise_disabled",
    "noise_phase",
]
