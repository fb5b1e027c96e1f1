"""Benchmark: what the learned attacks cost to train, beside plain SB3 on the same env.

Side by side in one run, alternating, repeated; prints medians:
  * the learned adversary (PPO, 8 envs, SB3 defaults, one batched victim call
    per step) against a trained CartPole-v1 PPO vs plain PPO with the same
    settings on CartPole-v1: env steps per second of ``learn`` and their ratio;
  * the Robust Sarsa critic: rollout transitions per second (policy + env), and
    minibatch updates per second with the regulariser (3 PGD steps) and
    without it (plain Sarsa), and their ratio.

Wall time is measured; process CPU time is printed too, as it is steadier when
other jobs share the machine.

Usage:
    python scripts/bench_learned.py [--steps 16384] [--repeats 3] [--model PATH]

Without ``--model`` a PPO is trained for 30k steps first (about 10 s on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.attacks.adversary import AdversaryConfig, train_adversary
from rlnoise.attacks.robust_sarsa import (
    RobustSarsaConfig,
    collect_transitions,
    train_robust_sarsa,
)


def victim_model(path: str | None) -> PPO:
    if path is not None:
        return PPO.load(path, device="cpu")
    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
                n_epochs=10, ent_coef=0.0, learning_rate=0.002, seed=0, device="cpu")  # fmt: skip
    model.learn(30_000)
    saved = Path(tempfile.mkdtemp()) / "victim.zip"
    model.save(saved)
    return PPO.load(saved, device="cpu")


def timed(run) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=16_384, help="env steps per PPO timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None, help="victim PPO zip (default: train one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    victim = victim_model(args.model)

    def act(obs):  # type: ignore[no-untyped-def]
        return victim.predict(obs, deterministic=True)[0]

    def make_env() -> gym.Env:
        return gym.make("CartPole-v1")

    config = AdversaryConfig(timesteps=args.steps, n_envs=8, seed=0)
    rows: dict[str, list[tuple[float, float]]] = {"plain PPO": [], "adversary PPO": []}
    for _ in range(args.repeats):
        plain = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=0), seed=0,
                    device="cpu")  # fmt: skip
        rows["plain PPO"].append(timed(lambda plain=plain: plain.learn(args.steps)))
        rows["adversary PPO"].append(
            timed(lambda: train_adversary(make_env, act, 0.1, config, device="cpu"))
        )
    # PPO rounds learn() up to whole rollouts of n_steps * n_envs
    steps = -(-args.steps // (2048 * 8)) * 2048 * 8
    for name, times in rows.items():
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        print(f"{name:>14}: {steps / wall:8.0f} steps/s wall ({steps / cpu:8.0f} per CPU second)")
    ratios = [a[0] / p[0] for a, p in zip(rows["adversary PPO"], rows["plain PPO"], strict=True)]
    print(f"adversary / plain PPO wall time: median {statistics.median(ratios):.2f}x "
          f"({', '.join(f'{r:.2f}' for r in ratios)})")  # fmt: skip

    rs = RobustSarsaConfig()
    updates = 500
    collect, plain_fit, robust_fit = [], [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        data = collect_transitions(
            make_env, act, steps=rs.rollout_steps, explore=rs.explore, n_envs=rs.n_envs, seed=0
        )
        collect.append(time.perf_counter() - started)
        for reg, times in ((0.0, plain_fit), (rs.reg, robust_fit)):
            started = time.perf_counter()
            train_robust_sarsa(data, RobustSarsaConfig(updates=updates, reg=reg))
            times.append(time.perf_counter() - started)
    slowdown = statistics.median(r / p for r, p in zip(robust_fit, plain_fit, strict=True))
    print(f"RS rollouts: {rs.rollout_steps / statistics.median(collect):8.0f} transitions/s")
    print(f"RS updates: {updates / statistics.median(plain_fit):8.0f}/s plain Sarsa, "
          f"{updates / statistics.median(robust_fit):8.0f}/s with the regulariser "
          f"({rs.reg_steps} PGD steps): {slowdown:.2f}x")  # fmt: skip
    print("machine: shared; medians of", args.repeats, "alternating repeats")


if __name__ == "__main__":
    main()
