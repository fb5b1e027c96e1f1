"""Seeded learn runs of the noisy policies reproduce pinned parameters, bit for bit.

Each case trains a small model with a fixed seed and hashes everything the
run's noise can reach: the policy's ``state_dict`` (parameters and noise
buffers), the step count and, for DQN, the exploration rate. A change in how
a policy binds to its algorithm, which events it sees (rollout, episode,
step, update) or which draws it makes shows up as a different digest.

The digests were computed on CPU, float32, one torch thread (``tests/conftest.py``),
with the torch and Stable-Baselines3 versions in :data:`PINNED_WITH`. A
different torch build may round differently: the test then skips rather than
report a change of behaviour that is only a change of kernels. Regenerate with
``python tests/policies/test_trajectories.py`` after a deliberate change of
the draws, and say why in the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import stable_baselines3
import torch
from stable_baselines3 import DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy

SMALL = {"net_arch": [16, 16]}
PINNED_WITH = {"torch": "2.13.0+cpu", "stable_baselines3": "2.9.2"}


def ppo(**policy_kwargs: Any) -> BaseAlgorithm:
    return PPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=64,
        batch_size=32,
        n_epochs=2,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )


def ppo_two_envs(**policy_kwargs: Any) -> BaseAlgorithm:
    return PPO(
        NoisyActorCriticPolicy,
        make_vec_env("CartPole-v1", n_envs=2, seed=3),
        n_steps=32,
        batch_size=32,
        n_epochs=2,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )


def dqn(**policy_kwargs: Any) -> BaseAlgorithm:
    return DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        learning_starts=32,
        batch_size=16,
        train_freq=4,
        exploration_fraction=0.5,
        exploration_final_eps=0.1,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )


def sac(**policy_kwargs: Any) -> BaseAlgorithm:
    return SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        learning_starts=32,
        batch_size=16,
        train_freq=4,
        policy_kwargs={**SMALL, **policy_kwargs},
        seed=0,
        device="cpu",
    )


# (name, model factory, learn() calls as (steps, reset_num_timesteps)): a reset starts the
# step clock and the episode count again; a continued run keeps both.
SCHEDULE = {"type": "linear", "start": 1.0, "end": 0.2, "steps": 100}
Calls = tuple[tuple[int, bool], ...]


def calls(*steps: int, reset: bool = True) -> Calls:
    return tuple((n, reset) for n in steps)


CASES: list[tuple[str, Callable[[], BaseAlgorithm], Calls]] = [
    ("ppo-default", ppo, calls(128)),
    ("ppo-noisynet", lambda: ppo(noisy_net=True), calls(64, 64)),
    (
        "ppo-2envs-episode-weight-noise",
        lambda: ppo_two_envs(
            weight_noise={
                "kind": "gaussian",
                "scale": 0.05,
                "resample": "episode",
                "phases": ["rollout"],
                "schedule": SCHEDULE,
            }
        ),
        calls(64, 64),
    ),
    ("dqn-noisynet", dqn, calls(200)),
    ("dqn-param-noise", lambda: dqn(noisy_net=False, param_noise="gaussian:0.1"), calls(100, 100)),
    (
        "dqn-param-noise-continued",
        lambda: dqn(noisy_net=False, param_noise="gaussian:0.1"),
        calls(100, 100, reset=False),
    ),
    ("sac-param-noise", sac, calls(240)),
]

DIGESTS = {
    "ppo-default": "e56353133224f508",
    "ppo-noisynet": "ad0d6655d684f229",
    "ppo-2envs-episode-weight-noise": "77dcaf20e385271e",
    "dqn-noisynet": "7306688ce28836dd",
    "dqn-param-noise": "26f7649da9f6afa2",
    "dqn-param-noise-continued": "5f209f9e716dbd4b",
    "sac-param-noise": "cd179592cdcb7cc5",
}


def run_digest(make: Callable[[], BaseAlgorithm], learn_calls: Calls) -> str:
    """sha256 (first 16 hex digits) of a seeded run's final state."""
    model = make()
    for n, reset in learn_calls:
        model.learn(n, reset_num_timesteps=reset)
    digest = hashlib.sha256()
    for key, value in sorted(model.policy.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    digest.update(np.int64(model.num_timesteps).tobytes())
    digest.update(np.float64(getattr(model, "exploration_rate", 0.0)).tobytes())
    return digest.hexdigest()[:16]


def pinned_versions() -> bool:
    return (
        torch.__version__ == PINNED_WITH["torch"]
        and stable_baselines3.__version__ == PINNED_WITH["stable_baselines3"]
    )


@pytest.mark.skipif(not pinned_versions(), reason=f"digests pinned with {PINNED_WITH}")
@pytest.mark.parametrize(("make", "learn_calls"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_seeded_learn_run_reproduces_the_pinned_parameters(
    request: pytest.FixtureRequest, make: Callable[[], BaseAlgorithm], learn_calls: Calls
) -> None:
    name = request.node.callspec.id
    assert run_digest(make, learn_calls) == DIGESTS[name]


if __name__ == "__main__":
    torch.set_num_threads(1)
    for case_name, factory, case_calls in CASES:
        print(f'    "{case_name}": "{run_digest(factory, case_calls)}",')
