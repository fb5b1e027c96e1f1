"""The statistics of a robustness report: a row per (model group, condition), curves, families.

Pure functions of the report's arrays (:class:`~rlnoise.evaluation.report.RobustnessReport`
calls them and caches the result): rliable's aggregates with percentile
bootstrap CIs (:mod:`rlnoise.evaluation.statistics`), and each condition's
difference to clean and normalised score (:mod:`rlnoise.evaluation.reference`).

Example:
    >>> is_curve_group("obs:gaussian"), is_curve_group("dynamics:length"), is_curve_group(None)
    (True, False, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rlnoise.core.random import derive_seed
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.reference import NormalisedScores, Reference

__all__ = ["condition_curves", "family_rows", "is_curve_group", "summary_rows"]


def is_curve_group(group: str | None) -> bool:
    """Groups drawn as curves over their level (noise-like); dynamics and ungrouped go in bars."""
    return group is not None and not group.startswith("dynamics")


def _rows_of(run_groups: Sequence[str], group: str) -> list[int]:
    return [i for i, name in enumerate(run_groups) if name == group]


def summary_rows(
    returns: np.ndarray,
    lengths: np.ndarray,
    conditions: Sequence[Condition],
    run_groups: Sequence[str],
    reference: Reference,
    nonfinite: np.ndarray | None,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
) -> list[dict[str, Any]]:
    """One row per (model group, condition); see ``RobustnessReport.summary`` for the keys.

    Args:
        returns: ``(n_runs, n_conditions, n_episodes)`` episode returns.
        lengths: Episode lengths, same shape.
        conditions: The conditions, in column order.
        run_groups: The model group of each run.
        reference: The reference of the normalised score.
        nonfinite: Non-finite observation counts per (run, condition), or ``None``.
        n_resamples: Bootstrap resamples.
        confidence: CI coverage.
        seed: Bootstrap seed (derived per group).
    """
    clean = next((i for i, c in enumerate(conditions) if c.is_clean), None)
    rows = []
    for group in dict.fromkeys(run_groups):
        mine = _rows_of(run_groups, group)
        compare = NormalisedScores(
            None if clean is None else returns[mine, clean],
            reference,
            n_resamples=n_resamples,
            seed=derive_seed(seed, "bootstrap", group),
            confidence=confidence,
        )
        for index, condition in enumerate(conditions):
            scores = returns[mine, index]
            iqm_draws = compare.draws(scores)
            rows.append(
                {
                    "group": group,
                    "condition": condition.name,
                    "condition_group": condition.group,
                    "level": condition.level,
                    "n_runs": int(scores.shape[0]),
                    "n_episodes": int(scores.shape[1]),
                    "mean": float(st.mean(scores)),
                    "mean_ci": list(st.percentile_ci(compare.draws(scores, st.mean), confidence)),
                    "std": float(st.std(scores)),
                    "median": float(st.median(scores)),
                    "iqm": float(st.iqm(scores)),
                    "iqm_ci": list(st.percentile_ci(iqm_draws, confidence)),
                    **compare.row(scores, iqm_draws),
                    "nonfinite_observations": None
                    if nonfinite is None
                    else int(nonfinite[mine, index].sum()),
                    "mean_length": float(lengths[mine, index].mean()),
                }
            )
    return rows


def condition_curves(
    rows: Sequence[dict[str, Any]], conditions: Sequence[Condition], groups: Sequence[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{model group: {condition group: [summary rows sorted by level]}}`` for curve groups.

    The clean condition is added at level 0 to curves that lack a level-0 point.
    """
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for group in groups:
        mine = [r for r in rows if r["group"] == group]
        clean = next((r for r, c in zip(mine, conditions, strict=True) if c.is_clean), None)
        families: dict[str, list[dict[str, Any]]] = {}
        for row, condition in zip(mine, conditions, strict=True):
            if is_curve_group(condition.group) and condition.level is not None:
                families.setdefault(str(condition.group), []).append(row)
        for points in families.values():
            if clean is not None and all(p["level"] != 0 for p in points):
                points.append({**clean, "level": 0.0})
            points.sort(key=lambda r: r["level"])
        out[group] = families
    return out


def family_rows(
    rows: Sequence[dict[str, Any]],
    curves: dict[str, dict[str, list[dict[str, Any]]]],
    conditions: Sequence[Condition],
    groups: Sequence[str],
) -> list[dict[str, Any]]:
    """Per (model group, condition group): average and worst IQM, and (curves) AUC.

    See ``RobustnessReport.families`` for the keys.
    """
    out = []
    for group in groups:
        mine = [
            (r, c)
            for r, c in zip([r for r in rows if r["group"] == group], conditions, strict=True)
            if c.group is not None
        ]
        names = list(dict.fromkeys(str(c.group) for _, c in mine))
        for name in names:
            members = [r for r, c in mine if c.group == name]
            values = [r["iqm"] for r in members]
            worst, worst_value = st.worst_case(values)
            entry = {
                "group": group,
                "condition_group": name,
                "n_conditions": len(members),
                "iqm_average": float(np.mean(values)),
                "iqm_worst": worst_value,
                "worst_condition": members[worst]["condition"],
                "auc_normalised": None,
            }
            points = curves.get(group, {}).get(name)
            if points and all(p["iqm_normalised"] is not None for p in points):
                entry["auc_normalised"] = st.robustness_auc(
                    [p["level"] for p in points], [p["iqm_normalised"] for p in points]
                )
            out.append(entry)
    return out
