"""rliable's statistics, bootstraps included, agree with the real ``rliable`` to rounding.

rliable draws every resample with ``np.random.choice`` on numpy's global
generator; rlnoise draws the same integers from its own ``RandomState``. So
with ``seed=s`` here and ``np.random.seed(s)`` there the two resample the same
runs and tasks, and every interval is compared exactly (``rtol=1e-12``: the
statistics reduce in rliable's order, so in practice they agree to the bit).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from rliable import metrics

from rlnoise.evaluation import bootstrap as bs
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.intervals import interval_estimates, probability_of_improvement_ci
from rlnoise.evaluation.profile_plot import plot_performance_profiles
from rlnoise.evaluation.profiles import (
    average_score_distribution,
    performance_profiles,
    score_distribution,
    tau_grid,
)

RNG = np.random.default_rng(0)
ARRAYS = {
    "10x64 normal": RNG.normal(100, 30, (10, 64)),
    "3x7 skewed": RNG.exponential(50, (3, 7)),
    "2x5 ties": np.array([[500.0, 500, 120, 500, 9], [500, 37, 500, 500, 500]]),
    "1x9 one run": RNG.normal(0, 1, (1, 9)),
    "6x6 square": RNG.normal(0, 1, (6, 6)),  # n_runs == n_tasks: one bound for runs and tasks
}
REPS = 1000  # exact agreement does not depend on the count; rliable's loop costs ~1 ms each
EXACT = {"rtol": 1e-12, "atol": 0.0}


def _library():
    """rliable's bootstrap module, or a skip naming why it does not import here."""
    try:
        from rliable import library
    except Exception as error:  # e.g. arch 7.2 against pandas 3: a broken dependency pair
        pytest.skip(f"rliable.library does not import here: {error!r}")
    return library


@pytest.fixture
def rliable_seed() -> Iterator:
    """``np.random.seed`` for rliable's resampling; the global state is restored afterwards."""
    # rliable resamples from numpy's global generator: seeding it is the only way in.
    state = np.random.get_state()  # noqa: NPY002
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arch: random_state is deprecated
        yield np.random.seed
    np.random.set_state(state)  # noqa: NPY002


def _gap(scores):
    return metrics.aggregate_optimality_gap(scores, gamma=100.0)


RLIABLE = {
    "mean": (metrics.aggregate_mean, st.mean),
    "median": (metrics.aggregate_median, st.median),
    "iqm": (metrics.aggregate_iqm, st.iqm),
    "optimality_gap": (_gap, lambda s: st.optimality_gap(s, gamma=100.0)),
}


@pytest.mark.parametrize("name", list(ARRAYS))
@pytest.mark.parametrize("aggregate", list(RLIABLE))
def test_point_estimates_and_optimality_gap_equal_rliable(name: str, aggregate: str) -> None:
    theirs, ours = RLIABLE[aggregate]
    np.testing.assert_allclose(ours(ARRAYS[name]), theirs(ARRAYS[name]), **EXACT)


@pytest.mark.parametrize("task_bootstrap", [False, True])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_bootstrap_cis_equal_rliable_for_runs_and_for_runs_and_tasks(
    name: str, task_bootstrap: bool, rliable_seed
) -> None:
    library = _library()
    scores = ARRAYS[name]
    rliable_seed(11)
    _, theirs = library.get_interval_estimates(
        {"x": scores}, lambda s: np.array([f(s) for f, _ in RLIABLE.values()]), reps=REPS,
        task_bootstrap=task_bootstrap,
    )  # fmt: skip
    resample = "runs_and_tasks" if task_bootstrap else "runs"
    for column, (_, ours) in enumerate(RLIABLE.values()):
        ci = st.bootstrap_ci(scores, ours, n_resamples=REPS, seed=11, resample=resample)
        np.testing.assert_allclose(ci, theirs["x"][:, column], **EXACT)


def test_interval_estimates_follow_rliable_across_groups_and_vector_statistics(
    rliable_seed,
) -> None:
    # Groups share one stream in dict order, so the second group's interval is exact
    # only if the first consumed exactly what rliable's did (mixed bounds: 10, 3, 2, 1).
    library = _library()
    groups = {k: ARRAYS[k] for k in ("10x64 normal", "3x7 skewed", "2x5 ties", "1x9 one run")}
    for task_bootstrap in (False, True):
        rliable_seed(5)
        points, theirs = library.get_interval_estimates(
            groups, lambda s: np.array([metrics.aggregate_iqm(s), _gap(s)]), reps=REPS,
            task_bootstrap=task_bootstrap,
        )  # fmt: skip
        ours_points, ours = interval_estimates(
            groups, lambda s: np.stack([st.iqm(s), st.optimality_gap(s, 100.0)], axis=-1),
            n_resamples=REPS, seed=5, task_bootstrap=task_bootstrap,
        )  # fmt: skip
        for key in groups:
            np.testing.assert_allclose(ours_points[key], points[key], **EXACT)
            np.testing.assert_allclose(ours[key], theirs[key], **EXACT)


def test_tasks_mode_is_rliables_task_bootstrap_for_one_run(rliable_seed) -> None:
    library = _library()
    scores = ARRAYS["1x9 one run"]
    rliable_seed(2)
    _, theirs = library.get_interval_estimates(
        {"x": scores}, lambda s: np.array([metrics.aggregate_mean(s)]), reps=REPS,
        task_bootstrap=True, confidence_interval_size=0.9,
    )  # fmt: skip
    for resample in ("tasks", "auto"):
        ours = st.bootstrap_ci(
            scores, st.mean, n_resamples=REPS, seed=2, resample=resample, confidence=0.9
        )
        np.testing.assert_allclose(ours, theirs["x"][:, 0], **EXACT)


@pytest.mark.parametrize("shift", [0.0, 10.0, 200.0])
def test_probability_of_improvement_is_vectorised_and_equals_rliable(shift: float) -> None:
    x = ARRAYS["10x64 normal"]
    y = np.random.default_rng(5).normal(100 - shift, 30, (7, 64))
    assert st.probability_of_improvement(x, y) == metrics.probability_of_improvement(x, y)
    stack_x, stack_y = x[None] + [[[0.0]], [[-20.0]]], np.stack([y, y])
    expected = [
        metrics.probability_of_improvement(a, b) for a, b in zip(stack_x, stack_y, strict=True)
    ]
    np.testing.assert_allclose(st.probability_of_improvement(stack_x, stack_y), expected, **EXACT)
    ties = ARRAYS["2x5 ties"]
    assert st.probability_of_improvement(ties, ties[::-1]) == pytest.approx(
        metrics.probability_of_improvement(ties, ties[::-1]), rel=1e-12, abs=0
    )


@pytest.mark.parametrize(
    ("n_x", "n_y"),
    [
        (10, 10),  # equal run counts: one bound, drawn in one call
        (3, 2),  # different counts: drawn resample by resample
        (1, 4),  # a single run: rliable draws nothing for it
    ],
)
def test_probability_of_improvement_ci_equals_rliables_independent_bootstrap(
    n_x: int, n_y: int, rliable_seed
) -> None:
    # rliable calls scipy's mannwhitneyu once per task per resample (~0.5 ms): few of each.
    library = _library()
    reps, rng = 150, np.random.default_rng(n_x + n_y)
    scores_x = np.round(rng.normal(100, 30, (n_x, 5)), -1)  # rounded: ties between groups
    scores_y = np.round(rng.normal(95, 30, (n_y, 5)), -1)
    pairs = {"x,y": [scores_x, scores_y], "y,x": [scores_y, scores_x]}
    rliable_seed(8)
    points, theirs = library.get_interval_estimates(
        pairs, metrics.probability_of_improvement, reps=reps
    )
    ours_points, ours = interval_estimates(
        pairs, st.probability_of_improvement, n_resamples=reps, seed=8
    )
    for key in pairs:
        np.testing.assert_allclose(ours_points[key], points[key], **EXACT)
        np.testing.assert_allclose(ours[key], theirs[key][:, 0], **EXACT)
    ci = probability_of_improvement_ci(scores_x, scores_y, n_resamples=reps, seed=8)
    np.testing.assert_array_equal(ci, ours["x,y"])  # the first group: the stream's start


@pytest.mark.parametrize("use_score_distribution", [True, False])
@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_performance_profiles_and_bands_equal_rliable(
    use_score_distribution: bool, task_bootstrap: bool, rliable_seed
) -> None:
    library = _library()
    groups = {
        "normal": ARRAYS["10x64 normal"],
        "rounded": np.round(np.random.default_rng(3).normal(90, 30, (4, 64))),  # ties with taus
    }
    taus = np.linspace(0.0, 200.0, 41)
    rliable_seed(4)
    profiles, bands = library.create_performance_profile(
        groups, taus, use_score_distribution=use_score_distribution,
        task_bootstrap=task_bootstrap, reps=REPS,
    )  # fmt: skip
    ours, our_bands = performance_profiles(
        groups, taus, use_score_distribution=use_score_distribution,
        task_bootstrap=task_bootstrap, n_resamples=REPS, seed=4,
    )  # fmt: skip
    for key in groups:
        np.testing.assert_array_equal(ours[key], profiles[key])
        np.testing.assert_allclose(our_bands[key], bands[key], **EXACT)


def test_score_distributions_equal_rliable_for_unsorted_repeated_taus_and_nan() -> None:
    library = _library()
    scores = ARRAYS["2x5 ties"].copy()
    taus = np.array([500.0, -np.inf, 9.0, 120.0, 9.0, 499.99, 501.0, np.inf])
    for ours, theirs in (
        (score_distribution, library.score_distributions),
        (average_score_distribution, library.average_score_distributions),
    ):
        np.testing.assert_array_equal(ours(scores, taus), theirs(scores, taus))
    scores[0, 1] = np.nan  # NaN > tau is False: above no threshold
    np.testing.assert_array_equal(
        score_distribution(scores, taus), library.score_distributions(scores, taus)
    )
    stack = np.stack([scores, scores + 1.0])
    np.testing.assert_array_equal(
        score_distribution(stack, taus), [score_distribution(s, taus) for s in stack]
    )


def test_seeds_of_any_size_match_numpys_global_seeding(rliable_seed) -> None:
    large = 2**40 + 12345  # e.g. a derived 63-bit seed: seeded by its 32-bit words
    rliable_seed([12345, 2**8])
    expected = np.random.choice(10, (3, 4))  # noqa: NPY002 (rliable's draw)
    np.testing.assert_array_equal(bs.resampling_state(large).randint(0, 10, (3, 4)), expected)
    state = bs.resampling_state(3)
    assert bs.resampling_state(state) is state  # a state continues its stream


def test_one_seed_and_shape_resample_in_pairs_in_every_mode() -> None:
    x = ARRAYS["3x7 skewed"]
    for resample in bs.RESAMPLE_MODES:
        a = st.stratified_bootstrap(x, st.iqm, n_resamples=300, seed=7, resample=resample)
        b = st.stratified_bootstrap(x - 3.0, st.iqm, n_resamples=300, seed=7, resample=resample)
        np.testing.assert_allclose(a - b, 3.0, rtol=0, atol=1e-9)
    chunked = st.stratified_bootstrap(x, st.iqm, n_resamples=300, seed=7, chunk=7)
    np.testing.assert_array_equal(
        chunked, st.stratified_bootstrap(x, st.iqm, n_resamples=300, seed=7)
    )


def test_plot_writes_a_png_atomically_and_checks_shapes(tmp_path: Path) -> None:
    from matplotlib.image import imread

    groups = {"clean": ARRAYS["10x64 normal"], "noisy": ARRAYS["10x64 normal"] - 30.0}
    taus = tau_grid(groups, n_points=31)
    profiles, bands = performance_profiles(groups, taus, n_resamples=200)
    path = tmp_path / "profiles.png"
    path.write_bytes(b"stale")
    assert plot_performance_profiles(profiles, taus, path, bands=bands, dpi=50) == path
    assert imread(path).shape[:2] == (round(4.5 * 50), round(7.0 * 50))
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.png"]  # no temporary left
    written = path.read_bytes()
    with pytest.raises(ValueError, match=r"bands\['noisy'\] must have shape \(2, 31\)"):
        plot_performance_profiles(profiles, taus, path, bands={"noisy": bands["noisy"][0]})
    with pytest.raises(ValueError, match=r"profiles\['clean'\] must have shape \(31,\)"):
        plot_performance_profiles({"clean": profiles["clean"][:-1]}, taus, path)
    assert path.read_bytes() == written  # a refused plot leaves the old file as it was


def test_bad_inputs_name_the_field() -> None:
    x = ARRAYS["3x7 skewed"]
    with pytest.raises(ValueError, match=r"task_bootstrap=True needs one score array per group"):
        interval_estimates({"x,y": [x, x]}, st.probability_of_improvement, task_bootstrap=True)
    with pytest.raises(ValueError, match=r"score_dict\['b'\]: scores must have shape"):
        interval_estimates({"a": x, "b": x[0]}, st.mean, n_resamples=10)
    with pytest.raises(ValueError, match=r"confidence must be <= 1.0, got 1.5"):
        interval_estimates({"a": x}, st.mean, confidence=1.5)
    with pytest.raises(ValueError, match=r"taus must be a non-empty 1-D array without NaN"):
        score_distribution(x, [0.0, np.nan])
    with pytest.raises(ValueError, match=r"score_dict\['a'\] must have shape \(n_runs, n_tasks\)"):
        performance_profiles({"a": np.stack([x, x])}, [0.0])
    with pytest.raises(ValueError, match=r"resample must be one of"):
        st.stratified_bootstrap(x, st.mean, resample="episodes")
    with pytest.raises(ValueError, match=r"gamma must be finite, got nan"):
        st.optimality_gap(x, gamma=float("nan"))
