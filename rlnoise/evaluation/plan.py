"""One evaluation, checked and planned, then played: the machinery behind the runner's functions.

:class:`EvaluationPlan` takes the arguments of
:func:`~rlnoise.evaluation.runner.evaluate_robustness`, checks everything
before any episode runs (:mod:`rlnoise.evaluation.setup`), finds the cells a
previous run left in the ``cells/`` store, plays the rest in one
:class:`~rlnoise.evaluation.loop.BatchedLoop` (saving each cell as it
finishes), and hands out what was done: a report, or the list of cells
written (:class:`CellRecord`, the unit of work's answer).
"""

from __future__ import annotations

import datetime
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.core.checks import check_int, show
from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.envs import EnvMaker
from rlnoise.evaluation.loop import REFERENCE, BatchedLoop
from rlnoise.evaluation.models import ModelRun, resolve_device
from rlnoise.evaluation.reference import REFERENCE_CONDITION, Reference
from rlnoise.evaluation.reference_lane import ReferenceLane
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.setup import (
    collect_conditions,
    collect_runs,
    fingerprint,
    make_adapter,
    match_image_layout,
    validate,
    versions,
)
from rlnoise.evaluation.storage import ResultStore
from rlnoise.runs.errors import Interrupted

__all__ = ["CellRecord", "EvaluationPlan"]


@dataclass(frozen=True)
class CellRecord:
    """A (run, condition) cell of the ``cells/`` store, as a unit of work left it.

    Attributes:
        run: The run's name.
        group: The run's model group.
        condition: The condition's name (``"reference:uniform_random"`` for the
            uniformly random reference, whose run and group are ``None``).
        path: The cell's file (named by its fingerprint).
        reused: Found intact in the store rather than played now.
        saved: The file holds the cell. ``False`` for a cell that met
            non-finite observations or returns: never cached, played again
            next time.
    """

    run: str | None
    group: str | None
    condition: str
    path: Path
    reused: bool
    saved: bool


def _cuda_named(device: Any) -> bool:
    return isinstance(device, str) and device.startswith("cuda")


class EvaluationPlan:
    """An evaluation's runs, conditions, envs and cells, checked before any episode runs.

    Arguments as :func:`~rlnoise.evaluation.runner.evaluate_robustness`, plus:

    Args:
        play_reference: Play the uniformly random reference when it is
            neither given nor in the store.
        cached_only: Play nothing: every cell (and the reference, unless
            given) must be in ``resume_dir``. The device then only names the
            cells' fingerprints, so ``"cuda"`` works on a machine without one.

    Raises:
        ValueError: As ``evaluate_robustness``; with ``cached_only``, cells
            missing from the store (how many, and the first).
    """

    def __init__(
        self,
        model_or_models: Any,
        env: str | Callable[..., gym.Env],
        conditions: Any,
        *,
        n_episodes: int,
        seed: int,
        device: str | torch.device,
        algo: str | None,
        batch_size: int,
        max_steps: int | None,
        resume_dir: str | Path | None,
        make_kwargs: dict[str, Any] | None,
        num_threads: int | None,
        reference_score: float | None,
        play_reference: bool = True,
        cached_only: bool = False,
    ):
        self.n_episodes = n_episodes = check_int("n_episodes", n_episodes, low=1)
        self.seed = seed = check_int("seed", seed, low=0)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.max_steps = None if max_steps is None else check_int("max_steps", max_steps, low=1)
        if num_threads is not None:
            num_threads = check_int("num_threads", num_threads, low=1)
        self.num_threads = num_threads
        given = None if reference_score is None else Reference.given(reference_score)
        if make_kwargs is not None and not isinstance(make_kwargs, Mapping):
            raise ValueError(
                f"make_kwargs must be a mapping of gym.make arguments, got {show(make_kwargs)}"
            )
        if resume_dir is not None and Path(resume_dir).exists() and not Path(resume_dir).is_dir():
            raise ValueError(f"resume_dir {str(resume_dir)!r} is a file, not a directory")
        if cached_only and resume_dir is None:
            raise ValueError("cached_only needs the resume_dir that holds the cells")
        if cached_only and _cuda_named(device) and not torch.cuda.is_available():
            self.device = torch.device(str(device))  # names the cells; nothing runs here
            placed = torch.device("cpu")
        else:
            self.device = placed = resolve_device(device)
        self.maker = maker = EnvMaker(env, make_kwargs)
        self.conditions = collect_conditions(conditions, env if isinstance(env, str) else None)
        self.runs = collect_runs(model_or_models, algo, placed)
        self.adapters = [make_adapter(run, placed) for run in self.runs]
        match_image_layout(maker, self.adapters)
        self.pools = validate(maker, self.runs, self.adapters, self.conditions, n_episodes, seed)
        self.lane = ReferenceLane(
            given, self.adapters[0], maker, self.pools, n_episodes=n_episodes, seed=seed,
            max_steps=self.max_steps, resume_dir=resume_dir, versions=versions(),
        )  # fmt: skip
        self.fingerprints = [
            [
                fingerprint(run, maker, condition, seed, n_episodes, self.max_steps, self.device)
                for condition in self.conditions
            ]
            for run in self.runs
        ]
        self.store = None if resume_dir is None else ResultStore(resume_dir)
        shape = (len(self.runs), len(self.conditions), n_episodes)
        self.returns = np.zeros(shape, dtype=np.float64)
        self.lengths = np.zeros(shape, dtype=np.int64)
        # Cells with non-finite observations are never cached, so a reused cell had none.
        self.nonfinite = np.zeros(shape[:2], dtype=np.int64)
        self.reused = np.zeros(shape[:2], dtype=bool)
        self.todo: list[tuple[int, int]] = []
        for r in range(len(self.runs)):
            for c in range(len(self.conditions)):
                cached = None if self.store is None else self.store.load(self.fingerprints[r][c])
                if cached is None:
                    self.todo.append((r, c))
                else:
                    self.returns[r, c], self.lengths[r, c] = cached
                    self.reused[r, c] = True
        self.reference_reused = not self.lane.to_play
        if self.lane.to_play and play_reference:
            self.todo.append(REFERENCE)  # last: the models' cells finish (and are saved) first
        if cached_only and (self.todo or self.lane.to_play):
            self._missing()
        for problem in ([] if self.store is None else self.store.problems) + self.lane.problems:
            print(f"rlnoise evaluate: {problem}", file=sys.stderr, flush=True)

    def _missing(self) -> None:
        names = [
            "the uniformly random reference"
            if cell == REFERENCE
            else f"run {self.runs[cell[0]].name!r} under {self.conditions[cell[1]].name!r}"
            for cell in self.todo
        ]
        if self.lane.to_play and REFERENCE not in self.todo:
            names.append("the uniformly random reference")
        directory = None if self.store is None else str(self.store.directory)
        raise ValueError(
            f"{len(names)} cell(s) are not in resume_dir {directory!r} (first: {names[0]}); "
            "evaluate them first (rlnoise.evaluation.evaluate_cells)"
        )

    # -- playing -------------------------------------------------------------------
    def play(self, progress: bool) -> None:
        """Play every cell to do, saving each as it finishes; warn about non-finite observations.

        Raises:
            Interrupted: Ctrl-C (how many cells are kept for a rerun).
        """
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        loop = BatchedLoop(
            self.maker, self.pools, self.adapters, self.conditions, self.n_episodes, self.seed,
            self.batch_size, self.max_steps, self.lane.action_space,
        )  # fmt: skip
        threads = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        try:
            loop.run(self.todo, self._finished, progress)
        except KeyboardInterrupt as interrupt:  # say what a rerun will reuse
            store = self.store
            kept = 0 if store is None else store.reused + store.saved
            total = len(self.runs) * len(self.conditions)
            raise Interrupted(kept, total, "cells kept") from interrupt
        finally:
            torch.set_num_threads(threads)
        _warn_nonfinite(self.nonfinite, self.runs, self.conditions)

    def _finished(self, cell: Cell) -> None:
        if (cell.run, cell.index) == REFERENCE:
            self.lane.finished(cell)
            return
        r, c = cell.run, cell.index
        self.returns[r, c], self.lengths[r, c] = cell.returns, cell.lengths
        self.nonfinite[r, c] = cell.nonfinite_observations
        store, key = self.store, self.fingerprints[r][c]
        if store is not None and cell.nonfinite_observations > 0:
            store.unsaved.append(
                f"{store.path(key)}: not saved, it met "
                f"{cell.nonfinite_observations} non-finite observations (recomputed next time, "
                "so the report counts them again)"
            )
        elif store is not None and store.save(key, cell.returns, cell.lengths) is None:
            print(f"rlnoise evaluate: {store.unsaved[-1]}", file=sys.stderr, flush=True)

    # -- results -------------------------------------------------------------------
    def report(self) -> RobustnessReport:
        """The report of the played (or reused) cells."""
        assert self.lane.reference is not None
        store = self.store
        metadata = {
            "env": self.maker.describe(),
            "seed": self.seed,
            "n_episodes": self.n_episodes,
            "max_steps": self.max_steps,
            "device": str(self.device),
            "batch_size": self.batch_size,
            "reset_seeds": f"episode k resets with seed + k = {self.seed} + k",
            "started": getattr(self, "started", None),
            "versions": versions(),
            "resume": None
            if store is None
            else {
                "directory": str(store.directory),
                "reused_cells": store.reused,
                "recomputed_files": list(store.problems),
                "unsaved_cells": list(store.unsaved),
            },
        }
        return RobustnessReport(
            returns=self.returns,
            lengths=self.lengths,
            conditions=tuple(self.conditions),
            runs=tuple(run.describe() for run in self.runs),
            metadata=metadata,
            reference=self.lane.reference,
            nonfinite_observations=self.nonfinite,
        )

    def records(self) -> list[CellRecord]:
        """Every cell of the plan as the store now holds it (the reference last, if stored)."""
        store = self.store
        assert store is not None
        out = []
        for r, run in enumerate(self.runs):
            for c, condition in enumerate(self.conditions):
                path = store.path(self.fingerprints[r][c])
                reused = bool(self.reused[r, c])
                saved = reused or (self.nonfinite[r, c] == 0 and path.exists())
                out.append(CellRecord(run.name, run.group, condition.name, path, reused, saved))
        lane = self.lane
        measured = lane.reference is not None and lane.reference.kind == "uniform_random"
        if lane.store is not None and measured:
            path = lane.store.path(lane.fingerprint)
            name = REFERENCE_CONDITION.name
            out.append(CellRecord(None, None, name, path, self.reference_reused, path.exists()))
        return out


def _warn_nonfinite(
    counts: np.ndarray, runs: Sequence[ModelRun], conditions: Sequence[Condition]
) -> None:
    """One ``RuntimeWarning`` when any env observation held a NaN or an infinity."""
    cells = np.argwhere(counts > 0)
    if cells.size == 0:
        return
    r, c = cells[0]
    warnings.warn(
        f"the env returned {int(counts.sum())} observations with NaN or infinite values, in "
        f"{len(cells)} of {counts.size} (run, condition) cells (first: run {runs[r].name!r}, "
        f"{conditions[c].name!r}); the policy acted on them as they were. The report counts "
        "them per cell (nonfinite_observations)",
        RuntimeWarning,
        stacklevel=4,
    )
