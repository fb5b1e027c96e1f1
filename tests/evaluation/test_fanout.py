"""An evaluation fanned out to workers: the single-process files, failures by name, no recompute."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stable_baselines3 import PPO

from rlnoise.cli import main
from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.fanout import CellsNotReused, default_chunk, evaluate_on_backend
from rlnoise.runs.backends import Backend
from rlnoise.runs.errors import WorkFailed
from tests.evaluation import fanout_units

GRID = {"gaussian": [0.1, 0.3], "random_action": [0.3], "sticky_action": [0.2]}
SETTINGS: dict[str, Any] = {"n_episodes": 3, "seed": 2, "device": "cpu"}


def same_report_files(one: Path, other: Path) -> None:
    """Every file of two ``--out`` directories is the same, byte for byte.

    ``report.json`` is compared as data, without the two fields that name when
    and where it was written (the start time, the path of ``cells/``).
    """
    names = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
    assert any(name.parts[0] == "cells" for name in names)
    for name in names:
        if name == Path("report.json"):
            left, right = (json.loads((d / name).read_text()) for d in (one, other))
            for data in (left, right):
                del data["metadata"]["started"]
                if data["metadata"]["resume"] is not None:
                    del data["metadata"]["resume"]["directory"]
            assert left == right
        else:
            assert (one / name).read_bytes() == (other / name).read_bytes(), name


def evaluate(model: Path, out: Path, *flags: str) -> int:
    grid = out.parent / "grid.yaml"
    grid.write_text(json.dumps(GRID))
    return main(
        [
            "evaluate", "--model", str(model), "--env", "CartPole-v1", "--grid", str(grid),
            "--episodes", "3", "--seed", "2", "--device", "cpu", "--out", str(out),
            "--bootstrap", "50", "--no-progress", "--no-plots", *flags,
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "ppo.zip"
    PPO("MlpPolicy", "CartPole-v1", seed=3, device="cpu").save(path)
    return path


def test_two_worker_processes_write_the_files_of_one_process(saved: Path, tmp_path: Path) -> None:
    assert evaluate(saved, tmp_path / "one") == 0
    assert evaluate(saved, tmp_path / "two", "--workers", "2", "--conditions-per-task", "3") == 0
    same_report_files(tmp_path / "one", tmp_path / "two")


def test_no_resume_on_workers_keeps_no_cells_as_one_process(saved: Path, tmp_path: Path) -> None:
    # In this process (Backend()), the fan-out's own path: plan, units, check, assembly.
    assert evaluate(saved, tmp_path / "one", "--no-resume") == 0
    report = evaluate_on_backend(
        [saved], "CartPole-v1", GRID, Backend(), tmp_path / "cells", resume=False,
        progress=False, log=lambda line: None, **SETTINGS,
    )  # fmt: skip
    whole = json.loads((tmp_path / "one" / "report.json").read_text())
    assert whole["metadata"]["resume"] is None and report.metadata["resume"] is None
    assert report.returns.tolist() == whole["returns"]
    assert not (tmp_path / "one" / "cells").exists()


def test_a_failed_unit_is_named_the_others_kept_and_a_rerun_plays_only_it(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = tmp_path / "cells"
    options: dict[str, Any] = {"progress": False, "conditions_per_unit": 2, **SETTINGS}
    with pytest.raises(WorkFailed, match=r"^model/ppo conditions 5 of 5 failed: cannot evaluate"):
        evaluate_on_backend(
            [saved], "CartPole-v1", GRID, Backend(), cells,
            unit_function=fanout_units.fail_on_sticky, **options,
        )  # fmt: skip
    assert capsys.readouterr().out.splitlines() == [
        "model/ppo conditions 1-2 of 5: 3 cell(s) played, 0 reused",  # with the reference
        "model/ppo conditions 3-4 of 5: 2 cell(s) played, 0 reused",
    ]
    assert len(list(cells.glob("cell-*.json"))) == 4
    lines: list[str] = []
    report = evaluate_on_backend(
        [saved], "CartPole-v1", GRID, Backend(), cells, log=lines.append, **options
    )
    assert lines == ["model/ppo conditions 5 of 5: 1 cell(s) played, 0 reused"]
    assert report.metadata["resume"]["reused_cells"] == 4
    whole = evaluate_robustness([saved], "CartPole-v1", GRID, progress=False, **SETTINGS)
    assert np.array_equal(report.returns, whole.returns)
    assert report.reference.to_dict() == whole.reference.to_dict()

    # Everything stored: no unit runs, and the report is the same.
    again = evaluate_on_backend(
        [saved], "CartPole-v1", GRID, Backend(), cells, log=lines.append,
        unit_function=fanout_units.refuse, **options,
    )  # fmt: skip
    assert np.array_equal(again.returns, whole.returns)
    assert again.metadata["resume"]["reused_cells"] == 5


def test_a_worker_with_another_torch_is_one_error_not_a_recompute(
    saved: Path, tmp_path: Path
) -> None:
    message = (
        r"^run 'ppo' under 'clean': the worker stored it for other settings \(versions.torch: "
        r"worker '0.0.1', driver '[^']+'\); every worker must run the driver's library versions"
    )
    with pytest.raises(CellsNotReused, match=message):
        evaluate_on_backend(
            [saved], "CartPole-v1", GRID, Backend(), tmp_path, progress=False,
            log=lambda line: None, unit_function=fanout_units.other_torch, **SETTINGS,
        )  # fmt: skip


def test_evaluate_on_ray_without_ray_says_what_to_install_before_anything(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert evaluate(saved, tmp_path / "out", "--backend", "ray") == 2
    assert capsys.readouterr().err == (
        "rlnoise evaluate: error: --backend ray needs Ray, which is not installed: "
        'pip install "rlnoise[ray]"\n'
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "0"], "--workers must be an integer >= 1, got 0"),
        (["--cpus-per-task", "2"], "--cpus-per-task need --backend ray"),
        (["--conditions-per-task", "0"], "--conditions-per-task must be"),
    ],
)
def test_backend_flags_are_checked_before_anything(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert evaluate(saved, tmp_path / "out", *flags) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rlnoise evaluate: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_default_chunks_make_the_fewest_batches_one_after_another() -> None:
    # 64 conditions x 100 episodes, 256 live: 8 units of 8 would take 4 rounds of 4 batches
    # on 2 workers (the 4th batch of each unit a quarter full); 2 units of 32 take 13.
    assert default_chunk([64], 2, 100, 256) == 32
    assert default_chunk([64, 64], 2, 100, 256) == 64  # one run per worker
    assert default_chunk([64], 4, 100, 256) == 16  # 4 units of 7 batches
    assert default_chunk([5], 2, 3, 256) == 3  # one batch each: 3 + 2 conditions
    assert default_chunk([1], 8, 3, 256) == 1
    assert default_chunk([], 2, 3, 256) == 1
