"""Experiments: YAML configs, training over seeds, the demo."""

from rlnoise.experiments.config import (
    ALLOWED_PREFIXES,
    ComponentConfig,
    EnvConfig,
    ExperimentConfig,
    apply_overrides,
    load_config,
    resolve_class,
)
from rlnoise.experiments.train import train_experiment, train_seed

__all__ = [
    "ALLOWED_PREFIXES",
    "ComponentConfig",
    "EnvConfig",
    "ExperimentConfig",
    "apply_overrides",
    "load_config",
    "resolve_class",
    "train_experiment",
    "train_seed",
]
