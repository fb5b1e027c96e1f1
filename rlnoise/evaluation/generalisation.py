"""The generalisation gap: training-set return minus unseen-set return, per run, over runs.

When a grid has ``levels`` or ``contexts`` conditions (training levels and
unseen levels; training, interpolation and extrapolation contexts), each test
set is paired with the training set of its family
(:func:`generalisation_pairs`), and per model group:

- a run's **gap** is its mean episode return on the training set minus its
  mean episode return on the test set (Cobbe et al., 2019: train minus test);
- the group's gap is the IQM of its runs' gaps, with a percentile bootstrap
  95% CI over runs (:func:`~rlnoise.evaluation.bootstrap.bootstrap_ci`, runs
  resampled); a group of one run has the CI of its episodes' differences
  (train episode ``k`` minus test episode ``k``, episodes resampled).

The rows are :meth:`RobustnessReport.generalisation
<rlnoise.evaluation.report.RobustnessReport.generalisation>`, the ``generalisation``
entry of ``report.json``, ``generalisation.csv`` and the ``Generalisation gap`` table.

Example:
    >>> import numpy as np
    >>> from rlnoise.evaluation.conditions import Condition
    >>> from rlnoise.evaluation.perturbations import LevelsPerturbation
    >>> conditions = [Condition("train", (LevelsPerturbation("train", 10),)),
    ...               Condition("unseen", (LevelsPerturbation("unseen", 100),))]
    >>> returns = np.array([[[1.0, 1.0], [0.5, 0.0]], [[0.8, 0.8], [0.6, 0.6]]])
    >>> rows = generalisation_rows(returns, conditions, ["ppo", "ppo"], n_resamples=100,
    ...                            confidence=0.95, seed=0)
    >>> row = rows[0]
    >>> row["test_condition"], np.round(row["run_gaps"], 6).tolist()
    ('unseen', [0.75, 0.2])
    >>> round(row["generalisation_gap"], 6)
    0.475
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlnoise.core.random import derive_seed
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.bootstrap import bootstrap_ci
from rlnoise.evaluation.conditions import Condition

__all__ = ["GENERALISATION_COLUMNS", "generalisation_pairs", "generalisation_rows"]

#: Columns of ``generalisation.csv`` (the CI as two columns).
GENERALISATION_COLUMNS = (
    "group", "family", "train_condition", "test_condition", "n_runs", "train_iqm", "test_iqm",
    "generalisation_gap", "generalisation_gap_ci_low", "generalisation_gap_ci_high",
)  # fmt: skip


def _role(condition: Condition) -> tuple[str, str] | None:
    """``(family, split)`` of a condition that is exactly one level/context set, else ``None``."""
    if len(condition.perturbations) != 1:
        return None
    role = getattr(condition.perturbations[0], "generalisation", None)
    return role if isinstance(role, tuple) else None


def generalisation_pairs(conditions: Sequence[Condition]) -> list[tuple[str, int, int]]:
    """``(family, train column, test column)`` for every test set with a training set.

    A family's first ``train`` condition is its training set; every other
    condition of the family is a test set.
    """
    roles = [_role(c) for c in conditions]
    train: dict[str, int] = {}
    for index, role in enumerate(roles):
        if role is not None and role[1] == "train":
            train.setdefault(role[0], index)
    return [
        (role[0], train[role[0]], index)
        for index, role in enumerate(roles)
        if role is not None and role[0] in train and index != train[role[0]]
    ]


def generalisation_rows(
    returns: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per (model group, test set); ``[]`` when no test set has a training set.

    Keys: ``group, family, train_condition, test_condition, n_runs, train_iqm,
    test_iqm`` (IQM over runs of the per-run mean return), ``generalisation_gap``
    (IQM over runs of the per-run gap), ``generalisation_gap_ci`` and ``run_gaps``.

    Args:
        returns: ``(n_runs, n_conditions, n_episodes)`` episode returns.
        conditions: The conditions, in column order.
        run_groups: The model group of each run.
        n_resamples: Bootstrap resamples.
        confidence: CI coverage.
        seed: Bootstrap seed (derived per group and test set).
    """
    rows = []
    pairs = generalisation_pairs(conditions)
    for group in dict.fromkeys(run_groups):
        mine = [i for i, name in enumerate(run_groups) if name == group]
        for family, train, test in pairs:
            train_means = returns[mine, train].mean(axis=-1)
            test_means = returns[mine, test].mean(axis=-1)
            gaps = train_means - test_means
            if len(mine) > 1:  # runs resampled
                scores, statistic = gaps[:, None], st.iqm
            else:  # one run: its episodes' differences, episodes resampled
                scores = returns[mine, train] - returns[mine, test]
                statistic = st.mean
            ci = bootstrap_ci(
                scores,
                statistic,
                confidence=confidence,
                n_resamples=n_resamples,
                seed=derive_seed(seed, "generalisation", group, conditions[test].name),
            )
            rows.append(
                {
                    "group": group,
                    "family": family,
                    "train_condition": conditions[train].name,
                    "test_condition": conditions[test].name,
                    "n_runs": len(mine),
                    "train_iqm": float(st.iqm(train_means[:, None])),
                    "test_iqm": float(st.iqm(test_means[:, None])),
                    "generalisation_gap": float(st.iqm(gaps[:, None])),
                    "generalisation_gap_ci": [float(ci[0]), float(ci[1])],
                    "run_gaps": [float(g) for g in gaps],
                }
            )
    return rows
