"""Benchmark: TD3 and SAC speed with exploration noise from a spec vs SB3's own exploration.

Side by side in one run: for each repeat, SB3's own exploration (TD3 with
``NormalActionNoise(0, 0.1)``; SAC's default sampling) and rlnoise's
(``SpecActionNoise``; ``ExplorationNoiseCallback``) train the same number of
steps with the same seed and hyperparameters, in alternating order; the ratio
of their fps is taken per repeat and the median printed. Target: >= 0.95x.

Two settings per algorithm: SB3's defaults (one gradient step per env step,
which is what a user runs) and acting only (``gradient_steps=0``: rollout
collection, where the per-step cost of the noise is all there is to see).
fps are env steps per second of this process's CPU time (one torch thread):
the machine is shared, and CPU time keeps other processes out of the ratio.

Run: ``python scripts/bench_exploration.py [--repeats 5] [--train-steps 1500] [--act-steps 4000]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch
from stable_baselines3 import SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise

from rlnoise.exploration import ExplorationNoiseCallback, SpecActionNoise

ENV = "Pendulum-v1"


@dataclass
class Args:
    repeats: int = field(default=5, metadata={"help": "pairs of runs per comparison"})
    train_steps: int = field(default=1500, metadata={"help": "env steps per training run"})
    act_steps: int = field(default=4000, metadata={"help": "env steps per acting-only run"})
    seed: int = field(default=0, metadata={"help": "seed of every model"})


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    for f in fields(Args):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=int, default=f.default, help=f.metadata["help"]
        )
    return Args(**vars(parser.parse_args()))


# A run: build the model (with its noise) and the callback to learn with.
Run = Callable[[int, bool], tuple[BaseAlgorithm, Any]]


def td3(noise: str) -> Run:
    def build(seed: int, acting_only: bool) -> tuple[BaseAlgorithm, Any]:
        if noise == "sb3":
            action_noise: Any = NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))
        else:
            action_noise = SpecActionNoise(noise, action_dim=1, seed=seed)
        extra = {"gradient_steps": 0, "learning_starts": 0} if acting_only else {}
        model = TD3("MlpPolicy", ENV, action_noise=action_noise, device="cpu", seed=seed, **extra)
        return model, None

    return build


def sac(noise: str) -> Run:
    def build(seed: int, acting_only: bool) -> tuple[BaseAlgorithm, Any]:
        extra = {"gradient_steps": 0, "learning_starts": 0} if acting_only else {}
        model = SAC("MlpPolicy", ENV, device="cpu", seed=seed, **extra)
        return model, None if noise == "sb3" else ExplorationNoiseCallback(noise, seed=seed)

    return build


def fps(run: Run, steps: int, seed: int, acting_only: bool) -> float:
    model, callback = run(seed, acting_only)
    start = time.process_time()
    model.learn(steps, callback=callback)
    return steps / (time.process_time() - start)


def compare(name: str, plain: Run, noisy: Run, steps: int, acting_only: bool, args: Args) -> None:
    fps(plain, min(steps, 300), args.seed, acting_only)  # warm-up: imports, allocator
    fps(noisy, min(steps, 300), args.seed, acting_only)
    ratios, plain_fps, noisy_fps = [], [], []
    for repeat in range(args.repeats):
        order = (plain, noisy) if repeat % 2 == 0 else (noisy, plain)
        result = {id(run): fps(run, steps, args.seed, acting_only) for run in order}
        plain_fps.append(result[id(plain)])
        noisy_fps.append(result[id(noisy)])
        ratios.append(result[id(noisy)] / result[id(plain)])
    median = statistics.median(ratios)
    print(
        f"{name:<58} SB3 {statistics.median(plain_fps):6.0f} fps | rlnoise "
        f"{statistics.median(noisy_fps):6.0f} fps | ratio median {median:.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f}) target >= 0.95 "
        f"{'MET' if median >= 0.95 else 'MISSED'}",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, {ENV}, {args.repeats} repeats, fps in CPU time, "
        "median of per-pair ratios"
    )
    for acting_only, steps, label in (
        (False, args.train_steps, "training"),
        (True, args.act_steps, "acting only"),
    ):
        compare(f"TD3 {label}: SpecActionNoise gaussian:0.1 vs NormalActionNoise",
                td3("sb3"), td3("gaussian:0.1"), steps, acting_only, args)  # fmt: skip
        compare(f"TD3 {label}: SpecActionNoise colored:0.1 (pink) vs NormalActionNoise",
                td3("sb3"), td3("colored:0.1,length=200"), steps, acting_only, args)  # fmt: skip
        compare(f"SAC {label}: callback gaussian:1 vs default sampling",
                sac("sb3"), sac("gaussian:1"), steps, acting_only, args)  # fmt: skip
        compare(f"SAC {label}: callback colored:1 (pink) vs default sampling",
                sac("sb3"), sac("colored:1,length=200"), steps, acting_only, args)  # fmt: skip


if __name__ == "__main__":
    main()
