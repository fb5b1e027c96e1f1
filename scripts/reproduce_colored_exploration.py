"""Does colored exploration noise let SAC solve MountainCarContinuous-v0 in 10k steps?

pink-noise-rl (Eberhard et al., ICLR 2023) ships an example
(``examples/example.py``) whose recorded output is: SAC with SB3's default
settings, 10,000 steps on MountainCarContinuous-v0, solves 0% of 100
deterministic episodes with the default (white Gaussian) sampling noise and 100%
with pink noise (``PinkNoiseDist``, ``seq_len`` = the 999-step episode limit).
That is one run of each. Here: the same setting over several seeds and five
exploration noises, each the Gaussian policy's standard-normal draw, installed
by :class:`rlnoise.exploration.ExplorationNoiseCallback` from one spec:

- ``default``: SB3's SAC as it is (torch's global generator);
- ``gaussian``: ``gaussian:1``, white noise from the callback's own generators;
- ``ou``: Ornstein-Uhlenbeck with SB3's theta 0.15 and dt 0.01, scaled to unit
  stationary std (``ou:0.5475``; it starts each episode at 0);
- ``pink``: ``colored:1,beta=1,length=999``;
- ``red``: ``colored:1,beta=2,length=999``.

Each run is trained by ``rlnoise train``'s machinery (one run directory per
seed, finished runs skipped on a restart) and evaluated on 100 deterministic
episodes that reset with seeds ``eval_seed + k`` in every run (common random
numbers). An episode is *solved* when the car reaches the goal (the episode
terminates before the 999-step limit): pink-noise-rl's test, a positive
reward at some step, is the same event, as the only positive reward is the
goal's +100. The fraction with return > 90 (Gymnasium's ``reward_threshold``)
is reported beside it. Per noise: IQM of the per-run solved fractions over
seeds with a percentile-bootstrap 95% CI (one task, so the strata are the
runs), the mean, every seed's value, and the probability of improvement over
``default`` with its CI (rlnoise.evaluation's statistics, rliable's
definitions).

Results go to a JSON file (rewritten whole after every evaluated run, so a
restart re-evaluates nothing) and a PNG. Not run in CI: one run is about
110 s of CPU (10k SAC updates on one torch thread), 25 runs about 46 CPU-minutes.

Usage:
    python scripts/reproduce_colored_exploration.py --workers 10         # the full protocol
    python scripts/reproduce_colored_exploration.py --noises default,pink --seeds 3 \
        --report-only                      # evaluate and summarise the finished runs only
    python scripts/reproduce_colored_exploration.py --steps 2000 --seeds 1 --eval-episodes 10 \
        --out /tmp/cx.json --runs-dir /tmp/cx --figure ''                 # a quick check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.core.kinds import stationary_std

OU_PARAMS = {"theta": 0.15, "dt": 0.01, "mean": 0.0}
#: Noise name -> spec of the Gaussian's draw (None: SB3's default sampling).
NOISES: dict[str, str | None] = {
    "default": None,
    "pink": "colored:1,beta=1,length=999",
    "red": "colored:1,beta=2,length=999",
    "gaussian": "gaussian:1",
    "ou": f"ou:{1.0 / stationary_std('ou', OU_PARAMS):.4f}",
}
ENV_ID = "MountainCarContinuous-v0"
REWARD_THRESHOLD = 90.0
PUBLISHED = {"default": 0.0, "pink": 1.0}  # pink-noise-rl examples/example.py, one run each


@dataclass
class Args:
    """Settings (each field is a command-line option)."""

    steps: int = field(default=10_000, metadata={"help": "SAC training steps per run"})
    seeds: int = field(default=5, metadata={"help": "seeds per noise (seeds 0..n-1)"})
    noises: str = field(
        default=",".join(NOISES), metadata={"help": f"comma-separated subset of {list(NOISES)}"}
    )
    eval_episodes: int = field(default=100, metadata={"help": "deterministic episodes per run"})
    eval_seed: int = field(default=100_000, metadata={"help": "episode k resets with eval_seed+k"})
    workers: int = field(default=2, metadata={"help": "training processes at once"})
    report_only: bool = field(
        default=False,
        metadata={"help": "train nothing: evaluate the finished runs and summarise what is there"},
    )
    bootstrap: int = field(default=10_000, metadata={"help": "bootstrap resamples"})
    runs_dir: str = field(
        default="runs/colored_exploration", metadata={"help": "where the run directories go"}
    )
    out: str = field(default="results/colored_exploration.json", metadata={"help": "results JSON"})
    figure: str = field(
        default="docs/images/colored_exploration.png", metadata={"help": "PNG ('' for none)"}
    )


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    for f in dataclasses.fields(Args):
        if f.type in (bool, "bool"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", action="store_true",
                                help=f.metadata["help"])  # fmt: skip
            continue
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
            help=f.metadata["help"],
        )  # fmt: skip
    args = Args(**vars(parser.parse_args()))
    unknown = [n for n in args.noises.split(",") if n not in NOISES]
    if unknown:
        parser.error(f"--noises: unknown {unknown}; choose from {list(NOISES)}")
    return args


# -- training ------------------------------------------------------------------------------------
def experiment(args: Args, noise: str, seeds: list[int]) -> Any:
    from rlnoise.experiments.config import ExperimentConfig

    spec = NOISES[noise]
    callbacks = (
        [] if spec is None else [{"rlnoise.exploration.ExplorationNoiseCallback": {"spec": spec}}]
    )
    return ExperimentConfig.from_dict(
        {
            "name": f"sac-mountaincar-{noise}",
            "algo": "SAC",
            "env": {"id": ENV_ID},
            "total_timesteps": args.steps,
            "seeds": seeds,
            "device": "cpu",
            "callbacks": callbacks,
            "output_dir": str(Path(args.runs_dir) / noise),
        }
    )


# -- evaluation ----------------------------------------------------------------------------------
def evaluate(model_path: Path, episodes: int, eval_seed: int) -> dict[str, Any]:
    """Deterministic episodes ``k = 0..episodes-1`` (reset seed ``eval_seed + k``), batched."""
    import gymnasium as gym
    from stable_baselines3 import SAC

    model = SAC.load(model_path, device="cpu")
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(ENV_ID) for _ in range(episodes)])
    try:
        obs, _ = envs.reset(seed=[eval_seed + k for k in range(episodes)])
        returns = np.zeros(episodes)
        running = np.ones(episodes, dtype=bool)
        reached = np.zeros(episodes, dtype=bool)
        while running.any():
            actions, _ = model.predict(obs, deterministic=True)
            obs, rewards, terminated, truncated, _ = envs.step(actions)
            returns += np.where(running, rewards, 0.0)
            reached |= running & terminated
            running &= ~(terminated | truncated)  # later steps are another (autoreset) episode
    finally:
        envs.close()
    return {
        "solved": float(reached.mean()),
        "return_above_threshold": float((returns > REWARD_THRESHOLD).mean()),
        "mean_return": float(returns.mean()),
    }


# -- statistics ----------------------------------------------------------------------------------
def summarise(records: list[dict[str, Any]], noises: list[str], bootstrap: int) -> dict[str, Any]:
    from rlnoise.evaluation.intervals import interval_estimates, probability_of_improvement_ci
    from rlnoise.evaluation.statistics import iqm, probability_of_improvement

    summary: dict[str, Any] = {}
    for metric in ("solved", "return_above_threshold"):
        scores = {
            noise: np.array([[r[metric]] for r in records if r["noise"] == noise])
            for noise in noises
        }
        scores = {k: v for k, v in scores.items() if len(v)}
        points, intervals = interval_estimates(scores, iqm, n_resamples=bootstrap, seed=0)
        rows = {}
        for noise, array in scores.items():
            row: dict[str, Any] = {
                "runs": len(array),
                "iqm": float(points[noise]),
                "iqm_ci": [float(x) for x in intervals[noise]],
                "mean": float(array.mean()),
                "per_seed": [float(x) for x in array[:, 0]],
            }
            if "default" in scores and noise != "default":
                base = scores["default"]
                row["p_improvement_vs_default"] = float(probability_of_improvement(array, base))
                low, high = probability_of_improvement_ci(
                    array, base, n_resamples=bootstrap, seed=0
                )
                row["p_improvement_ci"] = [low, high]
            rows[noise] = row
        summary[metric] = rows
    return summary


def table(summary: dict[str, Any]) -> str:
    solved, threshold = summary["solved"], summary.get("return_above_threshold", {})
    lines = [
        "| noise (spec of the Gaussian's draw) | runs | solved: IQM [95% CI] | mean | per seed "
        "| P(> default) [95% CI] | return > 90: IQM | published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for noise, row in solved.items():
        spec = NOISES[noise] or "SB3 default"
        low, high = row["iqm_ci"]
        per_seed = ", ".join(f"{x:.2f}" for x in row["per_seed"])
        poi = "—"
        if "p_improvement_vs_default" in row:
            p_low, p_high = row["p_improvement_ci"]
            poi = f"{row['p_improvement_vs_default']:.2f} [{p_low:.2f}, {p_high:.2f}]"
        above = threshold.get(noise, {}).get("iqm")
        published = f"{PUBLISHED[noise]:.0%} (1 run)" if noise in PUBLISHED else "—"
        lines.append(
            f"| {noise} (`{spec}`) | {row['runs']} | {row['iqm']:.2f} [{low:.2f}, {high:.2f}] | "
            f"{row['mean']:.2f} | {per_seed} | {poi} | "
            f"{'—' if above is None else f'{above:.2f}'} | {published} |"
        )
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], summary: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["solved"]
    names = list(rows)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, name in enumerate(names):
        row = rows[name]
        low, high = row["iqm_ci"]
        ax.errorbar(
            i, row["iqm"], yerr=[[row["iqm"] - low], [high - row["iqm"]]], fmt="o", capsize=6,
            color="C0", label="IQM, 95% CI" if i == 0 else None,
        )  # fmt: skip
        seeds = np.array(row["per_seed"])
        jitter = np.linspace(-0.15, 0.15, len(seeds)) if len(seeds) > 1 else np.zeros(1)
        ax.scatter(
            i + 0.25 + jitter, seeds, s=14, color="0.5", label="one seed" if i == 0 else None
        )
    ax.set_xticks(range(len(names)), [f"{n}\n{NOISES[n] or 'SB3'}" for n in names], fontsize=7)
    ax.set_ylabel("fraction of 100 episodes solved")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"SAC, {ENV_ID}, {records[0]['steps']} steps", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    temporary = f"{path}.tmp.png"
    fig.savefig(temporary, dpi=120)
    plt.close(fig)
    os.replace(temporary, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(temporary, path)


def main() -> None:
    args = parse_args()
    from rlnoise.experiments.train import run_dir, train_many
    from rlnoise.runs.contract import DONE_FILE, is_finished

    noises = args.noises.split(",")
    out = Path(args.out)
    setup = {
        "env": ENV_ID,
        "algo": "SAC (SB3 defaults)",
        "steps": args.steps,
        "eval_episodes": args.eval_episodes,
        "eval_seed": args.eval_seed,
        "noises": {n: NOISES[n] for n in NOISES},
        "solved": "the car reaches the goal (terminated before the 999-step limit)",
    }
    data: dict[str, Any] = {"setup": setup, "runs": []}
    if out.exists():
        previous = json.loads(out.read_text())
        if previous.get("setup") != setup:
            sys.exit(f"{out} holds results of another setup; move it away or pass --out")
        data = previous
    done = {(r["noise"], r["seed"]) for r in data["runs"]}
    started = time.perf_counter()
    seeds = list(range(args.seeds))
    configs = {noise: experiment(args, noise, seeds) for noise in noises}
    if not args.report_only:
        # Noise by noise, in --noises order (the README's: the published pair first), each
        # noise's seeds side by side: with --workers >= 2 x seeds an early stop still has every
        # seed of the first two noises.
        train_many(list(configs.values()), workers=args.workers)
    for seed in seeds:
        for noise in noises:
            directory = run_dir(configs[noise], seed)
            if (noise, seed) in done or not is_finished(directory, seed=seed):
                continue  # evaluated earlier, or (--report-only) not trained
            begin = time.perf_counter()
            record = evaluate(directory / "model.zip", args.eval_episodes, args.eval_seed)
            record.update(
                noise=noise,
                seed=seed,
                steps=args.steps,
                train_seconds=json.loads((directory / DONE_FILE).read_text())["wall_seconds"],
                eval_seconds=round(time.perf_counter() - begin, 1),
            )
            print(json.dumps(record), flush=True)
            data["runs"].append(record)
            done.add((noise, seed))
            write_json(out, data)
    records = [r for r in data["runs"] if r["noise"] in noises and r["seed"] < args.seeds]
    data["summary"] = summarise(records, noises, args.bootstrap)
    data["machine"] = f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}"
    data["command"] = "python scripts/reproduce_colored_exploration.py " + " ".join(sys.argv[1:])
    data["total_train_seconds"] = round(sum(r["train_seconds"] for r in records), 1)
    data["last_invocation_seconds"] = round(time.perf_counter() - started, 1)
    write_json(out, data)
    if args.figure:
        plot(records, data["summary"], args.figure)
    print(table(data["summary"]))


if __name__ == "__main__":
    main()
