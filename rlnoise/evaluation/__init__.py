"""Robustness evaluation: conditions, the batched runner, attacks, statistics, reports.

Names are imported on first access, so ``rlnoise.evaluation.cli`` (and the
``rlnoise`` console script) load without torch or Stable-Baselines3.

Example:
    >>> from rlnoise.evaluation import build_grid
    >>> [c.name for c in build_grid({"gaussian": [0.1], "random_action": [0.2]})]
    ['clean', 'obs:gaussian:0.1', 'random_action:0.2']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ActionNoisePerturbation": "rlnoise.evaluation.perturbations",
    "Condition": "rlnoise.evaluation.conditions",
    "DynamicsPerturbation": "rlnoise.evaluation.perturbations",
    "ObservationAttackPerturbation": "rlnoise.evaluation.perturbations",
    "ObservationNoisePerturbation": "rlnoise.evaluation.perturbations",
    "Perturbation": "rlnoise.evaluation.perturbations",
    "RandomActionPerturbation": "rlnoise.evaluation.perturbations",
    "StickyActionPerturbation": "rlnoise.evaluation.perturbations",
    "WeightNoisePerturbation": "rlnoise.evaluation.perturbations",
    "register_perturbation": "rlnoise.evaluation.perturbations",
    "as_condition": "rlnoise.evaluation.conditions",
    "print_tables": "rlnoise.evaluation.display",
    "save_report": "rlnoise.evaluation.display",
    "build_grid": "rlnoise.evaluation.grid",
    "independent_bootstrap": "rlnoise.evaluation.bootstrap",
    "interval_estimates": "rlnoise.evaluation.intervals",
    "probability_of_improvement_ci": "rlnoise.evaluation.intervals",
    "plot_performance_profiles": "rlnoise.evaluation.profile_plot",
    "average_score_distribution": "rlnoise.evaluation.profiles",
    "performance_profiles": "rlnoise.evaluation.profiles",
    "score_distribution": "rlnoise.evaluation.profiles",
    "tau_grid": "rlnoise.evaluation.profiles",
    "optimality_gap": "rlnoise.evaluation.statistics",
    "load_grid": "rlnoise.evaluation.grid",
    "ModelRun": "rlnoise.evaluation.models",
    "detect_algorithm": "rlnoise.evaluation.models",
    "discover_runs": "rlnoise.evaluation.models",
    "load_run": "rlnoise.evaluation.models",
    "RobustnessReport": "rlnoise.evaluation.report",
    "evaluate_robustness": "rlnoise.evaluation.runner",
    "evaluate_cells": "rlnoise.evaluation.runner",
    "CellRecord": "rlnoise.evaluation.runner",
}

__all__ = sorted(_EXPORTS)

# The names the perturbation classes had before (deprecated; conditions.py warns).
_RENAMED = (
    "ActionNoise",
    "Dynamics",
    "ObservationAttack",
    "ObservationNoise",
    "RandomAction",
    "StickyAction",
    "WeightNoise",
)

if TYPE_CHECKING:
    from rlnoise.evaluation.bootstrap import independent_bootstrap as independent_bootstrap
    from rlnoise.evaluation.conditions import Condition as Condition
    from rlnoise.evaluation.conditions import as_condition as as_condition
    from rlnoise.evaluation.display import print_tables as print_tables
    from rlnoise.evaluation.display import save_report as save_report
    from rlnoise.evaluation.grid import build_grid as build_grid
    from rlnoise.evaluation.grid import load_grid as load_grid
    from rlnoise.evaluation.intervals import interval_estimates as interval_estimates
    from rlnoise.evaluation.intervals import (
        probability_of_improvement_ci as probability_of_improvement_ci,
    )
    from rlnoise.evaluation.models import ModelRun as ModelRun
    from rlnoise.evaluation.models import detect_algorithm as detect_algorithm
    from rlnoise.evaluation.models import discover_runs as discover_runs
    from rlnoise.evaluation.models import load_run as load_run
    from rlnoise.evaluation.perturbations import (
        ActionNoisePerturbation as ActionNoisePerturbation,
    )
    from rlnoise.evaluation.perturbations import DynamicsPerturbation as DynamicsPerturbation
    from rlnoise.evaluation.perturbations import (
        ObservationAttackPerturbation as ObservationAttackPerturbation,
    )
    from rlnoise.evaluation.perturbations import (
        ObservationNoisePerturbation as ObservationNoisePerturbation,
    )
    from rlnoise.evaluation.perturbations import Perturbation as Perturbation
    from rlnoise.evaluation.perturbations import (
        RandomActionPerturbation as RandomActionPerturbation,
    )
    from rlnoise.evaluation.perturbations import (
        StickyActionPerturbation as StickyActionPerturbation,
    )
    from rlnoise.evaluation.perturbations import (
        WeightNoisePerturbation as WeightNoisePerturbation,
    )
    from rlnoise.evaluation.perturbations import register_perturbation as register_perturbation
    from rlnoise.evaluation.profile_plot import (
        plot_performance_profiles as plot_performance_profiles,
    )
    from rlnoise.evaluation.profiles import (
        average_score_distribution as average_score_distribution,
    )
    from rlnoise.evaluation.profiles import performance_profiles as performance_profiles
    from rlnoise.evaluation.profiles import score_distribution as score_distribution
    from rlnoise.evaluation.profiles import tau_grid as tau_grid
    from rlnoise.evaluation.report import RobustnessReport as RobustnessReport
    from rlnoise.evaluation.runner import CellRecord as CellRecord
    from rlnoise.evaluation.runner import evaluate_cells as evaluate_cells
    from rlnoise.evaluation.runner import evaluate_robustness as evaluate_robustness
    from rlnoise.evaluation.statistics import optimality_gap as optimality_gap


def __getattr__(name: str) -> Any:
    if name in _RENAMED:  # not cached: every use warns
        return getattr(importlib.import_module("rlnoise.evaluation.conditions"), name)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlnoise.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
