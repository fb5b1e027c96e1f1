"""Benchmark: the batched robustness runner vs looping SB3's ``evaluate_policy``.

Side by side in one run, alternating, repeated; prints median ratios:
  * a grid of 8 observation-noise levels x 32 episodes on CartPole-v1 with a
    trained PPO: ``evaluate_robustness`` (all 256 episodes in one batched loop)
    vs ``evaluate_policy`` on a ``DummyVecEnv`` of 8 envs, once per level, with
    the same Gaussian observation noise in a ``TransformObservation`` wrapper
    (target: >= 5x faster). Noise realisations differ between the two, so
    episode lengths differ a little; the steps/s ratio is printed as well;
  * a 64-condition x 100-episode grid (observation noise of four kinds, random
    and sticky actions, weight noise, FGSM, dynamics) run once: wall time and
    peak RSS of the process (target: < 2 GB).

Wall time is the target; process CPU time is printed too, as it is steadier when
other jobs share the machine. Also timed: a 10,000-resample bootstrap CI of a 10 x 64
array (target: well under a second).

Usage:
    python scripts/bench_eval.py [--device cpu|cuda|auto] [--model PATH] [--repeats 3]
        [--skip-large]

Without ``--model`` a PPO is trained for 30k steps first (about 10 s on 2 cores).
``--device cuda`` without a CUDA device stops with an error (use ``auto`` to fall back).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.models import resolve_device
from rlnoise.evaluation.perturbations import ObservationNoisePerturbation

LEVELS = [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.4]
ENV_ID = "CartPole-v1"


def train(seed: int, device: str) -> PPO:
    env = make_vec_env(ENV_ID, n_envs=8, seed=seed)
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
        seed=seed,
        device=device,
    )
    return model.learn(30_000)


def noisy_env(sigma: float, seed: int) -> gym.Env:
    env = gym.make(ENV_ID)
    if sigma == 0:
        return env
    rng = np.random.default_rng(seed)
    return gym.wrappers.TransformObservation(
        env,
        lambda obs: (obs + sigma * rng.standard_normal(obs.shape)).astype(np.float32),
        env.observation_space,
    )


def baseline(model: PPO, n_episodes: int, seed: int) -> tuple[float, float, int]:
    """evaluate_policy once per level; returns (wall s, CPU s, env steps)."""
    steps = 0
    start, cpu = time.perf_counter(), time.process_time()
    for i, sigma in enumerate(LEVELS):
        seeds = [seed + 100 * i + j for j in range(8)]
        venv = DummyVecEnv([lambda s=s, sigma=sigma: noisy_env(sigma, s) for s in seeds])
        venv.seed(seed)
        _, lengths = evaluate_policy(
            model, venv, n_eval_episodes=n_episodes, deterministic=True, return_episode_rewards=True
        )
        steps += int(np.sum(lengths))
        venv.close()
    return time.perf_counter() - start, time.process_time() - cpu, steps


def batched(model: PPO, n_episodes: int, seed: int, device: str) -> tuple[float, float, int]:
    conditions = [
        Condition(
            f"gaussian:{s}", (ObservationNoisePerturbation(f"gaussian:{s}"),), "obs:gaussian", s
        )
        for s in LEVELS
    ]
    start, cpu = time.perf_counter(), time.process_time()
    report = evaluate_robustness(
        model, ENV_ID, conditions, n_episodes=n_episodes, seed=seed, device=device, progress=False
    )
    return time.perf_counter() - start, time.process_time() - cpu, int(report.lengths.sum())


def large_grid() -> dict[str, object]:
    return {
        "clean": True,
        "gaussian": list(np.round(np.linspace(0.01, 0.4, 13), 4)),
        "uniform": list(np.round(np.linspace(0.01, 0.4, 8), 4)),
        "laplace": list(np.round(np.linspace(0.01, 0.3, 8), 4)),
        "ou": {"levels": [0.1, 0.2, 0.4, 0.8], "theta": 0.15},
        "random_action": [0.05, 0.1, 0.2, 0.3, 0.4, 0.5],
        "sticky_action": [0.1, 0.25, 0.5, 0.75],
        "weight_noise": {"gaussian": [0.01, 0.02, 0.05, 0.1, 0.2]},
        "fgsm": [0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
        "pgd": {"levels": [0.01, 0.05], "steps": 5},
        "dynamics": {"attributes": {"length": [0.25, 0.75, 1.0, 1.5, 2.0]}, "env": ENV_ID},
        "conditions": [
            {
                "name": "gaussian+sticky",
                "perturbations": [
                    {"type": "obs_noise", "noise": "gaussian:0.05"},
                    {"type": "sticky_action", "probability": 0.25},
                ],
            },
            {
                "name": "heavy pole + fgsm",
                "perturbations": [
                    {"type": "dynamics", "attributes": {"length": 1.0}},
                    {"type": "fgsm", "eps": 0.02},
                ],
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--model", default=None, help="saved PPO zip (default: train one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-large", action="store_true", help="skip the 64 x 100 grid")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        device = str(resolve_device(args.device))
    except ValueError as error:
        sys.exit(f"bench_eval: {error}")
    print(f"device: {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.model:
        path = Path(args.model)
    else:
        start = time.perf_counter()
        path = Path(tempfile.mkdtemp()) / "ppo-cartpole.zip"
        train(args.seed, "cpu").save(path)
        print(f"trained PPO for 30k steps in {time.perf_counter() - start:.1f} s")
    model = PPO.load(path, device=device)  # both sides run the policy on the same device
    batched(model, 2, args.seed, device)  # warm-up (imports, first CUDA kernels)

    print(f"\n{len(LEVELS)} obs-noise levels x {args.episodes} episodes on {ENV_ID}")
    ratios, cpu_ratios, throughput = [], [], []
    for repeat in range(args.repeats):
        if repeat % 2 == 0:  # alternate the order so drift hits both alike
            t_base, c_base, s_base = baseline(model, args.episodes, args.seed)
            t_ours, c_ours, s_ours = batched(model, args.episodes, args.seed, device)
        else:
            t_ours, c_ours, s_ours = batched(model, args.episodes, args.seed, device)
            t_base, c_base, s_base = baseline(model, args.episodes, args.seed)
        ratios.append(t_base / t_ours)
        cpu_ratios.append(c_base / c_ours)
        throughput.append((s_ours / t_ours) / (s_base / t_base))
        print(
            f"  repeat {repeat}: evaluate_policy x{len(LEVELS)} {t_base:6.2f} s ({s_base} steps)"
            f" | evaluate_robustness {t_ours:6.2f} s ({s_ours} steps)"
        )
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= 5 else "NOT met"
    print(f"  median speed-up (wall time): {ratio:.2f}x   target >= 5x: {verdict}")
    print(
        f"  median speed-up (process CPU time, robust to a busy machine): "
        f"{statistics.median(cpu_ratios):.2f}x"
    )
    print(f"  median speed-up (env steps per second): {statistics.median(throughput):.2f}x")

    print("\nbootstrap 95% CI, 10,000 resamples of a 10 x 64 array (target: well under 1 s)")
    scores = np.random.default_rng(0).normal(100, 30, (10, 64))
    for name, aggregate in (("mean", st.mean), ("IQM", st.iqm), ("median", st.median)):
        start = time.perf_counter()
        st.bootstrap_ci(scores, aggregate, n_resamples=10_000, seed=0)
        print(f"  {name:<6} {time.perf_counter() - start:.3f} s")

    if args.skip_large:
        return
    from rlnoise.evaluation.grid import build_grid

    conditions = build_grid(large_grid(), ENV_ID)
    print(f"\n{len(conditions)} conditions x 100 episodes")
    start = time.perf_counter()
    report = evaluate_robustness(
        model, ENV_ID, conditions, n_episodes=100, seed=args.seed, device=device, progress=False
    )
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    steps = int(report.lengths.sum())
    verdict = "met" if peak_mb < 2048 else "NOT met"
    print(f"  {elapsed:.1f} s, {steps} env steps ({steps / elapsed:,.0f} steps/s)")
    print(f"  peak RSS {peak_mb:.0f} MB   target < 2048 MB: {verdict}")


if __name__ == "__main__":
    main()
