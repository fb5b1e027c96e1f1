"""An evaluation fanned out: cells played by worker processes or Ray tasks, assembled here.

:func:`evaluate_on_backend` is what ``rlnoise evaluate --workers N`` (or
``--backend ray``) runs. The driver (this process)

1. plans the whole evaluation as :func:`~rlnoise.evaluation.runner.evaluate_robustness`
   does (every model, condition and env checked before any episode runs) and
   looks up the cells a previous run left in the ``cells/`` store;
2. splits the cells still to play into units of work, one run x a chunk of
   its conditions each (:func:`evaluate_chunk`, which calls
   :func:`~rlnoise.evaluation.runner.evaluate_cells`), and runs them with
   :func:`~rlnoise.runs.backends.run_units` (one progress bar, failures by
   name, finished cells kept);
3. checks that every worker wrote the very cells the driver looks up (a worker
   with other library versions or another device writes cells under another
   fingerprint: that is one error line naming what differs, never a silent
   recompute);
4. assembles the report from the store alone (``cached_only``: it plays no
   episode and fails if a cell is missing).

The cells are the single-process evaluation's (same fingerprints, seeds and
batching per cell), so the report is the same, number for number; its
metadata says what a single-process run would (when it started, which cells
were reused from an earlier run), so the files are the same too.

Example:
    >>> import tempfile
    >>> from stable_baselines3 import PPO
    >>> from rlnoise.runs.backends import Backend
    >>> path = tempfile.mkdtemp() + "/ppo.zip"
    >>> PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu").save(path)
    >>> report = evaluate_on_backend(
    ...     [path], "CartPole-v1", {"gaussian": [0.1]}, Backend(), tempfile.mkdtemp(),
    ...     n_episodes=2, device="cpu", progress=False, log=lambda line: None)
    >>> report.returns.shape, report.metadata["resume"]["reused_cells"]
    ((1, 2, 2), 0)
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.loop import REFERENCE
from rlnoise.evaluation.models import resolve_device
from rlnoise.evaluation.plan import CellRecord, EvaluationPlan
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.runner import evaluate_cells, evaluate_robustness
from rlnoise.runs.backends import Backend, WorkUnit, run_units
from rlnoise.runs.errors import Interrupted

__all__ = ["CellsNotReused", "default_chunk", "evaluate_chunk", "evaluate_on_backend"]


class CellsNotReused(ValueError):
    """A worker wrote a cell the driver does not look up (other versions or device)."""


class _Scan(EvaluationPlan):
    """The whole evaluation planned and looked up in the store, to play elsewhere.

    Built as a ``cached_only`` plan (nothing is played here; a ``cuda``
    device only names the cells, so a driver without a GPU plans GPU work)
    that lists the missing cells instead of refusing them.
    """

    def _missing(self) -> None:
        return


def default_chunk(
    todo_per_run: Sequence[int], workers: int, n_episodes: int, batch_size: int
) -> int:
    """Conditions per unit that finish the cells soonest, by a count of batches.

    A unit plays its episodes ``batch_size`` at a time: with episodes of
    similar length it takes ``ceil(conditions * n_episodes / batch_size)``
    *waves* (the last one partly empty, its lanes idle), and ``workers``
    units run at once. The chunk chosen makes the fewest waves one after
    another, ``ceil(units / workers) * waves per unit``; among equals, the
    smallest (more units balance uneven cells better).

    Args:
        todo_per_run: Cells to play of each run (a unit holds one run's conditions).
        workers: Processes or CPUs that play units at once.
        n_episodes: Episodes per cell.
        batch_size: Episodes live at once in a unit.

    Example:
        >>> default_chunk([64], 2, 100, 256)  # 2 units of 13 waves (8 units: 4 x 4 waves)
        32
        >>> default_chunk([64, 64], 2, 100, 256)  # a run per worker: 25 waves (4 x 32: 2 x 13)
        64
        >>> default_chunk([6], 8, 3, 256)  # more workers than cells: one cell each
        1
    """
    largest = max(todo_per_run, default=0)
    if largest == 0:
        return 1

    def makespan(chunk: int) -> tuple[int, int]:
        units = sum(math.ceil(n / chunk) for n in todo_per_run)
        return math.ceil(units / workers) * math.ceil(chunk * n_episodes / batch_size), chunk

    return min(range(1, largest + 1), key=makespan)


def evaluate_chunk(
    model: str,
    algo: str,
    env: str | Callable[..., gym.Env],
    conditions: list[Condition],
    cells_dir: str,
    n_episodes: int,
    seed: int,
    device: str,
    reference: bool,
    batch_size: int,
    max_steps: int | None,
    num_threads: int | None,
) -> list[CellRecord]:
    """The unit of work: one saved model under a chunk of conditions, into ``cells_dir``.

    :func:`~rlnoise.evaluation.runner.evaluate_cells` with positional,
    picklable arguments (a spawned process or a Ray worker imports this
    function from its own rlnoise).
    """
    return evaluate_cells(
        model, env, conditions, cells_dir, n_episodes, seed, device, reference=reference,
        algo=algo, batch_size=batch_size, max_steps=max_steps, progress=False,
        num_threads=num_threads,
    )  # fmt: skip


def _parallelism(backend: Backend) -> int:
    return backend.workers or os.cpu_count() or 1


def _fingerprint_of(path: Path) -> Any:
    try:
        return json.loads(path.read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def _differences(worker: Any, driver: Any, prefix: str = "") -> list[str]:
    """``key: worker W, driver D`` for every leaf where two fingerprints differ."""
    if isinstance(worker, dict) and isinstance(driver, dict):
        out = []
        for key in sorted(set(worker) | set(driver)):
            out += _differences(worker.get(key), driver.get(key), f"{prefix}{key}.")
        return out
    if worker == driver:
        return []
    return [f"{prefix.rstrip('.')}: worker {worker!r}, driver {driver!r}"]


def _check_record(record: CellRecord, expected: Path, driver: dict[str, Any], what: str) -> None:
    """Raise unless the worker stored ``what`` in the file the driver looks up."""
    if not record.saved:
        raise CellsNotReused(
            f"{what} met non-finite observations and was not stored, so it cannot be "
            "assembled from the cells; evaluate with --workers 1 (in one process)"
        )
    if record.path.resolve() == expected.resolve():
        return
    worker = _fingerprint_of(record.path)
    differ = "; ".join(_differences(worker, json.loads(json.dumps(driver))))
    raise CellsNotReused(
        f"{what}: the worker stored it for other settings ({differ or 'unreadable file'}); "
        "every worker must run the driver's library versions and device"
    )


def evaluate_on_backend(
    model_or_models: Any,
    env: str | Callable[..., gym.Env],
    conditions: Any,
    backend: Backend,
    cells_dir: str | Path,
    *,
    n_episodes: int = 100,
    seed: int = 0,
    device: str = "auto",
    algo: str | None = None,
    batch_size: int = 256,
    max_steps: int | None = None,
    num_threads: int | None = 1,
    reference_score: float | None = None,
    conditions_per_unit: int | None = None,
    resume: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    unit_function: Callable[..., list[CellRecord]] = evaluate_chunk,
) -> RobustnessReport:
    """Evaluate saved models under every condition on ``backend``; the single-process report.

    Args:
        model_or_models: Saved models as :func:`~rlnoise.evaluation.runner.evaluate_robustness`
            takes them (paths, ``ModelRun`` loaded from paths, lists, ``{group: ...}``):
            workers load each from its file.
        env: As ``evaluate_robustness``; picklable (an id, or a module-level factory).
        conditions: As ``evaluate_robustness``.
        backend: Where the units run.
        cells_dir: The ``cells/`` store, on storage every worker sees.
        n_episodes: As ``evaluate_robustness``.
        seed: As ``evaluate_robustness``.
        device: As ``evaluate_robustness``; ``"auto"`` is resolved here, on
            the driver, so every worker plays on the same device type.
        algo: As ``evaluate_robustness``.
        batch_size: Episodes live at once in each unit.
        max_steps: As ``evaluate_robustness``.
        num_threads: Torch threads of each worker (1 suits small MLP policies).
        reference_score: As ``evaluate_robustness``.
        conditions_per_unit: Conditions of one run per unit (default:
            :func:`default_chunk`).
        resume: Reuse cells an earlier run left in ``cells_dir`` (``False``:
            it must hold none; the caller passes a fresh directory).
        progress: One progress bar over the units (stderr).
        log: One line per unit that ends, as :func:`~rlnoise.runs.backends.run_units`.
        unit_function: Plays one unit, with :func:`evaluate_chunk`'s signature.

    Returns:
        The report ``evaluate_robustness`` returns for the same arguments.

    Raises:
        ValueError: As ``evaluate_robustness``, before any unit runs; a model
            given in memory (workers load models from files).
        CellsNotReused: A worker stored a cell the driver does not look up.
        WorkFailed: Some units failed (each reported by name); the cells of
            the others are kept for a rerun.
        Interrupted: Ctrl-C; says how many cells are kept.
    """
    if conditions_per_unit is not None and (
        isinstance(conditions_per_unit, bool)
        or not isinstance(conditions_per_unit, int)
        or conditions_per_unit < 1
    ):
        raise ValueError(
            f"conditions_per_unit must be an integer >= 1, got {conditions_per_unit!r}"
        )
    target = str(resolve_device(device)) if device == "auto" else device
    cells = Path(cells_dir).resolve()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    settings: dict[str, Any] = {
        "n_episodes": n_episodes, "seed": seed, "algo": algo, "batch_size": batch_size,
        "max_steps": max_steps, "make_kwargs": None, "num_threads": num_threads,
        "reference_score": reference_score,
    }  # fmt: skip
    plan = _Scan(
        model_or_models, env, conditions, device=target, resume_dir=cells, cached_only=True,
        **settings,
    )  # fmt: skip
    if backend.kind == "ray" and plan.device.type == "cuda" and backend.gpus_per_unit == 0:
        backend = dataclasses.replace(backend, gpus_per_unit=1.0)  # GPU tasks
    for run in plan.runs:
        if run.source is None:
            raise ValueError(
                f"run {run.name!r} is a model in memory: an evaluation on workers needs saved "
                "models (paths), which every worker loads"
            )
    assert plan.store is not None
    reused = plan.store.reused
    if not resume and reused:
        raise ValueError(f"cells_dir {str(cells)!r} holds finished cells and resume is off")
    problems = [*plan.store.problems, *plan.lane.problems]
    todo = [cell for cell in plan.todo if cell != REFERENCE]
    per_run = [sum(r == run for r, _ in todo) for run in range(len(plan.runs))]
    chunk = conditions_per_unit or default_chunk(
        per_run, _parallelism(backend), n_episodes, batch_size
    )
    units, expected = _units(plan, env, todo, chunk, cells, target, unit_function)
    if units:
        cells.mkdir(parents=True, exist_ok=True)
    try:
        results = run_units(
            units,
            backend,
            desc="evaluating",
            unit="tasks",
            progress=progress,
            log=log,
            describe=_describe,
        )
    except KeyboardInterrupt as interrupt:
        paths = [plan.store.path(fp) for row in plan.fingerprints for fp in row]
        kept = sum(path.exists() for path in paths)
        raise Interrupted(kept, len(paths), "cells kept") from interrupt
    for unit in units:
        for record, (path, fingerprint, what) in zip(
            results[unit.name], expected[unit.name], strict=True
        ):
            _check_record(record, path, fingerprint, what)
    report = evaluate_robustness(
        model_or_models, env, plan.conditions, device=target, resume_dir=cells,
        progress=False, cached_only=True, **settings,
    )  # fmt: skip
    resume_info = report.metadata["resume"]
    report.metadata["started"] = started
    if resume:  # what the same evaluation in one process would have said
        resume_info.update(
            directory=str(Path(cells_dir)),
            reused_cells=reused,
            recomputed_files=problems,
            unsaved_cells=[],
        )
    else:
        report.metadata["resume"] = None
    return report


def _units(
    plan: EvaluationPlan,
    env: Any,
    todo: Sequence[tuple[int, int]],
    chunk: int,
    cells: Path,
    device: str,
    function: Callable[..., list[CellRecord]],
) -> tuple[list[WorkUnit], dict[str, list[tuple[Path, dict[str, Any], str]]]]:
    """The units of work, and per unit the ``(file, fingerprint, description)`` of each cell."""
    assert plan.store is not None
    by_run: dict[int, list[int]] = {}
    for r, c in todo:
        by_run.setdefault(r, []).append(c)
    if plan.lane.to_play and not by_run:  # the reference alone: with one (stored) cell
        by_run[0] = [0]
    units: list[WorkUnit] = []
    expected: dict[str, list[tuple[Path, dict[str, Any], str]]] = {}
    n = len(plan.conditions)
    first = True
    for r, indices in by_run.items():
        run = plan.runs[r]
        assert run.source is not None
        model = str(Path(run.source).resolve())  # a Ray worker runs in another directory
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            reference = first and plan.lane.to_play
            first = False
            span = f"{part[0] + 1}" if len(part) == 1 else f"{part[0] + 1}-{part[-1] + 1}"
            name = f"{run.group}/{run.name} conditions {span} of {n}"
            if any(b - a != 1 for a, b in itertools.pairwise(part)):
                name = f"{run.group}/{run.name} conditions {','.join(str(c + 1) for c in part)}"
            args = (
                model, run.algo, env, [plan.conditions[c] for c in part],
                str(cells), plan.n_episodes, plan.seed, device, reference, plan.batch_size,
                plan.max_steps, plan.num_threads,
            )  # fmt: skip
            units.append(WorkUnit(name, function, args, needs=(str(cells), model)))
            expected[name] = [
                (
                    plan.store.path(plan.fingerprints[r][c]),
                    plan.fingerprints[r][c],
                    f"run {run.name!r} under {plan.conditions[c].name!r}",
                )
                for c in part
            ]
            if reference:
                lane = plan.lane
                assert lane.store is not None
                path = lane.store.path(lane.fingerprint)
                expected[name].append((path, lane.fingerprint, "the uniformly random reference"))
    return units, expected


def _describe(records: list[CellRecord]) -> str:
    played = sum(not r.reused for r in records)
    return f"{played} cell(s) played, {len(records) - played} reused"
