"""Shared models for the evaluation tests.

``trained_cartpole`` trains a PPO once per test session (about 6 s, fixed seed,
30k steps; it balances CartPole for 500 steps) and caches the zip in pytest's
shared temporary directory under a file lock, so the xdist workers train it
once between them. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from filelock import FileLock
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env


def _train_cartpole(path: Path) -> None:
    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=10,
        ent_coef=0.0,
        learning_rate=0.002,
        seed=0,
        device="cpu",
    )
    model.learn(30_000)
    model.save(path)


@pytest.fixture(scope="session")
def trained_cartpole_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a PPO zip that solves CartPole-v1 (trained once, shared by workers)."""
    shared = tmp_path_factory.getbasetemp().parent
    path = shared / f"rlnoise-eval-ppo-cartpole-torch{torch.__version__}.zip"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            _train_cartpole(path)
    return path


@pytest.fixture(scope="session")
def trained_cartpole(trained_cartpole_path: Path) -> PPO:
    """The trained PPO, loaded on the CPU."""
    return PPO.load(trained_cartpole_path, device="cpu")


@pytest.fixture(scope="session")
def untrained_cartpole() -> PPO:
    """A freshly initialised PPO (seeded): short, varied CartPole episodes."""
    return PPO("MlpPolicy", "CartPole-v1", seed=9, device="cpu")
