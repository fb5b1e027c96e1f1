"""The finished-run contract: done.json validated, unfinished runs told apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlnoise.runs.contract import (
    done_problem,
    done_record,
    is_finished,
    unfinished_reason,
    write_done,
)


def _finished(directory: Path, seed: int = 0, files: tuple[str, ...] = ("model.zip",)) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in files:
        (directory / name).write_bytes(b"x")
    record = done_record(
        seed=seed,
        algo="PPO",
        total_timesteps=64,
        wall_seconds=0.5,
        versions={"rlnoise": "0.1.0"},
        files=list(files),
    )
    write_done(directory, record)
    return directory


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"seed": 0, "algo": "PP', "cannot be read"),  # cut short mid-write
        ("\x00\x00\x00", "cannot be read"),  # garbled
        ("[1, 2]", "holds a list"),
        ('{"algo": "PPO"}', "lacks 'seed'"),
        (
            '{"seed": -1, "algo": "PPO", "total_timesteps": 8, "wall_seconds": 1, "versions": {}}',
            "invalid 'seed'",
        ),
        (
            '{"seed": 0, "algo": "PPO", "total_timesteps": 8, "wall_seconds": 1, "versions": {},'
            ' "files": ["../model.zip"]}',
            "invalid 'files'",
        ),
    ],
)
def test_an_invalid_done_json_is_unfinished(tmp_path: Path, content: str, problem: str) -> None:
    run = _finished(tmp_path / "seed_0")
    (run / "done.json").write_text(content)
    assert problem in str(done_problem(run)) and not is_finished(run)


def test_a_valid_record_is_finished_for_its_seed_with_its_files(tmp_path: Path) -> None:
    run = _finished(tmp_path / "seed_2", seed=2, files=("model.zip", "vecnormalize.pkl"))
    assert is_finished(run) and is_finished(run, seed=2)
    assert done_problem(run, seed=3) == "done.json is for seed 2, not 3"
    (run / "vecnormalize.pkl").unlink()
    assert done_problem(run) == "vecnormalize.pkl is missing"


def test_a_record_of_an_earlier_version_without_files_needs_the_model(tmp_path: Path) -> None:
    run = tmp_path / "seed_0"
    run.mkdir()
    old = {"seed": 0, "algo": "PPO", "total_timesteps": 8, "wall_seconds": 1.0, "versions": {}}
    (run / "done.json").write_text(json.dumps(old))
    assert done_problem(run) == "model.zip is missing"
    (run / "model.zip").write_bytes(b"x")
    assert is_finished(run)


def test_write_done_refuses_an_invalid_record(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"refusing to write an invalid done\.json: lacks 'seed'"):
        write_done(tmp_path, {"algo": "PPO"})
    assert not (tmp_path / "done.json").exists()


def test_runs_assembled_by_hand_are_taken_as_they_are(tmp_path: Path) -> None:
    hand = tmp_path / "mine" / "run_a"
    hand.mkdir(parents=True)
    (hand / "model.zip").write_bytes(b"x")
    assert unfinished_reason(hand) is None
    trained = tmp_path / "trained"
    (trained / "seed_0").mkdir(parents=True)
    (trained / "seed_0" / "model.zip").write_bytes(b"x")
    (trained / "experiment.yaml").write_text("name: x\n")
    assert unfinished_reason(trained / "seed_0") == "no done.json"
    (hand / "config.yaml").write_text("algo: PPO\n")  # written by rlnoise train, then copied
    assert unfinished_reason(hand) == "no done.json"
