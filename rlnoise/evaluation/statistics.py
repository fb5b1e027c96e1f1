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

from rlnoise.core._checks import check_choice, check_float, check_int

__all__ = [
    "AGGREGATES",
    "bootstrap_ci",
    "iqm",
    "mean",
    "median",
    "normalised_score",
    "percentile_ci",
    "probability_of_improvement",
    "robustness_auc",
    "std",
    "stratified_bootstrap",
    "worst_case",
]

Aggregate = Callable[[np.ndarray], Any]


def _check_scores(scores: Any) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim < 2 or array.shape[-1] == 0 or array.shape[-2] == 0:
        hint = " (one run's episode returns: pass scores[None])" if array.ndim == 1 else ""
        raise ValueError(
            f"scores must have shape (..., n_runs, n_tasks) with both > 0, got {array.shape}{hint}"
        )
    return array


def mean(scores: Any) -> Any:
    """Mean of all scores: ``(..., n_runs, n_tasks) -> (...)`` (rliable ``aggregate_mean``)."""
    return _check_scores(scores).mean(axis=(-2, -1))


def std(scores: Any) -> Any:
    """Sample standard deviation (ddof=1) of all scores: ``(..., n_runs, n_tasks) -> (...)``.

    Zero when there is a single score.
    """
    array = _check_scores(scores)
    flat = array.reshape(*array.shape[:-2], -1)
    if flat.shape[-1] < 2:
        return np.zeros(flat.shape[:-1])
    return flat.std(axis=-1, ddof=1)


def median(scores: Any) -> Any:
    """Median over tasks of the mean over runs: ``(..., n_runs, n_tasks) -> (...)``.

    rliable's ``aggregate_median``; with one run, the median of the episode returns.
    """
    return np.median(_check_scores(scores).mean(axis=-2), axis=-1)


def iqm(scores: Any) -> Any:
    """Interquartile mean of all scores: ``(..., n_runs, n_tasks) -> (...)``.

    The 25% trimmed mean: trims ``floor(0.25 n)`` scores from each end, as ``scipy.stats.trim_mean``
    (rliable's ``aggregate_iqm``).
    """
    array = _check_scores(scores)
    flat = array.reshape(*array.shape[:-2], -1)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    if cut == 0:
        return flat.mean(axis=-1)
    # A partition puts exactly the middle order statistics between the two pivots.
    middle = np.partition(flat, (cut, n - cut - 1), axis=-1)[..., cut : n - cut]
    return middle.mean(axis=-1)


AGGREGATES: dict[str, Aggregate] = {"mean": mean, "median": median, "iqm": iqm, "std": std}


def stratified_bootstrap(
    scores: Any,
    statistic: Aggregate,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    resample: str = "auto",
    chunk: int = 1000,
) -> np.ndarray:
    """Bootstrap distribution of ``statistic``: shape ``(n_resamples,)``.

    The resampled indices depend only on ``seed``, ``resample`` and the shape
    of ``scores``: arrays of one shape bootstrapped with one seed are resampled
    in pairs (resample ``i`` picks the same runs and episodes in each), so a
    difference of their draws is a paired bootstrap. Under common random
    numbers (episode ``k`` starts alike in every condition) that is the right
    bootstrap for a condition's difference to clean.

    Args:
        scores: ``(n_runs, n_tasks)``.
        statistic: A vectorised aggregate (``(..., n_runs, n_tasks) -> (...)``).
        n_resamples: Number of bootstrap resamples.
        seed: Seed of the resampling generator (same seed, same distribution).
        resample: ``"runs"``: runs are redrawn with replacement independently
            within each task (rliable's ``StratifiedBootstrap``); ``"tasks"``:
            whole columns are redrawn; ``"auto"``: runs when there are at least
            two, else tasks (a single model evaluated over many episodes).
        chunk: Resamples materialised at once (memory bound).

    Example:
        >>> x = np.array([[1.0, 5.0, 2.0, 8.0]])
        >>> a = stratified_bootstrap(x, mean, n_resamples=50, seed=3)
        >>> b = stratified_bootstrap(x - 1.0, mean, n_resamples=50, seed=3)
        >>> bool(np.allclose(a - b, 1.0))  # paired: the shift survives every resample
        True
    """
    array = _check_scores(scores)
    if array.ndim != 2:
        raise ValueError(f"scores must have shape (n_runs, n_tasks), got {array.shape}")
    n_resamples = check_int("n_resamples", n_resamples, low=1)
    chunk = check_int("chunk", chunk, low=1)
    seed = check_int("seed", seed, low=0)
    check_choice("resample", resample, ("auto", "runs", "tasks"))
    n_runs, n_tasks = array.shape
    mode = ("runs" if n_runs > 1 else "tasks") if resample == "auto" else resample
    rng = np.random.default_rng(seed)
    out = np.empty(n_resamples, dtype=np.float64)
    columns = np.arange(n_tasks)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        if mode == "runs":
            rows = rng.integers(0, n_runs, size=(size, n_runs, n_tasks))
            sample = array[rows, columns]
        else:
            picked = rng.integers(0, n_tasks, size=(size, n_tasks))
            sample = array[:, picked].transpose(1, 0, 2)
        out[start : start + size] = statistic(sample)
    return out


def bootstrap_ci(
    scores: Any,
    statistic: Aggregate,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    resample: str = "auto",
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``statistic`` over ``scores`` of shape ``(n_runs, n_tasks)``.

    See :func:`stratified_bootstrap` for ``resample``. Same method as rliable's
    ``get_interval_estimates(..., method="percentile")``.
    """
    confidence = check_float("confidence", confidence, low=0.0, high=1.0, low_open=True)
    draws = stratified_bootstrap(
        scores, statistic, n_resamples=n_resamples, seed=seed, resample=resample
    )
    return percentile_ci(draws, confidence)


def percentile_ci(draws: Any, confidence: float = 0.95) -> tuple[float, float]:
    """The central ``confidence`` interval of bootstrap ``draws`` (percentile method).

    Example:
        >>> percentile_ci(np.arange(101.0), 0.5)
        (25.0, 75.0)
    """
    confidence = check_float("confidence", confidence, low=0.0, high=1.0, low_open=True)
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(np.asarray(draws, dtype=np.float64), [tail, 100.0 - tail])
    return float(low), float(high)


def probability_of_improvement(scores_x: Any, scores_y: Any) -> float:
    """P(X > Y) averaged over tasks, ties counting one half.

    Args:
        scores_x: ``(n_runs_x, n_tasks)`` scores of model group X.
        scores_y: ``(n_runs_y, n_tasks)`` scores of model group Y (same tasks).

    Returns:
        The mean over tasks of the Mann-Whitney U statistic of X over Y divided
        by ``n_runs_x * n_runs_y`` (rliable's ``probability_of_improvement``).
    """
    x, y = _check_scores(scores_x), _check_scores(scores_y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"scores_x and scores_y must be (n_runs, n_tasks) with the same tasks, "
            f"got {x.shape} and {y.shape}"
        )
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + 0.5 * ties))


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
