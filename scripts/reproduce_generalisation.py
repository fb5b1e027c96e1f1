"""Generalisation from limited training data: does noise injection shrink the train–test gap?

Two reproductions (issue 16), each a set of ``rlnoise train`` configs written
by this script under ``configs/generalisation/``:

- **MiniGrid levels.** PPO on ``MiniGrid-MultiRoom-N2-S4-v0`` trained on N = 10
  or N = 100 levels (:class:`rlnoise.wrappers.LevelSet`), tested on its training
  levels and on unseen ones (:func:`rlnoise.wrappers.unseen_levels`).
- **CartPole contexts.** PPO on ``CartPole-v1`` trained on 3 pole lengths
  (:class:`rlnoise.wrappers.ContextSet`), tested on the training lengths, on
  unseen lengths between them (interpolation) and outside them (extrapolation).

Groups: clean; input noise (an observation-noise wrapper); weight, activation
and dropout noise applied naively (on while acting and training); the same
three with selective noise injection (SNI, λ = 0.5: noise-free acting, mixed
loss). The per-run generalisation gap is train minus unseen return; groups
are summarised by the IQM with a stratified-bootstrap 95% CI.

Usage::

    python scripts/reproduce_generalisation.py --write-configs   # configs/generalisation/*.yaml
    python scripts/reproduce_generalisation.py --train           # rlnoise train each (resumes)
    python scripts/reproduce_generalisation.py --evaluate        # results/ + docs/images/

Each config carries its evaluation grid (``levels`` / ``contexts`` conditions),
so ``rlnoise train CONFIG`` then ``rlnoise evaluate --runs runs/generalisation/NAME
--out DIR`` reproduce one group by hand; the report's ``generalisation`` table is
the gap. ``--protocol budget`` (default) trains what fits ~40 CPU-minutes of a
shared 2-core machine; ``--protocol full`` every group of issue 16.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "generalisation"
RUNS = Path("runs/generalisation")
RESULTS = ROOT / "results" / "generalisation.json"
FIGURE = ROOT / "docs" / "images" / "generalisation.png"

SEEDS = [0, 1, 2, 3, 4]
SNI_LAMBDA = 0.5  # Igl et al. (2019) use 0.5
NAIVE = "phases=rollout+train"  # noise in acting and in the loss: what SNI corrects
SNI = "phases=train"  # SNI acts noise-free (and the loss mixes both networks)

#: group -> (observation noise spec or None, policy_kwargs or None for SB3's MlpPolicy)
GROUPS: dict[str, tuple[str | None, dict[str, Any] | None]] = {
    "clean": (None, None),
    "input": ("gaussian:0.3", None),
    "weight": (None, {"weight_noise": f"gaussian:0.1,mode=multiplicative,{NAIVE}"}),
    "activation": (None, {"activation_noise": f"gaussian:0.2,{NAIVE}"}),
    "dropout": (None, {"activation_noise": f"dropout:0.1,rescale=true,{NAIVE}"}),
    "weight+sni": (None, {"weight_noise": f"gaussian:0.1,mode=multiplicative,{SNI}"}),
    "activation+sni": (None, {"activation_noise": f"gaussian:0.2,{SNI}"}),
    "dropout+sni": (None, {"activation_noise": f"dropout:0.1,rescale=true,{SNI}"}),
}

#: The full protocol of issue 16 (``--protocol full``): every group, N = 10 and N = 100.
FULL_MINIGRID_GROUPS = {n: tuple(GROUPS) for n in (10, 100)}
FULL_CARTPOLE_GROUPS = tuple(GROUPS)
#: What fits ~40 CPU-minutes of a shared 2-core machine (``--protocol budget``, the default):
#: clean vs one naive noise (activation) vs the same noise with SNI, on N = 10 and on the
#: CartPole contexts; N = 100 clean and activation as the more-data reference.
BUDGET_MINIGRID_GROUPS = {
    10: ("clean", "activation", "activation+sni"),
    100: ("clean", "activation"),
}
BUDGET_CARTPOLE_GROUPS = ("clean", "activation", "activation+sni")

MINIGRID_ID = "minigrid:MiniGrid-MultiRoom-N2-S4-v0"
#: MiniGrid's Dict observation as one float vector: the 7x7x3 egocentric view + direction.
MINIGRID_WRAPPERS: list[Any] = [
    {"gymnasium.wrappers.FilterObservation": {"filter_keys": ["image", "direction"]}},
    "gymnasium.wrappers.FlattenObservation",
    {"gymnasium.wrappers.DtypeObservation": {"dtype": "float32"}},
]
MINIGRID_PPO = {
    "n_steps": 128,
    "batch_size": 256,
    "n_epochs": 4,
    "learning_rate": 0.0007,
    "ent_coef": 0.01,
    "gamma": 0.99,
    "gae_lambda": 0.95,
}
MINIGRID_STEPS = 100_000
LEVEL_COUNTS = (10, 100)
EVAL_EPISODES = 100  # per level set: unseen levels once each, training levels in passes

CARTPOLE_PPO = {
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": 0.001,
    "clip_range": 0.2,
}
CARTPOLE_STEPS = 40_000
#: CartPole's pole half-length (default 0.5): train, interpolation, extrapolation.
POLE_TRAIN = (0.3, 0.5, 0.7)
POLE_INTERPOLATION = (0.4, 0.6)
POLE_EXTRAPOLATION = (0.1, 0.2, 1.0, 1.5)
UNSEEN_LEVELS = 100  # unseen_levels(100): the same test set for N = 10 and N = 100


def minigrid_grid(n: int) -> dict[str, Any]:
    """The evaluation grid of a MiniGrid run: its N training levels and 100 unseen ones."""
    return {"clean": False, "levels": {"train": n, "unseen": UNSEEN_LEVELS}}


def cartpole_grid() -> dict[str, Any]:
    """The evaluation grid of a CartPole run: training, interpolation, extrapolation lengths."""
    contexts = {
        "train": [{"attributes": {"length": v}} for v in POLE_TRAIN],
        "test": [{"attributes": {"length": v}} for v in POLE_INTERPOLATION + POLE_EXTRAPOLATION],
    }
    return {"clean": False, "contexts": contexts}


def _policy(policy_kwargs: dict[str, Any] | None, sni: bool) -> dict[str, Any]:
    if policy_kwargs is None:
        return {"policy": "MlpPolicy"}
    kwargs = {"weight_noise": None, "activation_noise": None, **policy_kwargs}
    if sni:
        kwargs["sni_lambda"] = SNI_LAMBDA
    return {"policy": "rlnoise.policies.NoisyActorCriticPolicy", "policy_kwargs": kwargs}


def _slug(group: str) -> str:
    return group.replace("+", "_")


def experiments() -> dict[str, dict[str, Any]]:
    """Every experiment config of the two reproductions, by name."""
    out: dict[str, dict[str, Any]] = {}
    for n in LEVEL_COUNTS:
        for group in FULL_MINIGRID_GROUPS[n]:
            obs_noise, policy_kwargs = GROUPS[group]
            name = f"minigrid_n{n}_{_slug(group)}"
            wrappers = [*MINIGRID_WRAPPERS, {"rlnoise.wrappers.LevelSet": {"levels": n}}]
            if obs_noise is not None:  # outside LevelSet: its stream is not reseeded per level
                wrappers.append({"rlnoise.wrappers.ObservationNoise": {"spec": obs_noise}})
            out[name] = {
                "name": name,
                "algo": "PPO",
                "env": {"id": MINIGRID_ID, "n_envs": 8, "wrappers": wrappers},
                **_policy(policy_kwargs, group.endswith("+sni")),
                "algo_kwargs": MINIGRID_PPO,
                "total_timesteps": MINIGRID_STEPS,
                "seeds": SEEDS,
                "evaluation": minigrid_grid(n),
                "device": "cpu",
                "output_dir": str(RUNS / name),
            }
    for group in FULL_CARTPOLE_GROUPS:
        obs_noise, policy_kwargs = GROUPS[group]
        name = f"cartpole_poles_{_slug(group)}"
        contexts = [{"attributes": {"length": length}} for length in POLE_TRAIN]
        wrappers = [{"rlnoise.wrappers.ContextSet": {"contexts": contexts}}]
        if obs_noise is not None:
            wrappers.append({"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:0.1"}})
        out[name] = {
            "name": name,
            "algo": "PPO",
            "env": {"id": "CartPole-v1", "n_envs": 8, "wrappers": wrappers},
            **_policy(policy_kwargs, group.endswith("+sni")),
            "algo_kwargs": CARTPOLE_PPO,
            "total_timesteps": CARTPOLE_STEPS,
            "seeds": SEEDS,
            "evaluation": cartpole_grid(),
            "device": "cpu",
            "output_dir": str(RUNS / name),
        }
    return out


def protocol_names(protocol: str) -> list[str]:
    """The experiments of ``protocol`` (``full`` or ``budget``), in training order.

    The budget protocol trains the N = 10 groups first, then the contexts, then N = 100,
    so that a run cut short still answers the main question.
    """
    if protocol == "full":
        return list(experiments())
    names = [f"minigrid_n10_{_slug(g)}" for g in BUDGET_MINIGRID_GROUPS[10]]
    names += [f"cartpole_poles_{_slug(g)}" for g in BUDGET_CARTPOLE_GROUPS]
    names += [f"minigrid_n100_{_slug(g)}" for g in BUDGET_MINIGRID_GROUPS[100]]
    return names


def write_configs() -> list[Path]:
    """Write ``configs/generalisation/<name>.yaml`` for every experiment."""
    CONFIGS.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, config in experiments().items():
        path = CONFIGS / f"{name}.yaml"
        text = "# Written by scripts/reproduce_generalisation.py --write-configs (issue 16).\n"
        text += yaml.safe_dump(config, sort_keys=False)
        _write_text(path, text)
        paths.append(path)
    return paths


def _write_text(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def train(names: list[str]) -> None:
    """``rlnoise train`` each config in turn (finished seeds are skipped)."""
    for name in names:
        command = ["rlnoise", "train", str(CONFIGS / f"{name}.yaml"), "--no-progress"]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)


# -- evaluation ---------------------------------------------------------------------------
EVAL_SEED = 10_000  # episode k resets with seed + k: every run meets the same levels/contexts
#: Unseen levels: each of the 100 once; training levels: each of the N in passes (MiniGrid is
#: deterministic given the level and the evaluation's actions are, so a pass repeats exactly).
MINIGRID_EPISODES = 100
CARTPOLE_EPISODES = 24  # a multiple of 3, 2 and 4: every context of a set equally often


def _grid_of(name: str) -> dict[str, Any]:
    return experiments()[name]["evaluation"]


def _evaluate_experiment(name: str, n_runs: int) -> dict[str, Any]:
    """``rlnoise evaluate --runs`` on one experiment; its report's summary and gap rows."""
    out = RUNS / "eval" / f"{name}-{n_runs}runs"  # a new run count is a new evaluation
    out.mkdir(parents=True, exist_ok=True)
    grid = out / "grid.yaml"
    _write_text(grid, yaml.safe_dump(_grid_of(name), sort_keys=False))
    episodes = MINIGRID_EPISODES if name.startswith("minigrid") else CARTPOLE_EPISODES
    command = [
        "rlnoise", "evaluate", "--runs", str(RUNS / name), "--grid", str(grid),
        "--episodes", str(episodes), "--seed", str(EVAL_SEED), "--out", str(out),
        "--threads", "1", "--no-progress", "--no-plots",
    ]  # fmt: skip
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)
    report = json.loads((out / "report.json").read_text())
    return {
        "command": " ".join(command),
        "runs": [run["name"] for run in report["runs"]],
        "episodes": episodes,
        "conditions": {
            row["condition"]: {"iqm": row["iqm"], "iqm_ci": row["iqm_ci"]}
            for row in report["summary"]
        },
        "generalisation": report["generalisation"],
    }


def evaluate(names: list[str]) -> dict[str, Any]:
    """Evaluate every experiment with finished runs; write the results JSON and the figure."""
    from rlnoise.runs.contract import is_finished

    start = time.perf_counter()
    experiments_out: dict[str, Any] = {}
    for name in names:
        root = RUNS / name
        runs = [p for p in root.glob("seed_*") if is_finished(p)] if root.is_dir() else []
        if runs:
            experiments_out[name] = _evaluate_experiment(name, len(runs))
    results: dict[str, Any] = {
        "command": "python scripts/reproduce_generalisation.py --evaluate",
        "evaluation_seconds": round(time.perf_counter() - start, 1),
        "protocol": {
            "minigrid": f"{MINIGRID_ID}, PPO {MINIGRID_STEPS} steps on the first N "
            f"training_levels(N); test: the N training levels and unseen_levels({UNSEEN_LEVELS}) "
            f"(odd seeds, disjoint); {MINIGRID_EPISODES} deterministic episodes per set",
            "cartpole": f"CartPole-v1, PPO {CARTPOLE_STEPS} steps on pole lengths "
            f"{list(POLE_TRAIN)}; interpolation {list(POLE_INTERPOLATION)}, extrapolation "
            f"{list(POLE_EXTRAPOLATION)}; {CARTPOLE_EPISODES} deterministic episodes per set",
            "statistics": "per-run gap = mean train-set return - mean test-set return; IQM "
            "over runs with a percentile-bootstrap 95% CI over runs (10,000 resamples), "
            "rlnoise.evaluation.generalisation",
        },
        "experiments": experiments_out,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    _write_text(RESULTS, json.dumps(results, indent=1) + "\n")
    plot(results)
    print(markdown_table(results))
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """The README table: per experiment and test set, train / test IQM and the gap with its CI."""
    lines = [
        "| experiment | runs | test set | train return | test return | test episodes IQM "
        "[95% CI] | gap [95% CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in results["experiments"].items():
        for row in entry["generalisation"]:
            low, high = row["generalisation_gap_ci"]
            test = entry["conditions"][row["test_condition"]]
            lines.append(
                f"| {name} | {row['n_runs']} | {row['test_condition']} | {row['train_iqm']:.3g} "
                f"| {row['test_iqm']:.3g} | {test['iqm']:.3g} [{test['iqm_ci'][0]:.3g}, "
                f"{test['iqm_ci'][1]:.3g}] | {row['generalisation_gap']:.3g} "
                f"[{low:.3g}, {high:.3g}] |"
            )
    return "\n".join(lines)


def plot(results: dict[str, Any]) -> None:
    """Generalisation gap (IQM over runs, 95% CI) per group: MiniGrid N=10, N=100, CartPole."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("MiniGrid MultiRoom, N = 10 levels", "minigrid_n10_"),
        ("MiniGrid MultiRoom, N = 100 levels", "minigrid_n100_"),
        ("CartPole, 3 pole lengths", "cartpole_poles_"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (title, prefix) in zip(axes, panels, strict=True):
        names = [n for n in results["experiments"] if n.startswith(prefix)]
        tests = list(
            dict.fromkeys(
                row["test_condition"]
                for n in names
                for row in results["experiments"][n]["generalisation"]
            )
        )
        for k, test in enumerate(tests):
            xs, ys, errs = [], [], [[], []]
            for i, name in enumerate(names):
                for row in results["experiments"][name]["generalisation"]:
                    if row["test_condition"] != test:
                        continue
                    low, high = row["generalisation_gap_ci"]
                    xs.append(i + (k - (len(tests) - 1) / 2) * 0.2)
                    ys.append(row["generalisation_gap"])
                    errs[0].append(row["generalisation_gap"] - low)
                    errs[1].append(high - row["generalisation_gap"])
            ax.errorbar(xs, ys, yerr=errs, fmt="o", capsize=3, label=f"train - {test}")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n[len(prefix) :].replace("_", "+") for n in names], rotation=35)
        ax.set_title(title)
        ax.set_ylabel("generalisation gap (IQM, 95% CI)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=FIGURE.parent, suffix=".png", delete=False) as tmp:
        fig.savefig(tmp.name, dpi=110)
    os.replace(tmp.name, FIGURE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-configs", action="store_true", help="write the YAML configs")
    parser.add_argument("--train", action="store_true", help="rlnoise train every config")
    parser.add_argument("--evaluate", action="store_true", help="evaluate, write results")
    parser.add_argument(
        "--protocol",
        choices=("budget", "full"),
        default="budget",
        help="budget: the groups that fit ~40 CPU-minutes (default); full: every group of issue 16",
    )
    parser.add_argument("--only", default="", help="only experiments whose name starts so")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # small MLPs: one thread is fastest, and the machine is shared
    names = [name for name in protocol_names(args.protocol) if name.startswith(args.only)]
    if args.write_configs:
        for path in write_configs():
            print(path.relative_to(ROOT))
    if args.train:
        train(names)
    if args.evaluate:
        evaluate(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
