"""ATLA-lite: the agent and the adversary train in turns, and both save and load."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.attacks.adversary import AdversaryConfig
from rlnoise.robust.atla import AdversaryObservations, AlternatingTraining, ATLASchedule

STEPS = 64  # one rollout of 32 steps x 2 envs for both PPOs: the phases end exactly there


def cartpole() -> gym.Env:
    return gym.make("CartPole-v1")


def make_atla(agent_callbacks: list[BaseCallback] | None = None) -> AlternatingTraining:
    agent = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=32,
                batch_size=64, n_epochs=1, seed=0, device="cpu")  # fmt: skip
    return AlternatingTraining(
        agent, cartpole, eps=0.1,
        schedule=ATLASchedule(agent_steps=STEPS, adversary_steps=STEPS, rounds=2),
        adversary_config=AdversaryConfig(
            n_envs=2, seed=0, ppo_kwargs={"n_steps": 32, "batch_size": 64, "n_epochs": 1}
        ),
        agent_callbacks=agent_callbacks or [],
    )  # fmt: skip


def weights(model: PPO) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.policy.parameters()])


class Seen(BaseCallback):
    """Records the observations the agent's rollouts hand it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _on_step(self) -> bool:
        self.calls += 1
        return True


def test_phases_alternate_on_the_schedule_and_freeze_the_other_model() -> None:
    seen = Seen()
    atla = make_atla([seen])
    changes = []
    for _ in range(2):
        before = weights(atla.agent), weights(atla.adversary)
        atla.agent_phase()
        middle = weights(atla.agent), weights(atla.adversary)
        atla.adversary_phase()
        after = weights(atla.agent), weights(atla.adversary)
        atla.rounds_done += 1
        changes.append(
            (
                not torch.equal(before[0], middle[0]),  # the agent learns in its phase
                torch.equal(before[1], middle[1]),  # the adversary does not
                torch.equal(middle[0], after[0]),  # and vice versa
                not torch.equal(middle[1], after[1]),
            )
        )
    assert changes == [(True, True, True, True)] * 2
    assert atla.phases == [
        ("agent", 0, STEPS),
        ("adversary", 0, STEPS),
        ("agent", STEPS, 2 * STEPS),
        ("adversary", STEPS, 2 * STEPS),
    ]
    assert seen.calls == 2 * STEPS // 2  # the hook ran in every agent step (2 envs per call)


def test_the_agent_learns_from_perturbed_observations() -> None:
    atla = make_atla()
    env = atla.agent.get_env()
    assert isinstance(env, AdversaryObservations)
    atla.agent_phase()
    # after training SB3 keeps the rollout flattened env by env: (envs x steps, 4)
    first = atla.agent.rollout_buffer.observations.reshape(2, STEPS // 2, 4)[:, 0]
    clean = make_vec_env("CartPole-v1", n_envs=2, seed=0).reset()
    # what the agent stored is each env's reset state, moved by at most eps, and moved
    assert np.abs(first - clean).max() <= 0.1 + 1e-6
    assert not np.allclose(first, clean)


def test_save_and_load_both_models_and_the_progress(tmp_path: Path) -> None:
    atla = make_atla()
    atla.learn(rounds=1)
    atla.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adversary.zip", "agent.zip", "atla.json"]
    loaded = AlternatingTraining.load(tmp_path, cartpole)
    assert torch.equal(weights(loaded.agent), weights(atla.agent))
    assert torch.equal(weights(loaded.adversary), weights(atla.adversary))
    assert loaded.rounds_done == 1 and loaded.phases == atla.phases
    loaded.learn(rounds=1)
    assert [p[0] for p in loaded.phases] == ["agent", "adversary"] * 2
    assert loaded.phases[-1] == ("adversary", STEPS, 2 * STEPS)
