"""Training on Ray: the same files as local training, a rerun starts nothing, a killed run retried.

One Ray for the module (``ray_local``, tests/runs/ray_plugin.py); every test
here runs on one xdist worker (``xdist_group``). Skipped without Ray.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlnoise.cli import main
from rlnoise.experiments import ExperimentConfig
from rlnoise.experiments.train import train_many
from rlnoise.runs.backends import Backend, WorkUnit, run_units
from rlnoise.runs.contract import is_finished
from rlnoise.runs.errors import WorkFailed

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

#: What must be byte for byte the same: the weights, optimiser state and normalisation.
SAME_BYTES = ("policy.pth", "policy.optimizer.pth", "pytorch_variables.pth")


def _data(output_dir: Path, **changes: Any) -> dict[str, Any]:
    return {
        "name": "tiny",
        "algo": "PPO",
        "env": {"id": "CartPole-v1", "n_envs": 2, "normalize": {"norm_reward": False}},
        "algo_kwargs": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
        "policy_kwargs": {"net_arch": [8]},
        "total_timesteps": 64,
        "seeds": [0, 1],
        "device": "cpu",
        "output_dir": str(output_dir),
        **changes,
    }


def _yaml(path: Path, data: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _same_run(a: Path, b: Path) -> None:
    assert is_finished(a) and is_finished(b)
    with zipfile.ZipFile(a / "model.zip") as left, zipfile.ZipFile(b / "model.zip") as right:
        for name in SAME_BYTES:
            assert left.read(name) == right.read(name), f"{name} of {a} and {b} differ"
    assert (a / "vecnormalize.pkl").read_bytes() == (b / "vecnormalize.pkl").read_bytes()
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


def test_a_rerun_with_every_seed_finished_starts_no_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    path = _yaml(tmp_path / "tiny.yaml", _data(tmp_path / "runs", seeds=[0]))
    assert main(["train", path, "--no-progress"]) == 0  # trained here
    capsys.readouterr()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Ray was started with nothing to run")

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "remote", refuse)  # a Ray this process already started, unused
    assert main(["train", path, "--backend", "ray"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tiny seed 0: finished earlier, reused",
        f"1 run(s) in {tmp_path / 'runs'}",
    ]
    # In a fresh process, as a user runs it: Ray is not even imported.
    code = (
        "import sys; from rlnoise.cli import main\n"
        f"assert main(['train', {path!r}, '--backend', 'ray', '--no-progress']) == 0\n"
        "assert 'ray' not in sys.modules\n"
    )
    root = str(Path(__file__).resolve().parents[2])  # this checkout's rlnoise
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_a_sweep_trained_on_ray_is_bit_identical_to_local_training(
    tmp_path: Path, ray_local: Any
) -> None:
    sweep = {"algo_kwargs.learning_rate": [1e-3, 3e-4]}
    local = _yaml(tmp_path / "local.yaml", _data(tmp_path / "local", sweep=sweep))
    remote = _yaml(tmp_path / "ray.yaml", _data(tmp_path / "ray", sweep=sweep))
    assert main(["train", local, "--no-progress"]) == 0
    assert main(["train", remote, "--backend", "ray", "--no-progress"]) == 0
    for member in ("learning_rate=0.001", "learning_rate=0.0003"):
        for seed in (0, 1):
            run = f"{member}/seed_{seed}"
            _same_run(tmp_path / "local" / run, tmp_path / "ray" / run)
    assert (tmp_path / "local" / "sweep.yaml").read_text() == (
        tmp_path / "ray" / "sweep.yaml"
    ).read_text()


def test_a_killed_run_is_retried_and_leaves_no_half_written_seed(
    tmp_path: Path, ray_local: Any
) -> None:
    from tests.experiments.ray_tasks import die_once_then_train

    config = ExperimentConfig.from_dict(_data(tmp_path / "ray", seeds=[1]))
    lines: list[str] = []
    train_many(
        [config], backend=Backend("ray"), log=lines.append, unit_function=die_once_then_train
    )
    assert (tmp_path / "killed_seed_1").is_file()  # the first attempt was killed mid-write
    assert lines == [f"tiny seed 1: wrote {tmp_path / 'ray' / 'seed_1'}"]  # Ray ran it again
    local = ExperimentConfig.from_dict(_data(tmp_path / "local", seeds=[1]))
    train_many([local], log=None)
    _same_run(tmp_path / "ray" / "seed_1", tmp_path / "local" / "seed_1")  # no leftover file


def test_a_ray_worker_that_cannot_see_a_path_fails_naming_it(ray_local: Any) -> None:
    from tests.runs.tasks import square_or_fail

    units = [
        WorkUnit("sees it", square_or_fail, (2,), needs=("/",)),
        WorkUnit("blind", square_or_fail, (3,), needs=("/nonexistent/runs/experiment.yaml",)),
    ]
    with pytest.raises(WorkFailed) as failed:
        run_units(units, Backend("ray"), progress=False, log=lambda _: None)
    assert failed.value.results == {"sees it": 4}
    assert "cannot see /nonexistent/runs/experiment.yaml" in failed.value.failures["blind"]
