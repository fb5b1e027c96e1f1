"""Every shipped example config trains at a tiny budget and its runs evaluate (CI smoke run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rlnoise.cli import main
from rlnoise.experiments import Sweep, load_experiment

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def _tiny(path: Path, out: Path) -> list[str]:
    """Overrides that shrink a config to a smoke run without changing what it exercises."""
    loaded = load_experiment(path)
    config = loaded.configs[0] if isinstance(loaded, Sweep) else loaded
    overrides = ["total_timesteps=96", "seeds=[0]", f"output_dir={out}", "device=cpu"]
    if config.env.n_envs > 2:
        overrides.append("env.n_envs=2")
    sizes = {
        "n_steps": 16,
        "batch_size": 16,
        "learning_starts": 32,
        "buffer_size": 1000,
        "train_freq": 8,
        "gradient_steps": 2,
    }
    overrides += [f"algo_kwargs.{k}={v}" for k, v in sizes.items() if k in config.algo_kwargs]
    return overrides


def test_every_example_is_covered() -> None:
    names = {p.stem for p in CONFIGS}
    for expected in (
        "ppo_cartpole_obs_noise",
        "dqn_cartpole_noisynet",
        "sac_pendulum_param_noise",
        "td3_pendulum_param_noise",
        "ppo_cartpole_weight_activation_noise",
        "ppo_cartpole_gradient_noise",
        "ppo_pixels_obs_noise",
        "ppo_cartpole_weight_noise_sweep",
    ):
        assert expected in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_config_trains_and_evaluates(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["train", str(path), "--no-progress"]
    for item in _tiny(path, out):
        args += ["--override", item]
    assert main(args) == 0
    sweep = load_experiment(path)
    if isinstance(sweep, Sweep):  # every member trained, in its own directory
        runs = [out / label / "seed_0" for label in sweep.labels]
        names = [f"{path.stem}.{label}" for label in sweep.labels]
    else:
        runs, names = [out / "seed_0"], [path.stem]
    for run, name in zip(runs, names, strict=True):
        resolved = yaml.safe_load((run / "config.yaml").read_text())
        assert resolved["total_timesteps"] == 96 and resolved["name"] == name
    grid = tmp_path / "grid.yaml"
    grid.write_text("clean: true\ngaussian: [0.1]\n")
    report_dir = tmp_path / "eval"
    evaluate = [
        "evaluate",
        "--runs",
        str(out),
        "--grid",
        str(grid),
        "--episodes",
        "1",
        "--max-steps",
        "20",
    ]
    assert (
        main(
            [
                *evaluate,
                "--out",
                str(report_dir),
                "--no-progress",
                "--no-plots",
                "--bootstrap",
                "10",
            ]
        )
        == 0
    )
    report = json.loads((report_dir / "report.json").read_text())
    assert len(report["conditions"]) == 2
