"""Does training with observation noise make PPO more robust to noisy observations?

PPO on CartPole-v1 is trained clean and with Gaussian observation noise at
several levels (8 seeds each; SB3's default PPO settings, or rl-zoo's tuned
ones with ``--hyperparams zoo``), then every run
is evaluated with rlnoise's batched engine on observation-noise levels 0-0.5
and FGSM radii, with common random numbers across groups. The script prints,
per evaluation condition, each group's IQM return with a stratified-bootstrap
95% CI and the probability that a noise-trained group beats the clean one, and
writes the full report (JSON/CSV/PNG) plus a markdown table.

Runs and evaluation cells are reused when the script is started again with the
same settings, so an interrupted run loses nothing finished.

Usage:
    python scripts/reproduce_robustness.py                       # the README's table
    python scripts/reproduce_robustness.py --hyperparams zoo     # rl-zoo's PPO settings
    python scripts/reproduce_robustness.py --steps 50000 --seeds 0 1 2 --train-noise 0 0.05
    python scripts/reproduce_robustness.py --backend ray --address auto  # on a Ray cluster
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlnoise.demo import PPO_SETTINGS, comparison_rows, ppo_cartpole
from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.display import print_tables, save_report
from rlnoise.experiments.config import ExperimentConfig
from rlnoise.experiments.train import run_dir, train_many
from rlnoise.runs.backends import Backend


@dataclass
class Args:
    """Settings of the reproduction (each field is a command-line option)."""

    seeds: list[int] = field(
        default_factory=lambda: list(range(8)), metadata={"help": "training seeds per group"}
    )
    steps: int = field(default=150_000, metadata={"help": "PPO training steps per run"})
    train_noise: list[float] = field(
        default_factory=lambda: [0.0, 0.05, 0.1, 0.2],
        metadata={"help": "Gaussian observation-noise std during training (0 = clean)"},
    )
    eval_noise: list[float] = field(
        default_factory=lambda: [0.05, 0.1, 0.2, 0.3, 0.5],
        metadata={"help": "Gaussian observation-noise std levels at evaluation"},
    )
    fgsm: list[float] = field(
        default_factory=lambda: [0.01, 0.02, 0.05, 0.1], metadata={"help": "FGSM l_inf radii"}
    )
    episodes: int = field(
        default=50, metadata={"help": "evaluation episodes per run and condition"}
    )
    eval_seed: int = field(
        default=100_000, metadata={"help": "episode k resets with eval_seed + k"}
    )
    out: str = field(default="runs/reproduce_robustness", metadata={"help": "output directory"})
    hyperparams: str = field(
        default="sb3",
        metadata={
            "help": f"PPO settings: one of {sorted(PPO_SETTINGS)} (SB3 defaults or rl-zoo's tuned)"
        },
    )
    workers: int = field(
        default=min(2, os.cpu_count() or 1),
        metadata={"help": "training processes (local), or the CPUs of a Ray started here"},
    )
    backend: str = field(
        default="local", metadata={"help": "where runs train: local or ray (rlnoise[ray])"}
    )
    address: str = field(
        default="", metadata={"help": "ray: a running cluster, auto or HOST:PORT (empty: none)"}
    )
    device: str = field(default="auto", metadata={"help": "evaluation device"})


def parse_args() -> Args:
    """Command-line options from the fields of :class:`Args`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for item in dataclasses.fields(Args):
        default = (
            item.default_factory()
            if item.default_factory is not dataclasses.MISSING
            else item.default
        )
        kwargs: dict[str, Any] = {
            "default": default,
            "help": f"{item.metadata['help']} (default: {default})",
        }
        if isinstance(default, list):
            kwargs.update(nargs="+", type=type(default[0]))
        else:
            kwargs["type"] = type(default)
        parser.add_argument(f"--{item.name.replace('_', '-')}", **kwargs)
    return Args(**vars(parser.parse_args()))


def group_name(sigma: float) -> str:
    return "clean" if sigma == 0 else f"train-noise {sigma:g}"


def make_config(args: Args, sigma: float) -> ExperimentConfig:
    return ppo_cartpole(
        f"robustness-{args.hyperparams}-{group_name(sigma).replace(' ', '-')}",
        run_root(args) / f"train_{sigma:g}",
        args.steps,
        args.seeds,
        None if sigma == 0 else f"gaussian:{sigma:g}",
        args.hyperparams,
    )


def run_root(args: Args) -> Path:
    return Path(args.out) / f"{args.hyperparams}_steps_{args.steps}"


def markdown(report: Any, groups: list[str]) -> str:
    header = ["condition", *[f"{g} IQM [95% CI]" for g in groups]]
    header += [f"P({g} > {groups[0]})" for g in groups[1:]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells in comparison_rows(report, groups, digits=0):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    configs = {group_name(sigma): make_config(args, sigma) for sigma in args.train_noise}
    n_runs = len(configs) * len(args.seeds)
    print(
        f"training {n_runs} PPO runs of {args.steps} steps ({args.backend}, {args.workers} workers)"
    )
    backend = Backend(
        args.backend,
        workers=None if args.address else args.workers,
        address=args.address or None,
        flags={"kind": "--backend", "workers": "--workers", "address": "--address"},
    )
    train_many(configs.values(), backend=backend)
    models = {g: [run_dir(c, s) / "model.zip" for s in c.seeds] for g, c in configs.items()}
    grid = {"clean": True, "gaussian": args.eval_noise, "fgsm": args.fgsm}
    root = run_root(args)
    report = evaluate_robustness(
        models,
        "CartPole-v1",
        grid,
        n_episodes=args.episodes,
        seed=args.eval_seed,
        device=args.device,
        algo="PPO",
        resume_dir=root / "eval_cells",
    )
    print_tables(report)
    groups = list(configs)
    table = markdown(report, groups)
    print(table)
    paths = save_report(report, root / "report")
    seeds = " ".join(map(str, args.seeds))
    noises = " ".join(f"{s:g}" for s in args.train_noise)
    command = f"python scripts/reproduce_robustness.py --hyperparams {args.hyperparams}"
    command += f" --steps {args.steps} --seeds {seeds}"
    command += f" --train-noise {noises}"
    setting = f"{len(args.seeds)} seeds per group, {args.episodes} episodes per run and condition"
    (root / "results.md").write_text(f"`{command}` ({setting})\n\n{table}")
    print(f"finished in {time.perf_counter() - start:.0f} s; wrote {root / 'results.md'} and")
    for name, path in sorted(paths.items()):
        print(f"  {name:<14} {path}")


if __name__ == "__main__":
    main()
