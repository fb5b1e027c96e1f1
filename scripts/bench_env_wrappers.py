"""Benchmark: the environment-perturbation wrappers vs the same envs without them.

Side by side in one run, interleaved, repeated; median ratios over repeats (each
repeat's ratio against the baseline timed next to it), with the helpers of
``bench_wrappers.py``:

  * single env, CartPole-v1 step: ``DomainRandomization`` (pole length and cart
    mass), ``ObservationDelay`` (fixed and per-step random), ``ActionDelay``,
    ``RewardNoise`` and ``ObservationNoise`` with an envelope, each vs the raw
    step (target: at most 1.15x);
  * 16 CartPole sub-envs, each wrapped (``gym.make_vec(..., wrappers=[...])`` and
    ``make_vec_env(..., wrapper_class=...)``, the way these wrappers reach vector
    envs), vs the same vector env without them (target: at most 1.05x);
  * the batched SB3 ``VecObservationDelay``, ``VecActionDelay``, ``VecRewardNoise``
    vs the same ``DummyVecEnv`` (target: at most 1.05x);
  * the reset of ``DomainRandomization`` (a draw and ``apply_attributes``) vs a
    raw reset, reported separately.

Usage:
    python scripts/bench_env_wrappers.py [--repeats 15] [--steps 20000] [--vector-steps 1000]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_wrappers import (
    IdentityWrapper,
    compare,
    single_env_stepper,
    vector_stepper,
)

from rlnoise.wrappers import (
    ActionDelay,
    DomainRandomization,
    ObservationDelay,
    ObservationNoise,
    RewardNoise,
    VecActionDelay,
    VecObservationDelay,
    VecRewardNoise,
)

N_ENVS = 16
DR = {"length": "uniform:0.5,mode=multiplicative", "masscart": "uniform:0.5,mode=multiplicative"}
WRAPPERS: dict[str, Callable[[gym.Env], gym.Env]] = {
    "DomainRandomization(length, masscart)": lambda e: DomainRandomization(e, DR),
    "ObservationDelay(1)": lambda e: ObservationDelay(e, 1),
    "ObservationDelay([0,2], step)": lambda e: ObservationDelay(e, [0, 2], "step"),
    "ActionDelay(1)": lambda e: ActionDelay(e, 1),
    'RewardNoise("gaussian:0.1")': lambda e: RewardNoise(e, "gaussian:0.1"),
    "ObservationNoise(gaussian:0.1, pulse envelope)": lambda e: ObservationNoise(
        e, "gaussian:0.1,envelope=pulse(at=20,duration=50)"
    ),
}


def resetter(env: gym.Env) -> Callable[[], None]:
    env.reset(seed=0)

    def reset() -> None:
        env.reset()

    return reset


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20_000, help="single-env steps per repeat")
    parser.add_argument("--vector-steps", type=int, default=1_000, help="vector steps per repeat")
    parser.add_argument("--resets", type=int, default=5_000, help="resets per repeat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=4096)
    compare(
        "single env, CartPole-v1 step",
        single_env_stepper(gym.make("CartPole-v1"), actions),
        {
            **{
                k: single_env_stepper(w(gym.make("CartPole-v1")), actions)
                for k, w in WRAPPERS.items()
            },
            "identity wrapper": single_env_stepper(
                IdentityWrapper(gym.make("CartPole-v1")), actions
            ),
        },
        number=args.steps,
        repeats=args.repeats,
        targets=dict.fromkeys(WRAPPERS, 1.15),
    )
    compare(
        "single env, CartPole-v1 reset (reported separately)",
        resetter(gym.make("CartPole-v1")),
        {
            "DomainRandomization reset": resetter(
                WRAPPERS[next(iter(WRAPPERS))](gym.make("CartPole-v1"))
            )
        },
        number=args.resets,
        repeats=args.repeats,
        targets={},
    )
    batch = rng.integers(0, 2, size=(4096, N_ENVS))

    def sync(wrapper: Any = None) -> Any:
        return gym.make_vec("CartPole-v1", N_ENVS, "sync", wrappers=[wrapper] if wrapper else None)

    compare(
        f"Gymnasium SyncVectorEnv, {N_ENVS} x CartPole-v1, each sub-env wrapped",
        vector_stepper(sync(), batch),
        {k: vector_stepper(sync(w), batch) for k, w in WRAPPERS.items()},
        number=args.vector_steps,
        repeats=args.repeats,
        targets=dict.fromkeys(WRAPPERS, 1.05),
    )

    def dummy(wrapper: Any = None) -> Any:
        return make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=0, wrapper_class=wrapper)

    compare(
        f"SB3 DummyVecEnv, {N_ENVS} x CartPole-v1, each sub-env wrapped",
        vector_stepper(dummy(), batch),
        {k: vector_stepper(dummy(w), batch) for k, w in WRAPPERS.items()},
        number=args.vector_steps,
        repeats=args.repeats,
        targets=dict.fromkeys(WRAPPERS, 1.05),
    )
    batched = {
        "VecObservationDelay(1)": lambda v: VecObservationDelay(v, 1),
        "VecObservationDelay([0,2], step)": lambda v: VecObservationDelay(v, [0, 2], "step"),
        "VecActionDelay(1)": lambda v: VecActionDelay(v, 1),
        'VecRewardNoise("gaussian:0.1")': lambda v: VecRewardNoise(v, "gaussian:0.1"),
    }
    compare(
        f"SB3 DummyVecEnv, {N_ENVS} x CartPole-v1, batched VecEnv wrappers",
        vector_stepper(dummy(), batch),
        {k: vector_stepper(w(dummy()), batch) for k, w in batched.items()},
        number=args.vector_steps,
        repeats=args.repeats,
        targets=dict.fromkeys(batched, 1.05),
    )


if __name__ == "__main__":
    main()
