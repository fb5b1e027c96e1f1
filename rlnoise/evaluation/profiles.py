"""Performance profiles: the fraction of scores above each threshold, with CI bands.

A performance profile (rliable's score distribution) plots, for every
threshold ``tau``, the fraction of runs whose score exceeds ``tau``: the
whole distribution of scores, not one aggregate, so two groups can be
compared at every level at once (one profile above another everywhere is
stochastic dominance). rliable's two variants:

- :func:`score_distribution` (the default, ``use_score_distribution=True``):
  over every run of every task, ``mean(scores > tau)``; rliable's
  ``run_score_deviation`` / ``score_distributions``.
- :func:`average_score_distribution`: over the tasks' mean scores (the mean
  over runs), ``mean(mean(scores, runs) > tau)``; rliable's
  ``mean_score_deviation`` / ``average_score_distributions``. Fewer points,
  so a wider band: rliable recommends the run-score variant.

:func:`performance_profiles` gives both with stratified bootstrap bands,
as rliable's ``create_performance_profile``; plot them with
:func:`~rlnoise.evaluation.profile_plot.plot_performance_profiles`.

Example:
    >>> scores = np.array([[0.1, 0.5, 0.9], [0.3, 0.7, 1.1]])
    >>> score_distribution(scores, [0.0, 0.6, 2.0])
    array([1. , 0.5, 0. ])
    >>> average_score_distribution(scores, [0.0, 0.6, 2.0])  # task means 0.2, 0.6, 1.0
    array([1.        , 0.33333333, 0.        ])
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from rlnoise.core.checks import check_int
from rlnoise.evaluation.bootstrap import Seed, as_scores
from rlnoise.evaluation.intervals import interval_estimates

__all__ = [
    "average_score_distribution",
    "performance_profiles",
    "score_distribution",
    "tau_grid",
]


def _taus(taus: Any) -> np.ndarray:
    array = np.asarray(taus, dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or np.isnan(array).any():
        raise ValueError(f"taus must be a non-empty 1-D array without NaN, got {taus!r}")
    return array


def _fraction_above(values: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``(..., n) -> (..., n_taus)``: the fraction of ``values`` strictly above each tau.

    Counted, not compared pairwise: ``searchsorted`` gives each value the
    number of taus strictly below it, a histogram of those counts per row
    tells how many values clear each tau. O(n log n_taus) per row instead of
    an ``(n, n_taus)`` comparison, and the counts are exact integers, so the
    fractions are the same floats as rliable's ``np.mean(scores > tau)``.
    A NaN is above no tau (as ``NaN > tau`` is False).
    """
    order = np.argsort(taus, kind="stable")
    n, n_taus = values.shape[-1], taus.size
    below = np.searchsorted(taus[order], values, side="left")  # taus strictly below
    below[np.isnan(values)] = 0
    rows = below.reshape(-1, n)
    offsets = (n_taus + 1) * np.arange(rows.shape[0])[:, None]
    histogram = np.bincount((rows + offsets).ravel(), minlength=rows.shape[0] * (n_taus + 1))
    histogram = histogram.reshape(rows.shape[0], n_taus + 1)
    # A value clears the k-th smallest tau iff more than k taus lie strictly below it.
    clears = np.cumsum(histogram[:, ::-1], axis=1)[:, ::-1][:, 1:]
    fractions = np.empty((rows.shape[0], n_taus))
    fractions[:, order] = clears / n
    return fractions.reshape(*values.shape[:-1], n_taus)


def score_distribution(scores: Any, taus: Any) -> np.ndarray:
    """Fraction of all scores above each tau: ``(..., n_runs, n_tasks) -> (..., n_taus)``.

    rliable's ``score_distributions(scores, tau_list)``: ``mean(scores > tau)``
    over every run and task, for each of ``taus`` ``(n_taus,)``.

    Example:
        >>> score_distribution([[1.0, 2.0], [3.0, 4.0]], [0.0, 1.5, 3.0, 4.0])  # "> tau"
        array([1.  , 0.75, 0.25, 0.  ])
    """
    array = as_scores(scores)
    return _fraction_above(array.reshape(*array.shape[:-2], -1), _taus(taus))


def average_score_distribution(scores: Any, taus: Any) -> np.ndarray:
    """Fraction of task mean scores above each tau: ``(..., n_runs, n_tasks) -> (..., n_taus)``.

    rliable's ``average_score_distributions(scores, tau_list)``: the mean over
    runs of each task, then the fraction of tasks whose mean exceeds ``tau``.

    Example:
        >>> average_score_distribution([[1.0, 2.0], [3.0, 4.0]], [0.0, 2.5, 3.0])
        array([1. , 0.5, 0. ])
    """
    return _fraction_above(as_scores(scores).mean(axis=-2), _taus(taus))


def tau_grid(score_dict: Mapping[str, Any], n_points: int = 101) -> np.ndarray:
    """``n_points`` evenly spaced thresholds from the lowest to the highest score of any group.

    Example:
        >>> tau_grid({"a": [[0.0, 2.0]], "b": [[1.0, 4.0]]}, n_points=5)
        array([0., 1., 2., 3., 4.])
    """
    n_points = check_int("n_points", n_points, low=2)
    if not score_dict:
        raise ValueError("score_dict must hold at least one group")
    values = np.concatenate(
        [as_scores(v, f"score_dict[{k!r}]").ravel() for k, v in score_dict.items()]
    )
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("score_dict holds no finite score")
    return np.linspace(finite.min(), finite.max(), n_points)


def performance_profiles(
    score_dict: Mapping[str, Any],
    taus: Any,
    *,
    use_score_distribution: bool = True,
    task_bootstrap: bool = False,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: Seed = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Performance profile of each group at ``taus``, with percentile bootstrap bands.

    rliable's ``create_performance_profile(score_dict, tau_list,
    use_score_distribution, task_bootstrap=..., reps=n_resamples,
    confidence_interval_size=confidence)``: a stratified bootstrap over runs
    (and tasks with ``task_bootstrap``), groups resampled one after the other
    from one stream (see :func:`~rlnoise.evaluation.intervals.interval_estimates`).
    rliable draws from numpy's global generator here (it passes no
    ``random_state``); after ``np.random.seed(seed)`` it returns these bands.

    Args:
        score_dict: Group name -> scores ``(n_runs, n_tasks)``.
        taus: Thresholds ``(n_taus,)``, e.g. :func:`tau_grid`.
        use_score_distribution: Fraction of runs above tau
            (:func:`score_distribution`); else of task means
            (:func:`average_score_distribution`).
        task_bootstrap: Redraw the tasks too.
        n_resamples: Bootstrap resamples per group (rliable's default: 2,000).
        confidence: Coverage of the bands.
        seed: Seed of the resampling stream, or a ``RandomState`` to continue.

    Returns:
        ``(profiles, bands)``: per group, the profile ``(n_taus,)`` and its band
        ``(2, n_taus)`` (row 0 lower, row 1 upper).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scores = {"clean": rng.normal(1.0, 0.2, (5, 20)), "fgsm": rng.normal(0.5, 0.2, (5, 20))}
        >>> taus = tau_grid(scores, n_points=21)
        >>> profiles, bands = performance_profiles(scores, taus, n_resamples=500)
        >>> profiles["clean"].shape, bands["clean"].shape
        ((21,), (2, 21))
        >>> bool(np.all(profiles["clean"] >= profiles["fgsm"]))  # clean dominates
        True
    """
    taus = _taus(taus)
    arrays = {}
    for key, scores in score_dict.items():
        arrays[key] = as_scores(scores, f"score_dict[{key!r}]")
        if arrays[key].ndim != 2:
            raise ValueError(
                f"score_dict[{key!r}] must have shape (n_runs, n_tasks), got {arrays[key].shape}"
            )
    profile = score_distribution if use_score_distribution else average_score_distribution
    return interval_estimates(
        arrays,
        partial(profile, taus=taus),
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        task_bootstrap=task_bootstrap,
    )
