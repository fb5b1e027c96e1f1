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
    from rlnoise.evaluation.models import ModelRun as ModelRun
    from rlnoise.evaluation.models import detect_algorithm as detect_algorithm
    from rlnoise.evaluation.models import discover_runs as discover_runs
    from rlnoise.evaluation.models import load_run as load_run
    from rlnoise.evaluation.report import RobustnessReport as RobustnessReport
    from rlnoise.evaluation.runner import evaluate_robustness as evaluate_robustness


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlnoise.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
