"""The same code on a CUDA device: draws on the GPU, training, persistence to CPU, evaluation.

Skipped without CUDA (CI has none); run on a GPU machine with ``pytest tests/test_cuda.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC

from rlnoise import NoiseSpec, NoiseStream
from rlnoise.callbacks import GradientNoiseCallback
from rlnoise.core.random import make_torch_generator
from rlnoise.core.sampling import sample
from rlnoise.evaluation import evaluate_robustness
from rlnoise.policies import NoisyActorCriticPolicy, NoisySACPolicy, noise_disabled

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
SMALL = {"net_arch": [16]}  # copied per model: SB3 writes into the policy_kwargs it is given


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["gaussian", "uniform", "laplace", "dropout"])
def test_one_shot_draws_on_the_gpu(kind: str, dtype: torch.dtype) -> None:
    a = sample(NoiseSpec(kind, 0.5), make_torch_generator(0, "cuda"), (1000,), dtype=dtype)
    b = sample(NoiseSpec(kind, 0.5), make_torch_generator(0, "cuda"), (1000,), dtype=dtype)
    assert a.device.type == "cuda" and a.dtype == dtype and torch.equal(a, b)
    if kind != "dropout":
        unit = sample(NoiseSpec(kind, 1.0), make_torch_generator(0, "cuda"), (1000,), dtype=dtype)
        assert torch.equal(a, unit * 0.5)


@pytest.mark.parametrize("kind", ["gaussian", "ou", "colored"])
def test_streams_on_the_gpu(kind: str) -> None:
    stream = NoiseStream(NoiseSpec(kind, 0.2), (3,), make_torch_generator(1, "cuda"), n_rows=4)
    out = stream.perturb(torch.zeros(4, 3, device="cuda"))
    assert out.device.type == "cuda" and out.shape == (4, 3) and torch.isfinite(out).all()


def test_cuda_trained_noisy_ppo_loads_on_cpu_with_identical_clean_predictions(
    tmp_path: Path,
) -> None:
    model = PPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=64,
        batch_size=32,
        n_epochs=2,
        policy_kwargs=dict(SMALL),
        seed=0,
        device="cuda",
    )
    model.learn(128, callback=GradientNoiseCallback(eta=0.01))
    assert model.policy.device.type == "cuda"
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    with noise_disabled(model):
        expected, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "gpu.zip")
    loaded = PPO.load(tmp_path / "gpu.zip", device="cpu")
    assert loaded.policy.device.type == "cpu"
    assert loaded.policy.noise_scales() == model.policy.noise_scales()
    with noise_disabled(loaded):
        np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], expected)


def test_param_noise_sac_trains_on_the_gpu() -> None:
    model = SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        learning_starts=32,
        policy_kwargs=dict(SMALL),
        seed=0,
        device="cuda",
    )
    model.learn(96)
    assert model.num_timesteps == 96
    assert all(v == v for v in model.policy.noise_scales().values())  # no NaN


def test_evaluation_on_cuda_matches_cpu_for_a_discrete_policy() -> None:
    model = PPO(
        "MlpPolicy", "CartPole-v1", n_steps=256, policy_kwargs=dict(SMALL), seed=0, device="cpu"
    )
    model.learn(2048)
    grid = {"clean": True, "gaussian": [0.1], "fgsm": [0.05]}
    on_cpu = evaluate_robustness(
        model, "CartPole-v1", grid, n_episodes=8, seed=3, device="cpu", progress=False
    )
    on_gpu = evaluate_robustness(
        model, "CartPole-v1", grid, n_episodes=8, seed=3, device="cuda", progress=False
    )
    assert on_gpu.metadata["device"].startswith("cuda")
    clean = on_cpu.condition_index("clean")
    np.testing.assert_array_equal(on_gpu.returns[:, clean], on_cpu.returns[:, clean])
    noisy = on_cpu.condition_index("obs:gaussian:0.1")
    np.testing.assert_array_equal(on_gpu.returns[:, noisy], on_cpu.returns[:, noisy])
    assert on_gpu.returns.shape == on_cpu.returns.shape
