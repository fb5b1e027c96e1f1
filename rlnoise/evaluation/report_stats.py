"""rliable's full statistics in a robustness report: optimality gap, P(X > Y), profiles.

Pure functions of a report's arrays, each the very call a user would make
to rliable on the same scores (so each agrees with rliable to the bit, see
``tests/evaluation/test_report_stats.py``):

- :func:`with_optimality_gaps`: per (model group, condition), the optimality
  gap of the *normalised* episode scores and its CI (rliable's
  ``aggregate_optimality_gap`` with ``gamma=1``, the group's clean IQM): how
  far, on average, an episode falls short of clean, a shortfall that a
  better episode elsewhere cannot hide.
- :func:`improvement_rows`: per condition and model group X, the probability
  of improvement P(X > Y) over the first group Y with its CI (rliable's
  ``StratifiedIndependentBootstrap``: the groups' runs are different seeds).
- :func:`pooled_rows`: per model group, the IQM and the optimality gap of
  the normalised scores pooled over every perturbed condition (tasks =
  (condition, episode) pairs), rliable's aggregate across tasks.
- :func:`profile_data`: performance profiles (score distributions) of each
  group's clean and pooled perturbed scores, with CI bands.

A score is normalised as the report's ``iqm_normalised`` is:
``(R - R_ref) / (IQM(clean) - R_ref)`` with the group's clean IQM and the
reference score as fixed numbers (see :class:`Scale`), so the IQM of a
condition's normalised scores is its ``iqm_normalised``. Where that score is
undefined, the fields are ``None`` with the reason.

Bootstraps resample runs within episodes (rliable's ``StratifiedBootstrap``),
and episodes too with ``task_bootstrap`` (rliable's ``task_bootstrap=True``),
which is also used for a group with a single run (there is no run to
redraw). Each call is seeded with :func:`stats_seed`, a 32-bit seed, so
``np.random.seed(stats_seed(...))`` before the same rliable call gives the
same numbers.

Example:
    >>> from rlnoise.evaluation.reference import Reference
    >>> scale = Scale.of(np.array([[10.0, 12.0, 14.0]]), Reference.given(0.0))
    >>> scale.normalise(np.array([[6.0, 12.0]])).tolist()
    [[0.5, 1.0]]
    >>> fields = optimality_gap_fields(np.array([[6.0, 12.0]]), scale, n_resamples=50, seed=0)
    >>> fields["optimality_gap"]  # 1 - mean(min(0.5, 1), min(1.0, 1))
    0.25
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.core.random import derive_seed
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.intervals import interval_estimates, probability_of_improvement_ci
from rlnoise.evaluation.profiles import performance_profiles, tau_grid
from rlnoise.evaluation.reference import Reference
from rlnoise.runs.files import atomic_path

__all__ = [
    "Scale",
    "improvement_rows",
    "optimality_gap_fields",
    "pooled_rows",
    "profile_data",
    "save_improvement_csv",
    "stats_seed",
    "with_optimality_gaps",
]


def stats_seed(seed: int, *keys: Any) -> int:
    """The 32-bit bootstrap seed of one statistic (``np.random.seed`` takes it as is).

    Example:
        >>> 0 <= stats_seed(0, "pooled", "ppo") < 2**32
        True
    """
    return derive_seed(seed, "rliable", *keys) % 2**32


@dataclass(frozen=True)
class Scale:
    """How a model group's returns become normalised scores (1 = its clean IQM, 0 = R_ref).

    Attributes:
        clean: The group's clean IQM (``None``: no clean condition).
        reference: The reference score ``R_ref`` (``None``: unavailable).
        note: Why the scores cannot be normalised, else ``None``.
    """

    clean: float | None
    reference: float | None
    note: str | None

    @classmethod
    def of(cls, clean: np.ndarray | None, reference: Reference) -> Scale:
        """The scale of a group with clean scores ``clean`` ``(n_runs, n_episodes)``."""
        if clean is None:
            return cls(None, None, "the grid has no clean condition")
        value = float(st.iqm(clean))
        if reference.score is None:
            return cls(value, None, reference.note or "no reference score")
        score = float(reference.score)
        if not value > score:
            return cls(value, score, f"the clean IQM {value:.4g} is not above the reference "
                       f"{score:.4g}, so the normalised score is undefined")  # fmt: skip
        return cls(value, score, None)

    def normalise(self, returns: np.ndarray) -> np.ndarray | None:
        """``(R - R_ref) / (clean - R_ref)`` elementwise; ``None`` where undefined."""
        if self.note is not None or self.clean is None or self.reference is None:
            return None
        return (np.asarray(returns, dtype=np.float64) - self.reference) / (
            self.clean - self.reference
        )


#: Scores materialised at once by one bootstrap chunk (about 16 MB of float64 each for the
#: resampled scores and their indices): pooled grids hold runs x conditions x episodes.
CHUNK_SCORES = 2**21


def _chunk(*arrays: np.ndarray) -> int:
    """Resamples per chunk so that the largest array's resamples stay near ``CHUNK_SCORES``."""
    return max(1, min(1000, CHUNK_SCORES // max(a.size for a in arrays)))


def _task_bootstrap(task_bootstrap: bool, n_runs: int) -> bool:
    # With one run, rliable's run resampling redraws nothing: episodes are all there is.
    return bool(task_bootstrap) or n_runs == 1


def optimality_gap_fields(
    scores: np.ndarray,
    scale: Scale,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    task_bootstrap: bool = False,
) -> dict[str, Any]:
    """``optimality_gap`` and ``optimality_gap_ci`` of one condition's normalised scores.

    rliable's ``get_interval_estimates({name: normalised}, aggregate_optimality_gap)``
    (``gamma`` 1: the clean IQM). ``None`` where the scores cannot be normalised.

    Args:
        scores: Returns ``(n_runs, n_episodes)``.
        scale: The group's :class:`Scale`.
        n_resamples: Bootstrap resamples.
        confidence: CI coverage.
        seed: Bootstrap seed.
        task_bootstrap: Redraw the episodes too (always, with one run).
    """
    normalised = scale.normalise(scores)
    if normalised is None:
        return {"optimality_gap": None, "optimality_gap_ci": None}
    points, intervals = interval_estimates(
        {"scores": normalised},
        st.optimality_gap,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        task_bootstrap=_task_bootstrap(task_bootstrap, normalised.shape[0]),
    )
    return {
        "optimality_gap": float(points["scores"]),
        "optimality_gap_ci": [float(v) for v in intervals["scores"]],
    }


def _runs_of(run_groups: Sequence[str], group: str) -> list[int]:
    return [i for i, name in enumerate(run_groups) if name == group]


def _clean(conditions: Sequence[Condition]) -> int | None:
    return next((i for i, c in enumerate(conditions) if c.is_clean), None)


def group_scales(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
) -> dict[str, Scale]:
    """The :class:`Scale` of each model group, in order of first appearance."""
    clean = _clean(conditions)
    return {
        group: Scale.of(
            None if clean is None else returns[_runs_of(run_groups, group), clean], reference
        )
        for group in dict.fromkeys(run_groups)
    }


def with_optimality_gaps(
    rows: list[dict[str, Any]],
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    task_bootstrap: bool = False,
) -> list[dict[str, Any]]:
    """Add ``optimality_gap(_ci)`` to summary rows (one per group and condition); returns them.

    One seed per group (:func:`stats_seed` of ``"optimality_gap"`` and the
    group): the conditions of a group, all of one shape, are resampled alike.
    """
    scales = group_scales(returns, conditions, run_groups, reference)
    index = {c.name: i for i, c in enumerate(conditions)}
    for row in rows:
        group = row["group"]
        scores = returns[_runs_of(run_groups, group), index[row["condition"]]]
        row.update(
            optimality_gap_fields(
                scores,
                scales[group],
                n_resamples=n_resamples,
                confidence=confidence,
                seed=stats_seed(seed, "optimality_gap", group),
                task_bootstrap=task_bootstrap,
            )
        )
    return rows


def improvement_rows(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> list[dict[str, Any]]:
    """P(X > Y) with its CI, per condition, of each model group X over the first group Y.

    The first group (the first ``--model``/``--runs`` given) is the baseline:
    ``k`` groups give ``k - 1`` comparisons per condition, not ``k (k - 1) / 2``
    (P(Y > X) is 1 - P(X > Y)). Keys: ``condition, group_x, group_y,
    probability_of_improvement, probability_of_improvement_ci, note``.
    Episodes are the tasks; the CI is rliable's independent bootstrap of each
    group's runs (seed :func:`stats_seed` of ``"improvement"``, X and Y), so it
    is ``None`` when both groups have a single run (nothing to redraw; ``note``
    says so). Empty with fewer than two groups.
    """
    baseline, *others = list(dict.fromkeys(run_groups))
    rows_y = _runs_of(run_groups, baseline)
    out = []
    for x in others:
        rows_x = _runs_of(run_groups, x)
        for c, condition in enumerate(conditions):
            scores_x, scores_y = returns[rows_x, c], returns[rows_y, c]
            ci, note = None, None
            if len(rows_x) == 1 and len(rows_y) == 1:
                note = "one run per group: rliable's bootstrap has no run to redraw"
            else:
                ci = list(
                    probability_of_improvement_ci(
                        scores_x, scores_y, confidence=confidence, n_resamples=n_resamples,
                        seed=stats_seed(seed, "improvement", x, baseline),
                    )
                )  # fmt: skip
            probability = st.probability_of_improvement(scores_x, scores_y)
            out.append(
                {
                    "condition": condition.name,
                    "group_x": x,
                    "group_y": baseline,
                    "probability_of_improvement": probability,
                    "probability_of_improvement_ci": ci,
                    "note": note,
                }
            )
    return out


def _perturbed(conditions: Sequence[Condition]) -> list[int]:
    return [i for i, c in enumerate(conditions) if not c.is_clean]


def _pooled(returns: np.ndarray, runs: list[int], columns: list[int]) -> np.ndarray:
    """``(n_runs, n_columns * n_episodes)``: condition after condition, episodes within."""
    return returns[runs][:, columns, :].reshape(len(runs), -1)


def _iqm_and_gap(scores: np.ndarray) -> np.ndarray:
    return np.stack([st.iqm(scores), st.optimality_gap(scores)], axis=-1)


def pooled_rows(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    task_bootstrap: bool = False,
) -> list[dict[str, Any]]:
    """Per model group: normalised IQM and optimality gap, all perturbed conditions pooled.

    Keys: ``group, n_conditions, n_runs, n_tasks, task_bootstrap,
    iqm_normalised, iqm_normalised_ci, optimality_gap, optimality_gap_ci,
    note``. The tasks are the (condition, episode) pairs; rliable's
    ``get_interval_estimates({group: scores}, [IQM, optimality gap])`` with
    seed :func:`stats_seed` of ``"pooled"`` and the group.
    """
    scales = group_scales(returns, conditions, run_groups, reference)
    columns = _perturbed(conditions)
    out = []
    for group, scale in scales.items():
        runs = _runs_of(run_groups, group)
        tasks = _task_bootstrap(task_bootstrap, len(runs))
        row: dict[str, Any] = {
            "group": group,
            "n_conditions": len(columns),
            "n_runs": len(runs),
            "n_tasks": len(columns) * returns.shape[2],
            "task_bootstrap": tasks,
            "iqm_normalised": None,
            "iqm_normalised_ci": None,
            "optimality_gap": None,
            "optimality_gap_ci": None,
            "note": scale.note if columns else "the grid has no perturbed condition",
        }
        normalised = scale.normalise(_pooled(returns, runs, columns)) if columns else None
        if normalised is not None:
            points, intervals = interval_estimates(
                {group: normalised}, _iqm_and_gap, n_resamples=n_resamples,
                confidence=confidence, seed=stats_seed(seed, "pooled", group),
                task_bootstrap=tasks, chunk=_chunk(normalised),
            )  # fmt: skip
            (iqm_value, gap), band = points[group].tolist(), intervals[group]
            row.update(
                iqm_normalised=iqm_value,
                iqm_normalised_ci=band[:, 0].tolist(),
                optimality_gap=gap,
                optimality_gap_ci=band[:, 1].tolist(),
            )
        out.append(row)
    return out


def profile_scores(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
) -> tuple[str, dict[str, np.ndarray]]:
    """The score dict of the performance profiles and its scale (``normalised`` or ``return``).

    Per model group, ``"GROUP: clean"`` (its clean scores) and ``"GROUP:
    perturbed"`` (every perturbed condition pooled, as :func:`pooled_rows`).
    Normalised when every group's scores can be, else raw returns (one axis
    for all lines).
    """
    scales = group_scales(returns, conditions, run_groups, reference)
    normalised = all(scale.note is None for scale in scales.values())
    clean, columns = _clean(conditions), _perturbed(conditions)
    out: dict[str, np.ndarray] = {}
    for group, scale in scales.items():
        runs = _runs_of(run_groups, group)
        parts = {"clean": [] if clean is None else [clean], "perturbed": columns}
        for name, picked in parts.items():
            if picked:
                values = _pooled(returns, runs, picked)
                scaled = scale.normalise(values) if normalised else None
                out[f"{group}: {name}"] = values if scaled is None else scaled
    return ("normalised" if normalised else "return"), out


def profile_data(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    task_bootstrap: bool = False,
    n_points: int = 101,
) -> dict[str, Any]:
    """Performance profiles with CI bands (rliable's ``create_performance_profile``).

    Returns:
        ``{"scale", "task_bootstrap", "taus", "profiles", "bands"}``: the
        scores' scale (see :func:`profile_scores`), whether episodes were
        redrawn too (also when any group has a single run), ``n_points``
        thresholds over the range of all scores, and per line its profile
        ``(n_taus,)`` and band ``[[lower...], [upper...]]``. Seed:
        :func:`stats_seed` of ``"profiles"`` (one stream, lines in order).
    """
    scale, scores = profile_scores(returns, conditions, run_groups, reference)
    n_runs = min(len(_runs_of(run_groups, g)) for g in dict.fromkeys(run_groups))
    tasks = _task_bootstrap(task_bootstrap, n_runs)
    taus = tau_grid(scores, n_points=n_points)
    profiles, bands = performance_profiles(
        scores, taus, task_bootstrap=tasks, n_resamples=n_resamples, confidence=confidence,
        seed=stats_seed(seed, "profiles"), chunk=_chunk(*scores.values()),
    )  # fmt: skip
    return {
        "scale": scale,
        "task_bootstrap": tasks,
        "taus": taus.tolist(),
        "profiles": {k: v.tolist() for k, v in profiles.items()},
        "bands": {k: v.tolist() for k, v in bands.items()},
    }


def save_improvement_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """``probability_of_improvement.csv``: one row per condition and pair of model groups."""
    path = Path(path)
    name = "probability_of_improvement"
    columns = ["condition", "group_x", "group_y", name, f"{name}_ci_low", f"{name}_ci_high", "note"]
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            low, high = row["probability_of_improvement_ci"] or ("", "")
            writer.writerow(
                {**row, "probability_of_improvement_ci_low": low,
                 "probability_of_improvement_ci_high": high}
            )  # fmt: skip
    return path
