"""Robustness evaluation: conditions, the batched runner, attacks, statistics, reports.

Example:
    >>> from rlnoise.evaluation import build_grid
    >>> [c.name for c in build_grid({"gaussian": [0.1], "random_action": [0.2]})]
    ['clean', 'obs:gaussian:0.1', 'random_action:0.2']
"""

from __future__ import annotations

from rlnoise.evaluation.conditions import (
    ActionNoise,
    Condition,
    Dynamics,
    ObservationAttack,
    ObservationNoise,
    Perturbation,
    RandomAction,
    StickyAction,
    WeightNoise,
    as_condition,
)
from rlnoise.evaluation.grid import build_grid, load_grid
from rlnoise.evaluation.models import ModelRun, detect_algorithm, discover_runs, load_run
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.runner import evaluate_robustness

__all__ = [
    "ActionNoise",
    "Condition",
    "Dynamics",
    "ModelRun",
    "ObservationAttack",
    "ObservationNoise",
    "Perturbation",
    "RandomAction",
    "RobustnessReport",
    "StickyAction",
    "WeightNoise",
    "as_condition",
    "build_grid",
    "detect_algorithm",
    "discover_runs",
    "evaluate_robustness",
    "load_grid",
    "load_run",
]
