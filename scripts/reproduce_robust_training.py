"""Does robust training hold CartPole under observation attacks where clean and noisy PPO fall?

PPO (SB3 defaults, 4 envs) on CartPole-v1, trained in groups:

- ``clean``;
- ``gaussian 0.1`` / ``gaussian 0.2``: Gaussian observation noise in training;
- ``adversarial pgd 0.1``: :class:`rlnoise.robust.AdversarialTraining`, PGD
  (``--adv-steps`` steps) at ε = 0.1 on every observation, ε warmed up linearly
  from 0 over the first half of training;
- ``SA 0.1``: :class:`rlnoise.robust.SARegulariser`, ε = 0.1 (same warm-up),
  κ = ``--kappa``, ``--sa-steps`` PGD steps;
- more groups through :data:`EXTRA_GROUPS` (the hook for ATLA-lite: a name ->
  function ``(args) -> callbacks list`` entry).

Every run goes through ``rlnoise train``'s machinery (validated configs, resumable
run directories) and is evaluated with rlnoise's batched engine, common random
numbers across groups, on clean, Gaussian noise and the attack grid (FGSM,
PGD), printing IQM returns with stratified-bootstrap 95% CIs and the
probability of improvement over ``clean``. Runs and evaluation cells are reused
when started again with the same settings.

Usage:
    python scripts/reproduce_robust_training.py                 # the README's budget
    python scripts/reproduce_robust_training.py --seeds 0 1 2 3 4 5 6 7 --steps 150000  # full
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlnoise.demo import comparison_rows
from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.display import print_tables, save_report
from rlnoise.experiments.config import ExperimentConfig
from rlnoise.experiments.train import run_dir, train_many
from rlnoise.runs.backends import Backend


@dataclass
class Args:
    """Settings of the reproduction (each field is a command-line option)."""

    seeds: list[int] = field(
        default_factory=lambda: [0, 1, 2], metadata={"help": "training seeds per group"}
    )
    steps: int = field(default=100_000, metadata={"help": "PPO training steps per run"})
    groups: list[str] = field(
        default_factory=lambda: ["clean", "gaussian 0.1", "gaussian 0.2", "adversarial", "SA"],
        metadata={"help": "groups to train: clean, gaussian S, adversarial, SA, or an extra"},
    )
    eps: float = field(default=0.1, metadata={"help": "training radius (adversarial and SA)"})
    adv_steps: int = field(default=5, metadata={"help": "PGD steps of adversarial training"})
    sa_steps: int = field(default=5, metadata={"help": "PGD steps of the SA inner maximum"})
    kappa: float = field(default=0.1, metadata={"help": "SA regulariser weight"})
    attack_eps: list[float] = field(
        default_factory=lambda: [0.05, 0.1], metadata={"help": "FGSM/PGD radii at evaluation"}
    )
    eval_noise: list[float] = field(
        default_factory=lambda: [0.1, 0.2], metadata={"help": "Gaussian std at evaluation"}
    )
    episodes: int = field(default=20, metadata={"help": "evaluation episodes per run/condition"})
    eval_seed: int = field(default=100_000, metadata={"help": "episode k resets with seed+k"})
    out: str = field(default="runs/reproduce_robust_training", metadata={"help": "output dir"})
    workers: int = field(default=min(2, os.cpu_count() or 1), metadata={"help": "processes"})
    device: str = field(default="cpu", metadata={"help": "evaluation device"})


#: Extra groups: name -> (args -> callbacks as config entries). ATLA-lite registers here.
EXTRA_GROUPS: dict[str, Callable[[Args], list[dict[str, Any]]]] = {}


def parse_args() -> Args:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for item in dataclasses.fields(Args):
        default = (
            item.default_factory()
            if item.default_factory is not dataclasses.MISSING
            else item.default
        )
        kwargs: dict[str, Any] = {"default": default, "help": f"{item.metadata['help']}"}
        if isinstance(default, list):
            kwargs.update(nargs="+", type=type(default[0]))
        else:
            kwargs["type"] = type(default)
        parser.add_argument(f"--{item.name.replace('_', '-')}", **kwargs)
    return Args(**vars(parser.parse_args()))


def warm_up(args: Args) -> dict[str, Any]:
    """ε rises linearly from 0 to its value over the first half of training."""
    return {"type": "linear", "start": 0.0, "end": 1.0, "steps": max(args.steps // 2, 1)}


def group_setup(args: Args, group: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(env wrappers, callbacks) of a group, as config entries."""
    if group == "clean":
        return [], []
    if group.startswith("gaussian "):
        spec = f"gaussian:{float(group.split()[1]):g}"
        return [{"rlnoise.wrappers.ObservationNoise": {"spec": spec}}], []
    if group == "adversarial":
        options = {"attack": "pgd", "eps": args.eps, "steps": args.adv_steps,
                   "schedule": warm_up(args)}  # fmt: skip
        return [], [{"rlnoise.robust.AdversarialTraining": options}]
    if group == "SA":
        options = {"kappa": args.kappa, "eps": args.eps, "steps": args.sa_steps,
                   "eps_schedule": warm_up(args)}  # fmt: skip
        return [], [{"rlnoise.robust.SARegulariser": options}]
    if group in EXTRA_GROUPS:
        return [], EXTRA_GROUPS[group](args)
    raise ValueError(f"--groups: unknown group {group!r}")


def label(args: Args, group: str) -> str:
    if group == "adversarial":
        return f"adv-pgd {args.eps:g}"
    if group == "SA":
        return f"SA {args.eps:g}"
    return group


def make_config(args: Args, group: str) -> ExperimentConfig:
    wrappers, callbacks = group_setup(args, group)
    slug = label(args, group).replace(" ", "-")
    return ExperimentConfig.from_dict(
        {
            "name": f"robust-{slug}",
            "algo": "PPO",
            "env": {"id": "CartPole-v1", "n_envs": 4, "wrappers": wrappers},
            "policy": "MlpPolicy",
            "callbacks": callbacks,
            "total_timesteps": args.steps,
            "seeds": list(args.seeds),
            "device": "cpu",
            "output_dir": str(Path(args.out) / f"steps_{args.steps}" / slug),
        }
    )


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
    configs = {label(args, g): make_config(args, g) for g in args.groups}
    print(f"training {len(configs) * len(args.seeds)} PPO runs of {args.steps} steps")
    backend = Backend("local", workers=args.workers, flags={"workers": "--workers"})
    train_many(configs.values(), backend=backend)
    trained = time.perf_counter() - start
    models = {g: [run_dir(c, s) / "model.zip" for s in c.seeds] for g, c in configs.items()}
    pgd = {"levels": args.attack_eps, "steps": 10, "random_start": True}
    grid = {"clean": True, "gaussian": args.eval_noise, "fgsm": args.attack_eps, "pgd": pgd}
    root = Path(args.out) / f"steps_{args.steps}"
    report = evaluate_robustness(
        models, "CartPole-v1", grid, n_episodes=args.episodes, seed=args.eval_seed,
        device=args.device, algo="PPO", resume_dir=root / "eval_cells",
    )  # fmt: skip
    print_tables(report)
    groups = list(configs)
    table = markdown(report, groups)
    print(table)
    paths = save_report(report, root / "report")
    wall = time.perf_counter() - start
    command = (
        f"python scripts/reproduce_robust_training.py --seeds {' '.join(map(str, args.seeds))} "
        f"--steps {args.steps} --eps {args.eps:g} --adv-steps {args.adv_steps} "
        f"--sa-steps {args.sa_steps} --kappa {args.kappa:g} --episodes {args.episodes}"
    )
    summary = {
        "command": command, "args": dataclasses.asdict(args), "train_seconds": round(trained),
        "wall_seconds": round(wall), "table": table,
    }  # fmt: skip
    temporary = root / "results.json.tmp"
    temporary.write_text(json.dumps(summary, indent=2))
    os.replace(temporary, root / "results.json")
    print(f"finished in {wall:.0f} s (training {trained:.0f} s); wrote {root / 'results.json'}")
    for name, path in sorted(paths.items()):
        print(f"  {name:<14} {path}")


if __name__ == "__main__":
    main()
