"""Cost of robust training next to plain SB3 PPO on CartPole-v1, side by side in one run.

Each repeat trains, interleaved and from the same seed, plain PPO and PPO with
each robust method, and records the wall time of the whole ``learn()`` and of
the updates alone (the time between a rollout's end and the next rollout's
start, i.e. SB3's ``train()``). Printed: per variant the median over repeats
of its time divided by plain PPO's time of the same repeat.

- ``adversarial fgsm``: :class:`~rlnoise.robust.AdversarialTraining` with FGSM on
  every observation; the ratio that matters is the whole ``learn()``.
- ``SA K=k``: :class:`~rlnoise.robust.SARegulariser` with ``k`` PGD steps; the
  ratio that matters is per update.

Usage:
    python scripts/bench_robust.py                   # CPU
    python scripts/bench_robust.py --device cuda     # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.env_util import make_vec_env

from rlnoise.robust import AdversarialTraining, SARegulariser


class UpdateTimer(BaseCallback):
    """Wall time spent in SB3's ``train()`` (rollout end to next rollout start or the end)."""

    def __init__(self) -> None:
        super().__init__()
        self.update_seconds = 0.0
        self._mark: float | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self._mark = time.perf_counter()

    def _close(self) -> None:
        if self._mark is not None:
            self.update_seconds += time.perf_counter() - self._mark
            self._mark = None

    def _on_rollout_start(self) -> None:
        self._close()

    def _on_training_end(self) -> None:
        self._close()


def variants(ks: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "plain": lambda: None,
        "adversarial fgsm": lambda: AdversarialTraining(attack="fgsm", eps=0.1, seed=0),
    }
    for k in ks:
        out[f"SA K={k}"] = lambda k=k: SARegulariser(kappa=0.1, eps=0.1, steps=k, seed=0)
    return out


def run(make: Any, args: argparse.Namespace) -> tuple[float, float]:
    env = make_vec_env("CartPole-v1", n_envs=args.n_envs, seed=0)
    model = PPO(
        "MlpPolicy", env, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs,
        seed=0, device=args.device,
    )  # fmt: skip
    timer = UpdateTimer()
    extra = make()
    callback = CallbackList([timer] if extra is None else [extra, timer])
    start = time.perf_counter()
    model.learn(args.steps, callback=callback)
    total = time.perf_counter() - start
    env.close()
    return total, timer.update_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument("--steps", type=int, default=4096, help="PPO steps per learn()")
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10], help="SA PGD steps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", default="", help="also write the medians here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    makers = variants(args.ks)
    ratios: dict[str, dict[str, list[float]]] = {n: {"learn": [], "update": []} for n in makers}
    for repeat in range(args.repeats):
        times = {name: run(make, args) for name, make in makers.items()}
        base_total, base_update = times["plain"]
        for name, (total, update) in times.items():
            ratios[name]["learn"].append(total / base_total)
            ratios[name]["update"].append(update / base_update)
        print(f"repeat {repeat}: " + ", ".join(f"{n} {t:.2f}s" for n, (t, _) in times.items()))
    print(f"\nmedian ratio to plain PPO over {args.repeats} repeats ({args.device}):")
    print(f"{'variant':<18} {'learn()':>8} {'per update':>11}")
    medians = {}
    for name, r in ratios.items():
        medians[name] = {k: statistics.median(v) for k, v in r.items()}
        print(f"{name:<18} {medians[name]['learn']:>7.2f}x {medians[name]['update']:>10.2f}x")
    if args.json:
        temporary = f"{args.json}.tmp"
        with open(temporary, "w") as handle:
            json.dump({"args": vars(args), "median_ratios": medians}, handle, indent=2)
        os.replace(temporary, args.json)


if __name__ == "__main__":
    main()
