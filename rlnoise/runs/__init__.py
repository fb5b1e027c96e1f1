"""The run-directory contract, below both ``experiments`` and ``evaluation``.

What every command that writes results relies on, in one place, so that
training and evaluation agree without importing each other:

- :mod:`~rlnoise.runs.files`: every file written whole or not at all
  (temporary file + ``os.replace``), output directories checked writable
  before work starts;
- :mod:`~rlnoise.runs.lock`: one process at a time per output directory;
- :mod:`~rlnoise.runs.contract`: what a finished training run holds
  (``done.json``, validated);
- :mod:`~rlnoise.runs.config`: a run's ``config.yaml`` and its experiment's
  ``experiment.yaml``, written and read back with the bounded YAML loader
  (:mod:`~rlnoise.runs.yaml_loader`, which also reads configs and grids);
- :mod:`~rlnoise.runs.env`: a run's env as its config names it, rebuilt for
  evaluation; classes named in a config resolve through the allow-listed
  resolver (:mod:`~rlnoise.runs.classes`);
- :mod:`~rlnoise.runs.progress`: progress on a terminal or in a log;
- :mod:`~rlnoise.runs.errors`: one-line errors, Ctrl-C that says what was kept;
- :mod:`~rlnoise.runs.backends`: units of work (a training run, an evaluation
  cell) run in this process, in local processes or as Ray tasks
  (:mod:`~rlnoise.runs.units` what a unit checks on its worker,
  :mod:`~rlnoise.runs.ray_tasks` the Ray side, Ray imported only there);
- :mod:`~rlnoise.runs.discovery`: a sweep's root and its members' directories.

Nothing here imports torch, Stable-Baselines3 or an rlnoise package other
than ``rlnoise.core`` (``pyproject.toml``'s import contracts check it);
classes a config names are imported by dotted path when they are used.
``import rlnoise.runs`` loads no ``rlnoise.core`` (whose package loads
torch): the names of :mod:`~rlnoise.runs.classes` and :mod:`~rlnoise.runs.env`
resolve on first use, so a command that only locks a directory or reports an
error starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rlnoise.runs.config import (
    read_experiment,
    read_run_config,
    write_experiment,
    write_run_config,
)
from rlnoise.runs.contract import (
    CONFIG_FILE,
    DONE_FILE,
    EXPERIMENT_FILE,
    MODEL_FILE,
    done_problem,
    done_record,
    is_finished,
    unfinished_reason,
    write_done,
)
from rlnoise.runs.errors import (
    Interrupted,
    MissingExtra,
    WorkFailed,
    describe_error,
    run_command,
)
from rlnoise.runs.files import atomic_path, check_writable, write_bytes, write_text
from rlnoise.runs.lock import LOCK_FILE, DirectoryInUse, directory_lock
from rlnoise.runs.progress import Progress
from rlnoise.runs.yaml_loader import dump_yaml, load_yaml_file, load_yaml_text

if TYPE_CHECKING:
    from rlnoise.runs.backends import (
        Backend,
        WorkUnit,
        add_backend_arguments,
        backend_from_args,
        run_units,
    )
    from rlnoise.runs.classes import ALLOWED_PREFIXES, resolve_class
    from rlnoise.runs.discovery import expand_sweep_roots
    from rlnoise.runs.env import Component, EvaluationEnv, WrapperChain, evaluation_env_factory

# Public name -> module, imported on first access (rlnoise.core, or the process pool).
_LAZY: dict[str, str] = {
    "Backend": "rlnoise.runs.backends",
    "WorkUnit": "rlnoise.runs.backends",
    "add_backend_arguments": "rlnoise.runs.backends",
    "backend_from_args": "rlnoise.runs.backends",
    "run_units": "rlnoise.runs.backends",
    "expand_sweep_roots": "rlnoise.runs.discovery",
    "ALLOWED_PREFIXES": "rlnoise.runs.classes",
    "resolve_class": "rlnoise.runs.classes",
    "Component": "rlnoise.runs.env",
    "EvaluationEnv": "rlnoise.runs.env",
    "WrapperChain": "rlnoise.runs.env",
    "evaluation_env_factory": "rlnoise.runs.env",
}

__all__ = [
    "ALLOWED_PREFIXES",
    "CONFIG_FILE",
    "DONE_FILE",
    "EXPERIMENT_FILE",
    "LOCK_FILE",
    "MODEL_FILE",
    "Backend",
    "Component",
    "DirectoryInUse",
    "EvaluationEnv",
    "Interrupted",
    "MissingExtra",
    "Progress",
    "WorkFailed",
    "WorkUnit",
    "WrapperChain",
    "add_backend_arguments",
    "atomic_path",
    "backend_from_args",
    "check_writable",
    "describe_error",
    "directory_lock",
    "done_problem",
    "done_record",
    "dump_yaml",
    "evaluation_env_factory",
    "expand_sweep_roots",
    "is_finished",
    "load_yaml_file",
    "load_yaml_text",
    "read_experiment",
    "read_run_config",
    "resolve_class",
    "run_command",
    "run_units",
    "unfinished_reason",
    "write_bytes",
    "write_done",
    "write_experiment",
    "write_run_config",
    "write_text",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rlnoise.runs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
