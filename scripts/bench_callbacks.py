"""Benchmark: SB3 training speed with GradientNoiseCallback vs the same training without it.

Side by side in one run: for each repeat, the plain model and the model with
gradient noise train the same number of steps (same seed, same
hyperparameters), in alternating order; the ratio of their fps is taken per
repeat and the median printed. Targets: PPO on CartPole-v1 >= 0.95x, SAC on
Pendulum-v1 >= 0.93x. A third pair adds the shared clock (NoiseScheduleCallback)
on top of the gradient noise, for information.

Run: ``python scripts/bench_callbacks.py [--repeats 5] [--ppo-steps 8192] [--sac-steps 1500]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from rlnoise.callbacks import GradientNoiseCallback, NoiseScheduleCallback


@dataclass
class Args:
    repeats: int = field(default=5, metadata={"help": "pairs of runs per benchmark"})
    ppo_steps: int = field(default=8192, metadata={"help": "PPO env steps per run"})
    sac_steps: int = field(default=1500, metadata={"help": "SAC env steps per run"})
    seed: int = field(default=0, metadata={"help": "seed of every model"})


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(Args):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=int, default=f.default, help=f.metadata["help"]
        )
    return Args(**vars(parser.parse_args()))


def make_ppo(seed: int) -> BaseAlgorithm:
    return PPO("MlpPolicy", "CartPole-v1", device="cpu", seed=seed)  # SB3 defaults


def make_sac(seed: int) -> BaseAlgorithm:
    return SAC("MlpPolicy", "Pendulum-v1", learning_starts=100, device="cpu", seed=seed)


def fps(make: Callable[[int], BaseAlgorithm], steps: int, seed: int, callback: Any) -> float:
    """Env steps per second of CPU time of this process (one torch thread, one process).

    CPU time, not wall time: the benchmark machine is shared, and other processes
    taking the core would otherwise show up as noise in whichever run they hit.
    """
    model = make(seed)
    start = time.process_time()
    model.learn(steps, callback=callback)
    return steps / (time.process_time() - start)


def compare(
    name: str,
    make: Callable[[int], BaseAlgorithm],
    steps: int,
    args: Args,
    callbacks: Callable[[], Any],
    target: float | None,
) -> None:
    fps(make, min(steps, 512), args.seed, None)  # warm-up: imports, allocator, env registry
    ratios, plain_fps, noisy_fps = [], [], []
    for repeat in range(args.repeats):
        order = [False, True] if repeat % 2 == 0 else [True, False]
        result = {}
        for noisy in order:
            result[noisy] = fps(make, steps, args.seed, callbacks() if noisy else None)
        plain_fps.append(result[False])
        noisy_fps.append(result[True])
        ratios.append(result[True] / result[False])
    median = statistics.median(ratios)
    verdict = "" if target is None else (" MET" if median >= target else " MISSED")
    plain, noisy = statistics.median(plain_fps), statistics.median(noisy_fps)
    print(
        f"{name:<42} plain {plain:6.0f} fps | with {noisy:6.0f} fps | ratio median "
        f"{median:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})"
        + ("" if target is None else f" target >= {target}{verdict}")
    )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    print(
        f"torch {torch.__version__}, 1 thread, {args.repeats} repeats, fps in CPU time, "
        "median of per-pair ratios"
    )
    compare(
        "PPO CartPole-v1 + GradientNoiseCallback",
        make_ppo,
        args.ppo_steps,
        args,
        lambda: GradientNoiseCallback(eta=0.01, seed=1),
        0.95,
    )
    compare(
        "SAC Pendulum-v1 + GradientNoiseCallback",
        make_sac,
        args.sac_steps,
        args,
        lambda: GradientNoiseCallback(eta=0.01, seed=1),
        0.93,
    )
    compare(
        "PPO CartPole-v1 + gradient noise + clock",
        make_ppo,
        args.ppo_steps,
        args,
        lambda: [NoiseScheduleCallback(), GradientNoiseCallback(eta=0.01, seed=1)],
        None,
    )


if __name__ == "__main__":
    main()
