"""Learned attacks beside FGSM/PGD and uniform noise on a trained CartPole-v1 PPO.

One trained agent (the tests' fixture recipe: 30k steps, seed 0), every attack
at the same radii, default learning budgets (RS: 20k rollout steps + 3k updates;
adversary: 100k PPO steps), ``n_episodes`` episodes; prints the mean and IQM
return per condition and the wall time. A single agent: an illustration of the
attacks' ranking, not a multi-seed result.

Usage:
    python scripts/reproduce_learned_attacks.py [--eps 0.1] [--episodes 20] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.statistics import iqm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eps", type=float, nargs="+", default=[0.1])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", default=None, help="cells store (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                n_epochs=10, ent_coef=0.0, learning_rate=0.002, seed=0, device="cpu")  # fmt: skip
    model.learn(30_000)
    grid = {key: args.eps for key in ("uniform", "fgsm", "pgd", "rs", "rs_mad", "learned")}
    out = Path(args.out or tempfile.mkdtemp())
    started = time.perf_counter()
    report = evaluate_robustness(
        model, "CartPole-v1", grid, n_episodes=args.episodes, seed=0, device="cpu",
        progress=False, resume_dir=out / "cells", num_threads=1,
    )  # fmt: skip
    wall = time.perf_counter() - started
    for condition, returns in zip(report.conditions, report.returns[0], strict=True):
        middle = float(iqm(returns[None]))  # one run's episodes
        print(f"{condition.name:>14}: mean {returns.mean():6.1f}  IQM {middle:6.1f}")
    print(f"wall time (training of the learned attacks included): {wall:.0f} s")


if __name__ == "__main__":
    main()
