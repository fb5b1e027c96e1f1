"""Experiments: YAML configs, sweeps, training over seeds (here, in processes or on Ray)."""

from rlnoise.experiments.config import (
    ALLOWED_PREFIXES,
    ComponentConfig,
    EnvConfig,
    ExperimentConfig,
    apply_overrides,
    load_config,
    resolve_class,
)
from rlnoise.experiments.sweep import Sweep, expand_sweep, load_experiment
from rlnoise.experiments.train import train_experiment, train_many, train_seed

__all__ = [
    "ALLOWED_PREFIXES",
    "ComponentConfig",
    "EnvConfig",
    "ExperimentConfig",
    "Sweep",
    "apply_overrides",
    "expand_sweep",
    "load_config",
    "load_experiment",
    "resolve_class",
    "train_experiment",
    "train_many",
    "train_seed",
]
