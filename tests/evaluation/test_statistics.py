"""Statistics agree with rliable: point estimates to 1e-6, CIs within bootstrap error."""

from __future__ import annotations

import numpy as np
import pytest
from rliable import metrics

from rlnoise.evaluation import statistics as st

RNG = np.random.default_rng(0)
ARRAYS = {
    "10x64 normal": RNG.normal(100, 30, (10, 64)),
    "3x7 skewed": RNG.exponential(50, (3, 7)),
    "5x1": RNG.normal(0, 1, (5, 1)),
    "2x5 ties": np.array([[500.0, 500, 120, 500, 9], [500, 37, 500, 500, 500]]),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_point_estimates_equal_rliable(name: str) -> None:
    scores = ARRAYS[name]
    assert st.mean(scores) == pytest.approx(metrics.aggregate_mean(scores), abs=1e-6)
    assert st.median(scores) == pytest.approx(metrics.aggregate_median(scores), abs=1e-6)
    assert st.iqm(scores) == pytest.approx(metrics.aggregate_iqm(scores), abs=1e-6)


def test_aggregates_are_vectorised_over_leading_axes() -> None:
    stack = RNG.normal(size=(6, 4, 9))
    for fn in (st.mean, st.median, st.iqm, st.std):
        assert np.allclose(fn(stack), [fn(s) for s in stack])


RLIABLE_AGGREGATES = {
    "mean": metrics.aggregate_mean,
    "iqm": metrics.aggregate_iqm,
    "median": metrics.aggregate_median,
}


def _loop_bootstrap(scores: np.ndarray, func, reps: int, seed: int) -> tuple[float, float]:
    """Independent reference: rliable's stratified bootstrap written as a plain loop.

    Each resample redraws the runs of every task (column) with replacement, with
    ``np.random.choice`` on a generator seeded as rliable's global one would be, then
    applies the rliable aggregate; percentile interval. (Against rliable itself:
    tests/evaluation/test_rliable_stats.py.)
    """
    state = np.random.RandomState(seed)
    n_runs, n_tasks = scores.shape
    values = []
    for _ in range(reps):
        rows = state.choice(n_runs, size=(n_runs, n_tasks), replace=True)
        values.append(func(np.take_along_axis(scores, rows, axis=0)))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("name", ["10x64 normal", "3x7 skewed"])
@pytest.mark.parametrize("aggregate", ["mean", "iqm", "median"])
def test_bootstrap_ci_equals_a_plain_loop_stratified_bootstrap(name: str, aggregate: str) -> None:
    # Same seed, same resamples: the vectorised bootstrap is the loop, to rounding.
    scores = ARRAYS[name]
    theirs = _loop_bootstrap(scores, RLIABLE_AGGREGATES[aggregate], 2_000, seed=3)
    ours = st.bootstrap_ci(scores, st.AGGREGATES[aggregate], n_resamples=2_000, seed=3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_bootstrap_is_seeded_vectorised_and_resamples_episodes_for_one_run() -> None:
    scores = ARRAYS["10x64 normal"]
    a = st.stratified_bootstrap(scores, st.iqm, n_resamples=2000, seed=3)
    b = st.stratified_bootstrap(scores, st.iqm, n_resamples=2000, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(
        a, st.stratified_bootstrap(scores, st.iqm, n_resamples=2000, seed=4)
    )
    one_run = scores[:1]
    low, high = st.bootstrap_ci(one_run, st.mean, n_resamples=4000, seed=0)
    # Resampling episodes: the CI of the mean has width ~ 2 * 1.96 * sd / sqrt(n).
    expected = 2 * 1.96 * one_run.std(ddof=1) / np.sqrt(one_run.size)
    assert high - low == pytest.approx(expected, rel=0.15)
    runs_only = st.bootstrap_ci(one_run, st.mean, n_resamples=100, seed=0, resample="runs")
    assert runs_only[0] == runs_only[1]  # one run: nothing to resample


@pytest.mark.parametrize("shift", [0.0, 10.0, 200.0])
def test_probability_of_improvement_equals_rliable(shift: float) -> None:
    x = ARRAYS["10x64 normal"]
    y = np.random.default_rng(5).normal(100 - shift, 30, (7, 64))
    assert st.probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y), abs=1e-6
    )
    same = st.probability_of_improvement(x, x)
    assert same == pytest.approx(0.5)


def test_auc_and_worst_case() -> None:
    assert st.robustness_auc([0.2, 0.0, 0.1], [0.0, 1.0, 0.5]) == pytest.approx(0.5)
    assert st.robustness_auc([0.1], [0.7]) == 0.7
    assert st.worst_case([3.0, np.nan, -1.0]) == (2, -1.0)
    with pytest.raises(ValueError, match="shape"):
        st.mean(np.zeros(3))


@pytest.mark.parametrize(
    ("clean", "reference"),
    [(500.0, 22.0), (-150.0, -1200.0), (-1662.0, -6000.0), (10.0, -10.0), (3.0, 0.0)],
)
def test_normalised_score_is_below_one_exactly_when_worse_than_clean(
    clean: float, reference: float
) -> None:
    # Pendulum-like negative returns included: a ratio of raw returns (-1707 / -1662 = 1.03)
    # reads a worse condition as better; the normalised score never does.
    values = clean + np.array([-500.0, -45.0, -1e-9, 0.0, 1e-9, 45.0])
    scores = st.normalised_score(values, clean, reference)
    assert np.array_equal(scores < 1, values < clean)
    assert np.array_equal(scores == 1, values == clean)
    assert st.normalised_score(reference, clean, reference) == 0.0


@pytest.mark.parametrize(("clean", "reference"), [(-1662.0, -1200.0), (22.0, 22.0), (5.0, 9.0)])
def test_normalised_score_is_nan_when_clean_is_not_above_the_reference(
    clean: float, reference: float
) -> None:
    assert np.isnan(st.normalised_score(clean - 45.0, clean, reference))


def test_bootstrap_with_one_seed_and_shape_is_paired() -> None:
    # Arrays of one shape bootstrapped with one seed pick the same runs and episodes:
    # a constant shift survives every resample (a paired bootstrap), for both modes.
    x = ARRAYS["3x7 skewed"]
    for resample in ("runs", "tasks"):
        a = st.stratified_bootstrap(x, st.iqm, n_resamples=500, seed=7, resample=resample)
        b = st.stratified_bootstrap(x - 3.0, st.iqm, n_resamples=500, seed=7, resample=resample)
        assert np.allclose(a - b, 3.0, rtol=0, atol=1e-9)
    assert st.percentile_ci(np.arange(101.0), 0.5) == (25.0, 75.0)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(
        ValueError, match=r"got \(3,\) \(one run's episode returns: pass scores\[None\]\)"
    ):
        st.mean([1.0, 2.0, 3.0])
    scores = np.ones((2, 3))
    with pytest.raises(ValueError, match="chunk must be >= 1, got 0"):
        st.stratified_bootstrap(scores, st.mean, chunk=0)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        st.bootstrap_ci(scores, st.mean, seed=-1)
