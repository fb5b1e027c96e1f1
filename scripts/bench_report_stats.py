"""Benchmark: what each statistic of a robustness report costs on a large synthetic grid.

A report of ``--groups`` model groups x ``--runs`` runs, ``--conditions`` conditions
(clean, FGSM and PGD at three radii, the rest observation-noise levels) and
``--episodes`` episodes (synthetic returns: no episode is played) is summarised at
``--resamples`` bootstrap resamples, one statistic after the other, each on a fresh
report (nothing cached). Prints the process CPU time of each and the peak RSS.

Usage:
    python scripts/bench_report_stats.py [--groups 2] [--runs 5] [--conditions 64]
        [--episodes 100] [--resamples 10000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from rlnoise.evaluation import Condition, RobustnessReport
from rlnoise.evaluation.perturbations import (
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
)
from rlnoise.evaluation.reference import Reference
from rlnoise.evaluation.summary import summary_rows


def synthetic_report(groups: int, runs: int, conditions: int, episodes: int) -> RobustnessReport:
    grid = [Condition.clean()]
    for eps in (0.05, 0.1, 0.2):
        for method in ("fgsm", "pgd"):
            attack = ObservationAttackPerturbation(method, eps)
            grid.append(Condition(attack.label, (attack,), method, eps))
    for scale in np.linspace(0.01, 1.0, max(0, conditions - len(grid))):
        noise = ObservationNoisePerturbation(f"gaussian:{scale:.4f}")
        grid.append(Condition(f"obs:gaussian:{scale:.4f}", (noise,), "obs:gaussian", scale))
    rng = np.random.default_rng(0)
    returns = rng.normal(300.0, 80.0, (groups * runs, len(grid), episodes))
    names = tuple({"name": f"run{i}", "group": f"group{i // runs}"} for i in range(groups * runs))
    lengths = np.ones(returns.shape, dtype=np.int64)
    return RobustnessReport(returns, lengths, tuple(grid), names, {}, Reference.given(10.0))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--conditions", type=int, default=64)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=10_000)
    args = parser.parse_args()
    shape = (args.groups, args.runs, args.conditions, args.episodes)
    options = {"n_resamples": args.resamples}

    def fresh() -> RobustnessReport:
        return synthetic_report(*shape)

    def summary_alone() -> object:
        report = fresh()
        groups = [run["group"] for run in report.runs]
        return summary_rows(
            report.returns, report.lengths, report.conditions, groups, report.reference, None,
            n_resamples=args.resamples, confidence=0.95, seed=0,
        )  # fmt: skip

    cases = {
        "summary rows without the optimality gap": summary_alone,
        "summary rows with the optimality gap": lambda: fresh().summary(**options),
        "worst of attacks (3 budgets x 2 attacks)": lambda: fresh().worst_of_attacks(**options),
        "P(X > first group) per condition": lambda: fresh().improvements(**options),
        "pooled normalised IQM + optimality gap": lambda: fresh().pooled(**options),
        "performance profiles (clean + pooled)": lambda: fresh().performance_profiles(**options),
    }
    print(
        f"{args.groups} groups x {args.runs} runs, {args.conditions} conditions x "
        f"{args.episodes} episodes, {args.resamples:,} resamples (process CPU s)"
    )
    for name, fn in cases.items():
        start = time.process_time()
        fn()
        print(f"  {name:<42} {time.process_time() - start:7.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
