"""Worst-of-attacks: per run and attack budget, the attack that lowered its return most.

A single gradient attack overstates robustness; the robust-RL literature
(SA-PPO, ATLA, WocaR) reports the worst over several attacks of one budget.
Attack conditions are those with an
:class:`~rlnoise.evaluation.perturbations.ObservationAttackPerturbation` (or
a subclass: any attack method; random noise in the ball, ``random_uniform`` and
``random_sign``, is the baseline and never part of it); they are grouped by the attack's ``budget``
(radius and unit, e.g. ``eps=0.1``) and by the condition's other
perturbations (an attack on a defended agent is compared with attacks on the
same defence only). A group needs at least two attack conditions (of any
methods): with one, the worst of it would repeat that condition's own row,
so no worst-of row is made for it.

For each run the worst attack is the one with the lowest mean return over
its episodes (the first in grid order on a tie). The worst-of row of a
model group then takes, run by run, that attack's episodes: its ``mean`` is
the mean over runs of the per-run minimum, and every other column (IQM,
CIs, difference to clean, normalised score, optimality gap) is computed as
for any condition, paired with clean under common random numbers. Which
attack was worst is chosen once, on the data, not again per bootstrap
resample.

Example:
    >>> from rlnoise.evaluation.perturbations import ObservationAttackPerturbation as Attack
    >>> conditions = [Condition.clean(), Condition("fgsm:0.1", (Attack("fgsm", 0.1),)),
    ...               Condition("pgd:0.1", (Attack("pgd", 0.1),)),
    ...               Condition("pgd:0.2", (Attack("pgd", 0.2),))]
    >>> attack_budgets(conditions)  # eps=0.2 has one attack only: no worst-of
    {'eps=0.1': [1, 2]}
    >>> returns = np.array([[[9.0, 9.0], [5.0, 7.0], [8.0, 8.0], [1.0, 1.0]],
    ...                     [[9.0, 9.0], [8.0, 8.0], [2.0, 4.0], [1.0, 1.0]]])
    >>> picks, means = worst_attacks(returns, [0, 1], [1, 2])
    >>> picks.tolist(), means.tolist()  # run 0: fgsm (6 < 8); run 1: pgd (3 < 8)
    ([1, 2], [[6.0, 8.0], [8.0, 3.0]])
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.core.random import derive_seed
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.perturbations import ObservationAttackPerturbation
from rlnoise.evaluation.reference import NormalisedScores, Reference
from rlnoise.evaluation.report_stats import group_scales, optimality_gap_fields, stats_seed
from rlnoise.runs.files import atomic_path

__all__ = ["attack_budgets", "save_worst_csv", "worst_attacks", "worst_of_attacks_rows"]

#: The name of a worst-of row: this prefix, then the budget key.
PREFIX = "worst-of-attacks:"


def budget_key(condition: Condition) -> str | None:
    """The budget of ``condition``'s attack and its other perturbations; ``None``: no attack."""
    attacks = [a for a in condition.find(ObservationAttackPerturbation) if a.adversarial]
    if not attacks:  # no attack, or random noise in the ball (the baseline, not an attack)
        return None
    others = sorted(p.label for p in condition.perturbations if p is not attacks[0])
    return "+".join([attacks[0].budget, *others])


def attack_budgets(conditions: Sequence[Condition]) -> dict[str, list[int]]:
    """``{budget key: [columns of its attack conditions]}``, for keys with two or more."""
    keys: dict[str, list[int]] = {}
    for index, condition in enumerate(conditions):
        key = budget_key(condition)
        if key is not None:
            keys.setdefault(key, []).append(index)
    return {key: columns for key, columns in keys.items() if len(columns) >= 2}


def worst_attacks(
    returns: np.ndarray, runs: Sequence[int], columns: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per run, the column of its worst attack and every attack's mean return.

    Args:
        returns: ``(n_runs, n_conditions, n_episodes)``.
        runs: The rows (runs) to look at.
        columns: The attack conditions of one budget.

    Returns:
        ``(picks, means)``: ``picks[i]`` the column (a condition index) of run
        ``runs[i]``'s lowest mean return, ``means`` ``(len(runs), len(columns))``.
    """
    means = returns[list(runs)][:, list(columns), :].mean(axis=2)
    return np.asarray(columns)[np.argmin(means, axis=1)], means


def worst_of_attacks_rows(
    returns: np.ndarray,
    lengths: np.ndarray,
    conditions: Sequence[Condition],
    runs: Sequence[dict[str, Any]],
    reference: Reference,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    task_bootstrap: bool = False,
) -> list[dict[str, Any]]:
    """One row per (model group, budget key) with two or more attack conditions.

    Keys: the summary rows' (``group, condition, condition_group, level,
    n_runs, n_episodes, mean, mean_ci, std, median, iqm, iqm_ci,
    iqm_diff_to_clean(_ci), iqm_normalised(_ci), normalised_note,
    optimality_gap(_ci), mean_length``), with ``condition`` =
    ``worst-of-attacks:KEY``, ``condition_group`` ``worst-of-attacks``, ``level``
    the attacks' ``eps`` when they share one; plus ``budget`` (the key),
    ``attacks`` (the condition names) and ``runs``: per run, ``run`` (its
    name), ``worst_attack``, ``mean_return`` and ``attack_means`` (each
    attack's mean return). The bootstrap seeds are the summary's, so the CIs
    pair with clean's.
    """
    budgets = attack_budgets(conditions)
    if not budgets:
        return []
    run_groups = [run.get("group", "model") for run in runs]
    clean = next((i for i, c in enumerate(conditions) if c.is_clean), None)
    scales = group_scales(returns, conditions, run_groups, reference)
    out = []
    for group, scale in scales.items():
        mine = [i for i, name in enumerate(run_groups) if name == group]
        compare = NormalisedScores(
            None if clean is None else returns[mine, clean], reference,
            n_resamples=n_resamples, seed=derive_seed(seed, "bootstrap", group),
            confidence=confidence,
        )  # fmt: skip
        for key, columns in budgets.items():
            picks, means = worst_attacks(returns, mine, columns)
            scores, played = returns[mine, picks], lengths[mine, picks]
            draws = compare.draws(scores)
            levels = {conditions[c].level for c in columns}
            row = {
                "group": group,
                "condition": PREFIX + key,
                "condition_group": PREFIX.rstrip(":"),
                "level": levels.pop() if len(levels) == 1 else None,
                "n_runs": int(scores.shape[0]),
                "n_episodes": int(scores.shape[1]),
                "mean": float(st.mean(scores)),
                "mean_ci": list(st.percentile_ci(compare.draws(scores, st.mean), confidence)),
                "std": float(st.std(scores)),
                "median": float(st.median(scores)),
                "iqm": float(st.iqm(scores)),
                "iqm_ci": list(st.percentile_ci(draws, confidence)),
                **compare.row(scores, draws),
                **optimality_gap_fields(
                    scores,
                    scale,
                    n_resamples=n_resamples,
                    confidence=confidence,
                    seed=stats_seed(seed, "optimality_gap", group),
                    task_bootstrap=task_bootstrap,
                ),
                "mean_length": float(played.mean()),
                "budget": key,
                "attacks": [conditions[c].name for c in columns],
                "runs": [
                    {
                        "run": runs[r].get("name"),
                        "worst_attack": conditions[int(pick)].name,
                        "mean_return": float(row_means.min()),
                        "attack_means": {
                            conditions[c].name: float(m)
                            for c, m in zip(columns, row_means, strict=True)
                        },
                    }
                    for r, pick, row_means in zip(mine, picks, means, strict=True)
                ],
            }
            out.append(row)
    return out


#: ``worst_of_attacks.csv``'s columns.
CSV_COLUMNS = [
    "group", "budget", "condition", "attacks", "n_runs", "n_episodes", "mean", "mean_ci_low",
    "mean_ci_high", "iqm", "iqm_ci_low", "iqm_ci_high", "iqm_diff_to_clean",
    "iqm_diff_to_clean_ci_low", "iqm_diff_to_clean_ci_high", "iqm_normalised",
    "iqm_normalised_ci_low", "iqm_normalised_ci_high", "optimality_gap", "optimality_gap_ci_low",
    "optimality_gap_ci_high", "normalised_note", "worst_attack_by_run",
]  # fmt: skip


def save_worst_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """One CSV row per (model group, budget); ``worst_attack_by_run`` is ``run=attack;...``."""
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            flat = dict(row)
            for name in ("mean", "iqm", "iqm_diff_to_clean", "iqm_normalised", "optimality_gap"):
                flat[f"{name}_ci_low"], flat[f"{name}_ci_high"] = row[f"{name}_ci"] or ("", "")
            flat["attacks"] = ";".join(row["attacks"])
            flat["worst_attack_by_run"] = ";".join(
                f"{run['run']}={run['worst_attack']}" for run in row["runs"]
            )
            writer.writerow(flat)
    return path
