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
    "ActionNoise": "rlnoise.evaluation.conditions",
    "Condition": "rlnoise.evaluation.conditions",
    "Dynamics": "rlnoise.evaluation.conditions",
    "ObservationAttack": "rlnoise.evaluation.conditions",
    "ObservationNoise": "rlnoise.evaluation.conditions",
    "Perturbation": "rlnoise.evaluation.conditions",
    "RandomAction": "rlnoise.evaluation.conditions",
    "StickyAction": "rlnoise.evaluation.conditions",
    "WeightNoise": "rlnoise.evaluation.conditions",
    "as_condition": "rlnoise.evaluation.conditions",
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
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from rlnoise.evaluation.bootstrap import independent_bootstrap as independent_bootstrap
    from rlnoise.evaluation.conditions import ActionNoise as ActionNoise
    from rlnoise.evaluation.conditions import Condition as Condition
    from rlnoise.evaluation.conditions import Dynamics as Dynamics
    from rlnoise.evaluation.conditions import ObservationAttack as ObservationAttack
    from rlnoise.evaluation.conditions import ObservationNoise as ObservationNoise
    from rlnoise.evaluation.conditions import Perturbation as Perturbation
    from rlnoise.evaluation.conditions import RandomAction as RandomAction
    from rlnoise.evaluation.conditions import StickyAction as StickyAction
    from rlnoise.evaluation.conditions import WeightNoise as WeightNoise
    from rlnoise.evaluation.conditions import as_condition as as_condition
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
    from rlnoise.evaluation.runner import evaluate_robustness as evaluate_robustness
    from rlnoise.evaluation.statistics import optimality_gap as optimality_gap


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlnoise.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
