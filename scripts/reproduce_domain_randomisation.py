"""Does domain randomisation make PPO on CartPole-v1 robust to other pole lengths and cart masses?

Three groups of PPO runs (rl-zoo's CartPole settings, ``--seeds`` each):

- ``nominal``: trained on the default dynamics;
- ``randomised``: pole ``length`` and cart mass ``masscart`` drawn at every
  reset, uniformly within +-``--width`` of their nominal values
  (``rlnoise.wrappers.DomainRandomization``, relative specs);
- ``curriculum``: the same range, widened linearly from the nominal values to
  the full width over the first ``--curriculum`` fraction of training (the
  specs' schedule, driven by ``NoiseScheduleCallback``, the shared clock).

Every run is evaluated with ``rlnoise.evaluation.evaluate_robustness`` on the
product grid of ``--lengths`` x ``--masses`` (the evaluation's ``dynamics``
conditions, set by the same ``apply_attributes`` as the training wrapper),
with common random numbers across groups. Reported per group: the IQM return
averaged over the grid and the worst grid point's IQM, each with a
stratified-bootstrap 95% CI (runs resampled within each grid point), and the
probability of improvement over ``nominal`` on the grid average.

Runs and evaluation cells are reused when the script is started again with the
same settings.

Usage:
    python scripts/reproduce_domain_randomisation.py                    # full size
    python scripts/reproduce_domain_randomisation.py --steps 30000 --episodes 20  # README budget
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.demo import PPO_SETTINGS
from rlnoise.evaluation import evaluate_robustness, interval_estimates
from rlnoise.evaluation.intervals import probability_of_improvement_ci
from rlnoise.experiments.config import ExperimentConfig
from rlnoise.experiments.train import run_dir, train_many
from rlnoise.runs.backends import Backend

GROUPS = ("nominal", "randomised", "curriculum")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--steps", type=int, default=100_000, help="PPO steps per run")
    parser.add_argument("--width", type=float, default=0.5, help="relative half-width")
    parser.add_argument(
        "--curriculum", type=float, default=0.5, help="fraction of training to widen over"
    )
    parser.add_argument("--lengths", type=float, nargs="+", default=[0.25, 0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--masses", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--episodes", type=int, default=50, help="per run and grid point")
    parser.add_argument("--eval-seed", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default="runs/reproduce_domain_randomisation")
    parser.add_argument("--results", default="results/domain_randomisation.json")
    parser.add_argument("--figure", default="docs/images/domain_randomisation.png")
    return parser.parse_args()


def parameters(width: float, steps: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "uniform", "scale": width, "mode": "multiplicative"}
    if steps is not None:
        spec["schedule"] = {"type": "linear", "start": 0.0, "end": 1.0, "steps": steps}
    return {"length": spec, "masscart": spec}


def make_config(args: argparse.Namespace, group: str, root: Path) -> ExperimentConfig:
    chosen = PPO_SETTINGS["zoo"]
    env: dict[str, Any] = {"id": "CartPole-v1", "n_envs": chosen["n_envs"]}
    callbacks: list[Any] = []
    if group != "nominal":
        widen = int(args.curriculum * args.steps) if group == "curriculum" else None
        env["wrappers"] = [
            {"rlnoise.wrappers.DomainRandomization": {"parameters": parameters(args.width, widen)}}
        ]
        callbacks = [
            "rlnoise.callbacks.NoiseScheduleCallback",
            "rlnoise.callbacks.DynamicsLogCallback",
        ]
    return ExperimentConfig.from_dict(
        {
            "name": f"dr-{group}",
            "algo": "PPO",
            "env": env,
            "policy": "MlpPolicy",
            "algo_kwargs": chosen["algo_kwargs"],
            "callbacks": callbacks,
            "total_timesteps": args.steps,
            "seeds": list(args.seeds),
            "device": "cpu",
            "output_dir": str(root / group),
        }
    )


def iqm_per_task(x: np.ndarray) -> np.ndarray:
    """IQM over runs for each task: ``(..., n_runs, n_tasks) -> (..., n_tasks)``."""
    runs = np.moveaxis(x, -2, -1)
    n = runs.shape[-1]
    cut = int(0.25 * n)
    return np.partition(runs, (cut, n - cut - 1), axis=-1)[..., cut : n - cut].mean(axis=-1)


def grid_statistics(report: Any, names: list[str]) -> dict[str, Any]:
    """Average and worst-case IQM over the grid, with stratified-bootstrap CIs."""
    # One score per run and grid point: the run's mean return (rliable's convention).
    scores = {
        g: np.stack([report.scores(g, n).mean(axis=1) for n in names], axis=1) for g in GROUPS
    }

    def average(x: np.ndarray) -> np.ndarray:
        return iqm_per_task(x).mean(axis=-1)

    def worst(x: np.ndarray) -> np.ndarray:
        return iqm_per_task(x).min(axis=-1)

    out: dict[str, Any] = {}
    for label, statistic in (("average", average), ("worst", worst)):
        points, intervals = interval_estimates(scores, statistic)
        out[label] = {
            g: {"iqm": float(points[g]), "ci": [float(v) for v in intervals[g]]} for g in GROUPS
        }
    out["p_improvement_over_nominal_ci"] = {
        g: [float(v) for v in probability_of_improvement_ci(scores[g], scores["nominal"])]
        for g in GROUPS[1:]
    }
    out["per_point_iqm"] = {
        g: dict(zip(names, [float(v) for v in iqm_per_task(scores[g])], strict=True))
        for g in GROUPS
    }
    return out


def plot(stats: dict[str, Any], lengths: list[float], masses: list[float], path: Path) -> None:
    """Left: average and worst-case IQM (95% CIs); right: IQM per pole length, mean over masses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.25
    for i, group in enumerate(GROUPS):
        for j, label in enumerate(("average", "worst")):
            cell = stats[label][group]
            low, high = cell["ci"]
            left.bar(
                j + (i - 1) * width,
                cell["iqm"],
                width,
                label=group if j == 0 else None,
                color=f"C{i}",
                yerr=[[cell["iqm"] - low], [high - cell["iqm"]]],
                capsize=4,
            )
        per_point = stats["per_point_iqm"][group]
        curve = [
            np.mean(
                [
                    v
                    for name, v in per_point.items()
                    if f"length={length}" in name.removeprefix("dynamics:").split(",")
                ]
            )
            for length in lengths
        ]
        right.plot(lengths, curve, "o-", color=f"C{i}", label=group)
    left.set_xticks([0, 1], ["average over grid", "worst grid point"])
    left.set_ylabel("IQM return (95% CI)")
    left.legend()
    right.set_xlabel("pole half-length (nominal 0.5)")
    right.set_ylabel(f"IQM return, mean over cart masses {masses}")
    right.legend()
    fig.suptitle("PPO CartPole-v1: nominal vs domain randomisation (length, masscart +-50%)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".png") as f:
        fig.savefig(f.name, dpi=110)
    os.replace(f.name, path)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    root = Path(args.out) / f"steps_{args.steps}_width_{args.width:g}"
    configs = {g: make_config(args, g, root) for g in GROUPS}
    print(f"training {len(GROUPS) * len(args.seeds)} PPO runs of {args.steps} steps", flush=True)
    train_many(configs.values(), backend=Backend("local", workers=args.workers))
    trained = time.perf_counter() - start
    models = {g: [run_dir(c, s) / "model.zip" for s in c.seeds] for g, c in configs.items()}
    grid = {
        "dynamics": {
            "attributes": {"length": args.lengths, "masscart": args.masses},
            "product": True,
        }
    }
    report = evaluate_robustness(
        models,
        "CartPole-v1",
        grid,
        n_episodes=args.episodes,
        seed=args.eval_seed,
        device="cpu",
        algo="PPO",
        resume_dir=root / "eval_cells",
        num_threads=1,
        progress=False,
    )
    names = [n for n in report.condition_names if n != "clean"]
    stats = grid_statistics(report, names)
    result = {
        "command": "python scripts/reproduce_domain_randomisation.py "
        + f"--steps {args.steps} --episodes {args.episodes} --seeds "
        + " ".join(map(str, args.seeds)),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "results")},
        "train_wall_s": round(trained, 1),
        "wall_s": round(time.perf_counter() - start, 1),
        **stats,
    }
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(result, f, indent=2)
    os.replace(f.name, path)
    plot(stats, args.lengths, args.masses, Path(args.figure))
    for label in ("average", "worst"):
        for g in GROUPS:
            cell = stats[label][g]
            low, high = cell["ci"]
            print(f"{label:8s} {g:11s} IQM {cell['iqm']:6.1f} [{low:.1f}, {high:.1f}]")
    print(json.dumps(stats["p_improvement_over_nominal_ci"]))
    print(f"finished in {result['wall_s']} s; wrote {path}")


if __name__ == "__main__":
    main()
