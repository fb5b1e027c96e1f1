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
from dataclasses import dataclass
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
        for group, (obs_noise, policy_kwargs) in GROUPS.items():
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
    for group, (obs_noise, policy_kwargs) in GROUPS.items():
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
        text = f"# Written by scripts/reproduce_generalisation.py --write-configs (issue 16).\n"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-configs", action="store_true", help="write the YAML configs")
    parser.add_argument("--train", action="store_true", help="rlnoise train every config")
    parser.add_argument("--evaluate", action="store_true", help="evaluate, write results")
    parser.add_argument("--only", default="", help="only experiments whose name starts so")
    args = parser.parse_args(argv)
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
