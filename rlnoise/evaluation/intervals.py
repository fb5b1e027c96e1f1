"""Point and interval estimates for groups of runs, as rliable's ``get_interval_estimates``.

A *score dict* maps a group name (an algorithm, a training condition, an
attack) to its scores ``(n_runs, n_tasks)``, or to a list of such arrays
for statistics of several groups at once (the probability of improvement
of X over Y takes ``[scores_x, scores_y]``). :func:`interval_estimates`
returns, per group, the statistic and its percentile bootstrap interval,
drawn from the same resamples rliable draws (see
:mod:`rlnoise.evaluation.bootstrap`): with ``seed=s`` the result equals
rliable's after ``np.random.seed(s)`` to rounding.

Example:
    >>> from rlnoise.evaluation.statistics import iqm, optimality_gap
    >>> rng = np.random.default_rng(0)
    >>> scores = {"ppo": rng.normal(1.0, 0.2, (5, 8)), "dqn": rng.normal(0.6, 0.2, (5, 8))}
    >>> points, cis = interval_estimates(scores, iqm, n_resamples=2000)
    >>> cis["ppo"].shape  # (lower, upper) of a scalar statistic
    (2,)
    >>> bool(cis["dqn"][1] < cis["ppo"][0])
    True
    >>> both = lambda s: np.stack([iqm(s), optimality_gap(s)], axis=-1)
    >>> interval_estimates(scores, both, n_resamples=500)[1]["ppo"].shape  # (2, k)
    (2, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rlnoise.core.checks import check_float, check_int
from rlnoise.evaluation.bootstrap import (
    Seed,
    independent_bootstrap,
    percentile_ci,
    percentile_interval,
    resampling_state,
    stratified_bootstrap,
)
from rlnoise.evaluation.statistics import probability_of_improvement

__all__ = ["interval_estimates", "probability_of_improvement_ci"]

ScoreDict = Mapping[str, Any]


def interval_estimates(
    score_dict: ScoreDict,
    statistic: Callable[..., Any],
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: Seed = 0,
    task_bootstrap: bool = False,
    chunk: int = 1000,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Point estimates and percentile bootstrap intervals of ``statistic``, per group.

    rliable's ``get_interval_estimates(score_dict, func, method="percentile",
    task_bootstrap=..., reps=n_resamples, confidence_interval_size=confidence)``
    with a vectorised ``statistic`` (rliable calls ``func`` once per resample;
    here it sees a chunk of resamples at once). As in rliable, the groups are
    resampled one after the other from ONE stream, in the dict's order: a
    group's resamples depend on the groups before it. To pair two arrays
    resample by resample, use
    :func:`~rlnoise.evaluation.bootstrap.stratified_bootstrap` with one seed.

    Args:
        score_dict: Group name -> ``(n_runs, n_tasks)`` array (runs redrawn
            within tasks: rliable's ``StratifiedBootstrap``), or -> a list or
            tuple of such arrays (each redrawn independently, rliable's
            ``StratifiedIndependentBootstrap``; ``statistic(*arrays)``).
        statistic: Vectorised: ``(..., n_runs, n_tasks) -> (...)`` (a scalar per
            resample) or ``(..., k)`` (k statistics at once), taking one array per
            list entry for list groups.
        n_resamples: Bootstrap resamples per group (rliable's ``reps``; its
            default is 50,000, rlnoise's 10,000 everywhere).
        confidence: Coverage of the central interval.
        seed: Seed of the resampling stream, or a ``RandomState`` to continue.
        task_bootstrap: Redraw the tasks too (then the runs within each drawn
            task): the uncertainty of a larger population of tasks (episodes,
            for a report) rather than of the runs alone. Array groups only;
            rliable ignores it for list groups, here it is an error.
        chunk: Resamples materialised at once (memory bound).

    Returns:
        ``(points, intervals)``: per group, the statistic of the data (shape
        ``()`` or ``(k,)``) and its interval ``(2, ...)``, row 0 lower, row 1
        upper (rliable returns ``(2, 1)`` for a scalar statistic; here ``(2,)``).
    """
    if not isinstance(score_dict, Mapping) or not score_dict:
        raise ValueError(f"score_dict must be a non-empty dict of score arrays, got {score_dict!r}")
    n_resamples = check_int("n_resamples", n_resamples, low=1)
    check_float("confidence", confidence, low=0.0, high=1.0, low_open=True)
    state = resampling_state(seed)
    points: dict[str, np.ndarray] = {}
    intervals: dict[str, np.ndarray] = {}
    for key, scores in score_dict.items():
        try:
            point, draws = _bootstrap(scores, statistic, n_resamples, state, task_bootstrap, chunk)
        except ValueError as error:  # name the group: "scores" alone does not say which
            raise ValueError(f"score_dict[{key!r}]: {error}") from None
        points[key] = np.asarray(point, dtype=np.float64)
        intervals[key] = percentile_interval(draws, confidence)
    return points, intervals


def _bootstrap(
    scores: Any,
    statistic: Callable[..., Any],
    n_resamples: int,
    state: np.random.RandomState,
    task_bootstrap: bool,
    chunk: int,
) -> tuple[Any, np.ndarray]:
    """One group's point estimate and bootstrap draws."""
    if isinstance(scores, list | tuple):
        if task_bootstrap:
            raise ValueError(
                f"task_bootstrap=True needs one score array per group, got a list of "
                f"{len(scores)} (resampled independently, runs only)"
            )
        arrays = [np.asarray(a, dtype=np.float64) for a in scores]
        draws = independent_bootstrap(
            arrays, statistic, n_resamples=n_resamples, seed=state, chunk=chunk
        )
        return statistic(*arrays), draws
    array = np.asarray(scores, dtype=np.float64)
    resample = "runs_and_tasks" if task_bootstrap else "runs"
    draws = stratified_bootstrap(
        array, statistic, n_resamples=n_resamples, seed=state, resample=resample, chunk=chunk
    )
    return statistic(array), draws


def probability_of_improvement_ci(
    scores_x: Any,
    scores_y: Any,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: Seed = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the probability that X improves on Y.

    The runs of X and of Y are redrawn independently within each task, X's
    first (rliable's ``StratifiedIndependentBootstrap``, which rliable's
    examples use for this statistic): the two groups' runs are different
    seeds, with nothing to pair. Equal to ``interval_estimates({"x,y":
    [scores_x, scores_y]}, probability_of_improvement, ...)``.

    Args:
        scores_x: ``(n_runs_x, n_tasks)``.
        scores_y: ``(n_runs_y, n_tasks)``.
        confidence: Coverage of the central interval.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling generator, or a ``RandomState`` to continue.

    Returns:
        ``(low, high)`` around
        :func:`~rlnoise.evaluation.statistics.probability_of_improvement`.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> x, y = rng.normal(1.0, 1.0, (5, 10)), rng.normal(0.0, 1.0, (5, 10))
        >>> low, high = probability_of_improvement_ci(x, y, n_resamples=2000)
        >>> bool(0.5 < low < probability_of_improvement(x, y) < high <= 1.0)
        True
    """
    arrays: Sequence[Any] = [scores_x, scores_y]
    check_float("confidence", confidence, low=0.0, high=1.0, low_open=True)
    draws = independent_bootstrap(
        arrays, probability_of_improvement, n_resamples=n_resamples, seed=seed
    )
    return percentile_ci(draws, confidence)
