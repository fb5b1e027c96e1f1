"""Reproduction: does gradient noise help PPO train a deep, narrow, poorly initialised policy?

Neelakantan et al. (2015) report that annealed Gaussian gradient noise,
sigma_t^2 = eta / (1 + t)^0.55, helps optimise deep networks that are hard to
train (20-layer networks, poor initialisation). Here: PPO on CartPole-v1 with
separate policy and value networks of ``depth`` tanh layers of ``width`` units,
initialised with PyTorch's default (``ortho_init=False``: weights U(+-1/sqrt(fan_in)),
so the signal shrinks layer by layer), trained with and without
``GradientNoiseCallback`` (eta in {0.01, 0.3}; eta = 0 is the plain run), over
several seeds. Everything else is SB3's PPO default.

Final return = mean return of ``eval_episodes`` deterministic episodes on a
separate, seeded CartPole after training. Reported per eta: IQM over seeds with
a stratified-bootstrap 95% CI (percentile; one task, so the strata are the one
task's runs), the mean, and every seed's value.

Runs are appended to a JSON-lines file as they finish; a rerun skips what is
there, so a long job can be stopped and resumed. Not run in CI.

Run: ``python scripts/reproduce_gradient_noise.py [--steps 100000] [--seeds 5]
[--position after_clip|before_clip]``
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from scipy import stats
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from rlnoise.callbacks import GradientNoiseCallback


@dataclass
class Args:
    steps: int = field(default=100_000, metadata={"help": "env steps per run"})
    seeds: int = field(default=5, metadata={"help": "seeds per setting"})
    start_seed: int = field(default=0, metadata={"help": "first seed (seeds start_seed...)"})
    etas: str = field(default="0,0.01,0.3", metadata={"help": "comma-separated; 0 = no noise"})
    position: str = field(
        default="after_clip",
        metadata={"help": "where the noise lands: after_clip (default) or before_clip"},
    )
    depth: int = field(default=20, metadata={"help": "hidden layers of each network"})
    width: int = field(default=16, metadata={"help": "units per hidden layer"})
    eval_episodes: int = field(default=20, metadata={"help": "deterministic episodes per run"})
    bootstrap: int = field(default=10_000, metadata={"help": "bootstrap resamples for the CI"})
    out: str = field(
        default="reproduce_gradient_noise.jsonl", metadata={"help": "JSON-lines results file"}
    )


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(Args):
        kind: Any = type(f.default)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=kind, default=f.default, help=f.metadata["help"]
        )
    return Args(**vars(parser.parse_args()))


# -- statistics (rliable-style, written here so the script needs only scipy) ------------


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all entries of ``scores`` (runs x tasks), as rliable computes it."""
    return float(stats.trim_mean(scores, proportiontocut=0.25, axis=None))


def stratified_bootstrap_ci(
    scores: np.ndarray, statistic: Any, reps: int, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile CI of ``statistic(scores)``, resampling runs within each task.

    Args:
        scores: Array of shape ``(n_runs, n_tasks)``.
        statistic: Function of a ``(n_runs, n_tasks)`` array returning a float.
        reps: Bootstrap resamples.
        seed: Seed of the resampling generator (the CI is reproducible).
        level: Coverage of the interval.
    """
    rng = np.random.default_rng(seed)
    n_runs, n_tasks = scores.shape
    values = np.empty(reps)
    for rep in range(reps):
        rows = rng.integers(0, n_runs, size=(n_runs, n_tasks))
        values[rep] = statistic(np.take_along_axis(scores, rows, axis=0))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


# -- one run ---------------------------------------------------------------------------


def train_and_evaluate(args: Args, eta: float, seed: int) -> dict[str, Any]:
    layers = [args.width] * args.depth
    model = PPO(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=dict(net_arch=dict(pi=layers, vf=layers), ortho_init=False),
        device="cpu",
        seed=seed,
    )
    callback = (
        GradientNoiseCallback(eta=eta, seed=seed, position=args.position) if eta > 0 else None
    )
    start = time.perf_counter()
    model.learn(args.steps, callback=callback)
    seconds = time.perf_counter() - start
    eval_env = Monitor(gym.make("CartPole-v1"))
    eval_env.reset(seed=10_000 + seed)
    returns, _ = evaluate_policy(
        model,
        eval_env,
        n_eval_episodes=args.eval_episodes,
        deterministic=True,
        return_episode_rewards=True,
    )
    last = [info["r"] for info in model.ep_info_buffer][-20:]
    return {
        "eta": eta,
        "position": _position(args.position, eta),
        "seed": seed,
        "steps": args.steps,
        "depth": args.depth,
        "width": args.width,
        "eval_return": float(np.mean(returns)),
        "train_return_last20": float(np.mean(last)) if last else float("nan"),
        "seconds": round(seconds, 1),
    }


def _position(position: str, eta: float) -> str:
    """Where the noise lands; runs without noise have no position."""
    return position if eta > 0 else "-"


def _row_position(row: dict[str, Any]) -> str:
    # Rows written before --position existed were all after_clip.
    return str(row.get("position", _position("after_clip", row["eta"])))


def report(args: Args, rows: list[dict[str, Any]]) -> None:
    print(
        f"\nPPO CartPole-v1, {args.depth}x{args.width} tanh policy and value nets, "
        f"ortho_init=False, {args.steps} steps, final return = mean of {args.eval_episodes} "
        "deterministic episodes"
    )
    print(f"{'gradient noise':<22} {'IQM':>7}  {'95% CI':<17} {'mean':>7}  per seed")
    for eta, position in sorted({(row["eta"], _row_position(row)) for row in rows}):
        scores = np.array(
            [
                [row["eval_return"]]
                for row in rows
                if row["eta"] == eta and _row_position(row) == position
            ]
        )
        low, high = stratified_bootstrap_ci(scores, iqm, args.bootstrap)
        label = "none" if eta == 0 else f"eta={eta:g} {position}"
        seeds = ", ".join(f"{s:.0f}" for s in scores[:, 0])
        print(
            f"{label:<22} {iqm(scores):7.1f}  [{low:6.1f}, {high:6.1f}] "
            f"{scores.mean():7.1f}  {seeds}  (n={len(scores)})"
        )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    path = Path(args.out)
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    settings = dict(steps=args.steps, depth=args.depth, width=args.width)
    rows = [row for row in rows if all(row[k] == v for k, v in settings.items())]
    if args.position not in ("after_clip", "before_clip"):
        raise SystemExit(f"--position must be after_clip or before_clip, got {args.position!r}")
    done = {(row["eta"], _row_position(row), row["seed"]) for row in rows}
    etas = [float(text) for text in args.etas.split(",")]
    seeds = range(args.start_seed, args.start_seed + args.seeds)
    for seed in seeds:  # seeds outer: a stopped job has every setting equally
        for eta in etas:
            if (eta, _position(args.position, eta), seed) in done:
                continue
            row = train_and_evaluate(args, eta, seed)
            rows.append(row)
            with path.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    report(args, rows)


if __name__ == "__main__":
    main()
