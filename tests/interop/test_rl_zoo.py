"""rlnoise classes from an RL Baselines3 Zoo hyperparameter file, loaded by rl_zoo3's own code.

The shipped file configs/rl_zoo/ppo_cartpole_noise.yml names a policy, an env
wrapper and callbacks by dotted path; rl_zoo3's ExperimentManager resolves
them (``get_class_by_name``, ``get_wrapper_class``, ``get_callback_list``) and
trains. The test checks that what the Zoo built is rlnoise's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

rl_zoo3 = pytest.importorskip("rl_zoo3", reason="rl_zoo3 is not installed (pip install rl_zoo3)")

from rl_zoo3.exp_manager import ExperimentManager  # noqa: E402

from rlnoise.callbacks import GradientNoiseCallback, NoiseScheduleCallback  # noqa: E402
from rlnoise.policies import NoisyActorCriticPolicy  # noqa: E402
from rlnoise.wrappers import ObservationNoise  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "rl_zoo" / "ppo_cartpole_noise.yml"


def _wrappers(env) -> list[type]:
    found = []
    while hasattr(env, "env"):
        found.append(type(env))
        env = env.env
    return found


def test_rl_zoo_builds_and_trains_rlnoise_components(tmp_path: Path) -> None:
    manager = ExperimentManager(
        argparse.Namespace(),
        "ppo",
        "CartPole-v1",
        str(tmp_path),
        n_timesteps=512,
        eval_freq=-1,
        seed=0,
        device="cpu",
        config=str(CONFIG),
        log_interval=-1,
        verbose=0,
    )
    model, _ = manager.setup_experiment()
    assert isinstance(model.policy, NoisyActorCriticPolicy)
    scales = model.policy.noise_scales()
    assert any("weight" in key for key in scales) and any("activation" in key for key in scales)
    assert all(ObservationNoise in _wrappers(env) for env in model.env.envs)
    kinds = [type(c) for c in manager.callbacks]
    assert GradientNoiseCallback in kinds and NoiseScheduleCallback in kinds
    manager.learn(model)
    gradient = next(c for c in manager.callbacks if isinstance(c, GradientNoiseCallback))
    assert gradient.n_updates > 0
    manager.save_trained_model(model)
    saved = list(tmp_path.rglob("CartPole-v1.zip"))
    assert len(saved) == 1
