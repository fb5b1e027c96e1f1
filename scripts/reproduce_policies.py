"""Do the noisy policies learn? Train each over several seeds and print a table (not CI).

Targets (rl-zoo hyperparameters from ``rl_zoo3/hyperparams/*.yml``, noise at
each policy's defaults):

==========  =========================================  ===========  ===========  ==========
algorithm   policy                                     env          budget       target
==========  =========================================  ===========  ===========  ==========
PPO         NoisyActorCriticPolicy (weight + act.)     CartPole-v1  100k steps   >= 475, 4/5
DQN         NoisyDQNPolicy (NoisyNet, epsilon = 0)     CartPole-v1  100k steps   >= 475
SAC         NoisySACPolicy (adaptive param noise)      Pendulum-v1  20k steps    >= -200
TD3         NoisyTD3Policy (adaptive param noise)      Pendulum-v1  20k steps    >= -200
==========  =========================================  ===========  ===========  ==========

"Reaches" means: at one of the periodic evaluations within the budget
(``n_eval_episodes`` episodes, deterministic actions, a separate environment,
noise in its ``eval`` phase, i.e. off) the mean return is at the target;
training stops there. Each finished run appends one JSON line to ``--out``,
so parts can be rerun (``--algos``, ``--seeds``) and ``--table`` prints the
table from what is already there.

Run: ``nohup python scripts/reproduce_policies.py > /work/notes/reproduce_policies.log &``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.utils import LinearSchedule

from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy, NoisyTD3Policy


@dataclass
class Args:
    """Command-line options."""

    algos: tuple[str, ...] = ("ppo", "dqn", "sac", "td3")
    """Which runs to make."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Seeds per algorithm."""
    out: str = "/work/notes/reproduce_policies.jsonl"
    """JSON lines of finished runs (appended)."""
    table: bool = False
    """Only print the table from ``out``."""


@dataclass(frozen=True)
class Target:
    """One reproduction target."""

    label: str
    env_id: str
    budget: int
    threshold: float
    eval_every: int
    n_eval_episodes: int
    make: Callable[[int], BaseAlgorithm]
    needed: int  # seeds (of 5) that must reach the threshold


def make_ppo(seed: int) -> BaseAlgorithm:
    # rl_zoo3 hyperparams/ppo.yml, CartPole-v1 (tuned).
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    return PPO(
        NoisyActorCriticPolicy,
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=LinearSchedule(1e-3, 0.0, 1.0),
        clip_range=LinearSchedule(0.2, 0.0, 1.0),
        seed=seed,
        device="cpu",
    )


def make_dqn(seed: int) -> BaseAlgorithm:
    # rl_zoo3 hyperparams/dqn.yml, CartPole-v1; NoisyNet sets epsilon to 0.
    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    return DQN(
        NoisyDQNPolicy,
        env,
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs={"net_arch": [256, 256]},
        seed=seed,
        device="cpu",
    )


def make_sac(seed: int) -> BaseAlgorithm:
    # rl_zoo3 hyperparams/sac.yml, Pendulum-v1.
    env = make_vec_env("Pendulum-v1", n_envs=1, seed=seed)
    return SAC(NoisySACPolicy, env, learning_rate=1e-3, seed=seed, device="cpu")


def make_td3(seed: int) -> BaseAlgorithm:
    # rl_zoo3 hyperparams/td3.yml, Pendulum-v1, with parameter noise instead of action noise.
    env = make_vec_env("Pendulum-v1", n_envs=1, seed=seed)
    return TD3(
        NoisyTD3Policy,
        env,
        gamma=0.98,
        buffer_size=200_000,
        learning_starts=10_000,
        gradient_steps=1,
        train_freq=1,
        learning_rate=1e-3,
        policy_kwargs={"net_arch": [400, 300]},
        seed=seed,
        device="cpu",
    )


TARGETS = {
    "ppo": Target(
        "PPO + NoisyActorCriticPolicy", "CartPole-v1", 100_000, 475.0, 5_000, 10, make_ppo, 4
    ),
    "dqn": Target(
        "DQN + NoisyDQNPolicy (eps=0)", "CartPole-v1", 100_000, 475.0, 5_000, 10, make_dqn, 5
    ),
    "sac": Target("SAC + NoisySACPolicy", "Pendulum-v1", 20_000, -200.0, 2_000, 10, make_sac, 5),
    "td3": Target("TD3 + NoisyTD3Policy", "Pendulum-v1", 20_000, -200.0, 2_000, 10, make_td3, 5),
}


class EvaluateUntil(BaseCallback):
    """Evaluate every ``every`` steps; stop once the mean return reaches ``threshold``."""

    def __init__(self, target: Target, seed: int) -> None:
        super().__init__()
        self.target = target
        self.eval_env = make_vec_env(target.env_id, n_envs=1, seed=10_000 + seed)
        self.curve: list[tuple[int, float]] = []
        self.reached_at: int | None = None
        self._next = target.eval_every

    def _on_step(self) -> bool:
        if self.num_timesteps < self._next:
            return True
        self._next += self.target.eval_every
        mean, _ = evaluate_policy(
            self.model,
            self.eval_env,
            n_eval_episodes=self.target.n_eval_episodes,
            deterministic=True,
        )
        self.curve.append((self.num_timesteps, float(mean)))
        logs = self.model.policy.noise_logs()  # type: ignore[operator]
        scales = " ".join(f"{k}={v:.3g}" for k, v in logs.items())
        print(f"  step {self.num_timesteps:>6}: eval mean {mean:8.1f}  {scales}", flush=True)
        if mean >= self.target.threshold:
            self.reached_at = self.num_timesteps
            return False
        return True


def run(key: str, seed: int) -> dict[str, Any]:
    target = TARGETS[key]
    model = target.make(seed)
    callback = EvaluateUntil(target, seed)
    start = time.perf_counter()
    model.learn(target.budget, callback=callback)
    return {
        "algo": key,
        "seed": seed,
        "reached": callback.reached_at is not None,
        "reached_at": callback.reached_at,
        "best": max((m for _, m in callback.curve), default=None),
        "curve": callback.curve,
        "steps": model.num_timesteps,
        "seconds": round(time.perf_counter() - start, 1),
    }


def table(path: Path) -> None:
    rows: dict[str, list[dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            rows.setdefault(record["algo"], []).append(record)
    header = (
        "run",
        "env",
        "target",
        "seeds reaching",
        "median steps to reach",
        "best eval per seed",
    )
    lines = []
    for key, target in TARGETS.items():
        records = {r["seed"]: r for r in rows.get(key, [])}  # the latest run of each seed
        if not records:
            continue
        reached = [r for r in records.values() if r["reached"]]
        steps = statistics.median(r["reached_at"] for r in reached) if reached else None
        verdict = "met" if len(reached) >= min(target.needed, len(records)) else "MISSED"
        lines.append(
            (
                target.label,
                target.env_id,
                f">= {target.threshold:g} in {target.budget // 1000}k",
                f"{len(reached)}/{len(records)} ({verdict}; needs {target.needed}/5)",
                "-" if steps is None else f"{steps:.0f}",
                ", ".join(f"{r['best']:.0f}" for _, r in sorted(records.items())),
            )
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    print()
    for row in [header, *lines]:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def main(args: Args) -> None:
    torch.set_num_threads(1)
    out = Path(args.out)
    if not args.table:
        out.parent.mkdir(parents=True, exist_ok=True)
        for key in args.algos:
            for seed in args.seeds:
                print(f"{TARGETS[key].label} seed {seed}", flush=True)
                record = run(key, seed)
                print(
                    f"  -> reached={record['reached']} at {record['reached_at']} "
                    f"best={record['best']} ({record['seconds']} s)",
                    flush=True,
                )
                with out.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
    table(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=list(Args.algos), choices=sorted(TARGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(Args.seeds))
    parser.add_argument("--out", default=Args.out, help="JSON lines of finished runs")
    parser.add_argument("--table", action="store_true", help="only print the table")
    namespace = parser.parse_args()
    main(Args(tuple(namespace.algos), tuple(namespace.seeds), namespace.out, namespace.table))
