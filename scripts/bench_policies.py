"""Speed of the noisy policies against plain SB3, side by side in one run.

Each case trains the plain policy and the noisy one with the same
hyperparameters on the same environment, alternating, ``--repeats`` times,
and prints the median of the per-pair fps ratios (noisy / plain):

- PPO, CartPole-v1: ``NoisyActorCriticPolicy`` with its default weight and
  activation noise (train phase only) vs ``MlpPolicy`` (target >= 0.90x);
- DQN, CartPole-v1: ``NoisyDQNPolicy`` (NoisyNet, learnable sigmas, a new
  sample per acting step and per gradient update) vs ``MlpPolicy`` with
  epsilon-greedy (target >= 0.80x);
- SAC, Pendulum-v1: ``NoisySACPolicy`` with adaptive parameter noise (default,
  with its layer norms; and without them) vs ``MlpPolicy`` (target >= 0.90x).

Run: ``python scripts/bench_policies.py [--repeats 5] [--cases ppo dqn sac]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from stable_baselines3 import DQN, PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm

from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy


@dataclass
class Args:
    """Command-line options."""

    repeats: int = 5
    """Pairs (plain, noisy) timed per case."""
    cases: list[str] = field(default_factory=lambda: ["ppo", "dqn", "sac"])
    """Which cases to run."""


@dataclass
class Case:
    name: str
    make: Callable[[Any, dict[str, Any], int], BaseAlgorithm]
    plain: Any
    noisy: list[tuple[str, Any, dict[str, Any]]]
    steps: int
    target: float


def make_ppo(policy: Any, policy_kwargs: dict[str, Any], seed: int) -> BaseAlgorithm:
    return PPO(
        policy,
        "CartPole-v1",
        n_steps=2048,
        batch_size=64,
        n_epochs=10,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
    )


def make_dqn(policy: Any, policy_kwargs: dict[str, Any], seed: int) -> BaseAlgorithm:
    return DQN(
        policy,
        "CartPole-v1",
        learning_starts=100,
        train_freq=4,
        gradient_steps=1,
        batch_size=32,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
    )


def make_sac(policy: Any, policy_kwargs: dict[str, Any], seed: int) -> BaseAlgorithm:
    return SAC(
        policy,
        "Pendulum-v1",
        learning_starts=100,
        learning_rate=1e-3,
        policy_kwargs=policy_kwargs,
        seed=seed,
        device="cpu",
    )


CASES = {
    "ppo": Case(
        "PPO CartPole-v1",
        make_ppo,
        "MlpPolicy",
        [("weight+activation noise (default)", NoisyActorCriticPolicy, {})],
        8192,
        0.90,
    ),
    "dqn": Case(
        "DQN CartPole-v1",
        make_dqn,
        "MlpPolicy",
        [("NoisyNet (default)", NoisyDQNPolicy, {})],
        10_000,
        0.80,
    ),
    "sac": Case(
        "SAC Pendulum-v1",
        make_sac,
        "MlpPolicy",
        [
            ("param noise (default, layer norm)", NoisySACPolicy, {}),
            ("param noise, no layer norm", NoisySACPolicy, {"layer_norm": False}),
        ],
        1500,
        0.90,
    ),
}


def fps(case: Case, policy: Any, policy_kwargs: dict[str, Any], seed: int) -> tuple[float, float]:
    """(steps per wall-clock second, steps per second of this process's CPU time)."""
    model = case.make(policy, policy_kwargs, seed)
    wall, cpu = time.perf_counter(), time.process_time()
    model.learn(case.steps)
    return case.steps / (time.perf_counter() - wall), case.steps / (time.process_time() - cpu)


def main(args: Args) -> None:
    torch.set_num_threads(1)
    # The machine may be shared: the CPU-time ratio is printed next to the wall-clock one.
    print(
        f"{'case':<18} {'noisy variant':<36} {'plain fps':>10} {'noisy fps':>10} "
        f"{'median ratio':>13} {'cpu ratio':>10} {'target':>7}"
    )
    for key in args.cases:
        case = CASES[key]
        for label, policy, policy_kwargs in case.noisy:
            plain_fps, noisy_fps, ratios, cpu_ratios = [], [], [], []
            for repeat in range(args.repeats):
                base, base_cpu = fps(case, case.plain, {}, seed=repeat)
                noisy, noisy_cpu = fps(case, policy, policy_kwargs, seed=repeat)
                plain_fps.append(base)
                noisy_fps.append(noisy)
                ratios.append(noisy / base)
                cpu_ratios.append(noisy_cpu / base_cpu)
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= case.target else "MISSED"
            print(
                f"{case.name:<18} {label:<36} {statistics.median(plain_fps):>10.0f} "
                f"{statistics.median(noisy_fps):>10.0f} {ratio:>12.3f}x "
                f"{statistics.median(cpu_ratios):>9.3f}x {case.target:>6.2f} {verdict}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=Args.repeats, help="pairs timed per case")
    parser.add_argument(
        "--cases",
        nargs="+",
        default=Args().cases,
        choices=sorted(CASES),
        help="cases to run",
    )
    namespace = parser.parse_args()
    main(Args(repeats=namespace.repeats, cases=namespace.cases))
