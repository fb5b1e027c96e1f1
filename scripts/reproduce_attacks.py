"""Which observation attack hurts an agent most? Every attack of the ``strongest`` grid, per agent.

Three agents, trained with SB3's default hyperparameters (``--seeds`` seeds each):

- PPO on CartPole-v1 and DQN on CartPole-v1, attacked at absolute radii ``--eps-cartpole``;
- TD3 on InvertedPendulum-v5 (MuJoCo), attacked at ``--eps-pendulum`` in units of the
  state std (SA-DDPG's setting: 0.3 std). The std vector is estimated ONCE, from clean
  rollouts of all TD3 runs pooled, and is the same for every run; it is in the report JSON.

Each run is evaluated with :func:`rlnoise.evaluation.evaluate_robustness` (batched,
common random numbers) on clean, random uniform and sign noise of the same budget, FGSM,
PGD, the critic attack (Pattanaik et al. 2018) and MAD (Zhang et al. 2020). The script
prints one table per agent and radius: IQM return over runs with a 95% stratified-bootstrap
CI, and writes the reports (JSON/CSV) and a markdown summary under ``--out``.

Trained models are cached under ``OUT/models``; a rerun retrains nothing and reuses the
evaluation cells.

Usage:
    python scripts/reproduce_attacks.py                    # the README's numbers (reduced budget)
    python scripts/reproduce_attacks.py --full             # larger budgets (hours of CPU)
    python scripts/reproduce_attacks.py --train-only
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

AGENTS = {
    # name: (algorithm, env id, training steps (reduced), training steps (--full))
    "ppo_cartpole": ("PPO", "CartPole-v1", 60_000, 200_000),
    "dqn_cartpole": ("DQN", "CartPole-v1", 40_000, 300_000),
    "td3_pendulum": ("TD3", "InvertedPendulum-v5", 5_000, 100_000),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--episodes", type=int, default=10, help="episodes per run and condition")
    parser.add_argument("--eps-cartpole", type=float, nargs="+", default=[0.1, 0.2])
    parser.add_argument("--eps-pendulum", type=float, nargs="+", default=[0.3])
    parser.add_argument("--pgd-steps", type=int, default=10)
    parser.add_argument("--full", action="store_true", help="the larger training budgets")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("results/attacks"))
    return parser.parse_args()


def train(agent: str, seed: int, out: Path, full: bool) -> Path:
    """Train (or find) one run with SB3's default hyperparameters."""
    import stable_baselines3 as sb3

    algo, env_id, steps, full_steps = AGENTS[agent]
    path = out / "models" / agent / f"seed{seed}.zip"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    model = getattr(sb3, algo)("MlpPolicy", env_id, seed=seed, device="cpu")
    start = time.perf_counter()
    model.learn(full_steps if full else steps)
    tmp = path.with_suffix(".tmp.zip")
    model.save(tmp)
    os.replace(tmp, path)
    print(f"trained {agent} seed {seed} in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def grid(eps: float, unit: str, steps: int) -> dict[str, Any]:
    """The ``strongest`` grid at one radius (random, FGSM, PGD, critic, MAD)."""
    common: dict[str, Any] = {"levels": [eps], "unit": unit}
    if unit == "std":  # one vector, from clean rollouts of every run pooled, estimated once
        common["std"] = {"estimate": "pooled", "episodes": 5, "seed": 10_000}
    return {
        "clean": True,
        "random_uniform": dict(common),
        "random_sign": dict(common),
        "fgsm": dict(common),
        "pgd": {**common, "steps": steps},
        "critic": {**common, "steps": steps},
        "mad": {**common, "steps": steps},
    }


def table(report: Any, title: str) -> str:
    """Markdown: per condition, the IQM return (runs x episodes) with its 95% stratified CI."""
    lines = [f"#### {title}", "", "| condition | IQM return | 95% CI |", "|---|---:|---:|"]
    for row in report.summary():
        low, high = row["iqm_ci"]
        lines.append(f"| {row['condition']} | {row['iqm']:.1f} | [{low:.1f}, {high:.1f}] |")
    # Per run, the strongest gradient attack (lowest mean return); the report adds its own
    # worst-of column where it has one.
    per_run = np.asarray(report.returns).mean(axis=2)
    attacks = [  # the gradient attacks; random noise in the ball is the baseline
        i
        for i, c in enumerate(report.conditions)
        if c.perturbations and not c.perturbations[0].type.startswith("random")
    ]
    worst = per_run[:, attacks].min(axis=1)
    names = [report.conditions[attacks[j]].name for j in per_run[:, attacks].argmin(axis=1)]
    lines.append(
        f"\nworst of the attacks per run (mean return): {np.round(worst, 1).tolist()} "
        f"({', '.join(names)})"
    )
    return "\n".join(lines)


def figure(panels: list[tuple[str, list[dict[str, Any]]]], path: Path) -> None:
    """One panel per agent and radius: IQM return per condition with its 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels, strict=True):
        names = [r["condition"] for r in rows][::-1]
        iqm = np.array([r["iqm"] for r in rows][::-1])
        low, high = np.array([r["iqm_ci"] for r in rows][::-1]).T
        ax.barh(names, iqm, xerr=[iqm - low, high - iqm], color="tab:blue", alpha=0.7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("IQM return (95% CI)")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths = {a: [train(a, s, out, args.full) for s in args.seeds] for a in args.agents}
    print(f"training done at {time.perf_counter() - started:.0f} s", flush=True)
    if args.train_only:
        return
    from rlnoise.evaluation import evaluate_robustness

    sections, meta, panels = [], {}, []
    for agent, runs in paths.items():
        algo, env_id, _, _ = AGENTS[agent]
        continuous = agent == "td3_pendulum"
        for eps in args.eps_pendulum if continuous else args.eps_cartpole:
            unit = "std" if continuous else "absolute"
            t0 = time.perf_counter()
            report = evaluate_robustness(
                {agent: [str(p) for p in runs]},
                env_id,
                grid(eps, unit, args.pgd_steps),
                n_episodes=args.episodes,
                seed=1_000,
                device="cpu",
                algo=algo,
                progress=False,
                num_threads=1,
                resume_dir=out / "cells",
            )
            wall = time.perf_counter() - t0
            name = f"{agent}_eps{eps:g}{'std' if continuous else ''}"
            report.save_json(out / f"{name}.json")
            title = f"{agent} (eps={eps:g} {unit}, {len(runs)} seeds, {args.episodes} episodes)"
            panels.append((f"{agent}, eps={eps:g} {unit}", report.summary()))
            sections.append(table(report, title) + f"\n\nevaluation wall time: {wall:.0f} s\n")
            print(sections[-1], flush=True)
            returns = np.asarray(report.returns).mean(axis=2)
            perturbations = report.conditions[-1].perturbations
            meta[name] = {
                "state_std": getattr(perturbations[0], "std", None),
                "conditions": report.condition_names,
                "per_run_mean_return": returns.tolist(),
                "wall_s": wall,
            }
    total = time.perf_counter() - started
    import sys

    command = "python " + " ".join(sys.argv)
    text = "\n".join(sections) + f"\n\ncommand: `{command}`; total wall time {total:.0f} s\n"
    # one file per set of agents: agents evaluated by separate invocations do not overwrite
    suffix = "" if args.agents == list(AGENTS) else "_" + "_".join(args.agents)
    figure(panels, out / f"attacks{suffix}.png")
    tmp = out / f"tables{suffix}.md.tmp"
    tmp.write_text(text)
    os.replace(tmp, out / f"tables{suffix}.md")
    tmp = out / f"summary{suffix}.json.tmp"
    tmp.write_text(json.dumps({"args": vars(args) | {"out": str(out)}, **meta}, indent=1))
    os.replace(tmp, out / f"summary{suffix}.json")


if __name__ == "__main__":
    main()
