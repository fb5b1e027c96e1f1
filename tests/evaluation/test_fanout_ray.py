"""An evaluation on Ray tasks: the files of one process; CUDA asks Ray for GPUs.

One Ray for the module (``ray_local``, tests/runs/ray_plugin.py); every test
here runs on one xdist worker (``xdist_group``). Skipped without Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rlnoise.evaluation import fanout
from rlnoise.runs.backends import Backend
from tests.evaluation.test_fanout import GRID, evaluate, same_report_files

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]


def test_ray_tasks_write_the_files_of_one_process(
    ray_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3 import PPO

    monkeypatch.chdir(tmp_path)  # a relative --model: Ray's workers run in another directory
    saved = Path("ppo.zip")
    PPO("MlpPolicy", "CartPole-v1", seed=3, device="cpu").save(saved)
    assert evaluate(saved, tmp_path / "one") == 0
    flags = ["--backend", "ray", "--conditions-per-task", "2"]
    assert evaluate(saved, tmp_path / "ray", *flags) == 0
    same_report_files(tmp_path / "one", tmp_path / "ray")


def test_cuda_on_ray_asks_each_task_for_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stable_baselines3 import PPO

    saved = tmp_path / "ppo.zip"
    PPO("MlpPolicy", "CartPole-v1", seed=3, device="cpu").save(saved)
    asked: list[Backend] = []

    def record(units: Any, backend: Backend, **kwargs: Any) -> Any:
        asked.append(backend)
        raise KeyboardInterrupt  # stop before anything runs (no GPU here, maybe)

    monkeypatch.setattr(fanout, "run_units", record)
    with pytest.raises(KeyboardInterrupt):  # the plan of a GPU evaluation, made without a GPU
        fanout.evaluate_on_backend(
            [saved], "CartPole-v1", GRID, Backend("ray"), tmp_path / "cells", n_episodes=2,
            device="cuda", progress=False,
        )  # fmt: skip
    assert [(b.kind, b.gpus_per_unit) for b in asked] == [("ray", 1.0)]
