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

The evaluation uses SB3's ``evaluate_policy`` on each level/context set with
common seeds; it is to move to ``rlnoise evaluate --runs`` once the evaluation
grid has level and context conditions.
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

#: What fits the machine (2 shared cores, one session): every group at N = 10; the clean,
#: dropout and dropout+SNI groups at N = 100; activation noise left out on CartPole.
MINIGRID_GROUPS = {
    10: ("clean", "input", "weight", "activation", "dropout", "weight+sni", "dropout+sni"),
    100: ("clean", "dropout", "dropout+sni"),
}
CARTPOLE_GROUPS = ("clean", "input", "weight", "dropout", "weight+sni", "dropout+sni")

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
        for group in MINIGRID_GROUPS[n]:
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
                "device": "cpu",
                "output_dir": str(RUNS / name),
            }
    for group in CARTPOLE_GROUPS:
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
            "device": "cpu",
            "output_dir": str(RUNS / name),
        }
    return out


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
EVAL_SEED = 10_000  # common random numbers: every run meets the same level/context order
EVAL_ENVS = 10  # episodes run side by side (one batched predict per step)
CONTEXT_EPISODES = 20  # greedy episodes per CartPole pole length


def _minigrid_env(levels: Any) -> Any:
    import gymnasium as gym

    try:
        import minigrid  # noqa: F401  (registers the MiniGrid envs)
    except ImportError:
        sys.exit("MiniGrid is not installed: pip install 'rlnoise[minigrid]'")
    from gymnasium.wrappers import DtypeObservation, FilterObservation, FlattenObservation

    from rlnoise.wrappers import LevelSet

    env = gym.make(MINIGRID_ID.partition(":")[2])
    env = FilterObservation(env, ["image", "direction"])
    env = DtypeObservation(FlattenObservation(env), "float32")
    return LevelSet(env, levels)


def _mean_return(model: Any, make: Any, episodes: int, deterministic: bool) -> float:
    import torch
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([make] * EVAL_ENVS)
    venv.seed(EVAL_SEED)
    torch.manual_seed(EVAL_SEED)  # SB3 samples actions from torch's global generator
    returns, _ = evaluate_policy(
        model,
        venv,
        n_eval_episodes=episodes,
        deterministic=deterministic,
        return_episode_rewards=True,
    )
    venv.close()
    return float(sum(returns) / len(returns))


def _evaluate_run(name: str, path: Path) -> dict[str, float]:
    from stable_baselines3 import PPO

    from rlnoise.wrappers import training_levels, unseen_levels
    from rlnoise.wrappers.dynamics import DynamicsSetting, make_env

    model = PPO.load(path / "model.zip", device="cpu")
    if name.startswith("minigrid"):
        n = int(name.split("_")[1][1:])
        train = _mean_return(model, lambda: _minigrid_env(training_levels(n)), EVAL_EPISODES, False)
        unseen = _mean_return(
            model, lambda: _minigrid_env(unseen_levels(100)), EVAL_EPISODES, False
        )
        return {"train": train, "unseen": unseen, "gap": train - unseen}
    out = {}
    for label, lengths in (
        ("train", POLE_TRAIN),
        ("interpolation", POLE_INTERPOLATION),
        ("extrapolation", POLE_EXTRAPOLATION),
    ):
        values = []
        for length in lengths:
            setting = DynamicsSetting(attributes={"length": length})
            make = lambda s=setting: make_env("CartPole-v1", s)  # noqa: E731
            values.append(_mean_return(model, make, CONTEXT_EPISODES, True))
        out[label] = sum(values) / len(values)
    out["gap_interpolation"] = out["train"] - out["interpolation"]
    out["gap_extrapolation"] = out["train"] - out["extrapolation"]
    return out


def _cached_evaluation(name: str, path: Path) -> dict[str, float]:
    """A run's evaluation, kept beside its model (``generalisation.json``) so reruns resume."""
    cache = path / "generalisation.json"
    protocol = [EVAL_SEED, EVAL_ENVS, EVAL_EPISODES, CONTEXT_EPISODES]
    if cache.is_file():
        stored = json.loads(cache.read_text())
        if stored.get("protocol") == protocol:
            return stored["returns"]
    returns = _evaluate_run(name, path)
    _write_text(cache, json.dumps({"protocol": protocol, "returns": returns}))
    return returns


def _summary(values: list[float], clean: list[float] | None, lower_is_better: bool) -> dict:
    import numpy as np

    from rlnoise.evaluation.bootstrap import bootstrap_ci
    from rlnoise.evaluation.statistics import iqm, probability_of_improvement

    scores = np.asarray(values, dtype=np.float64)[:, None]  # (n_runs, 1 task)
    low, high = bootstrap_ci(scores, iqm, seed=0)
    out = {"iqm": float(iqm(scores)), "ci95": [low, high], "n_runs": len(values)}
    if clean is not None:
        sign = -1.0 if lower_is_better else 1.0
        reference = np.asarray(clean, dtype=np.float64)[:, None]
        out["p_improvement_vs_clean"] = float(
            probability_of_improvement(sign * scores, sign * reference)
        )
    return out


def evaluate(names: list[str]) -> dict[str, Any]:
    """Evaluate every finished run; write the results JSON and the figure."""
    from rlnoise.runs.contract import is_finished

    start = time.perf_counter()
    per_run: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        root = RUNS / name
        runs = sorted(p for p in root.glob("seed_*") if is_finished(p)) if root.is_dir() else []
        for path in runs:
            per_run.setdefault(name, {})[path.name] = _cached_evaluation(name, path)
            print(name, path.name, per_run[name][path.name], flush=True)
    results: dict[str, Any] = {
        "command": "python scripts/reproduce_generalisation.py --evaluate",
        "evaluation_seconds": round(time.perf_counter() - start, 1),
        "protocol": {
            "minigrid": f"{MINIGRID_ID}, PPO {MINIGRID_STEPS} steps; train levels = the N "
            f"training levels, unseen = unseen_levels(100); {EVAL_EPISODES} sampled-action "
            "episodes per set",
            "cartpole": f"CartPole-v1, PPO {CARTPOLE_STEPS} steps on pole lengths "
            f"{list(POLE_TRAIN)}; interpolation {list(POLE_INTERPOLATION)}, extrapolation "
            f"{list(POLE_EXTRAPOLATION)}; {CONTEXT_EPISODES} greedy episodes per "
            "length",
            "statistics": "per-run mean return; IQM over runs with a stratified-bootstrap 95% "
            "CI (10,000 resamples); probability of improvement over the clean group",
        },
        "experiments": {},
    }
    metrics = {
        "minigrid": ("train", "unseen", "gap"),
        "cartpole": (
            "train",
            "interpolation",
            "extrapolation",
            "gap_interpolation",
            "gap_extrapolation",
        ),
    }
    for name, runs in per_run.items():
        kind = name.split("_")[0]
        clean_name = "_".join(name.split("_")[:2]) + "_clean"
        entry: dict[str, Any] = {"runs": runs, "summary": {}}
        for metric in metrics[kind]:
            values = [run[metric] for run in runs.values()]
            clean = per_run.get(clean_name, {})
            reference = [run[metric] for run in clean.values()] if name != clean_name else None
            entry["summary"][metric] = _summary(
                values, reference or None, lower_is_better=metric.startswith("gap")
            )
        results["experiments"][name] = entry
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    _write_text(RESULTS, json.dumps(results, indent=1) + "\n")
    plot(results)
    return results


def plot(results: dict[str, Any]) -> None:
    """Train and unseen return (IQM, 95% CI) per group: MiniGrid N=10, N=100, CartPole."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("MiniGrid MultiRoom, N = 10 levels", "minigrid_n10_", ("train", "unseen")),
        ("MiniGrid MultiRoom, N = 100 levels", "minigrid_n100_", ("train", "unseen")),
        (
            "CartPole, 3 pole lengths",
            "cartpole_poles_",
            ("train", "interpolation", "extrapolation"),
        ),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (title, prefix, metrics) in zip(axes, panels, strict=True):
        names = [n for n in results["experiments"] if n.startswith(prefix)]
        for k, metric in enumerate(metrics):
            xs, ys, errs = [], [], [[], []]
            for i, name in enumerate(names):
                s = results["experiments"][name]["summary"][metric]
                xs.append(i + (k - (len(metrics) - 1) / 2) * 0.2)
                ys.append(s["iqm"])
                errs[0].append(s["iqm"] - s["ci95"][0])
                errs[1].append(s["ci95"][1] - s["iqm"])
            ax.errorbar(xs, ys, yerr=errs, fmt="o", capsize=3, label=metric)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n[len(prefix) :].replace("_", "+") for n in names], rotation=35)
        ax.set_title(title)
        ax.set_ylabel("return (IQM, 95% CI)")
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
    parser.add_argument("--only", default="", help="only experiments whose name starts so")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # small MLPs: one thread is fastest, and the machine is shared
    names = [name for name in experiments() if name.startswith(args.only)]
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
