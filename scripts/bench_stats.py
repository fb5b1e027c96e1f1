"""Benchmark: rliable's statistics with 10,000-resample bootstrap CIs on a 10 x 64 array.

Times (process CPU time, best of ``--repeats``; steadier than wall time on a shared
machine) each bootstrap interval of :mod:`rlnoise.evaluation` on scores of 10 runs x
64 tasks (target for the mean and the IQM: well under 1 s), beside rliable's own
``get_interval_estimates`` for the IQM at the same resample count when ``--rliable``
is given (it evaluates the statistic once per resample in Python).

Usage:
    python scripts/bench_stats.py [--resamples 10000] [--repeats 3] [--rliable]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np

from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.intervals import interval_estimates, probability_of_improvement_ci
from rlnoise.evaluation.profiles import performance_profiles


def best_cpu_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rliable", action="store_true", help="also time rliable's IQM CI")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, y = rng.normal(100, 30, (10, 64)), rng.normal(90, 30, (10, 64))
    n = args.resamples
    taus = np.linspace(0.0, 200.0, 101)
    cases: dict[str, Callable[[], object]] = {}
    for name, aggregate in [
        ("mean", st.mean),
        ("IQM", st.iqm),
        ("median", st.median),
        ("optimality gap", st.optimality_gap),
    ]:
        for resample in ("runs", "runs_and_tasks"):
            cases[f"{name} ({resample})"] = lambda a=aggregate, r=resample: st.bootstrap_ci(
                x, a, n_resamples=n, seed=0, resample=r
            )
    cases["probability of improvement (10 vs 10 runs)"] = lambda: probability_of_improvement_ci(
        x, y, n_resamples=n
    )
    cases["probability of improvement (10 vs 7 runs)"] = lambda: probability_of_improvement_ci(
        x, y[:7], n_resamples=n
    )
    for variant in (True, False):
        label = "runs" if variant else "task means"
        cases[f"performance profile, 101 taus ({label})"] = lambda v=variant: performance_profiles(
            {"x": x}, taus, use_score_distribution=v, n_resamples=n
        )
    cases["interval_estimates, IQM, 4 groups"] = lambda: interval_estimates(
        {"a": x, "b": y, "c": x[:5], "d": y[:3]}, st.iqm, n_resamples=n
    )
    print(f"bootstrap 95% CI, {n:,} resamples of 10 x 64 (CPU s, best of {args.repeats})")
    for name, fn in cases.items():
        print(f"  {name:<46} {best_cpu_time(fn, args.repeats):6.3f} s")
    if args.rliable:
        from rliable import library, metrics

        def theirs() -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return library.get_interval_estimates(
                    {"x": x}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=n
                )

        print(f"  {'rliable get_interval_estimates, IQM':<46} {best_cpu_time(theirs, 1):6.3f} s")


if __name__ == "__main__":
    main()
