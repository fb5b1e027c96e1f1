"""Aggregate statistics of evaluation returns, following rliable (Agarwal et al., 2021).

Pure numpy functions. ``scores`` is an array of shape ``(n_runs, n_tasks)``,
as in rliable; in a robustness report one condition's returns are
``(n_runs, n_episodes)``, episodes taking the place of tasks (episode ``k``
starts from the same state for every run, so it is a natural stratum). Every
aggregate also accepts extra leading axes ``(..., n_runs, n_tasks)`` and then
returns shape ``(...)``, which is how the bootstrap evaluates 10,000
resamples in a few vectorised calls.

Example:
    >>> x = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 100.0]])
    >>> float(mean(x)), float(median(x)), float(iqm(x))
    (16.0, 4.5, 4.5)
    >>> low, high = bootstrap_ci(x, mean, n_resamples=1000, seed=0)
    >>> bool(low <= 16.0 <= high)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# The bootstrap lives in its own module; its names stay importable from here.
from rlnoise.evaluation.bootstrap import (
    as_scores,
    bootstrap_ci,
    percentile_ci,
    stratified_bootstrap,
)

__all__ = [
    "AGGREGATES",
    "bootstrap_ci",
    "iqm",
    "mean",
    "median",
    "normalised_score",
    "optimality_gap",
    "percentile_ci",
    "probability_of_improvement",
    "robustness_auc",
    "std",
    "stratified_bootstrap",
    "worst_case",
]

Aggregate = Callable[[np.ndarray], Any]

# Each aggregate reduces in the order rliable's does, so the two agree to the last bit or
# two (and the bootstrap intervals, drawn from the same resamples, to rounding).


def _flat(scores: Any) -> np.ndarray:
    array = as_scores(scores)
    return array.reshape(*array.shape[:-2], -1)


def mean(scores: Any) -> Any:
    """Mean of all scores: ``(..., n_runs, n_tasks) -> (...)`` (rliable ``aggregate_mean``).

    The mean over tasks of the mean over runs, as rliable reduces.
    """
    return as_scores(scores).mean(axis=-2).mean(axis=-1)


def std(scores: Any) -> Any:
    """Sample standard deviation (ddof=1) of all scores: ``(..., n_runs, n_tasks) -> (...)``.

    Zero when there is a single score.
    """
    flat = _flat(scores)
    if flat.shape[-1] < 2:
        return np.zeros(flat.shape[:-1])
    return flat.std(axis=-1, ddof=1)


def median(scores: Any) -> Any:
    """Median over tasks of the mean over runs: ``(..., n_runs, n_tasks) -> (...)``.

    rliable's ``aggregate_median``; with one run, the median of the episode returns.
    """
    return np.median(as_scores(scores).mean(axis=-2), axis=-1)


def iqm(scores: Any) -> Any:
    """Interquartile mean of all scores: ``(..., n_runs, n_tasks) -> (...)``.

    The 25% trimmed mean: trims ``floor(0.25 n)`` scores from each end, as ``scipy.stats.trim_mean``
    (rliable's ``aggregate_iqm``).
    """
    flat = _flat(scores)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    # A partition puts exactly the middle order statistics between the two pivots (and in
    # the order scipy's trim_mean sums them).
    middle = np.partition(flat, (cut, n - cut - 1), axis=-1)[..., cut : n - cut]
    return middle.mean(axis=-1)


def optimality_gap(scores: Any, gamma: float = 1.0) -> Any:
    """How far the scores fall short of ``gamma``: ``(..., n_runs, n_tasks) -> (...)``.

    ``gamma - mean(min(scores, gamma))`` over all runs and tasks (rliable's
    ``aggregate_optimality_gap``): scores above ``gamma`` count as ``gamma``,
    so doing better than the target on one task cannot hide a shortfall on
    another. Lower is better; 0 means every score reached ``gamma``. For
    normalised scores (1 = clean) the default target is the clean score.

    Example:
        >>> float(optimality_gap([[0.5, 1.4], [1.0, 0.1]]))  # (0.5 + 0 + 0 + 0.9) / 4
        0.35
        >>> float(optimality_gap([[480.0, 500.0]], gamma=500.0))
        10.0
    """
    gamma = float(gamma)
    if not np.isfinite(gamma):
        raise ValueError(f"gamma must be finite, got {gamma}")
    return gamma - np.minimum(_flat(scores), gamma).mean(axis=-1)


AGGREGATES: dict[str, Aggregate] = {"mean": mean, "median": median, "iqm": iqm, "std": std}


def probability_of_improvement(scores_x: Any, scores_y: Any) -> Any:
    """P(X > Y) averaged over tasks, ties counting one half: ``-> (...)``.

    Args:
        scores_x: ``(..., n_runs_x, n_tasks)`` scores of model group X.
        scores_y: ``(..., n_runs_y, n_tasks)`` scores of model group Y (same
            tasks; leading axes broadcast, e.g. bootstrap resamples).

    Returns:
        The mean over tasks of the Mann-Whitney U statistic of X over Y divided
        by ``n_runs_x * n_runs_y`` (rliable's ``probability_of_improvement``):
        a float for 2-D inputs, an array of the leading shape otherwise. Its
        bootstrap CI: :func:`~rlnoise.evaluation.intervals.probability_of_improvement_ci`.

    Example:
        >>> float(probability_of_improvement([[3.0, 1.0], [2.0, 1.0]], [[1.0, 1.0]]))
        0.75
    """
    x, y = as_scores(scores_x, "scores_x"), as_scores(scores_y, "scores_y")
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"scores_x and scores_y must be (..., n_runs, n_tasks) with the same tasks, "
            f"got {x.shape} and {y.shape}"
        )
    # One run of X at a time: memory (..., n_runs_y, n_tasks), not (..., n_x, n_y, n_tasks).
    shape = (*np.broadcast_shapes(x.shape[:-2], y.shape[:-2]), x.shape[-1])
    greater, ties = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    for run in range(x.shape[-2]):
        x_run = x[..., run : run + 1, :]
        greater += (x_run > y).sum(axis=-2)
        ties += (x_run == y).sum(axis=-2)
    # U = #(x > y) + #(x == y) / 2 is exact in float64, so each task's probability is the
    # one float scipy's rank-sum U / (n_x n_y) gives.
    u = greater + 0.5 * ties
    result = (u / (x.shape[-2] * y.shape[-2])).mean(axis=-1)
    return float(result) if result.ndim == 0 else result


def normalised_score(value: Any, clean: Any, reference: Any) -> Any:
    """``(value - reference) / (clean - reference)``; NaN where ``clean <= reference``.

    1 is the clean score, 0 the reference (e.g. a uniformly random policy on
    the same episodes). Unlike a ratio of raw returns it reads the same way
    for negative or offset returns: for ``clean > reference`` a value below
    ``clean`` always scores below 1. When the clean score is not above the
    reference the scale has no meaning (it would flip or explode), so the
    result is NaN.

    Example:
        >>> float(normalised_score(-1707.0, clean=-1662.0, reference=-1200.0))  # clean <= ref
        nan
        >>> round(float(normalised_score(-1707.0, clean=-1662.0, reference=-6000.0)), 4)
        0.9896
    """
    value = np.asarray(value, dtype=np.float64)
    clean = np.asarray(clean, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    span = clean - reference
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0, (value - reference) / np.where(span > 0, span, 1.0), np.nan)


def robustness_auc(levels: Sequence[float], values: Sequence[float]) -> float:
    """Normalised area under a robustness curve: the curve's average over its level range.

    Trapezoidal area of ``values`` against ``levels`` (sorted by level),
    divided by ``max(levels) - min(levels)``; with one point, that value. In
    the units of ``values`` (a normalised score when ``values`` are).

    Example:
        >>> robustness_auc([0.0, 0.1, 0.2], [1.0, 0.5, 0.0])
        0.5
    """
    x = np.asarray(levels, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"levels and values must be equal-length 1-D, got {x.shape}, {y.shape}")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    span = x[-1] - x[0]
    if span == 0:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / span)


def worst_case(values: Sequence[float]) -> tuple[int, float]:
    """Index and value of the lowest entry (NaNs ignored).

    Example:
        >>> worst_case([3.0, 1.0, 2.0])
        (1, 1.0)
    """
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0 or np.all(np.isnan(array)):
        raise ValueError("worst_case needs at least one non-NaN value")
    index = int(np.nanargmin(array))
    return index, float(array[index])
