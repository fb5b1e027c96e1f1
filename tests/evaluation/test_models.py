"""Saved models: algorithm detection, VecNormalize beside the zip, runs directories."""

from __future__ import annotations

import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rlnoise.evaluation.models import detect_algorithm, discover_runs, load_run


@pytest.mark.parametrize(
    ("cls", "env_id"),
    [
        (PPO, "CartPole-v1"),
        (A2C, "CartPole-v1"),
        (DQN, "CartPole-v1"),
        (SAC, "Pendulum-v1"),
        (TD3, "Pendulum-v1"),
        (DDPG, "Pendulum-v1"),
    ],
)
def test_detects_the_algorithm_from_the_zip(cls: type, env_id: str, tmp_path: Path) -> None:
    kwargs = {"buffer_size": 100} if cls in (DQN, SAC, TD3, DDPG) else {}
    cls("MlpPolicy", env_id, seed=0, device="cpu", **kwargs).save(tmp_path / "m.zip")
    assert detect_algorithm(tmp_path / "m.zip") == cls.__name__
    run = load_run(tmp_path / "m.zip", device="cpu")
    assert type(run.model) is cls and run.algo == cls.__name__ and len(run.digest) == 64


def test_not_a_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not an SB3 model zip"):
        detect_algorithm(bad)
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "missing.zip")
    with pytest.raises(ValueError, match="algo must be one of"):
        PPO("MlpPolicy", "CartPole-v1", device="cpu").save(tmp_path / "p.zip")
        load_run(tmp_path / "p.zip", algo="PPOO")


def make_runs_dir(root: Path) -> Path:
    """Two runs of a PPO, the second with VecNormalize statistics saved beside it."""
    runs = root / "ppo-cartpole"
    for seed in (1, 2):
        folder = runs / f"seed{seed}"
        folder.mkdir(parents=True)
        PPO("MlpPolicy", "CartPole-v1", seed=seed, device="cpu").save(folder / "model.zip")
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("CartPole-v1")]))
    venv.obs_rms.mean = np.array([0.1, 0.0, -0.02, 0.3])
    venv.obs_rms.var = np.array([0.5, 1.5, 0.01, 2.0])
    venv.save(str(runs / "seed2" / "vecnormalize.pkl"))
    (runs / "notes").mkdir()  # no model.zip: not a run
    return runs


def test_runs_directory(tmp_path: Path) -> None:
    runs = make_runs_dir(tmp_path)
    found = discover_runs(runs)
    assert [p.parent.name for p in found] == ["seed1", "seed2"]
    plain = load_run(found[0], device="cpu")
    normalized = load_run(found[1], device="cpu")
    assert plain.vec_normalize is None
    assert np.array_equal(normalized.vec_normalize.obs_rms.var, [0.5, 1.5, 0.01, 2.0])
    with pytest.raises(ValueError, match=r"no sub-directory with a model\.zip"):
        discover_runs(runs / "notes")
    (runs / "seed1" / "vecnormalize.pkl").write_bytes(pickle.dumps({"not": "stats"}))
    with pytest.raises(ValueError, match="not VecNormalize"):
        load_run(found[0], device="cpu")


def test_errors_can_name_the_command_line_flag(tmp_path: Path) -> None:
    from rlnoise.evaluation.models import algorithm_key, resolve_device

    with pytest.raises(ValueError, match=r"^--device must be 'auto', 'cpu' or 'cuda\[:n\]'"):
        resolve_device("tpu", name="--device")
    with pytest.raises(ValueError, match=r"^--algo must be one of \['A2C'"):
        algorithm_key("PPOO", field="--algo")
    assert algorithm_key("ppo") == "PPO"
    with pytest.raises(FileNotFoundError, match=r"^--runs '.*nope' does not exist"):
        discover_runs(tmp_path / "nope", name="--runs")


def test_a_damaged_zip_names_the_file_once(tmp_path: Path) -> None:
    import zipfile

    PPO("MlpPolicy", "CartPole-v1", device="cpu").save(tmp_path / "m.zip")
    data = bytearray((tmp_path / "m.zip").read_bytes())
    with zipfile.ZipFile(tmp_path / "m.zip") as archive:
        start = archive.getinfo("policy.pth").header_offset + 100
    data[start : start + 40] = bytes(40)  # the weights fail their CRC; the metadata is intact
    (tmp_path / "m.zip").write_bytes(bytes(data))
    with pytest.raises(ValueError) as info:
        load_run(tmp_path / "m.zip", device="cpu")
    assert str(info.value) == (
        f"cannot load model file '{tmp_path / 'm.zip'}': the file {tmp_path / 'm.zip'} "
        "wasn't a zip-file"
    )
