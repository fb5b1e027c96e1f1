"""The exploration callback from YAML: checked when the config loads, trained by `rlnoise train`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlnoise.experiments.config import ExperimentConfig
from rlnoise.experiments.options import COMPONENT_OPTIONS, options_for
from rlnoise.exploration import ExplorationNoiseCallback
from rlnoise.runs.yaml_loader import load_yaml_text

CONFIG = """
name: sac-pink
algo: SAC
env: {id: MountainCarContinuous-v0}
total_timesteps: 40
seeds: [0]
device: cpu
algo_kwargs: {learning_starts: 0, gradient_steps: 0}  # acting only: a fast test
callbacks:
  - rlnoise.exploration.ExplorationNoiseCallback: {spec: "colored:1,beta=1,length=999"}
"""


def _config(**changes: object) -> dict[str, object]:
    data = load_yaml_text(CONFIG, "config")
    data.update(changes)
    return data


def test_the_callback_has_an_options_type() -> None:
    assert (
        options_for(ExplorationNoiseCallback)
        is COMPONENT_OPTIONS["rlnoise.exploration.ExplorationNoiseCallback"]
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dropout:0.1", r"callbacks\[0\]\.spec: exploration noise must be one of the continuous"),
        ("gausian:1", r"callbacks\[0\]\.spec\.kind must be one of"),
        ({"kind": "colored", "beta": "pink"}, r"callbacks\[0\]\.spec\.beta must be a number"),
        (None, r"callbacks\[0\]\.spec"),
    ],
)
def test_a_bad_spec_is_reported_with_its_key_path(spec: object, message: str) -> None:
    entry = {"rlnoise.exploration.ExplorationNoiseCallback": {"spec": spec}}
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict(_config(callbacks=[entry]))


@pytest.mark.parametrize(
    ("algo", "env", "algo_kwargs", "spec"),
    [
        ("SAC", "MountainCarContinuous-v0", {"learning_starts": 0, "gradient_steps": 0},
         "colored:1,beta=1,length=999"),
        ("TD3", "Pendulum-v1", {"learning_starts": 0, "gradient_steps": 0}, "ou:0.2"),
        ("PPO", "Pendulum-v1", {"n_steps": 10, "batch_size": 10, "n_epochs": 1},
         "colored:1,beta=2,length=200"),
    ],
)  # fmt: skip
def test_rlnoise_train_trains_with_it(
    tmp_path: Path, algo: str, env: str, algo_kwargs: dict[str, object], spec: str
) -> None:
    import stable_baselines3

    from rlnoise.experiments.train import train_experiment

    entry = {"rlnoise.exploration.ExplorationNoiseCallback": {"spec": spec, "seed": 3}}
    config = ExperimentConfig.from_dict(
        _config(algo=algo, env={"id": env, "n_envs": 2}, algo_kwargs=algo_kwargs,
                callbacks=[entry], output_dir=str(tmp_path / "runs"))
    )  # fmt: skip
    (run,) = train_experiment(config, progress_bar=False, log=lambda _: None)
    model = getattr(stable_baselines3, algo).load(run / "model.zip", device="cpu")  # plain SB3
    assert model.num_timesteps == 40
    assert (run / "done.json").is_file()
