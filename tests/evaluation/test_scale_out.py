"""The unit of work of a scaled-out evaluation: chunks into the cells store, a report from cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from rlnoise.evaluation import build_grid, evaluate_cells, evaluate_robustness

GRID = {"gaussian": [0.1, 0.2], "random_action": [0.3], "sticky_action": [0.2]}
SETTINGS = {"n_episodes": 3, "seed": 5, "device": "cpu"}


def test_chunks_then_a_report_from_the_cells_alone_equal_one_evaluation(
    untrained_cartpole: PPO, tmp_path: Path
) -> None:
    conditions = build_grid(GRID)
    chunks = [conditions[:2], conditions[2:]]
    written = [
        evaluate_cells(
            untrained_cartpole, "CartPole-v1", chunk, tmp_path, reference=i == 0, **SETTINGS
        )
        for i, chunk in enumerate(chunks)
    ]
    names = [[r.condition for r in records] for records in written]
    assert names == [["clean", "obs:gaussian:0.1", "reference:uniform_random"],
                     ["obs:gaussian:0.2", "random_action:0.3", "sticky_action:0.2"]]  # fmt: skip
    records = [r for chunk in written for r in chunk]
    assert all(r.saved and not r.reused and r.path.is_file() for r in records)
    assert {r.run for r in records} == {"PPO-0", None}

    assembled = evaluate_robustness(
        untrained_cartpole, "CartPole-v1", GRID, resume_dir=tmp_path, cached_only=True,
        progress=False, **SETTINGS,
    )  # fmt: skip
    whole = evaluate_robustness(untrained_cartpole, "CartPole-v1", GRID, progress=False, **SETTINGS)
    assert assembled.metadata["resume"]["reused_cells"] == len(conditions)
    assert np.array_equal(assembled.returns, whole.returns)
    assert np.array_equal(assembled.lengths, whole.lengths)
    assert assembled.reference.to_dict() == whole.reference.to_dict()
    assert assembled.summary(n_resamples=100) == whole.summary(n_resamples=100)

    again = evaluate_cells(untrained_cartpole, "CartPole-v1", chunks[1], tmp_path, **SETTINGS)
    assert all(r.reused for r in again)


def test_a_report_from_cells_names_what_is_missing_before_any_episode(
    untrained_cartpole: PPO, tmp_path: Path
) -> None:
    evaluate_cells(untrained_cartpole, "CartPole-v1", {"gaussian": [0.1]}, tmp_path, **SETTINGS)
    with pytest.raises(ValueError, match=r"3 cell\(s\) are not in .* under 'obs:gaussian:0.2'"):
        evaluate_robustness(
            untrained_cartpole, "CartPole-v1", GRID, resume_dir=tmp_path, cached_only=True,
            reference_score=0.0, progress=False, **SETTINGS,
        )  # fmt: skip
    with pytest.raises(ValueError, match="the uniformly random reference"):
        evaluate_robustness(
            untrained_cartpole, "CartPole-v1", {"gaussian": [0.1]}, resume_dir=tmp_path,
            cached_only=True, progress=False, **SETTINGS,
        )  # fmt: skip
    with pytest.raises(ValueError, match="cached_only needs the resume_dir"):
        evaluate_robustness(untrained_cartpole, "CartPole-v1", GRID, cached_only=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_a_driver_without_a_gpu_looks_up_cells_computed_on_one(
    untrained_cartpole: PPO, tmp_path: Path
) -> None:
    # The device only names the cells' fingerprints: CPU cells are not the CUDA ones.
    evaluate_cells(untrained_cartpole, "CartPole-v1", {"clean": True}, tmp_path, **SETTINGS)
    settings = {**SETTINGS, "device": "cuda"}
    with pytest.raises(ValueError, match=r"1 cell\(s\) are not in resume_dir"):
        evaluate_robustness(
            untrained_cartpole, "CartPole-v1", {"clean": True}, resume_dir=tmp_path,
            cached_only=True, reference_score=0.0, progress=False, **settings,
        )  # fmt: skip
