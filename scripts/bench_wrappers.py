"""Benchmark: the observation-noise wrappers vs the same envs without noise.

Side by side in one run, interleaved, repeated; prints median ratios over repeats
(each repeat's ratio is taken against the baseline timed next to it):

  * single env: ``ObservationNoise(CartPole-v1, "gaussian:0.1")`` step vs the raw
    ``CartPole-v1`` step (target: at most 1.15x). Reference lines: an identity
    wrapper, and a plain ``ObservationWrapper`` that draws ``np_random.normal``
    every step (which also draws from the env's own generator, the mistake rlnoise
    avoids);
  * 16 CartPole sub-envs, random actions (episodes of realistic length, so the
    terminal-observation path runs): Gymnasium ``SyncVectorEnv`` with the vector
    ``ObservationNoise`` and SB3 ``DummyVecEnv`` with ``VecObservationNoise``, each
    vs the same vector env without noise (target: at most 1.05x).

Usage:
    python scripts/bench_wrappers.py [--repeats 15] [--steps 20000] [--vector-steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.wrappers import ObservationNoise, VecObservationNoise
from rlnoise.wrappers.vector import ObservationNoise as VectorObservationNoise

SPEC = "gaussian:0.1"
N_ENVS = 16


class IdentityWrapper(gym.Wrapper):
    """Forwards every call: the cost of one wrapper layer."""

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, info


class PlainNormalNoise(gym.ObservationWrapper):
    """The straightforward version: one ``np_random.normal`` call per step (the env's RNG)."""

    def observation(self, observation: np.ndarray) -> np.ndarray:
        noise = self.np_random.normal(0.0, 0.1, observation.shape)
        return (observation + noise).astype(observation.dtype)


def single_env_stepper(env: gym.Env, actions: np.ndarray) -> Callable[[], None]:
    env.reset(seed=0)
    state = {"k": 0}

    def step() -> None:
        k = state["k"] = (state["k"] + 1) % len(actions)
        _, _, terminated, truncated, _ = env.step(int(actions[k]))
        if terminated or truncated:
            env.reset()

    return step


def vector_stepper(envs: Any, actions: np.ndarray) -> Callable[[], None]:
    if isinstance(envs, gym.vector.VectorEnv):
        envs.reset(seed=0)
    else:
        envs.reset()
    state = {"k": 0}

    def step() -> None:
        k = state["k"] = (state["k"] + 1) % len(actions)
        envs.step(actions[k])

    return step


def compare(
    name: str,
    baseline: Callable[[], None],
    candidates: dict[str, Callable[[], None]],
    number: int,
    repeats: int,
    targets: dict[str, float],
) -> None:
    times: dict[str, list[float]] = {"baseline": [], **{k: [] for k in candidates}}
    for _ in range(repeats):  # interleave so machine noise hits every variant alike
        times["baseline"].append(timeit.timeit(baseline, number=number) / number)
        for key, fn in candidates.items():
            times[key].append(timeit.timeit(fn, number=number) / number)
    base = statistics.median(times["baseline"])
    print(f"\n{name}: baseline {base * 1e6:.2f} us/step (median of {repeats})")
    for key in candidates:
        ratios = [c / b for c, b in zip(times[key], times["baseline"], strict=True)]
        ratio = statistics.median(ratios)
        line = (
            f"  {key:<44} {statistics.median(times[key]) * 1e6:9.2f} us/step   ratio {ratio:5.3f}x"
        )
        if key in targets:
            verdict = "met" if ratio <= targets[key] else "NOT met"
            line += f"  (target <= {targets[key]}x: {verdict})"
        else:
            line += "  (reference)"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20_000, help="single-env steps per repeat")
    parser.add_argument("--vector-steps", type=int, default=1_000, help="vector steps per repeat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    actions = rng.integers(0, 2, size=4096)
    compare(
        "single env, CartPole-v1",
        single_env_stepper(gym.make("CartPole-v1"), actions),
        {
            f'ObservationNoise("{SPEC}")': single_env_stepper(
                ObservationNoise(gym.make("CartPole-v1"), SPEC), actions
            ),
            "identity wrapper": single_env_stepper(
                IdentityWrapper(gym.make("CartPole-v1")), actions
            ),
            "plain ObservationWrapper + np_random.normal": single_env_stepper(
                PlainNormalNoise(gym.make("CartPole-v1")), actions
            ),
        },
        number=args.steps,
        repeats=args.repeats,
        targets={f'ObservationNoise("{SPEC}")': 1.15},
    )

    batch_actions = rng.integers(0, 2, size=(4096, N_ENVS))
    compare(
        f"Gymnasium SyncVectorEnv, {N_ENVS} x CartPole-v1 (next-step autoreset)",
        vector_stepper(gym.make_vec("CartPole-v1", N_ENVS, "sync"), batch_actions),
        {
            "vector ObservationNoise": vector_stepper(
                VectorObservationNoise(gym.make_vec("CartPole-v1", N_ENVS, "sync"), SPEC),
                batch_actions,
            ),
        },
        number=args.vector_steps,
        repeats=args.repeats,
        targets={"vector ObservationNoise": 1.05},
    )
    compare(
        f"SB3 DummyVecEnv, {N_ENVS} x CartPole-v1 (terminal observations in infos)",
        vector_stepper(make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=0), batch_actions),
        {
            "VecObservationNoise": vector_stepper(
                VecObservationNoise(make_vec_env("CartPole-v1", n_envs=N_ENVS, seed=0), SPEC),
                batch_actions,
            ),
        },
        number=args.vector_steps,
        repeats=args.repeats,
        targets={"VecObservationNoise": 1.05},
    )


if __name__ == "__main__":
    main()
