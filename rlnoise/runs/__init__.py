"""The run-directory contract, below both ``experiments`` and ``evaluation``.

What every command that writes results relies on, in one place, so that
training and evaluation agree without importing each other:

- :mod:`~rlnoise.runs.files`: every file written whole or not at all
  (temporary file + ``os.replace``), output directories checked writable
  before work starts;
- :mod:`~rlnoise.runs.lock`: one process at a time per output directory;
- :mod:`~rlnoise.runs.contract`: what a finished training run holds
  (``done.json``, validated) and its ``config.yaml``;
- :mod:`~rlnoise.runs.progress`: progress on a terminal or in a log;
- :mod:`~rlnoise.runs.errors`: one-line errors, Ctrl-C that says what was kept.

Nothing here imports torch, Stable-Baselines3, ``rlnoise.evaluation`` or
``rlnoise.experiments``.
"""

from rlnoise.runs.contract import (
    CONFIG_FILE,
    DONE_FILE,
    EXPERIMENT_FILE,
    MODEL_FILE,
    done_problem,
    done_record,
    is_finished,
    read_run_config,
    unfinished_reason,
    write_done,
)
from rlnoise.runs.errors import Interrupted, describe_error, run_command
from rlnoise.runs.files import atomic_path, check_writable, write_bytes, write_text
from rlnoise.runs.lock import LOCK_FILE, DirectoryInUse, directory_lock
from rlnoise.runs.progress import Progress

__all__ = [
    "CONFIG_FILE",
    "DONE_FILE",
    "EXPERIMENT_FILE",
    "LOCK_FILE",
    "MODEL_FILE",
    "DirectoryInUse",
    "Interrupted",
    "Progress",
    "atomic_path",
    "check_writable",
    "describe_error",
    "directory_lock",
    "done_problem",
    "done_record",
    "is_finished",
    "read_run_config",
    "run_command",
    "unfinished_reason",
    "write_bytes",
    "write_done",
    "write_text",
]
