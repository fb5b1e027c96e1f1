"""A run's config files: ``config.yaml`` beside each run, ``experiment.yaml`` above them.

``rlnoise train`` writes the fully resolved config of every run as
``seed_<s>/config.yaml`` and the experiment's identity as ``experiment.yaml``
in the output directory. Both are written with
:func:`~rlnoise.runs.yaml_loader.dump_yaml` and read back with the bounded
loader (:func:`~rlnoise.runs.yaml_loader.load_yaml_file`): a run directory
may come from elsewhere, so it is read as carefully as a config a user wrote.

Example:
    >>> import tempfile
    >>> run = tempfile.mkdtemp()
    >>> read_run_config(run)  # assembled by hand: no config
    {}
    >>> _ = write_run_config(run, {"algo": "PPO", "env": {"id": "CartPole-v1"}})
    >>> read_run_config(run)["env"]
    {'id': 'CartPole-v1'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlnoise.runs.contract import CONFIG_FILE, EXPERIMENT_FILE
from rlnoise.runs.files import write_text
from rlnoise.runs.yaml_loader import dump_yaml, load_yaml_file

__all__ = ["read_experiment", "read_run_config", "write_experiment", "write_run_config"]

_POSITION = re.compile(r"^(\d+):(\d+): (.*)$", re.DOTALL)


def write_run_config(run_directory: str | Path, config: Mapping[str, Any]) -> Path:
    """Write a run's resolved config as ``config.yaml`` (atomically); returns its path."""
    return write_text(Path(run_directory) / CONFIG_FILE, dump_yaml(dict(config)))


def read_run_config(run_directory: str | Path) -> dict[str, Any]:
    """The resolved config ``rlnoise train`` wrote beside a model (empty if there is none).

    Raises:
        ValueError: The file is not readable YAML or not a mapping (one line,
            naming the file, never a YAML traceback).
    """
    path = Path(run_directory) / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = load_yaml_file(path)
    except (OSError, ValueError) as error:
        reason = str(error).removeprefix(f"{path}:").strip()
        place = _POSITION.match(reason)  # "line:column: problem", as the loader puts it
        if place is not None:
            reason = f"{place[3]} at line {place[1]}, column {place[2]}"
        raise ValueError(
            f"run config {path} cannot be read ({reason}); "
            "train the run again or remove it from the runs directory"
        ) from None
    if not isinstance(data, dict):
        held = "nothing" if data is None else f"a {type(data).__name__}"
        raise ValueError(f"run config {path} holds {held}, not a mapping of config keys")
    return data


def write_experiment(output_dir: str | Path, identity: Mapping[str, Any]) -> Path:
    """Write ``experiment.yaml``, the identity of the experiment ``output_dir`` holds."""
    return write_text(Path(output_dir) / EXPERIMENT_FILE, dump_yaml(dict(identity)))


def read_experiment(output_dir: str | Path) -> Any:
    """What ``experiment.yaml`` in ``output_dir`` holds; ``None`` when absent or unreadable.

    An unreadable marker (cut short, garbled) is no identity: the caller
    treats it as a different experiment's.
    """
    path = Path(output_dir) / EXPERIMENT_FILE
    try:
        return load_yaml_file(path)
    except (OSError, ValueError):
        return None
